import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The documentation pages, relative to ROOT: the README and the pages of docs/. */
export const DOCS = [
  'README.md',
  'docs/manual.md',
  'docs/errors.md',
  'docs/browser.md',
  'docs/cli.md',
  'docs/admin.md',
  'docs/security.md',
  'docs/protocol.md',
  'docs/tooling.md',
];
