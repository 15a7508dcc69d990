import type { Browser, CDPSession } from 'playwright-core';

/**
 * A tab that can really be hidden. Playwright keeps every page it manages visible: it turns on
 * CDP focus emulation for each, and Chromium holds such a page as if it were being captured, so
 * neither another tab in front nor a minimised window hides it (document.visibilityState stays
 * 'visible', requestAnimationFrame keeps running). Chromium has no CDP command that sets the
 * visibility itself. This tab is opened over raw CDP in a browser context Playwright does not
 * know, so it behaves as a user's tab does: hidden while another tab of its window is in front.
 *
 * Its commands go through the browser's CDP session (Target.sendMessageToTarget, the non-flat
 * mode): Playwright's CDPSession cannot address a flat child session.
 */
export interface RawTab {
  /** The value of a page expression (awaited if it is a promise), passed as JSON. */
  evaluate<T>(expression: string): Promise<T>;
  /** Brings another tab of the window to the front: this one is hidden. */
  hide(): Promise<void>;
  /** Brings this tab to the front again. */
  show(): Promise<void>;
  /** Uncaught exceptions and console errors of the page. */
  readonly errors: string[];
  /** Closes the tab, its cover and their browser context. */
  close(): Promise<void>;
}

interface Reply {
  id?: number;
  method?: string;
  params?: {
    exceptionDetails?: { text: string; exception?: { description?: string } };
    type?: string;
    args?: { value?: unknown; description?: string }[];
  };
  result?: {
    result?: { value?: unknown };
    exceptionDetails?: { text: string; exception?: { description?: string } };
  };
  error?: { message: string };
}

/** Opens `url` in a tab of a window of its own; every command is bounded by `timeout` ms. */
export async function openRawTab(browser: Browser, url: string, timeout = 10_000): Promise<RawTab> {
  const cdp: CDPSession = await browser.newBrowserCDPSession();
  const { browserContextId } = await cdp.send('Target.createBrowserContext', {});
  const close = async (): Promise<void> => {
    await cdp.send('Target.disposeBrowserContext', { browserContextId }).catch(() => {});
    await cdp.detach().catch(() => {});
  };
  try {
    const { targetId } = await cdp.send('Target.createTarget', { url, browserContextId });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: false });
    const errors: string[] = [];
    const waiting = new Map<number, (reply: Reply) => void>();
    let next = 0;
    cdp.on('Target.receivedMessageFromTarget', (e) => {
      if (e.sessionId !== sessionId) return;
      const m = JSON.parse(e.message) as Reply;
      if (m.id !== undefined) waiting.get(m.id)?.(m);
      else if (m.method === 'Runtime.exceptionThrown') {
        const d = m.params?.exceptionDetails;
        errors.push(d?.exception?.description ?? d?.text ?? 'exception');
      } else if (m.method === 'Runtime.consoleAPICalled' && m.params?.type === 'error') {
        errors.push((m.params.args ?? []).map((a) => String(a.value ?? a.description)).join(' '));
      }
    });
    const call = (method: string, params: object = {}): Promise<Reply['result']> =>
      new Promise((resolve, reject) => {
        const id = ++next;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${method}: no answer within ${timeout} ms`));
        }, timeout);
        waiting.set(id, (m) => {
          clearTimeout(timer);
          waiting.delete(id);
          if (m.error) reject(new Error(`${method}: ${m.error.message}`));
          else resolve(m.result);
        });
        const message = JSON.stringify({ id, method, params });
        cdp.send('Target.sendMessageToTarget', { sessionId, message }).catch((e: Error) => {
          clearTimeout(timer);
          waiting.delete(id);
          reject(e);
        });
      });
    await call('Runtime.enable');
    let cover: string | null = null;
    return {
      errors,
      async evaluate<T>(expression: string): Promise<T> {
        const r = await call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
        const thrown = r?.exceptionDetails;
        if (thrown) throw new Error(thrown.exception?.description ?? thrown.text);
        return r?.result?.value as T;
      },
      async hide() {
        if (cover === null) {
          // A new tab of the same window (newWindow false, in front): this one goes to the back.
          cover = (await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId })).targetId;
        } else await cdp.send('Target.activateTarget', { targetId: cover });
      },
      async show() {
        await cdp.send('Target.activateTarget', { targetId });
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
