import type { NodeSession } from '../connect.js';
import { AbortError } from '../errors.js';
import { formatTarget, parseAddress } from '../node/address.js';
import { whenAborted } from '../util/signals.js';

type Dial = NodeSession['dial'];

/** A dialer for a session that does not exist yet, and what hands it over once it does. */
export interface DialerToCome {
  dialer: Pick<NodeSession, 'dial'>;
  /** From now on every dial is `session`'s; the dials waiting for it are made on it now. */
  open(session: Pick<NodeSession, 'dial'>): void;
}

/**
 * The dialer of `flexmux node`'s --forward listeners, which are bound before the session is
 * opened: a connection accepted meanwhile dials through it, and its dial waits for open(). The
 * dial's signal (the command's shutdown) ends that wait at once with AbortError: a shutdown during
 * start-up never opens the session, and a dial waiting for it (heeding no signal) left its
 * accepted connection hanging until the process exited.
 */
export function dialerToCome(): DialerToCome {
  let session: Pick<NodeSession, 'dial'> | undefined;
  const waiting = new Set<(s: Pick<NodeSession, 'dial'>) => void>();
  const dial: Dial = (address, options = {}) => {
    if (session !== undefined) return session.dial(address, options);
    const { signal } = options;
    // Named as the node names its aborted dials ("dial bob:80 aborted"): a shutdown ends several
    // forwards' dials at once, and the log should say which. A bad address is refused now, as the
    // session's dial refuses it, not once the session is there.
    let target: string;
    try {
      target = formatTarget(parseAddress(address));
    } catch (err) {
      return Promise.reject(err);
    }
    const aborted = (): AbortError => new AbortError(`dial ${target} aborted`, { cause: signal?.reason });
    if (signal?.aborted) return Promise.reject(aborted());
    // Each wait listens through whenAborted, not to the signal itself: the dials
    // of every forward share the command's one shutdown signal, and a listener each on it made
    // Node warn of a leak past 10 waiting dials (the command turned the warning off instead).
    return new Promise((resolve, reject) => {
      const go = (s: Pick<NodeSession, 'dial'>): void => {
        unlisten?.();
        s.dial(address, options).then(resolve, reject);
      };
      waiting.add(go);
      const unlisten =
        signal === undefined
          ? undefined
          : whenAborted(signal, () => {
              waiting.delete(go);
              reject(aborted());
            });
    });
  };
  return {
    dialer: { dial },
    open(s) {
      session = s;
      for (const go of waiting) go(s);
      waiting.clear();
    },
  };
}
