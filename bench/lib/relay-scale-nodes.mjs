// A client process of bench/scale.mjs (forked with IPC and --expose-gc): `count` flexmux sessions
// named n<first>..n<first+count-1>, each serving an echo on virtual port 7. On request it connects
// them, opens `perNode` streams from each to echo services of nodes in other client processes,
// sends rounds of pings through every stream at once, reports its memory, and closes everything.
// argv[2]: JSON { url, password, first, count, nodes, processes, perNode, pingSize, nodeOptions }.
import { Reader } from './direct-proto.mjs';
import { selfReport, serveRequests } from './relay-ipc.mjs';

const { connect } = await import(new URL('../../dist/index.js', import.meta.url).href);

const c = JSON.parse(process.argv[2]);
const ECHO_PORT = 7;
const sessions = [];
/** Dialed streams: { stream, reader, from, to }. */
const dialed = [];
const accepted = new Set();
const errors = { count: 0, samples: [] };
const fail = (what) => (err) => {
  errors.count++;
  if (errors.samples.length < 20) errors.samples.push(`${what}: ${err?.message ?? err}`);
};
const now = () => performance.now();

/**
 * The nodes node `i` dials: `perNode` distinct nodes, all in other client processes when there
 * are several (blocks of `count` nodes, one block per process). A different `shift` picks
 * different nodes (while shift × perNode × 7 stays below `count`).
 */
function targets(i, shift) {
  const per = c.nodes / c.processes;
  const block = Math.floor(i / per);
  const out = [];
  for (let j = 0; j < c.perNode; j++) {
    const other = c.processes > 1 ? (block + 1 + (j % (c.processes - 1))) % c.processes : block;
    out.push(other * per + (((i % per) + 1 + (shift * c.perNode + j) * 7) % per));
  }
  return out;
}

function echo(stream) {
  accepted.add(stream);
  stream.on('error', fail('accepted stream'));
  stream.once('close', () => accepted.delete(stream));
  stream.pipe(stream);
}

async function connectAll() {
  const t0 = Date.now();
  const ready = [];
  for (let k = 0; k < c.count; k++) {
    const s = connect(c.url, {
      ...c.nodeOptions,
      password: c.password,
      domain: `n${c.first + k}`,
      reconnect: false,
    });
    s.on('disconnect', fail(`session n${c.first + k} disconnect`));
    s.listen(ECHO_PORT).on('stream', echo);
    sessions.push(s);
    ready.push(s.ready({ timeout: 60_000 }).then(() => Date.now(), fail(`session n${c.first + k} ready`)));
  }
  const times = (await Promise.all(ready)).filter((t) => typeof t === 'number');
  return { t0, last: Math.max(t0, ...times), ready: sessions.filter((s) => s.state === 'ready').length };
}

async function openAll(shift) {
  const t0 = Date.now();
  const jobs = [];
  sessions.forEach((s, k) => {
    const i = c.first + k;
    for (const t of targets(i, shift)) {
      jobs.push(
        s.dial(`n${t}:${ECHO_PORT}`).then(
          (stream) => {
            stream.on('error', fail('dialed stream'));
            dialed.push({ stream, reader: new Reader(stream), from: i, to: t });
          },
          fail(`dial n${i} -> n${t}`),
        ),
      );
    }
  });
  await Promise.all(jobs);
  return { t0, last: Date.now(), opened: dialed.length };
}

/** `rounds` times: every stream sends `pingSize` bytes at once and waits for its echo. */
async function pingAll(rounds) {
  const samples = [];
  const t0 = Date.now();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      dialed.map(async (d, k) => {
        const buf = Buffer.alloc(c.pingSize, r);
        buf.writeUInt32LE(k, 0);
        const s0 = now();
        d.stream.write(buf);
        try {
          const got = await d.reader.read(buf.length);
          if (!got.equals(buf)) throw new Error('echo mismatch');
          samples.push(now() - s0);
        } catch (err) {
          fail(`echo n${d.from} -> n${d.to}`)(err);
        }
      }),
    );
  }
  return { t0, last: Date.now(), samples };
}

async function closeStreams() {
  const t0 = Date.now();
  const closed = dialed.map((d) => new Promise((resolve) => d.stream.once('close', resolve)));
  for (const d of dialed) d.stream.end();
  await Promise.all(closed);
  const dialedClosed = Date.now();
  dialed.length = 0;
  // Accepted ends close once the dialer's end has reached them and our echo has ended too.
  const until = Date.now() + 10_000;
  while (accepted.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return { t0, dialedClosed, last: Date.now(), acceptedLeft: accepted.size };
}

serveRequests({
  connect: connectAll,
  open: (m) => openAll(m.shift ?? 0),
  ping: (m) => pingAll(m.rounds),
  closeStreams,
  closeSessions: async () => {
    await Promise.all(sessions.map((s) => s.close()));
    return {};
  },
  report: (m) => ({
    ...selfReport(m.gc),
    ready: sessions.filter((s) => s.state === 'ready').length,
    dialed: dialed.length,
    accepted: accepted.size,
    errors,
  }),
});
process.send({ type: 'ready' });
