import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { openEnvelope } from '../../../src/wire/admission/index.js';
import { Cmd, cmdName } from '../../../src/wire/constants.js';
import { decodeMessage, FrameDecoder } from '../../../src/wire/decoder.js';
import { EMPTY, encodeFrame, type Frame, makeFrame, sidOf } from '../../../src/wire/frame.js';
import {
  decodeOpen,
  decodeOpenAck,
  encodeOpen,
  encodeOpenAck,
  encodeOpenError,
  windowAsInt32,
} from '../../../src/wire/open.js';
import {
  type DecodedFrame,
  type FramesFile,
  frameBytes,
  fromHex,
  loadVector,
  pattern,
  toHex,
} from './vectors.js';

const vectors = loadVector<FramesFile>('frames.json');

function decodeAll(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  const d = new FrameDecoder((f) => frames.push(f));
  d.push(bytes);
  return frames;
}

/** Compares a decoded frame with Go's record of it; `payload` is the expected payload bytes. */
function expectFrame(f: Frame, want: DecodedFrame, payload: Uint8Array = fromHex(want.payloadHex)): void {
  expect({
    cmd: f.cmd,
    dstIP: f.dstIP,
    dstPort: f.dstPort,
    srcIP: f.srcIP,
    srcPort: f.srcPort,
    size: f.size,
  }).toEqual({
    cmd: want.cmd,
    dstIP: want.dstIP,
    dstPort: want.dstPort,
    srcIP: want.srcIP,
    srcPort: want.srcPort,
    size: want.size,
  });
  expect(f.payload.length).toBe(want.payloadLength);
  expect(toHex(f.payload)).toBe(toHex(payload));
  expect(`0x${sidOf(f).toString(16).padStart(16, '0')}`).toBe(want.sid);
  if (want.dataAckSize !== undefined) expect(f.size).toBe(want.dataAckSize);
  if (want.payloadText !== undefined) expect(new TextDecoder().decode(f.payload)).toBe(want.payloadText);
  // Go names the reserved and unknown commands differently ('<0>', '<12>'); 0x02-0x0B agree.
  if (want.cmd >= 0x02 && want.cmd <= 0x0b) expect(cmdName(f.cmd)).toBe(want.cmdName);
}

function expectPayloadCodecs(payload: Uint8Array, want: DecodedFrame): void {
  if (want.open) {
    const o = decodeOpen(payload);
    expect({ domain: o.domain, window: o.window, windowAsInt32: windowAsInt32(o.window) }).toEqual(want.open);
  }
  if (want.openAck) {
    const a = decodeOpenAck(payload);
    expect(
      a.ok ? { ok: true, window: a.window, error: '' } : { ok: false, window: 0, error: a.error },
    ).toEqual(want.openAck);
  }
}

