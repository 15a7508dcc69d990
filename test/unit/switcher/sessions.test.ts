import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_NODE_AT_IP } from '../../../src/switcher/router.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { openEnvelope } from '../../../src/wire/admission/index.js';
import { Cmd } from '../../../src/wire/constants.js';
import { encodeFrame, type Frame } from '../../../src/wire/frame.js';
import { frameBytes, loadVector } from '../wire/vectors.js';
import { hex, Raw } from './helpers.js';

/**
 * Replays the recorded Go conversations (vectors/sessions): every c2s frame of every connection
 * goes into our switcher through a raw transport of the recorded kind; what comes out must be
 * the s2c frames of the recording, exactly, per connection. Order is compared per stream for the
 * frames whose order 7.5 guarantees (data, close, close-ACK); other frames as a multiset.
 */

interface SessionFrame {
  dir?: 'c2s' | 's2c';
  conn: string;
  hex?: string;
  event?: string;
  partial?: boolean;
  payloadTruncated?: boolean;
}

interface Session {
  password: string;
  clockNs: string;
  connections: Record<string, { transport: 'tcp' | 'ws' }>;
  admissions: { conn: string; responseJson?: string; ip?: number }[];
  frames: SessionFrame[];
}

const files = readdirSync(new URL('../../fixtures/vectors/sessions/', import.meta.url)).filter((f) =>
  f.endsWith('.json'),
);

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

const ORDERED = new Set<number>([Cmd.DATA, Cmd.CLOSE, Cmd.CLOSE_ACK]);
const sid = (h: string): string => h.slice(2, 18);

describe('recorded Go sessions replayed into the switcher', () => {
  it.each(files)('%s', async (file) => {
    const s = loadVector<Session>(`sessions/${file}`);
    // Go's IP order: the recordings hold the IPs a Go switcher handed out.
    const sw = new Switcher({
      password: s.password,
      clock: () => BigInt(s.clockNs),
      ipAssignment: 'sequential',
    });
    switchers.push(sw);
    const raws = new Map<string, Raw>();
    const expected = new Map<string, string[]>();
    const admissions = new Map(s.admissions.map((a) => [a.conn, a]));
    const decoder = new TextDecoder();
    const got = new Map<string, string[]>();
    /** flexmux's answers to IP dials to nobody (Go drops them; docs/protocol.md 4.2), set aside. */
    const answeredIpDials: string[] = [];
    const isNoNodeAnswer = (f: Frame): boolean =>
      f.cmd === Cmd.OPEN_ACK && decoder.decode(f.payload).endsWith(NO_NODE_AT_IP);
    /** Reads what the recording says this connection received so far. */
    const collect = async (conn: string): Promise<void> => {
      const raw = raws.get(conn)!;
      const want = expected.get(conn) ?? [];
      const list = got.get(conn) ?? [];
      got.set(conn, list);
      while (list.length < want.length) {
        const f = (await raw.next()) as Frame;
        if (isNoNodeAnswer(f)) answeredIpDials.push(hex(encodeFrame(f)));
        else list.push(hex(encodeFrame(f)));
      }
    };

    for (const f of s.frames) {
      if (f.event === 'eof' && f.dir === 'c2s' && raws.has(f.conn)) {
        // The node hung up after reading everything recorded before its FIN.
        await collect(f.conn);
        raws.get(f.conn)!.t.close();
        continue;
      }
      if (f.event !== undefined || !f.hex || f.partial) continue;
      const bytes = frameBytes(f as { hex: string }, f.payloadTruncated === true);
      const isAdmission = bytes[0] === Cmd.ADMIT;
      if (f.dir === 'c2s') {
        if (isAdmission) {
          const framing = s.connections[f.conn].transport === 'ws' ? 'message' : 'stream';
          const [a, b] = memoryPair({
            framing,
            remoteAddresses: ['switcher', `127.0.0.1:${40000 + raws.size}`],
          });
          sw.handle(b);
          const raw = new Raw(a);
          raws.set(f.conn, raw);
          raw.send(bytes);
          // The recorded node waited for its reply: so do we, which also fixes the IP order.
          const reply = await raw.next();
          const json = decoder.decode(await openEnvelope(s.password, reply.payload));
          const want = admissions.get(f.conn)!.responseJson;
          expect(json).toBe(want ?? '{"ErrCode":-1,"ErrMsg":"handshake rejected","IP":0,"Version":20260225}');
          if (json.startsWith('{"ErrCode":0')) raw.ip = admissions.get(f.conn)!.ip!;
          else await raw.closed;
        } else {
          // Causality as recorded: the node had received everything recorded before this frame
          // (its open's ACK before its close), so wait for that before sending it.
          await collect(f.conn);
          raws.get(f.conn)!.send(bytes);
        }
      } else if (!isAdmission) {
        const list = expected.get(f.conn) ?? [];
        list.push(hex(bytes));
        expected.set(f.conn, list);
      }
    }

    expect(raws.size).toBe(Object.keys(s.connections).length);
    const admitted = s.admissions.filter((a) => a.ip !== undefined).length;
    if (admitted > 0) expect(expected.size).toBe(admitted);
    for (const [conn, want] of expected) {
      await collect(conn);
      const have = got.get(conn)!;
      expect([...have].sort()).toEqual([...want].sort());
      const ordered = (list: string[], key: string) =>
        list.filter((h) => sid(h) === key && ORDERED.has(Number.parseInt(h.slice(0, 2), 16)));
      for (const key of new Set(want.map(sid))) expect(ordered(have, key)).toEqual(ordered(want, key));
    }
    // Nothing beyond the recording: everything sent has been routed once each live node's
    // barrier ping is answered, and deliveries to the others are flushed by then too.
    for (const raw of raws.values()) if (!raw.ended && raw.ip !== 0) await raw.barrier();
    for (const raw of raws.values()) if (!raw.ended && raw.ip !== 0) await raw.barrier(0xfff1);
    for (const raw of raws.values()) {
      for (const f of raw.inbox) if (isNoNodeAnswer(f)) answeredIpDials.push(hex(encodeFrame(f)));
      expect(raw.inbox.filter((f) => !isNoNodeAnswer(f)).map((f) => hex(encodeFrame(f)))).toEqual([]);
    }
    // Each set-aside answer is for an IP dial of the recording that Go left unanswered.
    const ipDialsToNobody = s.frames.filter(
      (f) =>
        f.dir === 'c2s' &&
        f.hex?.startsWith('02') &&
        !f.hex.startsWith('02ffff') &&
        !f.hex.startsWith('020000'),
    ).length;
    expect(answeredIpDials.length).toBeLessThanOrEqual(ipDialsToNobody);
  });
});
