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
