import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DialRefusedError } from '../../../src/errors.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { encodeFrame, type Frame, makeFrame } from '../../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen } from '../../../src/wire/open.js';
import { hex, join, PASSWORD, type Raw, text, unhex } from './helpers.js';

let sw: Switcher;
beforeEach(() => {
  // Go's IP order, so that frames compare byte for byte with the recorded sessions.
  sw = new Switcher({ password: PASSWORD, ipAssignment: 'sequential' });
});
afterEach(async () => {
  await sw.close({ timeout: 1_000 });
});

const isCmd = (cmd: number) => (f: Frame) => f.cmd === cmd;

/** echo = IP 1, alice = IP 2, as in the recorded sessions. */
async function pair(): Promise<{ echo: Raw; alice: Raw }> {
  const echo = await join(sw, 'echo');
  const alice = await join(sw, 'alice');
  expect([echo.ip, alice.ip]).toEqual([1, 2]);
  return { echo, alice };
}

describe('router: OpenStream (PROTOCOL.md 3.3)', () => {
  it('rewrites a domain dial: dst IP to the target, payload to the caller’s domain', async () => {
    const { echo, alice } = await pair();
    alice.send(unhex('02ffff0007000203e800096563686f0000000000'));
    const open = await echo.next();
    expect(hex(encodeFrame(open))).toBe('0200010007000203e8000a616c6963650000000000');
    echo.send(unhex('03000203e80001000700050000000000'));
    expect(hex(encodeFrame(await alice.next()))).toBe('03000203e80001000700050000000000');
    expect(sw.client('alice')?.streams).toBe(1);
    expect(sw.client('echo')?.streams).toBe(1);
  });

  it('resolves case-insensitively and keeps every byte after the window (caps, 14.1)', async () => {
    const { echo, alice } = await pair();
    const payload = new Uint8Array([...text('  ECHO'), 0, 0, 1, 0, 0, 0x03, 0xaa, 0xbb]);
    alice.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 7, 2, 1001, payload));
    const open = await echo.next();
    expect(open.dstIP).toBe(1);
    expect(hex(open.payload)).toBe(`${hex(text('alice'))}000001000003aabb`);
  });

  it('re-encodes a legacy open without NUL with window 0', async () => {
    const { echo, alice } = await pair();
    alice.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 7, 2, 1002, text('echo')));
    expect(hex((await echo.next()).payload)).toBe(`${hex(text('alice'))}0000000000`);
  });

  it('refuses an IP dial to an IP nobody holds at once, as that IP (Go drops it: the dialer waited out its timeout)', async () => {
    const { alice } = await pair();
    alice.send(makeFrame(Cmd.OPEN, 9, 22, 2, 1003, encodeOpen({ domain: '' })));
    const ack = await alice.next();
    expect([ack.cmd, ack.dstIP, ack.dstPort, ack.srcIP, ack.srcPort]).toEqual([Cmd.OPEN_ACK, 2, 1003, 9, 22]);
    const answer = decodeOpenAck(ack.payload);
    expect(answer.ok).toBe(false);
    if (!answer.ok) expect(new DialRefusedError(answer.error).reason).toBe('unknown-ip');
    expect(sw.stats().dropped).toBe(1);
  });

  it('answers an unknown or invalid domain from source IP 0 exactly as Go (frames.json)', async () => {
    await join(sw, 'one');
    await join(sw, 'two');
    const three = await join(sw, 'three');
    expect(three.ip).toBe(3);
    three.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 80, 3, 0x138a, encodeOpen({ domain: 'nobody' })));
    expect(hex(encodeFrame(await three.next()))).toBe(
      '030003138a0000005000157265736f6c766520646f6d61696e206661696c6564',
    );
    three.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 7, 3, 1004, encodeOpen({ domain: 'Bad.Domain' })));
    const ack = await three.next();
    expect([ack.srcIP, ack.srcPort, ack.dstPort]).toEqual([0, 7, 1004]);
    expect(new TextDecoder().decode(ack.payload)).toBe('resolve domain failed');
    three.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 7, 3, 1005, encodeOpen({ domain: '' })));
    expect(new TextDecoder().decode((await three.next()).payload)).toBe('resolve domain failed');
  });

  it('forwards an IP dial unchanged, and drops one to an unassigned IP', async () => {
    const { echo, alice } = await pair();
    alice.send(unhex('02004d0007000203ed00050000000000'));
    alice.send(unhex('0200010007000203e800050000000000'));
    expect(hex(encodeFrame(await echo.next()))).toBe('0200010007000203e800050000000000');
    await alice.barrier();
    expect(sw.client('alice')?.dropped).toBe(1);
  });
});

