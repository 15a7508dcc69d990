// A shared-harness client that stays warm: `node --expose-gc harness-client.mjs <harnessDir>
// <adapter> <scenario> <port> <paramsJSON> <runs>` (forked with IPC by bench/warmup.mjs
// --warm-client). It runs the harness's own scenario code (lib/scenarios.mjs) `runs` times in this
// one process, each time on a new connection made as the harness's lib/client.mjs makes it, and
// reports {type:'result', index, result} after each run, so the first run shows a cold client and
// the later ones a warm client.
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { deadline } from './direct-proto.mjs';

const [harness, adapterName, scenario, portStr, paramsJson, runsStr] = process.argv.slice(2);
const lib = (file) => import(pathToFileURL(path.join(harness, 'lib', file)).href);
const { loadAdapter } = await lib('load-adapter.mjs');
const scenarios = await lib('scenarios.mjs');
const port = Number(portStr);
const params = JSON.parse(paramsJson);
const runs = Number(runsStr);
const progress = { work: 0, note: '' };

process.on('disconnect', () => process.exit(0));

function connect() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', reject);
  });
}

try {
  const fn = scenarios[scenario];
  if (typeof fn !== 'function') throw new Error(`unknown scenario ${scenario}`);
  const adapter = await loadAdapter(adapterName);
  for (let index = 0; index < runs; index++) {
    const socket = await connect();
    socket.on('error', () => {});
    const conn = await adapter.client(socket, { host: '127.0.0.1', port, connect });
    const result = await fn(conn, params, progress);
    await new Promise((resolve) => process.send({ type: 'result', index, result }, resolve));
    await deadline(Promise.resolve(conn.close()), 1000, 'close').catch(() => {});
    socket.destroy();
  }
  process.exit(0);
} catch (err) {
  process.send({ type: 'error', error: String(err?.message ?? err) }, () => process.exit(4));
}
