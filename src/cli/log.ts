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

/**
 * Readable lines on stderr, written as JSON lines are (stderrDestination): pino-pretty formats
 * each line, the destination writes it. pino-pretty's own stream piped its lines to a stream of
 * its own, and the first write that failed other than with EPIPE (ENOSPC, EIO) tore that pipe
 * down: the process logged nothing more, even once stderr took writes again, where the JSON
 * format holds its lines back and writes them then.
 */
function prettyDestination(): pino.DestinationStream {
  const dest = stderrDestination();
  const pretty = loadPretty().prettyFactory({
    // no-color.org: a terminal whose user set NO_COLOR (to anything but '') gets no colours.
    colorize: process.stderr.isTTY === true && (process.env.NO_COLOR ?? '') === '',
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    singleLine: true,
  });
  return {
    write(line: string) {
      const text = pretty(line);
      if (text !== undefined) dest.write(text);
    },
  };
}

export function createLogger(o: LogOptions): CliLogger {
  const usePretty = o.format === 'pretty' || (o.format === 'auto' && process.stderr.isTTY === true);
  const options = { level: o.level, name: o.name, base: usePretty ? undefined : { pid: process.pid } };
  return pino(options, usePretty ? prettyDestination() : stderrDestination());
}
