import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { CLIENT_ID_RULE, parseClientId } from '../admin/client-id.js';
import { isHeaderToken } from '../admin/config.js';
import { isKickReason, KICK_REASON_RULE } from '../admin/kick-reason.js';
import type { Logger } from '../util/logger.js';
import type { CliCommand, CommandContext } from './command.js';
import { CliError } from './exit.js';
import { formatBytes } from './meter.js';
import { addCommonOptions, type CommonOpts, flag } from './options.js';
import { print } from './output.js';
import { parseDomain, parseTimeout } from './parse.js';
import { ADMIN_TOKEN_ENV, envSecret, readSecretFile } from './secret.js';

/**
 * `flexmux clients` and `flexmux kick DOMAIN`: clients of a switcher's admin HTTP API
 * (GET /api/v1/clients, DELETE /api/v1/clients/{domain}) with a bearer token.
 */

interface AdminOpts extends CommonOpts {
  admin?: string;
  token?: string;
  tokenFile?: string;
  timeout: number;
  json?: boolean;
  reason?: string;
  id?: number;
}

/** The admin API that `clients` and `kick` talk to. */
export const ADMIN_URL_ENV = 'FLEXMUX_ADMIN_URL';

function addAdminOptions(cmd: Command): Command {
  cmd
    // Not FLEXMUX_ADMIN: that is where `switcher --admin` and `node --admin` serve, and one
    // variable with two meanings would break either command in a shell that exported it.
    .addOption(
      flag('-a, --admin <url>', 'the admin API, e.g. http://127.0.0.1:7090 (required)').env(ADMIN_URL_ENV),
    )
    .addOption(flag('-t, --token <token>', 'bearer token').env(ADMIN_TOKEN_ENV))
    .addOption(flag('--token-file <file>', 'read the bearer token from a file'))
    .addOption(
      new Option('--timeout <duration>', 'time allowed for the request')
        .argParser((v) => parseTimeout(v))
        .default(10_000, '10s'),
    );
  return addCommonOptions(cmd, 'warn');
}

export function clientsCommand(): CliCommand {
  const cmd = new Command('clients')
    .description("list a switcher's nodes through its admin API")
    .addOption(flag('--json', 'print the API answer as JSON'));
  addAdminOptions(cmd);
  return { command: cmd, run: runClients };
}

export function kickCommand(): CliCommand {
  const cmd = new Command('kick')
    .description('disconnect the node holding DOMAIN through the admin API')
    .addArgument(new Argument('<domain>', 'the node to disconnect').argParser(parseDomain))
    .addOption(new Option('--reason <text>', 'why, for the switcher log').argParser(parseKickReason))
    .addOption(
      new Option(
        '--id <n>',
        'only if DOMAIN is still held by the connection of this id (see `clients`)',
      ).argParser(parseKickId),
    );
  addAdminOptions(cmd);
  return { command: cmd, run: runKick };
}

/**
 * `--id`: what the admin server takes in `?id=`, checked here. A longer id (16 digits still made
 * a safe integer) went out, and the server's 400 came back as an admin failure, exit 11.
 */
function parseKickId(text: string): number {
  const id = parseClientId(text.trim());
  if (id === undefined) throw new InvalidArgumentError(`expected ${CLIENT_ID_RULE}`);
  return id;
}

/**
 * `--reason`: what the admin server takes in `?reason=`, checked here. A longer one (or one with a
 * control character) went out, and the server's 400 came back as an admin failure, exit 11.
 */
function parseKickReason(text: string): string {
  if (!isKickReason(text)) throw new InvalidArgumentError(`expected ${KICK_REASON_RULE}`);
  return text;
}

function baseUrl(o: AdminOpts, env: NodeJS.ProcessEnv = process.env): URL {
  if (o.admin === undefined) {
    // FLEXMUX_ADMIN, set for `switcher --admin`, is the likely mistake: say which one is read.
    const hint =
      env.FLEXMUX_ADMIN === undefined
        ? ''
        : ` (FLEXMUX_ADMIN is set, but it is where switcher --admin serves; this command reads FLEXMUX_ADMIN_URL)`;
    throw new CliError(
      'CLI_USAGE',
      `the admin API address is required: --admin URL or FLEXMUX_ADMIN_URL${hint}`,
    );
  }
  // `HOST:PORT` is http://HOST:PORT, and `:PORT` 127.0.0.1's, as every address flag reads it:
  // the address `switcher --admin :7090` serves was refused here as an invalid URL.
  const address = o.admin.startsWith(':') ? `127.0.0.1${o.admin}` : o.admin;
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `http://${address}`;
  try {
    const u = new URL(text);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('use http:// or https://');
    return u;
  } catch (err) {
    throw new CliError('CLI_USAGE', `invalid --admin URL "${o.admin}": ${(err as Error).message}`);
  }
}

