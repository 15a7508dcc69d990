import * as net from 'node:net';
import * as tls from 'node:tls';
import { ProtocolError } from '../errors.js';
import { timeout } from '../util/timers.js';

/** How long a probe's verdict is reused for the same address, ms. */
const REMEMBERED_MS = 60_000;
/** Addresses whose verdicts are kept (the oldest is forgotten first). */
const REMEMBERED = 64;

const verdicts = new Map<string, { tls: boolean; until: number }>();

/** What a close before any reply means when the port answers a TLS handshake. */
const SPEAKS_TLS =
  'connection closed during admission, before any reply, and the port answers a TLS handshake: it speaks TLS, not flex over plain TCP; use a tls:// URL for it (or wss:// for a WebSocket port over TLS)';

/**
 * Transport.explainClose of a plain TCP connection to `host:port`: a ProtocolError (`closed` as its
 * cause) when the port answers a TLS handshake (probeTls), else null.
 */
export async function speaksTls(
  host: string,
  port: number,
  timeoutMs: number,
  closed: Error,
): Promise<Error | null> {
  return (await probeTls(host, port, timeoutMs)) ? new ProtocolError(SPEAKS_TLS, { cause: closed }) : null;
}

/**
 * Whether `host:port` speaks TLS: a TLS handshake on a connection of its own, which resolves true
 * once the server has answered in TLS (the handshake completes, whatever its certificate: nothing
 * is sent over it; or the server sends an alert), and false on anything else (plain text, a hang
 * up, nothing within `timeoutMs`, a connection refused). Never rejects.
 *
 * For admit() over tcp:// (speaksTls), when the connection closed before any reply: a Go TLS switcher (Go's
 * crypto/tls, and OpenSSL alone) hangs up on the admission request without a word, which reads
 * exactly as a Go switcher's refusal of a wrong password. A verdict is reused for a minute, so a
 * session whose attempts keep being closed (a wrong password, a switcher that turns newcomers
 * away) probes at most once a minute.
 */
export function probeTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const key = `${host}\u0000${port}`;
  const known = verdicts.get(key);
  if (known !== undefined && known.until > Date.now()) return Promise.resolve(known.tls);
  return new Promise<boolean>((resolve) => {
    let done = false;
    // SNI carries names only (RFC 6066); Node warns when given an IP.
    const servername = net.isIP(host) === 0 ? host : undefined;
    const socket = tls.connect({ host, port, servername, rejectUnauthorized: false });
    const finish = (speaks: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      verdicts.delete(key);
      if (verdicts.size >= REMEMBERED) verdicts.delete(verdicts.keys().next().value as string);
      verdicts.set(key, { tls: speaks, until: Date.now() + REMEMBERED_MS });
      resolve(speaks);
    };
    const timer = timeout(() => finish(false), timeoutMs);
    socket.once('secureConnect', () => finish(true));
    // A fatal alert from the server (OpenSSL's codes for one name it: ..._ALERT_...) is TLS too:
    // a server that wants a client certificate, or a protocol version this client does not offer.
    socket.on('error', (err: Error & { code?: unknown }) =>
      finish(typeof err.code === 'string' && /^ERR_SSL_.*ALERT/.test(err.code)),
    );
    socket.once('close', () => finish(false));
  });
}
