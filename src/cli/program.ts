import { readFileSync } from 'node:fs';
import { Command, CommanderError, type OutputConfiguration } from 'commander';
import { clientsCommand, kickCommand } from './admin-client.js';
import { type Invocation, mount, prepare } from './command.js';
import { dialCommand } from './dial.js';
import { describeError, ExitCode, exitCodeOf, nextStep } from './exit.js';
import { nodeCommand } from './node.js';
import { forgetEmptyVariables } from './options.js';
import { emit, emitted } from './output.js';
import { pingCommand } from './ping.js';
import { releaseEarlySighup } from './reload-signal.js';
import { switcherCommand } from './switcher.js';

/** argv -> command -> exit code. Nothing here knows what a command does. */

function version(): string {
  try {
    // src/cli and dist/cli both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Where commander writes. Its own usage errors ("error: unknown option '--x'") are reworded to
 * the line every other failure prints (docs/cli.md): `flexmux COMMAND: what went wrong [CODE]`.
 */
function output(prefix: string): OutputConfiguration {
  return {
    writeOut: (s) => emit(s),
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => write(usageLine(prefix, s)),
  };
}

/** commander's `error: MESSAGE` as `PREFIX: MESSAGE [CLI_USAGE]`. */
function usageLine(prefix: string, text: string): string {
  const message = text.trim().replace(/^error: /, '');
  return `${prefix}: ${message} [CLI_USAGE]\n`;
}

/**
 * commander wraps an option's description only when the column left for it is at least
 * `minWidthToWrap` (40) wide; node's longest flag (`-f, --forward <localport=domain:port>`) leaves
 * 39 of 80, so its whole help went unwrapped. A lower bound keeps every command within 80 columns.
 * The texts added after the options (addHelpText) are not wrapped by commander: they are written
 * within 80 columns by hand, which test/integration/cli.test.ts checks.
 */
const HELP = { minWidthToWrap: 30 };

export function buildProgram(onRun: (inv: Invocation) => void): Command {
  const program = new Command('flexmux')
    .description('flex stream multiplexing: run a switcher, serve and reach services through it')
    .version(version(), '-V, --version')
    .exitOverride()
    .configureHelp(HELP)
    .showHelpAfterError('(run flexmux --help for usage)')
    .configureOutput(output('flexmux'));
  mount(program, switcherCommand(), onRun);
  mount(program, nodeCommand(), onRun);
  mount(program, dialCommand(), onRun);
  mount(program, pingCommand(), onRun);
  mount(program, clientsCommand(), onRun);
  mount(program, kickCommand(), onRun);
  for (const c of program.commands) {
    c.configureHelp(HELP)
      .exitOverride()
      .configureOutput(output(`flexmux ${c.name()}`))
      .showHelpAfterError(`(run flexmux ${c.name()} --help for usage)`);
  }
  program.addHelpText(
    'after',
    "\nRun flexmux COMMAND --help for a command's flags; docs/cli.md has them all.",
  );
  return program;
}

/**
 * `flexmux help NAME` for a NAME that is no command: commander printed the whole help on stderr
 * and exited 2 without saying what was wrong (a typo, `help pign`, looked like a failure of the
 * help itself). Refused with the line an unknown command gets (docs/cli.md).
 */
function refuseUnknownHelpTopic(program: Command, argv: readonly string[]): void {
  const [word, topic] = argv.slice(2);
  // `help help` names the help command itself, which commander lists but does not hold.
  if (word !== 'help' || topic === undefined || topic === 'help' || topic.startsWith('-')) return;
  if (program.commands.some((c) => c.name() === topic || c.aliases().includes(topic))) return;
  program.error(`unknown command '${topic}'`, { code: 'commander.unknownCommand', exitCode: 2 });
}

/** Runs the CLI on `argv` (process.argv shape) and resolves with the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  forgetEmptyVariables(process.env);
  let invocation: Invocation | null = null;
  const program = buildProgram((inv) => {
    invocation = inv;
  });
  try {
    refuseUnknownHelpTopic(program, argv);
    await program.parseAsync([...argv]);
  } catch (err) {
    // commander has already printed its message (or the help/version text).
    if (!(err instanceof CommanderError)) throw err;
    if (exitCodeOf(err) !== ExitCode.OK) return exitCodeOf(err);
    // --help and --version: their text is the command's result. On a stdout that failed (a full
    // disk, a reader gone) it was lost, and the command exited 0 all the same.
    try {
      return await emitted(`before the ${err.code === 'commander.version' ? 'version' : 'help'} went out`);
    } catch (failed) {
      process.stderr.write(`flexmux: ${describeError(failed)}\n`);
      return exitCodeOf(failed);
    }
  }
  const inv = invocation as Invocation | null;
  if (inv?.command.reloads !== true) releaseEarlySighup();
  if (inv === null) {
    program.outputHelp({ error: true });
    return ExitCode.USAGE;
  }
  try {
    const ctx = prepare(inv);
    return await inv.command.run(ctx);
  } catch (err) {
    const name = inv.command.command.name();
    // Bad usage found while running (no domain, a value the library refuses) ends like
    // commander's own usage errors: with the hint docs/cli.md promises; a refused dial says
    // what to check.
    const hint = nextStep(err, name);
    process.stderr.write(`flexmux ${name}: ${describeError(err)}\n${hint === undefined ? '' : `${hint}\n`}`);
    return exitCodeOf(err);
  }
}
