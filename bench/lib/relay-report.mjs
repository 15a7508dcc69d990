// Markdown tables of bench/relay.mjs (flexmux through a switcher against a plain TCP relay) and
// bench/scale.mjs (1,000 nodes and 10,000 streams on one switcher).

const n0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '?');
const n1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '?');
const ratio = (a, b) =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `×${(a / b).toFixed(2)}` : '—';
const mark = (ok) => (ok === undefined ? '—' : ok ? 'yes' : '**no**');
const ok = (r) => r !== undefined && !r.error;

function cell(r, show) {
  if (r === undefined) return '—';
  if (r.error) return `**FAIL** (${r.error})`;
  return show(r);
}

function header(title, machine, info) {
  return (
    `${title} ${info.quick ? '(quick) ' : ''}· ${info.date} · ${info.secs.toFixed(0)} s · ` +
    `Node ${machine.node} · ${machine.platform} · ${machine.cpus} × "${machine.cpu}" · ` +
    `load average before ${machine.loadavgBefore.join(' ')}, after ${machine.loadavgAfter.join(' ')}`
  );
}

function relayRows(f, t, info) {
  const lat = (r) => `${n0(r.p50)} / ${n0(r.p99)}`;
  const cpuStream = (r) =>
    `${n0(r.clientCpuPerStream)} / ${n0(r.relayCpuPerStream)} / ${n0(r.serverCpuPerStream)}`;
  const cpu = (r) => `${n0(r.clientCpuPerMB)} / ${n0(r.relayCpuPerMB)} / ${n0(r.serverCpuPerMB)}`;
  const sum = (r) => r && r.clientCpuPerMB + r.relayCpuPerMB + r.serverCpuPerMB;
  const runs = (r) => (r.runs?.length > 1 ? `<br>runs ${r.runs.map((x) => n0(x)).join(', ')}` : '');
  const loaded = (r, idle) =>
    `${lat(r)}<br>p99 ÷ idle p99 ${ratio(r.p99, idle?.p99)}<br>bulk ${n0(r.bulkMBps)} MB/s`;
  return [
    [
      'one stream, MB/s (median)',
      cell(f.bulk, (r) => `${n0(r.mbps)}${runs(r)}`),
      cell(t.bulk, (r) => `${n0(r.mbps)}${runs(r)}`),
      ratio(f.bulk?.mbps, t.bulk?.mbps),
      '≥ ×0.60 of the plain TCP relay',
      mark(ok(f.bulk) && ok(t.bulk) ? f.bulk.mbps >= 0.6 * t.bulk.mbps : undefined),
    ],
    [
      'one stream, CPU µs per MB, client / relay / server',
      cell(f.bulk, cpu),
      cell(t.bulk, cpu),
      `${ratio(f.bulk?.relayCpuPerMB, t.bulk?.relayCpuPerMB)} relay, ${ratio(sum(f.bulk), sum(t.bulk))} sum`,
      'lower is better; less swayed by other load than MB/s',
      '',
    ],
    [
      'one stream, frames through the switcher per MB: data / ACK',
      cell(
        f.bulk,
        (r) =>
          `${n1(r.dataFramesPerMB)} / ${n1(r.ackFramesPerMB)}<br>${r.dataFramesPerWrite.toFixed(2)} data frames per ${info.params.chunk / 1024} KiB write`,
      ),
      '—',
      '',
      `ideal ${n1(1e6 / 65535)} / ${n1(1e6 / 65535)}: 65,535-byte frames and ACKs`,
      '',
    ],
    [
      'open+echo+close, 32 in flight, streams/s',
      cell(f.open32, (r) => n0(r.rate)),
      cell(t.open32, (r) => `${n0(r.rate)} ¹`),
      ratio(f.open32?.rate, t.open32?.rate),
      '',
      '',
    ],
    [
      'open+echo+close, CPU µs per stream, client / relay / server',
      cell(f.open32, cpuStream),
      cell(t.open32, cpuStream),
      `${ratio(f.open32?.relayCpuPerStream, t.open32?.relayCpuPerStream)} relay`,
      '',
      '',
    ],
    [
      '64 B echo RTT idle, p50 / p99 µs',
      cell(f.pingIdle, lat),
      cell(t.pingIdle, lat),
      `${ratio(f.pingIdle?.p50, t.pingIdle?.p50)} / ${ratio(f.pingIdle?.p99, t.pingIdle?.p99)}`,
      '',
      '',
    ],
    [
      '64 B echo RTT beside a saturating stream, p50 / p99 µs',
      cell(f.pingLoad, (r) => loaded(r, f.pingIdle)),
      cell(t.pingLoad, (r) => `${loaded(r, t.pingIdle)} ²`),
      `${ratio(f.pingLoad?.p50, t.pingLoad?.p50)} / ${ratio(f.pingLoad?.p99, t.pingLoad?.p99)}`,
      '',
      '',
    ],
    ['flexmux ping frame to `server`, idle, p50 / p99 µs', cell(f.ctlPingIdle, lat), '—', '', '', ''],
    [
      'flexmux ping frame beside a saturating stream, p50 / p99 µs',
      cell(f.ctlPingLoad, (r) => loaded(r, f.ctlPingIdle)),
      '—',
      '',
      'control frames go first at every hop',
      '',
    ],
  ];
}

