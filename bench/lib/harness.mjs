// The shared harness's scenario parameters (its "full" set), for the tools that run its
// lib/server.mjs and lib/client.mjs directly, without bench.mjs (profile.mjs, compile.mjs,
// warmup.mjs): those two load only the adapter, so no npm install is needed for our adapter or raw
// TCP.
import path from 'node:path';
import { forkChild, stopChildren } from './relay-ipc.mjs';

export const HARNESS_PARAMS = {
  S1: { bytes: 512 * 2 ** 20, chunk: 65536 },
  S2: { streams: 64, bytesPerStream: 8 * 2 ** 20, chunk: 65536 },
  S3par: { count: 10000, warmup: 100, concurrency: 32 },
  S4: { size: 64, warmup: 500, rtts: 5000 },
  S5: { size: 64, chunk: 65536, warmupMs: 500, maxPings: 2000, maxMs: 6000 },
};

/**
 * One scenario in fresh processes, as the harness runs it: its lib/server.mjs with `adapter`, then
 * its lib/client.mjs against it. `execArgv(side)` adds Node flags per side ('server', 'client');
 * `stdout: 'pipe'` leaves each child's standard output to `onFork(child, side)`, called as it is
 * forked. Resolves with the client's result once both processes have exited.
 */
export async function runScenario({
  harness,
  adapter,
  scenario,
  params = JSON.stringify(HARNESS_PARAMS[scenario] ?? {}),
  execArgv = () => [],
  stdout = 'inherit',
  onFork = () => {},
}) {
  const lib = (file) => path.join(harness, 'lib', file);
  const server = forkChild(lib('server.mjs'), [adapter], 'server', execArgv('server'), { stdout });
  onFork(server, 'server');
  const { port } = await server.ready();
  const args = [adapter, scenario, port, params];
  const client = forkChild(lib('client.mjs'), args, 'client', execArgv('client'), { stdout });
  onFork(client, 'client');
  const { result } = await client.next('result', 80_000);
  await client.exited();
  await stopChildren(); // the server exits normally once disconnected (a --cpu-prof one writes then)
  return result;
}
