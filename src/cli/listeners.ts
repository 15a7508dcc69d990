import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Switcher } from '../switcher/index.js';
import { type Listener, listenTcp, listenTls, listenWs, listenWss } from '../switcher-node.js';
import { CliError } from './exit.js';
import { formatHostPort, type HostPort, type HostPortPath } from './parse.js';

/**
 * The switcher command's network listeners, from its flags: plain and TLS variants of TCP and
 * WebSocket (src/switcher-node.ts does the joining; the listeners stop with the switcher).
 */

export interface ListenerSpecs {
  tcp: HostPort[];
  ws: HostPortPath[];
  tls: HostPort[];
  wss: HostPortPath[];
  cert?: string;
  key?: string;
}

export interface OpenListener {
  /** Where clients connect, e.g. `ws://127.0.0.1:7080/flex/ws` (the bound port, also for port 0). */
  url: string;
  close(): Promise<void>;
}

function readPem(file: string | undefined, flag: string): Buffer {
  if (file === undefined) throw new CliError('CLI_USAGE', `--tls and --wss need ${flag} FILE`);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError('CLI_USAGE', `cannot read ${flag} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function opened(scheme: string, l: Listener, path = ''): OpenListener {
  return { url: `${scheme}://${formatHostPort(l.address)}${path}`, close: () => l.close() };
}

/** Starts every listener; if one fails (port in use...), closes those already open and throws. */
export async function startListeners(switcher: Switcher, specs: ListenerSpecs): Promise<OpenListener[]> {
  const secure = specs.tls.length + specs.wss.length > 0;
  const pem = secure ? { cert: readPem(specs.cert, '--cert'), key: readPem(specs.key, '--key') } : {};
  if (secure) {
    // A file that is not PEM, or a key that does not match the certificate, is bad usage (exit
    // 2), not a failure to listen: OpenSSL's ERR_OSSL_* codes would otherwise pass for errnos.
    try {
      createSecureContext(pem);
    } catch (err) {
      const why = (err as Error).message;
      throw new CliError('CLI_USAGE', `bad --cert ${specs.cert} or --key ${specs.key}: ${why}`, {
        cause: err,
      });
    }
  }
  const starts: (() => Promise<OpenListener>)[] = [
    ...specs.tcp.map((a) => async () => opened('tcp', await listenTcp(switcher, a))),
    ...specs.ws.map((a) => async () => opened('ws', await listenWs(switcher, a), a.path)),
    ...specs.tls.map((a) => async () => opened('tls', await listenTls(switcher, { ...a, ...pem }))),
    ...specs.wss.map((a) => async () => opened('wss', await listenWss(switcher, { ...a, ...pem }), a.path)),
  ];
  const open: OpenListener[] = [];
  try {
    for (const start of starts) open.push(await start());
  } catch (err) {
    await Promise.all(open.map((l) => l.close()));
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    // Only operating-system errors (EADDRINUSE, EACCES...) are I/O; ERR_* codes are Node's own.
    if (typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code)) throw err;
    const where = e.address !== undefined ? ` ${formatHostPort({ host: e.address, port: e.port ?? 0 })}` : '';
    throw new CliError('CLI_IO', `cannot listen on${where}: ${e.message}`, { cause: err });
  }
  return open;
}
