import { randomBytes, X509Certificate } from 'node:crypto';
import { type ConnectOptions, connect, encrypts, masksNothing, type NodeSession } from '../connect.js';
import { ConnectionClosedError, DialTimeoutError, TimeoutError } from '../errors.js';
import { REDIAL_FIRST, REDIAL_MAX } from '../node/redial.js';
import { refusedForGood } from '../node/refusal.js';
import { certificateRejected } from '../transport/certificate.js';
import type { Logger } from '../util/logger.js';
import { clampDelay, type TimerHandle, timeout } from '../util/timers.js';
import { withoutPassword } from '../util/url.js';
import { CliError } from './exit.js';
import { readFileOnce } from './file-once.js';
import { type CliLogger, quietFor } from './log.js';
import type { ConnectOpts } from './options.js';
import { checkUrlHostPort } from './parse.js';
import { PASSWORD_ENV, requireSecret } from './secret.js';

/** Turns the connection flags into the library's ConnectOptions and opens a session. */

/**
 * The library's ConnectOptions for the flags, with `logger` for the session. What reading the
 * password has to say (a line ending dropped from FLEXMUX_PASSWORD) goes to `warnTo`: a one-shot
 * command's session logger lets only errors through (quietFor), and the warning is the command's.
 */
export function connectOptions(
  o: ConnectOpts,
  domain: string,
  logger: Logger,
  warnTo: Pick<Logger, 'warn'> = logger,
): ConnectOptions {
  const secure = checkSchemeFlags(o);
  const password = requireSecret(
    {
      file: o.passwordFile,
      env: PASSWORD_ENV,
      flag: '--password-file',
      what: 'password',
    },
    process.env,
    warnTo,
  );
  const ca = o.ca === undefined ? undefined : readCaFile(o.ca);
  return {
    password,
    domain,
    logger,
    connectTimeout: o.connectTimeout,
    admissionTimeout: o.connectTimeout,
    // Only where there is TLS: connect() refuses TLS options for a plain-text URL.
    ...(secure ? { tls: { ca, rejectUnauthorized: o.insecure !== true } } : {}),
    wsZeroMask: o.wsZeroMask === true,
  };
}

/** The PEM certificate(s) of `--ca FILE`, at start and on a reload. */
export function readCaFile(file: string): Buffer {
  let ca: Buffer;
  try {
    ca = readFileOnce(file);
  } catch (err) {
    throw new CliError('CLI_USAGE', `cannot read the CA file ${file}: ${(err as Error).message}`);
  }
  // Node's TLS takes a file without any certificate silently; the dial would fail later, as a
  // connection error. A file that is not a certificate is bad usage.
  try {
    new X509Certificate(ca);
  } catch (err) {
    throw new CliError('CLI_USAGE', `the CA file ${file} holds no certificate: ${(err as Error).message}`);
  }
  return ca;
}

/**
 * Flags that would do nothing with the switcher's scheme are bad usage, named by the flag the user
 * typed (connect() refuses them too, but by their library names): --ws-zero-mask with a tcp:// or
 * tls:// switcher, and --ca or --insecure with a tcp:// or ws:// one, whose connection is plain
 * text while the flag says the user expects TLS. Checked before the password and the CA file, so
 * the flag's mistake is what the user hears first. A URL that does not parse is left to connect(),
 * which says so. Returns whether the scheme runs over TLS.
 */
function checkSchemeFlags(o: ConnectOpts): boolean {
  try {
    checkUrlHostPort(o.switcher);
  } catch (err) {
    // Without the URL: withoutPassword writes it as the URL parser read it, 010.0.0.1 as 8.0.0.1.
    throw new CliError(
      'CLI_USAGE',
      `invalid switcher URL (-s, or FLEXMUX_SWITCHER, or switcher: in the config file): ${(err as Error).message}`,
    );
  }
  let scheme: string;
  try {
    scheme = new URL(o.switcher).protocol;
  } catch {
    return false;
  }
  if (o.wsZeroMask === true && masksNothing(scheme)) {
    throw new CliError(
      'CLI_USAGE',
      `--ws-zero-mask is for ws:// and wss:// switchers only, not ${scheme}// (${withoutPassword(o.switcher)})`,
    );
  }
  const secure = encrypts(scheme);
  const tlsFlag = o.ca !== undefined ? '--ca' : o.insecure === true ? '--insecure' : null;
  if (tlsFlag !== null && !secure && (scheme === 'tcp:' || scheme === 'ws:')) {
    // Named with where else it may come from: a shared config file's top-level `ca:`, or
    // FLEXMUX_CA left in the environment, applies to a command the user gave no such flag.
    const from =
      tlsFlag === '--ca'
        ? '--ca (or FLEXMUX_CA, or ca: in the config file)'
        : '--insecure (or insecure: in the config file)';
    throw new CliError(
      'CLI_USAGE',
      `${from} is for tls:// and wss:// switchers only: a ${scheme}// connection is not encrypted (${withoutPassword(o.switcher)}); use the switcher's ${scheme === 'tcp:' ? 'tls://' : 'wss://'} URL, or drop ${tlsFlag}`,
    );
  }
  return secure;
}

