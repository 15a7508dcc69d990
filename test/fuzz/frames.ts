import fc from 'fast-check';
import { Cmd, SWITCHER_IP } from '../../src/wire/constants.js';
import { encodeOpen, encodeOpenAck, encodeOpenError } from '../../src/wire/open.js';
import { encodeReset } from '../../src/wire/reset.js';

/**
 * Arbitraries of frames with valid headers and mostly plausible payloads, aimed at a victim's
 * addresses so they hit real listeners, streams, dials and pings rather than bouncing off.
 */

export interface RawFrame {
  cmd: number;
  dstIP: number;
  dstPort: number;
  srcIP: number;
  srcPort: number;
  payload: Uint8Array;
  /** The size field of a DATA_ACK (it carries no payload). */
  ack: number;
}

export interface Aim {
  /** Destination IPs worth hitting (the victim, the switcher, ...). */
  dstIPs: readonly number[];
  dstPorts: readonly number[];
  /** Source IPs: the sender's own mostly, others sometimes (spoofing). */
  srcIPs: readonly number[];
  srcPorts: readonly number[];
  /** Domains for opens and pings. */
  domains: readonly string[];
}

const u16 = fc.integer({ min: 0, max: 0xffff });

const cmdArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant<number>(Cmd.DATA) },
  { weight: 4, arbitrary: fc.constant<number>(Cmd.OPEN) },
  { weight: 3, arbitrary: fc.constant<number>(Cmd.DATA_ACK) },
  { weight: 2, arbitrary: fc.constantFrom<number>(Cmd.CLOSE, Cmd.CLOSE_ACK, Cmd.FIN, Cmd.RESET) },
  { weight: 2, arbitrary: fc.constantFrom<number>(Cmd.OPEN_ACK, Cmd.PING, Cmd.PING_ACK) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

function payloadFor(cmd: number, domains: readonly string[]): fc.Arbitrary<Uint8Array> {
  const junk = fc.uint8Array({ maxLength: 64 });
  const domain = fc.oneof(
    fc.constantFrom(...domains),
    fc.string({ maxLength: 20 }).filter((d) => !d.includes('\u0000')),
  );
  switch (cmd) {
    case Cmd.OPEN:
      return fc.oneof(
        {
          weight: 4,
          arbitrary: fc
            .tuple(domain, fc.nat(), fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }))
            .map(([d, w, c]) => encodeOpen({ domain: d, window: w, caps: c })),
        },
        { weight: 1, arbitrary: junk },
      );
    case Cmd.OPEN_ACK:
      return fc.oneof(
        fc
          .tuple(fc.nat(), fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }))
          .map(([w, c]) => encodeOpenAck({ window: w, caps: c })),
        fc.constantFrom('listener not found', 'resolve domain failed', 'x').map(encodeOpenError),
        junk,
      );
    case Cmd.DATA:
      return fc.oneof(
        { weight: 6, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 2_000 }) },
        {
          weight: 1,
          arbitrary: fc.integer({ min: 0, max: 65_535 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
        },
        { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
      );
    case Cmd.RESET:
      return fc.oneof(
        fc.tuple(fc.nat(), fc.string({ maxLength: 40 })).map(([c, m]) => encodeReset(c >>> 0, m)),
        junk,
      );
    case Cmd.PING:
      return domain.map((d) => new TextEncoder().encode(d));
    case Cmd.DATA_ACK:
      return fc.constant(new Uint8Array(0));
    default:
      return junk;
  }
}

/** One frame aimed by `aim`. */
export function frameArb(aim: Aim): fc.Arbitrary<RawFrame> {
  return cmdArb.chain((cmd) =>
    fc.record({
      cmd: fc.constant(cmd),
      dstIP: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...aim.dstIPs) },
        { weight: 1, arbitrary: fc.constantFrom(0, SWITCHER_IP) },
        { weight: 1, arbitrary: u16 },
      ),
      dstPort: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...aim.dstPorts) },
        { weight: 1, arbitrary: u16 },
      ),
      srcIP: fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom(...aim.srcIPs) },
        { weight: 1, arbitrary: u16 },
      ),
      srcPort: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...aim.srcPorts) },
        { weight: 1, arbitrary: u16 },
      ),
      payload: payloadFor(cmd, aim.domains),
      ack: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0, 1, 0xffff)),
    }),
  );
}

/** The bytes of a frame (header then payload), exactly as given: no checks beyond field widths. */
export function encodeRaw(f: RawFrame): Uint8Array {
  const len = f.cmd === Cmd.DATA_ACK ? 0 : f.payload.length;
  const out = new Uint8Array(11 + len);
  const size = f.cmd === Cmd.DATA_ACK ? f.ack : f.payload.length;
  out[0] = f.cmd;
  out[1] = f.dstIP >>> 8;
  out[2] = f.dstIP;
  out[3] = f.dstPort >>> 8;
  out[4] = f.dstPort;
  out[5] = f.srcIP >>> 8;
  out[6] = f.srcIP;
  out[7] = f.srcPort >>> 8;
  out[8] = f.srcPort;
  out[9] = size >>> 8;
  out[10] = size;
  if (len > 0) out.set(f.payload, 11);
  return out;
}
