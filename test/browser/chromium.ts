import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe } from 'vitest';

/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser). A missing
 * /usr/bin/chromium fails the suite with a message saying what to do; FLEXMUX_SKIP_BROWSER=1
 * skips it instead, and says so.
 */

export const CHROMIUM = '/usr/bin/chromium';
/** Flags for Debian's Chromium on a machine with no network but loopback. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const skipBrowser = process.env.FLEXMUX_SKIP_BROWSER === '1';

/** Per-test bound: a browser test moves megabytes through a real browser on a shared machine. */
const TEST_TIMEOUT = 60_000;

/** `describe`, or a visibly skipped one when FLEXMUX_SKIP_BROWSER=1. */
export function describeBrowser(name: string, body: () => void): void {
  if (skipBrowser) {
    console.warn(`[flexmux] FLEXMUX_SKIP_BROWSER=1: skipping the browser tests "${name}"`);
    describe.skip(`${name} (skipped: FLEXMUX_SKIP_BROWSER=1)`, body);
    return;
  }
  describe(name, { timeout: TEST_TIMEOUT }, body);
}

/**
 * Launches Chromium. playwright's launch() gives every browser a fresh temporary user-data-dir
 * and removes it on close, so no profile state leaks between runs.
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install it (apt-get install -y chromium), ` +
        'or set FLEXMUX_SKIP_BROWSER=1 to skip the browser tests',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    headless: true,
    timeout: 20_000,
  });
}

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions and console errors of the page. */
  errors: string[];
  /** Everything the page logged. */
  console: string[];
}

/** A page in its own context (own storage), with its errors recorded. */
export async function openPage(browser: Browser, url: string): Promise<OpenedPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  const logged: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    logged.push(m.text());
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url);
  return { context, page, errors, console: logged };
}
