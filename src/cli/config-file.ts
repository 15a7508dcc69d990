import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Command, CommanderError, type Option } from 'commander';
import type * as Yaml from 'yaml';
import { ConfigError } from '../errors.js';
import { decodeTextFile } from './decode.js';
import { isRepeatable } from './parse.js';

/**
 * The YAML config file (`--config FILE` or FLEXMUX_CONFIG): a mapping whose keys are long flag
 * names (`password-file` or `passwordFile`). A key at the top level applies to every command that
 * has that flag; a section named after a command (`switcher:`, `node:`, ...) applies to that
 * command only and wins over the top level. Flags and environment variables win over the file.
 * Values go through the same parsers as flags, so they are checked the same way.
 */

export type ConfigData = Record<string, unknown>;

/** Per-run flags: `check-config: true` in a file would turn every start into a check. */
const NOT_FROM_FILE = new Set(['config', 'help', 'checkConfig']);

/**
 * Top-level keys that belong to one command. A shared file's `domain` is the node's: a one-shot
 * `dial` or `ping` taking it would try to take the node's domain over (the reason FLEXMUX_DOMAIN
 * is the node's only). In their own section they may set one.
 */
const TOP_LEVEL_OWNER: Readonly<Record<string, string>> = { domain: 'node' };

function isMapping(v: unknown): v is ConfigData {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Parses the file, loading the YAML parser with the first config file (most invocations have
 * none). A plain scalar that YAML reads as a number keeps the text it was written as: values are
 * flag text, and a domain or a password such as `0123`, `1e3` or `0x1F` would otherwise arrive as
 * `123`, `1000` or `31` (and a domain pattern as a number where a string is required).
 */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof Yaml;
  const doc = yaml.parseDocument(text);
  if (doc.errors.length > 0) throw doc.errors[0];
  yaml.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && typeof node.source === 'string') node.value = node.source;
    },
  });
  return doc.toJS();
}

/**
 * The YAML parser's message without the excerpt it appends (`...at line 4, column 19:`, a blank
 * line, the offending line and a caret): that line may hold a password (`access.passwords`), and
 * the message goes to stderr and the logs that collect it.
 */
function yamlProblem(err: unknown): string {
  return (err as Error).message.split('\n')[0].replace(/:\s*$/, '');
}

/** Reads a config file's text: readFileSync, or a test's stand-in. */
export type ReadText = (file: string) => string;

/** UTF-8, or UTF-16 by its byte-order mark, as PowerShell 5 writes a file (decode.ts). */
const readText: ReadText = (file) => decodeTextFile(readFileSync(file));

/** The file's settings; null when it holds none (empty, or comments only). */
function readConfig(file: string, read: ReadText = readText): ConfigData | null {
  let text: string;
  try {
    text = read(file);
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    // No cause: describeError would print its message, excerpt included, after this one.
    throw new ConfigError(`config file ${file} is not valid YAML: ${yamlProblem(err)}`);
  }
  if (data === null || data === undefined) return null;
  if (!isMapping(data)) throw new ConfigError(`config file ${file} must hold a mapping of settings`);
  return data;
}

export function loadConfigFile(file: string): ConfigData {
  return readConfig(file) ?? {};
}

/**
 * The config file as a reload reads it again (SIGHUP): as at start, but one that holds no
 * settings at all (empty, or comments only) is refused. That is what a reload finds between the
 * truncation and the write of a file rewritten in place (a shell's `>`, an editor saving over
 * it), and taken as it is, it removed a switcher's access rules: every extra password gone, every
 * dial allowed. `{}` is a file with no settings that a reload takes.
 */
export function loadConfigFileAgain(file: string, read?: ReadText): ConfigData {
  const data = readConfig(file, read);
  if (data !== null) return data;
  throw new ConfigError(
    `config file ${file} holds no settings (empty, or comments only), as one caught mid-write: ` +
      'replace it whole (write a new file, then rename it over the old one); {} is no settings',
  );
}

/**
 * The config file as one reload sees it: each file read (loadConfigFileAgain) at most once, on
 * first use, and that one version, or that one failure, given to every part of the reload (the
 * access rules, the node's rules, the start check). Each read the file on its own before, so a
 * reload that met an edit could apply the rules of one version and check another: the check
 * passed on the new file while the old rules were applied, or warned of a file never applied.
 * What it returns is shared: read it, do not change it.
 */
export type ConfigSnapshot = (file: string) => ConfigData;

export function configSnapshot(read?: ReadText): ConfigSnapshot {
  const seen = new Map<string, { data: ConfigData } | { err: unknown }>();
  return (file) => {
    let got = seen.get(file);
    if (got === undefined) {
      try {
        got = { data: loadConfigFileAgain(file, read) };
      } catch (err) {
        got = { err };
      }
      seen.set(file, got);
    }
    if ('err' in got) throw got.err;
    return got.data;
  };
}

