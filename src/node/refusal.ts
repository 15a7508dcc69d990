import { AdmissionError, ProtocolError } from '../errors.js';
import { markedForGood } from '../util/for-good.js';

/**
 * Whether a failed connection attempt failed for a reason that the next attempt will meet again,
 * whatever the wait: one classification for every wait on a session (`session.ready()`, and the
 * CLI's `--wait-for-target` sessions), so that they give up on the same failures.
 *
 * An admission refused because the response could not be opened (`decrypt`: a wrong password) or
 * read (`json`), spoke another version (`version`), or carried ErrCode -1 (`rejected`: the
 * password, clock, domain or access rules). Not `registration` (ErrCode -2): the domain's holder
 * may leave, another connection's claim on it (`busy`: a node's own earlier attempt, still being
 * admitted) may end, a holder that no longer answers (a node's own connection from before its
 * restart) is taken over, and an IP may be freed. Not `closed` either (no answer: a switcher
 * turning newcomers away, restarting, or rate-limiting, and every refusal of a Go switcher over
 * TCP, which cannot be told apart).
 *
 * Not a switcher that refused, but nothing that waiting mends either: a port that answers in
 * another protocol (a WebSocket port, or a TLS port that sends an alert, given as tcp://:
 * admit.ts; a WebSocket upgrade answered with a 400, as a switcher's tcp:// port answers a
 * ws:// URL: ws.ts; a ws:// port or other plain HTTP server given as tls:// or wss://, which
 * answers the TLS handshake in plain text), or a certificate this client does not trust. The
 * last two are known by the runtime's codes: the Node.js transports' dials mark them
 * (tls-failure.ts dialFailure, util/for-good.ts), and a browser's WebSocket reports neither.
 */
export function refusedForGood(err: unknown): boolean {
  if (err instanceof AdmissionError) return err.reason !== 'closed' && err.reason !== 'registration';
  return err instanceof ProtocolError || markedForGood(err);
}
