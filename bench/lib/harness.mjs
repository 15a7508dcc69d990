// The shared harness's scenario parameters (its "full" set), for the tools that run its
// lib/server.mjs and lib/client.mjs directly, without bench.mjs (profile.mjs, warmup.mjs): those
// two load only the adapter, so no npm install is needed for our adapter or raw TCP.
export const HARNESS_PARAMS = {
  S1: { bytes: 512 * 2 ** 20, chunk: 65536 },
  S2: { streams: 64, bytesPerStream: 8 * 2 ** 20, chunk: 65536 },
  S3par: { count: 10000, warmup: 100, concurrency: 32 },
  S4: { size: 64, warmup: 500, rtts: 5000 },
  S5: { size: 64, chunk: 65536, warmupMs: 500, maxPings: 2000, maxMs: 6000 },
};
