import { randomBytes } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import { decodeTextFile } from './decode.js';
import { CliError } from './exit.js';
import { readFileOnce } from './file-once.js';

/**
 * Secrets come from the environment or from a file, never from the command line alone, where
 * every user of the machine can read them in the process list.
 */

export const PASSWORD_ENV = 'FLEXMUX_PASSWORD';
export const ADMIN_TOKEN_ENV = 'FLEXMUX_ADMIN_TOKEN';

/** What a secret's text ended with that is not taken as part of it, for the log line. */
export type SecretEnding = 'LF' | 'CRLF' | 'CR';

/**
 * A secret's text without what no one means as part of it: a leading byte-order mark and one
 * line ending at the end (`\n` as `echo` writes it, `\r\n` as Windows editors do, a lone `\r`
 * where a CRLF line was split at its `\n`, as env-files often are). The same for a file and for
 * an environment variable: a Kubernetes secret or an env-file carries the file's newline into the
 * variable, and kept, it made the password one the switcher refused as wrong.
 */
export function trimSecret(text: string): { secret: string; ending: SecretEnding | undefined } {
  // Windows Notepad starts a UTF-8 file with a byte-order mark (U+FEFF). Kept, it became the
  // password's first character: a password that looked right failed admission, and a token was
  // refused as not printable ASCII.
  const body = text.replace(/^\uFEFF/, '');
  const m = /\r\n$|\n$|\r$/.exec(body);
  if (m === null) return { secret: body, ending: undefined };
  const ending: SecretEnding = m[0] === '\r\n' ? 'CRLF' : m[0] === '\n' ? 'LF' : 'CR';
  return { secret: body.slice(0, m.index), ending };
}

/**
 * A secret that is empty or only white space once trimmed is a mistake (a secret that was not
 * mounted or written), never a password meant to let in whoever sends the same blanks: refused.
 */
function checkNotBlank(secret: string, where: string): void {
  if (secret === '') throw new CliError('CLI_USAGE', `${where} is empty`);
  if (secret.trim() === '') throw new CliError('CLI_USAGE', `${where} holds only white space`);
}

/**
 * Reads a secret file: its whole content minus a leading byte-order mark and one trailing line
 * ending (trimSecret). Empty or blank once trimmed: refused.
 */
export function readSecretFile(file: string, what: string): string {
  let text: string;
  try {
    text = decodeTextFile(readFileOnce(file));
  } catch (err) {
    throw new CliError('CLI_USAGE', `cannot read the ${what} file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // An empty file is refused, as an empty FLEXMUX_PASSWORD counts as none: an empty password
  // would let anyone in.
  const { secret } = trimSecret(text);
  checkNotBlank(secret, `the ${what} file ${file}`);
  return secret;
}

/**
 * The secret in the environment variable `name`: undefined when unset or set to '' (as every
 * FLEXMUX_ variable, for `NAME=` lines of env-files); trimmed as a file is (trimSecret), with a
 * warning naming what was dropped (never the secret); refused when that leaves nothing, or only
 * white space.
 */
export function envSecret(
  name: string,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
  logger?: Pick<Logger, 'warn'>,
): string | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const { secret, ending } = trimSecret(v);
  checkNotBlank(secret, `${name} (the ${what})`);
  const bom = v.startsWith('\uFEFF');
  if (ending !== undefined || bom) {
    const dropped = [
      bom ? 'a leading byte-order mark' : '',
      ending ? `a trailing line ending (${ending})` : '',
    ]
      .filter((x) => x !== '')
      .join(' and ');
    logger?.warn(
      { env: name, dropped },
      `${name} has ${dropped}, as a Kubernetes secret or an env-file may add: not taken as part of the ${what} (nor is it from a secret file)`,
    );
  }
  return secret;
}

export interface SecretSource {
  /** From `--*-file`. */
  file?: string;
  /** The environment variable to read. */
  env: string;
  what: string;
}

/**
 * The secret from the file if given, else from the environment (envSecret; what it trimmed is
 * warned of on `logger`), else undefined.
 */
export function findSecret(
  s: SecretSource,
  env: NodeJS.ProcessEnv = process.env,
  logger?: Pick<Logger, 'warn'>,
): string | undefined {
  if (s.file !== undefined) return readSecretFile(s.file, s.what);
  return envSecret(s.env, s.what, env, logger);
}

/** Like findSecret, but a missing secret is a usage error naming both ways to give it. */
export function requireSecret(
  s: SecretSource & { flag: string },
  env: NodeJS.ProcessEnv = process.env,
  logger?: Pick<Logger, 'warn'>,
): string {
  const v = findSecret(s, env, logger);
  if (v === undefined) {
    throw new CliError('CLI_USAGE', `no ${s.what}: set ${s.env} or pass ${s.flag} FILE`);
  }
  return v;
}

/** A fresh password: 18 random bytes, base64url (24 characters, 144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
