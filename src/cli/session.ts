import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ConnectOptions, connect, masksNothing, type NodeSession } from '../connect.js';
import { ConnectionClosedError, TimeoutError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import { clampDelay } from '../util/timers.js';
import { CliError } from './exit.js';
import { type CliLogger, quietFor } from './log.js';
import type { ConnectOpts } from './options.js';
import { PASSWORD_ENV, requireSecret } from './secret.js';

/** Turns the connection flags into the library's ConnectOptions and opens a session. */

export function connectOptions(o: ConnectOpts, domain: string, logger: Logger): ConnectOptions {
  checkZeroMask(o);
  const password = requireSecret({
    file: o.passwordFile,
    env: PASSWORD_ENV,
    flag: '--password-file',
    what: 'password',
  });
  let ca: Buffer | undefined;
  if (o.ca !== undefined) {
    try {
      ca = readFileSync(o.ca);
    } catch (err) {
      throw new CliError('CLI_USAGE', `cannot read the CA file ${o.ca}: ${(err as Error).message}`);
    }
    // Node's TLS takes a file without any certificate silently; the dial would fail later, as a
    // connection error. A file that is not a certificate is bad usage.
    try {
      new X509Certificate(ca);
    } catch (err) {
      throw new CliError('CLI_USAGE', `the CA file ${o.ca} holds no certificate: ${(err as Error).message}`);
    }
  }
  return {
    password,
    domain,
    logger,
    connectTimeout: o.connectTimeout,
    admissionTimeout: o.connectTimeout,
    tls: { ca, rejectUnauthorized: o.insecure !== true },
    wsZeroMask: o.wsZeroMask === true,
  };
}

/**
 * --ws-zero-mask with a tcp:// or tls:// switcher would do nothing: bad usage, named by its flag
 * (connect() would refuse it too, but by its library name, wsZeroMask). Checked before the
 * password, so the flag's mistake is what the user hears first. A URL that does not parse is
 * left to connect(), which says so.
 */
function checkZeroMask(o: ConnectOpts): void {
  if (o.wsZeroMask !== true) return;
  let scheme: string;
  try {
    scheme = new URL(o.switcher).protocol;
  } catch {
    return;
  }
  if (masksNothing(scheme)) {
    throw new CliError(
      'CLI_USAGE',
      `--ws-zero-mask is for ws:// and wss:// switchers only, not ${scheme}// (${o.switcher})`,
    );
  }
}

/** A domain for a one-shot command that was given none: `prefix-` and 8 random hex digits. */
export function randomDomain(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A session that keeps reconnecting (the `node` command), with extra node and session options. */
export function openSession(
  o: ConnectOpts,
  domain: string,
  logger: Logger,
  extra: Pick<ConnectOptions, 'earlyData' | 'reconnectSpread'> = {},
): NodeSession {
  return connect(o.switcher, { ...connectOptions(o, domain, logger), ...extra });
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
  const session = connect(o.switcher, { ...connectOptions(o, domain, quietFor(logger)), reconnect: false });
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
        throw (err as { code?: unknown }).code === 'FLEX_ERR_TIMEOUT'
          ? new TimeoutError(`no connection to ${o.switcher} within ${deadline} ms`)
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
        `${(err as Error).message} (no switcher URL was given, so ${o.switcher} is the default: pass -s URL, set FLEXMUX_SWITCHER, or set switcher: in the config file's dial: or ping: section)`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    session.off('disconnect', onDisconnect);
  }
}
