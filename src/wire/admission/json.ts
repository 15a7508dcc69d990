import { ProtocolError } from '../../errors.js';
import { goFoldName } from '../unicase.js';

/**
 * A strict JSON reader for the admission objects that decodes the way Go's encoding/json does into
 * a struct (PROTOCOL.md 2.3, 2.10): the whole text must be valid JSON; member names match the
 * fields case-insensitively (Go's fold); unknown members are skipped; a later duplicate overwrites
 * an earlier one; null leaves a field unchanged; integers are read from their exact digits into a
 * bigint (plain JSON.parse would round a nanosecond Timestamp and break the Sum); an integer field
 * given a fraction or exponent (1.7e18) or a wrong type is an error, reported after the syntax
 * check as Go does. Strings decode invalid UTF-8 and unpaired surrogate escapes to U+FFFD.
 */

export type FieldKind = 'int64' | 'uint16' | 'string';
export type Schema = Readonly<Record<string, FieldKind>>;
export type Decoded<S extends Schema> = { [K in keyof S]?: S[K] extends 'string' ? string : bigint };

/** Go's scanner refuses documents nested deeper than this. */
const MAX_DEPTH = 10_000;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const SIMPLE_ESCAPES = new Map<number, string>([
  [0x22, '"'],
  [0x5c, '\\'],
  [0x2f, '/'],
  [0x62, '\b'],
  [0x66, '\f'],
  [0x6e, '\n'],
  [0x72, '\r'],
  [0x74, '\t'],
]);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Length of a valid UTF-8 sequence at `i`, or 0 where Go's utf8.DecodeRune reports RuneError. */
function utf8SeqLength(b: Uint8Array, i: number): number {
  const c = b[i];
  const n = b.length;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < n && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf; // no surrogates
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

class Reader {
  pos = 0;
  /** First type mismatch; Go keeps decoding and reports it once the text proved valid. */
  typeError: string | null = null;
  /** ignoreBOM: a U+FEFF inside a string is text, not a byte order mark to drop. */
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(private readonly b: Uint8Array) {}

  fail(what: string): never {
    const at =
      this.pos < this.b.length ? `character '${String.fromCharCode(this.b[this.pos])}'` : 'end of input';
    throw new ProtocolError(`invalid JSON: ${what} (${at} at offset ${this.pos})`);
  }

  ws(): void {
    while (this.pos < this.b.length && isWs(this.b[this.pos])) this.pos++;
  }

  peek(): number {
    return this.pos < this.b.length ? this.b[this.pos] : -1;
  }

  expect(c: number, what: string): void {
    if (this.peek() !== c) this.fail(what);
    this.pos++;
  }

  mismatch(msg: string): void {
    this.typeError ??= msg;
  }

  literal(word: string): void {
    for (let i = 0; i < word.length; i++) {
      if (this.peek() !== word.charCodeAt(i)) this.fail(`bad literal, expected ${word}`);
      this.pos++;
    }
  }

  /** Reads a number and returns its exact text (JSON grammar: no '+', no leading zeros). */
  number(): string {
    const start = this.pos;
    if (this.peek() === 0x2d) this.pos++;
    if (this.peek() === 0x30) this.pos++;
    else if (isDigit(this.peek())) while (isDigit(this.peek())) this.pos++;
    else this.fail('bad number');
    if (this.peek() === 0x2e) {
      this.pos++;
      if (!isDigit(this.peek())) this.fail('bad number fraction');
      while (isDigit(this.peek())) this.pos++;
    }
    if (this.peek() === 0x65 || this.peek() === 0x45) {
      this.pos++;
      if (this.peek() === 0x2b || this.peek() === 0x2d) this.pos++;
      if (!isDigit(this.peek())) this.fail('bad number exponent');
      while (isDigit(this.peek())) this.pos++;
    }
    return this.#decoder.decode(this.b.subarray(start, this.pos));
  }

  #u4(at: number): number {
    const b = this.b;
    if (at + 6 > b.length || b[at] !== BACKSLASH || b[at + 1] !== 0x75) return -1;
    let v = 0;
    for (let k = 2; k < 6; k++) {
      const h = hexValue(b[at + k]);
      if (h < 0) return -1;
      v = (v << 4) | h;
    }
    return v;
  }

  /** Reads a string at the opening quote and returns its text. */
  string(): string {
    const b = this.b;
    this.expect(QUOTE, 'expected a string');
    let out = '';
    let run = this.pos; // start of a stretch of plain bytes not yet copied to `out`
    for (;;) {
      if (this.pos >= b.length) this.fail('unterminated string');
      const c = b[this.pos];
      if (c === QUOTE || c === BACKSLASH || c < 0x20 || c >= 0x80) {
        out += this.#decoder.decode(b.subarray(run, this.pos));
      }
      if (c === QUOTE) {
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c === BACKSLASH) {
        out += this.#escape();
      } else if (c >= 0x80) {
        const len = utf8SeqLength(b, this.pos);
        // Go's decoder turns every byte of an invalid sequence into its own U+FFFD.
        out += len === 0 ? '\ufffd' : this.#decoder.decode(b.subarray(this.pos, this.pos + len));
        this.pos += len === 0 ? 1 : len;
      } else {
        this.pos++;
        continue;
      }
      run = this.pos;
    }
  }

  #escape(): string {
    const b = this.b;
    const e = this.pos + 1 < b.length ? b[this.pos + 1] : -1;
    const simple = SIMPLE_ESCAPES.get(e);
    if (simple !== undefined) {
      this.pos += 2;
      return simple;
    }
    const u = this.#u4(this.pos);
    if (u < 0) this.fail('bad escape in string');
    this.pos += 6;
    if (u < 0xd800 || u > 0xdfff) return String.fromCharCode(u);
    // Go pairs a surrogate with a following \u escape only when they form a valid pair.
    const low = this.#u4(this.pos);
    if (u <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
      this.pos += 6;
      return String.fromCharCode(u, low);
    }
    return '\ufffd';
  }

  /** Skips one value of any type, iteratively so deep nesting cannot overflow the stack. */
  skip(depth: number): void {
    const closers: number[] = [];
    for (;;) {
      this.ws();
      const c = this.peek();
      if (c === 0x7b || c === 0x5b) {
        if (depth + closers.length + 1 > MAX_DEPTH) this.fail('exceeded max depth');
        this.pos++;
        this.ws();
        if (this.peek() === c + 2)
          this.pos++; // empty {} or []
        else {
          closers.push(c + 2);
          if (c === 0x7b) this.memberName();
          continue;
        }
      } else this.#scalar();
      // After a value: close containers or move to the next element.
      for (;;) {
        if (closers.length === 0) return;
        this.ws();
        const top = closers[closers.length - 1];
        if (this.peek() === top) {
          this.pos++;
          closers.pop();
          continue;
        }
        this.expect(0x2c, top === 0x7d ? "expected ',' or '}' after object member" : "expected ',' or ']'");
        if (top === 0x7d) this.memberName();
        break;
      }
    }
  }

  /** Reads `"name" :` inside an object and returns the name. */
  memberName(): string {
    this.ws();
    const name = this.string();
    this.ws();
    this.expect(0x3a, "expected ':' after object key");
    return name;
  }

  #scalar(): void {
    const c = this.peek();
    if (c === QUOTE) this.string();
    else if (c === 0x2d || isDigit(c)) this.number();
    else if (c === 0x74) this.literal('true');
    else if (c === 0x66) this.literal('false');
    else if (c === 0x6e) this.literal('null');
    else this.fail('expected a value');
  }

  kindOfNext(): string {
    const c = this.peek();
    if (c === QUOTE) return 'string';
    if (c === 0x7b) return 'object';
    if (c === 0x5b) return 'array';
    if (c === 0x74 || c === 0x66) return 'bool';
    return 'number';
  }
}