describe('router: PingDomain (PROTOCOL.md 6.2)', () => {
  it('answers, forwards and refuses pings as the recording shows (tcp-pings)', async () => {
    const { echo, alice } = await pair();
    alice.send(unhex('0affff0000000200010000'));
    expect(hex(encodeFrame(await alice.next()))).toBe('0b00020001ffff00000000');
    alice.send(unhex('0affff00000002000200046563686f'));
    expect(hex(encodeFrame(await echo.next()))).toBe('0a000100000002000200046563686f');
    echo.send(unhex('0b00020002000100000000'));
    expect(hex(encodeFrame(await alice.next()))).toBe('0b00020002000100000000');
    alice.send(unhex('0affff00000002000300044543484f'));
    expect(hex(encodeFrame(await echo.next()))).toBe('0a000100000002000300044543484f');
    alice.send(unhex('0affff0000000200040005616c696365'));
    expect(hex(encodeFrame(await alice.next()))).toBe('0a00020000000200040005616c696365');
    alice.send(unhex('0affff00000002000500066e6f626f6479'));
    expect(hex(encodeFrame(await alice.next()))).toBe(
      '0b00020005ffff00000010646f6d61696e206e6f7420666f756e64',
    );
    alice.send(unhex('0affff000000020006000a6261642e646f6d61696e'));
    expect(hex(encodeFrame(await alice.next()))).toBe('0b00020006ffff0000000e696e76616c696420646f6d61696e');
  });
});

describe('router: drops (PROTOCOL.md 12.1.2)', () => {
  it('drops and counts a frame whose source IP is not the sender’s', async () => {
    const { echo, alice } = await pair();
    alice.send(makeFrame(Cmd.DATA, 1, 7, 9, 1000, text('forged')));
    alice.send(makeFrame(Cmd.DATA, 1, 7, 2, 1000, text('real')));
    const got = await echo.next();
    expect(new TextDecoder().decode(got.payload)).toBe('real');
    expect(sw.client('alice')?.spoofed).toBe(1);
    expect(sw.stats().spoofed).toBe(1);
  });

  it('gives an IP dial that names a domain the dialer’s own, so it cannot pose as another node', async () => {
    const { echo, alice } = await pair();
    // Go and flexmux dialers send an empty domain by IP (3.2); the acceptor takes any name as the
    // dialer's (3.4), so a name of the dialer's choosing would pass for another node's.
    alice.send(makeFrame(Cmd.OPEN, 1, 7, 2, 1000, encodeOpen({ domain: 'admin', window: 256, caps: 3 })));
    alice.send(makeFrame(Cmd.OPEN, 1, 7, 2, 1001, text('admin')));
    expect(hex((await echo.next()).payload)).toBe(`${hex(text('alice'))}000000010003`);
    expect(hex((await echo.next()).payload)).toBe(`${hex(text('alice'))}0000000000`);
  });

  it('drops frames to IP 0 and to nobody, ignores the unknown at 0xFFFF, counts all', async () => {
    const { echo, alice } = await pair();
    alice.send(makeFrame(Cmd.DATA, 0, 7, 2, 1000, text('x')));
    alice.send(makeFrame(Cmd.DATA, 99, 7, 2, 1000, text('x')));
    alice.send(makeFrame(Cmd.DATA, SWITCHER_IP, 7, 2, 1000, text('x')));
    alice.send(makeFrame(Cmd.PUSH_MESSAGE, SWITCHER_IP, 0, 2, 0));
    alice.send(makeFrame(Cmd.PING_ACK, SWITCHER_IP, 42, 2, 0));
    await alice.barrier();
    const info = sw.client('alice')!;
    expect(info.dropped).toBe(5);
    expect(sw.stats().ignored).toBe(2);
    expect(info.framesByCmd).toMatchObject({ data: 3, push: 1, 'ping.ack': 1, ping: 1 });
    expect(echo.inbox).toEqual([]);
  });

  it('forwards unknown commands between nodes unchanged (1.2)', async () => {
    const { echo, alice } = await pair();
    const f = makeFrame(0x12, 1, 3, 2, 4, text('?'));
    alice.send(f);
    expect(hex(encodeFrame(await echo.next()))).toBe(hex(encodeFrame(f)));
  });
});

