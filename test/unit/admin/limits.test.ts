import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdmin } from '../../../src/admin/index.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { killChildren, spawnScript } from '../../helpers/faulty-process.js';

/**
 * The admin server's own HTTP limits, whatever the process around it was started with: Node
 * takes the header size limit from `--max-http-header-size` and its parser's leniency from
 * `--insecure-http-parser` (either of which NODE_OPTIONS may carry for the served application's
 * sake), and its keep-alive default has changed between releases.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await killChildren();
});

/** A raw connection to `port` and the text received on it so far. */
function open(port: number): { s: Socket; text: () => string; closed: Promise<number> } {
  const s = connect(port, '127.0.0.1');
  cleanups.push(() => s.destroy());
  let text = '';
  s.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  s.on('error', () => {});
  const closed = new Promise<number>((resolve) => s.once('close', () => resolve(performance.now())));
  return { s, text: () => text, closed };
}

/** Resolves once `until()` holds, or rejects after `ms`. */
async function waitFor(until: () => boolean, what: string, ms = 10_000): Promise<void> {
  await expect.poll(until, { timeout: ms, interval: 10, message: what }).toBe(true);
}

describe('admin server limits', () => {
  it('a header over 16 KiB is answered 431 even when the process allows 1 MiB', async () => {
    const child = spawnScript(
      'test/unit/admin/fixtures/admin-child.ts',
      [],
      ['--max-http-header-size=1048576'],
    );
    const [, port, processMax] = await child.waitFor(/^ADMIN (\d+) (\d+)$/);
    // The flag took effect: Node's default would let the large header through.
    expect(Number(processMax)).toBe(1_048_576);

    const small = open(Number(port));
    small.s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(8_000)}\r\n\r\n`);
    await waitFor(() => small.text().includes('{"ok":true}'), 'the 8 KB header is served');
    expect(small.text()).toMatch(/^HTTP\/1\.1 200 /);

    const large = open(Number(port));
    large.s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    await large.closed;
    expect(large.text()).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('a request with both Content-Length and Transfer-Encoding is refused even under --insecure-http-parser', async () => {
    const child = spawnScript('test/unit/admin/fixtures/admin-child.ts', [], ['--insecure-http-parser']);
    const [, port] = await child.waitFor(/^ADMIN (\d+) (\d+)$/);
    const c = open(Number(port));
    c.s.write(
      'POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    await c.closed;
    // The strict parser refuses it (400); the lenient one passed it on to the router, which
    // answered 405 (/healthz takes GET only).
    expect(c.text()).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('an idle kept-alive connection is told timeout=5 and closed about then', async () => {
    const sw = new Switcher({ password: 'limits' });
    cleanups.push(() => sw.close({ timeout: 300 }));
    const admin = await startAdmin({ switcher: sw, port: 0 });
    cleanups.push(() => admin.close());

    const c = open(admin.port);
    c.s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => c.text().includes('{"ok":true}'), 'the answer');
    const answered = performance.now();
    expect(c.text()).toMatch(/\r\nkeep-alive: timeout=5\r\n/i);
    // Bounded by the test's own timeout too; the close is the event waited on, not a sleep.
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      c.closed,
      new Promise<number>((_, reject) => {
        timer = setTimeout(() => reject(new Error('not closed within 10 s')), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const idle = closed - answered;
    // Node closes a second after the advertised timeout (so a request sent just in time is read).
    expect(idle).toBeGreaterThan(4_500);
    expect(idle).toBeLessThan(8_000);
  }, 15_000);
});
