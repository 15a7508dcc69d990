import { isDeepStrictEqual } from 'node:util';
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

/** `maxClients` as the config file spells it: `max-clients`. */
const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The settings of `cmd` that `opts` (resolved again from the file) gives another value than the
 * one in use since start, but `reloaded` (what the reload applies) leaves out: only a restart
 * applies them. A flag or variable wins over the file, so only what the file sets can differ.
 */
function changedSinceStart(
  cmd: Command,
  opts: Record<string, unknown>,
  reloaded: readonly string[],
): string[] {
  const inUse = cmd.opts();
  const keys = new Set(cmd.options.map((o) => o.attributeName()));
  return [...keys].filter((k) => !reloaded.includes(k) && !isDeepStrictEqual(inUse[k], opts[k])).map(kebab);
}

/**
 * No check without a config file: flags and variables alone do not change under a reload. The
 * check resolves with the settings the file changes that the reload does not apply (`reloaded`
 * names those it does, by attribute name): without them, an operator who raised `max-clients` or
 * moved a listener and sent SIGHUP read `reloaded` and nothing on what was left as it was.
 */
export function checkAgain<O>(
  cmd: Command,
  file: string | undefined,
  check: (opts: O, extras: ConfigData) => Promise<unknown>,
  extraKeys: readonly string[] = [],
  reloaded: readonly string[] = [],
): StartCheck | undefined {
  if (file === undefined) return undefined;
  return {
    file,
    check: async (config) => {
      // Read when the reload runs, not now: the file is what changed. As the items read it.
      const { opts, extras } = settingsAgain(cmd, file, extraKeys, config(file));
      // The options as the command's own check takes them: settingsAgain resolves every one of
      // the command's options, from the flags, the variables, the file or the defaults.
      await check(opts as unknown as O, extras);
      return changedSinceStart(cmd, opts, reloaded);
    },
  };
}
