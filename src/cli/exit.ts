import { CommanderError } from 'commander';
import { DialRefusedError, FlexError, type FlexErrorCode } from '../errors.js';
import { formatHostPort, type HostPort } from './parse.js';

/**
 * Exit codes, one per kind of failure a script may react to (documented in docs/cli.md, where a
 * test checks that the table there matches this one). Library errors map by their stable `code`;
 * the CLI's own failures use CliError codes.
 */

export type CliErrorCode =
  | 'CLI_USAGE'
  | 'CLI_IO'
  | 'CLI_ADMIN'
  | 'CLI_NOT_FOUND'
  | 'CLI_INTERRUPTED'
  | 'CLI_OUTPUT_CLOSED';

/** A failure of the CLI itself (not of the library): bad usage, local I/O, the admin API. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  /** Overrides the exit code of `code` (signals: 128 + signal number). */
  readonly exitCode: number | undefined;
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options?.exitCode;
  }
}

export const ExitCode = Object.freeze({
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  ADMISSION: 3,
  DIAL_REFUSED: 4,
  TIMEOUT: 5,
  CONNECTION: 6,
  STREAM_RESET: 7,
  NO_REPLY: 8,
  PROTOCOL: 9,
  LIMIT: 10,
  ADMIN: 11,
  NOT_FOUND: 12,
  IO: 13,
  SIGINT: 130,
  /** 128 + SIGPIPE: what a shell reports for `nc` or `cat` whose reader went away. */
  SIGPIPE: 141,
  SIGTERM: 143,
});

/** Every code has an entry: adding a FlexErrorCode without an exit code fails to compile. */
export const exitCodes: Readonly<Record<FlexErrorCode | CliErrorCode, number>> = Object.freeze({
  FLEX_ERR_CONFIG: ExitCode.USAGE,
  CLI_USAGE: ExitCode.USAGE,
  FLEX_ERR_ADMISSION_REJECTED: ExitCode.ADMISSION,
  FLEX_ERR_DIAL_REFUSED: ExitCode.DIAL_REFUSED,
  FLEX_ERR_DIAL_TIMEOUT: ExitCode.TIMEOUT,
  FLEX_ERR_TIMEOUT: ExitCode.TIMEOUT,
  FLEX_ERR_CONNECTION_CLOSED: ExitCode.CONNECTION,
  FLEX_ERR_NOT_CONNECTED: ExitCode.CONNECTION,
  FLEX_ERR_ABORTED: ExitCode.CONNECTION,
  FLEX_ERR_STREAM_RESET: ExitCode.STREAM_RESET,
  FLEX_ERR_STREAM_CLOSED: ExitCode.STREAM_RESET,
  FLEX_ERR_DATA_LOST: ExitCode.STREAM_RESET,
  FLEX_ERR_PING_FAILED: ExitCode.NO_REPLY,
  FLEX_ERR_PROTOCOL: ExitCode.PROTOCOL,
  FLEX_ERR_FLOW_CONTROL: ExitCode.PROTOCOL,
  FLEX_ERR_LIMIT: ExitCode.LIMIT,
  CLI_ADMIN: ExitCode.ADMIN,
  CLI_NOT_FOUND: ExitCode.NOT_FOUND,
  CLI_IO: ExitCode.IO,
  CLI_INTERRUPTED: ExitCode.SIGINT,
  CLI_OUTPUT_CLOSED: ExitCode.SIGPIPE,
});

/** Operating-system errors that mean "cannot use this local address or file". */
const IO_ERRNOS = new Set(['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES', 'EPERM', 'ENOENT', 'EISDIR', 'EMFILE']);

export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode ?? exitCodes[err.code];
  if (err instanceof FlexError) return exitCodes[err.code] ?? ExitCode.FAILURE;
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  const errno = (err as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && IO_ERRNOS.has(errno)) return ExitCode.IO;
  return ExitCode.FAILURE;
}

/** One line for stderr: the message, with the code a script can grep for. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  // A cause of the same kind (an admission error wrapping the envelope's) says it again.
  const c = err.cause;
  // (Trimmed: OpenSSL's messages end with a newline, which would break the line in two.)
  const cause =
    c instanceof Error &&
    !err.message.includes(c.message.trim()) &&
    !(c.constructor === err.constructor && (c as { code?: unknown }).code === code)
      ? c
      : null;
  const text = cause ? `${err.message}: ${cause.message.trim()}` : err.message;
  return typeof code === 'string' ? `${text} [${code}]` : text;
}

/**
 * The line after the error line: what to do next, for the failures a new user meets first. Bad
 * usage points at --help; a refused dial says what its wire reason (Go's words, kept as they are
 * in the first line for scripts) means on the user's side.
 */
export function nextStep(err: unknown, command: string): string | undefined {
  if (exitCodeOf(err) === ExitCode.USAGE) return `(run flexmux ${command} --help for usage)`;
  if (!(err instanceof DialRefusedError)) return undefined;
  switch (err.reason) {
    case 'unknown-domain':
      return '(no node holds that domain now: check the name, and that its node is connected; --wait-for-target waits for one that is coming)';
    case 'unknown-ip':
      return "(no node holds that virtual IP now: a node's IP can change when it reconnects; dial its domain instead)";
    case 'no-listener':
      return "(the domain's node is connected but serves nothing on that port: a flexmux node serves its --expose ports)";
    case 'forbidden':
      return "(the switcher's access rules do not let this node dial that one: switcher.access.dial in its config file)";
    default:
      return undefined;
  }
}

/**
 * A listen error of the operating system's (it has a syscall: EADDRINUSE, EINVAL, ENOTFOUND...)
 * as local I/O, exit 13, naming what could not listen where; anything else (a ConfigError) as it
 * is. exitCodeOf knows only a few errnos by name: a name that does not resolve, or an address the
 * kernel refuses (EINVAL), exited 1 as an unexpected failure.
 */
export function listenFailure(err: unknown, at: HostPort, what: string): unknown {
  if (typeof (err as NodeJS.ErrnoException | null)?.syscall !== 'string') return err;
  return new CliError(
    'CLI_IO',
    `cannot listen on ${formatHostPort(at)} for ${what}: ${(err as Error).message}`,
    {
      cause: err,
    },
  );
}