/** A value written as a bare number: flags read it in their own unit (`ping -W`: seconds). */
const BARE_NUMBER = /^\s*\d+(?:\.\d+)?\s*$/;

/**
 * Refuses a top-level bare number that the commands sharing the key would read differently. A
 * top-level key applies to every command with that flag, and `timeout: 5` was 5 s for `ping -W`
 * (a bare number is seconds there, as in ping(8)) but 5 ms for `clients`/`kick --timeout`. With a
 * unit (`5s`) it means one thing; in a command's section, what that command's flag reads. Checked
 * whatever the command run: the same file is valid for all of them or for none.
 */
function checkOneMeaning(
  users: readonly Command[],
  key: string,
  rawKey: string,
  value: unknown,
  file: string,
): void {
  if ((typeof value !== 'string' && typeof value !== 'number') || !BARE_NUMBER.test(String(value))) return;
  const text = String(value).trim();
  const readers = new Map<string, string[]>();
  for (const c of users) {
    const option = optionsByKey(c).get(key);
    if (option === undefined) continue;
    let result: unknown;
    try {
      result = option.parseArg ? option.parseArg(text, undefined) : text;
    } catch {
      continue; // refused: setFromFile says why for that command
    }
    const meaning = typeof result === 'number' ? `${result} ms` : JSON.stringify(result);
    readers.set(meaning, [...(readers.get(meaning) ?? []), c.name()]);
  }
  if (readers.size < 2) return;
  const [first, ...rest] = [...readers].map(([meaning, names]) => `${meaning} for ${names.join(', ')}`);
  throw new ConfigError(
    `config file ${file}: ${rawKey}: "${text}" is ${first} but ${rest.join(' and ')}: ` +
      `give the unit (${text}s, ${text}ms) or set it in the command's section`,
  );
}

/**
 * Refuses a mapping that gives one setting under both of its spellings (`max-clients` and
 * `maxClients`): YAML refuses a key given twice, but these are two keys, and the later one was
 * taken without a word, whichever the operator edited last.
 */
export function checkOneSpelling(mapping: ConfigData, where: string): void {
  const seen = new Map<string, string>();
  for (const rawKey of Object.keys(mapping)) {
    const key = camel(rawKey);
    const other = seen.get(key);
    if (other !== undefined) {
      throw new ConfigError(`${where}: "${other}" and "${rawKey}" are one setting: give it once`);
    }
    seen.set(key, rawKey);
  }
}

function optionsByKey(cmd: Command): Map<string, Option> {
  const m = new Map<string, Option>();
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (!NOT_FROM_FILE.has(key)) m.set(key, o);
  }
  return m;
}

/**
 * Fills options of `cmd` not set by a flag or an environment variable from `data`, and returns
 * the values of `extraKeys` (settings with no flag, such as `access`) found for this command.
 * Given `into`, the values go there (by attribute name, whatever set them on `cmd`) and `cmd` is
 * left as it is.
 */
export function applyConfig(
  cmd: Command,
  data: ConfigData,
  file: string,
  extraKeys: readonly string[] = [],
  into?: Map<string, unknown>,
): ConfigData {
  const siblings = cmd.parent?.commands ?? [cmd];
  const sectionNames = new Set(siblings.map((c) => c.name()));
  const known = new Set<string>();
  for (const c of siblings) for (const k of optionsByKey(c).keys()) known.add(k);
  const own = optionsByKey(cmd);
  const extras: ConfigData = {};
  const apply = (where: string, key: string, value: unknown): void => {
    const option = own.get(key);
    if (option !== undefined) {
      setFromFile(cmd, option, value, `config file ${file}: ${where}`, into);
    } else if (extraKeys.includes(key)) {
      extras[key] = value;
    }
  };
  checkOneSpelling(data, `config file ${file}`);
  for (const [rawKey, value] of Object.entries(data)) {
    // `switcher` names both a command and a flag (node, dial and ping's URL): a mapping is the
    // command's section, anything else the flag's value, as for every other top-level key.
    const isFlag = !isMapping(value) && known.has(camel(rawKey));
    if (sectionNames.has(rawKey) && !isFlag) {
      if (!isMapping(value)) {
        throw new ConfigError(
          `config file ${file}: "${rawKey}" must be a mapping (the ${rawKey} command's settings)`,
        );
      }
      continue;
    }
    const key = camel(rawKey);
    if (!known.has(key)) throw new ConfigError(`config file ${file}: unknown setting "${rawKey}"`);
    const owner = TOP_LEVEL_OWNER[key];
    checkOneMeaning(
      owner === undefined ? siblings : siblings.filter((c) => c.name() === owner),
      key,
      rawKey,
      value,
      file,
    );
    if (owner !== undefined && owner !== cmd.name()) continue;
    apply(rawKey, key, value);
  }
  const section = data[cmd.name()];
  if (isMapping(section)) {
    checkOneSpelling(section, `config file ${file}: ${cmd.name()}`);
    for (const [rawKey, value] of Object.entries(section)) {
      const key = camel(rawKey);
      if (!own.has(key) && !extraKeys.includes(key)) {
        throw new ConfigError(`config file ${file}: unknown setting "${cmd.name()}.${rawKey}"`);
      }
      apply(`${cmd.name()}.${rawKey}`, key, value);
    }
  }
  return extras;
}

