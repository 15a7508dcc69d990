// Types for lib/targets.mjs (imported by test/unit/bench-targets.test.ts).
export interface HarnessRun {
  ok: boolean;
  metrics: Record<string, number>;
}
export interface HarnessJson {
  results: Record<string, Record<string, { runs?: HarnessRun[] }>>;
}
export interface TargetRow {
  name: string;
  op: '≥' | '≤';
  bound: number;
  perRun: (number | null)[];
  shown: string[];
  median: number;
  met: boolean;
}
export function median(xs: number[]): number;
export function evaluateTargets(json: HarnessJson): TargetRow[];
export function renderTargets(rows: TargetRow[]): string;
