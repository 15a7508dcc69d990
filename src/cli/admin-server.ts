import { type Command, InvalidArgumentError } from 'commander';
import { isHostName, isLoopback } from '../admin/config.js';
import type { AdminNode, AdminServer, CliMetricsSources } from '../admin/index.js';
import type { Switcher } from '../switcher/index.js';
import type { Logger } from '../util/logger.js';
import { ADMIN_LOST, warnBrowserBlockedPort } from './bad-ports.js';
import { CliError, listenFailure } from './exit.js';
import { flag } from './options.js';
import { collect, formatHostPort, type HostPort, parseHostPort } from './parse.js';
import { ADMIN_TOKEN_ENV, findSecret } from './secret.js';

/**
 * `--admin`, `--admin-token-file` and `--admin-allowed-host`, as `switcher` and `node` both take
 * them; `what` is the help of `--admin`.
 */
export function addAdminOptions(cmd: Command, what: string): void {
  cmd
    .addOption(flag('--admin <host:port>', what).argParser((v) => parseHostPort(v)))
    .addOption(flag('--admin-token-file <file>', `admin API bearer token (else ${ADMIN_TOKEN_ENV})`))
    .addOption(
      flag(
        '--admin-allowed-host <name>',
        'a Host name the admin API answers besides loopback ones (repeatable)',
      ).argParser(collect(parseAllowedHost)),
    );
}

/**
 * The token of `--admin` (`--admin-token-file`, else FLEXMUX_ADMIN_TOKEN), refused (exit 2) when
 * none is given for an address other machines reach. The admin module refuses that too, but in
 * its own option names ('set a token'), and only once the switcher's listeners were up and the
 * generated password printed: called before any of that, in the flags a user can set.
 */
export function cliAdminToken(
  at: HostPort,
  file: string | undefined,
  logger?: Pick<Logger, 'warn'>,
): string | undefined {
  const token = findSecret({ file, env: ADMIN_TOKEN_ENV, what: 'admin token' }, process.env, logger);
  if (token === undefined && !isLoopback(at.host)) {
    throw new CliError(
      'CLI_USAGE',
      `--admin ${formatHostPort(at)} is reachable from other machines: give it a token (${ADMIN_TOKEN_ENV} or --admin-token-file FILE), or serve it on 127.0.0.1`,
    );
  }
  return token;
}

/** A value of `--admin-allowed-host`: a host name or address, without a port (else exit 2). */
export function parseAllowedHost(text: string): string {
  if (!isHostName(text)) throw new InvalidArgumentError('expected a host name or address, without a port');
  return text;
}

/**
 * `--admin HOST:PORT` of `switcher` and `node`: the admin HTTP API, metrics and dashboard
 * (src/admin). The admin module refuses a non-loopback address without a token (exit 2); on
 * loopback the CLI only warns. The admin module (and prom-client under it) is loaded here, so
 * commands without `--admin` start without it. `metrics` are the command's own series (reloads,
 * certificate expiry), added to the admin server's registry with prom-client's process series.
 * `allowedHosts`: the Host names it answers besides loopback ones (`--admin-allowed-host`,
 * docs/admin.md).
 */
export async function startCliAdmin(
  what: { switcher: Switcher } | { node: AdminNode },
  at: HostPort,
  token: string | undefined,
  logger: Logger,
  metrics?: CliMetricsSources,
  allowedHosts?: readonly string[],
): Promise<AdminServer> {
  const adminModule = await import('../admin/index.js');
  let admin: AdminServer;
  try {
    admin = await adminModule.startAdmin({
      ...what,
      host: at.host,
      port: at.port,
      token,
      logger,
      allowedHosts,
      // The process is the command's alone: its memory, CPU, event-loop lag and handles are the
      // switcher's or node's, and an operator has no other way to have them (no flag sets it).
      processMetrics: true,
    });
  } catch (err) {
    throw listenFailure(err, at, 'the admin API');
  }
  warnBrowserBlockedPort(at, 'the admin API', ADMIN_LOST, logger);
  if (metrics !== undefined) adminModule.cliMetrics(admin.registry, metrics);
  if (token === undefined)
    logger.warn({ url: admin.url }, 'admin API without a token: local users may use it');
  return admin;
}
