import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { type AccessOptions, AccessPolicy, type DialRule, type ExtraPassword } from '../switcher/index.js';
import {
  applyConfig,
  type ConfigData,
  type ConfigSnapshot,
  checkOneSpelling,
  loadConfigFileAgain,
} from './config-file.js';
import type { Reloadable } from './reload.js';
import { generatePassword, readSecretFile } from './secret.js';

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
      checkOneSpelling(e, where);
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
 * files it names. The whole file is checked as a start of `cmd` (the switcher command) checks it,
 * though only the section is taken: the rest needs a restart. Checked for the section alone, a
 * file mid-edit was taken as no rules at all, every dial allowed and every extra password gone,
 * when the section was misspelt (`acess:`) or not indented under `switcher:`, both of which a
 * start refuses as unknown settings. Throws ConfigError for a file that cannot be read, parsed or
 * checked, and for a section that is not valid. `data` is the file as the reload read it.
 */
export function accessFromConfigFile(
  cmd: Command,
  file: string,
  data: ConfigData = loadConfigFileAgain(file),
): AccessOptions | undefined {
  // Into a map of its own: the command's options, resolved at start, are left as they are. A
  // top-level `switcher` that is not a mapping is the URL of node, dial and ping in a shared
  // file, no section: applyConfig takes the file as a start does.
  const extras = applyConfig(cmd, data, file, ['access'], new Map());
  return accessFromConfig(extras.access, file);
}

/**
 * The switcher's access rules, read again from config file `file` (checked whole for `cmd`, as
 * accessFromConfigFile says); `inUse` is what it started
 * with, handed to `apply` (Switcher.setAccess) only when the section changed. A section that is
 * gone is no rules at all (Go's open policy), as at a restart with that file.
 */
export function accessReload(
  cmd: Command,
  file: string,
  inUse: AccessOptions | undefined,
  apply: (access: AccessOptions) => void,
): Reloadable {
  // Compared as text: the section read yields plain data (strings and lists of them).
  let current = JSON.stringify(inUse ?? {});
  return {
    what: 'access rules',
    files: [file],
    async reload(config) {
      const access = accessFromConfigFile(cmd, file, config(file)) ?? {};
      const text = JSON.stringify(access);
      if (text === current) return false;
      apply(access);
      current = text;
      return true;
    },
  };
}

/** What a credentials round did to each of its two values: changed, unchanged, or why not. */
interface Round {
  password: boolean | Error;
  access: boolean | Error;
}

/**
 * The shared password (`--password-file`) and the access rules (config file `file`), read again
 * together: each is checked against the other's new value, not its old one, so that one reload
 * can move a password from one to the other (shared P1 and extra P2 becoming shared P2 and extra
 * P1). Read and checked apart, each met the other's old value, a repeat, and the move was refused
 * whichever came first. `apply` is Switcher.setAccess (`password` given when it changes too) and
 * `applyPassword` Switcher.setPassword. Two items, for the log's names: the first reads both
 * files and applies what it can, the second reports its part of the same round.
 *
 * When the two together are refused, the access section is checked on its own: if it is valid,
 * they clash (the new password is one of the new extra passwords) and both are kept; if not, it
 * is refused, and the password is applied alone against the access rules in use.
 */
export function passwordAndAccessReload(
  passwordFile: string,
  cmd: Command,
  file: string,
  inUse: { password: string; access: AccessOptions | undefined },
  apply: (access: AccessOptions, password?: string) => void,
  applyPassword: (password: string) => void,
): [Reloadable, Reloadable] {
  let password = inUse.password;
  let access = inUse.access ?? {};
  let pending: Promise<Round> | undefined;
  const round = async (config: ConfigSnapshot): Promise<Round> => {
    const read = <T>(f: () => T): T | Error => {
      try {
        return f();
      } catch (err) {
        return err as Error;
      }
    };
    const newPassword = read(() => readSecretFile(passwordFile, 'password'));
    const newAccess = read(() => accessFromConfigFile(cmd, file, config(file)) ?? {});
    const pwChanged = typeof newPassword === 'string' && newPassword !== password;
    const accessChanged =
      !(newAccess instanceof Error) && JSON.stringify(newAccess) !== JSON.stringify(access);
    const out: Round = {
      password: newPassword instanceof Error ? newPassword : false,
      access: newAccess instanceof Error ? newAccess : false,
    };
    if (pwChanged && accessChanged) {
      try {
        apply(newAccess, newPassword);
        [password, access] = [newPassword, newAccess];
        return { password: true, access: true };
      } catch (err) {
        // Valid alone (any shared password it does not repeat): the two clash, both are kept.
        const alone = read(() => new AccessPolicy(generatePassword(), newAccess));
        if (!(alone instanceof Error)) return { password: err as Error, access: err as Error };
        out.access = alone;
      }
    } else if (accessChanged) {
      out.access = read(() => apply(newAccess)) ?? true;
      if (out.access === true) access = newAccess;
    }
    if (pwChanged) {
      out.password = read(() => applyPassword(newPassword)) ?? true;
      if (out.password === true) password = newPassword;
    }
    return out;
  };
  const result = (v: boolean | Error): boolean => {
    if (v instanceof Error) throw v;
    return v;
  };
  return [
    {
      what: 'password',
      files: [passwordFile],
      async reload(config) {
        pending = round(config);
        return result((await pending).password);
      },
    },
    {
      what: 'access rules',
      files: [file],
      async reload(config) {
        // Run after the password's item (reloadAll's order), it reports that round; alone, its own.
        const r = await (pending ?? round(config));
        pending = undefined;
        return result(r.access);
      },
    },
  ];
}
