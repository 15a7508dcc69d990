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
    : pino.destination({ fd: 2, sync: true });
  return pino(options, destination);
}
