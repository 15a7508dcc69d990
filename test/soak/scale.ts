/**
 * Size of the soak runs. Scale 1 is the full soak (100,000 stream cycles, 1,000 reconnects), and
 * it fits the CI budget on 2 cores; FLEXMUX_SOAK_SCALE=0.1 gives a quick pass, 10 a long one:
 *   FLEXMUX_SOAK_SCALE=10 npx vitest run test/soak
 */
const raw = Number(process.env.FLEXMUX_SOAK_SCALE ?? '1');
export const SOAK_SCALE = Number.isFinite(raw) && raw > 0 ? raw : 1;

export function count(n: number): number {
  return Math.max(1, Math.round(n * SOAK_SCALE));
}

/** Test timeout for a run that takes about `ms` at scale 1 on a loaded 2-core machine. */
export function budget(ms: number): number {
  return Math.max(60_000, Math.round(ms * 3 * SOAK_SCALE));
}
