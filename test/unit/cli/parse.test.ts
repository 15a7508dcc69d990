import { describe, expect, it } from 'vitest';
import {
  checkUrlHostPort,
  collect,
  formatHostPort,
  parseBindHost,
  parseCount,
  parseDomain,
  parseDuration,
  parseExpose,
  parseForward,
  parseHostPort,
  parseHostPortPath,
  parseRate,
  parseSize,
  parseTarget,
  parseTimeout,
} from '../../../src/cli/parse.js';

describe('flag parsers', () => {
  it('HOST:PORT, with IPv6 brackets and a default host', () => {
    expect(parseHostPort('127.0.0.1:7000')).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseHostPort(':80')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(parseHostPort(' example.org:443 ')).toEqual({ host: 'example.org', port: 443 });
    expect(() => parseHostPort('7000')).toThrow('expected HOST:PORT');
    expect(() => parseHostPort('h:70000')).toThrow('0..65535');
    expect(() => parseHostPort('h:-1')).toThrow('0..65535');
    expect(() => parseHostPort('a/b:1')).toThrow('invalid host');
  });

  it('refuses a host the resolver would read otherwise, or not at all', () => {
    for (const ok of ['0.0.0.0', '10.0.0.1', '127.1', 'localhost', 'relay.example.org.', 'db_1', 'Host-2']) {
      expect(parseHostPort(`${ok}:1`).host, ok).toBe(ok);
    }
    expect(parseHostPort('[fe80::1%lo]:1').host).toBe('fe80::1%lo');
    expect(parseHostPort('[::ffff:127.0.0.1]:1').host).toBe('::ffff:127.0.0.1');
    // The resolver reads these parts as octal or hex: 192.168.001.010 is 192.168.1.8.
    for (const odd of ['192.168.001.010', '010.0.0.1', '0177.1', '0x7f.0.0.1', '127.0x1']) {
      expect(() => parseHostPort(`${odd}:1`), odd).toThrow('write an IPv4 address in decimal');
    }
    for (const bad of ['256.1.1.1', '1.2.3.4.5', '1.16777216', '127.0.0.1.', 'a.1']) {
      expect(() => parseHostPort(`${bad}:1`), bad).toThrow(`invalid host "${bad}": not an IPv4 address`);
    }
    for (const bad of ['a@b', '%', '*', 'a..b', '.a', 'bücher.de', `${'a'.repeat(64)}.org`]) {
      expect(() => parseHostPort(`${bad}:1`), bad).toThrow(`invalid host "${bad}": a host name is`);
    }
    expect(() => parseHostPort('[::1:80')).toThrow('invalid host "[::1": unbalanced brackets');
    expect(() => parseHostPort('host]:80')).toThrow('unbalanced brackets');
    expect(() => parseHostPort('[1::2::3]:80')).toThrow('not an IPv6 address');
    // Either ::1 and port 80, or the address ::1:80 with no port.
    expect(() => parseHostPort('::1:80')).toThrow('an IPv6 address goes in brackets, [::1]:PORT');
    expect(() => parseHostPort(':::80')).toThrow('[::]:PORT');
    expect(() => parseExpose('22=010.0.0.5:22')).toThrow('write an IPv4 address in decimal');
  });

  it('reads a --bind host with or without the brackets of an IPv6 address', () => {
    expect(parseBindHost('[::1]')).toBe('::1');
    expect(parseBindHost('::1')).toBe('::1');
    expect(parseBindHost(' 0.0.0.0 ')).toBe('0.0.0.0');
    expect(parseBindHost('localhost')).toBe('localhost');
    expect(() => parseBindHost('')).toThrow('expected a host');
    expect(() => parseBindHost('[::1')).toThrow('unbalanced brackets');
    expect(() => parseBindHost('010.0.0.1')).toThrow('write an IPv4 address in decimal');
  });

  it('checks the host and port of a switcher URL as written, before the URL parser reads them', () => {
    for (const ok of [
      'tcp://127.0.0.1:7000',
      'tls://relay.example.org',
      'ws://[::1]:7080/flex/ws',
      'wss://user:p%40ss@relay.example.org:443/flex/ws',
      'ws://10.0.0.5/flex/ws?x=1',
      'udp://h:1',
      'not a url',
    ]) {
      expect(() => checkUrlHostPort(ok), ok).not.toThrow();
    }
    // The URL parser or the resolver reads these as 8.0.0.5, 127.0.0.1 and port 80.
    expect(() => checkUrlHostPort('tcp://010.0.0.5:7000')).toThrow('write an IPv4 address in decimal');
    expect(() => checkUrlHostPort('ws://010.0.0.5/flex/ws')).toThrow('write an IPv4 address in decimal');
    expect(() => checkUrlHostPort('tls://0x7f.1:7443')).toThrow('write an IPv4 address in decimal');
    expect(() => checkUrlHostPort('wss://u:p@h:0443/flex/ws')).toThrow('port "0443" has a leading zero');
    expect(() => checkUrlHostPort('tcp://[::1:7000')).toThrow('invalid host');
  });

  it('reads a port in plain decimal only', () => {
    expect(parseHostPort('h:0')).toEqual({ host: 'h', port: 0 });
    expect(parseHostPort('h:65535')).toEqual({ host: 'h', port: 65_535 });
    expect(() => parseHostPort('h:080')).toThrow('port "080" has a leading zero: write 80');
    expect(() => parseHostPort('h:00')).toThrow('leading zero');
    expect(() => parseExpose('022=h:22')).toThrow('virtual port "022" has a leading zero');
    expect(() => parseForward('02222=alice:22')).toThrow('local port "02222" has a leading zero');
    for (const bad of ['0x50', '+80', ' 80', '80.0', '1e3', '８０', '']) {
      expect(() => parseHostPort(`h:${bad}`), bad).toThrow('port must be an integer in 0..65535');
    }
  });

  it('HOST:PORT[/path] for WebSocket listeners', () => {
    expect(parseHostPortPath('127.0.0.1:7080', '/flex/ws')).toEqual({
      host: '127.0.0.1',
      port: 7080,
      path: '/flex/ws',
    });
    expect(parseHostPortPath('0.0.0.0:80/x/y', '/flex/ws')).toEqual({
      host: '0.0.0.0',
      port: 80,
      path: '/x/y',
    });
    expect(parseHostPortPath('[::1]:1/p', '/d')).toEqual({ host: '::1', port: 1, path: '/p' });
    expect(() => parseHostPortPath('h:1/a b', '/d')).toThrow('invalid path');
    // No request's path holds them (it stops before a query): the listener refuses such a path at
    // start, after --check-config had said 'configuration OK'.
    expect(() => parseHostPortPath('h:1/a?b', '/d')).toThrow('invalid path "/a?b"');
    expect(() => parseHostPortPath('h:1/flex#ws', '/d')).toThrow('invalid path "/flex#ws"');
  });

  it('--expose PORT=HOST:PORT and --forward LOCALPORT=DOMAIN:PORT', () => {
    expect(parseExpose('22=127.0.0.1:2222')).toEqual({ port: 22, target: { host: '127.0.0.1', port: 2222 } });
    expect(() => parseExpose('0=127.0.0.1:1')).toThrow('1..65535');
    expect(() => parseExpose('22')).toThrow('PORT=HOST:PORT');
    expect(parseForward('8080=Bob:80')).toEqual({ localPort: 8080, domain: 'bob', port: 80 });
    expect(parseForward('0=7:80')).toEqual({ localPort: 0, domain: '7', port: 80 });
    expect(() => parseForward('x=bob:80')).toThrow('local port');
    expect(() => parseForward('1=localhost:80')).toThrow('invalid domain');
  });

  it('DOMAIN:PORT targets and domains as a switcher normalises them', () => {
    expect(parseTarget(' Alice:22 ')).toEqual({ domain: 'alice', port: 22 });
    expect(() => parseTarget('alice')).toThrow('"alice" is not DOMAIN:PORT');
    expect(() => parseTarget('alice:99999')).toThrow('has an invalid port');
    expect(parseDomain('Team_1')).toBe('team_1');
    expect(() => parseDomain('-x')).toThrow('invalid domain');
    expect(() => parseDomain('a'.repeat(64))).toThrow('invalid domain');
  });

  it('durations, sizes and counts', () => {
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('0.2', 's')).toBe(200);
    expect(() => parseDuration('soon')).toThrow('expected a duration');
    expect(() => parseDuration('1000h')).toThrow('too long');
    expect(parseDuration('0')).toBe(0);
    expect(parseTimeout('2', 's')).toBe(2000);
    expect(() => parseTimeout('0s')).toThrow('a timeout must be longer than 0');
    expect(() => parseTimeout('0.0001')).toThrow('a timeout must be longer than 0');
    expect(parseSize('65536')).toBe(65_536);
    expect(parseSize('64k')).toBe(65_536);
    expect(parseSize('8MiB')).toBe(8 * 1024 * 1024);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(() => parseSize('lots')).toThrow('expected a size');
    expect(parseCount('3', 1)).toBe(3);
    expect(() => parseCount('0', 1)).toThrow('>= 1');
    expect(() => parseCount('1.5')).toThrow('integer');
  });

  it('reads a rate in decimal only', () => {
    expect(parseRate('2')).toBe(2);
    expect(parseRate(' 0.5 ')).toBe(0.5);
    expect(parseRate('0')).toBe(0);
    // Number() read these as 16, 1000, 1, 0.5, 5 and 5.
    for (const bad of ['0x10', '1e3', '0b1', '.5', '5.', '+5', '-1', '', 'Infinity']) {
      expect(() => parseRate(bad), bad).toThrow('expected a decimal number >= 0');
    }
  });

  it('collect() appends every use and every comma-separated item', () => {
    const p = collect(parseHostPort);
    const first = p('a:1, b:2', undefined);
    expect(p('c:3', first)).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
      { host: 'c', port: 3 },
    ]);
    expect(first).toHaveLength(2);
    expect(() => p(' , ', undefined)).toThrow('empty value');
  });

  it('collect() keeps the default host of `:PORT` items (127.0.0.1, not every interface)', () => {
    const p = collect(parseHostPort);
    expect(p(':7000,:7001', undefined)).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '127.0.0.1', port: 7001 },
    ]);
  });

  it('formats addresses back', () => {
    expect(formatHostPort({ host: '::1', port: 7 })).toBe('[::1]:7');
    expect(formatHostPort({ host: '127.0.0.1', port: 7 })).toBe('127.0.0.1:7');
  });
});
