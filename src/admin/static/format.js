// Number and time formatting for the dashboard (no dependencies).

export const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `n` bytes in the largest unit it has one of at least (up to TiB): [value, index in UNITS]. */
export function inUnit(n) {
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return [v, i];
}

export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const [v, i] = inUnit(n);
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`;
}

export function rate(n) {
  return typeof n === 'number' ? `${bytes(n)}/s` : '—';
}

export function ms(n) {
  if (typeof n !== 'number') return '—';
  return `${n.toFixed(n < 10 ? 2 : 0)} ms`;
}

export function count(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

/** "3m 12s" since an RFC 3339 time. */
export function since(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  let s = Math.max(0, Math.floor((now - t) / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

export function address(a) {
  return a.domain ? `${a.domain}:${a.port}` : `${a.ip}:${a.port}`;
}

/**
 * A node's stream as a person knows it: this node's port and the peer's address, the arrow
 * pointing away from the end that dialled (":54321 → bob:80", ":8080 ← carol:54321"). The
 * node's own domain is left out, as it is the same for every stream. Its id and serial are keys
 * that mean nothing to a reader ("Stream 191740225586152").
 */
export function streamName(s) {
  return `:${s.local.port} ${s.dialed ? '→' : '←'} ${address(s.remote)}`;
}

export function clock(ms) {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}
