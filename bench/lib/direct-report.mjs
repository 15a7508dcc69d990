// The markdown table of bench/direct.mjs: flexmux, raw TCP, their ratio, and the targets.

const n0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '?');
const ratio = (a, b) =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `×${(a / b).toFixed(2)}` : '—';
const mark = (ok) => (ok === undefined ? '—' : ok ? 'yes' : '**no**');

function cell(r, show) {
  if (r === undefined) return '—';
  if (r.error) return `**FAIL** (${r.error})`;
  return show(r);
}

/** Rows: [label, flexmux cell, TCP cell, ratio, target, met?]. */
function rows(f, t) {
  const lat = (r) => `${n0(r.p50)} / ${n0(r.p99)}`;
  const ok = (r) => r !== undefined && !r.error;
  const out = [];
  out.push([
    'one stream, MB/s',
    cell(f.bulk1, (r) => n0(r.mbps)),
    cell(t.bulk1, (r) => n0(r.mbps)),
    ratio(f.bulk1?.mbps, t.bulk1?.mbps),
    '≥ ×0.75 of raw TCP (and ≥ 1.3× libp2p-yamux: shared harness)',
    mark(ok(f.bulk1) && ok(t.bulk1) ? f.bulk1.mbps >= 0.75 * t.bulk1.mbps : undefined),
  ]);
  const cpu = (r) => `${n0(r.clientCpuPerMB)} / ${n0(r.serverCpuPerMB)}`;
  const cpuRatio = (a, b) =>
    ratio(a && a.clientCpuPerMB + a.serverCpuPerMB, b && b.clientCpuPerMB + b.serverCpuPerMB);
  out.push([
    'one stream, CPU µs per MB, client / server',
    cell(f.bulk1, cpu),
    cell(t.bulk1, cpu),
    `${cpuRatio(f.bulk1, t.bulk1)} (sum)`,
    'lower is better; other load on the machine distorts it less than MB/s',
    '',
  ]);
  out.push([
    '64 streams, aggregate MB/s',
    cell(f.bulk64, (r) => n0(r.mbps)),
    cell(t.bulk64, (r) => `${n0(r.mbps)} ¹`),
    ratio(f.bulk64?.mbps, t.bulk64?.mbps),
    '≥ 1.2× node-http2-tuned: shared harness',
    '—',
  ]);
  out.push([
    '64 streams, CPU µs per MB, client / server',
    cell(f.bulk64, cpu),
    cell(t.bulk64, (r) => `${cpu(r)} ¹`),
    `${cpuRatio(f.bulk64, t.bulk64)} (sum)`,
    '',
    '',
  ]);
  out.push([
    'ping RTT idle, p50 / p99 µs',
    cell(f.pingIdle, lat),
    cell(t.pingIdle, lat),
    `${ratio(f.pingIdle?.p50, t.pingIdle?.p50)} / ${ratio(f.pingIdle?.p99, t.pingIdle?.p99)}`,
    '',
    '',
  ]);
  const loaded = (r, idle) =>
    `${lat(r)}<br>p99 ÷ idle p99 ${ratio(r.p99, idle?.p99)}<br>bulk ${n0(r.bulkMBps)} MB/s`;
  out.push([
    'ping RTT beside a saturating stream, p50 / p99 µs',
    cell(f.pingLoad, (r) => loaded(r, f.pingIdle)),
    cell(t.pingLoad, (r) => `${loaded(r, t.pingIdle)} ¹`),
    `${ratio(f.pingLoad?.p50, t.pingLoad?.p50)} / ${ratio(f.pingLoad?.p99, t.pingLoad?.p99)}`,
    'p99 ≤ 3× own idle p99, with bulk ≥ 1,000 MB/s',
    mark(
      ok(f.pingLoad) && ok(f.pingIdle)
        ? f.pingLoad.p99 <= 3 * f.pingIdle.p99 && f.pingLoad.bulkMBps >= 1000
        : undefined,
    ),
  ]);
  out.push([
    'open+echo+close, 32 in flight, streams/s',
    cell(f.open32, (r) => n0(r.rate)),
    cell(t.open32, (r) => `${n0(r.rate)} ¹`),
    ratio(f.open32?.rate, t.open32?.rate),
    '≥ 15,000/s',
    mark(ok(f.open32) ? f.open32.rate >= 15_000 : undefined),
  ]);
  const mem = (a, b) => (r) => `${n0(r[a])} / ${n0(r[b])}`;
  out.push([
    'idle stream, RSS bytes/stream, client / server',
    cell(f.idle, mem('clientRss', 'serverRss')),
    cell(t.idle, (r) => `${mem('clientRss', 'serverRss')(r)} ²`),
    `${ratio(f.idle?.clientRss, t.idle?.clientRss)} / ${ratio(f.idle?.serverRss, t.idle?.serverRss)}`,
    '≤ 2,048 each side',
    mark(ok(f.idle) ? f.idle.clientRss <= 2048 && f.idle.serverRss <= 2048 : undefined),
  ]);
  out.push([
    'idle stream, JS heap bytes/stream, client / server',
    cell(f.idle, mem('clientHeap', 'serverHeap')),
    cell(t.idle, (r) => `${mem('clientHeap', 'serverHeap')(r)} ²`),
    `${ratio(f.idle?.clientHeap, t.idle?.clientHeap)} / ${ratio(f.idle?.serverHeap, t.idle?.serverHeap)}`,
    '',
    '',
  ]);
  return out;
}

export function renderTable(results, machine, info) {
  const lines = [];
  lines.push(
    `bench/direct.mjs ${info.quick ? '(quick) ' : ''}· ${info.date} · ${info.secs.toFixed(0)} s · ` +
      `Node ${machine.node} · ${machine.platform} · ${machine.cpus} × "${machine.cpu}" · ` +
      `load average before ${machine.loadavgBefore.join(' ')}, after ${machine.loadavgAfter.join(' ')}`,
  );
  lines.push('');
  lines.push('| metric | flexmux | raw TCP | flexmux ÷ TCP | target | met |');
  lines.push('|---|---:|---:|---:|---|---|');
  for (const r of rows(results.flexmux, results.tcp)) lines.push(`| ${r.join(' | ')} |`);
  lines.push('');
  lines.push(
    '¹ raw TCP uses a connection per stream: 64 connections, a new connection per open, the bulk ' +
      'data on a second connection beside the pings. ² one TCP connection per idle stream (user-space ' +
      'memory only; kernel socket memory is not in RSS).',
  );
  const p = info.params;
  lines.push(
    `Parameters: bulk ${p.bulkSecs} s of ${p.chunk / 1024} KiB writes per stream; pings ${p.pingSize} B, ` +
      `${p.pingWarmup} warm-up, up to ${p.pings} or ${p.pingSecs} s; opens ${p.opens} × ${p.concurrency} ` +
      `in flight; ${p.idleStreams} idle streams.`,
  );
  return lines.join('\n');
}
