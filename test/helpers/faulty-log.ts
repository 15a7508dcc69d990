import type { Logger } from '../../src/util/logger.js';

/** One captured log call. */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

export interface CapturingLogger extends Logger {
  readonly entries: LogEntry[];
  /** Entries whose message is `msg` (and, if given, whose fields include `fields`). */
  find(msg: string | RegExp, fields?: Record<string, unknown>): LogEntry[];
  /** Entries at `level` or above. */
  atLeast(level: LogEntry['level']): LogEntry[];
  /** Forgets every entry (and keeps memory flat in long runs). */
  clear(): void;
}

const ORDER = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/**
 * A logger for tests that keeps every call, so a test can assert that a fault or an attack is
 * explained by a clear line. Bounded: beyond `max` entries the oldest are dropped.
 */
export function captureLogger(max = 10_000): CapturingLogger {
  const entries: LogEntry[] = [];
  const add =
    (level: LogEntry['level']) =>
    (obj: object, msg = ''): void => {
      entries.push({ level, msg, fields: { ...(obj as Record<string, unknown>) } });
      if (entries.length > max) entries.splice(0, entries.length - max);
    };
  const matches = (e: LogEntry, fields: Record<string, unknown>): boolean =>
    Object.entries(fields).every(([k, v]) => e.fields[k] === v);
  return {
    entries,
    debug: add('debug'),
    info: add('info'),
    warn: add('warn'),
    error: add('error'),
    find(msg, fields = {}) {
      return entries.filter(
        (e) => (typeof msg === 'string' ? e.msg === msg : msg.test(e.msg)) && matches(e, fields),
      );
    },
    atLeast(level) {
      return entries.filter((e) => ORDER[e.level] >= ORDER[level]);
    },
    clear() {
      entries.length = 0;
    },
  };
}
