import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The client details of the dashboard (src/admin/static/modes.js, a plain browser module that
 * Node imports as it stands): every count is grouped by thousands as the rest of the page is.
 * "Frames by command" and "Dropped / spoofed" showed "data 2240" and "1234 / 5678" under
 * "Frames in / out 2,426 / 3,001". Commands are set apart by a dot, as a comma now groups digits.
 */

type Detail = (c: Record<string, unknown>) => [string, string][];

const load = async (): Promise<Detail> => {
  const url = pathToFileURL(fileURLToPath(new URL('../../../src/admin/static/modes.js', import.meta.url)));
  const m = (await import(url.href)) as { modes: { switcher: { detail: Detail } } };
  return m.modes.switcher.detail;
};

describe('dashboard client details', () => {
  it('group every count by thousands', async () => {
    const detail = await load();
    const rows = new Map(
      detail({
        domain: 'alice',
        ip: 1,
        remoteAddress: '127.0.0.1:40000',
        connectedAt: new Date().toISOString(),
        streams: 1200,
        streamsOpened: 34567,
        framesIn: 2426,
        framesOut: 3001,
        framesByCmd: { data: 2240, ping: 1000000, syn: 7 },
        queuedBytes: 0,
        paused: false,
        dropped: 1234,
        spoofed: 5678,
        rttMs: 3,
      }),
    );
    expect(rows.get('Frames in / out')).toBe('2,426 / 3,001');
    expect(rows.get('Frames by command')).toBe('data 2,240 · ping 1,000,000 · syn 7');
    expect(rows.get('Dropped / spoofed')).toBe('1,234 / 5,678');
    expect(rows.get('Streams opened')).toBe('34,567');
  });
});
