import { createSecureContext } from 'node:tls';
import type { Switcher } from '../switcher/index.js';
import { type Listener, listenTcp, listenTls, listenWs, listenWss } from '../switcher-node.js';
import { CliError, listenFailure } from './exit.js';
import { readFileOnce } from './file-once.js';
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
  /** tls:// and wss:// only: a new certificate for new handshakes (reload.ts). */
  setSecureContext?: Listener['setSecureContext'];
}

/** The certificate chain and key the secure listeners serve, as read from --cert and --key. */
export interface PemPair {
  cert: Buffer;
  key: Buffer;
}

function readPem(file: string | undefined, flag: string): Buffer {
  if (file === undefined) throw new CliError('CLI_USAGE', `--tls and --wss need ${flag} FILE`);
  try {
    return readFileOnce(file);
  } catch (err) {
    throw new CliError('CLI_USAGE', `cannot read ${flag} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function opened(scheme: string, l: Listener, path = ''): OpenListener {
  const url = `${scheme}://${formatHostPort(l.address)}${path}`;
  return { url, close: () => l.close(), setSecureContext: l.setSecureContext };
}

/** A listener to start: its address and scheme (for the error if it cannot), and how. */
type Start = readonly [HostPort, string, () => Promise<OpenListener>];

/** The pair the secure listeners of `specs` serve, checked; undefined when there are none. */
export function readPemPair(specs: ListenerSpecs): PemPair | undefined {
  if (specs.tls.length + specs.wss.length === 0) return undefined;
  const pem = { cert: readPem(specs.cert, '--cert'), key: readPem(specs.key, '--key') };
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
  return pem;
}

/**
 * Starts every listener, the secure ones with `pem` (read from the specs' files if not given); if
 * one fails (port in use...), closes those already open and throws.
 */
export async function startListeners(
  switcher: Switcher,
  specs: ListenerSpecs,
  given?: PemPair,
): Promise<OpenListener[]> {
  const pem = given ?? readPemPair(specs) ?? {};
  const starts: Start[] = [
    ...specs.tcp.map((a): Start => [a, 'tcp', async () => opened('tcp', await listenTcp(switcher, a))]),
    ...specs.ws.map((a): Start => [a, 'ws', async () => opened('ws', await listenWs(switcher, a), a.path)]),
    ...specs.tls.map(
      (a): Start => [a, 'tls', async () => opened('tls', await listenTls(switcher, { ...a, ...pem }))],
    ),
    ...specs.wss.map(
      (a): Start => [
        a,
        'wss',
        async () => opened('wss', await listenWss(switcher, { ...a, ...pem }), a.path),
      ],
    ),
  ];
  const open: OpenListener[] = [];
  for (const [at, scheme, start] of starts) {
    try {
      open.push(await start());
    } catch (err) {
      await Promise.all(open.map((l) => l.close()));
      // Only operating-system errors (EADDRINUSE, EACCES, EAI_AGAIN...) are I/O; ERR_* are Node's own.
      throw listenFailure(err, at, `the ${scheme}:// listener`);
    }
  }
  return open;
}
