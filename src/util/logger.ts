/**
 * The library never writes to the console. Components log through this interface; the default is
 * silent. pino loggers fit it as they are (`logger: pino()`).
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
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
