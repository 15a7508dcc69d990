/**
 * The reason of a kick as the admin API takes it in `DELETE /api/v1/clients/{domain}`, as
 * `?reason=` or as a JSON body's `"reason"`. The switcher's admin server and `flexmux kick
 * --reason` both read it here, so the command refuses, as bad usage, exactly what the server would
 * answer with a 400: a reason it passed on used to come back as an admin failure.
 */

/**
 * Longest reason accepted. It ends up in the switcher's `kicking client` log line, in the error of
 * its `clientLeft` event and `client left` line, and in the answer; never at the node, which the
 * protocol cannot tell why: it only sees its connection closed.
 */
export const MAX_KICK_REASON = 200;

/**
 * What a reason may not hold: control and format characters (bidi overrides, zero-width ones),
 * line and paragraph separators, and lone surrogates (which no UTF-8 log can carry).
 */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** What a reason must be, for the messages of both sides. */
export const KICK_REASON_RULE = `a string of at most ${MAX_KICK_REASON} printable characters`;

/** Whether `value` is a reason the admin API takes. */
export function isKickReason(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_KICK_REASON && !NOT_PRINTABLE.test(value);
}
