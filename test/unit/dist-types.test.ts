import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * What a user's compiler sees: the declarations tsc emits for the package (tsconfig.build.json,
 * as `npm run build` makes dist/, its JavaScript and source maps too), checked as a consumer project checks them, with
 * `skipLibCheck` off. The other type tests read src/; this one reads the .d.ts files, where an
 * error in flexmux's own declarations (a global type the consumer's `lib` lacks, say) fails the
 * consumer's build. They are emitted into a copy of the package under test-results/, so that
 * dist/ is left alone and the package's dependencies resolve from the checkout's node_modules.
 * Each tsc runs as a child: a few seconds each on 2 cores.
 */

const root = resolve(import.meta.dirname, '../..');
const tsc = resolve(root, 'node_modules/typescript/bin/tsc');

function run(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(process.execPath, [tsc, ...args], { cwd: root, timeout: 150_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') fail(err);
      // tsc prints its diagnostics on stdout; empty output and exit 0 is a clean check.
      else done(`${stdout}${stderr}`.trim() + (err ? `\nexit ${err.code}` : ''));
    });
  });
}

/** A consumer's compiler options, strict ones on; `lib` and `types` as the profile says. */
function tsconfig(options: Record<string, unknown>): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      noImplicitOverride: true,
      ...options,
    },
    files: ['app.ts'],
  });
}

let dir: string;

beforeAll(async () => {
  mkdirSync(join(root, 'test-results'), { recursive: true });
  dir = mkdtempSync(join(root, 'test-results', 'dist-types-'));
  const pkg = join(dir, 'node_modules', 'flexmux');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  const out = await run(['-p', 'tsconfig.build.json', '--outDir', join(pkg, 'dist')]);
  expect(out, 'tsc -p tsconfig.build.json').toBe('');
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Type-checks `code` as app.ts of a consumer project with these options, and `files` (by path
 * under the project) beside it; tsc's output.
 */
function check(
  name: string,
  options: Record<string, unknown>,
  code: string,
  files: Record<string, string> = {},
): Promise<string> {
  const project = join(dir, name);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(project, 'tsconfig.json'), tsconfig(options));
  writeFileSync(join(project, 'app.ts'), code);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(project, path, '..'), { recursive: true });
    writeFileSync(join(project, path), text);
  }
  return run(['-p', project]);
}

