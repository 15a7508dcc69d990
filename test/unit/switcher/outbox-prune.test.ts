import { describe, expect, it } from 'vitest';
import { switcherDefaults } from '../../../src/switcher/config.js';
import { Outbox, ReadGate } from '../../../src/switcher/outbox.js';
import { memoryPair } from '../../../src/transport/memory.js';

describe('switcher outbox', () => {
  it('forgets the queues of sources that have nothing waiting, so memory follows live pairs only', async () => {
    const [a, b] = memoryPair();
    b.attach({ data: () => {}, drain: () => {}, close: () => {} });
    const outbox = new Outbox(a, switcherDefaults);
    const h = new Uint8Array(11);
    for (let round = 0; round < 5; round++) {
      // 200 new sources each round, one frame each, all written out before the next round
      for (let i = 0; i < 200; i++) outbox.forward({ gate: new ReadGate(a) }, h, new Uint8Array(10));
      outbox.scheduler.flush();
      expect(outbox.queuedBytes).toBe(0);
    }
    // without pruning this would be 1,000
    expect(outbox.sources).toBeLessThanOrEqual(400);
    outbox.close();
    a.destroy();
  });
});
