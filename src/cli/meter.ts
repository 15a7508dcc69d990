/**
 * Progress and throughput of a long transfer (`dial --stats`): a line every interval with the
 * bytes each way and the rate since the last line, and a summary with the average rates.
 */

export interface Counters {
  readonly sent: number;
  readonly received: number;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** One progress line: totals, and rates over the last `seconds`. */
export function progressLine(now: Counters, before: Counters, seconds: number, elapsed: number): string {
  const s = Math.max(seconds, 1e-3);
  return (
    `sent ${formatBytes(now.sent)} (${formatRate((now.sent - before.sent) / s)}), ` +
    `received ${formatBytes(now.received)} (${formatRate((now.received - before.received) / s)}), ` +
    `${elapsed.toFixed(1)} s`
  );
}

export interface Meter {
  /**
   * Stops the periodic lines and writes the summary, starting with `outcome`: `done`, `remote
   * ended` for one the remote's end finished before stdin's (dial --exit-on-remote-end),
   * `interrupted` for a transfer a signal cut short, or `failed` for one that failed otherwise
   * (the error saying so comes after it).
   */
  stop(outcome?: TransferOutcome): void;
}

export type TransferOutcome = 'done' | 'remote ended' | 'interrupted' | 'failed';

/** How a transfer ended, as its --stats summary says it. */
export interface TransferEnd {
  /** Both directions ended cleanly: every byte was sent, and received (by dial: out to stdout). */
  complete: boolean;
  /** A stop signal arrived while the command ran (it leaves no transfer complete, see below). */
  signalled: boolean;
  /** The error the transfer ends with, as the command reports it (none: it ends well). */
  failure: Error | undefined;
  /**
   * The command ended its side when the remote had ended, without reading stdin to its end
   * (dial --exit-on-remote-end): every byte read went both ways, but not every byte of stdin.
   */
  inputLeft?: boolean;
}

/**
 * The summary's first word. A transfer that carried every byte is `done`, `remote ended` when
 * stdin was left unread past the remote's end (its bytes not sent, so not `done`); one cut short by a
 * signal is `interrupted`; one that ended with any other error is `failed`, not `done` before the
 * error line. (No signal leaves a complete transfer: dial's stream closes in the turn of the
 * event loop it ends in, and a signal while stdout's tail drains leaves that tail undelivered.)
 */
export function transferOutcome(end: TransferEnd): TransferOutcome {
  if (end.complete && end.failure === undefined) return end.inputLeft === true ? 'remote ended' : 'done';
  if (end.signalled) return 'interrupted';
  return end.failure === undefined ? 'done' : 'failed';
}

/**
 * Writes progress to `out` every `interval` ms. On a terminal the line is rewritten in place; in
 * a file or pipe each update is its own line.
 */
export function startMeter(
  read: () => Counters,
  out: NodeJS.WriteStream,
  interval: number,
  clock: () => number = () => performance.now(),
): Meter {
  const start = clock();
  let last = { ...read() };
  let lastAt = start;
  const tty = out.isTTY === true;
  const write = (line: string, final: boolean): void => {
    out.write(tty ? `\r\x1b[K${line}${final ? '\n' : ''}` : `${line}\n`);
  };
  const timer = setInterval(() => {
    const now = { ...read() };
    const at = clock();
    write(progressLine(now, last, (at - lastAt) / 1000, (at - start) / 1000), false);
    last = now;
    lastAt = at;
  }, interval);
  timer.unref();
  return {
    stop(outcome = 'done') {
      clearInterval(timer);
      const total = read();
      const seconds = (clock() - start) / 1000;
      write(`${outcome}: ${progressLine(total, { sent: 0, received: 0 }, seconds, seconds)}`, true);
    },
  };
}
