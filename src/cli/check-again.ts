import type { Command } from 'commander';
import { type ConfigData, settingsAgain } from './config-file.js';
import type { ReloadPlan } from './reload.js';

/**
 * The reload's start check (ReloadPlan.startCheck) of `switcher` and `node`: the config file as
 * it is at the reload, with this start's flags and variables, put through the command's own
 * --check-config check (check-config.ts). The commands differ only in that check and in the
 * file's sections it reads besides the options (`extraKeys`: the switcher's `access`).
 */

export type StartCheck = NonNullable<ReloadPlan['startCheck']>;

/** No check without a config file: flags and variables alone do not change under a reload. */
export function checkAgain<O>(
  cmd: Command,
  file: string | undefined,
  check: (opts: O, extras: ConfigData) => Promise<unknown>,
  extraKeys: readonly string[] = [],
): StartCheck | undefined {
  if (file === undefined) return undefined;
  return {
    file,
    check: async () => {
      // Read when the reload runs, not now: the file is what changed.
      const { opts, extras } = settingsAgain(cmd, file, extraKeys);
      // The options as the command's own check takes them: settingsAgain resolves every one of
      // the command's options, from the flags, the variables, the file or the defaults.
      await check(opts as unknown as O, extras);
    },
  };
}
