import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { ALL_CAPS, Caps, DEFAULT_WINDOW } from '../../../src/wire/constants.js';
import {
  decodeOpen,
  decodeOpenAck,
  effectiveWindow,
  encodeOpen,
  encodeOpenAck,
  encodeOpenError,
  negotiateCaps,
  negotiateWindow,
  OpenErrorText,
  rewriteOpenDomain,
  windowAsInt32,
} from '../../../src/wire/open.js';
import { fromHex, toHex } from './vectors.js';

describe('OpenStream payload', () => {
  it('encodes domain ‖ 00 ‖ window as Go does, with no caps byte unless asked', () => {
    expect(toHex(encodeOpen({ domain: 'go-echo', window: 4096 }))).toBe('676f2d6563686f0000001000');
    expect(toHex(encodeOpen({ domain: '' }))).toBe('0000000000');
    expect(toHex(encodeOpen({ domain: 'echo', window: 0xffffffff }))).toBe('6563686f00ffffffff');
  });

  it('appends the caps byte when given, even 0', () => {
    expect(toHex(encodeOpen({ domain: 'echo', window: 4096, caps: Caps.HALF_CLOSE | Caps.RESET }))).toBe(
      '6563686f000000100003',
    );
    expect(toHex(encodeOpen({ domain: '', window: 0, caps: 0 }))).toBe('000000000000');
  });

  it('round-trips domain, window and caps', () => {
    for (const init of [
      { domain: 'alice', window: 65536, caps: Caps.RESET },
      { domain: 'caf\u00e9', window: 1, caps: 0xff },
      { domain: '', window: 0x7fffffff, caps: Caps.HALF_CLOSE },
    ]) {
      expect(decodeOpen(encodeOpen(init))).toEqual(init);
    }
  });

  it("decodes Go's lenient forms (PROTOCOL.md 3.1, 14.1)", () => {
    const cases: [string, { domain: string; window: number; caps: number }][] = [
      ['6563686f', { domain: 'echo', window: 0, caps: 0 }], // legacy: no NUL, whole payload is the domain
      ['', { domain: '', window: 0, caps: 0 }],
      ['00', { domain: '', window: 0, caps: 0 }],
      ['6563686f000010', { domain: 'echo', window: 0, caps: 0 }], // short window
      ['616200636400000000', { domain: 'ab', window: 0x63640000, caps: 0 }], // NUL inside the domain
      ['6563686f00000010000378797a', { domain: 'echo', window: 4096, caps: 3 }], // caps, then ignored bytes
    ];
    for (const [hex, want] of cases) expect(decodeOpen(fromHex(hex))).toEqual(want);
  });

  it('refuses bad arguments with a ConfigError', () => {
    expect(() => encodeOpen({ domain: 'a\u0000b' })).toThrow(ConfigError);
    expect(() => encodeOpen({ domain: 'a', window: -1 })).toThrow(ConfigError);
    expect(() => encodeOpen({ domain: 'a', window: 2 ** 32 })).toThrow(ConfigError);
    expect(() => encodeOpen({ domain: 'a', window: 1.5 })).toThrow(ConfigError);
    expect(() => encodeOpen({ domain: 'a', caps: 256 })).toThrow(ConfigError);
    expect(() => encodeOpen({ domain: 'x'.repeat(65531) })).toThrow(ConfigError);
    expect(encodeOpen({ domain: 'x'.repeat(65530) }).length).toBe(65535);
  });

  it('rewrites the domain keeping the window and every later byte (14.1)', () => {
    const withCaps = encodeOpen({ domain: 'ECHO', window: 65536, caps: 3 });
    expect(decodeOpen(rewriteOpenDomain(withCaps, 'alice'))).toEqual({
      domain: 'alice',
      window: 65536,
      caps: 3,
    });
    expect(toHex(rewriteOpenDomain(fromHex('6563686f00000010000378797a'), 'a'))).toBe('6100000010000378797a');
    // Legacy and short-window payloads are re-encoded with window 0, as the Go switcher does.
    expect(toHex(rewriteOpenDomain(fromHex('6563686f'), 'alice'))).toBe('616c6963650000000000');
    expect(toHex(rewriteOpenDomain(fromHex('6563686f0001'), 'alice'))).toBe('616c6963650000000000');
    expect(() => rewriteOpenDomain(withCaps, 'a\u0000')).toThrow(ConfigError);
  });
});

