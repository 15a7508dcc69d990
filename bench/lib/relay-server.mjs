// The server process of bench/relay.mjs (forked with IPC and --expose-gc): a flexmux node named
// `server`, connected to the switcher, serving virtual port 80, and a plain TCP server for the
// baseline relay. Both speak the protocol of direct-proto.mjs (first byte: SINK, ECHO or HOLD).
// argv[2]: JSON { url, password, nodeOptions }.
import net from 'node:net';
import { encodeCount, OP } from './direct-proto.mjs';
import { selfReport, serveRequests } from './relay-ipc.mjs';

const { connect } = await import(new URL('../../dist/index.js', import.meta.url).href);

const config = JSON.parse(process.argv[2]);
const failures = [];

function serve(stream) {
  let op = 0;
  let count = 0;
  stream.on('error', (err) => {
    if (failures.length < 20) failures.push(String(err?.message ?? err));
  });
  stream.on('data', (chunk) => {
    if (op === 0) {
      op = chunk[0];
      chunk = chunk.subarray(1);
    }
    if (op === OP.SINK) count += chunk.length;
    else if (op === OP.ECHO && chunk.length > 0) stream.write(chunk);
  });
  stream.on('end', () => {
    if (op === OP.SINK) stream.end(encodeCount(count));
    else stream.end();
  });
}

const session = connect(config.url, {
  ...config.nodeOptions,
  password: config.password,
  domain: 'server',
  reconnect: false,
});
session.on('disconnect', (err) => failures.push(`session: ${err?.message ?? err}`));
session.listen(80).on('stream', serve);
await session.ready({ timeout: 10_000 });

const tcpServer = net.createServer({ noDelay: true, allowHalfOpen: true }, serve);
const tcpPort = await new Promise((resolve, reject) => {
  tcpServer.once('error', reject);
  tcpServer.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve(tcpServer.address().port));
});

serveRequests({
  report: (m) => ({ ...selfReport(m.gc), failures }),
});
process.send({ type: 'ready', tcpPort });
