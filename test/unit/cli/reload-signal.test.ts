import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  coalesced,
  holdEarlySighup,
  ignoreLateSighup,
  onReloadSignal,
  releaseEarlySighup,
} from '../../../src/cli/reload-signal.js';
import { silentLogger } from '../../../src/util/logger.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/** A reload that runs until the test lets it finish, counting its runs. */
function heldReload(): { reload: () => Promise<void>; runs: () => number; finish: () => void } {
  let runs = 0;
  let release: (() => void) | null = null;
  return {
    reload: () => {
      runs++;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    runs: () => runs,
    finish: () => {
      const r = release;
      release = null;
      r?.();
    },
  };
}

/** Lets pending promise callbacks run (the loop's next step), without a timer. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The SIGHUP listeners other than the no-op a disposed command leaves (ignoreLateSighup). */
const ownListeners = (): number => process.listeners('SIGHUP').filter((l) => l !== ignoreLateSighup).length;

describe('coalesced reloads', () => {
  it('runs once more after the running reload, however many signals came during it', async () => {
    const h = heldReload();
    const trigger = coalesced(h.reload, silentLogger);
    trigger();
    expect(h.runs()).toBe(1);
    trigger();
    trigger();
    trigger();
    expect(h.runs()).toBe(1);
    h.finish();
    await settle();
    expect(h.runs()).toBe(2);
    h.finish();
    await trigger.idle();
    expect(h.runs()).toBe(2);
    // Idle again: the next signal runs at once.
    trigger();
    expect(h.runs()).toBe(3);
    h.finish();
    await trigger.idle();
  });

  it('stops: waits for the running reload, and runs none after it, even one asked for', async () => {
    const h = heldReload();
    const trigger = coalesced(h.reload, silentLogger);
    trigger();
    trigger(); // asked for during the first: would run once more
    let stopped = false;
    const stopping = trigger.stop().then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false);
    h.finish();
    await stopping;
    expect(h.runs()).toBe(1);
    trigger();
    expect(h.runs()).toBe(1);
  });

  it('logs a reload that throws, and runs the next one', async () => {
    const logger = captureLogger();
    let n = 0;
    const trigger = coalesced(async () => {
      n++;
      if (n === 1) throw new Error('boom');
    }, logger);
    trigger();
    await trigger.idle();
    expect(logger.find('reload failed', { err: 'boom' })).toHaveLength(1);
    trigger();
    await trigger.idle();
    expect(n).toBe(2);
  });

  it('lives on when the failure cannot even be logged, and runs the next one', async () => {
    // A logger whose write throws, as pino's does on a terminal that hung up (EIO).
    const logger = {
      ...silentLogger,
      error: () => {
        throw Object.assign(new Error('write EIO'), { code: 'EIO' });
      },
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      let n = 0;
      const trigger = coalesced(async () => {
        n++;
        throw new Error('boom');
      }, logger);
      trigger();
      await trigger.idle().catch(() => {});
      await settle();
      trigger();
      await trigger.idle().catch(() => {});
      await settle();
      expect(n).toBe(2);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('onReloadSignal', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('takes SIGHUP, runs one that came before start once started, and lets go on dispose', async () => {
    const before = ownListeners();
    const logger = captureLogger();
    const signal = onReloadSignal(logger, 'linux');
    try {
      expect(ownListeners()).toBe(before + 1);
      process.emit('SIGHUP', 'SIGHUP');
      let runs = 0;
      const trigger = signal.start(async () => {
        runs++;
      });
      await trigger.idle();
      expect(runs).toBe(1);
      process.emit('SIGHUP', 'SIGHUP');
      await trigger.idle();
      expect(runs).toBe(2);
      expect(logger.find('reloading', { signal: 'SIGHUP' })).toHaveLength(2);
    } finally {
      signal.dispose();
    }
    expect(ownListeners()).toBe(before);
  });

  it('takes a SIGHUP held before it (holdEarlySighup), and runs it once started', async () => {
    const before = ownListeners();
    holdEarlySighup('linux');
    expect(ownListeners()).toBe(before + 1);
    process.emit('SIGHUP', 'SIGHUP');
    const logger = captureLogger();
    const signal = onReloadSignal(logger, 'linux');
    try {
      // Its own listener in place of the hold's.
      expect(ownListeners()).toBe(before + 1);
      expect(logger.find('reloading', { signal: 'SIGHUP', held: true })).toHaveLength(1);
      let runs = 0;
      await signal
        .start(async () => {
          runs++;
        })
        .idle();
      expect(runs).toBe(1);
    } finally {
      signal.dispose();
    }
    expect(ownListeners()).toBe(before);
  });

  it('gives a held SIGHUP back to a command that does not reload, which it then ends', () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const before = ownListeners();
    holdEarlySighup('linux');
    releaseEarlySighup();
    expect(ownListeners()).toBe(before);
    expect(kill).not.toHaveBeenCalled();
    holdEarlySighup('linux');
    process.emit('SIGHUP', 'SIGHUP');
    releaseEarlySighup();
    // The hold's listener gone first: sent again, the signal takes its default action.
    expect(ownListeners()).toBe(before);
    expect(kill).toHaveBeenCalledWith(process.pid, 'SIGHUP');
  });

  it('keeps SIGHUP ignored after dispose, until the process exits', () => {
    const logger = captureLogger();
    const signal = onReloadSignal(logger, 'linux');
    let runs = 0;
    signal.start(async () => {
      runs++;
    });
    signal.dispose();
    // A listener is left, so a SIGHUP in the process's last moments does not end it (exit 129),
    // and it does nothing.
    expect(process.listeners('SIGHUP')).toContain(ignoreLateSighup);
    process.emit('SIGHUP', 'SIGHUP');
    expect(runs).toBe(0);
    expect(logger.find('reloading')).toHaveLength(0);
    // Another command disposed of in the same process adds no second one.
    onReloadSignal(logger, 'linux').dispose();
    expect(process.listeners('SIGHUP').filter((l) => l === ignoreLateSighup)).toHaveLength(1);
  });

  it('stops: the running reload ends before stop resolves, and a SIGHUP after it is ignored', async () => {
    const logger = captureLogger();
    const signal = onReloadSignal(logger, 'linux');
    try {
      const h = heldReload();
      signal.start(h.reload);
      process.emit('SIGHUP', 'SIGHUP');
      expect(h.runs()).toBe(1);
      let stopped = false;
      const stopping = signal.stop().then(() => {
        stopped = true;
      });
      process.emit('SIGHUP', 'SIGHUP');
      await settle();
      expect(stopped).toBe(false);
      h.finish();
      await stopping;
      expect(h.runs()).toBe(1);
      expect(logger.find('reloading')).toHaveLength(1);
    } finally {
      signal.dispose();
    }
  });

  it('reloads when its log cannot be written, stderr being no terminal that hung up', async () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const full = {
      ...silentLogger,
      info: () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    const signal = onReloadSignal(full, 'linux', () => false);
    try {
      let runs = 0;
      const trigger = signal.start(async () => {
        runs++;
      });
      process.emit('SIGHUP', 'SIGHUP');
      await trigger.idle();
      expect(runs).toBe(1);
      expect(kill).not.toHaveBeenCalled();
    } finally {
      signal.dispose();
    }
  });

  it('ends the process as SIGHUP would when its log cannot be written (the terminal hung up)', () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const hungUp = {
      ...silentLogger,
      info: () => {
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      },
    };
    // The terminal hangs up between the handler's first question and the log line.
    let asked = 0;
    const signal = onReloadSignal(hungUp, 'linux', () => asked++ > 0);
    try {
      let runs = 0;
      signal.start(async () => {
        runs++;
      });
      process.emit('SIGHUP', 'SIGHUP');
      expect(runs).toBe(0);
      // The handler is gone first, so the signal sent again has its default action (the no-op an
      // earlier command left too).
      expect(process.listenerCount('SIGHUP')).toBe(0);
      expect(kill).toHaveBeenCalledWith(process.pid, 'SIGHUP');
    } finally {
      signal.dispose();
    }
  });

  it('ends the process when stderr hung up, though the logger writes nothing or does not throw', () => {
    // The pretty logger a terminal gets reports its failed writes as events, and a level above
    // info writes no `reloading` line: the terminal is asked itself.
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const logger = captureLogger();
    const signal = onReloadSignal(logger, 'linux', () => true);
    try {
      let runs = 0;
      signal.start(async () => {
        runs++;
      });
      process.emit('SIGHUP', 'SIGHUP');
      expect(runs).toBe(0);
      expect(logger.find('reloading')).toHaveLength(0);
      expect(process.listenerCount('SIGHUP')).toBe(0);
      expect(kill).toHaveBeenCalledWith(process.pid, 'SIGHUP');
    } finally {
      signal.dispose();
    }
  });

  it('registers nothing on Windows, which has no SIGHUP', () => {
    const before = process.listenerCount('SIGHUP');
    const signal = onReloadSignal(silentLogger, 'win32');
    expect(process.listenerCount('SIGHUP')).toBe(before);
    signal.dispose();
    expect(process.listenerCount('SIGHUP')).toBe(before);
  });
});
