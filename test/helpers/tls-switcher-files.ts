import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ListenerSpecs,
  type OpenListener,
  type PemPair,
  readPemPair,
  startListeners,
} from '../../src/cli/listeners.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { type CertPair, certA } from './certs.js';

/** What `flexmux switcher --tls --wss --cert --key --password-file` reads, in a temp dir. */
export interface SwitcherFiles {
  cert: string;
  key: string;
  password: string;
  token: string;
}

/**
 * A switcher set up as `flexmux switcher --tls --wss --cert --key --password-file
 * [--admin-token-file]` sets it up, from files in a fresh temp dir (the certificate `first`,
 * password `password-one`, admin token `token-one`) that a test rewrites before a reload.
 * Everything made is undone through `cleanup`.
 */
export async function tlsSwitcherWithFiles(
  host: string,
  cleanup: (() => Promise<void> | void)[],
  prefix: string,
  first: CertPair = certA,
): Promise<{
  dir: string;
  files: SwitcherFiles;
  switcher: Switcher;
  specs: ListenerSpecs;
  pem: PemPair | undefined;
  listeners: OpenListener[];
}> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const files: SwitcherFiles = {
    cert: join(dir, 'fullchain.pem'),
    key: join(dir, 'privkey.pem'),
    password: join(dir, 'password'),
    token: join(dir, 'admin-token'),
  };
  copyFileSync(first.certFile, files.cert);
  copyFileSync(first.keyFile, files.key);
  writeFileSync(files.password, 'password-one\n');
  writeFileSync(files.token, 'token-one\n');
  const switcher = new Switcher({ password: 'password-one' });
  cleanup.push(() => switcher.close({ timeout: 1_000 }));
  const specs: ListenerSpecs = {
    tcp: [],
    ws: [],
    tls: [{ host, port: 0 }],
    wss: [{ host, port: 0, path: '/flex/ws' }],
    cert: files.cert,
    key: files.key,
  };
  const pem = readPemPair(specs);
  const listeners = await startListeners(switcher, specs, pem);
  cleanup.push(() => Promise.all(listeners.map((l) => l.close())).then(() => {}));
  return { dir, files, switcher, specs, pem, listeners };
}
