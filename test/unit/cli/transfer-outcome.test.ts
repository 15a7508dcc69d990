import { afterEach, describe, expect, it } from 'vitest';
import { streamOutcome } from '../../../src/cli/dial.js';
import { transferOutcome } from '../../../src/cli/meter.js';
import { ConnectionClosedError } from '../../../src/index.js';
import { links, nodePair } from '../../helpers/links.js';
import { readAll } from '../../helpers/streams.js';

/** The first word of `dial --stats`'s summary, from how the transfer ended. */

const interrupted = Object.assign(new Error('interrupted by SIGINT'), { code: 'CLI_INTERRUPTED' });
const reset = Object.assign(new Error('stream reset by peer'), { code: 'FLEX_ERR_STREAM_RESET' });

describe('transferOutcome', () => {
  it('done: every byte carried, no error', () => {
    expect(transferOutcome({ complete: true, signalled: false, failure: undefined })).toBe('done');
  });

  it('remote ended, not done: every byte read went both ways, but stdin was left unread', () => {
    expect(transferOutcome({ complete: true, signalled: false, failure: undefined, inputLeft: true })).toBe(
      'remote ended',
    );
    expect(transferOutcome({ complete: false, signalled: false, failure: reset, inputLeft: true })).toBe(
      'failed',
    );
  });

  it('interrupted: a signal cut the transfer short', () => {
    expect(transferOutcome({ complete: false, signalled: true, failure: interrupted })).toBe('interrupted');
  });

  it('failed: the transfer ended with an error no signal caused', () => {
    expect(transferOutcome({ complete: false, signalled: false, failure: reset })).toBe('failed');
    expect(transferOutcome({ complete: true, signalled: false, failure: reset })).toBe('failed');
  });
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** dial's stream (`s`, no 'error' listener but the command's) and its peer. */
async function open() {
  const nodes = await nodePair(links.memory!, { heartbeatInterval: 0 }, { heartbeatInterval: 0 });
  cleanups.push(nodes.close);
  nodes.a.on('error', () => {});
  nodes.b.on('error', () => {});
  const accepted = nodes.b.listen(9).accept();
  const s = await nodes.a.dial('bob:9');
  const peer = await accepted;
  peer.on('error', () => {});
  return { a: nodes.a, s, peer };
}

describe("dial's outcome of its stream", () => {
  it('is failed, not done, when the stream is aborted under the command (its node destroyed)', async () => {
    const { a, s } = await open();
    const done = streamOutcome(s);
    a.destroy();
    const failure = await done;
    expect(failure).toBeInstanceOf(ConnectionClosedError);
    const complete = s.readableEnded && s.writableFinished;
    expect(transferOutcome({ complete, signalled: false, failure })).toBe('failed');
  });

  it('is done after a clean end both ways', async () => {
    const { s, peer } = await open();
    const done = streamOutcome(s);
    const got = readAll(peer);
    s.resume();
    peer.end('bye');
    s.end('hi');
    expect((await got).toString()).toBe('hi');
    const failure = await done;
    expect(failure).toBeUndefined();
    const complete = s.readableEnded && s.writableFinished;
    expect(transferOutcome({ complete, signalled: false, failure })).toBe('done');
  });
});
