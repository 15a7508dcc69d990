import { createSecureContext } from 'node:tls';
import { errorFields } from '../util/cause.js';
import type { Logger } from '../util/logger.js';
import { outOfValidity } from './cert-expiry.js';
import { type ConfigSnapshot, configSnapshot } from './config-file.js';
import { describeError } from './exit.js';
import { oneReadEach, readFileOnce } from './file-once.js';
import type { PemPair } from './listeners.js';
import { ADMIN_TOKEN_ENV, readSecretFile } from './secret.js';

/**
 * What a long-running command reads again from its files on SIGHUP (reload-signal.ts sends it
 * here): the certificate and key of its TLS listeners, its password, its admin token. Each is
 * read and checked whole before anything is applied, so a file caught half-written, or a key that
 * does not match its certificate, leaves the old value serving; connections already up are never
 * touched. Secrets never reach the log, only the names of what changed.
 */

/** One value read again from its file(s). */
export interface Reloadable {
  /** Names it in log lines: `certificate`, `password`, `admin token`, `CA`. */
  readonly what: string;
  /** Where it is read from, named in the error line when it cannot be. */
  readonly files: readonly string[];
  /**
   * Reads and checks the file(s), then applies what they hold; resolves false when that is what
   * is applied already. Throws, having applied nothing, when a file cannot be read or checked.
   * What it takes from the config file it takes from `config`, the file as this reload read it.
   */
  reload(config: ConfigSnapshot): Promise<boolean>;
}

export interface ReloadPlan {
  items: readonly Reloadable[];
  /** What SIGHUP leaves as it is, and why, for the log line: `password (from FLEXMUX_PASSWORD)`. */
  notReloaded: readonly string[];
  /**
   * Checks the whole config file as a start would (check-config.ts); throws what the start would
   * fail with. The items read only parts of the file, so without it a reload succeeded on a file
   * that the next restart refused. It applies nothing, and its failure keeps nothing out. It
   * resolves with the settings the file now gives another value than at start that no item
   * applies (check-again.ts): the log says they wait for a restart.
   */
  startCheck?: { file: string; check(config: ConfigSnapshot): Promise<readonly string[]> };
  /**
   * Called once every item is reloaded, with the names of those that changed: for what acts on
   * them together (a node waiting to reconnect tries the new password and CA at once, both).
   */
  applied?(changed: readonly string[]): void;
}

/** The name of the start check in the summary line's `failed`. */
export const CONFIG_FILE = 'config file';

export interface ReloadResult {
  changed: string[];
  unchanged: string[];
  failed: string[];
}

/**
 * Reloads every item of `plan`; one error line per failure, then one info line for the whole.
 * The items and the start check read one version of the config file: `config`, a snapshot taken
 * for this reload alone (a test hands its own, whose reads it chooses); and one of each file they
 * name (file-once.ts).
 */
export function reloadAll(
  plan: ReloadPlan,
  logger: Logger,
  config: ConfigSnapshot = configSnapshot(),
): Promise<ReloadResult> {
  return oneReadEach(() => reloadEach(plan, logger, config));
}

async function reloadEach(plan: ReloadPlan, logger: Logger, config: ConfigSnapshot): Promise<ReloadResult> {
  const result: ReloadResult = { changed: [], unchanged: [], failed: [] };
  for (const item of plan.items) {
    try {
      (await item.reload(config)) ? result.changed.push(item.what) : result.unchanged.push(item.what);
    } catch (err) {
      result.failed.push(item.what);
      logger.error(
        // A file that cannot be read says why as `code` or `cause` (ENOENT, EACCES).
        { what: item.what, files: item.files, ...errorFields(err) },
        err instanceof PartlyApplied
          ? `reload: the new ${item.what} is partly applied: ${err.message}`
          : `reload: kept the old ${item.what}: cannot use ${item.files.join(' and ')}`,
      );
    }
  }
  plan.applied?.(result.changed);
  let needsRestart: readonly string[] = [];
  if (plan.startCheck !== undefined) {
    const { file, check } = plan.startCheck;
    try {
      needsRestart = await check(config);
    } catch (err) {
      result.failed.push(CONFIG_FILE);
      // A warning, not an error: what the reload applies is applied; the restart is what would fail.
      logger.warn(
        { what: CONFIG_FILE, files: [file], ...errorFields(err) },
        `reload: the config file would not start the command: ${describeError(err)}`,
      );
    }
  }
  if (needsRestart.length > 0) {
    // Not a failure: the file is valid, and a restart would apply it. But `reloaded` alone read
    // as if the new limits, listeners or paths were in use.
    logger.warn(
      { what: CONFIG_FILE, files: [plan.startCheck?.file], needsRestart },
      `reload: the config file changes ${needsRestart.join(', ')}: a reload does not apply ${needsRestart.length > 1 ? 'them' : 'it'}, a restart does; the values of the start stay in use`,
    );
  }
  const summary = { ...result, notReloaded: plan.notReloaded, needsRestart };
  if (result.failed.length > 0) logger.warn(summary, 'reloaded, with failures');
  else logger.info(summary, 'reloaded');
  return result;
}

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/**
 * Thrown by a reload that could not undo what it had begun to apply: part of the value is in use.
 * reloadAll says so instead of "kept the old", which would send the operator to the wrong place.
 */