/**
 * The settings `file` holds for `cmd` now, read and checked whole as at start (an error anywhere
 * in it throws; so does a file with no settings, loadConfigFileAgain), without touching `cmd`: a
 * reload reads some of them again (node-rules.ts). `data` is the file as the reload read it
 * (configSnapshot).
 */
export function readConfigSettings(
  cmd: Command,
  file: string,
  extraKeys: readonly string[] = [],
  data: ConfigData = loadConfigFileAgain(file),
): Map<string, unknown> {
  const values = new Map<string, unknown>();
  applyConfig(cmd, data, file, extraKeys, values);
  return values;
}

/**
 * The settings a start of `cmd` with `file` as it is now would resolve (`checkConfig` and the
 * reload's check of the whole file): flags and variables as given at this start, which win over
 * the file; the rest from the file, or the default when the file no longer sets it. The file is
 * read and checked whole, as at start (and refused when it holds no settings, as a reload reads
 * it: loadConfigFileAgain, or `data`, the file as the reload read it); `cmd` is left as it is.
 */
export function settingsAgain(
  cmd: Command,
  file: string,
  extraKeys: readonly string[] = [],
  data: ConfigData = loadConfigFileAgain(file),
): { opts: Record<string, unknown>; extras: ConfigData } {
  const values = new Map<string, unknown>();
  const extras = applyConfig(cmd, data, file, extraKeys, values);
  const opts: Record<string, unknown> = { ...cmd.opts() };
  for (const option of cmd.options) {
    const key = option.attributeName();
    if (NOT_FROM_FILE.has(key)) continue;
    const source = cmd.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') continue;
    opts[key] = values.has(key) ? values.get(key) : option.defaultValue;
  }
  return { opts, extras };
}

function setFromFile(
  cmd: Command,
  option: Option,
  value: unknown,
  where: string,
  into?: Map<string, unknown>,
): void {
  const key = option.attributeName();
  // The value is checked even when a flag or a variable overrides it: the file stays valid.
  const overridden = ['cli', 'env'].includes(cmd.getOptionValueSource(key) ?? '');
  const set = (v: unknown): void => {
    if (into !== undefined) into.set(key, v);
    else if (!overridden) cmd.setOptionValueWithSource(key, v, 'config');
  };
  if (option.isBoolean()) {
    if (typeof value !== 'boolean') throw new ConfigError(`${where} must be true or false`);
    set(option.negate ? !value : value);
    return;
  }
  // Only a repeatable flag takes a list. `admin: []` used to set --admin to an empty list, which
  // started the admin API on its default address, and `log-level: []` crashed; a list of one was
  // taken as its item, so a top-level `timeout: [5]` passed checkOneMeaning (which reads plain
  // values) and was 5 s for ping but 5 ms for clients and kick.
  if (Array.isArray(value) && !isRepeatable(option.parseArg)) {
    throw new ConfigError(`${where} takes one value, not a list`);
  }
  const items: unknown[] = Array.isArray(value) ? value : [value];
  let result: unknown = items.length === 0 ? [] : undefined;
  for (const item of items) {
    if (typeof item !== 'string' && typeof item !== 'number') {
      throw new ConfigError(`${where} must be a string or a number, or a list of them`);
    }
    const text = String(item);
    if (option.argChoices && !option.argChoices.includes(text)) {
      throw new ConfigError(`${where} must be one of ${option.argChoices.join(', ')}`);
    }
    try {
      result = option.parseArg ? option.parseArg(text, result) : text;
    } catch (err) {
      // commander's InvalidArgumentError (what the flag parsers throw) says nothing past its
      // message, which this one holds: kept as the cause, its code became a reload line's
      // `"cause":"commander.invalidArgument"`, a field meant for the system's code (ENOENT).
      const cause = err instanceof CommanderError ? undefined : err;
      throw new ConfigError(`${where}: "${text}" is invalid: ${(err as Error).message}`, { cause });
    }
  }
  set(result);
}
