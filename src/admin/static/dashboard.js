// The flexmux admin dashboard: live totals, a throughput chart, a table of clients (switcher) or
// streams (node), kick buttons, and an event log, fed by /api/v1/events. Plain ES modules, no
// build step; uPlot is the global from vendor/uPlot.iife.min.js.

/* global uPlot */

import { rateIncrs, rateTick, recordTicks, timeIncrs, timeSpace, timeTicks } from './axes.js';
import * as fmt from './format.js';
import { frameScheduler } from './frame.js';
import { modes } from './modes.js';
import { LiveTable } from './table.js';

const TOKEN_KEY = 'flexmux-admin-token';
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ token and API

/**
 * The token comes from `#token=...` (then leaves the address bar) or from a prompt. It runs to
 * the end of the fragment, as a token may hold any printable ASCII, '&' and '#' included; it is
 * percent-decoded when it is valid percent-encoding, and taken as it stands when it is not.
 */
function initialToken() {
  const m = /(?:^#|&)token=(.*)$/.exec(location.hash);
  if (m) {
    let t = m[1];
    try {
      t = decodeURIComponent(t);
    } catch {
      // A '%' that starts no escape: the token as typed.
    }
    sessionStorage.setItem(TOKEN_KEY, t);
    history.replaceState(null, '', location.pathname + location.search);
    return t;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

let token = initialToken();

function askToken() {
  // Where the CLI's admin server took it from: there is no --admin-token flag (a token on the
  // command line would show in the process list).
  const t = window.prompt('Admin token (from --admin-token-file FILE or FLEXMUX_ADMIN_TOKEN)');
  if (!t) return false;
  token = t.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  return true;
}

function authHeaders() {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** fetch with the token; on 401 asks for a token once and retries. */
async function api(path, init = {}) {
  const call = () => fetch(path, { ...init, headers: { ...init.headers, ...authHeaders() } });
  const res = await call();
  if (res.status === 401 && askToken()) return call();
  return res;
}

async function errorText(res) {
  try {
    const body = await res.json();
    return body.error?.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

// ------------------------------------------------------------------ status, log, cards

function setStatus(state, text) {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

function logEvent(text, kind = '') {
  const li = document.createElement('li');
  li.textContent = `${fmt.clock(Date.now())}  ${text}`;
  if (kind) li.className = kind;
  const list = $('events');
  list.prepend(li);
  // An empty panel says so: a node's log can stay empty for long, which read as broken.
  $('events-empty').hidden = true;
  while (list.children.length > 100) list.lastElementChild.remove();
}

function renderCards(cards) {
  const root = $('cards');
  if (root.children.length !== cards.length) {
    root.replaceChildren(
      ...cards.map(() => {
        const div = document.createElement('div');
        div.className = 'card';
        const label = document.createElement('div');
        label.className = 'label';
        const value = document.createElement('div');
        value.className = 'value';
        div.append(label, value);
        return div;
      }),
    );
  }
  cards.forEach(([label, value], i) => {
    const card = root.children[i];
    card.children[0].textContent = label;
    card.children[1].textContent = value;
  });
}

// ------------------------------------------------------------------ throughput chart

let chart = null;
let chartData = [[], [], []];
let chartLimit = 300;
/** chartData has points the chart has not drawn yet. */
let chartStale = false;

function createChart() {
  const el = $('chart');
  const css = getComputedStyle(document.documentElement);
  const inColor = css.getPropertyValue('--in').trim();
  const outColor = css.getPropertyValue('--out').trim();
  const axis = {
    stroke: css.getPropertyValue('--muted').trim(),
    grid: { stroke: css.getPropertyValue('--line').trim() },
  };
  chart = new uPlot(
    {
      width: Math.max(300, el.clientWidth),
      height: 240,
      ms: 1,
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        {
          ...axis,
          // Whole seconds or rounder, labelled ":27" or "12:34:00" (axes.js).
          incrs: timeIncrs,
          space: timeSpace,
          values: recordTicks(el, 'xTicks', (_u, splits, _i, _space, incr) => timeTicks(splits, incr)),
        },
        {
          ...axis,
          size: 90,
          // Whole bytes/s and round steps of the unit shown: labels that never repeat (axes.js).
          incrs: rateIncrs,
          values: recordTicks(el, 'yTicks', (_u, vals) => vals.map(rateTick)),
        },
      ],
      series: [
        { value: (_u, v) => (v == null ? '—' : fmt.clock(v)) },
        { label: 'Received', stroke: inColor, width: 2, fill: `${inColor}22`, value: (_u, v) => fmt.rate(v) },
        { label: 'Sent', stroke: outColor, width: 2, dash: [6, 4], value: (_u, v) => fmt.rate(v) },
      ],
    },
    chartData,
    el,
  );
  window.addEventListener('resize', () =>
    chart.setSize({ width: Math.max(300, el.clientWidth), height: 240 }),
  );
}

function pushChart(t, rateIn, rateOut) {
  const [ts, a, b] = chartData;
  if (ts.length > 0 && ts[ts.length - 1] >= t) return;
  ts.push(t);
  a.push(rateIn);
  b.push(rateOut);
  if (ts.length > chartLimit) for (const arr of chartData) arr.shift();
  chartStale = true;
}

// ------------------------------------------------------------------ app

let mode = null;
let table = null;
/** Snapshots received, and the last one (its totals and counts are drawn in the next frame). */
let snapshots = 0;
let latest = null;
/** Items changed since the last draw (not only the view scrolled): cards and details follow. */
let itemsStale = false;
const itemHistory = new Map();
/**
 * The listed items by key, as the hello gave them and each delta changed them: the stream is
 * asked for deltas (`?delta=1`), the fields that changed since the previous sample, not a
 * snapshot of every item every second.
 */
let listed = new Map();

function renderDetail() {
  const key = table.selected;
  const panel = $('detail');
  if (key === null) {
    panel.hidden = true;
    return;
  }
  const item = table.items.get(key);
  panel.hidden = false;
  if (item) selectedName = mode.nameOf(item);
  const name = selectedName ?? key;
  $('detail-title').textContent = item ? `${mode.title.slice(0, -1)} ${name}` : `${name} (gone)`;
  const dl = document.createElement('dl');
  dl.className = 'kv';
  for (const [k, v] of item ? mode.detail(item) : []) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  $('detail-body').replaceChildren(dl, ...(item ? streamsLine(key, item) : []));
  if (item) followStreamsOf(key, item);
}

/**
 * The switcher's streams of one client (the selected row's), by its key, and the client's
 * `streams` and `streamsOpened` when they were asked for: the list is asked for again once
 * either has moved (a stream opened or closed), so that it follows the counts above it. It used
 * to be fetched once, on selection: streams that had closed stayed listed under "0 stream(s)
 * open", their ages growing, and new ones never came.
 */
let streamsOf = null;
/** The counts of the request for the selected client's streams under way, or null. */
let streamsAsked = null;
/** The selected item's name (a client's domain), kept for its title once it is gone. */
let selectedName = null;

async function showStreamsOf(key, item) {
  const asked = { key, streams: item.streams, opened: item.streamsOpened };
  streamsAsked = asked;
  try {
    // The first 200 only, the most the list shows: a client may hold 65,536 streams.
    const res = await api(`api/v1/streams?domain=${encodeURIComponent(item.domain)}&limit=200`);
    if (!res.ok || table.selected !== key) return;
    const body = await res.json();
    if (table.selected !== key) return;
    const entry = (body.clients ?? []).find((c) => c.domain === item.domain);
    streamsOf = { ...asked, list: entry?.list ?? [] };
    renderDetail();
  } finally {
    if (streamsAsked === asked) streamsAsked = null;
  }
}

/** Asks for the selected client's streams again if its counts moved since they were fetched. */
function followStreamsOf(key, item) {
  if (mode !== modes.switcher || streamsOf?.key !== key || streamsAsked !== null) return;
  if (streamsOf.streams === item.streams && streamsOf.opened === item.streamsOpened) return;
  showStreamsOf(key, item).catch((e) => logEvent(`streams of ${item.domain}: ${e.message}`, 'bad'));
}

/** The streams of the item `key`, if they are the ones fetched (showStreamsOf). */
function streamsLine(key, item) {
  if (mode !== modes.switcher || streamsOf?.key !== key) return [];
  const p = document.createElement('p');
  p.className = 'streams muted';
  p.textContent = `${item.streams} stream(s) open, ${item.streamsOpened} opened in total.`;
  const ul = document.createElement('ul');
  ul.className = 'stream-list';
  for (const s of streamsOf.list.slice(0, 200)) {
    const li = document.createElement('li');
    const age = Math.max(0, Math.round((Date.now() - s.since) / 1000));
    li.textContent = `${s.dialer.domain}:${s.dialer.port} → ${s.acceptor.domain}:${s.acceptor.port} (${age} s)`;
    ul.append(li);
  }
  return [p, ul];
}

function select(key) {
  table.select(table.selected === key ? null : key);
  streamsOf = null;
  selectedName = null;
  renderDetail();
  const item = table.items.get(table.selected);
  if (item && mode === modes.switcher) {
    showStreamsOf(table.selected, item).catch((e) =>
      logEvent(`streams of ${item.domain}: ${e.message}`, 'bad'),
    );
  }
}

/**
 * Kicks the client of the row `key` by its domain, if the domain is still held by the connection
 * the row shows (`id`): by the time the DELETE arrives the node may have reconnected, and its new
 * connection, in a row of its own, is not the one the operator chose (the API answers 409).
 */
async function kick(key, item) {
  if (item === undefined) return; // left since its row was drawn
  const domain = item.domain;
  if (!window.confirm(`Kick ${domain}? Its connection is closed; the node may reconnect.`)) return;
  // The client's button is disabled until the answer, whichever row shows it by then (rows are
  // reused as the table scrolls); a request that throws re-enables it too.
  table.setBusy(key, true);
  try {
    const res = await api(`api/v1/clients/${encodeURIComponent(domain)}`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'kicked from the dashboard', id: item.id }),
    });
    if (res.ok) {
      table.markLeaving(key);
      logEvent(`kicked ${domain}`, 'warn');
    } else {
      logEvent(`kick ${domain} failed: ${await errorText(res)}`, 'bad');
    }
  } finally {
    table.setBusy(key, false);
  }
}

/**
 * The count beside the table's heading: the items listed ("202"; "1,000 of 1,200 shown" when the
 * server left some out of its snapshots) and, while a filter is typed, how many of them it keeps
 * ("10 of 202 match"). It used to say "202" over the 10 rows a filter kept.
 */
function renderCount() {
  const n = table.items.size;
  const all = n + latest.omitted;
  let text = latest.omitted > 0 ? `${fmt.count(n)} of ${fmt.count(all)} shown` : fmt.count(n);
  if (table.filter !== '') {
    const kept = fmt.count(table.matching());
    text =
      latest.omitted > 0
        ? `${kept} of ${fmt.count(n)} shown match (${fmt.count(all)} in all)`
        : `${kept} of ${text} match`;
  }
  const el = $('count');
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Draws what changed since the last frame: the cards, the chart, the rows in view and the
 * details. Events only update the data and ask for a frame (frame.js), so a burst of events
 * costs one draw, and a hidden tab draws nothing until it is shown.
 */
function draw() {
  // A scroll redraws the rows only: the details rebuild up to 200 stream lines, once a frame.
  if (itemsStale && latest !== null) renderCards(mode.cards(latest.totals));
  if (chartStale) {
    chart.setData(chartData);
    chartStale = false;
    document.body.dataset.chartPoints = String(chartData[0].length);
  }
  table.render();
  // After the table's render, which counts the rows the filter keeps; a filter typed redraws
  // the table only, so this follows it as it follows the items.
  if (latest !== null) renderCount();
  if (itemsStale) renderDetail();
  itemsStale = false;
  // Snapshots drawn (tests wait for it); data-received counts those taken in, drawn or not.
  document.body.dataset.snapshots = String(snapshots);
}

const requestDraw = frameScheduler(draw);

function onSnapshot(snap) {
  latest = snap;
  pushChart(snap.t, snap.totals.rateIn, snap.totals.rateOut);
  table.update(mode.items(snap), snap.t);
  itemsStale = true;
  snapshots++;
  document.body.dataset.received = String(snapshots);
  requestDraw();
}

function onHello(hello) {
  const h = hello.history;
  chartData = [h.t, h.in, h.out];
  chartLimit = Math.max(chartLimit, h.t.length);
  chartStale = true;
  itemHistory.clear();
  listed = new Map(mode.items(hello.snapshot).map((it) => [String(mode.keyOf(it)), it]));
  // Each item's sample times are the last of itemTimes, sent once (copied: rows grow their own).
  const times = hello.itemTimes ?? [];
  for (const [key, s] of Object.entries(hello.itemHistory)) {
    itemHistory.set(key, [s.t ?? times.slice(times.length - s.in.length), s.in, s.out]);
  }
  onSnapshot(hello.snapshot);
}

function onDelta(d) {
  for (const key of d.gone) listed.delete(key);
  for (const [key, fields] of Object.entries(d.set)) listed.set(key, { ...listed.get(key), ...fields });
  onSnapshot({ t: d.t, totals: d.totals, omitted: d.omitted, [mode.list]: [...listed.values()] });
}

const handlers = {
  hello: onHello,
  snapshot: onSnapshot,
  delta: onDelta,
  client: (c) => logEvent(`${c.domain} connected from ${c.remoteAddress} (IP ${c.ip})`),
  clientLeft: (c) => {
    itemsStale = true;
    // By connection: a node's old connection can leave after its new one is listed.
    table.remove(c.id);
    logEvent(
      `${c.domain} left: ${c.reason}${c.error ? ` (${c.error})` : ''}`,
      c.reason === 'closed' || c.reason === 'reset' ? '' : 'warn',
    );
  },
  // The reason is a code (`decrypt`, `taken`); the message says what it means.
  refused: (r) =>
    logEvent(
      `refused ${r.remoteAddress}${r.domain ? ` as ${r.domain}` : ''}: ${r.reason}${r.message ? ` (${r.message})` : ''}`,
      'bad',
    ),
  state: (s) => logEvent(`session ${s.state}`, s.state === 'ready' ? '' : 'warn'),
  // A node's listeners, as sampled: the ports it took or let go since the sample before.
  listener: (l) => logEvent(l.open ? `listening on :${l.port}` : `stopped listening on :${l.port}`),
};

/** Reads the SSE stream with fetch, so the token goes in a header, not in the URL. */
async function follow() {
  const res = await api('api/v1/events?delta=1', { headers: { accept: 'text/event-stream' } });
  if (!res.ok) throw new Error(await errorText(res));
  setStatus('live', 'live');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end = buf.indexOf('\n\n');
    while (end >= 0) {
      dispatch(buf.slice(0, end));
      buf = buf.slice(end + 2);
      end = buf.indexOf('\n\n');
    }
  }
}

function dispatch(block) {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (data === '' || !(event in handlers)) return;
  handlers[event](JSON.parse(data));
}

async function run() {
  let delay = 1000;
  for (;;) {
    try {
      await follow();
      setStatus('connecting', 'reconnecting…');
      delay = 1000;
    } catch (e) {
      setStatus('error', `offline: ${e.message}`);
      delay = Math.min(delay * 2, 15_000);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function start() {
  const res = await api('api/v1/info');
  if (!res.ok) {
    setStatus('error', await errorText(res));
    return;
  }
  const info = await res.json();
  mode = modes[info.mode];
  $('mode').textContent = info.mode;
  $('identity').textContent = info.mode === 'node' ? `${info.domain} (IP ${info.ip})` : `v${info.version}`;
  $('table-title').textContent = mode.title;
  document.title = `flexmux ${info.mode}`;
  createChart();
  table = new LiveTable({
    head: $('head'),
    body: $('rows'),
    empty: $('empty'),
    scroller: $('scroller'),
    padTop: $('pad-top'),
    padBottom: $('pad-bottom'),
    changed: requestDraw,
    columns: mode.columns,
    keyOf: mode.keyOf,
    nameOf: mode.nameOf,
    text: mode.text,
    sortKey: mode.sortKey,
    history: itemHistory,
    historyLimit: 60,
    onSelect: select,
    onAction: (key, item) =>
      kick(key, item).catch((e) => logEvent(`kick ${item?.domain ?? key} failed: ${e.message}`, 'bad')),
  });
  $('filter').addEventListener('input', (e) => table.setFilter(e.target.value));
  $('detail-close').addEventListener('click', () => select(table.selected));
  await run();
}

start().catch((e) => setStatus('error', e.message));
