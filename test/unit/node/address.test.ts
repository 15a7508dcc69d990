import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { parseAddress } from '../../../src/node/address.js';

describe('dial addresses', () => {
  it('takes a decimal host for a virtual IP and anything else for a domain', () => {
    expect(parseAddress('0:80')).toEqual({ ip: 0, port: 80 });
    expect(parseAddress('65535:1')).toEqual({ ip: 0xffff, port: 1 });
    expect(parseAddress('123abc:80')).toEqual({ domain: '123abc', port: 80 });
  });

  it('refuses a decimal host above 65535 as Go v3 does ("invalid ip number"), not as a domain', () => {
    // Go v2 (before the v3 dialer) dialled "70000" as a domain; v3's parseAddress refuses it.
    // A numeric name is a valid domain (PROTOCOL.md 2.8): it is dialled as a DialTarget.
    expect(() => parseAddress('70000:80')).toThrow(ConfigError);
    expect(parseAddress({ domain: '70000', port: 80 })).toEqual({ domain: '70000', port: 80 });
    expect(parseAddress({ domain: '7', port: 80 })).toEqual({ domain: '7', port: 80 });
  });

  it('reads a signed decimal host as Go v3 does (strconv.Atoi): "+5" is IP 5, "-5" an error', () => {
    // PROTOCOL.md 3.2: a host that parses as a decimal integer is a virtual IP. Go parses it with
    // strconv.Atoi, which takes a sign; as a domain "+5" or "-5" could never resolve (2.8).
    expect(parseAddress('+5:80')).toEqual({ ip: 5, port: 80 });
    expect(parseAddress('+65535:80')).toEqual({ ip: 0xffff, port: 80 });
    expect(parseAddress('-0:80')).toEqual({ ip: 0, port: 80 });
    expect(Object.is((parseAddress('-0:81') as { ip: number }).ip, 0)).toBe(true);
    expect(() => parseAddress('-5:80')).toThrow(ConfigError);
    expect(() => parseAddress('+70000:80')).toThrow(ConfigError);
    // Only one sign, and digits after it: anything else stays a domain, as in Go.
    expect(parseAddress('+:80')).toEqual({ domain: '+', port: 80 });
    expect(parseAddress('++5:80')).toEqual({ domain: '++5', port: 80 });
    expect(parseAddress('+-5:80')).toEqual({ domain: '+-5', port: 80 });
  });

  // docs/manual.md: parseAddress() (what dial() reads its address with) is "ConfigError if it is
  // neither". null or a number read a port of null (a TypeError), and { port } alone became a
  // domain `undefined` that the dial failed on later with another TypeError.
  it('refuses what is neither text nor a target with a domain or an ip, as a ConfigError', () => {
    for (const bad of [null, undefined, 80, true]) {
      expect(() => parseAddress(bad as never), String(bad)).toThrow(
        new ConfigError(
          `address must be "host:port" or { domain, port } or { ip, port }, got ${String(bad)}`,
        ),
      );
    }
    expect(() => parseAddress({ port: 80 } as never)).toThrow(
      new ConfigError('address needs a domain (a string) or an ip, got domain undefined'),
    );
    expect(() => parseAddress({ domain: 7, port: 80 } as never)).toThrow(ConfigError);
  });
});
