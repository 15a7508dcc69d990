import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The browser entry imports memory.ts and ws-browser.ts directly; nothing they reach may import a
 * node:* module or a node-only package (STYLE.md habit 10). Biome's rule covers the core folders;
 * this covers the transport files the browser uses.
 */
const NODE_ONLY = /^(node:|ws$|fs$|net$|tls$|http$|https$|crypto$|stream$|events$|buffer$|os$|path$)/;

function importsOf(url: URL): string[] {
  const src = readFileSync(url, 'utf8');
  return [...src.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
}

function reachable(entry: URL): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (url: URL): void => {
    if (seen.has(url.href)) return;
    const specs = importsOf(url);
    seen.set(url.href, specs);
    for (const s of specs) if (s.startsWith('.')) visit(new URL(s.replace(/\.js$/, '.ts'), url));
  };
  visit(entry);
  return seen;
}

describe('runtime-neutral transports', () => {
  for (const file of ['memory.ts', 'ws-browser.ts']) {
    it(`${file} reaches no node-only module`, () => {
      const graph = reachable(new URL(`../../../src/transport/${file}`, import.meta.url));
      expect(graph.size).toBeGreaterThan(1);
      const offending = [...graph].flatMap(([from, specs]) =>
        specs.filter((s) => NODE_ONLY.test(s)).map((s) => `${from} -> ${s}`),
      );
      expect(offending).toEqual([]);
    });
  }
});
