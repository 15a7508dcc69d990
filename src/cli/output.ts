import type { Writable } from 'node:stream';
import { CliError, ExitCode } from './exit.js';

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
 *
 * With nothing queued, it answers at once, from the stream's state, writing nothing: it learnt
 * that by writing an empty string, which a stdout that is a socket (a parent's socketpair, inetd's)
 * fails with EPIPE once its reader has gone, even a reader that took every byte. A complete
 * transfer whose reader left before the command ended (`dial --exit-on-remote-end` under a parent
 * that exits once it has read the remote's last bytes) was reset and exited 141, saying its stdout
 * had been closed before the transfer ended. A pipe takes an empty write without a word.
 */
export function settled(out: Writable): Promise<Error | undefined> {
  if (out.errored !== null) return Promise.resolve(out.errored);
  if (out.writableLength === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    // Queued behind every earlier write: its callback runs once they are all out, or with the
    // error of the first one that failed (Node hands it to every write still queued). The empty
    // write goes to the socket right after the last one taken: a reader would have to take that
    // and leave in between for it to fail where no byte was lost.
    out.write('', (err?: Error | null) => resolve(err ?? undefined));
  });
}

/** stdout's first error, once `hear` listens for them. */
let heard: Error | undefined;
let listening = false;

/**
 * Listens for stdout's errors, once per process: unheard, the EPIPE of a reader gone (or the
 * ENOSPC of a full disk) is an unhandled 'error' event, which ends the process with exit 1 and a
 * stack trace as soon as anything is awaited after the write.
 */
function hear(): void {
  if (listening) return;
  listening = true;
  process.stdout.on('error', (err) => {
    heard ??= err;
  });
}

/** Writes `text` to stdout, its errors heard (`hear`); `emitted` says how that went. */
export function emit(text: string): void {
  hear();
  process.stdout.write(text);
}

/**
 * Resolves with a command's exit code once what it wrote to stdout (by `emit`) has gone out: 0;
 * 141, quietly, when stdout's reader went away before it took it all (`| head -1`), as a command
 * that SIGPIPE ends; rejects with CLI_IO (exit 13) when stdout failed otherwise (a full disk),
 * saying `stdout failed WHEN: ...`. These exited 0 with the text lost: the process ended before
 * the error of the write, which comes after it, was heard.
 */
export async function emitted(when: string): Promise<number> {
  hear();
  const settledWith = await settled(process.stdout);
  // The write's own error, not the 'stream destroyed' a later write gets once that one came.
  const err = heard ?? process.stdout.errored ?? settledWith;
  if (err === undefined) return ExitCode.OK;
  if (isOutputClosed(err)) return ExitCode.SIGPIPE;
  throw outputClosed(err, when);
}

/** A command's result (`clients`' list, `kicked`) on stdout: `emit`, then `emitted`. */
export function print(text: string, when: string): Promise<number> {
  emit(text);
  return emitted(when);
}
