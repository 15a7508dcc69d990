import { ConfigError } from '../errors.js';
import type { AccessOptions, DialRule, ExtraPassword } from '../switcher/index.js';
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
