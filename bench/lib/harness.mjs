// The shared harness's scenario parameters (its "full" set) and a way to start one of its two
// processes (lib/server.mjs, lib/client.mjs) directly, without bench.mjs: they load only the
// adapter, so no npm install is needed for our adapter or raw TCP. Used by profile.mjs and
// warmup.mjs.
import { fork } from 'node:child_process';
import path from 'node:path';

export const HARNESS_PARAMS = {
  S1: { bytes: 512 * 2 ** 20, chunk: 65536 },
  S2: { streams: 64, bytesPerStream: 8 * 2 ** 20, chunk: 65536 },
  S3par: { count: 10000, warmup: 100, concurrency: 32 },
  S4: { size: 64, warmup: 500, rtts: 5000 },
  S5: { size: 64, chunk: 65536, warmupMs: 500, maxPings: 2000, maxMs: 6000 },
};

/** Forks the harness's `side` process ('server' or 'client') with an IPC channel. */
export function forkHarness(harness, side, args, execArgv = ['--expose-gc']) {
  return fork(path.join(harness, 'lib', `${side}.mjs`), args, { execArgv, cwd: harness });
}
