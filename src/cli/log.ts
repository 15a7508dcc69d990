import { createRequire } from 'node:module';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';

/**
 * Structured logs on stderr (stdout belongs to data: `dial` pipes bytes there, `ping` prints its
 * report). Readable lines when stderr is a terminal, one JSON object per line otherwise, so a
 * supervisor or a test can parse them. Writes are synchronous: nothing is lost on process.exit.
 */

export type LogFormat = 'auto' | 'pretty' | 'json';
export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export const LOG_LEVELS: readonly LogLevel[] = ['silent', 'error', 'warn', 'info', 'debug', 'trace'];
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'pretty', 'json'];

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
  /** Bound into every line, e.g. `{ cmd: 'switcher' }`. */
  name?: string;
}

export type CliLogger = pino.Logger;

/**
 * The logger for a one-shot command's session: its retries and disconnects are reported once as
 * the command's error, so below debug level only errors of its own pass.
 */
export function quietFor(logger: CliLogger): CliLogger {
  if (logger.levelVal <= pino.levels.values.debug || logger.levelVal >= pino.levels.values.error)
    return logger;
  return logger.child({}, { level: 'error' });
}

/**
 * pino-pretty (and the colour and date libraries under it) is loaded only for readable output, on
 * a terminal: a command whose logs go to a pipe or a file starts without it.
 */
function loadPretty(): typeof PinoPretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
}

/**
 * The most a JSON log holds back while stderr cannot be written (a disk that filled up): past it,
 * lines are dropped. In normal running nothing is held back (each line is written as it comes).
 */
const LOG_BACKLOG = 16 * 1024 * 1024;

/**
 * stderr, written synchronously. A line that cannot be written is never thrown at the code that
 * logs it: pino's destination dropped its lines on EPIPE (the reader gone), but threw every other
 * failure (ENOSPC, EIO from a file) out of the log call, and a switcher logging to a full disk
 * then ended at its next line: a SIGHUP's `reloading` ended the process as a hang-up. Such lines
 * are held back (up to LOG_BACKLOG) and written once stderr takes them again.
 */
function stderrDestination(): pino.DestinationStream {
  const dest = pino.destination({ fd: 2, sync: true, maxLength: LOG_BACKLOG });
  dest.on('error', () => {});
  return dest;
}

export function createLogger(o: LogOptions): CliLogger {
  const usePretty = o.format === 'pretty' || (o.format === 'auto' && process.stderr.isTTY === true);
  const options = { level: o.level, name: o.name, base: usePretty ? undefined : { pid: process.pid } };
  const destination = usePretty
    ? loadPretty()({
        destination: 2,
        sync: true,
        // no-color.org: a terminal whose user set NO_COLOR (to anything but '') gets no colours.
        colorize: process.stderr.isTTY === true && (process.env.NO_COLOR ?? '') === '',
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,name',
        singleLine: true,
      })
    : stderrDestination();
  return pino(options, destination);
}
