import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { startCliAdmin } from '../../src/cli/admin-server.js';
import { buildProgram } from '../../src/cli/program.js';
import { ReloadCounts } from '../../src/cli/reload-count.js';
import {
  type SwitcherOpts,
  servedCertificate,
  switcherReload,
  switcherReloadPlan,
} from '../../src/cli/switcher.js';
import { type CertPair, certA, certB, certExpired, servedFingerprint } from '../helpers/certs.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { tlsSwitcherWithFiles } from '../helpers/tls-switcher-files.js';
import { parseMetrics } from './admin-fixture.js';
import { request } from './admin-http.js';

/**
 * The switcher command's reload series on its admin server's /metrics, set up as `flexmux
 * switcher --tls --wss --cert --key --password-file --admin` sets them up and reloaded as SIGHUP
 * reloads: the certificate's expiry follows the certificate served, the reload counters its
 * results.
 */

const HOST = '127.0.0.1';
const TOKEN = 'metrics-token';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** notAfter of a fixture certificate file, in Unix seconds, read here independently of src/. */
const expiryOf = (file: string): number => Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000;

async function setup(first: CertPair = certA) {
  const { files, switcher, specs, pem, listeners } = await tlsSwitcherWithFiles(
    HOST,
    cleanup,
    'flexmux-reload-metrics-',
    first,
  );
  const logger = captureLogger();
  const certificate = servedCertificate(specs, pem, logger);
  let now = 1_700_000_000_000;
  const reloads = new ReloadCounts(() => now);
  const server = await startCliAdmin({ switcher }, { host: HOST, port: 0 }, TOKEN, logger, {
    reloads,
    certificate,
  });
  cleanup.push(() => server.close());
  const o = { cert: files.cert, key: files.key, passwordFile: files.password } as SwitcherOpts;
  const plan = switcherReloadPlan(o, switcher, {
    password: 'password-one',
    generated: false,
    listeners,
    pem,
    certificate,
    command: buildProgram(() => {}).commands.find((c) => c.name() === 'switcher') as Command,
  });
  const tls = listeners.find((l) => l.url.startsWith('tls:'))?.url ?? '';
  return {
    files,
    logger,
    tlsPort: Number(new URL(tls).port),
    reload: switcherReload(plan, logger, reloads, certificate),
    setClock: (t: number) => {
      now = t;
    },
    scrape: async () => {
      const r = await request(server.url, '/metrics', { token: TOKEN });
      expect(r.status).toBe(200);
      return parseMetrics(r.text);
    },
  };
}

const EXPIRY = 'flexmux_tls_certificate_expiry_timestamp_seconds';
const OK = 'flexmux_reloads_total{result="ok"}';
const FAILED = 'flexmux_reloads_total{result="failed"}';
const LAST = 'flexmux_reload_last_success_timestamp_seconds';

describe('the switcher command’s reload metrics', () => {
  it('show the served certificate’s expiry and follow a reload to another', async () => {
    const t = await setup();
    const a = expiryOf(certA.certFile);
    const b = expiryOf(certB.certFile);
    expect(a).not.toBe(b);
    let m = await t.scrape();
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(a);
    expect(m.get(`${EXPIRY}{kind="wss"}`)).toBe(a);
    expect(m.get(OK)).toBe(0);
    expect(m.get(FAILED)).toBe(0);
    // Until a reload, the files were last read at start.
    expect(m.get(LAST)).toBe(1_700_000_000);

    copyFileSync(certB.certFile, t.files.cert);
    copyFileSync(certB.keyFile, t.files.key);
    t.setClock(1_700_000_100_000);
    expect((await t.reload()).changed).toEqual(['certificate']);
    expect(await servedFingerprint(t.tlsPort)).toBe(certB.fingerprint);
    m = await t.scrape();
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(b);
    expect(m.get(`${EXPIRY}{kind="wss"}`)).toBe(b);
    expect(m.get(OK)).toBe(1);
    expect(m.get(FAILED)).toBe(0);
    expect(m.get(LAST)).toBe(1_700_000_100);
    // Far from its end: nothing said of it.
    expect(t.logger.find(/^the certificate served/)).toEqual([]);
  });

  it('count a mismatched pair as a failed reload and keep the expiry of the certificate still served', async () => {
    const t = await setup();
    copyFileSync(certB.certFile, t.files.cert); // the new certificate, the old key
    t.setClock(1_700_000_200_000);
    expect((await t.reload()).failed).toEqual(['certificate']);
    let m = await t.scrape();
    expect(m.get(OK)).toBe(0);
    expect(m.get(FAILED)).toBe(1);
    expect(m.get(LAST)).toBe(1_700_000_000);
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(expiryOf(certA.certFile));

    // A failure of one item fails the reload, though another item changed.
    writeFileSync(t.files.password, 'password-two\n');
    const r = await t.reload();
    expect(r).toMatchObject({ changed: ['password'], failed: ['certificate'] });
    m = await t.scrape();
    expect(m.get(FAILED)).toBe(2);
    expect(m.get(OK)).toBe(0);

    // Fixed: the next reload is ok, and serves B.
    copyFileSync(certB.keyFile, t.files.key);
    t.setClock(1_700_000_300_000);
    expect((await t.reload()).failed).toEqual([]);
    m = await t.scrape();
    expect(m.get(OK)).toBe(1);
    expect(m.get(FAILED)).toBe(2);
    expect(m.get(LAST)).toBe(1_700_000_300);
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(expiryOf(certB.certFile));
  });

  it('keep serving an expired certificate, with an error line at start and at each reload', async () => {
    const t = await setup(certExpired);
    const expired = 'the certificate served expired on 2020-04-01T00:00:00.000Z; still serving it';
    expect(t.logger.find(expired).map((e) => e.level)).toEqual(['error']);
    expect(t.logger.find(expired)[0]?.fields).toMatchObject({ notAfter: '2020-04-01T00:00:00.000Z' });
    expect(await servedFingerprint(t.tlsPort)).toBe(certExpired.fingerprint);
    let m = await t.scrape();
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(Date.UTC(2020, 3, 1) / 1000);
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(expiryOf(certExpired.certFile));

    // A reload that finds the same files says it again: the renewal the operator expected is not there.
    expect((await t.reload()).unchanged).toContain('certificate');
    expect(t.logger.find(expired)).toHaveLength(2);
    expect(t.logger.find('reloaded')).toHaveLength(1);

    copyFileSync(certA.certFile, t.files.cert);
    copyFileSync(certA.keyFile, t.files.key);
    expect((await t.reload()).changed).toEqual(['certificate']);
    expect(t.logger.find(expired)).toHaveLength(2);
    expect(t.logger.atLeast('warn').filter((e) => e.msg !== expired)).toEqual([]);
    m = await t.scrape();
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(expiryOf(certA.certFile));
    expect(m.get(OK)).toBe(2);
  });
});

describe('the switcher command’s admin /metrics', () => {
  it("serves the process's series: its memory, CPU and event-loop lag are the switcher's", async () => {
    // The CLI passed no processMetrics, and no flag sets it: an operator of `flexmux switcher
    // --admin` had no memory, CPU or event-loop lag of the process to alert on.
    const { scrape } = await setup();
    const m = await scrape();
    expect(m.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect([...m.keys()].some((k) => k.startsWith('nodejs_eventloop_lag_seconds'))).toBe(true);
    expect(m.get('flexmux_reloads_total{result="ok"}')).toBe(0);
  });
});
