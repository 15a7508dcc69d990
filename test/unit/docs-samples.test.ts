import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { DOCS, ROOT } from '../helpers/docs.js';

/**
 * Every ```ts block of the README and of docs/ compiles against the package's current API, with
 * the import paths a user writes ('flexmux', 'flexmux/browser', 'flexmux/admin', 'flexmux/demo'),
 * mapped to src/ as package.json "exports" maps them to dist/ for TypeScript ('flexmux' is the
 * Node.js entry's types, also in a browser bundle). Each block is a module of its own: what it
 * uses from elsewhere it imports or `declare`s.
 */

interface Sample {
  where: string;
  code: string;
}

function samples(): Sample[] {
  const out: Sample[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    for (const m of text.matchAll(/^([ \t]*)```(?:ts|typescript)\n([\s\S]*?)^\1```/gm)) {
      const line = text.slice(0, m.index).split('\n').length;
      out.push({ where: `${doc}:${line}`, code: m[2]! });
    }
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'flexmux-doc-samples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('code samples in README.md and docs/', () => {
  it('compile against the current API', () => {
    const all = samples();
    expect(all.length).toBeGreaterThan(5);
    // ESM, so that top-level await is allowed as in the samples.
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const files = new Map<string, string>();
    all.forEach((s, i) => {
      const file = join(dir, `sample${i}.ts`);
      // `export {}` keeps a sample without imports a module, its names its own.
      writeFileSync(file, `${s.code}\nexport {};\n`);
      files.set(file, s.where);
    });
    const program = ts.createProgram([...files.keys()], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
      paths: {
        flexmux: [join(ROOT, 'src/index.ts')],
        'flexmux/browser': [join(ROOT, 'src/browser.ts')],
        'flexmux/admin': [join(ROOT, 'src/admin/index.ts')],
        'flexmux/demo': [join(ROOT, 'src/demo/index.ts')],
      },
    });
    const errors = ts.getPreEmitDiagnostics(program).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (d.file === undefined || d.start === undefined) return text;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      const where = files.get(d.file.fileName);
      // A line of a sample is reported as the line of the doc it is on (the fence is line 0).
      if (where === undefined) return `${d.file.fileName}:${line + 1}: ${text}`;
      const [doc, fence] = where.split(':');
      return `${doc}:${Number(fence) + line + 1}: ${text}`;
    });
    expect(errors).toEqual([]);
  });
});
