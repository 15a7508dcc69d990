import { describe, expect, it } from 'vitest';
import { ConfigError, ProtocolError, ResetCode } from '../../../src/errors.js';
import { MAX_RESET_MESSAGE } from '../../../src/wire/constants.js';
import { decodeReset, encodeReset } from '../../../src/wire/reset.js';
import { fromHex, toHex } from './vectors.js';

describe('StreamReset payload (PROTOCOL.md 14.3)', () => {
  it('is code u32 BE ‖ UTF-8 message', () => {
    expect(toHex(encodeReset(ResetCode.FLOW_CONTROL, 'too much'))).toBe('00000002746f6f206d756368');
    expect(toHex(encodeReset(ResetCode.CANCELLED))).toBe('00000000');
    expect(toHex(encodeReset(0xffffffff, ''))).toBe('ffffffff');
  });

  it('round-trips codes and messages', () => {
    for (const [code, message] of [
      [0, ''],
      [5, 'idle'],
      [0x100, 'application says \u00e9\u20ac\u{1f600}'],
      [0xffffffff, 'max'],
    ] as const) {
      expect(decodeReset(encodeReset(code, message))).toEqual({ code, message });
    }
  });

  it('cuts an over-long message at a character boundary', () => {
    const cases: [string, number][] = [
      ['a'.repeat(2000), 1024],
      ['\u00e9'.repeat(600), 1024], // 2-byte characters: 512 fit exactly
      ['\u20ac'.repeat(400), 1023], // 3-byte characters: 341 fit, the 342nd would split
      ['\u{1f600}'.repeat(300), 1024], // 4-byte characters: 256 fit exactly
      ['a\u{1f600}'.repeat(300), 1021], // 5-byte pairs: 204 fit, then one more 'a' but no half emoji
    ];
    for (const [message, bytes] of cases) {
      const out = encodeReset(1, message);
      expect(out.length - 4).toBe(bytes);
      const back = decodeReset(out).message;
      expect(message.startsWith(back)).toBe(true);
      expect(back).not.toContain('\ufffd');
    }
    expect(encodeReset(1, 'x'.repeat(MAX_RESET_MESSAGE)).length).toBe(4 + MAX_RESET_MESSAGE);
  });

  it('reads at most 1024 message bytes from a peer', () => {
    const long = new Uint8Array(4 + 5000).fill(0x61);
    long.set([0, 0, 0, 3], 0);
    expect(decodeReset(long)).toEqual({ code: 3, message: 'a'.repeat(1024) });
  });

  it('rejects a payload shorter than the code', () => {
    for (const hex of ['', '00', '000000']) expect(() => decodeReset(fromHex(hex))).toThrow(ProtocolError);
  });

  it('rejects codes outside u32', () => {
    for (const code of [-1, 2 ** 32, 1.5, Number.NaN])
      expect(() => encodeReset(code, 'x')).toThrow(ConfigError);
  });
});
