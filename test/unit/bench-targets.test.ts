// bench/lib/targets.mjs: issue 5's targets as medians of within-run ratios of a harness JSON.
import { describe, expect, it } from 'vitest';
import { evaluateTargets, type HarnessJson, median, renderTargets } from '../../bench/lib/targets.mjs';

const ok = (metrics: Record<string, number>) => ({ ok: true, metrics });
const failed = { ok: false, metrics: {} };

function rowOf(json: HarnessJson, name: string) {
  const row = evaluateTargets(json).find((r) => r.name.startsWith(name));
  if (row === undefined) throw new Error(`no row ${name}`);
  return row;
}

describe('bench targets', () => {
  it('takes each ratio within one run, then the median over runs', () => {
    // flexmux met a slow phase of the machine in run 2: two of three runs meet the target, and so
    // does the median of per-run ratios, while the ratio of the two rows' medians (240 / 1000)
    // would not.
    const json: HarnessJson = {
      results: {
        flexmux: { S1: { runs: [ok({ mbps: 800 }), ok({ mbps: 240 }), ok({ mbps: 240 })] } },
        tcp: { S1: { runs: [ok({ mbps: 1000 }), ok({ mbps: 1000 }), ok({ mbps: 300 })] } },
      },
    };
    const row = rowOf(json, 'S1 one stream ÷ raw TCP');
    expect(row.perRun).toEqual([0.8, 0.24, 0.8]);
    expect(row.median).toBeCloseTo(0.8);
    expect(row.met).toBe(true);
  });

  it('leaves out runs where either cell failed or is missing', () => {
    const json: HarnessJson = {
      results: {
        flexmux: { S2: { runs: [ok({ mbps: 100 }), failed, ok({ mbps: 300 })] } },
        'http2-tuned': { S2: { runs: [ok({ mbps: 100 }), ok({ mbps: 100 })] } },
      },
    };
    const row = rowOf(json, 'S2');
    expect(row.perRun).toEqual([1, null, null]);
    expect(row.median).toBe(1);
    expect(row.met).toBe(false); // 1.0 < 1.2
    expect(row.shown).toEqual(['1.00', '–', '–']);
  });

  it('compares S5 with S4 of the same run and checks the bulk rate on its own', () => {
    const json: HarnessJson = {
      results: {
        flexmux: {
          S4: { runs: [ok({ p99: 500 }), ok({ p99: 1000 })] },
          S5: { runs: [ok({ p99: 1400, bulkMBps: 900 }), ok({ p99: 2000, bulkMBps: 1200 })] },
        },
      },
    };
    const ratio = rowOf(json, 'S5 ping p99');
    expect(ratio.perRun).toEqual([2.8, 2]);
    expect(ratio.met).toBe(true);
    const bulk = rowOf(json, 'S5 bulk');
    expect(bulk.median).toBe(1050);
    expect(bulk.met).toBe(true);
  });

  it('holds memory per idle stream to the larger of the two sides', () => {
    const s6 = (client: number, server: number) =>
      ok({
        clientHeapPerStream: client,
        serverHeapPerStream: server,
        clientRssPerStream: 3000,
        serverRssPerStream: 1000,
      });
    const json: HarnessJson = { results: { flexmux: { S6: { runs: [s6(1000, 2100), s6(1100, 1900)] } } } };
    const heap = rowOf(json, 'S6 heap');
    expect(heap.perRun).toEqual([2100, 1900]);
    expect(heap.median).toBe(2000);
    expect(heap.met).toBe(true); // 2000 B ≤ 2 KiB
    expect(heap.shown[0]).toBe('1,000 / 2,100');
    expect(rowOf(json, 'S6 RSS').met).toBe(false);
  });

  it('has no row for a target whose cells are absent, and renders a markdown table', () => {
    const json: HarnessJson = { results: { flexmux: { S3par: { runs: [ok({ rate: 16000 })] } } } };
    const rows = evaluateTargets(json);
    expect(rows.map((r) => r.name)).toEqual(['S3par open+echo+close /s, 32 in flight']);
    const table = renderTargets(rows).split('\n');
    expect(table).toHaveLength(3);
    expect(table[2]).toBe('| S3par open+echo+close /s, 32 in flight ≥ 15,000 | 16,000 | 16,000 | yes |');
  });

  it('median of an even count is the mean of the middle two', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
