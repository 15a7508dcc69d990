import type { ConnectOptions, NodeSession } from '../connect.js';
import type { ConnectOpts } from './options.js';
import {
  type AdminTokenSource,
  addAdminTokenReload,
  type Reloadable,
  type ReloadPlan,
  sameBytes,
  secretReload,
} from './reload.js';
import { PASSWORD_ENV } from './secret.js';
import { readCaFile } from './session.js';

/**
 * What SIGHUP reads again for `flexmux node` (reload.ts does the reading): its password and CA,
 * for the next admission and connection (the connection up now stays), and its admin token.
 */

export interface NodeReloadSources {
  session: NodeSession;
  /** The options the session was opened with: their `tls` is read at each attempt. */
  options: ConnectOptions;
  admin?: AdminTokenSource;
}

export function nodeReloadPlan(
  o: Pick<ConnectOpts, 'passwordFile' | 'ca'> & { adminTokenFile?: string },
  s: NodeReloadSources,
): ReloadPlan {
  const items: Reloadable[] = [];
  const notReloaded: string[] = [];
  const { session, options } = s;
  if (o.passwordFile !== undefined)
    items.push(secretReload('password', o.passwordFile, options.password, (p) => session.setPassword(p)));
  else notReloaded.push(`password (from ${PASSWORD_ENV})`);
  if (o.ca !== undefined) {
    options.tls ??= {};
    items.push(caReload(o.ca, options.tls));
  }
  addAdminTokenReload({ items, notReloaded }, s.admin, o.adminTokenFile);
  // A node refused for the old password (or CA) waited out its back-off, up to backoffMax (30 s),
  // before trying the new one: the operator's `reloaded` line was followed by silence. After all
  // the items, so that the attempt has the new password and the new CA alike. Not in the start's
  // spread (startSpread): its first attempt reads both anyway, and ending the spread made every
  // node of a fleet reloaded then (one SIGHUP to all its units) connect in the same instant.
  const applied = (changed: readonly string[]): void => {
    if (changed.includes('password') || changed.includes('CA'))
      session.reconnectNow({ keepStartSpread: true });
  };
  return { items, notReloaded, applied };
}

/**
 * The CA certificate(s) a node trusts (`--ca`), checked as at start, put into `tls`, the TLS
 * options every connection attempt reads again: the next connection verifies with them, the one
 * up now stays.
 */
function caReload(file: string, tls: { ca?: string | Buffer | (string | Buffer)[] }): Reloadable {
  return {
    what: 'CA',
    files: [file],
    async reload() {
      const ca = readCaFile(file);
      if (Buffer.isBuffer(tls.ca) && sameBytes(ca, tls.ca)) return false;
      tls.ca = ca;
      return true;
    },
  };
}
