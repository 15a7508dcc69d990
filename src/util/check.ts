import { ConfigError } from '../errors.js';
import { MAX_DELAY } from './timers.js';

/**
 * `v` as a ConfigError message shows it: a string quoted and called one, since numbers and
 * booleans from process.env or a config file arrive as strings and printed bare look valid.
 */
export function shown(v: unknown): string {
  return typeof v === 'string'
    ? `${JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)} (a string)`
    : String(v);
}

/** `v` if it is an integer in min..max, else a ConfigError naming `label` ("option window"). */
export function checkInt(label: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${label} must be an integer in ${min}..${max}, got ${shown(v)}`);
  }
  return v;
}

/** `v` if it is a finite number >= min, else a ConfigError naming `label`. */
export function checkAtLeast(label: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ConfigError(`${label} must be a number >= ${min}, got ${shown(v)}`);
  }
  return v;
}

/**
 * `v` if it is a timer delay in min..2^31-1 ms (min 1 unless said), else a ConfigError naming
 * `label`. Node runs a longer delay after 1 ms (and NaN likewise), so an unchecked per-call
 * timeout fires at once or re-arms without end.
 */
export function checkDelay(label: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !(v >= min && v <= MAX_DELAY)) {
    throw new ConfigError(`${label} must be a number of ms in ${min}..${MAX_DELAY}, got ${shown(v)}`);
  }
  return v;
}

/**
 * `v` if `typeof v` is `kind`, else a ConfigError naming `label` (the call and its argument:
 * "listenTcp() onTransport"). A callback that is no function was kept and failed only when it
 * was called, from an event handler, with a TypeError that named no call; a remoteAddress that is
 * no string showed up later in logs and the admin's lists. One message for every kind, so the
 * browser bundle carries it once.
 */
export function checkType<T>(label: string, v: T, kind: 'boolean' | 'function' | 'string'): T {
  if (typeof v !== kind) throw new ConfigError(`${label} must be a ${kind}, got ${shown(v)}`);
  return v;
}

/** `v` if it is a boolean, else a ConfigError naming `label`. */
export function checkBool(label: string, v: unknown): boolean {
  return checkType(label, v, 'boolean') as boolean;
}

/** `v` if it is a function or left out (undefined), else a ConfigError naming `label`. */
export function checkFunction<T>(label: string, v: T): T {
  return v === undefined ? v : checkType(label, v, 'function');
}

/** An AbortSignal, also one from another realm (an iframe's), where instanceof would say no. */
export function isAbortSignal(v: unknown): v is AbortSignal {
  const x = v as Partial<AbortSignal> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.aborted === 'boolean' &&
    typeof x.addEventListener === 'function' &&
    typeof x.removeEventListener === 'function'
  );
}

/**
 * `v` if it is an AbortSignal (or absent: undefined or null), else a ConfigError naming `label`:
 * a dial, ping, accept or ready() given something else failed with a TypeError from deep inside
 * ("signal.addEventListener is not a function"), the one error that was no FlexError.
 */
export function checkSignal(label: string, v: unknown): AbortSignal | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isAbortSignal(v)) throw new ConfigError(`${label} must be an AbortSignal, got ${shown(v)}`);
  return v;
}

/**
 * `options` if they are an object, else a ConfigError naming `call` ("listen()") and the value.
 * Left out they are none (a default parameter of `{}` fills them in); null is no way to say so:
 * read as it was, it failed with a TypeError from deep inside ("Cannot read properties of null"),
 * the one error that was no FlexError. Refused, as the switcher's options and setSecureContext's
 * are; a `signal` of null is another matter (checkSignal).
 */
export function checkOptions<T>(call: string, options: T): T {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(`${call} options must be an object, got ${shown(options)}`);
  }
  return options;
}

/**
 * `v` if it is an object or left out (undefined), else a ConfigError naming `label` ("option
 * tls"): options nested in options (connect()'s `tls` and `headers`, the browser connect()'s `ws`)
 * are refused as null the way the options holding them are (checkOptions). Spread as they were,
 * null and a string read as none, or as a string's characters, with nothing to say so.
 */
export function checkObject<T>(label: string, v: T): T {
  if (v !== undefined && (v === null || typeof v !== 'object')) {
    throw new ConfigError(`${label} must be an object, got ${shown(v)}`);
  }
  return v;
}

/**
 * `options` (checkOptions, for `call`) with a null `signal` (none, as checkSignal takes it) made
 * undefined: what waits on a dial or ping tests `signal !== undefined`, and called
 * null.addEventListener. A copy only then.
 */
export function withoutNullSignal<T extends { signal?: AbortSignal }>(call: string, options: T): T {
  checkOptions(call, options);
  return (options.signal as unknown) === null ? { ...options, signal: undefined } : options;
}

/**
 * `v` if it is a Logger (its four levels functions) or left out (undefined), else a ConfigError
 * naming `label` ("option logger"): every line to one that is none was lost without a word, as
 * containedLogger drops what a logger throws.
 */
export function checkLogger<T>(label: string, v: T): T {
  return v === undefined ? v : checkMethods(label, 'a Logger', v, ['debug', 'info', 'warn', 'error']);
}

/**
 * `v` if it is an object with each of `methods` a function, else a ConfigError naming `label`
 * (the call and its argument: "new Node() transport") and what it got: a transport, socket or
 * WebSocket given as null, a number or a plain object failed with a TypeError from deep inside
 * ("Cannot read properties of null"), or later, from a timer, with nothing to say which call was
 * wrong. Cheap: a few property reads, once per connection.
 */
export function checkMethods<T>(label: string, what: string, v: T, methods: readonly string[]): T {
  for (const m of methods) {
    if (typeof (v as Record<string, unknown> | null)?.[m] !== 'function') {
      throw new ConfigError(`${label} must be ${what} (no ${m}()), got ${shown(v)}`);
    }
  }
  return v;
}
