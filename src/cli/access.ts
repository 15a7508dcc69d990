import { ConfigError } from '../errors.js';
import type { AccessOptions, DialRule, ExtraPassword } from '../switcher/index.js';
import { loadConfigFile } from './config-file.js';
import type { Reloadable } from './reload.js';
import { readSecretFile } from './secret.js';

/**
 * The `access` section of the switcher's config file, checked for shape here and for meaning by
 * the switcher (AccessPolicy): extra passwords bound to domain patterns, and dial rules.
 *
 *   access:
 *     passwords:
 *       - passwordFile: /etc/flexmux/team.pw     # or password: "..."
 *         domains: [team-*]
 *     dial:
 *       - { from: [team-*], to: [db, cache-?] }
 */

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function patterns(where: string, v: unknown): string | string[] {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ConfigError(`${where} must be a domain pattern or a list of them`);
}

function onlyKeys(where: string, v: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(v)) {
    if (!keys.includes(k))
      throw new ConfigError(`${where}: unknown setting "${k}" (expected ${keys.join(', ')})`);
  }
}

export function accessFromConfig(raw: unknown, file: string): AccessOptions | undefined {
  if (raw === undefined || raw === null) return undefined;
  const at = `config file ${file}: access`;
  if (!isRecord(raw)) throw new ConfigError(`${at} must be a mapping with passwords and/or dial`);
  onlyKeys(at, raw, ['passwords', 'dial']);
  const out: { passwords?: ExtraPassword[]; dial?: DialRule[] } = {};
  if (raw.passwords !== undefined) {
    if (!Array.isArray(raw.passwords)) throw new ConfigError(`${at}.passwords must be a list`);
    out.passwords = raw.passwords.map((e: unknown, i) => {
      const where = `${at}.passwords[${i}]`;
      if (!isRecord(e)) throw new ConfigError(`${where} must be a mapping`);
      onlyKeys(where, e, ['password', 'passwordFile', 'password-file', 'domains']);
      const file = e.passwordFile ?? e['password-file'];
      let password: string;
      if (typeof e.password === 'string' && file === undefined) password = e.password;
      else if (typeof file === 'string' && e.password === undefined)
        password = readSecretFile(file, 'password');
      else throw new ConfigError(`${where} needs one of password or passwordFile`);
      // As an empty password file is refused (secret.ts): most likely a template whose variable
      // was unset, and any node sending the empty password could register these domains.
      if (password === '') throw new ConfigError(`${where}.password is empty`);
      return { password, domains: patterns(`${where}.domains`, e.domains) };
    });
  }
  if (raw.dial !== undefined) {
    if (!Array.isArray(raw.dial)) throw new ConfigError(`${at}.dial must be a list`);
    out.dial = raw.dial.map((r: unknown, i) => {
      const where = `${at}.dial[${i}]`;
      if (!isRecord(r)) throw new ConfigError(`${where} must be a mapping with from and to`);
      onlyKeys(where, r, ['from', 'to']);
      return { from: patterns(`${where}.from`, r.from), to: patterns(`${where}.to`, r.to) };
    });
  }
  return out;
}

/**
 * The `switcher.access` section of config file `file`, read again (SIGHUP), with the password
 * files it names. The rest of the file is not looked at, nor applied: it needs a restart. Throws
 * ConfigError for a file that cannot be read or parsed, and for a section that is not valid.
 */
export function accessFromConfigFile(file: string): AccessOptions | undefined {
  const section = loadConfigFile(file).switcher;
  if (section === undefined || section === null) return undefined;
  if (!isRecord(section)) {
    throw new ConfigError(
      `config file ${file}: "switcher" must be a mapping (the switcher command's settings)`,
    );
  }
  return accessFromConfig(section.access, file);
}

/**
 * The switcher's access rules, read again from config file `file`; `inUse` is what it started
 * with, handed to `apply` (Switcher.setAccess) only when the section changed. A section that is
 * gone is no rules at all (Go's open policy), as at a restart with that file.
 */
export function accessReload(
  file: string,
  inUse: AccessOptions | undefined,
  apply: (access: AccessOptions) => void,
): Reloadable {
  // Compared as text: the section read yields plain data (strings and lists of them).
  let current = JSON.stringify(inUse ?? {});
  return {
    what: 'access rules',
    files: [file],
    async reload() {
      const access = accessFromConfigFile(file) ?? {};
      const text = JSON.stringify(access);
      if (text === current) return false;
      apply(access);
      current = text;
      return true;
    },
  };
}
