import { ConfigError } from '../errors.js';
import { shown } from '../util/check.js';

/** Where to dial: a domain (resolved by the switcher) or a virtual IP, and a port. */
export type DialTarget =
  | {
      /** The domain of the node to dial. */
      readonly domain: string;
      /** The port it listens on. */
      readonly port: number;
    }
  | {
      /** The virtual IP of the node to dial. */
      readonly ip: number;
      /** The port it listens on. */
      readonly port: number;
    };

// Most programs dial the same few addresses over and over: remember the last one parsed.
let lastText = '';
let lastTarget: DialTarget | null = null;

/**
 * Parses `host:port` as Go does (PROTOCOL.md 3.2): a host that is a decimal integer (an optional
 * sign, then digits, as strconv.Atoi reads it) is a virtual IP, anything else a domain.
 */
export function parseAddress(address: string | DialTarget): DialTarget {
  if (typeof address !== 'string') {
    // Neither text nor a target: a ConfigError as the manual says, not a TypeError from reading
    // a port of null, nor { port } alone taken for a domain `undefined` that failed the dial later.
    if (typeof address !== 'object' || address === null) {
      throw new ConfigError(
        `address must be "host:port" or { domain, port } or { ip, port }, got ${shown(address)}`,
      );
    }
    const port = address.port;
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ConfigError(`invalid port ${port}`);
    if ('ip' in address) {
      if (!Number.isInteger(address.ip) || address.ip < 0 || address.ip > 0xffff) {
        throw new ConfigError(`invalid virtual IP ${address.ip}`);
      }
      return { ip: address.ip, port };
    }
    if (typeof address.domain !== 'string') {
      throw new ConfigError(
        `address needs a domain (a string) or an ip, got domain ${shown(address.domain)}`,
      );
    }
    return { domain: address.domain, port };
  }
  if (address === lastText && lastTarget !== null) return lastTarget;
  const target = parseText(address);
  lastText = address;
  lastTarget = target;
  return target;
}

function parseText(address: string): DialTarget {
  const i = address.lastIndexOf(':');
  if (i <= 0) throw new ConfigError(`address "${address}" is not host:port`);
  const host = address.slice(0, i);
  const portText = address.slice(i + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 0xffff) {
    throw new ConfigError(`address "${address}" has an invalid port`);
  }
  const port = Number(portText);
  // Go reads the host with strconv.Atoi, which takes one sign: "+5" is IP 5, "-5" an error.
  if (/^[+-]?\d+$/.test(host)) {
    const ip = Number(host) + 0; // + 0: "-0" is IP 0, not -0
    if (ip < 0) throw new ConfigError(`address "${address}" has a negative virtual IP`);
    if (ip > 0xffff) throw new ConfigError(`address "${address}" has a virtual IP above 65535`);
    return Object.freeze({ ip, port });
  }
  return Object.freeze({ domain: host, port });
}

export function formatTarget(t: DialTarget): string {
  return 'ip' in t ? `${t.ip}:${t.port}` : `${t.domain}:${t.port}`;
}