/** A domain for a one-shot command that was given none: `prefix-` and 8 random hex digits. */
export function randomDomain(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * A session that keeps reconnecting (the `node` command), with extra node and session options;
 * with the options it was opened with, whose `tls` each connection attempt reads again (so a
 * reload can give the next one another `ca`).
 */
export function openSession(
  o: ConnectOpts,
  domain: string,
  logger: Logger,
  extra: Pick<
    ConnectOptions,
    'earlyData' | 'reconnectSpread' | 'startSpread' | 'backoffInitial' | 'backoffMax'
  > = {},
): { session: NodeSession; options: ConnectOptions } {
  const options = { ...connectOptions(o, domain, logger), ...extra };
  return { session: connect(o.switcher, options), options };
}

/**
 * A session for one task (`dial`, `ping`): no reconnection, and the first failure is the result,
 * so an admission refused or a switcher that is not there gives its own error and exit code.
 */
export async function openOnce(
  o: ConnectOpts,
  domain: string,
  logger: CliLogger,
  switcherIsDefault = false,
): Promise<NodeSession> {
  const session = connect(o.switcher, {
    ...connectOptions(o, domain, quietFor(logger), logger),
    reconnect: false,
  });
  let onDisconnect: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    onDisconnect = reject;
    session.on('disconnect', onDisconnect);
  });
  // An attempt is bounded by connectTimeout for the transport and again for admission (within
  // what a timer can wait: --connect-timeout may be up to 2^31-1 ms itself).
  const deadline = clampDelay(o.connectTimeout * 2 + 1_000);
  try {
    await Promise.race([
      session.ready({ timeout: deadline }).catch((err: unknown) => {
        // The library's error kept as the cause. It names no last attempt here: a failed attempt
        // rejects `failed` first (reconnect: false), so the attempt that ran out is still going.
        throw (err as { code?: unknown }).code === 'FLEX_ERR_TIMEOUT'
          ? new TimeoutError(`no connection to ${withoutPassword(o.switcher)} within ${deadline} ms`, {
              cause: err,
            })
          : err;
      }),
      failed,
    ]);
    return session;
  } catch (err) {
    await session.close();
    // A config file that sets the URL in its node: section only (as docs/cli.md's example does)
    // sent dial and ping to the default, and the refusal did not say that no URL was given.
    if (switcherIsDefault && (err as { code?: unknown }).code === 'FLEX_ERR_CONNECTION_CLOSED') {
      throw new ConnectionClosedError(
        `${(err as Error).message} (no switcher URL was given, so ${withoutPassword(o.switcher)} is the default: pass -s URL, set FLEXMUX_SWITCHER, or set switcher: in the config file's dial: or ping: section)`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    session.off('disconnect', onDisconnect);
  }
}

/**
 * A session for one task that waits for the switcher (`dial --wait-for-target`): unlike openOnce,
 * a switcher that is down or restarting is tried again, at the pace of a dial waiting for its
 * target (100 ms doubling to 1 s, not the 1 s doubling to 30 s of a node, which would overshoot
 * the task's timeout), for as long as the task waits on it; the task bounds the wait itself (its
 * dial's `wait`, within its timeout). `failed` rejects with an attempt's failure that waiting would
 * not mend, the ones a session's ready() gives up on (refusedForGood; not a connection lost after
 * its admission, which the session reconnects): an admission refused (wrong password,
 * clock, version; not one cut off before its answer, which a switcher turning newcomers away also
 * does, nor a domain held by a live node, which may leave), a port that answers in HTTP or
 * without TLS, or a
 * certificate of the switcher's that this client does not trust (untrustedSwitcher); and one that
 * closed the session (a bad URL).
 */
export function openWaiting(
  o: ConnectOpts,
  domain: string,
  logger: CliLogger,
): { session: NodeSession; failed: Promise<never>; dispose: () => void } {
  const session = connect(o.switcher, {
    ...connectOptions(o, domain, quietFor(logger), logger),
    backoffInitial: REDIAL_FIRST,
    backoffMax: REDIAL_MAX,
  });
  let onDisconnect: (err: Error) => void = () => {};
  // Whether the connection a 'disconnect' ends was admitted: then it is a connection lost, which
  // the session reconnects, not an attempt that failed.
  let admitted = false;
  const onReady = (): void => {
    admitted = true;
  };
  const failed = new Promise<never>((_, reject) => {
    onDisconnect = (err) => {
      const lost = admitted;
      admitted = false;
      // What ready() gives up on (refusal.ts), and like it only for a failed attempt: the same
      // failures end both waits. A connection that worked and then failed with a ProtocolError
      // (a WebSocket proxy breaking the protocol) is reconnected, and waited for.
      if (session.state !== 'closed' && (lost || !refusedForGood(err))) return;
      reject(certificateRejected(err) ? untrustedSwitcher(err, o) : err);
    };
    session.on('ready', onReady);
    session.on('disconnect', onDisconnect);
  });
  // Nobody may be racing it any more when it rejects (the task is over): not an unhandled rejection.
  failed.catch(() => {});
  const dispose = (): void => {
    session.off('ready', onReady);
    session.off('disconnect', onDisconnect);
  };
  return { session, failed, dispose };
}

/**
 * What an openWaiting task fails with when the switcher's certificate is not trusted: it waited
 * out its whole timeout before (a minute, by default) and then named only the last attempt, as if
 * the switcher had been away. Exit 6, as a switcher that cannot be reached without the flag.
 */
function untrustedSwitcher(err: Error, o: ConnectOpts): ConnectionClosedError {
  return new ConnectionClosedError(
    `the certificate of the switcher ${withoutPassword(o.switcher)} is not trusted, which waiting will not mend: ${err.message}`,
    { cause: err },
  );
}

/**
 * `task` (a dial or ping on an openWaiting session), unless `failed` rejects first. A task beaten
 * by `failed` ends when the session closes: its rejection is heard by nobody, and not unhandled.
 */
export function raceFailed<T>(task: Promise<T>, failed: Promise<never>): Promise<T> {
  task.catch(() => {});
  return Promise.race([task, failed]);
}

/**
 * What a task on an openWaiting session says when its timeout ran out before the switcher was
 * ever reached: the library's `dial bob:80 timed out after 15000 ms waiting for the switcher;
 * last attempt: ...` does not say which switcher, nor that its URL was the default one. `err`
 * unchanged otherwise.
 */
export function noSwitcherInTime(
  err: unknown,
  session: NodeSession,
  o: ConnectOpts,
  what: string,
  timeout: number,
  switcherIsDefault: boolean,
): unknown {
  if ((err as { code?: unknown } | null)?.code !== 'FLEX_ERR_TIMEOUT' || session.connections > 0) return err;
  const cause = (err as Error).cause;
  const last = cause instanceof Error ? `; last attempt: ${cause.message}` : '';
  const hint = switcherIsDefault ? ` (no switcher URL was given, so ${o.switcher} is the default)` : '';
  return new DialTimeoutError(
    `${what} timed out after ${timeout} ms waiting for the switcher ${withoutPassword(o.switcher)}${hint}${last}`,
    { cause: cause ?? err },
  );
}

/** ms a one-shot command (`dial`, `ping`) waits for its session's close before it exits anyway. */
const CLOSE_BOUND = 1_000;

/**
 * Closes a one-shot command's session, waiting at most CLOSE_BOUND for a switcher that does not
 * answer the close (hung, or the network gone: the transport would wait out its own closeTimeout,
 * 5 s, after the command's result was out). The bound's timer is cleared once the close is done,
 * not left pending behind it.
 */
export async function closeOnce(session: NodeSession): Promise<void> {
  let bound: TimerHandle | undefined;
  const late = new Promise<void>((resolve) => {
    bound = timeout(resolve, CLOSE_BOUND);
  });
  try {
    await Promise.race([session.close(), late]);
  } finally {
    clearTimeout(bound);
  }
}
