// The demo page: a browser flex node built on the bundle next to this file (no build step, no CDN).
import { connect } from './flexmux.browser.js';

const CHAT_PORT = 5;
/** Reset code the terminal's Reset button sends (application codes start at 0x100). */
const USER_RESET = 0x100;
// Peers decide what arrives, so the page keeps only so much of it: the newest entries of each
// log, the first characters of a line, the end of the terminal's output.
const MAX_ENTRIES = 300;
const MAX_LINE = 4_096;
const MAX_TERM = 64 * 1024;

const $ = (id) => document.getElementById(id);
const body = document.body;
const encoder = new TextEncoder();

/** @type {import('../../browser.js').Session<import('../../browser.js').WebStream> | null} */
let session = null;
/** domain -> { stream, writer } of the open chat streams */
const chats = new Map();
/** The terminal's stream and writer, if one is open. */
let term = null;

/** Lists whose newest entry is to be scrolled into view at the next frame. */
const toScroll = new Set();

/**
 * Appends `li` to the list, dropping the oldest entries beyond MAX_ENTRIES. The list is scrolled
 * once per frame, not per entry: scrolling lays the page out, and a peer's flood of short lines
 * (a chunk of them per read) cost a layout each, which kept the page busy for seconds.
 */
function appendEntry(list, li) {
  list.append(li);
  while (list.children.length > MAX_ENTRIES) list.firstElementChild.remove();
  if (toScroll.has(list)) return;
  toScroll.add(list);
  requestAnimationFrame(() => {
    toScroll.delete(list);
    list.lastElementChild?.scrollIntoView({ block: 'nearest' });
  });
}

function event(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  appendEntry($('events'), li);
  console.log(`[flexmux demo] ${text}`);
}

/**
 * A virtual IP as every other place shows it (the CLI's `clients`, the admin API, the logs) and
 * as a dial names it (`8750:22`): the number. Dotted, 8750 read as 0.0.34.46, which no dial takes.
 */
function formatIP(ip) {
  return String(ip);
}

function describe(err) {
  if (err?.code === 'FLEX_ERR_STREAM_RESET') return `reset, code 0x${err.resetCode.toString(16)}`;
  return err?.code ? `${err.code}: ${err.message}` : String(err?.message ?? err);
}

function setState(state, text) {
  body.dataset.state = state;
  $('status').textContent = text;
  const ready = state === 'ready';
  for (const id of ['ping', 'chat-send', 'term-open']) $(id).disabled = !ready;
}

function setJoined(joined) {
  $('connect').disabled = joined;
  $('disconnect').disabled = !joined;
  for (const id of ['url', 'password', 'domain']) $(id).disabled = joined;
}

/**
 * Calls `onLine` for every line of text the stream delivers; resolves at its end. A line longer
 * than MAX_LINE is cut there (marked with '…') and the rest of it is dropped as it arrives.
 */
async function readLines(stream, onLine) {
  const reader = stream.readable.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  let skipping = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const lines = (rest + value).split('\n');
    rest = lines.pop();
    for (const line of lines) {
      if (skipping) skipping = false;
      else onLine(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);
    }
    if (rest.length > MAX_LINE) {
      if (!skipping) onLine(`${rest.slice(0, MAX_LINE)}…`);
      skipping = true;
      rest = '';
    }
  }
  if (rest !== '' && !skipping) onLine(rest);
}

// ---------------------------------------------------------------- joining

function join(ev) {
  ev.preventDefault();
  // Admission uses crypto.subtle, which browsers only offer in secure contexts.
  if (!window.isSecureContext || !globalThis.crypto?.subtle) {
    setState('error', 'needs a secure context');
    event('Web Crypto is unavailable: open this page over https, or at localhost / 127.0.0.1');
    return;
  }
  const url = $('url').value.trim();
  const domain = $('domain').value.trim();
  let s;
  try {
    s = connect(url, { password: $('password').value, domain, backoffMax: 10_000 });
  } catch (err) {
    setState('error', 'invalid settings');
    event(`cannot connect: ${describe(err)}`);
    return;
  }
  session = s;
  setJoined(true);
  setState('connecting', 'connecting…');
  s.on('state', (state) => {
    if (state !== 'ready' && session === s) setState(state, state === 'backoff' ? 'retrying…' : state);
  });
  s.on('ready', (ip) => {
    if (session !== s) return;
    setState('ready', `${domain} @ ${formatIP(ip)}`);
    event(`admitted as ${domain} with virtual IP ${formatIP(ip)} (connection #${s.connections})`);
  });
  s.on('disconnect', (err) => event(`disconnected: ${describe(err)}`));
  s.listen(CHAT_PORT).on('stream', (stream) => {
    event(`${stream.remoteDomain} opened a chat`);
    addChat(stream.remoteDomain, stream);
  });
}

async function leave() {
  const s = session;
  session = null;
  for (const { stream } of chats.values()) stream.destroy();
  chats.clear();
  closeTerm();
  setJoined(false);
  setState('idle', 'not connected');
  await s?.close();
  event('left the switcher');
}

// ---------------------------------------------------------------- peers