export function renderRelayTable(results, machine, info) {
  const lines = [header('bench/relay.mjs', machine, info), ''];
  lines.push('| metric | flexmux via switcher | plain TCP relay | flexmux ÷ TCP | target | met |');
  lines.push('|---|---:|---:|---:|---|---|');
  for (const r of relayRows(results.flexmux, results.tcp, info)) lines.push(`| ${r.join(' | ')} |`);
  lines.push('');
  lines.push(
    '¹ the TCP relay makes two TCP connections per stream (client->relay, relay->server). ' +
      '² the TCP relay carries the bulk data on a second connection beside the pings; flexmux ' +
      'shares one connection per node.',
  );
  const p = info.params;
  lines.push(
    `Parameters: bulk ${p.bulkBytes / 2 ** 20} MiB per run, ${p.bulkRuns} run(s) each, ` +
      `${p.chunk / 1024} KiB writes; opens ${p.opens} × ${p.concurrency} in flight; pings ${p.pingSize} B, ` +
      `${p.pingWarmup} warm-up, up to ${p.pings} or ${p.pingSecs} s; stream window ` +
      `${p.window === undefined ? 'default (2 MiB)' : `${p.window} B`}` +
      `${p.switcherFlags?.length ? `; switcher process flags ${p.switcherFlags.join(' ')}` : ''}` +
      `${Object.keys(p.switcherOptions ?? {}).length ? `; switcher options ${JSON.stringify(p.switcherOptions)}` : ''}` +
      `; nodes reach the switcher over ${p.transport === 'ws' ? `ws://${p.wsZeroMask ? ' (zero masking key)' : ''}` : 'tcp://'}.`,
  );
  const h = info.health;
  const s = h.switcher.stats;
  lines.push(
    `Health: switcher forwarded ${n0(s.forwarded)} frames, dropped ${s.dropped}, spoofed ${s.spoofed}, ` +
      `refused ${JSON.stringify(h.switcher.events.refused)}, left ${JSON.stringify(h.switcher.events.left)}, ` +
      `errors ${JSON.stringify(h.switcher.events.errors)}; TCP relay errors ${h.tcpRelay.errors}; ` +
      `server stream errors ${h.serverFailures.length}; client session disconnects ${h.clientSessionErrors.length}.`,
  );
  return lines.join('\n');
}

// ------------------------------------------------------------------ scale

const KiB = (b) => `${n1(b / 1024)} KiB`;
const MiB = (b) => `${n1(b / 2 ** 20)} MiB`;

