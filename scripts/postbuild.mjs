// Runs after tsc: copies what the compiler does not (the dashboard's static files) and builds
// the self-contained browser bundle when its script exists.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
cpSync(new URL('src/admin/static', root), new URL('dist/admin/static', root), { recursive: true });
const browser = new URL('scripts/build-browser.mjs', root);
if (existsSync(browser)) {
  // A URL's pathname is percent-encoded (a space is %20); node wants the file system path.
  const r = spawnSync(process.execPath, [fileURLToPath(browser)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
