import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PemPair } from '../../../src/cli/listeners.js';
import { readPemPair } from '../../../src/cli/listeners.js';
import { certificateReload, reloadAll, secretReload } from '../../../src/cli/reload.js';
import { readSecretFile } from '../../../src/cli/secret.js';
import { certA, certB } from '../../helpers/certs.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * One reload reads each file once: the items that apply a file and the check of the whole config
 * file (ReloadPlan.startCheck) see one version of it, even when a write lands between the two.
 */

const dir = mkdtempSync(join(tmpdir(), 'flexmux-reload-reads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a reload', () => {
  it('checks the password file it applied, not one written after', async () => {
    const file = join(dir, 'password');
    writeFileSync(file, 'second\n');
    const applied: string[] = [];
    const item = secretReload('password', file, 'first', (p) => {
      applied.push(p);
      // A write that lands while the reload runs (the next deploy moving its file in place).
      writeFileSync(file, 'third\n');
    });
    const checked: string[] = [];
    const plan = {
      items: [item],
      notReloaded: [],
      startCheck: {
        file: join(dir, 'flexmux.yaml'),
        check: async () => {
          checked.push(readSecretFile(file, 'password'));
          return [];
        },
      },
    };
    expect((await reloadAll(plan, captureLogger())).changed).toEqual(['password']);
    expect(applied).toEqual(['second']);
    expect(checked).toEqual(['second']);
    // The next reload reads the file again.
    checked.length = 0;
    await reloadAll(plan, captureLogger());
    expect(checked).toEqual(['third']);
    expect(applied).toEqual(['second', 'third']);
  });

  it('checks the certificate pair it applied, not one written after', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    copyFileSync(certB.certFile, cert);
    copyFileSync(certB.keyFile, key);
    const listener = {
      setSecureContext(_pair: PemPair) {
        // certbot renewing again while this reload runs.
        copyFileSync(certA.certFile, cert);
        copyFileSync(certA.keyFile, key);
      },
    };
    const item = certificateReload(cert, key, [listener], { cert: certA.cert, key: certA.key });
    let checked: PemPair | undefined;
    const plan = {
      items: [item],
      notReloaded: [],
      startCheck: {
        file: join(dir, 'flexmux.yaml'),
        check: async () => {
          checked = readPemPair({
            tcp: [],
            ws: [],
            tls: [{ host: '127.0.0.1', port: 1 }],
            wss: [],
            cert,
            key,
          });
          return [];
        },
      },
    };
    expect((await reloadAll(plan, captureLogger())).changed).toEqual(['certificate']);
    expect(checked?.cert.equals(certB.cert)).toBe(true);
    expect(checked?.key.equals(certB.key)).toBe(true);
  });
});
