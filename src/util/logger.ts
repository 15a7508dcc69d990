/**
 * The library never writes to the console. Components log through this interface; the default is
 * silent. pino loggers fit it as they are (`logger: pino()`).
 */
export interface Logger {
  /** Logs `msg` with the fields of `obj` at debug level. */
  debug(obj: object, msg?: string): void;
  /** Logs at info level. */
  info(obj: object, msg?: string): void;
  /** Logs at warn level. */
  warn(obj: object, msg?: string): void;
  /** Logs at error level. */
  error(obj: object, msg?: string): void;
  /** A logger that adds `bindings` to every line; without it, the fields are not added. */
  child?(bindings: object): Logger;
}

const noop = (): void => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

export function childLogger(logger: Logger, bindings: object): Logger {
  return logger.child ? logger.child(bindings) : logger;
}

/**
 * Writes a log line that may fail without the failure changing what the caller does: a logger
 * writing to a terminal that hung up or a closed pipe throws (EIO, EPIPE). For a line that reports
 * what is done already (a change applied) or a loop nobody awaits.
 */
export function logLost(write: () => void): void {
  try {
    write();
  } catch {
    // Nothing is left to tell it to.
  }
}

/**
 * `logger` with each line written as logLost writes one: for code that logs in the middle of
 * handling a peer's frame, where a logger that throws (a closed pipe) stopped the handling halfway
 * and was taken for a fault of that frame. Its lines are what it reports, never what it decides.
 */
export function containedLogger(logger: Logger): Logger {
  if (logger === silentLogger) return logger;
  const child = logger.child;
  return {
    debug: (...args) => logLost(() => logger.debug(...args)),
    info: (...args) => logLost(() => logger.info(...args)),
    warn: (...args) => logLost(() => logger.warn(...args)),
    error: (...args) => logLost(() => logger.error(...args)),
    ...(child && { child: (bindings: object) => containedLogger(child.call(logger, bindings)) }),
  };
}
