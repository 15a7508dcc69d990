import { CliError } from './exit.js';

/**
 * stdout at the head of a pipeline (`flexmux dial X | head -c 100`, `flexmux ping Y | head -3`).
 * Node ignores SIGPIPE, so a reader that went away shows up as an EPIPE error of a write instead
 * of ending the process; and writes to a full pipe are queued, so that error can come after the
 * command has otherwise finished, for bytes it took for written.
 */

/**
 * Whether `err` says stdout's reader closed it: EPIPE, or ECONNRESET for a stdout that is a
 * socket (inetd, systemd's `Accept=yes`) whose peer reset it, the way a TCP reader goes away.
 * That one exited 1, an unexpected failure, with `write ECONNRESET` and nothing more.
 */
export function isOutputClosed(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET';
}

/**
 * stdout's reader gone as the CLI's own failure (exit 141); any other failure of stdout (a full
 * disk: ENOSPC) as local I/O (exit 13). That one went out as it was: exit 1, an unexpected
 * failure, in a line that did not name stdout.
 */
export function outputClosed(err: Error, what: string): Error {
  if (!isOutputClosed(err)) {
    return new CliError('CLI_IO', `stdout failed ${what}: ${err.message}`, { cause: err });
  }
  return new CliError('CLI_OUTPUT_CLOSED', `stdout was closed by its reader ${what}`, { cause: err });
}

/**
 * Resolves once everything written to `out` so far has left the process: with undefined when it
 * went out, with the error of the first write that failed (EPIPE: the reader closed the pipe).
 * Never rejects. As long as the reader neither reads nor closes, it waits, as `cat` would: a slow
 * reader (`| less`) is still owed the tail, so callers bound it by a signal, not by a clock.
 */
export function settled(out: NodeJS.WritableStream): Promise<Error | undefined> {
  return new Promise((resolve) => {
    // Queued behind every earlier write: its callback runs once they are all out, or with the
    // error of the first one that failed (Node hands it to every write still queued).
    out.write('', (err?: Error | null) => resolve(err ?? undefined));
  });
}
