import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import {
  decodeObject,
  goObject,
  goQuote,
  parseRequestJson,
  parseResponseJson,
} from '../../../src/wire/admission/index.js';
import { fromHex, utf8 } from './vectors.js';

const SCHEMA = { Version: 'int64', Domain: 'string', Timestamp: 'int64', IP: 'uint16' } as const;

function decode(text: string | Uint8Array) {
  return decodeObject(typeof text === 'string' ? utf8(text) : text, SCHEMA);
}

function fails(text: string | Uint8Array): void {
  expect(() => decode(text)).toThrow(ProtocolError);
}

describe('decodeObject: Go encoding/json semantics', () => {
  it('keeps integers exact', () => {
    expect(decode('{"Timestamp":1795601976253216974}').Timestamp).toBe(1795601976253216974n);
    expect(decode('{"Timestamp":-9223372036854775808}').Timestamp).toBe(-(2n ** 63n));
    expect(decode('{"Timestamp":9223372036854775807}').Timestamp).toBe(2n ** 63n - 1n);
    expect(decode('{"Timestamp":-0}').Timestamp).toBe(0n);
  });

  it("refuses integers Go's ParseInt refuses: exponent, fraction, overflow", () => {
    fails('{"Timestamp":1.7e18}');
    fails('{"Timestamp":1700000000000000000.0}');
    fails('{"Timestamp":9223372036854775808}');
    fails('{"Version":1E3}');
    fails('{"IP":65536}');
    fails('{"IP":-1}');
    fails('{"IP":-0}'); // ParseUint refuses any sign
    expect(decode('{"IP":65535}').IP).toBe(65535n);
  });

  it("matches member names case-insensitively with Go's fold, last duplicate wins", () => {
    expect(decode('{"domain":"a","DOMAIN":"b"}').Domain).toBe('b');
    expect(decode('{"Domain":"a","domain":"b"}').Domain).toBe('b');
    expect(decode('{"TimeStamp":5}').Timestamp).toBe(5n);
    expect(decode('{"Doma\\u0131n":"dotless"}').Domain).toBe('dotless'); // escaped key, ı folds to I
    expect(decode('{"Ver\u017Fion":7}').Version).toBe(7n); // ſ folds to S
    expect(decode('{"Domain ":"x"}').Domain).toBeUndefined();
  });

  it('ignores unknown members of any shape, and null leaves a field unchanged', () => {
    const got = decode('{"X":{"a":[1,{"b":null}],"c":"}"},"Domain":"d","Y":[[],{}],"Domain":null,"Z":true}');
    expect(got).toEqual({ Domain: 'd' });
    expect(decode('null')).toEqual({});
    expect(decode(' { } ')).toEqual({});
  });

  it('reports type mismatches after the whole text proved valid', () => {
    fails('{"Version":"20260225"}');
    fails('{"Domain":5}');
    fails('{"Domain":true}');
    fails('{"Version":[1]}');
    fails('[]');
    fails('"text"');
    fails('5');
  });

  it('refuses invalid JSON', () => {
    for (const bad of [
      '',
      'hello',
      '{',
      '{"Domain":"a",}',
      '{"Domain":"a"} x',
      '{"Domain" "a"}',
      '{Domain:"a"}',
      "{'Domain':'a'}",
      '{"Version":01}',
      '{"Version":+1}',
      '{"Version":1.}',
      '{"Domain":"a\tb"}', // raw control character
      '{"Domain":"\\x41"}',
      '{"Domain":"\\u12"}',
      '\ufeff{}', // Go does not skip a byte order mark
      '{"X":tru}',
    ]) {
      fails(bad);
    }
  });

  it('bounds nesting like Go (10 000 levels)', () => {
    const deep = (n: number) => `{"X":${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(decode(deep(9_998))).toEqual({});
    fails(deep(10_000));
  });

  it('decodes string escapes and replaces what Go replaces with U+FFFD', () => {
    expect(decode('{"Domain":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"}').Domain).toBe(
      '"\\/\b\f\n\r\t\u00e9\u{1f600}',
    );
    expect(decode('{"Domain":"\\ud800x"}').Domain).toBe('\ufffdx'); // lone high surrogate
    expect(decode('{"Domain":"\\udc00\\ud800\\udc00"}').Domain).toBe('\ufffd\u{10000}');
    expect(decode('{"Domain":"\\ud800\\u0041"}').Domain).toBe('\ufffdA');
    // Invalid UTF-8 bytes: one U+FFFD per byte, as Go's utf8.DecodeRune reads them.
    const raw = fromHex(
      `7b22446f6d61696e223a22${'e282'}41${'ff'}${'eda080'}${'efbbbf'}22 7d`.replace(' ', ''),
    );
    expect(decode(raw).Domain).toBe('\ufffd\ufffdA\ufffd\ufffd\ufffd\ufffd\ufeff');
  });

  it('parses the admission objects with Go defaults for missing members', () => {
    expect(parseRequestJson(utf8('{"sum":"s","Extra":1}'))).toEqual({
      version: 0,
      domain: '',
      mac: '',
      timestamp: 0n,
      sum: 's',
    });
    expect(parseResponseJson(utf8('{"errcode":-2,"ip":0}'))).toEqual({
      errCode: -2,
      errMsg: '',
      ip: 0,
      version: 0,
    });
  });
});

describe('goQuote / goObject: Go Marshal output', () => {
  it('escapes like Go 1.22+', () => {
    expect(goQuote('<mac&id>')).toBe('"\\u003cmac\\u0026id\\u003e"');
    expect(goQuote('"\\\b\f\n\r\t')).toBe('"\\"\\\\\\b\\f\\n\\r\\t"');
    expect(goQuote('\u0000\u001f\u007f')).toBe('"\\u0000\\u001f\u007f"');
    expect(goQuote('\u2028\u2029')).toBe('"\\u2028\\u2029"');
    expect(goQuote('\u00e9\u{1f600}/')).toBe('"\u00e9\u{1f600}/"');
    expect(goQuote('a\ud800b\udc00')).toBe('"a\\ufffdb\\ufffd"');
  });

  it('writes members in order with no spaces', () => {
    expect(
      goObject([
        ['A', 1],
        ['B', 'x'],
        ['C', -5n],
      ]),
    ).toBe('{"A":1,"B":"x","C":-5}');
    expect(() => goObject([['A', 1.5]])).toThrow();
  });

  it('reads back what it writes', () => {
    const s = 'x<>&\u2028\u0001"\\\u00e9\u{1f600}';
    expect(decodeObject(utf8(goObject([['Domain', s]])), SCHEMA).Domain).toBe(s);
  });
});
