import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, StreamResetError } from '../../src/index.js';
import { streamPair } from '../helpers/links.js';
import { once } from '../helpers/streams.js';

/**
 * A stream that fails before anyone listens for 'error' does not crash the process: it closes
 * with the error in `failure` (manual section 3). It has still failed: a write or an end() that
 * waited for the peer's credit did not deliver its bytes, so its callback gets the error (as
 * docs/errors.md says of writes in progress on a reset stream), and no 'finish' claims otherwise.
 */

const pairs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.close();
});

/** `s` (no 'error' listener) writes to `peer`, which never reads: a 64 KiB window. */
async function pair(): Promise<{ s: FlexStream; peer: FlexStream; events: string[] }> {
  const options = { window: 65_536, streamHighWaterMark: 65_536 };
  const { s, peer, close } = await streamPair(options, options);
  pairs.push({ close });
  peer.on('error', () => {});
  const events: string[] = [];
  for (const e of ['finish', 'end', 'close']) s.on(e, () => events.push(e));
  return { s, peer, events };
}

const reset = (): Error => Object.assign(new Error('go away'), { resetCode: 0x123 });

function settled(run: (cb: (err?: Error | null) => void) => void): Promise<Error | null | undefined> {
  return new Promise((resolve) => run(resolve));
}

describe('a stream reset while nobody listens for its errors', () => {
  it("fails the callback of an end() that waited for credit, and emits no 'finish'", async () => {
    const { s, peer, events } = await pair();
    const ended = settled((cb) => s.end(Buffer.alloc(200_000), cb));
    await expect.poll(() => s.core.sendCredit).toBe(0);
    peer.destroy(reset());
    const err = await ended;
    expect(err).toBeInstanceOf(StreamResetError);
    expect(err).toMatchObject({ code: 'FLEX_ERR_STREAM_RESET', resetCode: 0x123 });
    if (!s.destroyed) await once(s, 'close');
    expect(s.failure).toBe(err);
    expect(events).toEqual(['close']);
  });

  it("fails the callback of a write that waited for credit, and emits no 'finish'", async () => {
    const { s, peer, events } = await pair();
    const written = settled((cb) => s.write(Buffer.alloc(300_000), cb));
    await expect.poll(() => s.core.sendCredit).toBe(0);
    peer.destroy(reset());
    const err = await written;
    expect(err).toBeInstanceOf(StreamResetError);
    if (!s.destroyed) await once(s, 'close');
    expect(s.failure).toBe(err);
    expect(events).toEqual(['close']);
  });

  it("still gives the error to an 'error' listener added in the turn it failed in", async () => {
    const { s, peer, events } = await pair();
    const written = settled((cb) => s.write(Buffer.alloc(300_000), cb));
    await expect.poll(() => s.core.sendCredit).toBe(0);
    // The application attaches its handler right after the failure (a stream reset while it waited
    // in a listener's backlog is handed over so).
    let failed!: Promise<Error>;
    const onError = s.onError.bind(s);
    s.onError = (e: Error): void => {
      onError(e);
      failed = once<Error>(s, 'error');
    };
    peer.destroy(reset());
    await expect.poll(() => failed).toBeDefined();
    const err = await failed;
    expect(err).toBeInstanceOf(StreamResetError);
    expect(await written).toBe(err);
    if (!s.destroyed) await once(s, 'close');
    expect(s.failure).toBeNull();
    expect(events).toEqual(['close']);
  });

  it('fails an end() made after the failure, before its error was handed out', async () => {
    const { s, peer, events } = await pair();
    let ended!: Promise<Error | null | undefined>;
    const onError = s.onError.bind(s);
    s.onError = (e: Error): void => {
      onError(e);
      ended = settled((cb) => s.end(cb));
    };
    peer.destroy(reset());
    await expect.poll(() => ended).toBeDefined();
    expect(await ended).toBeInstanceOf(StreamResetError);
    if (!s.destroyed) await once(s, 'close');
    expect(events).toEqual(['close']);
  });

  // A dialer that wrote right after its dial resolved, with a reset already in (the acceptor reset
  // the stream at once), got "writer is closed" (StreamClosedError) as an 'error' event: the
  // reset, the cause, was lost, and with no listener the process crashed.
  it('fails a write made after the failure, before its error was handed out, with that error', async () => {
    const { s, peer, events } = await pair();
    let written!: Promise<Error | null | undefined>;
    const onError = s.onError.bind(s);
    s.onError = (e: Error): void => {
      onError(e);
      written = settled((cb) => s.write('more', cb));
    };
    peer.destroy(reset());
    await expect.poll(() => written).toBeDefined();
    // No 'error' listener, and no uncaught error (vitest reports one).
    expect(await written).toBeInstanceOf(StreamResetError);
    if (!s.destroyed) await once(s, 'close');
    expect(s.failure).toBeInstanceOf(StreamResetError);
    expect(events).toEqual(['close']);
  });

  it("gives that write's error once to an 'error' listener added in the turn it failed in", async () => {
    const { s, peer } = await pair();
    const heard: Error[] = [];
    let written!: Promise<Error | null | undefined>;
    const onError = s.onError.bind(s);
    s.onError = (e: Error): void => {
      onError(e);
      written = settled((cb) => s.write('more', cb));
      s.on('error', (err) => heard.push(err));
    };
    peer.destroy(reset());
    await expect.poll(() => written).toBeDefined();
    expect(await written).toBeInstanceOf(StreamResetError);
    if (!s.destroyed) await once(s, 'close');
    expect(heard).toHaveLength(1);
    expect(heard[0]).toBeInstanceOf(StreamResetError);
  });

  // Its own destroy(err) is no unheard failure: Node emits the error a tick later, to a listener
  // added meanwhile.
  it('leaves `failure` unset on a destroy(err) of its own', async () => {
    const { s } = await pair();
    s.destroy(reset());
    const err = await once<Error>(s, 'error');
    expect(err.message).toBe('go away');
    expect(s.failure).toBeNull();
  });
});
