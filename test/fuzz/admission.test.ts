import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AdmissionError, ProtocolError } from '../../src/errors.js';
import { AccessPolicy } from '../../src/switcher/access.js';
import { verifyAdmission } from '../../src/switcher/admission.js';
import { ReplayCache } from '../../src/switcher/guards.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import {
  checkResponse,
  computeSum,
  currentTimeNs,
  encodeAdmitFrame,
  MAX_CLOCK_SKEW_NS,
  openRequest,
  openResponse,
  parseRequestJson,
  parseResponseJson,
  sealEnvelope,
  sealRequest,
  verifyRequest,
} from '../../src/wire/admission/index.js';
import { Cmd } from '../../src/wire/constants.js';
import { readHeader } from '../../src/wire/frame.js';
import { HostilePeer } from '../helpers/faulty-peer.js';
import { budget, runs } from './scale.js';

/**
 * Property tests of admission parsing (PROTOCOL.md 2): whatever bytes or JSON arrive, the parsers
 * fail only with AdmissionError or ProtocolError, never with another exception, and in bounded
 * time; and a switcher fed random first frames only ever refuses them (a 'refused' event, never
 * an 'error'), freeing every pending admission.
 */

const PASSWORD = 'fuzz-admission';
const NOW = 1_700_000_000_000_000_000n;
const enc = new TextEncoder();

/** Runs `f`; returns 'ok' or the error's class name if it is one of `allowed`, else rethrows. */
async function only(allowed: readonly (new (...a: never[]) => Error)[], f: () => unknown): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (err) {
    if (allowed.some((c) => err instanceof c)) return (err as Error).constructor.name;
    throw err;
  }
}

/** Field names as Go would match them (case-insensitively), and some it would not. */
const fieldName = fc.constantFrom(
  'Version',
  'Domain',
  'Mac',
  'Timestamp',
  'Sum',
  'version',
  'DOMAIN',
  'tImEsTaMp',
  'sUM',
  'Extra',
  'Doma\u017Fn', // long s: Go's fold matches it to 's'... and 'Domain' has no s: must not match
  'Ver\u017Fion', // ...while this one folds to "Version"
  '\u212Aey', // Kelvin sign, folds to k
  '',
);

/** JSON texts of values, valid or almost valid. */
const jsonValueText = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.constantFrom(
    '1.7e18',
    '1700000000000000000.0',
    '-0',
    '00',
    '+1',
    '0x10',
    'NaN',
    'Infinity',
    '9223372036854775807',
    '9223372036854775808',
    '-9223372036854775808',
    '-9223372036854775809',
    '"\\ud800"',
    '"\\u0000"',
    '"\\uZZZZ"',
    '"\u0000"',
    '"abc',
    '[[[[[[',
    '{"a":',
    'tru',
    'null',
  ),
  fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s)),
);

/** A request-shaped JSON object with random members, values and whitespace. */
const requestJson = fc
  .array(fc.tuple(fieldName, jsonValueText, fc.constantFrom('', ' ', '\n\t ', '\r')), { maxLength: 8 })
  .map(
    (members) =>
      `{${members.map(([k, v, ws]) => `${ws}${JSON.stringify(k)}${ws}:${ws}${v}${ws}`).join(',')}}`,
  );

/** Byte-level mutations of a text: flips, cuts, insertions, duplications. */
function mutate(bytes: Uint8Array, edits: readonly [number, number, number][]): Uint8Array {
  let b = Array.from(bytes);
  for (const [kind, at, value] of edits) {
    const i = b.length === 0 ? 0 : at % b.length;
    switch (kind % 4) {
      case 0:
        if (b.length > 0) b[i] ^= 1 << (value % 8);
        break;
      case 1:
        b = b.slice(0, i);
        break;
      case 2:
        b.splice(i, 0, value & 0xff);
        break;
      default:
        b = b.concat(b.slice(i, i + 16));
    }
  }
  return new Uint8Array(b);
}
const edits = fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { maxLength: 6 });

async function validJson(domain = 'alice', timestamp = NOW): Promise<string> {
  const sum = await computeSum(PASSWORD, domain, '', timestamp);
  return `{"Version":20260225,"Domain":"${domain}","Mac":"","Timestamp":${timestamp},"Sum":"${sum}"}`;
}

