/**
 * A page's session tries again at once when the page comes back online or is shown again
 * (`reconnectOnWake`, the browser connect()). Without it, a page whose network returned waited
 * out its back-off, up to backoffMax (30 s), and a tab shown again waited for a timer that the
 * browser may have held back while it was hidden (Chrome runs a hidden tab's timers once a minute
 * after five minutes; mobile browsers freeze hidden pages outright). A session still ready checks
 * its connection instead: one that died while the laptop slept (or the network changed, or a NAT
 * mapping expired) looked up until the heartbeat found it: after a sleep longer than its interval,
 * a timeout after its first check since the wake (up to a quarter interval after it: 5.75 s with
 * the defaults, later if the page's timers were held back); after a shorter sleep, within
 * interval + timeout + a quarter (20.75 s); with an upload in flight, up to 2 × interval +
 * timeout + a quarter (35.75 s) after the last byte heard, the sleep counted, if that is later.
 */

import type { SessionState } from './node/session.js';

/** The part of a session this needs: reconnectNow(), checkNow() and its state. */
export interface Wakeable {
  reconnectNow(): boolean;
  checkNow(): Promise<boolean>;
  readonly state: SessionState;
  on(event: 'state', fn: (state: SessionState) => void): unknown;
  off(event: 'state', fn: (state: SessionState) => void): unknown;
}

/** What listening takes on a global scope or a document: in a page, `window` and `document`. */
interface Events {
  addEventListener(type: string, fn: () => void): void;
  removeEventListener(type: string, fn: () => void): void;
}

/** A page's or a worker's global scope: its events, and a page's `document`. */
interface Scope extends Partial<Events> {
  document?: Partial<Events> & { visibilityState?: string };
}

function listens<T extends Partial<Events>>(x: T | undefined): x is T & Events {
  return typeof x?.addEventListener === 'function' && typeof x.removeEventListener === 'function';
}

/**
 * On the scope's `online` event and on the document's `visibilitychange` to visible, calls
 * `session.checkNow()` while the session is ready and `session.reconnectNow()` otherwise, until
 * the session closes, when both listeners go. Both events at once make one check (checkNow()
 * shares the ping under way). A scope without events (Node.js) gets none; a worker, which has no
 * document, hears `online` only.
 */
export function reconnectOnWake(session: Wakeable, scope: Scope = globalThis as Scope): void {
  if (session.state === 'closed') return;
  const doc = listens(scope.document) ? scope.document : undefined;
  const win = listens(scope) ? scope : undefined;
  if (win === undefined && doc === undefined) return;
  const wake = (): void => {
    if (session.state === 'ready') void session.checkNow();
    else session.reconnectNow();
  };
  const onOnline = (): void => wake();
  const onVisibility = (): void => {
    if (doc?.visibilityState === 'visible') wake();
  };
  // On 'closed' itself rather than on 'close', which follows only once the connection closed.
  const onState = (state: SessionState): void => {
    if (state !== 'closed') return;
    win?.removeEventListener('online', onOnline);
    doc?.removeEventListener('visibilitychange', onVisibility);
    session.off('state', onState);
  };
  win?.addEventListener('online', onOnline);
  doc?.addEventListener('visibilitychange', onVisibility);
  session.on('state', onState);
}
