import { afterEach, describe, expect, it } from 'vitest';
import { BaseNode, type FlexStream, FlexStream as FS, Session } from '../../../src/index.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import type { Transport } from '../../../src/transport/types.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * A session logs each failed attempt and each lost connection, then retries. A logger that
 * throws on those lines (pino to a closed pipe, EPIPE) stopped the retry: the attempt's promise
 * rejected with nobody to hear it (an unhandled rejection), and a lost connection's 'close'
 * handler threw, leaving the session 'ready' with no connection, for good.
 */

const PASSWORD = 'session-logger';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(failFirst: boolean) {
  const sw = new Switcher({ password: PASSWORD });
  cleanups.push(() => sw.close({ timeout: 1_000 }));
  const log = captureLogger();
  const epipe = (): never => {
    throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  };
  let attempts = 0;
  const session = new Session<FlexStream>({
    connector: async () => {
      if (++attempts === 1 && failFirst) throw new Error('connect ECONNREFUSED');
      const [a, b] = memoryPair();
      sw.handle(b);
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: PASSWORD,
    domain: 'alice',
    heartbeatInterval: 0,
    backoffInitial: 10,
    backoffMax: 20,
    reconnectSpread: 0,
    logger: { ...log, info: epipe, warn: epipe, error: epipe },
  });
  cleanups.push(() => session.close());
  return { sw, session, attempts: () => attempts };
}

describe('a logger that throws inside a session', () => {
  it("on 'session attempt failed': the session retries and gets ready", async () => {
    const { session, attempts } = setup(true);
    await session.ready({ timeout: 5_000 });
    expect(attempts()).toBe(2);
    expect(session.state).toBe('ready');
  });

  it("on 'session disconnected': the session reconnects", async () => {
    const { sw, session } = setup(false);
    await session.ready({ timeout: 5_000 });
    const again = new Promise<void>((resolve) => session.once('ready', () => resolve()));
    sw.kick('alice');
    await again;
    expect(session.connections).toBe(2);
    expect(session.state).toBe('ready');
  });
});