describe('admission request parsing', () => {
  it(
    'parseRequestJson: random and mutated JSON fail only with ProtocolError, fast',
    async () => {
      const base = enc.encode(await validJson());
      let slowest = 0;
      fc.assert(
        fc.property(
          fc.oneof(
            requestJson.map((t) => enc.encode(t)),
            edits.map((e) => mutate(base, e)),
          ),
          (text) => {
            const t0 = performance.now();
            try {
              parseRequestJson(text);
            } catch (err) {
              if (!(err instanceof ProtocolError)) throw err;
            }
            slowest = Math.max(slowest, performance.now() - t0);
          },
        ),
        { numRuns: runs(3_000) },
      );
      expect(slowest).toBeLessThan(250);
    },
    budget(3_000),
  );

  it('pathological JSON at the size limit is refused in bounded time, without a stack overflow', () => {
    const limit = 65_491; // the largest plaintext an envelope can carry (2.2)
    const cases = [
      '['.repeat(limit),
      `{"Extra":${'['.repeat(limit - 20)}`,
      `{"Extra":${'{"a":'.repeat(Math.floor((limit - 20) / 5))}`,
      `{"Domain":"${'\\u00e9'.repeat(Math.floor((limit - 20) / 6))}"}`,
      `{"Timestamp":${'9'.repeat(limit - 20)}}`,
      `{${'"Sum":"x",'.repeat(Math.floor((limit - 2) / 10) - 1)}"Sum":"y"}`,
      `{"Domain":"${'\\'.repeat(limit - 14)}"}`,
      ' '.repeat(limit),
    ];
    for (const c of cases) {
      const t0 = performance.now();
      let outcome = 'ok';
      try {
        parseRequestJson(enc.encode(c));
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        outcome = 'ProtocolError';
      }
      expect(performance.now() - t0, `${c.slice(0, 20)}... (${outcome})`).toBeLessThan(500);
    }
  });

  it(
    'openRequest + verifyRequest: sealed random JSON fails only with AdmissionError',
    async () => {
      const base = enc.encode(await validJson());
      const reasons = new Set<string>();
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            requestJson.map((t) => enc.encode(t)),
            edits.map((e) => mutate(base, e)),
          ),
          fc.bigInt({ min: -MAX_CLOCK_SKEW_NS * 2n, max: MAX_CLOCK_SKEW_NS * 2n }),
          async (plain, skew) => {
            if (plain.length > 65_491) return;
            const envelope = await sealEnvelope(PASSWORD, plain);
            const r = await only([AdmissionError], async () => {
              const req = await openRequest(PASSWORD, envelope);
              await verifyRequest(PASSWORD, req, NOW + skew);
            });
            reasons.add(r);
          },
        ),
        { numRuns: runs(400) },
      );
      expect(reasons.has('AdmissionError')).toBe(true);
    },
    budget(3_000),
  );

  it(
    'openRequest: random and bit-flipped envelopes fail with AdmissionError (decrypt)',
    async () => {
      const good = await sealEnvelope(PASSWORD, enc.encode(await validJson()));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            edits.map((e) => mutate(good, e)),
          ),
          async (payload) => {
            try {
              await openRequest(PASSWORD, payload);
            } catch (err) {
              if (!(err instanceof AdmissionError)) throw err;
              expect(err.reason === 'decrypt' || err.reason === 'json').toBe(true);
            }
          },
        ),
        { numRuns: runs(400) },
      );
    },
    budget(2_000),
  );

  it(
    'verifyAdmission (the switcher’s checks) returns a verdict for any first frame, never throws',
    async () => {
      const policy = new AccessPolicy(PASSWORD, {
        passwords: [{ password: 'extra-pw', domains: ['ext-*'] }],
      });
      const replay = new ReplayCache(1_000, MAX_CLOCK_SKEW_NS);
      const valid = await sealRequest(PASSWORD, { domain: 'alice', timestamp: NOW });
      const verdicts = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ minLength: 11, maxLength: 400 }),
            edits.map((e) => mutate(valid, e)),
            fc
              .tuple(requestJson, fc.constantFrom(PASSWORD, 'extra-pw', 'wrong'))
              .chain(([json, pw]) => fc.constant(null).map(() => ({ json, pw }))),
          ),
          async (input) => {
            let frame: Uint8Array;
            if (input instanceof Uint8Array) frame = input;
            else {
              const plain = enc.encode(input.json);
              if (plain.length > 65_491) return;
              frame = encodeAdmitFrame(await sealEnvelope(input.pw, plain));
            }
            if (frame.length < 11) return;
            const f = readHeader(frame, 0);
            f.payload = frame.subarray(11);
            const v = await verifyAdmission(f, policy, replay, NOW);
            const k = v.ok ? 'ok' : v.reason;
            verdicts.set(k, (verdicts.get(k) ?? 0) + 1);
            if (!v.ok) expect([-1, -2, 0]).toContain(v.errCode);
          },
        ),
        { numRuns: runs(400) },
      );
      expect(verdicts.get('decrypt')).toBeGreaterThan(0);
    },
    budget(3_000),
  );
});