export class PartlyApplied extends Error {}

/** What certificateReload applies a pair to: an OpenListener, named in the log by its URL. */
export interface SecureListener {
  url?: string;
  setSecureContext?: (pair: PemPair) => void;
}

/**
 * The certificate chain and key of TLS and secure WebSocket listeners, from `certFile` and
 * `keyFile`; `served` is the pair they started with. Both files are read before either is used:
 * a certificate renewed with its key is only ever served with that key. The pair is applied to
 * every listener or to none: a listener that refuses it (each builds its own context, with its own
 * options) has those before it put back to the old pair, so all serve one certificate, the one the
 * log line names. `onServed` hears of each pair applied (cert-expiry.ts reads its expiry).
 *
 * A certificate that has expired, or is not valid yet, at `now()` is refused: served, it would
 * fail every new handshake of a verifying client, where the one in use may still pass (a deploy
 * that copied an old backup over the renewed file, a certificate dated ahead of this clock). A
 * start serves such a certificate, with an error line (cert-expiry.ts): it has no other to keep.
 */
export function certificateReload(
  certFile: string,
  keyFile: string,
  listeners: readonly SecureListener[],
  served: PemPair,
  onServed?: (pair: PemPair) => void,
  now: () => number = Date.now,
): Reloadable {
  let current = served;
  return {
    what: 'certificate',
    files: [certFile, keyFile],
    async reload() {
      const [cert, key] = [readFileOnce(certFile), readFileOnce(keyFile)];
      if (sameBytes(cert, current.cert) && sameBytes(key, current.key)) return false;
      // Throws for a file that is not PEM and for a key that does not match the certificate,
      // before any listener is touched.
      createSecureContext({ cert, key });
      const invalid = outOfValidity(cert, now());
      if (invalid !== undefined) {
        throw new Error(`the certificate in ${certFile} ${invalid}: served, it would fail new handshakes`);
      }
      const applied: SecureListener[] = [];
      try {
        for (const l of listeners) {
          l.setSecureContext?.({ cert, key });
          applied.push(l);
        }
      } catch (err) {
        const stuck: string[] = [];
        for (const l of applied) {
          try {
            // The old pair, which this listener served a moment ago: it takes it again.
            l.setSecureContext?.(current);
          } catch {
            stuck.push(l.url ?? 'a listener');
          }
        }
        if (stuck.length > 0) {
          throw new PartlyApplied(
            `a listener refused the new certificate, and ${stuck.join(', ')} could not be put back ` +
              'to the old one: the listeners serve different certificates until the next reload',
            { cause: err },
          );
        }
        throw err;
      }
      current = { cert, key };
      onServed?.(current);
      return true;
    },
  };
}

/**
 * A secret read from `file` as at start (secret.ts: one trailing newline dropped, empty
 * refused), handed to `apply`, which throws for one it cannot take; `inUse` is the one at start.
 */
export function secretReload(
  what: string,
  file: string,
  inUse: string,
  apply: (secret: string) => void,
): Reloadable {
  let current = inUse;
  return {
    what,
    files: [file],
    async reload() {
      const secret = readSecretFile(file, what);
      if (secret === current) return false;
      apply(secret);
      current = secret;
      return true;
    },
  };
}

/** The admin server of a long-running command, as its reload sees it: the token it checks now. */
export interface AdminTokenSource {
  token: string | undefined;
  setToken(token: string): void;
}

/**
 * Adds the admin token to `plan`, for switcher and node alike: read again from `file`, or, when
 * it came from the environment, named as not reloaded. An admin server without a token has none.
 */
export function addAdminTokenReload(
  plan: { items: Reloadable[]; notReloaded: string[] },
  admin: AdminTokenSource | undefined,
  file: string | undefined,
): void {
  if (admin?.token === undefined) return;
  if (file !== undefined)
    plan.items.push(secretReload('admin token', file, admin.token, (t) => admin.setToken(t)));
  else plan.notReloaded.push(`admin token (from ${ADMIN_TOKEN_ENV})`);
}
