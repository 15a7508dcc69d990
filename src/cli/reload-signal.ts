import { writeSync } from 'node:fs';
import { errorFields } from '../util/cause.js';
import { type Logger, logLost } from '../util/logger.js';

/**
 * SIGHUP, the daemon convention for "read your files again" (systemd's ExecReload, certbot's
 * deploy hooks), for the long-running commands. A reload reads files, so it takes a while; a
 * signal that comes during one is not run alongside it (two reloads could apply their files in
 * either order) but once more after it, however many came: the files are read after the last.
 */

export interface ReloadTrigger {
  /** Asks for a reload: run now, or once more after the one running. */
  (): void;
  /** Resolves once no reload runs and none is asked for (tests, and a command that stops). */
  idle(): Promise<void>;
  /**
   * Runs no reload from now on, not even one asked for during the one running, and resolves once
   * that one has ended: a command that stops awaits it before it closes, so that no reload
   * applies files to what is closing, nor logs `reloaded` after the command said it closed.
   */
  stop(): Promise<void>;
}

/** Runs `reload` on each call, one at a time, coalescing the calls made while one runs. */
export function coalesced(reload: () => Promise<unknown>, logger: Logger): ReloadTrigger {
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const loop = async (): Promise<void> => {
    try {
      do {
        again = false;
        try {
          await reload();
        } catch (err) {
          // reloadAll reports its own failures; this is a bug, and the process must live on (nobody
          // awaits this loop: a throwing logger's rejection would end the process).
          logLost(() => logger.error(errorFields(err), 'reload failed'));
        }
      } while (again && !stopped);
    } finally {
      // Whatever happened, the next SIGHUP starts a reload again (a loop left `running` would
      // swallow every later one).
      running = null;
    }
  };
  const trigger = (): void => {
    if (stopped) return;
    if (running !== null) {
      again = true;
      return;
    }
    running = loop();
  };
  trigger.idle = async (): Promise<void> => {
    while (running !== null) await running;
  };
  trigger.stop = (): Promise<void> => {
    stopped = true;
    return trigger.idle();
  };
  return trigger;
}

export interface ReloadSignal {
  /** From now on a SIGHUP reloads with `reload`; one that came before runs it now. */
  start(reload: () => Promise<unknown>): ReloadTrigger;
  /**
   * Takes no reload from now on (a SIGHUP is ignored) and resolves once the one running, if any,
   * has ended. A command calls it as it begins to stop, and awaits it before closing anything.
   */
  stop(): Promise<void>;
  /**
   * Removes the handler, leaving SIGHUP ignored (ignoreLateSighup) until the process exits.
   */
  dispose(): void;
}

/**
 * What SIGHUP runs once a command has disposed of its handler: nothing. A command that ended
 * still has its last log lines to flush before the process exits, and a SIGHUP then (the
 * `systemctl reload` of a deploy hook racing a stop) would take its default action and end the
 * process with 129 instead of the command's own exit code. One function for the whole process,
 * so that commands run one after the other (tests) add one listener, not one each.
 */
export const ignoreLateSighup = (): void => {};

/**
 * Whether stderr is a terminal that hung up. Writing to it fails with EIO then, even a write of
 * nothing, which a live terminal, a pipe or a file takes without a trace. (isatty() cannot tell:
 * it answers false for a terminal that hung up.) Asked of stderr itself, not found out from a log
 * line: the pretty logger used on a terminal reports a failed write as an 'error' event instead
 * of throwing, and a log level above `info` writes no `reloading` line at all.
 */
export function stderrHungUp(): boolean {
  try {
    writeSync(2, '');
    return false;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EIO';
  }
}

/**
 * A SIGHUP that comes before a command has taken the signal (onReloadSignal): while Node loads
 * the CLI's modules, parses its flags and reads its config file, a few hundred ms in which a
 * `systemctl reload` right after `systemctl start` took the default action and ended the process
 * with 129. The binary (main.ts) holds it from its first line; the command that reloads takes
 * it then (onReloadSignal runs a reload once it is up), and any other command is given it back.
 */
