import { afterEach, describe, expect, it } from 'vitest';
import { DialRefusedError, type Node, PingError } from '../../../src/index.js';
import { Cmd } from '../../../src/wire/constants.js';
import { encodeOpenError } from '../../../src/wire/open.js';
import { encodeUtf8 } from '../../../src/wire/utf8.js';
import { type RawPeer, rawLink as rawNodeLink } from '../../helpers/raw.js';

/**
 * A peer's refusal text (an OpenStream ACK's or a PING_ACK's payload) may be 64 KiB: the error the
 * application sees keeps it whole in `remoteText` but quotes a clip of it in its message, which
 * ends up in log lines and terminals. Go's own texts are short and stay whole.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function rawLink(): { node: Node; raw: RawPeer } {
  const link = rawNodeLink({ heartbeatInterval: 0 });
  cleanups.push(() => link.node.destroy());
  return link;
}

const HUGE = `${'y'.repeat(65_000)}z`;

describe("a peer's refusal text in error messages", () => {
  it('a dial refused with a 64 KiB text: message clipped, remoteText whole', async () => {
    const { node, raw } = rawLink();
    const dialing = node.dial('bob:80').catch((e: Error) => e);
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, encodeOpenError(HUGE));
    const err = (await dialing) as DialRefusedError;
    expect(err).toBeInstanceOf(DialRefusedError);
    expect(err.remoteText).toBe(HUGE);
    expect(err.reason).toBe('other');
    expect(err.message.length).toBeLessThan(300);
    expect(err.message).toContain('(65001 characters)');
    expect(err.message.startsWith('dial bob:80 refused: yyy')).toBe(true);
  });

  it('a dial refused with a Go text keeps it whole in the message', async () => {
    const { node, raw } = rawLink();
    const dialing = node.dial('bob:80').catch((e: Error) => e);
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 80, encodeOpenError('listener not found'));
    const err = (await dialing) as DialRefusedError;
    expect(err.message).toBe('dial bob:80 refused: listener not found');
    expect(err.reason).toBe('no-listener');
  });

  it('a ping answered with a 64 KiB error text: message clipped, remoteText whole', async () => {
    const { node, raw } = rawLink();
    const pinging = node.ping('bob', { timeout: 5_000 }).catch((e: Error) => e);
    const ping = await raw.next((f) => f.cmd === Cmd.PING);
    raw.send(Cmd.PING_ACK, 1, ping.srcPort, 2, 0, encodeUtf8(HUGE));
    const err = (await pinging) as PingError;
    expect(err).toBeInstanceOf(PingError);
    expect(err.remoteText).toBe(HUGE);
    expect(err.message.length).toBeLessThan(300);
    expect(err.message).toContain('(65001 characters)');
  });

  it('a ping answered with a Go text keeps it whole in the message', async () => {
    const { node, raw } = rawLink();
    const pinging = node.ping('bob', { timeout: 5_000 }).catch((e: Error) => e);
    const ping = await raw.next((f) => f.cmd === Cmd.PING);
    raw.send(Cmd.PING_ACK, 1, ping.srcPort, 2, 0, encodeUtf8('domain not found'));
    const err = (await pinging) as PingError;
    expect(err.message).toBe('ping bob failed: domain not found');
  });
});
