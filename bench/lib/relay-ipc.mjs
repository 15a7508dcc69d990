// Process plumbing shared by bench/relay.mjs and bench/scale.mjs (and, for the watchdog, the
// machine record and latency stats, bench/direct.mjs too; bench/oneway.mjs forks through it): forking children that die with their
// parent, request/reply over the IPC channel, and what a process reports about itself (memory,
// CPU time, open file descriptors). Children import `serveRequests` and `selfReport`.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { deadline } from './direct-proto.mjs';

const children = new Set();
let exitHooked = false;

/**
 * Ends the run with exit code 1 (children killed) if it is still going after `ms`: a benchmark
 * that stalls must not hold the machine. The timer does not keep the process alive.
 */
export function startWatchdog(name, ms) {
  const t = setTimeout(() => {
    console.error(`${name}: still running after ${ms / 1000} s, giving up`);
    killChildren();
    process.exit(1);
  }, ms);
  t.unref();
}

/** SIGKILLs every child still running; called on exit, also after a watchdog or a crash. */
export function killChildren() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/**
 * Forks `file` with an IPC channel and --expose-gc. `request(type, body, ms)` sends
 * `{ type, id, ...body }` and resolves with the child's reply carrying the same id; a child that
 * exits fails every pending request at once instead of leaving it to time out. `ready()` waits for
 * the child's unsolicited `{ type: 'ready', ... }` message, `next(type)` for the next unsolicited
 * message of that type that arrives from now on (an unsolicited `{ type: 'error', error }` fails
 * it, as the shared harness's processes report failures). `stdout: 'pipe'` leaves the child's
 * standard output to the caller on `proc.stdout` (V8's --trace-* flags print there).
 */
export function forkChild(file, args = [], name = file, execArgv = [], { stdout = 'inherit' } = {}) {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', killChildren);
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
  }
  const proc = fork(file, args.map(String), {
    execArgv: ['--expose-gc', ...execArgv],
    stdio: ['inherit', stdout, 'inherit', 'ipc'],
  });
  children.add(proc);
  const pending = new Map();
  /** next() calls waiting, oldest first: { type, resolve, reject }. */
  const waiting = [];
  let nextId = 0;
  let exited = null;
  let onReady;
  const ready = new Promise((resolve, reject) => {
    onReady = { resolve, reject };
  });
  ready.catch(() => {});
  proc.on('message', (m) => {
    if (m?.type === 'ready') onReady.resolve(m);
    const p = pending.get(m?.id);
    if (p === undefined) {
      const i = waiting.findIndex((w) => w.type === m?.type || m?.type === 'error');
      if (i < 0) return;
      const [w] = waiting.splice(i, 1);
      if (m.type === 'error' && w.type !== 'error') w.reject(new Error(`${name}: ${m.error}`));
      else w.resolve(m);
      return;
    }
    pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(`${name}: ${m.error}`));
    else p.resolve(m);
  });
  proc.on('exit', (code, signal) => {
    children.delete(proc);
    exited = new Error(`${name} exited (${signal ?? code})`);
    onReady.reject(exited);
    for (const p of pending.values()) p.reject(exited);
    pending.clear();
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  return {
    proc,
    name,
    /** The child's first `{ type: 'ready' }` message. */
    ready: (ms = 15_000) => deadline(ready, ms, `${name} start`),
    request(type, body = {}, ms = 30_000) {
      if (exited) return Promise.reject(exited);
      const id = ++nextId;
      const reply = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
      proc.send({ ...body, type, id });
      return deadline(reply, ms, `${name} ${type}`).finally(() => pending.delete(id));
    },
    next(type, ms = 30_000) {
      if (exited) return Promise.reject(exited);
      const w = { type };
      const message = new Promise((resolve, reject) => Object.assign(w, { resolve, reject }));
      waiting.push(w);
      return deadline(message, ms, `${name} ${type}`).finally(() => {
        const i = waiting.indexOf(w);
        if (i >= 0) waiting.splice(i, 1);
      });
    },
    /** Resolves when the child exits (at once if it already has). */
    exited: () =>
      proc.exitCode !== null || proc.signalCode !== null
        ? Promise.resolve()
        : new Promise((resolve) => proc.once('exit', resolve)),
  };
}

/**
 * Lets every child exit on its own (they exit when the IPC channel closes, which is also when a
 * --cpu-prof child writes its profile), then SIGKILLs whatever is left after `ms`.
 */
export async function stopChildren(ms = 5000) {
  const waits = [...children].map((c) => new Promise((resolve) => c.once('exit', resolve)));
  for (const c of children) if (c.connected) c.disconnect();
  await Promise.race([Promise.all(waits), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
  killChildren();
}

/**
 * Child side: answers `{ type, id }` messages with `handlers[type](message)`, whose result (an
 * object) goes back with the same id; a thrown error goes back as `error`. The child exits when
 * its parent goes away, however the parent ended.
 */
export function serveRequests(handlers) {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m) => {
    const handler = handlers[m?.type];
    if (handler === undefined) {
      process.send({ id: m?.id, error: `unknown request ${m?.type}` });
      return;
    }
    try {
      process.send({ ...(await handler(m)), id: m.id });
    } catch (err) {
      process.send({ id: m.id, error: String(err?.stack ?? err) });
    }
  });
}

/** Open file descriptors of this process (Linux /proc), or null where unknown. */
export function openFds() {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** Soft limit on open files (RLIMIT_NOFILE, `ulimit -n`) from /proc, or null where unknown. */
export function openFileLimit() {
  try {
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return null;
  }
}

/**
 * The kernel's counters of connections dropped at a full listen queue (TcpExt ListenOverflows and
 * ListenDrops, Linux /proc/net/netstat), or null where unknown. Counted for the whole host.
 */
export function listenDrops() {
  try {
    const lines = fs.readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[i].split(/\s+/);
    const values = lines[i + 1].split(/\s+/).map(Number);
    const get = (k) => values[names.indexOf(k)];
    return { overflows: get('ListenOverflows'), drops: get('ListenDrops') };
  } catch {
    return null;
  }
}

/** Memory, CPU time (µs) and fds of this process; after two full collections if `withGc`. */
export function selfReport(withGc) {
  if (withGc && globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  const { user, system } = process.cpuUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers, cpu: user + system, fds: openFds() };
}

/** The machine line of every result file. */
export function machineInfo(loadBefore) {
  const r2 = (xs) => xs.map((x) => Number(x.toFixed(2)));
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    memGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    openFileLimit: openFileLimit(),
    loadavgBefore: r2(loadBefore),
    loadavgAfter: r2(os.loadavg()),
  };
}

/** p50 / p99 / max of latency samples (any unit). */
export function latency(samples) {
  const s = Float64Array.from(samples).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1], n: s.length };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)];
};
