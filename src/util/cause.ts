/**
 * Walking an error's `cause` chain: a transport wraps the runtime's error (Node's TLS or socket
 * error, with its `code`) in a FlexError of its own, whose `code` is flexmux's.
 */

/** How deep a cause chain is followed: a chain that loops back on itself must end. */
const MAX_DEPTH = 8;

/** `err`, then each error of its `cause` chain in turn, as far as MAX_DEPTH. */
export function* causeChain(err: unknown): Generator<object> {
  let e = err;
  for (let depth = 0; depth < MAX_DEPTH && typeof e === 'object' && e !== null; depth++) {
    yield e;
    e = (e as { cause?: unknown }).cause;
  }
}

/**
 * The `code` of the first error under `err` (its cause, that one's cause, ...) that carries one
 * other than flexmux's own `FLEX_ERR_*`: the runtime's reason (`ECONNREFUSED`,
 * `DEPTH_ZERO_SELF_SIGNED_CERT`) behind a FlexError's. Undefined when there is none.
 */
export function causeCode(err: unknown): string | undefined {
  let outer = true;
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (!outer && typeof code === 'string' && !code.startsWith('FLEX_ERR_')) return code;
    outer = false;
  }
  return undefined;
}

/** What a log line says of an error: `errorFields`. */
export interface ErrorFields {
  /** Its message. */
  err: string;
  /** Its own code: flexmux's `FLEX_ERR_*`, the CLI's, or the runtime's for one of the runtime's errors. */
  code?: string;
  /** The runtime's code under it (causeCode), which `code` alone hides behind flexmux's. */
  cause?: string;
}

/**
 * The fields every log line that reports a failure gives its error, each left out when there is
 * none: one shape for all of them, so that an operator greps and alerts on `cause=ECONNREFUSED`
 * the same way whichever line it is on.
 */
export function errorFields(err: unknown): ErrorFields {
  const fields: ErrorFields = { err: err instanceof Error ? err.message : String(err) };
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string') fields.code = code;
  const cause = causeCode(err);
  if (cause !== undefined) fields.cause = cause;
  return fields;
}