describe('the emitted declarations', () => {
  // Members tagged @internal (a listener's offer(), a node's dispatch(), a stream core's onData(),
  // the Duplex hooks) are left out of the API reference, and tsc's stripInternal leaves them out
  // of the types too: they were in dist/, where editors offered them as API.
  // The source maps are published, src/ is not ("files" in package.json): a map that only named
  // ../src/*.ts sent a consumer's bundler (webpack's source-map-loader, Vite) looking for files
  // that are not there, a warning per module. The maps carry the sources themselves.
  it('come with source maps that hold their sources', () => {
    const dist = join(dir, 'node_modules', 'flexmux', 'dist');
    const maps = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.js.map'),
    );
    expect(maps.length).toBeGreaterThan(50);
    const without = maps.filter((f) => {
      const map = JSON.parse(readFileSync(join(dist, f), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      return map.sources.some((_, i) => typeof map.sourcesContent?.[i] !== 'string');
    });
    expect(without).toEqual([]);
  });

  it('leave out what is tagged @internal', () => {
    const dist = join(dir, 'node_modules', 'flexmux', 'dist');
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => readFileSync(join(dist, f), 'utf8').includes('@internal'))).toEqual([]);
  });

  // Uint8Array takes a type parameter since TypeScript 5.7, and an inferred type is printed with
  // it (a constant made by a function returning Uint8Array is Uint8Array<ArrayBufferLike> in the
  // .d.ts). An older compiler, skipLibCheck off, failed a consumer's build on each one with
  // TS2315 "Type 'Uint8Array' is not generic": ten of them through the package's entries.
  it('do not give a typed array a type parameter (TypeScript before 5.7 has none)', () => {
    const dist = join(dir, 'node_modules', 'flexmux', 'dist');
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'));
    const generic =
      /\b(?:(?:Uint8|Uint8Clamped|Int8|Uint16|Int16|Uint32|Int32|Float32|Float64|BigInt64|BigUint64)Array|DataView|ArrayBufferView)</;
    const found = files.flatMap((f) =>
      readFileSync(join(dist, f), 'utf8')
        .split('\n')
        .filter((line) => generic.test(line))
        .map((line) => `${f}: ${line.trim()}`),
    );
    expect(found).toEqual([]);
  });

  // A Node.js project: @types/node and the ES library, no DOM (Node has no document). NodeNext,
  // and node10 resolution without esModuleInterop (the default of older CommonJS projects), where
  // a default import of a Node.js module in a .d.ts is an error.
  const node = [
    "import { connect, memoryPair, Node, type NodeOptions, type StreamCore, Switcher } from 'flexmux';",
    "import { startAdmin } from 'flexmux/admin';",
    "import { listenDemo } from 'flexmux/demo';",
    'const options: NodeOptions = {};',
    'const [a] = memoryPair();',
    'const node = new Node(a, options);',
    'const writes: number = node.scheduler.writes;',
    // The scheduler's counters are API, its plumbing (queues, flush, close) is not.
    '// @ts-expect-error',
    'node.scheduler.close();',
    // The session's hold on its node is not either.
    '// @ts-expect-error',
    "node.setIdentity(1, 'a');",
    // A stream core's face side is API (custom stream factories); the node's side of it is not.
    'const cut = (core: StreamCore): void => {',
    '  core.destroy(new Error());',
    '  // @ts-expect-error',
    '  core.onAck(1);',
    '  // @ts-expect-error',
    "  core.abort(new Error('cut'));",
    '};',
    'export { connect, cut, node, startAdmin, listenDemo, Switcher, writes };',
    '',
  ].join('\n');
  it.each([
    ['NodeNext', 'NodeNext'],
    ['CommonJS', 'node10'],
  ])(
    'check in a Node.js project without the DOM library (module %s, resolution %s)',
    {
      timeout: 120_000,
    },
    async (module, moduleResolution) => {
      const options = { module, moduleResolution, lib: ['ES2022'], types: ['node'] };
      expect(await check(`node-${moduleResolution}`, options, node)).toBe('');
    },
  );

  // A Node.js project as npm installs it for a user: flexmux's dependencies, @types/node, and not
  // @types/ws, which is flexmux's devDependency only. The .d.ts of the WebSocket transport
  // imported its types from 'ws' (WsDialOptions, wsTransport()'s parameter), and the build failed
  // on it, TS7016 "Could not find a declaration file for module 'ws'". Outside the checkout, whose
  // node_modules has @types/ws: a compiler looks for it in every node_modules above the file.
  it('check in a Node.js project without @types/ws', { timeout: 120_000 }, async () => {
    const project = mkdtempSync(join(tmpdir(), 'flexmux-no-types-ws-'));
    try {
      const modules = join(project, 'node_modules');
      cpSync(join(dir, 'node_modules', 'flexmux'), join(modules, 'flexmux'), { recursive: true });
      for (const name of readdirSync(join(root, 'node_modules'))) {
        if (name !== '@types' && name !== '.bin')
          symlinkSync(join(root, 'node_modules', name), join(modules, name));
      }
      mkdirSync(join(modules, '@types'));
      symlinkSync(join(root, 'node_modules', '@types', 'node'), join(modules, '@types', 'node'));
      writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(
        join(project, 'tsconfig.json'),
        tsconfig({ module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'] }),
      );
      const code = [
        "import { dialWs, type WsDialOptions, wsTransport } from 'flexmux';",
        "const options: WsDialOptions = { headers: { authorization: 'Bearer x' }, rejectUnauthorized: false };",
        "const dial = () => dialWs('wss://127.0.0.1:1/flex/ws', options);",
        'export { dial, wsTransport };',
        '',
      ].join('\n');
      writeFileSync(join(project, 'app.ts'), code);
      expect(await run(['-p', project])).toBe('');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  // A browser project: the DOM library, no @types/node. Bundler resolution, and the older node10
  // ('node') of many webpack set-ups, which reads no "exports": the subpaths resolve through
  // package.json's typesVersions there (docs/browser.md tells TypeScript users to import
  // flexmux/browser). TypeScript 6 deprecates node10: drop that profile then.
  const browser = [
    "import { connect, memoryPair, Node, type WebStream } from 'flexmux/browser';",
    'const [a] = memoryPair();',
    'const node = new Node(a);',
    "const dial = (): Promise<WebStream> => node.dial('peer:80');",
    'export { connect, dial };',
    '',
  ].join('\n');
  it.each([
    ['ESNext', 'Bundler'],
    ['ESNext', 'node10'],
  ])(
    'check in a browser project without @types/node (module %s, resolution %s)',
    {
      timeout: 120_000,
    },
    async (module, moduleResolution) => {
      const options = { module, moduleResolution, lib: ['ES2022', 'DOM'], types: [] };
      expect(await check(`browser-${moduleResolution}`, options, browser)).toBe('');
    },
  );

  // The bundle (dist/flexmux.browser.js) copied next to a page: the flexmux.browser.d.ts built
  // with it re-exports ./browser.js, which is not there. docs/browser.md had it copied along; it
  // now gives the one-line declaration to put beside the copy instead, which this checks.
  it('check in a browser project that imports a copy of the bundle', { timeout: 120_000 }, async () => {
    const docs = readFileSync(join(root, 'docs', 'browser.md'), 'utf8');
    const line = /```ts\n(export \* from 'flexmux\/browser';\n)```/.exec(docs)?.[1];
    expect(line, "docs/browser.md's declaration for a copy of the bundle").toBeDefined();
    const code = [
      "import { connect, type WebStream } from './vendor/flexmux.browser.js';",
      "const session = connect('wss://relay.example.com/flex/ws', { password: 'secret', domain: 'page' });",
      "const dial = (): Promise<WebStream> => session.dial('peer:80');",
      'export { dial };',
      '',
    ].join('\n');
    const options = { module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [] };
    const files = { 'vendor/flexmux.browser.js': '', 'vendor/flexmux.browser.d.ts': line ?? '' };
    expect(await check('browser-bundle-copy', options, code, files)).toBe('');
  });
});
