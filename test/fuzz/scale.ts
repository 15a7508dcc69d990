/**
 * How long the fuzz suites run. CI runs them at scale 1 (the whole folder within 60 s); for a long
 * run by hand: `FLEXMUX_FUZZ_SCALE=50 npx vitest run test/fuzz` (scripts/fuzz-long.sh).
 */
const raw = Number(process.env.FLEXMUX_FUZZ_SCALE ?? '1');
export const FUZZ_SCALE = Number.isFinite(raw) && raw > 0 ? raw : 1;

/** `n` runs at scale 1, scaled. */
export function runs(n: number): number {
  return Math.max(1, Math.round(n * FUZZ_SCALE));
}

/** A test timeout for a property whose scale-1 run takes about `ms`: generous, and scaled. */
export function budget(ms: number): number {
  return Math.max(30_000, Math.round(ms * 4 * FUZZ_SCALE));
}
