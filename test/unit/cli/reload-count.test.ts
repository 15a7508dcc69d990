import { describe, expect, it } from 'vitest';
import type { ReloadResult } from '../../../src/cli/reload.js';
import { ReloadCounts } from '../../../src/cli/reload-count.js';

/** The reload counts behind flexmux_reloads_total and flexmux_reload_last_success_timestamp_seconds. */

const ok: ReloadResult = { changed: ['certificate'], unchanged: ['password'], failed: [] };
const partly: ReloadResult = { changed: ['password'], unchanged: [], failed: ['certificate'] };

describe('ReloadCounts', () => {
  it('counts a reload with any failure as failed, and times the last one without', async () => {
    let now = 1_000;
    const counts = new ReloadCounts(() => now);
    expect(counts).toMatchObject({ ok: 0, failed: 0, lastSuccess: 1_000 });
    let next = ok;
    const reload = counts.counted(async () => next);

    now = 2_000;
    expect(await reload()).toBe(ok);
    expect(counts).toMatchObject({ ok: 1, failed: 0, lastSuccess: 2_000 });

    now = 3_000;
    next = partly;
    expect(await reload()).toBe(partly);
    expect(counts).toMatchObject({ ok: 1, failed: 1, lastSuccess: 2_000 });

    // Nothing to reload, or nothing changed: still a reload that worked.
    now = 4_000;
    next = { changed: [], unchanged: [], failed: [] };
    await reload();
    expect(counts).toMatchObject({ ok: 2, failed: 1, lastSuccess: 4_000 });
  });

  it('counts a reload that throws as failed, and lets the error through', async () => {
    const counts = new ReloadCounts(() => 5);
    const err = new Error('a bug');
    await expect(counts.counted(() => Promise.reject(err))()).rejects.toBe(err);
    expect(counts).toMatchObject({ ok: 0, failed: 1, lastSuccess: 5 });
  });
});
