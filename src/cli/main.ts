#!/usr/bin/env node
/** The `flexmux` binary: runs the CLI and exits with its code once stdout has drained. */
import { tuneGarbageCollector } from './gc-tuning.js';
import { holdEarlySighup } from './reload-signal.js';

// First, before the rest of the CLI is loaded (imported below, which takes a few hundred ms): a
// SIGHUP from now on is held for the command (a `systemctl reload` right after the start), not
// the end of the process.
holdEarlySighup();

// Before any socket is read: on Node 24 a relay otherwise reclaims its read buffers by full GCs.
tuneGarbageCollector();

const [{ describeError, ExitCode }, { run }] = await Promise.all([
  import('./exit.js'),
  import('./program.js'),
]);

// stderr whose reader went away (`2>&1 | head`, a log collector restarted): what goes there is
// lost, and nothing more. Unheard, the EPIPE of a `--stats` line or summary, or of the error line,
// ended the process as an unhandled 'error': exit 1, a transfer cut short or its exit code hidden.
// (The logs write to fd 2 on their own, and drop their lines then: log.ts.)
process.stderr.on('error', () => {});

function exit(code: number): void {
  // Logs go out synchronously; stdout may still hold the tail of a dial's data or a report.
  // Not after a signal: that data belongs to a transfer cut off (the stream was reset), and a
  // reader that stopped reading would keep the process alive until a second signal. Nor after
  // stdout was closed by its reader: the tail has nowhere to go.
  const interrupted = code === ExitCode.SIGINT || code === ExitCode.SIGTERM || code === ExitCode.SIGPIPE;
  if (interrupted || process.stdout.writableLength === 0) process.exit(code);
  process.stdout.write('', () => process.exit(code));
}

run(process.argv).then(exit, (err: unknown) => {
  process.stderr.write(`flexmux: unexpected failure: ${describeError(err)}\n`);
  if (err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  exit(ExitCode.FAILURE);
});