/**
 * The bearer token: `--token` given as a flag, else the token file (flag, FLEXMUX_TOKEN_FILE or
 * config), else FLEXMUX_ADMIN_TOKEN. The file wins over the variable, as for the password: an
 * explicit `--token-file` must not lose to a token exported for another switcher.
 */
function adminToken(cmd: Command, logger?: Pick<Logger, 'warn'>): string | undefined {
  const o = cmd.opts<AdminOpts>();
  const source = cmd.getOptionValueSource('token');
  // From the variable, trimmed as the switcher trims it (envSecret): a line ending a Kubernetes
  // secret carried in was refused as not printable ASCII, a token the switcher took.
  const token =
    o.tokenFile !== undefined && source !== 'cli'
      ? readSecretFile(o.tokenFile, 'admin token')
      : source === 'env'
        ? envSecret(ADMIN_TOKEN_ENV, 'admin token', process.env, logger)
        : o.token;
  if (token === undefined || token === '') return undefined;
  // What the admin server accepts. Anything else fetch refuses with a message that quotes the
  // whole header, token included, which then reached stderr.
  if (!isHeaderToken(token)) {
    throw new CliError('CLI_USAGE', 'the admin token must be printable ASCII without spaces');
  }
  return token;
}

async function request(cmd: Command, method: string, path: string): Promise<Response> {
  const o = cmd.opts<AdminOpts>();
  const url = new URL(path.replace(/^\//, ''), `${baseUrl(o).href.replace(/\/?$/, '/')}`);
  const token = adminToken(cmd);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, signal: AbortSignal.timeout(o.timeout) });
  } catch (err) {
    const cause =
      (err as Error).cause instanceof Error
        ? ((err as Error).cause as Error).message
        : (err as Error).message;
    throw new CliError('CLI_ADMIN', `cannot reach the admin API at ${url.origin}: ${why(cause, url)}`, {
      cause: err,
    });
  }
  if (res.status === 401) {
    // The server says which: no token sent, or not the one it has.
    const why = errorMessage(await res.text().catch(() => ''));
    // Where a token comes from, as the user may have meant to give it.
    const next =
      token === undefined
        ? "give the switcher's admin token: --token, --token-file FILE or FLEXMUX_ADMIN_TOKEN"
        : 'check the token given (--token, --token-file or FLEXMUX_ADMIN_TOKEN)';
    throw new CliError(
      'CLI_ADMIN',
      `the admin API refused the request (401${why ? `: ${why}` : ''}): ${next}`,
    );
  }
  if (res.status === 403) {
    // Not the token: the admin server answers 403 when the request's Host is not a name it
    // answers to (DNS rebinding guard, docs/admin.md); a proxy in front may refuse for its own
    // reasons. Its words, not a guess.
    const body = (await res.text().catch(() => '')).trim();
    const why = errorMessage(body) ?? body.slice(0, 200);
    throw new CliError('CLI_ADMIN', `the admin API refused the request (403)${why ? `: ${why}` : ''}`);
  }
  return res;
}

/**
 * What fetch's `bad port` means: the port is on the Fetch standard's list of ports it never
 * connects to (6000, 6665-6669, 10080...), as browsers refuse them too. `switcher --admin :6000`
 * serves there, and this command said only `bad port: fetch failed`, which read as a wrong flag.
 */
function why(cause: string, url: URL): string {
  if (cause !== 'bad port') return cause;
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  return `port ${port} is one fetch refuses to connect to, as browsers do (the Fetch standard's bad ports): serve the admin API on another port`;
}

