import { readFileSync } from 'node:fs';
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
 * Types a public signature may name without an entry exporting them: plumbing of the classes
 * exported for custom stream factories and tests (BaseNode, StreamCore, Scheduler), which a user
 * implements none of and whose shape is free to change. One list for both checks: typedoc.json's
 * intentionallyNotExported, which the API reference's validation (api-docs.test.ts) reads too;
 * typedoc warns of an entry nothing references, and so does this test.
 */
const typedoc = JSON.parse(readFileSync(resolve(root, 'typedoc.json'), 'utf8')) as {
  intentionallyNotExported: string[];
};
const INTERNAL = new Set(typedoc.intentionallyNotExported);
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

/** INTERNAL's names that some entry's exports referenced (each entry of the list must be). */
const met = new Set<string>();

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
    if (name !== undefined && ts.isPrivateIdentifier(name)) return true;
    // Left out of the API reference (typedoc.json's excludeInternal), and so not its to check.
    return ts.getJSDocTags(n).some((t) => t.tagName.text === 'internal');
  };
  const flag = (s: ts.Symbol): void => {
    const file = s.declarations?.[0]?.getSourceFile().fileName ?? '';
    if (file.startsWith(src) && !(s.flags & ts.SymbolFlags.TypeParameter) && !exported.has(s)) {
      const name = s.getName();
      if (INTERNAL.has(name)) met.add(name);
      else found.add(`${name} (${file.slice(src.length)})`);
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
    // A class's base class, as typedoc takes it: its members are documented on the class that
    // inherits them (Emitter's on(), off()... on Session, BaseNode, Listener and Switcher), and
    // only the type arguments need a name (Emitter<NodeEvents>).
    if (ts.isHeritageClause(n) && n.token === ts.SyntaxKind.ExtendsKeyword && ts.isClassLike(n.parent)) {
      for (const t of n.types) for (const a of t.typeArguments ?? []) visit(a);
      return;
    }
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
  // A name left in the list that no public signature names any more would let a new type of that
  // name through unexported.
  it('are each named by some export, when listed as not exported', () => {
    for (const e of NODE_ENTRIES) unexported(p, e, NODE_ENTRIES);
    unexported(p, BROWSER_ENTRY, [BROWSER_ENTRY]);
    expect([...INTERNAL].filter((n) => !met.has(n))).toEqual([]);
  });
});
