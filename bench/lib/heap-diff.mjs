// Heap snapshot arithmetic shared by bench/idle-heap.mjs and bench/scale.mjs --heap-diff: the
// self size and count of every node of a .heapsnapshot by constructor, and the difference of two
// such tallies per unit (per stream, per client), largest first.
import fs from 'node:fs';

/**
 * Self size and count of every node of a snapshot, by constructor (objects, closures) or by V8's
 * node type; with `named`, arrays and hidden nodes keep their name too ("(object elements)",
 * "system / OrderedHashMap"...), which tells a Map's table from an array's elements.
 */
export function byType(file, { named = false } = {}) {
  const s = JSON.parse(fs.readFileSync(file, 'utf8'));
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [ti, ni, si] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map();
  for (let i = 0; i < s.nodes.length; i += fields.length) {
    const t = types[s.nodes[i + ti]];
    const name = s.strings[s.nodes[i + ni]];
    let key = t;
    if (t === 'object' || t === 'closure') key = `${t} ${name || '(anonymous)'}`;
    else if (named && (t === 'array' || t === 'hidden' || t === 'object shape')) key = `${t} ${name}`;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + si];
    out.set(key, e);
  }
  return out;
}

/** What `b` holds beyond `a`, per `n` units, by type, largest first. */
export function diff(a, b, n) {
  const rows = [];
  for (const [type, e] of b) {
    const o = a.get(type) ?? { count: 0, bytes: 0 };
    if (e.bytes !== o.bytes)
      rows.push({ type, count: (e.count - o.count) / n, bytes: (e.bytes - o.bytes) / n });
  }
  for (const [type, o] of a) {
    if (!b.has(type)) rows.push({ type, count: -o.count / n, bytes: -o.bytes / n });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}
