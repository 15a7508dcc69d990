import { randomBytes } from 'node:crypto';
import { decodeTextFile } from './decode.js';
import { CliError } from './exit.js';
import { readFileOnce } from './file-once.js';

/**
 * Secrets come from the environment or from a file, never from the command line alone, where
 * every user of the machine can read them in the process list.
 */

export const PASSWORD_ENV = 'FLEXMUX_PASSWORD';
export const ADMIN_TOKEN_ENV = 'FLEXMUX_ADMIN_TOKEN';

/**
 * Reads a secret file: its whole content minus a leading byte-order mark and one trailing newline
 * (as `echo` writes it, or CRLF as Windows editors do).
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
  // Windows Notepad starts a UTF-8 file with a byte-order mark (U+FEFF). Kept, it became the
  // password's first character: a password that looked right failed admission, and a token was
  // refused as not printable ASCII. No one means it as part of a secret.
  const secret = text.replace(/^\uFEFF/, '').replace(/\r?\n$/, '');
  // An empty file is a mistake (a secret that was not mounted or written), not an empty password
  // that would let anyone in: refused, as an empty FLEXMUX_PASSWORD counts as none.
  if (secret === '') throw new CliError('CLI_USAGE', `the ${what} file ${file} is empty`);
  return secret;
}

export interface SecretSource {
  /** From `--*-file`. */
  file?: string;
  /** The environment variable to read. */
  env: string;
  what: string;
}

/** The secret from the file if given, else from the environment, else undefined. */
export function findSecret(s: SecretSource, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (s.file !== undefined) return readSecretFile(s.file, s.what);
  const v = env[s.env];
  return v === undefined || v === '' ? undefined : v;
}

/** Like findSecret, but a missing secret is a usage error naming both ways to give it. */
export function requireSecret(
  s: SecretSource & { flag: string },
  env: NodeJS.ProcessEnv = process.env,
): string {
  const v = findSecret(s, env);
  if (v === undefined) {
    throw new CliError('CLI_USAGE', `no ${s.what}: set ${s.env} or pass ${s.flag} FILE`);
  }
  return v;
}

/** A fresh password: 18 random bytes, base64url (24 characters, 144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