describe('frames.json: Go-encoded frames', () => {
  it('has every command value 0x00-0x0B', () => {
    const cmds = new Set(vectors.frames.map((v) => v.decoded.cmd));
    for (let c = 0; c <= 0x0b; c++) expect(cmds.has(c)).toBe(true);
  });

  for (const v of vectors.frames) {
    const bytes = frameBytes(v, v.payloadOmitted === true);
    const d = v.decoded;
    const payload = v.payloadOmitted ? pattern(v.payloadLength!) : fromHex(d.payloadHex);

    it(`${v.name}: encodes to the Go bytes`, () => {
      let body = payload;
      // Rebuild open/ACK payloads with our encoders, not from their hex (plain v3: no caps byte).
      // The legacy forms (open without NUL, empty ACK) are accepted but never produced, by Go or
      // by us: our canonical form must decode to the same values instead.
      const canonical = d.open
        ? encodeOpen({ domain: d.open.domain, window: d.open.window })
        : d.openAck
          ? d.openAck.ok
            ? encodeOpenAck({ window: d.openAck.window })
            : encodeOpenError(d.openAck.error)
          : null;
      const legacy = (d.open && payload.indexOf(0) === -1) || (d.openAck && payload.length === 0);
      if (canonical !== null && legacy) expectPayloadCodecs(canonical, d);
      else if (canonical !== null) body = canonical;
      const f =
        d.cmd === Cmd.DATA_ACK
          ? makeFrame(d.cmd, d.dstIP, d.dstPort, d.srcIP, d.srcPort, EMPTY, d.size)
          : makeFrame(d.cmd, d.dstIP, d.dstPort, d.srcIP, d.srcPort, body);
      expect(toHex(encodeFrame(f))).toBe(toHex(bytes));
    });

    it(`${v.name}: decodes from a byte stream and from one WebSocket message`, () => {
      const frames = decodeAll(bytes);
      expect(frames).toHaveLength(1);
      expectFrame(frames[0], d, payload);
      expectFrame(decodeMessage(bytes), d, payload);
      expectPayloadCodecs(frames[0].payload, d);
    });

    if (v.admitPassword !== undefined) {
      it(`${v.name}: the envelope opens to the recorded JSON`, async () => {
        const plain = await openEnvelope(v.admitPassword!, payload);
        expect(new TextDecoder().decode(plain)).toBe(v.admitJson);
      });
    }
  }

  for (const e of vectors.encodeErrors) {
    it(`encode error ${e.name}: refused with a ProtocolError`, () => {
      expect(() => makeFrame(Cmd.DATA, 1, 80, 3, 5000, new Uint8Array(e.payloadLength))).toThrow(
        ProtocolError,
      );
      const forged: Frame = {
        cmd: Cmd.DATA,
        dstIP: 1,
        dstPort: 80,
        srcIP: 3,
        srcPort: 5000,
        size: 0,
        payload: EMPTY,
      };
      forged.size = e.payloadLength;
      forged.payload = new Uint8Array(e.payloadLength);
      expect(() => encodeFrame(forged)).toThrow(ProtocolError);
    });
  }
});

describe('frames.json: decode-only cases', () => {
  for (const v of vectors.decodeOnly) {
    const bytes = fromHex(v.hex);
    if (v.transport === 'tcp') {
      it(`${v.name} (tcp): ${v.error ? `frames then "${v.error}"` : 'decodes as Go reads it'}`, () => {
        const frames: Frame[] = [];
        const dec = new FrameDecoder((f) => frames.push(f));
        dec.push(bytes);
        const want = v.stream ?? (v.decoded ? [v.decoded] : []);
        expect(frames).toHaveLength(want.length);
        frames.forEach((f, i) => {
          expectFrame(f, want[i]);
          expectPayloadCodecs(f.payload, want[i]);
        });
        // Go's "read header failed" / "read payload failed": the stream ended inside a frame.
        if (v.error) expect(() => dec.end()).toThrow(ProtocolError);
        else expect(() => dec.end()).not.toThrow();
      });
      continue;
    }
    if (v.messageType === 'text') {
      // Go fails a text message by its type ("bad data type"); the type is a transport fact, so
      // src/transport refuses text messages before any bytes reach decodeMessage. The bytes
      // themselves are a valid frame, which is why the type check cannot be left to the decoder.
      it(`${v.name} (ws text): the bytes are a valid frame, so rejection must come from the message type`, () => {
        expect(decodeMessage(bytes).cmd).toBe(Cmd.CLOSE);
      });
      continue;
    }
    const consistent =
      v.decoded !== undefined && v.decoded.payloadLength === bytes.length - 11 && v.decoded.cmd !== 7;
    const ackExact = v.decoded?.cmd === Cmd.DATA_ACK && bytes.length === 11;
    if (consistent || ackExact) {
      it(`${v.name} (ws): decodes as Go reads it`, () => {
        expectFrame(decodeMessage(bytes), v.decoded!);
      });
    } else {
      // Deliberately stricter than Go (PROTOCOL.md 1.6, 12.5): Go takes everything after the
      // header as the payload whatever the size field says, and panics (killing the process) on
      // a message shorter than a header. flexmux treats both as a protocol violation, because a
      // size that disagrees with the message is either a bug or an attack, and Go peers always
      // fill the size field correctly.
      it(`${v.name} (ws): ProtocolError where Go ${v.panic ? 'panics' : 'is lenient'}`, () => {
        expect(() => decodeMessage(bytes)).toThrow(ProtocolError);
      });
    }
  }
});
