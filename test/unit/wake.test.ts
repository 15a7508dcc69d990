import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { SessionState } from '../../src/node/session.js';
import { Emitter } from '../../src/util/emitter.js';
import { reconnectOnWake } from '../../src/wake.js';

/** A session as reconnectOnWake sees it: its state, and the calls to reconnectNow() and checkNow(). */
class FakeSession extends Emitter<{ state: [SessionState] }> {
  calls = 0;
  checks = 0;
  constructor(public state: SessionState) {
    super();
  }
  reconnectNow(): boolean {
    this.calls++;
    return this.state === 'backoff';
  }
  checkNow(): Promise<boolean> {
    this.checks++;
    return Promise.resolve(this.state === 'ready');
  }
  set(state: SessionState): void {
    this.state = state;
    this.emit('state', state);
  }
}

/** A worker's global scope: events, no document. */
const workerScope = (): EventTarget => new EventTarget();

describe('reconnectOnWake()', () => {
  it('in a worker (no document) hears `online` only, until the session closes', () => {
    const s = new FakeSession('backoff');
    const scope = workerScope();
    reconnectOnWake(s, scope);
    expect(getEventListeners(scope, 'online')).toHaveLength(1);
    scope.dispatchEvent(new Event('online'));
    expect(s.calls).toBe(1);
    s.set('closed');
    expect(getEventListeners(scope, 'online')).toHaveLength(0);
    scope.dispatchEvent(new Event('online'));
    expect(s.calls).toBe(1);
  });

  it('checks the connection of a ready session instead of reconnecting it', () => {
    const s = new FakeSession('ready');
    const scope = workerScope();
    reconnectOnWake(s, scope);
    scope.dispatchEvent(new Event('online'));
    expect([s.checks, s.calls]).toEqual([1, 0]);
    s.set('backoff');
    scope.dispatchEvent(new Event('online'));
    expect([s.checks, s.calls]).toEqual([1, 1]);
    s.set('closed');
  });

  it('a scope without events (Node.js) and a closed session get no listener', () => {
    const s = new FakeSession('backoff');
    expect(() => reconnectOnWake(s, {})).not.toThrow();
    const scope = workerScope();
    reconnectOnWake(new FakeSession('closed'), scope);
    expect(getEventListeners(scope, 'online')).toHaveLength(0);
  });
});