export function renderScaleTable(r, machine, info) {
  const lines = [header('bench/scale.mjs', machine, info), ''];
  const p = info.params;
  const sw = r.switcher;
  lines.push('| metric | value | note |');
  lines.push('|---|---:|---|');
  const row = (a, b, c = '') => lines.push(`| ${a} | ${b} | ${c} |`);
  const cpu = (c) => `CPU ${n0(c.switcher)} ms switcher, ${n0(c.clients)} ms client processes`;
  row(
    'nodes connected / wanted',
    `${n0(r.connected)} / ${n0(p.nodes)}`,
    `${p.processes} processes × ${p.nodes / p.processes} sessions over TCP, all at once`,
  );
  row(
    'time to connect all nodes',
    `${n0(r.connectMs)} ms`,
    `${n0(r.connectRate)} admissions/s; ${cpu(r.cpuMs.connect)}; SYNs dropped at a full accept queue ${r.listenDrops ?? '?'}`,
  );
  row(
    'streams open at once / wanted',
    `${n0(r.streamsOpen)} / ${n0(p.nodes * p.streamsPerNode)}`,
    `the switcher counts ${n0(r.switcherStreamEnds / 2)}`,
  );
  row(
    'time to open all streams',
    `${n0(r.openMs)} ms`,
    `${n0(r.openRate)} opens/s, every dial at once; ${cpu(r.cpuMs.open)}`,
  );
  row(
    `${p.pingSize} B echo RTT, every stream at once, p50 / p99`,
    `${n0(r.echo.p50)} / ${n0(r.echo.p99)} ms`,
    `${p.rounds} rounds × ${n0(r.streamsOpen)} streams, ${n0(r.echoRate)} echoes/s; ${cpu(r.cpuMs.ping)}`,
  );
  row(
    'time to close all streams',
    `${n0(r.closeMs)} ms`,
    `dialing ends closed after ${n0(r.closeDialedMs)} ms; ${cpu(r.cpuMs.close)}`,
  );
  row(
    'switcher RSS: before / nodes / +streams / streams closed / nodes gone',
    sw.map((s) => MiB(s.rss)).join(' / '),
    'after gc() at each step',
  );
  row('switcher JS heap: same steps', sw.map((s) => MiB(s.heapUsed)).join(' / '), '');
  if (r.closedByCycle.length > 1) {
    row(
      'switcher JS heap after each open/close cycle',
      r.closedByCycle.map((s) => MiB(s.heapUsed)).join(' / '),
      p.newPairs ? 'different pairs of nodes every cycle' : 'same pairs of nodes every cycle',
    );
  }
  row(
    'switcher memory per node, RSS / heap',
    `${KiB(r.perNode.switcherRss)} / ${KiB(r.perNode.switcherHeap)}`,
    '(nodes − before) ÷ nodes',
  );
  row(
    'switcher memory per open stream, RSS / heap',
    `${n0(r.perStream.switcherRss)} / ${n0(r.perStream.switcherHeap)} B`,
    '(+streams − nodes) ÷ streams',
  );
  row(
    'switcher heap kept per stream after it closed',
    `${n0(r.perStream.switcherHeapKept)} B`,
    '(streams closed − nodes) ÷ streams',
  );
  row(
    'client processes per node, RSS / heap',
    `${KiB(r.perNode.clientRss)} / ${KiB(r.perNode.clientHeap)}`,
    'sum over the client processes',
  );
  row(
    'client processes per stream (both ends), RSS / heap',
    `${n0(r.perStream.clientRss)} / ${n0(r.perStream.clientHeap)} B`,
    'a stream has a dialing and an accepting end',
  );
  row(
    'open fds: switcher / client processes (sum)',
    `${n0(r.fds.switcher)} / ${n0(r.fds.clients)}`,
    `soft limit (ulimit -n) ${machine.openFileLimit} per process`,
  );
  row(
    'errors',
    r.errorCount === 0 ? 'none' : `**${n0(r.errorCount)}**`,
    r.errorCount === 0 ? '' : r.errorSamples.slice(0, 5).join('; '),
  );
  row(
    'switcher events',
    `refused ${JSON.stringify(r.events.refused)}, left ${JSON.stringify(r.events.left)}`,
    `errors ${JSON.stringify(r.events.errors)}; dropped ${r.stats.dropped}, spoofed ${r.stats.spoofed}`,
  );
  lines.push('');
  lines.push(`Options: ${info.settings}`);
  return lines.join('\n');
}
