import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, vi } from 'vitest';
import { Auth } from '../../src/admin/auth.js';
import { HostGuard } from '../../src/admin/hosts.js';
import { HttpError, sendError } from '../../src/admin/http.js';
import { silentLogger } from '../../src/util/logger.js';
import { type CliChild, freePort, killAll, repeatedLogKeys, runCli, runCliToEnd } from '../helpers/cli.js';

/** `flexmux clients` and `flexmux kick` against a stub of the admin API. */

vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const TOKEN = 'admin-token';
const CLIENTS = [
  {
    id: 7,
    domain: 'alice',
    ip: 1,
    remoteAddress: '127.0.0.1:50001',
    connectedAt: '2026-11-25T12:00:00.123Z',
    streams: 2,
    bytesIn: 3 * 1024 * 1024,
    bytesOut: 512,
    rttMs: 0.42,
  },
  {
    id: 9,
    domain: 'bob',
    ip: 2,
    remoteAddress: '127.0.0.1:50002',
    connectedAt: '2026-11-25T12:01:00.000Z',
    streams: 0,
    bytesIn: 0,
    bytesOut: 0,
    rttMs: null,
  },
];

const requests: { method: string; url: string; auth: string | undefined }[] = [];
let server: http.Server;
let admin = '';
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flexmux-admin-'));
  server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if ((req.url ?? '').startsWith('/tokenless/')) {
      // The admin server's own 403: no token configured, and a Host that is not loopback.
      try {
        new HostGuard([], silentLogger).check({
          headers: { host: 'flexmux.example:7090' },
        } as http.IncomingMessage);
      } catch (err) {
        if (err instanceof HttpError) return sendError(res, err);
      }
      return json(500, { error: 'checkHost passed' });
    }
    if ((req.url ?? '').startsWith('/real401/')) {
      // The admin server's own 401, for a token that is not its own.
      try {
        new Auth('the-real-token').check(req, new URL(req.url ?? '/', 'http://127.0.0.1'), false);
      } catch (err) {
        if (err instanceof HttpError) return sendError(res, err);
      }
      return json(500, { error: 'check passed' });
    }
    if ((req.url ?? '').startsWith('/proxy/')) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      return res.end('Forbidden by proxy policy\n');
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { error: 'unauthorized' });
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/api/v1/clients') return json(200, { count: 2, clients: CLIENTS });
    if (req.method === 'DELETE' && path === '/api/v1/clients/alice') {
      // alice is connection 7: a kick limited to another is refused, as the admin server does.
      const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id');
      if (id !== null && id !== '7') {
        return sendError(
          res,
          new HttpError(409, 'conflict', `the domain "alice" is held by connection 7, not ${id}: not kicked`),
        );
      }
      return json(200, { kicked: { domain: 'alice', id: 7, ip: 1, reason: 'x' } });
    }
    if (req.method === 'DELETE' && path === '/api/v1/clients/broken') return json(500, { error: 'boom' });
    // A switcher from before `?id=`: it lists alice as connection 7, and its kick ignores `id`.
    if (req.method === 'GET' && path === '/older/api/v1/clients/alice')
      return json(200, { client: CLIENTS[0] });
    if (req.method === 'DELETE' && path === '/older/api/v1/clients/alice') {
      return json(200, { kicked: { domain: 'alice', ip: 1, reason: 'x' } });
    }
    if (path === '/paged/api/v1/clients') {
      // One client per page, as the admin server pages a long list.
      const offset = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('offset') ?? '0');
      const next = offset + 1 < CLIENTS.length ? offset + 1 : null;
      return json(200, { count: CLIENTS.length, next, clients: CLIENTS.slice(offset, offset + 1) });
    }
    if (path === '/cursor/api/v1/clients') {
      // One client per page, `next` a cursor (the last domain listed) as the admin server sends.
      const after = new URL(req.url ?? '/', 'http://x').searchParams.get('cursor');
      const rest = CLIENTS.filter((c) => after === null || c.domain > after);
      const next = rest.length > 1 ? rest[0].domain : null;
      return json(200, { count: CLIENTS.length, next, clients: rest.slice(0, 1) });
    }
    if (path === '/stalled/api/v1/clients') {
      // Headers and the start of the body, then nothing (closed by closeAllConnections).
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"count": 2, "clients": [');
      return;
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  admin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await killAll(true);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe.concurrent('flexmux clients', () => {
  it('prints one aligned row per node, sending the bearer token', async ({ expect }) => {
    const r = await runCliToEnd(['clients', '--admin', admin, '--token', TOKEN]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^DOMAIN\s+IP\s+REMOTE\s+STREAMS\s+IN\s+OUT\s+RTT\s+CONNECTED\s+ID$/);
    expect(lines[1]).toMatch(
      /^alice\s+1\s+127\.0\.0\.1:50001\s+2\s+3\.00 MiB\s+512 B\s+0\.4 ms\s+2026-11-25T12:00:00Z\s+7$/,
    );
    expect(lines[2]).toMatch(/^bob\s+2\s+127\.0\.0\.1:50002\s+0\s+0 B\s+0 B\s+-\s+2026-11-25T12:01:00Z\s+9$/);
    expect(lines[1].indexOf('127.0.0.1')).toBe(lines[0].indexOf('REMOTE'));
    expect(requests).toContainEqual({ method: 'GET', url: '/api/v1/clients', auth: `Bearer ${TOKEN}` });
  });

  it('--json prints the answer as it came', async ({ expect }) => {
    const r = await runCliToEnd(['clients', '--json', '--admin', admin], {
      env: { FLEXMUX_ADMIN_TOKEN: TOKEN },
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ count: 2, clients: CLIENTS });
  });

  it('FLEXMUX_ADMIN_TOKEN with a trailing line ending is the token without it, with a warning', async ({
    expect,
  }) => {
    // A Kubernetes secret's newline: refused as not printable ASCII (exit 2), a token the
    // switcher's --admin takes from the same variable.
    const r = await runCliToEnd(['clients', '--json', '--admin', admin], {
      env: { FLEXMUX_ADMIN_TOKEN: `${TOKEN}\r\n`, FLEXMUX_LOG_FORMAT: 'json' },
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ count: 2, clients: CLIENTS });
    expect(r.stderr).toContain('"dropped":"a trailing line ending (CRLF)"');
    expect(r.stderr).not.toContain(TOKEN);
  });

  it('reads every page of a long list', async ({ expect }) => {
    const r = await runCliToEnd(['clients', '--admin', `${admin}/paged`, '--token', TOKEN]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['DOMAIN', 'alice', 'bob']);
    const json = await runCliToEnd(['clients', '--json', '--admin', `${admin}/paged`, '--token', TOKEN]);
    expect(JSON.parse(json.stdout)).toEqual({ count: 2, next: null, clients: CLIENTS });
    expect(requests).toContainEqual({
      method: 'GET',
      url: '/paged/api/v1/clients?offset=1',
      auth: `Bearer ${TOKEN}`,
    });
  });

  it('follows a cursor `next` to every page', async ({ expect }) => {
    const r = await runCliToEnd(['clients', '--json', '--admin', `${admin}/cursor`, '--token', TOKEN]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ count: 2, next: null, clients: CLIENTS });
    expect(requests).toContainEqual({
      method: 'GET',
      url: '/cursor/api/v1/clients?cursor=alice',
      auth: `Bearer ${TOKEN}`,
    });
  });

  it('takes the address and token file from FLEXMUX_ADMIN_URL and FLEXMUX_TOKEN_FILE, not FLEXMUX_ADMIN', async ({
    expect,
  }) => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const r = await runCliToEnd(['clients'], {
      env: { FLEXMUX_ADMIN_URL: admin.replace('http://', ''), FLEXMUX_TOKEN_FILE: tokenFile },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('alice');
    // FLEXMUX_ADMIN is where `switcher --admin` serves; `clients` does not read it.
    const other = await runCliToEnd(['clients'], {
      env: { FLEXMUX_ADMIN: admin, FLEXMUX_TOKEN_FILE: tokenFile },
    });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(
      'the admin API address is required: --admin URL or FLEXMUX_ADMIN_URL (FLEXMUX_ADMIN is set, but it is where switcher --admin serves; this command reads FLEXMUX_ADMIN_URL) [CLI_USAGE]',
    );
  });

  it('--token-file wins over FLEXMUX_ADMIN_TOKEN', async ({ expect }) => {
    const tokenFile = join(dir, 'token-over-env');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const r = await runCliToEnd(['clients', '--admin', admin, '--token-file', tokenFile], {
      env: { FLEXMUX_ADMIN_TOKEN: 'stale' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('a token no Authorization header can carry is bad usage (exit 2), and is not printed', async ({
    expect,
  }) => {
    // A token file with one blank line too many keeps a newline in the token. fetch refused the
    // header and its message, printed as 'cannot reach the admin API', quoted the whole token.
    const tokenFile = join(dir, 'token-two-lines');
    writeFileSync(tokenFile, `${TOKEN}-s3cret\n\n`);
    const r = await runCliToEnd(['clients', '--admin', admin, '--token-file', tokenFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the admin token must be printable ASCII without spaces [CLI_USAGE]');
    const env = await runCliToEnd(['kick', 'alice', '--admin', admin], {
      env: { FLEXMUX_ADMIN_TOKEN: `${TOKEN}-s3cret\u20ac` },
    });
    expect(env.code).toBe(2);
    for (const out of [r.stderr, env.stderr]) expect(out).not.toContain('s3cret');
    expect(requests.some((q) => q.auth?.includes('s3cret'))).toBe(false);
  });

  it('an answer that stops coming within --timeout is a timeout, not invalid JSON', async ({ expect }) => {
    const r = await runCliToEnd([
      'clients',
      '--admin',
      `${admin}/stalled`,
      '--token',
      TOKEN,
      // Long enough for the headers to come in a loaded machine's child process (at 300 ms they
      // did not, under a load of 10 on 2 cores, and the CLI rightly said it could not reach the
      // API): the answer's body never ends, so this is how long the test takes.
      '--timeout',
      '2s',
    ]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain('the admin API did not finish its answer within 2000 ms');
    expect(r.stderr).not.toContain('invalid JSON');
  });

  it('a wrong token exits 11', async ({ expect }) => {
    const r = await runCliToEnd(['clients', '--admin', admin, '--token', 'nope']);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain(
      'the admin API refused the request (401): check the token given (--token, --token-file or FLEXMUX_ADMIN_TOKEN)',
    );
    // None given at all: say where one goes.
    const none = await runCliToEnd(['clients', '--admin', admin]);
    expect(none.code).toBe(11);
    expect(none.stderr).toContain(
      "the admin API refused the request (401): give the switcher's admin token: --token, --token-file FILE or FLEXMUX_ADMIN_TOKEN [CLI_ADMIN]",
    );
  });

  it("a 403 says the server's reason, not the token's", async ({ expect }) => {
    const r = await runCliToEnd(['clients', '--admin', `${admin}/tokenless`, '--token', TOKEN]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain(
      'the admin API refused the request (403): Host "flexmux.example:7090" is not a name of this admin server; list it in allowedHosts (--admin-allowed-host) if it is',
    );
    expect(r.stderr).not.toContain('check the token');
    const proxy = await runCliToEnd(['kick', 'alice', '--admin', `${admin}/proxy`, '--token', TOKEN]);
    expect(proxy.code).toBe(11);
    expect(proxy.stderr).toContain('the admin API refused the request (403): Forbidden by proxy policy');
    expect(proxy.stderr).not.toContain('check the token');
  });

  it('a 401 says what the server found wrong with the token', async ({ expect }) => {
    const r = await runCliToEnd(['clients', '--admin', `${admin}/real401`, '--token', 'nope']);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain(
      'the admin API refused the request (401: the bearer token is not valid): check the token given (--token, --token-file or FLEXMUX_ADMIN_TOKEN)',
    );
  });

  it('an unreachable admin API exits 11', async ({ expect }) => {
    const port = await freePort();
    const r = await runCliToEnd(['clients', '--admin', `http://127.0.0.1:${port}`, '--token', TOKEN]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain(`cannot reach the admin API at http://127.0.0.1:${port}`);
  });

  it('--admin :PORT is the admin API on 127.0.0.1, as switcher --admin :PORT serves it', async ({
    expect,
  }) => {
    const port = new URL(admin).port;
    const r = await runCliToEnd(['clients', '--admin', `:${port}`, '--token', TOKEN]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('alice');
  });

  // fetch never connects to the Fetch standard's bad ports, where `switcher --admin` serves all the
  // same: the command said only `bad port: fetch failed`. (Refused before any connection: nothing
  // needs to listen there.)
  it('an admin API on a port fetch refuses (6000) says so, and what to do', async ({ expect }) => {
    const r = await runCliToEnd(['clients', '--admin', ':6000', '-t', TOKEN]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain(
      'cannot reach the admin API at http://127.0.0.1:6000: port 6000 is one fetch refuses to connect to, as browsers do',
    );
    expect(r.stderr).toContain('serve the admin API on another port');
  });

  it('no --admin exits 2', async ({ expect }) => {
    const r = await runCliToEnd(['clients']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'flexmux clients: the admin API address is required: --admin URL or FLEXMUX_ADMIN_URL [CLI_USAGE]\n',
    );
  });
});

describe.concurrent('flexmux kick', () => {
  it('kicks a domain with a reason', async ({ expect }) => {
    const r = await runCliToEnd([
      'kick',
      'Alice',
      '--reason',
      'maintenance window',
      '--admin',
      `${admin}/`,
      '-t',
      TOKEN,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('kicked alice\n');
    expect(requests).toContainEqual({
      method: 'DELETE',
      url: '/api/v1/clients/alice?reason=maintenance%20window',
      auth: `Bearer ${TOKEN}`,
    });
  });

  it('--id kicks only that connection: another holding the domain exits 12', async ({ expect }) => {
    const stale = await runCliToEnd(['kick', 'alice', '--id', '5', '--admin', admin, '-t', TOKEN]);
    expect(stale.code).toBe(12);
    expect(stale.stderr).toContain('the domain "alice" is held by connection 7, not 5: not kicked');
    const right = await runCliToEnd([
      'kick',
      'alice',
      '--id',
      '7',
      '--reason',
      'r',
      '--admin',
      admin,
      '-t',
      TOKEN,
    ]);
    expect(right.code).toBe(0);
    expect(right.stdout).toBe('kicked alice\n');
    expect(requests).toContainEqual({
      method: 'DELETE',
      url: '/api/v1/clients/alice?reason=r&id=7',
      auth: `Bearer ${TOKEN}`,
    });
    const bad = await runCliToEnd(['kick', 'alice', '--id', 'x7', '--admin', admin, '-t', TOKEN]);
    expect(bad.code).toBe(2);
  });

  it('--id against a switcher that ignores it: checks the holder first, and kicks no other', async ({
    expect,
  }) => {
    const older = `${admin}/older`;
    const stale = await runCliToEnd(['kick', 'alice', '--id', '5', '--admin', older, '-t', TOKEN]);
    expect(stale.code).toBe(12);
    expect(stale.stderr).toContain('the domain "alice" is held by connection 7, not 5: not kicked');
    expect(requests.filter((q) => q.method === 'DELETE' && q.url.startsWith('/older/'))).toEqual([]);
    const right = await runCliToEnd(['kick', 'alice', '--id', '7', '--admin', older, '-t', TOKEN]);
    expect(right.code).toBe(0);
    expect(right.stdout).toBe('kicked alice\n');
    expect(requests).toContainEqual({
      method: 'DELETE',
      url: '/older/api/v1/clients/alice?id=7',
      auth: `Bearer ${TOKEN}`,
    });
  });

  it('a domain nobody holds exits 12', async ({ expect }) => {
    const r = await runCliToEnd(['kick', 'nobody', '--admin', admin, '-t', TOKEN]);
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('no node holds the domain nobody');
  });

  // It read every page of the client list to prove the endpoint a switcher's: on a switcher with
  // 60,000 clients, 60 requests for a mistyped domain.
  it('a domain nobody holds: one page of the client list proves the endpoint, not all', async ({
    expect,
  }) => {
    // (`clients` reads /paged too, in the tests before these.)
    const mark = requests.length;
    const r = await runCliToEnd(['kick', 'nobody', '--admin', `${admin}/paged`, '-t', TOKEN]);
    expect(r.code, r.stderr).toBe(12);
    expect(r.stderr).toContain('no node holds the domain nobody');
    expect(requests.slice(mark).filter((q) => q.url.startsWith('/paged/'))).toEqual([
      { method: 'DELETE', url: '/paged/api/v1/clients/nobody', auth: `Bearer ${TOKEN}` },
      { method: 'GET', url: '/paged/api/v1/clients', auth: `Bearer ${TOKEN}` },
    ]);
  });

  it('a 404 from something that is not the admin API (a wrong path) exits 11, not 12', async ({ expect }) => {
    // Every path under /wrong answers 404: the domain is not what is missing.
    const r = await runCliToEnd(['kick', 'alice', '--admin', `${admin}/wrong`, '-t', TOKEN]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain(
      'the admin API answered 404: {"error":"not found"} (--admin must be the address that flexmux switcher --admin serves) [CLI_ADMIN]',
    );
    expect(r.stderr).not.toContain('no node holds');
  });

  it('a server error exits 11 with its answer', async ({ expect }) => {
    const r = await runCliToEnd(['kick', 'broken', '--admin', admin, '-t', TOKEN]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain('the admin API answered 500: {"error":"boom"}');
  });
});

/** Runs `flexmux ARGS` with its stdout on /dev/full (a disk that filled up); resolves with the end. */
async function onFullDisk(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  const full = await open('/dev/full', 'w');
  let child: CliChild;
  try {
    child = runCli(args, { stdout: full.fd });
  } finally {
    await full.close();
  }
  return { code: await child.exited, stderr: child.stderr };
}

// The result went to a stdout that failed, and the command still exited 0: the write's error came
// after the process had ended.
describe.concurrent('a stdout that fails', () => {
  it('clients on a full disk: exit 13, stdout named', async ({ expect }) => {
    for (const json of [[], ['--json']]) {
      const r = await onFullDisk(['clients', ...json, '--admin', admin, '-t', TOKEN]);
      expect(r.code, r.stderr).toBe(13);
      expect(r.stderr).toMatch(
        /^flexmux clients: stdout failed before the list went out: ENOSPC: .*\[CLI_IO\]$/m,
      );
    }
  });

  it('kick on a full disk: exit 13, saying that the node was kicked', async ({ expect }) => {
    const r = await onFullDisk(['kick', 'alice', '--reason', 'full-disk', '--admin', admin, '-t', TOKEN]);
    expect(r.code, r.stderr).toBe(13);
    expect(r.stderr).toMatch(
      /^flexmux kick: stdout failed after alice was kicked, before saying so: ENOSPC: .*\[CLI_IO\]$/m,
    );
    expect(requests.map((q) => q.url)).toContain('/api/v1/clients/alice?reason=full-disk');
  });

  it('clients whose reader went away (`| head -0`): exit 141, quietly, as SIGPIPE ends a command', async ({
    expect,
  }) => {
    const child = runCli(['clients', '--admin', admin, '-t', TOKEN]);
    // The reader closes its end before the list comes (the child is still starting).
    child.proc.stdout?.destroy();
    expect(await child.exited, child.stderr).toBe(141);
    expect(child.stderr).toBe('');
  });
});

describe('against a real switcher with --admin', () => {
  it('lists its nodes and kicks one', async ({ expect }) => {
    const env = { FLEXMUX_PASSWORD: 'p', FLEXMUX_ADMIN_TOKEN: TOKEN };
    const sw = runCli(['switcher', '--tcp', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { env });
    const ready = await sw.waitForLog('switcher ready');
    const listening = await sw.waitForLog('admin API listening');
    const url = String(listening.url);
    // One line for the admin server's start, with the admin module's fields: the module's own
    // 'admin server listening' used to come with the command's.
    expect(listening).toMatchObject({ mode: 'switcher', token: true });
    const tcp = (ready.listeners as string[])[0];
    const node = runCli(['node', '-s', tcp, '-d', 'alice', '--admin', '127.0.0.1:0'], { env });
    const nodeAdmin = String((await node.waitForLog('admin API listening')).url);
    await node.waitForLog('session ready');
    // The node's admin server starts before its session, and shows the session once it is there.
    const info = async (): Promise<Record<string, unknown>> => {
      const res = await fetch(`${nodeAdmin}api/v1/info`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    expect(await info()).toMatchObject({ mode: 'node', domain: 'alice', state: 'ready', connections: 1 });

    // A node's admin API has no client list: its JSON error is quoted, with what --admin needs.
    const wrong = await runCliToEnd(['clients', '--admin', nodeAdmin], { env });
    expect(wrong.code).toBe(11);
    expect(wrong.stderr).toBe(
      'flexmux clients: the admin API answered 404: /api/v1/clients is served only for a switcher (--admin must be the address that flexmux switcher --admin serves) [CLI_ADMIN]\n',
    );

    const list = await runCliToEnd(['clients', '--admin', url], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^alice\s+\d+\s+127\.0\.0\.1:\d+\s+0\s/m);

    const json = await runCliToEnd(['clients', '--json', '--admin', url], { env });
    const before = (JSON.parse(json.stdout) as { clients: { id: number }[] }).clients[0].id;
    const beforeKick = node.logs.length;
    const kick = await runCliToEnd(['kick', 'alice', '--admin', url, '--reason', 'test'], { env });
    expect(kick.code).toBe(0);
    await sw.waitForLog('kicking client', (l) => l.domain === 'alice');
    // The node loses its connection and comes back by itself.
    await node.nextLog('session ready', { after: beforeKick });
    expect(await info()).toMatchObject({ state: 'ready', connections: 2 });
    // A kick aimed at the connection it had, late: the one it has now stays.
    const late = await runCliToEnd(['kick', 'alice', '--id', String(before), '--admin', url], { env });
    expect(late.code).toBe(12);
    expect(late.stderr).toContain(`not ${before}: not kicked`);
    expect(await info()).toMatchObject({ state: 'ready', connections: 2 });

    const none = await runCliToEnd(['kick', 'carol', '--admin', url], { env });
    expect(none.code).toBe(12);
    // An id the admin server would refuse (it takes 1 to 15 digits) is bad usage, found before
    // any request: not the server's 400 as an admin failure (exit 11), nor `not held` (exit 12).
    for (const domain of ['carol', 'alice']) {
      const huge = await runCliToEnd(['kick', domain, '--id', '1234567890123456', '--admin', url], { env });
      expect(huge.code).toBe(2);
      expect(huge.stderr).toContain("option '--id <n>' argument '1234567890123456' is invalid");
      expect(huge.stderr).toContain('at most 15 digits');
    }
    // Likewise a reason the admin server would refuse (over 200 characters, or not printable):
    // it used to reach the server, whose 400 ended the command as an admin failure (exit 11).
    for (const reason of ['r'.repeat(201), 'line\nbreak']) {
      const bad = await runCliToEnd(['kick', 'alice', '--reason', reason, '--admin', url], { env });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('at most 200 printable characters');
    }
    expect(await info()).toMatchObject({ state: 'ready', connections: 2 });
    const denied = await runCliToEnd(['clients', '--admin', url, '--token', 'wrong'], { env });
    expect(denied.code).toBe(11);

    // Each key once per log line (the logger adds pid itself; a call site must not repeat it),
    // over everything both processes logged: start-up, admission, the kick and the reconnect.
    const lines = `${sw.stderr}\n${node.stderr}`.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(6);
    for (const line of lines) expect(repeatedLogKeys(line), line).toEqual([]);
    expect(sw.logs.filter((l) => /^admin (API|server) listening$/.test(l.msg))).toHaveLength(1);
  });
});
