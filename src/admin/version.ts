import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The version in flexmux's package.json (two levels up from src/admin/ and from dist/admin/). */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const v = (JSON.parse(text) as { version?: unknown }).version;
    cached = typeof v === 'string' ? v : 'unknown';
  } catch {
    cached = 'unknown';
  }
  return cached;
}