function toInt(raw: string, kind: FieldKind): bigint | null {
  if (!/^-?\d+$/.test(raw)) return null; // fraction or exponent: Go's ParseInt refuses it
  const v = BigInt(raw);
  if (kind === 'uint16') return raw.startsWith('-') || v > 0xffffn ? null : v;
  return v < INT64_MIN || v > INT64_MAX ? null : v;
}

function readField(r: Reader, name: string, kind: FieldKind, out: Record<string, string | bigint>): void {
  const c = r.peek();
  if (c === 0x6e) {
    r.literal('null'); // Go leaves the field as it was
    return;
  }
  if (kind === 'string' && c === QUOTE) {
    out[name] = r.string();
    return;
  }
  if (kind !== 'string' && (c === 0x2d || isDigit(c))) {
    const raw = r.number();
    const v = toInt(raw, kind);
    if (v === null) r.mismatch(`cannot unmarshal number ${raw} into field ${name} of type ${kind}`);
    else out[name] = v;
    return;
  }
  r.mismatch(`cannot unmarshal ${r.kindOfNext()} into field ${name} of type ${kind}`);
  r.skip(1);
}

/**
 * Decodes `text` into the fields of `schema` (keys are Go's field names). Returns only the
 * fields present; throws ProtocolError for invalid JSON or a type mismatch.
 */
export function decodeObject<S extends Schema>(text: Uint8Array, schema: S): Decoded<S> {
  const byFold = new Map<string, string>();
  for (const name of Object.keys(schema)) byFold.set(goFoldName(name), name);
  const r = new Reader(text);
  const out: Record<string, string | bigint> = {};
  r.ws();
  const c = r.peek();
  if (c === 0x7b) {
    r.pos++;
    r.ws();
    if (r.peek() === 0x7d) r.pos++;
    else {
      for (;;) {
        const key = r.memberName();
        r.ws();
        const field = Object.hasOwn(schema, key) ? key : byFold.get(goFoldName(key));
        if (field === undefined) r.skip(1);
        else readField(r, field, schema[field], out);
        r.ws();
        if (r.peek() === 0x7d) {
          r.pos++;
          break;
        }
        r.expect(0x2c, "expected ',' or '}' after object member");
      }
    }
  } else if (c === 0x6e) {
    r.literal('null'); // Go: unmarshalling null into a struct changes nothing
  } else {
    if (c !== -1) r.mismatch(`cannot unmarshal ${r.kindOfNext()} into an object`);
    r.skip(0);
  }
  r.ws();
  if (r.pos < text.length) r.fail('invalid character after top-level value');
  if (r.typeError !== null) throw new ProtocolError(`JSON does not fit: ${r.typeError}`);
  return out as Decoded<S>;
}
