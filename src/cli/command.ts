import type { Command } from 'commander';
import { applyConfig, type ConfigData, loadConfigFile } from './config-file.js';
import { type CliLogger, createLogger } from './log.js';
import type { CommonOpts } from './options.js';

/**
 * What every command module exports: its commander definition and what it runs. The program
 * (program.ts) resolves settings (flags > environment > config file > defaults), makes the
 * logger, runs the command and turns its result into the exit code.
 */

export interface CommandContext {
  cmd: Command;
  /** Positional arguments, as commander parsed them. */
  args: readonly unknown[];
  logger: CliLogger;
  /** Config-file settings without a flag (listed in `extraKeys`), e.g. the switcher's `access`. */
  extras: ConfigData;
}

export interface CliCommand {
  command: Command;
  extraKeys?: readonly string[];
  /**
   * Reloads on SIGHUP (reload-signal.ts): a SIGHUP that came while the program started is held
   * for it. Any other command is given such a SIGHUP back (it ends the process).
   */
  reloads?: boolean;
  /** Resolves with the exit code; throws for failures (mapped by exit.ts). */
  run(ctx: CommandContext): Promise<number>;
}

export interface Invocation {
  command: CliCommand;
  args: readonly unknown[];
}

/** Registers `c` on `program`; `onRun` receives the invocation once commander has parsed argv. */
export function mount(program: Command, c: CliCommand, onRun: (inv: Invocation) => void): void {
  c.command.action((...all: unknown[]) => {
    // commander passes the positional arguments, then the options object, then the command.
    onRun({ command: c, args: all.slice(0, -2) });
  });
  program.addCommand(c.command);
}

/** Settings from the config file, then the logger: what a command needs before it runs. */
export function prepare(inv: Invocation): CommandContext {
  const cmd = inv.command.command;
  const file = cmd.opts<CommonOpts>().config;
  const extras =
    file === undefined ? {} : applyConfig(cmd, loadConfigFile(file), file, inv.command.extraKeys);
  const o = cmd.opts<CommonOpts>();
  const logger = createLogger({ level: o.logLevel, format: o.logFormat });
  return { cmd, args: inv.args, logger, extras };
}
