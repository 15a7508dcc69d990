import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCS, ROOT } from '../helpers/docs.js';

/**
 * What the README and docs/ point to in words rather than links, checked as docs-links.test.ts
 * checks links: a quoted title (`docs/cli.md, "Reloading"`, `section 6, "Waiting for a session"`)
 * is a heading or a bold paragraph lead of that page, in that section when one is named (the
 * node options table sent readers to section 2 for "Reusing a written buffer", which is in
 * section 3); and every Prometheus series a page names (`flexmux_...`) is one the code defines.
 */

/** The page without its fenced code blocks, white space (line breaks too) as single spaces. */
function prose(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8')
    .replace(/^([ \t]*)```[\s\S]*?^\1```/gm, '')
    .replace(/\s+/g, ' ');
}

/**
 * The titles of a page (headings, and `**Lead.**` paragraph leads, which may run over lines), each
 * with the `## N.` section it is in.
 */
function titles(file: string): { title: string; section: number | undefined }[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/^([ \t]*)```[\s\S]*?^\1```/gm, '');
  const sections = [...text.matchAll(/^## (?:(\d+)\. )?/gm)].map((m) => ({
    at: m.index,
    n: m[1] === undefined ? undefined : Number(m[1]),
  }));
  const sectionAt = (at: number): number | undefined => sections.filter((s) => s.at <= at).at(-1)?.n;
  const out: { title: string; section: number | undefined }[] = [];
  for (const m of text.matchAll(/^#{1,6} (?:[\d.]+ )?(.*)$/gm)) {
    out.push({ title: m[1]!.trim(), section: sectionAt(m.index) });
  }
  for (const m of text.matchAll(/\*\*([^*]+?)\*\*/g)) {
    out.push({ title: m[1]!.replace(/\s+/g, ' ').trim(), section: sectionAt(m.index) });
  }
  return out;
}

/**
 * Whether `title` is what a reference quotes as `quoted`: the same, or followed by a note
 * (`Node.js 24 and 26 (thirteenth session)`, `Residual risks (known, not fixed)`) or by the rest
 * of a paragraph lead (`Reusing a written buffer.`).
 */
function names(title: string, quoted: string): boolean {
  const t = bare(title);
  const q = bare(quoted);
  return t === q || [' (', ':', '.'].some((after) => t.startsWith(q + after));
}

const bare = (s: string): string => s.replace(/`/g, '').toLowerCase();

/** The `.ts` files under `dir`, recursively, relative to ROOT. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((f) => {
    const p = join(dir, f);
    return statSync(join(ROOT, p)).isDirectory() ? sources(p) : f.endsWith('.ts') ? [p] : [];
  });
}

/** A source file's comments, their `*` margins dropped, white space as single spaces. */
function comments(file: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/\/\*[\s\S]*?\*\/|\/\/.*$/gm)]
    .map((m) => m[0].replace(/^\s*\/?\*+\/?|\*\/$|^\/\//gm, ''))
    .join(' ')
    .replace(/\s+/g, ' ');
}

/**
 * The references of `text` (a page's prose, or a source file's comments) that name no heading of
 * the page they name, or name one outside the section they give. `own` is the page the text is,
 * if any: a bare `section N, "..."` refers to the manual only from the manual itself.
 */
function brokenReferences(
  where: string,
  text: string,
  own: string | undefined,
): { seen: number; broken: string[] } {
  const broken: string[] = [];
  let seen = 0;
  const pattern = /(?:\b((?:docs\/)?[\w-]+\.md|manual)(?:,)? )?(?:section (\d+), )?"([^"]{3,100})"/g;
  for (const m of text.matchAll(pattern)) {
    const [, named, section, title] = m;
    // A bare `section N, "..."` is the page's own section only in the manual, whose sections
    // are numbered; a quote with neither is no reference.
    if (named === undefined && (section === undefined || own !== 'docs/manual.md')) continue;
    const file =
      named === undefined || named === 'manual'
        ? 'docs/manual.md'
        : named.startsWith('docs/')
          ? named
          : `docs/${named}`;
    // PROTOCOL.md is the shared specification, outside the repository.
    if (!existsSync(join(ROOT, file))) continue;
    seen++;
    const found = titles(file).filter((t) => names(t.title, title!));
    if (found.length === 0) broken.push(`${where}: ${m[0]} (no such heading in ${file})`);
    else if (section !== undefined && !found.some((t) => t.section === Number(section))) {
      broken.push(`${where}: ${m[0]} (in section ${found.map((t) => t.section).join(', ')} of ${file})`);
    }
  }
  return { seen, broken };
}

describe('references in README.md and docs/', () => {
  it('name headings that exist, in the section they name', () => {
    const broken: string[] = [];
    let seen = 0;
    for (const doc of DOCS) {
      const found = brokenReferences(doc, prose(doc), doc);
      seen += found.seen;
      broken.push(...found.broken);
    }
    expect(seen).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });

  // The JSDoc that typedoc turns into the API reference points into the pages the same way
  // (NodeOptions sent readers to section 7 for the node options, which are in section 6).
  it('in the comments of src/ name headings that exist, in the section they name', () => {
    const broken: string[] = [];
    let seen = 0;
    for (const file of sources('src')) {
      const found = brokenReferences(file, comments(file), undefined);
      seen += found.seen;
      broken.push(...found.broken);
    }
    expect(seen).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });

  it('name only metrics the code defines', () => {
    const source: string[] = [];
    const walk = (dir: string): void => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(ts|js)$/.test(f)) source.push(readFileSync(p, 'utf8'));
      }
    };
    walk(join(ROOT, 'src'));
    const code = source.join('\n');
    const unknown = new Set<string>();
    for (const doc of DOCS) {
      for (const [name] of prose(doc).matchAll(/\bflexmux_[a-z0-9_]*[a-z0-9]\b/g)) {
        // A histogram's series carry suffixes the code does not spell out.
        const metric = name.replace(/_(bucket|sum|count)$/, '');
        if (!code.includes(`'${metric}'`) && !code.includes(`"${metric}"`) && !code.includes(`\`${metric}`)) {
          unknown.add(`${doc}: ${name}`);
        }
      }
    }
    expect([...unknown]).toEqual([]);
  });
});
