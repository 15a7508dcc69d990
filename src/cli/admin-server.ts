import type { AdminNode, AdminServer } from '../admin/index.js';
import type { Switcher } from '../switcher/index.js';
import type { Logger } from '../util/logger.js';
import { CliError } from './exit.js';
import { formatHostPort, type HostPort } from './parse.js';

/**
 * `--admin HOST:PORT` of `switcher` and `node`: the admin HTTP API, metrics and dashboard
 * (src/admin). The admin module refuses a non-loopback address without a token (exit 2); on
 * loopback the CLI only warns. The admin module (and prom-client under it) is loaded here, so
 * commands without `--admin` start without it.
 */
export async function startCliAdmin(
  what: { switcher: Switcher } | { node: AdminNode },
  at: HostPort,
  token: string | undefined,
  logger: Logger,
): Promise<AdminServer> {
  const { startAdmin } = await import('../admin/index.js');
  let admin: AdminServer;
  try {
    admin = await startAdmin({ ...what, host: at.host, port: at.port, token, logger });
  } catch (err) {
    // An operating-system error (it has a syscall) is local I/O, exit 13, as for the listeners:
    // a name that does not resolve (ENOTFOUND, EAI_AGAIN) is no errno exit.ts knows, and exited 1.
    // A ConfigError (a bad option) stays a usage error.
    if (typeof (err as NodeJS.ErrnoException).syscall !== 'string') throw err;
    throw new CliError(
      'CLI_IO',
      `cannot listen on ${formatHostPort(at)} for the admin API: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (token === undefined)
    logger.warn({ url: admin.url }, 'admin API without a token: local users may use it');
  logger.info({ url: admin.url }, 'admin API listening');
  return admin;
}
