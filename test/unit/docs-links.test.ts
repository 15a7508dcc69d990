import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCS, ROOT } from '../helpers/docs.js';

/**
 * Links between the README and docs/ resolve: every relative link's file exists, every `#anchor`
 * is a heading of its page (GitHub's slugs), and every repository path the text names
 * (`docs/x.md`, `src/...`, `test/...`, `examples/...`, `bench/...`, `scripts/...`) exists.
 */

/** The page without its fenced code blocks. */
function prose(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8').replace(/^([ \t]*)```[\s\S]*?^\1```/gm, '');
}

/** GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to `-`. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(file).matchAll(/^#{1,6} (.*)$/gm)) {
    const slug = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

describe('links in README.md and docs/', () => {
  it('resolve to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of DOCS) {
      const text = prose(file);
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) continue;
        const [path, anchor] = link.split('#');
        const target = path ? join(dirname(file), path) : file;
        if (!existsSync(join(ROOT, target))) broken.push(`${file}: ${link} (no such file)`);
        else if (anchor !== undefined && target.endsWith('.md') && !anchors(target).has(anchor)) {
          broken.push(`${file}: ${link} (no such heading)`);
        }
      }
      for (const m of text.matchAll(/(?<![\w/.:-])((?:docs|src|test|examples|bench|scripts)\/[\w./-]*\w)/g)) {
        // docs/api is what `npm run docs` generates.
        if (!m[1]!.startsWith('docs/api') && !existsSync(join(ROOT, m[1]!))) {
          broken.push(`${file}: ${m[1]} (no such path)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
