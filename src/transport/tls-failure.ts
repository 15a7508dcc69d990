import { markForGood } from '../util/for-good.js';
import { certificateRejected } from './certificate.js';

/** What a TLS dial that reached a port speaking something else adds to its error. */
export const TLS_SCHEME_HINT =
  "the URL's scheme may not match the port: a switcher's tcp:// or ws:// port takes no tls:// or wss:// URL";

/**
 * A dial's failure as one line, and the cause to give its error. OpenSSL's messages end with a
 * newline (which cut the CLI's one error line in two) and name OpenSSL's own source file. A
 * "wrong version number" is what a TLS client reads from a port that answered in plain text (a
 * switcher's tcp:// or ws:// port, an HTTP server): it is said as that, with what to check, and
 * its cause keeps the code (ERR_SSL_WRONG_VERSION_NUMBER; the ws library reports it as EPROTO)
 * without repeating OpenSSL's text. Both that and a certificate this client does not trust are
 * failures no retry mends: their cause is marked so (markForGood), for a session's ready().
 */
export function dialFailure(err: Error & { code?: unknown }): { text: string; cause: Error } {
  if (err.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /:wrong version number:/.test(err.message)) {
    const cause = Object.assign(new Error('wrong version number', { cause: err }), {
      code: 'ERR_SSL_WRONG_VERSION_NUMBER',
    });
    return {
      text: `the server answered, but not in TLS (wrong version number); ${TLS_SCHEME_HINT}`,
      cause: markForGood(cause),
    };
  }
  return { text: connectFailureText(err), cause: certificateRejected(err) ? markForGood(err) : err };
}

/**
 * A connect's error message, trimmed; for Node's AggregateError (a name whose every address
 * refused), which has no message of its own, its attempts' messages joined.
 */
export function connectFailureText(err: Error): string {
  return (
    err.message.trim() ||
    connectAttempts(err)
      .map((e) => e.message.trim())
      .join('; ')
  );
}

/**
 * The connects behind a socket's error: the error itself, or, for a name with several addresses
 * that Node tried in turn (autoSelectFamily: localhost as ::1 and 127.0.0.1), each attempt of the
 * AggregateError it reports, which has no address and an empty message of its own.
 */
export function connectAttempts(err: Error): (Error & { address?: unknown; port?: unknown })[] {
  const errors = (err as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.length > 0 && errors.every((e) => e instanceof Error)
    ? errors
    : [err];
}
