import * as tls from 'node:tls';
import { ConfigError } from '../errors.js';

/**
 * Swapping the certificate of a listening TLS (or HTTPS) server, for certificates renewed while
 * it runs. Node's `server.setSecureContext` stores the options it is given on the server before
 * it builds the context, so a key that does not match the certificate would leave the server
 * holding a pair it never served. Building the context here first means a bad pair throws with
 * nothing changed, and the server keeps serving the old certificate.
 */

/** What a TLS or secure WebSocket listener may be given again: the options of `tls.createSecureContext`. */
export type SecureContextOptions = tls.SecureContextOptions;

export type SecureContextSetter = (options: SecureContextOptions) => void;

/**
 * The `setSecureContext` of a listener on `server`, started with `started`: options given replace
 * those, the others (`ca`, `ciphers`...) are kept, as a reload of the certificate alone expects.
 */
export function secureContextSetter(server: tls.Server, started: SecureContextOptions): SecureContextSetter {
  let current = started;
  return (options) => {
    if (options === null || typeof options !== 'object') {
      throw new ConfigError('setSecureContext needs the options of tls.createSecureContext');
    }
    const next = { ...current, ...options };
    try {
      tls.createSecureContext(next);
    } catch (err) {
      throw new ConfigError(`the certificate and key were not taken: ${(err as Error).message}`, {
        cause: err,
      });
    }
    server.setSecureContext(next);
    current = next;
  };
}
