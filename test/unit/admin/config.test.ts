import { describe, expect, it } from 'vitest';
import {
  type AdminNode,
  adminDefaults,
  isLoopback,
  validateAdminOptions,
} from '../../../src/admin/config.js';
import { ConfigError } from '../../../src/errors.js';
import type { BaseNode, NodeSession, Session, WebStream } from '../../../src/index.js';
import { Switcher } from '../../../src/switcher/index.js';

describe('admin options', () => {
  const switcher = new Switcher({ password: 'x' });

  it('defaults to loopback on port 7090 without a token', () => {
    const o = validateAdminOptions({ switcher });
    expect(o.host).toBe('127.0.0.1');
    expect(o.port).toBe(adminDefaults.port);
    expect(o.token).toBeUndefined();
    expect(o.sampleInterval).toBe(adminDefaults.sampleInterval);
  });

  it('requires a token for any address other machines can reach', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      expect(() => validateAdminOptions({ switcher, host }), host).toThrow(/set a token/);
      expect(validateAdminOptions({ switcher, host, token: 't' }).host).toBe(host);
    }
  });

  it('recognises loopback addresses', () => {
    for (const h of [
      '127.0.0.1',
      '127.1.2.3',
      'localhost',
      'LOCALHOST',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      '[::ffff:7f00:1]',
      '0:0:0:0:0:0:0:1',
    ]) {
      expect(isLoopback(h), h).toBe(true);
    }
    for (const h of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '128.0.0.1',
      'localhost.example',
      '127.0.0.1.nip.io',
      '[::ffff:8000:1]',
      '::2',
    ]) {
      expect(isLoopback(h), h).toBe(false);
    }
    // No string is no loopback address (a JavaScript caller's 127, null: a TypeError before).
    for (const h of [127, null, undefined, { host: 'localhost' }]) {
      expect(isLoopback(h as never), String(h)).toBe(false);
    }
  });

  it('needs exactly one of switcher and node, and checks every number', () => {
    expect(() => validateAdminOptions({})).toThrow(ConfigError);
    expect(() => validateAdminOptions({ switcher, node: {} as never })).toThrow(/exactly one/);
    expect(() => validateAdminOptions({ switcher, port: 70_000 })).toThrow(/port/);
    expect(() => validateAdminOptions({ switcher, sampleInterval: 0 })).toThrow(/sampleInterval/);
    expect(() => validateAdminOptions({ switcher, token: '' })).toThrow(/token/);
    expect(() => validateAdminOptions({ switcher, processMetrics: 'yes' as never })).toThrow(
      /processMetrics/,
    );
  });
});

describe('admin node type', () => {
  it('accepts nodes and sessions of any stream type (checked by tsc)', () => {
    const accepts = (n: AdminNode | null): AdminNode | null => n;
    const nodes: (AdminNode | null)[] = [
      accepts(null as BaseNode<WebStream> | null),
      accepts(null as Session<WebStream> | null),
      accepts(null as NodeSession | null),
    ];
    expect(nodes).toEqual([null, null, null]);
  });
});
