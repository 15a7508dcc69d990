import { describe, expect, it } from 'vitest';
import { formatBytes, progressLine } from '../../../src/cli/meter.js';
import { RttStats } from '../../../src/cli/rtt.js';

describe('ping statistics', () => {
  it('min/avg/max/mdev and loss as ping(8) computes them', () => {
    const s = new RttStats();
    for (const rtt of [1, 2, 3, 4]) {
      s.sent();
      s.reply(rtt);
    }
    s.sent();
    expect(s.loss).toBe(20);
    const sum = s.summary();
    expect(sum?.min).toBe(1);
    expect(sum?.max).toBe(4);
    expect(sum?.avg).toBe(2.5);
    expect(sum?.mdev).toBeCloseTo(Math.sqrt(1.25), 10);
    expect(s.report('alice', 4003.4)).toBe(
      '--- alice ping statistics ---\n' +
        '5 transmitted, 4 received, 20% loss, time 4003 ms\n' +
        'rtt min/avg/max/mdev = 1.000/2.500/4.000/1.118 ms\n',
    );
  });

  it('no reply: no rtt line, 100% loss; nothing sent: 0% loss', () => {
    const s = new RttStats();
    expect(s.loss).toBe(0);
    s.sent();
    s.sent();
    s.sent();
    expect(s.summary()).toBeNull();
    expect(s.report('x', 10)).toBe(
      '--- x ping statistics ---\n3 transmitted, 0 received, 100% loss, time 10 ms\n',
    );
    s.reply(1);
    expect(s.report('x', 10)).toContain('66.7% loss');
  });
});

describe('transfer meter', () => {
  it('formats sizes and rates', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.00 KiB');
    expect(formatBytes(64 * 1024)).toBe('64.0 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
    expect(progressLine({ sent: 2 * 1024 * 1024, received: 0 }, { sent: 0, received: 0 }, 2, 2)).toBe(
      'sent 2.00 MiB (1.00 MiB/s), received 0 B (0 B/s), 2.0 s',
    );
  });
});