/** The message of an admin API error body, `{"error": {"code", "message"}}` (docs/admin.md). */
function errorMessage(body: string): string | undefined {
  try {
    const m = (JSON.parse(body) as { error?: { message?: unknown } } | null)?.error?.message;
    return typeof m === 'string' && m !== '' ? m.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

async function failure(res: Response): Promise<CliError> {
  const body = (await res.text().catch(() => '')).trim();
  const why = errorMessage(body) ?? body.slice(0, 200);
  // Only a path the server does not serve answers 404 here: --admin is not a switcher's admin
  // API (a node's, which has no client list; a listener of the switcher's; a wrong path).
  const hint =
    res.status === 404 ? ' (--admin must be the address that flexmux switcher --admin serves)' : '';
  return new CliError('CLI_ADMIN', `the admin API answered ${res.status}${why ? `: ${why}` : ''}${hint}`);
}

type Row = Record<string, unknown>;

function rows(body: unknown): Row[] {
  const list = Array.isArray(body) ? body : (body as { clients?: unknown } | null)?.clients;
  if (!Array.isArray(list))
    throw new CliError('CLI_ADMIN', 'the admin API answered something other than a client list');
  return list.filter((r): r is Row => r !== null && typeof r === 'object');
}

function cell(v: unknown, kind: 'text' | 'bytes' | 'ms' | 'since'): string {
  if (v === undefined || v === null) return '-';
  if (kind === 'since' && (typeof v === 'number' || typeof v === 'string')) {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().replace(/\.\d+Z$/, 'Z');
  }
  if (typeof v !== 'number') return String(v);
  if (kind === 'bytes') return formatBytes(v);
  if (kind === 'ms') return `${v.toFixed(1)} ms`;
  return String(v);
}

/** Heading, the field(s) holding it (the first present wins), and how to print it. */
const COLUMNS: readonly [string, readonly string[], 'text' | 'bytes' | 'ms' | 'since'][] = [
  ['DOMAIN', ['domain'], 'text'],
  ['IP', ['ip'], 'text'],
  ['REMOTE', ['remoteAddress'], 'text'],
  ['STREAMS', ['streams'], 'text'],
  ['IN', ['bytesIn'], 'bytes'],
  ['OUT', ['bytesOut'], 'bytes'],
  ['RTT', ['rttMs', 'rtt'], 'ms'],
  ['CONNECTED', ['connectedAt'], 'since'],
  // Last, so that scripts reading the columns by position still find theirs: the connection's
  // id, for `kick --id`.
  ['ID', ['id'], 'text'],
];

/** The client list as an aligned table, one node per line. */
export function formatTable(list: readonly Row[]): string {
  const field = (r: Row, keys: readonly string[]): unknown =>
    r[keys.find((k) => r[k] !== undefined) ?? keys[0]];
  const table = [
    COLUMNS.map((c) => c[0]),
    ...list.map((r) => COLUMNS.map(([, keys, kind]) => cell(field(r, keys), kind))),
  ];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Pages of the client list read at most, a guard against a server whose `next` runs on. */
const MAX_PAGES = 1_000;

/**
 * The answer of GET /api/v1/clients, as JSON, with every page: the admin server answers the
 * list in pages (1,000 clients by default) and says in `next` where the next one starts, so
 * with more clients the command used to print the first 1,000 only. Pages after the first are
 * added to its `clients` (and `next` is then null); a server that does not page sends no
 * `next`, and its answer is printed as it came. `next` is a cursor (a string, sent back as
 * `?cursor=`): the next page resumes after the last client read, so clients that join or leave
 * meanwhile cost none that stayed. An older server's `next` is an offset (a number), followed as
 * such; there a client that left between two pages made the next skip one that stayed.
 */
async function fetchClients(cmd: Command): Promise<unknown> {
  const first = await fetchJson(cmd, '/api/v1/clients');
  let next = nextPage(first, 0);
  if (next === null) return first;
  const clients: unknown[] = [...rows(first)];
  for (let pages = 1; next !== null && pages < MAX_PAGES; pages++) {
    const query = typeof next === 'string' ? `cursor=${encodeURIComponent(next)}` : `offset=${next}`;
    const page = await fetchJson(cmd, `/api/v1/clients?${query}`);
    clients.push(...rows(page));
    next = nextPage(page, next);
  }
  return { ...(first as object), next: null, clients };
}

/**
 * The `next` of a page: a cursor other than the one just followed, or an offset past the one
 * just followed (else it would ask for a page again).
 */
function nextPage(body: unknown, prev: number | string): number | string | null {
  const n = (body as { next?: unknown } | null)?.next;
  if (typeof n === 'string') return n !== '' && n !== prev ? n : null;
  return typeof n === 'number' && Number.isSafeInteger(n) && typeof prev === 'number' && n > prev ? n : null;
}

async function fetchJson(cmd: Command, path: string): Promise<unknown> {
  const res = await request(cmd, 'GET', path);
  if (!res.ok) throw await failure(res);
  try {
    return await res.json();
  } catch (err) {
    // --timeout covers the body too: a body cut off by it is no JSON error.
    if ((err as Error).name === 'TimeoutError') {
      const ms = cmd.opts<AdminOpts>().timeout;
      throw new CliError('CLI_ADMIN', `the admin API did not finish its answer within ${ms} ms`, {
        cause: err,
      });
    }
    throw new CliError('CLI_ADMIN', 'the admin API answered with invalid JSON');
  }
}

async function runClients(ctx: CommandContext): Promise<number> {
  const o = ctx.cmd.opts<AdminOpts>();
  // Read once first, for what reading it warns of: each request reads it again.
  adminToken(ctx.cmd, ctx.logger);
  const body = await fetchClients(ctx.cmd);
  if (o.json) return await print(`${JSON.stringify(body, null, 2)}\n`, 'before the list went out');
  const list = rows(body);
  return await print(
    list.length === 0 ? 'no clients\n' : `${formatTable(list)}\n`,
    'before the list went out',
  );
}

/**
 * `kick --id`: fails with CLI_NOT_FOUND when the switcher lists another connection as the holder
 * of `domain`. A switcher older than `?id=` ignores it and kicks whoever holds the domain (its
 * answer has no `kicked.id`): `--id` would have guarded nothing there. A newer one checks again
 * with the kick itself, with no gap; an older one is checked here, a round trip before it. Any
 * other answer (nobody holds it, an error) is left to the kick, which reports it as without --id.
 */
async function checkHolder(cmd: Command, domain: string, id: number): Promise<void> {
  const res = await request(cmd, 'GET', `/api/v1/clients/${encodeURIComponent(domain)}`);
  const body: unknown = res.ok ? await res.json().catch(() => undefined) : await res.body?.cancel();
  const held = (body as { client?: { id?: unknown } } | undefined)?.client?.id;
  if (typeof held === 'number' && held !== id) {
    throw new CliError(
      'CLI_NOT_FOUND',
      `the domain "${domain}" is held by connection ${held}, not ${id}: not kicked`,
    );
  }
}

async function runKick(ctx: CommandContext): Promise<number> {
  const o = ctx.cmd.opts<AdminOpts>();
  const domain = ctx.args[0] as string;
  adminToken(ctx.cmd, ctx.logger);
  const params: string[] = [];
  if (o.reason !== undefined) params.push(`reason=${encodeURIComponent(o.reason)}`);
  // The connection the operator saw: a node that reconnected since is another one, left alone.
  if (o.id !== undefined) params.push(`id=${o.id}`);
  const query = params.length === 0 ? '' : `?${params.join('&')}`;
  if (o.id !== undefined) await checkHolder(ctx.cmd, domain, o.id);
  const res = await request(ctx.cmd, 'DELETE', `/api/v1/clients/${encodeURIComponent(domain)}${query}`);
  if (res.status === 409 && o.id !== undefined) {
    const why = errorMessage(await res.text().catch(() => ''));
    throw new CliError(
      'CLI_NOT_FOUND',
      why ?? `connection ${o.id} no longer holds the domain ${domain}: not kicked`,
    );
  }
  if (res.status === 404) {
    // Any HTTP server answers 404 for a path it does not serve (a wrong --admin path, a node's
    // admin API): only a switcher's client list proves the domain, not the endpoint, was missing.
    // Its first page proves it: reading every page (one per 1,000 clients) only to drop them made
    // a kick of a mistyped domain on a switcher of 60,000 clients cost 60 requests.
    await res.body?.cancel();
    rows(await fetchJson(ctx.cmd, '/api/v1/clients'));
    throw new CliError('CLI_NOT_FOUND', `no node holds the domain ${domain}`);
  }
  if (!res.ok) throw await failure(res);
  await res.body?.cancel();
  // The node was kicked all the same: a failed stdout says only that this line was lost.
  return await print(`kicked ${domain}\n`, `after ${domain} was kicked, before saying so`);
}
