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