describe('OpenStream ACK payload', () => {
  it('encodes 00 ‖ window, with an optional caps byte', () => {
    expect(toHex(encodeOpenAck({ window: 4096 }))).toBe('0000001000');
    expect(toHex(encodeOpenAck({ window: 8192, caps: 2 }))).toBe('000000200002');
    expect(decodeOpenAck(encodeOpenAck({ window: 7, caps: 1 }))).toEqual({ ok: true, window: 7, caps: 1 });
  });

  it("decodes Go's lenient forms (PROTOCOL.md 3.5)", () => {
    expect(decodeOpenAck(fromHex(''))).toEqual({ ok: true, window: 0, caps: 0 });
    expect(decodeOpenAck(fromHex('00'))).toEqual({ ok: true, window: 0, caps: 0 });
    expect(decodeOpenAck(fromHex('0001'))).toEqual({ ok: true, window: 0, caps: 0 });
    expect(decodeOpenAck(fromHex('000001000001ff'))).toEqual({ ok: true, window: 65536, caps: 1 });
    expect(decodeOpenAck(fromHex('0102'))).toEqual({ ok: false, error: '\u0001\u0002' });
    expect(decodeOpenAck(fromHex('6e6f007065'))).toEqual({ ok: false, error: 'no\u0000pe' });
  });

  it('carries the wire error texts unchanged', () => {
    for (const text of Object.values(OpenErrorText)) {
      expect(decodeOpenAck(encodeOpenError(text))).toEqual({ ok: false, error: text });
    }
    expect(toHex(encodeOpenError(OpenErrorText.LISTENER_NOT_FOUND))).toBe(
      '6c697374656e6572206e6f7420666f756e64',
    );
  });

  it('refuses error texts a decoder would read as success', () => {
    expect(() => encodeOpenError('')).toThrow(ConfigError);
    expect(() => encodeOpenError('\u0000oops')).toThrow(ConfigError);
    expect(() => encodeOpenAck({ window: -5 })).toThrow(ConfigError);
  });
});

describe('window and caps negotiation', () => {
  it("reads windows as Go's int32", () => {
    expect(windowAsInt32(4096)).toBe(4096);
    expect(windowAsInt32(0x7fffffff)).toBe(0x7fffffff);
    expect(windowAsInt32(0x80000000)).toBe(-2147483648);
    expect(windowAsInt32(0xffffffff)).toBe(-1);
  });

  it('follows PROTOCOL.md 3.4 step 3: smaller if both set, else the one set, else 0', () => {
    const table: [number, number, number][] = [
      [0, 0, 0],
      [8192, 0, 8192],
      [0, 4096, 4096],
      [8192, 4096, 4096],
      [4096, 8192, 4096],
      [0, 0xffffffff, 0], // >= 2^31 is "not set"
      [0, 0x80000000, 0],
      [8192, 0x80000000, 8192],
      [0x80000000, 4096, 4096],
      [0x80000000, 0xffffffff, 0],
    ];
    for (const [local, remote, want] of table)
      expect([local, remote, negotiateWindow(local, remote)]).toEqual([local, remote, want]);
  });

  it('maps an unset window to the 2 MiB default', () => {
    expect(effectiveWindow(0)).toBe(DEFAULT_WINDOW);
    expect(effectiveWindow(0xffffffff)).toBe(DEFAULT_WINDOW);
    expect(effectiveWindow(65536)).toBe(65536);
  });

  it("answers own caps AND the dialer's, dropping reserved bits", () => {
    expect(negotiateCaps(ALL_CAPS, Caps.RESET)).toBe(Caps.RESET);
    expect(negotiateCaps(Caps.HALF_CLOSE, Caps.RESET)).toBe(0);
    expect(negotiateCaps(0xff, 0xff)).toBe(ALL_CAPS);
  });
});
