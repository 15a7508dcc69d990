import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { adminDefaults } from '../../src/admin/config.js';
import { defaults, sessionDefaults } from '../../src/config.js';
import { switcherDefaults } from '../../src/switcher/config.js';
import { transportDefaults as t } from '../../src/transport/defaults.js';
import { ROOT } from '../helpers/docs.js';

/**
 * The JSDoc of the option interfaces is the API reference typedoc publishes, and each option
 * there says its default in words (`Default 2 MiB (2097152).`, `(default 10 s; 0: never)`). The
 * manual's and admin.md's tables are checked against the frozen defaults objects
 * (manual-config.test.ts, admin/docs-options.test.ts); these comments were not: a default
 * changed in the object alone left the reference stating the old one. Every option that has a
 * default states it, and states the code's.
 */

type Value = number | boolean | string;

const UNITS: Record<string, number> = { ms: 1, s: 1000, KiB: 1024, MiB: 1024 * 1024 };

/** The default a comment states, or undefined if it states none. */
function stated(doc: string): Value | undefined {
  // `by-domain` (default): the value named before the word.
  const named = /`([\w-]+)` \(default\)/.exec(doc);
  if (named) return named[1];
  // `default \`browserMaxHeldBytes\` (64 MiB)`: the object's name for it, then the value.
  const m =
    /\bdefault:? (?:`\w+` \()?('[^']*'|true|false|\d[\d_,]*(?:\.\d+)?(?: ?(?:ms|s|KiB|MiB)\b)?)/i.exec(doc);
  if (m === null) return undefined;
  const text = m[1]!;
  if (text === 'true' || text === 'false') return text === 'true';
  if (text.startsWith("'")) return text.slice(1, -1);
  const [, n, unit] = /^([\d_,.]+) ?(\w*)$/.exec(text)!;
  return Number(n!.replace(/[_,]/g, '')) * (UNITS[unit!] ?? 1);
}

/** Each member of interface `name` in `file` with its JSDoc as one line. */
function members(file: string, name: string): Map<string, string> {
  const sf = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const out = new Map<string, string>();
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) {
      for (const m of node.members) {
        const doc = ts
          .getJSDocCommentsAndTags(m)
          .map((d) => d.getText())
          .join(' ')
          .replace(/^\s*\/?\*+\/?/gm, '')
          .replace(/\s+/g, ' ');
        out.set(m.name!.getText(sf), doc);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  expect(out.size, `${file}: interface ${name}`).toBeGreaterThan(0);
  return out;
}

const cases = [
  ['src/config.ts', 'NodeOptions', defaults],
  ['src/node/session.ts', 'SessionOptions', sessionDefaults],
  ['src/switcher/config.ts', 'SwitcherOptions', switcherDefaults],
  ['src/admin/config.ts', 'AdminOptions', adminDefaults],
  // The transports' options take theirs from transportDefaults, under other names.
  ['src/connect.ts', 'ConnectOptions', { connectTimeout: t.connectTimeout, wsZeroMask: false }],
  ['src/browser.ts', 'BrowserConnectOptions', { connectTimeout: t.connectTimeout, reconnectOnWake: true }],
  ['src/transport/tcp.ts', 'TcpTransportOptions', { closeTimeout: t.closeTimeout }],
  [
    'src/transport/tls.ts',
    'TlsListenOptions',
    { handshakeTimeout: t.tlsHandshakeTimeout, maxPendingHandshakes: t.maxPendingHandshakes },
  ],
  ['src/transport/ws.ts', 'WsTransportOptions', { closeTimeout: t.closeTimeout }],
  ['src/transport/ws.ts', 'WsUpgradeOptions', { path: t.wsPath }],
  [
    'src/transport/ws.ts',
    'WsListenOptions',
    { handshakeTimeout: t.wsHandshakeTimeout, maxPendingHandshakes: t.maxPendingHandshakes },
  ],
  ['src/transport/memory.ts', 'MemoryPairOptions', { closeTimeout: t.closeTimeout }],
  [
    'src/transport/ws-browser.ts',
    'BrowserWsOptions',
    {
      pollInterval: t.browserPollInterval,
      closeTimeout: t.closeTimeout,
      maxHeldBytes: t.browserMaxHeldBytes,
    },
  ],
] as const;

describe('JSDoc of the option interfaces', () => {
  for (const [file, name, values] of cases) {
    it(`${name} states each of its defaults as the code has it`, () => {
      const docs = members(file, name);
      const wrong: string[] = [];
      for (const [option, value] of Object.entries(values)) {
        const doc = docs.get(option);
        if (doc === undefined) {
          wrong.push(`${option}: not a member of ${name}`);
          continue;
        }
        const said = stated(doc);
        if (said !== value)
          wrong.push(`${option}: the comment says ${String(said)}, the code ${String(value)}`);
      }
      expect(wrong).toEqual([]);
    });
  }
});
