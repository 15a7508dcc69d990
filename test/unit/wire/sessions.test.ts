import { describe, expect, it } from 'vitest';
import { AdmissionError, ProtocolError } from '../../../src/errors.js';
import {
  computeSum,
  encodeResponseJson,
  openEnvelope,
  openRequest,
  openResponse,
  parseRequestJson,
  verifyRequest,
} from '../../../src/wire/admission/index.js';
import { Cmd } from '../../../src/wire/constants.js';
import { decodeMessage, FrameDecoder } from '../../../src/wire/decoder.js';
import { type Frame, readHeader } from '../../../src/wire/frame.js';
import { decodeOpen, decodeOpenAck } from '../../../src/wire/open.js';
import { decodePingAck } from '../../../src/wire/ping.js';
import {
  concat,
  frameBytes,
  loadVector,
  SESSION_FILES,
  type SessionFile,
  type SessionFrame,
  toHex,
} from './vectors.js';

const decoder = new TextDecoder();

function bytesOf(f: SessionFrame): Uint8Array {
  return frameBytes(f, f.payloadTruncated === true);
}

/** The recorded frames of one direction of one connection, in order (events left out). */
function directions(s: SessionFile): Map<string, SessionFrame[]> {
  const out = new Map<string, SessionFrame[]>();
  for (const f of s.frames) {
    if (f.event !== undefined || f.hex === '') continue;
    const key = `${f.conn} ${f.dir}`;
    if (!out.has(key)) out.set(key, []);
    out.get(key)!.push(f);
  }
  return out;
}

function same(f: Frame, bytes: Uint8Array): void {
  const h = readHeader(bytes, 0);
  expect([f.cmd, f.dstIP, f.dstPort, f.srcIP, f.srcPort, f.size]).toEqual([
    h.cmd,
    h.dstIP,
    h.dstPort,
    h.srcIP,
    h.srcPort,
    h.size,
  ]);
  expect(toHex(f.payload)).toBe(toHex(bytes.subarray(11)));
}

for (const name of SESSION_FILES) {
  const s = loadVector<SessionFile>(`sessions/${name}`);

  describe(`sessions/${name}`, () => {
    for (const [key, frames] of directions(s)) {
      const [conn] = key.split(' ');
      const transport = s.connections[conn]?.transport ?? s.transport;

      if (transport === 'tcp') {
        it(`${key}: the concatenated TCP byte stream decodes frame by frame`, () => {
          const whole = frames.filter((f) => !f.partial).map(bytesOf);
          const partial = frames.find((f) => f.partial);
          const got: Frame[] = [];
          const dec = new FrameDecoder((f) => got.push(f));
          dec.push(concat([...whole, ...(partial ? [bytesOf(partial)] : [])]));
          expect(got).toHaveLength(whole.length);
          for (const [i, f] of got.entries()) same(f, whole[i]);
          // An admission response cut after its header (the Go switcher closed too early).
          if (partial) expect(() => dec.end()).toThrow(ProtocolError);
          else expect(() => dec.end()).not.toThrow();
        });
      } else {
        it(`${key}: every WebSocket message decodes as one frame`, () => {
          for (const f of frames) same(decodeMessage(bytesOf(f)), bytesOf(f));
        });
      }

      it(`${key}: open, ACK and ping payloads decode to what the notes say`, () => {
        for (const f of frames.filter((x) => !x.partial)) {
          const frame = decodeMessage(bytesOf(f));
          const note = f.note ?? '';
          if (frame.cmd === Cmd.OPEN) {
            const o = decodeOpen(frame.payload);
            expect(note).toContain(`domain "${o.domain}", window ${o.window}`);
          } else if (frame.cmd === Cmd.OPEN_ACK) {
            const a = decodeOpenAck(frame.payload);
            expect(note).toContain(a.ok ? `success, window ${a.window}` : `error "${a.error}"`);
          } else if (frame.cmd === Cmd.PING_ACK) {
            const a = decodePingAck(frame.payload);
            expect(note).toContain(a.ok ? 'success' : `error "${a.error}"`);
          }
        }
      });
    }

    for (const adm of s.admissions) {
      const clientPw = adm.clientPassword ?? s.password;
      const ts = BigInt(adm.timestampNs);
      const c2s = s.frames.find((f) => f.conn === adm.conn && f.dir === 'c2s' && f.hex.startsWith('00'));
      const s2c = s.frames.find((f) => f.conn === adm.conn && f.dir === 's2c' && f.hex !== '' && !f.partial);

      it(`${adm.conn}: the request opens with the node's password; its Sum verifies from the exact digits`, async () => {
        const frame = decodeMessage(bytesOf(c2s!));
        const req = await openRequest(clientPw, frame.payload);
        expect(decoder.decode(await openEnvelope(clientPw, frame.payload))).toBe(adm.requestJson);
        expect(parseRequestJson(new TextEncoder().encode(adm.requestJson))).toEqual(req);
        expect(req.timestamp).toBe(ts);
        expect(req.sum).toBe(await computeSum(clientPw, req.domain, req.mac, req.timestamp));
        if (adm.clientPassword === undefined) {
          expect(await verifyRequest(s.password, req, ts)).toEqual({ domain: adm.domain });
        } else {
          // Wrong password: the switcher cannot open it.
          await expect(openRequest(s.password, frame.payload)).rejects.toBeInstanceOf(AdmissionError);
        }
      });

      if (s2c?.hex.startsWith('00')) {
        it(`${adm.conn}: the response opens with the switcher's password`, async () => {
          const res = await openResponse(s.password, decodeMessage(bytesOf(s2c)).payload);
          expect(encodeResponseJson(res)).toBe(adm.responseJson);
          if (adm.ip !== undefined) expect(res.ip).toBe(adm.ip);
          if (adm.clientPassword !== undefined) {
            await expect(openResponse(clientPw, decodeMessage(bytesOf(s2c)).payload)).rejects.toMatchObject({
              reason: 'decrypt',
            });
          }
        });
      }
    }
  });
}