describe('admission response parsing (the node’s side)', () => {
  it(
    'openResponse + checkResponse fail only with AdmissionError, parseResponseJson only with ProtocolError',
    async () => {
      const responseJson = fc
        .array(
          fc.tuple(
            fc.constantFrom('ErrCode', 'ErrMsg', 'IP', 'Version', 'ip', 'errcode', 'X'),
            jsonValueText,
          ),
          { maxLength: 6 },
        )
        .map((m) => `{${m.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);
      await fc.assert(
        fc.asyncProperty(responseJson, fc.uint8Array({ maxLength: 120 }), async (json, junk) => {
          const plain = enc.encode(json);
          try {
            parseResponseJson(plain);
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
          }
          await only([AdmissionError], async () =>
            checkResponse(await openResponse(PASSWORD, await sealEnvelope(PASSWORD, plain))),
          );
          await only([AdmissionError], () => openResponse(PASSWORD, junk));
        }),
        { numRuns: runs(300) },
      );
    },
    budget(2_000),
  );
});

describe('a switcher fed random first frames', () => {
  it(
    'only refuses them; every pending admission is freed; a real admission still works after',
    async () => {
      const sw = new Switcher({ password: PASSWORD, admissionTimeout: 50, failedAdmissionBurst: 0 });
      const errors: Error[] = [];
      const reasons = new Map<string, number>();
      sw.on('error', (e) => errors.push(e));
      sw.on('refused', (r) => reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1));
      const valid = await sealRequest(PASSWORD, { domain: 'alice', timestamp: currentTimeNs() });
      let n = 0;
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.uint8Array({ maxLength: 200 }),
              edits.map((e) => mutate(valid, e)),
              requestJson.map((j) => ({ j })),
            ),
            fc.constantFrom<'stream' | 'message'>('stream', 'message'),
            fc.boolean(),
            async (input, framing, hangUp) => {
              let bytes: Uint8Array;
              if (input instanceof Uint8Array) bytes = input;
              else bytes = encodeAdmitFrame(await sealEnvelope(PASSWORD, enc.encode(input.j)));
              const [a, b] = memoryPair({ framing, remoteAddresses: ['switcher', `192.0.2.${n++ % 250}:1`] });
              sw.handle(b);
              const peer = new HostilePeer(a);
              peer.bytes(bytes);
              if (hangUp) a.close();
              // Whatever happens, the switcher ends it: refused, or admitted (a mutation that kept
              // the frame valid), then we hang up.
              await Promise.race([
                peer.whenClosed(2_000),
                peer.next((f) => f.cmd === Cmd.ADMIT, 2_000),
              ]).catch(() => {});
              a.destroy();
            },
          ),
          { numRuns: runs(150) },
        );
        await expect.poll(() => sw.stats().pendingAdmissions, { timeout: 3_000 }).toBe(0);
        await expect.poll(() => sw.stats().clients, { timeout: 3_000 }).toBe(0);
        expect(errors).toEqual([]);
        expect(
          [...reasons.keys()].every((r) =>
            [
              'decrypt',
              'json',
              'version',
              'clock',
              'sum',
              'domain',
              'replay',
              'timeout',
              'closed',
              'malformed',
              'taken',
              'busy',
            ].includes(r),
          ),
        ).toBe(true);
        // Still admitting.
        const [a, b] = memoryPair();
        sw.handle(b);
        const peer = new HostilePeer(a);
        peer.bytes(await sealRequest(PASSWORD, { domain: 'after-fuzz', timestamp: currentTimeNs() }));
        const reply = await peer.next((f) => f.cmd === Cmd.ADMIT);
        expect((await openResponse(PASSWORD, reply.payload)).errCode).toBe(0);
        a.destroy();
      } finally {
        await sw.close({ timeout: 300 });
      }
    },
    budget(8_000),
  );
});
