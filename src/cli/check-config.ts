import { type Command, Option } from 'commander';
import type { AdminNode } from '../admin/config.js';
import { print } from './output.js';
import type { HostPort } from './parse.js';

/**
 * `--check-config` of `switcher` and `node`, as `nginx -t`: every setting resolved and every file
 * it names read and checked as a start would, then one line on stdout and exit 0, or the start's
 * own error line and exit code; nothing bound, connected or started. A reload runs the same check
 * on the config file as it is then (reload.ts, `startCheck`, made by check-again.ts): a file that
 * would not start the command is said at the reload, not at the next restart.
 */

export const CONFIG_OK = 'configuration OK';

/** The switch, on `switcher` and `node`. Not a config-file setting (config-file.ts). */
export function addCheckConfigOption(cmd: Command): Command {
  return cmd.addOption(
    new Option(
      '--check-config',
      'check the settings and every file they name as a start would, print "configuration OK" and exit; nothing is started',
    ),
  );
}

/**
 * The admin server's own checks of its address and token (startAdmin's: a token that cannot
 * travel in a header, no token on an address other machines reach), without starting it. The
 * admin module is loaded here only, as startCliAdmin does, so a check without --admin skips it.
 */
export async function checkAdmin(at: HostPort, token: string | undefined): Promise<void> {
  const { validateAdminOptions } = await import('../admin/config.js');
  // What it serves does not matter to the checks: an empty node stands for either.
  validateAdminOptions({ node: {} as AdminNode, host: at.host, port: at.port, token });
}

/**
 * Says the configuration passed, with what a start would run (`summary`), on stdout; resolves
 * with the exit code once that went out (a stdout that failed: 13 or 141, output.ts).
 */
export function reportOk(summary: string): Promise<number> {
  return print(`${CONFIG_OK}: ${summary}\n`, 'after the check passed, before saying so');
}
