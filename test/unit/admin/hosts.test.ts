import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { validateAdminOptions } from '../../../src/admin/config.js';
import { HostGuard, LOG_EVERY } from '../../../src/admin/hosts.js';
import type { HttpError } from '../../../src/admin/http.js';
import type { Switcher } from '../../../src/switcher/switcher.js';
import { silentLogger } from '../../../src/util/logger.js';
import { captureLogger } from '../../helpers/faulty-log.js';

const req = (host: string | undefined): IncomingMessage =>
  ({
    headers: host === undefined ? {} : { host },
    socket: { remoteAddress: '127.0.0.1' },
  }) as unknown as IncomingMessage;

function status(g: HostGuard, host: string | undefined): number {
  try {
    g.check(req(host));
    return 200;
  } catch (e) {
    return (e as HttpError).status;
  }
}

const switcher = {} as Switcher;
const allowed = (host: string, allowedHosts?: readonly string[]): string[] | null =>
  validateAdminOptions({ switcher, host, allowedHosts }).allowedHosts;

describe('admin Host check (DNS rebinding)', () => {
  it('answers loopback names and the names allowed, with any port; refuses the rest', () => {
    const g = new HostGuard(['admin.example', '10.0.0.5', '::2'], silentLogger);
    for (const host of [
      '127.0.0.1:7090',
      '127.1.2.3',
      'localhost:1',
      'LOCALHOST',
      'localhost.',
      '[::1]:7090',
      '[::1]',
      'admin.example:443',
      'Admin.Example.',
      '10.0.0.5:7090',
      '[::2]:80',
      undefined,
    ]) {
      expect([host, status(g, host)]).toEqual([host, 200]);
    }
    for (const host of [
      'evil.example:7090',
      'evil.example',
      'admin.example.evil.example',
      '127.0.0.1.evil.example',
      '10.0.0.1:7090',
      '',
      '[::3]:7090',
    ]) {
      expect([host, status(g, host)]).toEqual([host, 403]);
    }
    expect(status(new HostGuard(null, silentLogger), 'evil.example')).toBe(200);
  });

  it('logs a refusal at most every 10 s, with how many since the line before', () => {
    const log = captureLogger();
    let t = 0;
    const g = new HostGuard([], log, () => t);
    const lines = () => log.find('admin request refused: its Host is not a name of this server');
    expect(status(g, 'evil.example:7090')).toBe(403);
    expect(lines().map((e) => [e.level, e.fields.host, e.fields.refused])).toEqual([
      ['warn', 'evil.example:7090', 1],
    ]);
    for (let i = 0; i < 5; i++) status(g, 'evil.example');
    t += LOG_EVERY;
    status(g, 'other.example');
    expect(lines().map((e) => [e.fields.host, e.fields.refused])).toEqual([
      ['evil.example:7090', 1],
      ['other.example', 6],
    ]);
  });

  it('defaults: loopback names only on loopback, token or not; any Host elsewhere', () => {
    expect(allowed('127.0.0.1')).toEqual([]);
    expect(allowed('localhost')).toEqual([]);
    expect(validateAdminOptions({ switcher, host: '::1', token: 't' }).allowedHosts).toEqual([]);
    expect(validateAdminOptions({ switcher, host: '0.0.0.0', token: 't' }).allowedHosts).toBeNull();
    expect(validateAdminOptions({ switcher, host: '10.0.0.5', token: 't' }).allowedHosts).toBeNull();
    // Given, elsewhere: those and the address bound (not a wildcard one), besides loopback.
    const opts = { switcher, token: 't', allowedHosts: ['admin.example', '[fd00::1]'] };
    expect(validateAdminOptions({ ...opts, host: '10.0.0.5' }).allowedHosts).toEqual([
      'admin.example',
      'fd00::1',
      '10.0.0.5',
    ]);
    expect(validateAdminOptions({ ...opts, host: '::' }).allowedHosts).toEqual(['admin.example', 'fd00::1']);
    expect(allowed('127.0.0.1', ['admin.example'])).toEqual(['admin.example']);
  });

  it('refuses what is no host name', () => {
    for (const bad of [
      ['admin.example:443'],
      ['http://admin.example'],
      [''],
      ['a b'],
      [7],
      'admin.example',
    ]) {
      expect(() => allowed('127.0.0.1', bad as string[]), JSON.stringify(bad)).toThrow(/allowedHosts/);
    }
  });
});