describe('router: order and counters', () => {
  it('keeps the order of one source’s frames to one destination (7.5)', async () => {
    const { echo, alice } = await pair();
    for (let i = 0; i < 200; i++)
      alice.send(makeFrame(Cmd.DATA, 1, 7, 2, 1000, new Uint8Array(100 + i).fill(i)));
    alice.send(makeFrame(Cmd.CLOSE, 1, 7, 2, 1000));
    for (let i = 0; i < 200; i++) {
      const f = await echo.next();
      expect([f.cmd, f.payload.length, f.payload[0]]).toEqual([Cmd.DATA, 100 + i, i]);
    }
    expect((await echo.next()).cmd).toBe(Cmd.CLOSE);
  });

  it('counts streams from successful open ACKs and closes, not from opens', async () => {
    const { echo, alice } = await pair();
    alice.send(unhex('02ffff0007000203e800096563686f0000000000'));
    await echo.next(isCmd(Cmd.OPEN));
    echo.send(makeFrame(Cmd.OPEN_ACK, 2, 1000, 1, 7, text('listener not found')));
    await alice.next(isCmd(Cmd.OPEN_ACK));
    expect(sw.client('alice')?.streams).toBe(0);
    alice.send(unhex('02ffff0007000203e900096563686f0000000000'));
    await echo.next(isCmd(Cmd.OPEN));
    echo.send(unhex('03000203e90001000700050000000000'));
    await alice.next(isCmd(Cmd.OPEN_ACK));
    expect(sw.client('alice')).toMatchObject({ streams: 1, streamsOpened: 1 });
    echo.send(makeFrame(Cmd.CLOSE, 2, 1001, 1, 7));
    await alice.next(isCmd(Cmd.CLOSE));
    alice.send(makeFrame(Cmd.CLOSE_ACK, 1, 7, 2, 1001));
    await echo.next(isCmd(Cmd.CLOSE_ACK));
    expect(sw.client('alice')).toMatchObject({ streams: 0, streamsOpened: 1 });
    expect(sw.client('echo')).toMatchObject({ streams: 0, streamsOpened: 1 });
  });

  it('forgets a stream after both FINs only when the ACK negotiated release on FIN (caps 05)', async () => {
    const { echo, alice } = await pair();
    const streamsAfterFins = async (caps: number, port: number): Promise<number | undefined> => {
      alice.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 7, 2, port, encodeOpen({ domain: 'echo', caps: 7 })));
      await echo.next(isCmd(Cmd.OPEN));
      echo.send(makeFrame(Cmd.OPEN_ACK, 2, port, 1, 7, new Uint8Array([0, 0, 0, 0, 0, caps])));
      await alice.next(isCmd(Cmd.OPEN_ACK));
      const before = sw.client('alice')?.streams;
      alice.send(makeFrame(Cmd.FIN, 1, 7, 2, port));
      await echo.next(isCmd(Cmd.FIN));
      // One FIN is not the end, whatever was negotiated.
      expect(sw.client('alice')?.streams).toBe(before);
      echo.send(makeFrame(Cmd.FIN, 2, port, 1, 7));
      await alice.next(isCmd(Cmd.FIN));
      return sw.client('alice')?.streams;
    };
    expect(await streamsAfterFins(0x05, 1000)).toBe(0);
    expect(sw.client('echo')?.streams).toBe(0);
    // Without bit 04 the v3 close still follows the FINs, so the stream stays tracked until then.
    expect(await streamsAfterFins(0x03, 1001)).toBe(1);
    alice.send(makeFrame(Cmd.CLOSE, 1, 7, 2, 1001));
    await echo.next(isCmd(Cmd.CLOSE));
    expect(sw.client('alice')?.streams).toBe(0);
    expect(sw.client('alice')?.streamsOpened).toBe(2);
  });

  it('counts bytes and frames both ways', async () => {
    const { echo, alice } = await pair();
    alice.send(makeFrame(Cmd.DATA, 1, 7, 2, 1000, new Uint8Array(89)));
    await echo.next();
    const a = sw.client('alice')!;
    const e = sw.client('echo')!;
    expect([a.framesIn, a.bytesIn]).toEqual([1, 100]);
    expect(e.framesOut).toBe(1);
    // The admission reply is written before the scheduler starts; it is not counted.
    expect(e.bytesOut).toBe(100);
    expect(sw.stats()).toMatchObject({ clients: 2, admitted: 2, forwarded: 1 });
  });
});
