import { resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every type a public signature names is exported from a package entry, so that a user can name it
 * too: `ListenerEvents`, the event map of the Listener that `node.listen()` returns, was not, and a
 * helper typed around listeners could not be written without reaching into dist/. The check walks
 * the declarations of each entry's exports (the types their .d.ts shows: public members,
 * parameters, results, heritage clauses; not bodies, initialisers or private members) for
 * references to types declared under src/ that no entry exports. Where the source leaves a type
 * to inference (a value's initialiser, a function without a result type), the inferred type is
 * what the .d.ts shows, so that is walked instead.
 */

const root = resolve(import.meta.dirname, '../..');
const src = `${resolve(root, 'src')}/`;
const NODE_ENTRIES = ['index.ts', 'admin/index.ts', 'demo/index.ts'];
const BROWSER_ENTRY = 'browser.ts';

/**
 * Plumbing of the classes exported for custom stream factories and tests (BaseNode, StreamCore,
 * Scheduler): a user implements none of it, and its shape is free to change.
 */
const INTERNAL = new Set([
  'Emitter',
  'Frame',
  'StreamHost',
  'StreamQueue',
  'Slabs',
  'SchedulerSink',
  'SchedulerOptions',
  'QueuedFrame',
  'Deferred',
  'ReleaseWatch',
  // openapiDocument()'s result: a plain Record<string, unknown> under a local name.
  'Schema',
]);

function program(): ts.Program {
  return ts.createProgram(
    [...NODE_ENTRIES, BROWSER_ENTRY].map((e) => src + e),
    {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: ['node'],
      strict: true,
      skipLibCheck: true,
      noEmit: true,
    },
  );
}

/** `name (file)` of each type referenced by the exports of `entry` and exported by no entry of `from`. */
function unexported(p: ts.Program, entry: string, from: readonly string[]): string[] {
  const checker = p.getTypeChecker();
  const real = (s: ts.Symbol): ts.Symbol =>
    s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
  const exportsOf = (e: string): ts.Symbol[] => {
    const file = p.getSourceFile(src + e);
    const mod = file === undefined ? undefined : checker.getSymbolAtLocation(file);
    if (mod === undefined) throw new Error(`no module ${e}`);
    return checker.getExportsOfModule(mod).map(real);
  };
  const exported = new Set(from.flatMap(exportsOf));
  const found = new Set<string>();
  const hidden = (n: ts.Node): boolean => {
    if (ts.canHaveModifiers(n) && ts.getModifiers(n)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) {
      return true;
    }
    const name = (n as { name?: ts.Node }).name;
    return name !== undefined && ts.isPrivateIdentifier(name);
  };
  const flag = (s: ts.Symbol): void => {
    const file = s.declarations?.[0]?.getSourceFile().fileName ?? '';
    if (file.startsWith(src) && !(s.flags & ts.SymbolFlags.TypeParameter) && !exported.has(s)) {
      if (!INTERNAL.has(s.getName())) found.add(`${s.getName()} (${file.slice(src.length)})`);
    }
  };
  // A type the .d.ts spells out although the source does not: the inferred type of an
  // unannotated value, or of an unannotated function's result.
  const seen = new Set<ts.Type>();
  const LITERAL = ts.SymbolFlags.TypeLiteral | ts.SymbolFlags.ObjectLiteral;
  const inferred = (t: ts.Type): void => {
    if (seen.has(t)) return;
    seen.add(t);
    if (t.aliasSymbol !== undefined) flag(t.aliasSymbol);
    const symbol = t.getSymbol();
    // An object literal's type has no name of its own: what its members name is what counts.
    if (symbol !== undefined && symbol.flags & LITERAL) {
      for (const m of checker.getPropertiesOfType(t)) inferred(checker.getTypeOfSymbol(m));
    } else if (symbol !== undefined) {
      flag(symbol);
    }
    if (t.isUnionOrIntersection()) for (const u of t.types) inferred(u);
    for (const a of t.aliasTypeArguments ?? []) inferred(a);
    if (t.flags & ts.TypeFlags.Object && (t as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      for (const a of checker.getTypeArguments(t as ts.TypeReference)) inferred(a);
    }
  };
  const visit = (n: ts.Node): void => {
    if (ts.isBlock(n) || hidden(n)) return;
    if ((ts.isVariableDeclaration(n) || ts.isPropertyDeclaration(n) || ts.isParameter(n)) && n.initializer) {
      if (n.type !== undefined) visit(n.type);
      else inferred(checker.getTypeAtLocation(n));
      return;
    }
    if (
      ts.isFunctionLike(n) &&
      n.type === undefined &&
      !ts.isConstructorDeclaration(n) &&
      !ts.isSetAccessorDeclaration(n) &&
      !ts.isArrowFunction(n) &&
      !ts.isFunctionExpression(n)
    ) {
      const signature = checker.getSignatureFromDeclaration(n);
      if (signature !== undefined) inferred(checker.getReturnTypeOfSignature(signature));
    }
    const target = ts.isTypeReferenceNode(n)
      ? n.typeName
      : ts.isExpressionWithTypeArguments(n)
        ? n.expression
        : undefined;
    const symbol = target === undefined ? undefined : checker.getSymbolAtLocation(target);
    if (symbol !== undefined) flag(real(symbol));
    ts.forEachChild(n, visit);
  };
  for (const s of exportsOf(entry)) {
    for (const d of s.declarations ?? []) if (d.getSourceFile().fileName.startsWith(src)) visit(d);
  }
  return [...found].sort();
}

describe('types named by public signatures', () => {
  const p = program();
  // The Node.js entries are used together (flexmux/admin takes the root's Switcher, for one).
  it.each(NODE_ENTRIES)('are exported for %s', (entry) => {
    expect(unexported(p, entry, NODE_ENTRIES)).toEqual([]);
  });
  // A browser build imports flexmux/browser alone: its types come from there.
  it('are exported by the browser entry itself', () => {
    expect(unexported(p, BROWSER_ENTRY, [BROWSER_ENTRY])).toEqual([]);
  });
});
