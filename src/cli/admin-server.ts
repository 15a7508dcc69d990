import type { AdminNode, AdminServer, CliMetricsSources } from '../admin/index.js';
import type { Switcher } from '../switcher/index.js';
import type { Logger } from '../util/logger.js';
import { listenFailure } from './exit.js';
import type { HostPort } from './parse.js';

/**
 * `--admin HOST:PORT` of `switcher` and `node`: the admin HTTP API, metrics and dashboard
 * (src/admin). The admin module refuses a non-loopback address without a token (exit 2); on
 * loopback the CLI only warns. The admin module (and prom-client under it) is loaded here, so
 * commands without `--admin` start without it. `metrics` are the command's own series (reloads,
 * certificate expiry), added to the admin server's registry.
 */
export async function startCliAdmin(
  what: { switcher: Switcher } | { node: AdminNode },
  at: HostPort,
  token: string | undefined,
  logger: Logger,
  metrics?: CliMetricsSources,
): Promise<AdminServer> {
  const adminModule = await import('../admin/index.js');
  let admin: AdminServer;
  try {
    admin = await adminModule.startAdmin({ ...what, host: at.host, port: at.port, token, logger });
  } catch (err) {
    throw listenFailure(err, at, 'the admin API');
  }
  if (metrics !== undefined) adminModule.cliMetrics(admin.registry, metrics);
  if (token === undefined)
    logger.warn({ url: admin.url }, 'admin API without a token: local users may use it');
  return admin;
}
