import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';

/**
 * The files one reload reads (reload.ts, reloadAll): each read at most once, and that version, or
 * that failure, given to every part of the reload, as configSnapshot does for the config file.
 * The items (certificate, secrets, CA) and the check of the whole file (check-again.ts) each read
 * them on their own before, so a reload that met a write (certbot replacing the pair, a password
 * file moved into place) could apply one version and check another: a warning for a file never
 * applied, or none for the one that was. Outside a reload, a read is a plain read.
 */

type Read = { bytes: Buffer } | { err: unknown };

const scope = new AsyncLocalStorage<Map<string, Read>>();

/** readFileSync of `file`, or within oneReadEach, the one read of it made there. Do not change it. */
export function readFileOnce(file: string): Buffer {
  const seen = scope.getStore();
  if (seen === undefined) return readFileSync(file);
  let got = seen.get(file);
  if (got === undefined) {
    try {
      got = { bytes: readFileSync(file) };
    } catch (err) {
      got = { err };
    }
    seen.set(file, got);
  }
  if ('err' in got) throw got.err;
  return got.bytes;
}

/** Runs `run` with each file it reads through readFileOnce read once. */
export function oneReadEach<T>(run: () => Promise<T>): Promise<T> {
  return scope.run(new Map(), run);
}
