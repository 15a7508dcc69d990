import { ProtocolError } from '../errors.js';
import { transportDefaults } from './defaults.js';

const HTTP = [0x48, 0x54, 0x54, 0x50, 0x2f]; // 'HTTP/'

/**
 * What the first bytes of an admission reply on a TCP or TLS connection say of the port, when they
 * cannot be a flex frame (an admission response starts with command byte 0x00, PROTOCOL.md 2.7):
 * a ProtocolError naming the URL to use, or null. `head` holds at least 3 bytes; the check is
 * asked again as more come, until a frame header is in (Transport.foreignReply, node/admit.ts).
 *
 * - An HTTP response comes from a WebSocket (or plain HTTP) port given as tcp://, or a secure one
 *   given as tls://: said as such, not waited on as a frame until the server hangs up, which read
 *   as an admission refused for no reason (and pointed at the password). The scheme to use is
 *   named for both: the check cannot tell whether its connection runs over TLS.
 * - A TLS record (content type 20-23: change_cipher_spec, alert, handshake, application data;
 *   then major version 3, and any minor: OpenSSL's alert repeats the one it was sent) comes from
 *   a TLS port given as tcp://, said as such, not as a connection closed during admission, which
 *   read as a refusal for no reason that ready() waited through for ever. Only a TLS server that
 *   answers is caught: a flexmux TLS listener answers bytes that are not TLS with an alert
 *   (listenTls); OpenSSL alone (Node's TLS) sends one only when the request's header reads as a
 *   record of major version 3 whose length it has, and otherwise hangs up or waits for the rest of
 *   that record, as Go's crypto/tls hangs up (the request's header bytes are random, 2.2): dialTcp
 *   then asks the port for TLS (tls-probe.ts).
 *
 * Node.js only: a browser has no tcp:// or tls://, so its build carries none of this.
 */
export function foreignReply(head: Uint8Array): ProtocolError | null {
  const type = head[0]!;
  if (type >= 20 && type <= 23 && head[1] === 3) {
    return new ProtocolError(
      'the switcher answered in TLS (a TLS record where the admission reply belongs): that port speaks TLS, not flex over plain TCP; use a tls:// URL for it (or wss:// for a WebSocket port over TLS)',
    );
  }
  if (head.length < HTTP.length || !HTTP.every((b, i) => head[i] === b)) return null;
  let line = '';
  for (let i = 0; i < Math.min(head.length, 60) && head[i] !== 0x0d && head[i] !== 0x0a; i++) {
    line += head[i]! >= 0x20 && head[i]! < 0x7f ? String.fromCharCode(head[i]!) : '?';
  }
  return new ProtocolError(
    `the switcher answered in HTTP (${JSON.stringify(line)}): that port serves WebSocket or HTTP, not flex over TCP or TLS; use a ws:// URL, or wss:// where a tls:// URL reached it (path ${transportDefaults.wsPath} by default)`,
  );
}