async function pingPeers() {
  const names = $('peer-names')
    .value.split(/[\s,]+/)
    .filter((n) => n !== '');
  const list = $('peer-list');
  list.replaceChildren();
  await Promise.all(
    names.map(async (name) => {
      const li = document.createElement('li');
      li.dataset.peer = name;
      li.textContent = `${name}: …`;
      list.append(li);
      try {
        const ms = await session.ping(name, { timeout: 3_000 });
        li.className = 'online';
        li.textContent = `${name}: online, ${ms.toFixed(1)} ms`;
      } catch (err) {
        li.className = 'offline';
        li.textContent = `${name}: offline (${describe(err)})`;
      }
    }),
  );
}

async function loadPeers() {
  const res = await fetch('peers.json', { cache: 'no-store' });
  const { peers } = await res.json();
  const me = $('domain').value.trim();
  $('peer-names').value = peers.filter((p) => p !== me).join('\n');
}

// ---------------------------------------------------------------- chat

function chatLine(who, text) {
  const li = document.createElement('li');
  li.textContent = `${who}: ${text}`;
  appendEntry($('chat-log'), li);
}

function addChat(peer, stream) {
  chats.get(peer)?.stream.destroy();
  const entry = { stream, writer: stream.writable.getWriter() };
  chats.set(peer, entry);
  readLines(stream, (line) => chatLine(peer, line))
    .then(() => event(`${peer} ended the chat`))
    .catch((err) => event(`chat with ${peer}: ${describe(err)}`))
    .finally(() => {
      if (chats.get(peer) === entry) chats.delete(peer);
      stream.destroy();
    });
}

async function sendChat(ev) {
  ev.preventDefault();
  const to = $('chat-to').value.trim();
  const text = $('chat-text').value;
  try {
    if (!chats.has(to)) addChat(to, await session.dial(`${to}:${CHAT_PORT}`));
    await chats.get(to).writer.write(encoder.encode(`${text}\n`));
    chatLine(`me → ${to}`, text);
    $('chat-text').value = '';
  } catch (err) {
    event(`chat to ${to} failed: ${describe(err)}`);
  }
}

// ---------------------------------------------------------------- terminal

function termPrint(text) {
  const out = $('term-out');
  const all = out.textContent + text;
  out.textContent = all.length > MAX_TERM ? all.slice(-MAX_TERM) : all;
  out.scrollTop = out.scrollHeight;
}

function setTerm(open) {
  $('term-in').disabled = !open;
  $('term-end').disabled = !open;
  $('term-reset').disabled = !open;
}

function closeTerm() {
  term?.stream.destroy();
  term = null;
  setTerm(false);
}

async function openTerm(ev) {
  ev.preventDefault();
  closeTerm();
  const target = $('term-target').value.trim();
  let stream;
  try {
    stream = await session.dial(target);
  } catch (err) {
    termPrint(`[cannot open ${target}: ${describe(err)}]\n`);
    return;
  }
  const t = { stream, writer: stream.writable.getWriter() };
  term = t;
  setTerm(true);
  termPrint(`[connected to ${target}]\n`);
  $('term-in').focus();
  const reader = stream.readable.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      termPrint(value);
    }
    termPrint(`[${target} closed its side]\n`);
  } catch (err) {
    // A terminal closed here (another one opened) fails its reads: nothing to report.
    if (term === t) termPrint(`[${describe(err)}]\n`);
  }
  if (term === t) {
    term = null;
    setTerm(false);
  }
}

async function termSend(ev) {
  ev.preventDefault();
  const input = $('term-in');
  if (term === null) return;
  const line = input.value;
  input.value = '';
  try {
    await term.writer.write(encoder.encode(`${line}\n`));
  } catch (err) {
    termPrint(`[write failed: ${describe(err)}]\n`);
  }
}

async function termEnd() {
  if (term === null) return;
  $('term-in').disabled = true;
  $('term-end').disabled = true;
  termPrint('[you closed your side; waiting for the rest of the reply]\n');
  await term.writer.close().catch(() => {});
}

function termReset() {
  if (term === null) return;
  const err = new Error('reset by the user');
  err.resetCode = USER_RESET;
  term.stream.destroy(err);
  termPrint(`[you reset the stream with code 0x${USER_RESET.toString(16)}]\n`);
}

// ---------------------------------------------------------------- start

const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
$('url').value = `${scheme}//${location.host}${body.dataset.wsPath}`;
$('term-target').value = body.dataset.echo;
if (body.dataset.listPeers === 'true') {
  $('refresh-peers').hidden = false;
  $('refresh-peers').addEventListener('click', () => {
    loadPeers().catch((err) => event(`cannot load peers: ${describe(err)}`));
  });
}
$('join').addEventListener('submit', join);
$('disconnect').addEventListener('click', () => void leave());
$('ping').addEventListener('click', () => void pingPeers());
$('chat').addEventListener('submit', (ev) => void sendChat(ev));
$('term-open-form').addEventListener('submit', (ev) => void openTerm(ev));
$('term-line').addEventListener('submit', (ev) => void termSend(ev));
$('term-end').addEventListener('click', () => void termEnd());
$('term-reset').addEventListener('click', termReset);
body.dataset.loaded = 'true';