let holding = false;
let held = false;
const holdEarly = (): void => {
  // The hang-up of the terminal the logs go to: it ends the process, as it always did.
  if (stderrHungUp()) {
    process.off('SIGHUP', holdEarly);
    holding = false;
    process.kill(process.pid, 'SIGHUP');
    return;
  }
  held = true;
};

/** Holds a SIGHUP from now on until a command takes it (takeEarlySighup) or gives it back. */
export function holdEarlySighup(platform: NodeJS.Platform = process.platform): void {
  if (platform === 'win32' || holding) return;
  holding = true;
  process.on('SIGHUP', holdEarly);
}

/** Ends the hold (its handler is removed); resolves whether a SIGHUP came during it. */
function takeEarlySighup(): boolean {
  if (!holding) return false;
  holding = false;
  process.off('SIGHUP', holdEarly);
  const came = held;
  held = false;
  return came;
}

/**
 * Ends the hold for a command that does not reload (dial, ping): SIGHUP ends it, as it ends any
 * process that does not take it, and one held now does so at once.
 */
export function releaseEarlySighup(): void {
  if (takeEarlySighup()) process.kill(process.pid, 'SIGHUP');
}

/**
 * Takes SIGHUP from now on, where there is one (Windows has none), so that a SIGHUP while the
 * command starts does not end it (the default action); it is remembered and run once `start`
 * has the reload, and so is one held before (holdEarlySighup). A SIGHUP from a terminal that
 * hung up (`hungUp`) still ends the process.
 */
export function onReloadSignal(
  logger: Logger,
  platform: NodeJS.Platform = process.platform,
  hungUp: () => boolean = stderrHungUp,
): ReloadSignal {
  let trigger: ReloadTrigger | null = null;
  let early = false;
  // The terminal the logs go to is gone, and this SIGHUP is its hang-up, not a request to
  // reload. The process ends as SIGHUP ended it before it took the signal (writing to that
  // terminal, the reload would fail, then so would every log line after it).
  const endAsHangUp = (): void => {
    process.off('SIGHUP', handler);
    // Ignored after an earlier command of this process ended: not this one's hang-up.
    process.off('SIGHUP', ignoreLateSighup);
    process.kill(process.pid, 'SIGHUP');
  };
  let stopping = false;
  // `wasHeld`: the SIGHUP came before this handler was in place (holdEarlySighup).
  const take = (wasHeld: boolean): void => {
    // The command is closing: nothing is reloaded any more, and the hang-up of a terminal is
    // as good as the exit under way.
    if (stopping) return;
    if (hungUp()) {
      endAsHangUp();
      return;
    }
    try {
      logger.info(wasHeld ? { signal: 'SIGHUP', held: true } : { signal: 'SIGHUP' }, 'reloading');
    } catch {
      // A logger that throws when its line cannot be written: a hang-up only if the terminal
      // says so (it may have hung up since). A log on a full disk or a closed pipe is no reason
      // to end: the reload reads files, not the log, and /metrics counts it.
      if (hungUp()) {
        endAsHangUp();
        return;
      }
    }
    if (trigger === null) early = true;
    else trigger();
  };
  const handler = (): void => take(false);
  const listening = platform !== 'win32';
  if (listening) {
    process.on('SIGHUP', handler);
    // After the line above: between the two, a SIGHUP would find no handler.
    if (takeEarlySighup()) take(true);
  }
  return {
    start(reload) {
      trigger = coalesced(reload, logger);
      if (early) trigger();
      return trigger;
    },
    stop() {
      stopping = true;
      return trigger?.stop() ?? Promise.resolve();
    },
    dispose() {
      if (!listening) return;
      stopping = true;
      // The no-op first: between the two, SIGHUP would have no listener and end the process.
      if (!process.listeners('SIGHUP').includes(ignoreLateSighup)) process.on('SIGHUP', ignoreLateSighup);
      process.off('SIGHUP', handler);
    },
  };
}
