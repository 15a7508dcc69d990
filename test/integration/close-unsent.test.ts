import { afterEach, describe, expect, it } from 'vitest';
import type { Node } from '../../src/index.js';
import { Cmd } from '../../src/wire/constants.js';
import { rawLink, rawStream } from '../helpers/raw.js';

/**
 * PROTOCOL.md 5.3: a CloseStream from the peer closes both halves, and writes that are blocked on
 * credit fail ("writer is closed"). Bytes a flexmux stream accepted from the application but could
 * not send for lack of credit are lost then; the application must hear of it, also after end().
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

describe('a v3 stream closed by the peer with bytes still waiting for credit', () => {
  for (const ended of [false, true]) {
    it(`reports the lost bytes as an error (end() ${ended ? 'called' : 'not called'})`, async () => {
      const { node, raw } = rawLink();
      nodes.push(node);
      const { accepted } = await rawStream(node, raw, 4096); // Go-like open, 4 KiB window
      const errors: Error[] = [];
      accepted.on('error', (e) => errors.push(e));
      accepted.write(Buffer.alloc(10_000, 1)); // 4 KiB go out, 5.9 KB wait for credit
      if (ended) accepted.end();
      await raw.next((f) => f.cmd === Cmd.DATA);
      // The Go peer closes without acknowledging anything.
      raw.send(Cmd.CLOSE, 1, 80, 2, 5000);
      await raw.next((f) => f.cmd === Cmd.CLOSE_ACK);
      await new Promise((r) => setImmediate(r));
      expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/unsent/)]);
    });
  }
});
