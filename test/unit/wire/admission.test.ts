import { describe, expect, it } from 'vitest';
import { AdmissionError, type AdmissionReason, ConfigError } from '../../../src/errors.js';
import {
  buildRequest,
  checkResponse,
  computeSum,
  deriveKey,
  encodeRequestJson,
  encodeResponseJson,
  hmacSha256,
  openEnvelope,
  openRequest,
  openResponse,
  parseResponseJson,
  sealAdmitFrame,
  sealEnvelope,
  sealRequest,
  sealResponse,
  sumInput,
  verifyRequest,
} from '../../../src/wire/admission/index.js';
import { HEADER_SIZE } from '../../../src/wire/constants.js';
import { decodeMessage } from '../../../src/wire/decoder.js';
import { type AdmissionFile, fromHex, loadVector, toHex, utf8 } from './vectors.js';

const file = loadVector<AdmissionFile>('admission.json');
const clockNs = BigInt(file.clockNs);

/** The payload (envelope) of a complete admission frame. */
function payloadOf(frameHex: string): Uint8Array {
  return decodeMessage(fromHex(frameHex)).payload;
}

/** Which of our reasons each Go error text corresponds to. */
function reasonOfGoError(error: string): AdmissionReason {
  if (error.includes('message authentication failed')) return 'decrypt';
  if (error.includes('cannot unmarshal') || error.includes('invalid character')) return 'json';
  if (error.includes('version mismatch')) return 'version';
  if (error === 'timestamp expired') return 'clock';
  if (error === 'invalid password') return 'sum';
  if (error === 'invalid domain') return 'domain';
  throw new Error(`unmapped Go error ${error}`);
}

async function rejection(p: Promise<unknown>): Promise<AdmissionError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AdmissionError);
    return err as AdmissionError;
  }
  throw new Error('expected an AdmissionError');
}

describe('admission.json requests', () => {
  it('covers every case of the README', () => {
    expect(file.requests).toHaveLength(28);
  });

  for (const v of file.requests) {
    const r = v.request;
    const clientPw = v.clientPassword ?? v.password;
    const opts = { salt: fromHex(r.salt), nonce: fromHex(r.nonce), headerRandom: fromHex(r.headerRandom) };

    it(`${v.name}: sealing the recorded JSON reproduces frameHex (key, tag)`, async () => {
      expect(toHex(await deriveKey(clientPw, fromHex(r.salt)))).toBe(r.key);
      const frame = await sealAdmitFrame(clientPw, utf8(r.json), opts);
      expect(toHex(frame)).toBe(r.frameHex);
      expect(toHex(frame.subarray(frame.length - 16))).toBe(r.tag);
    });

    it(`${v.name}: the Sum HMAC over the exact digits`, async () => {
      const sumPw = r.sumPassword ?? clientPw;
      expect(toHex(await hmacSha256(utf8(sumPw), utf8(r.sumInput)))).toBe(r.sumHmacHex);
      if (r.fields) {
        const f = r.fields;
        expect(sumInput(f.Domain, f.Mac, BigInt(f.Timestamp))).toBe(r.sumInput);
        expect(await computeSum(sumPw, f.Domain, f.Mac, BigInt(f.Timestamp))).toBe(f.Sum);
      }
    });

    if (r.fields) {
      const f = r.fields;
      it(`${v.name}: building from the fields gives Go's JSON byte for byte, and the same frame`, async () => {
        const sum = r.sumPassword ? f.Sum : undefined; // bad-sum: Sum made with another password
        const init = {
          domain: f.Domain,
          mac: f.Mac,
          timestamp: BigInt(f.Timestamp),
          version: f.Version,
          sum,
        };
        const req = await buildRequest(clientPw, init);
        expect(req.sum).toBe(f.Sum);
        expect(encodeRequestJson(req)).toBe(r.json);
        expect(toHex(await sealRequest(clientPw, init, opts))).toBe(r.frameHex);
      });
    }

    it(`${v.name}: the switcher's verdict matches Go (${v.expect.verdict})`, async () => {
      const payload = payloadOf(r.frameHex);
      const accept = v.expect.goAccept;
      if (!v.expect.openWithServerPassword.ok) {
        const err = await rejection(openRequest(v.password, payload));
        expect([err.reason, err.errCode]).toEqual(['decrypt', -1]);
        expect(accept.ok).toBe(false);
        return;
      }
      const verdict = (async () =>
        verifyRequest(v.password, await openRequest(v.password, payload), clockNs))();
      if (accept.ok) {
        // domain-taken (-2) passes these checks; its rejection comes from the registry.
        expect(await verdict).toEqual({ domain: accept.domain });
      } else {
        const err = await rejection(verdict);
        expect([err.reason, err.errCode]).toEqual([reasonOfGoError(accept.error!), -1]);
      }
    });

    const ws = v.expect.switcherWs;
    if (ws) {
      it(`${v.name}: the live Go switcher's WebSocket answer opens to its JSON`, async () => {
        const res = await openResponse(v.password, payloadOf(ws.responseFrameHex));
        expect(encodeResponseJson(res)).toBe(ws.responseJson);
        expect([res.errCode, res.ip]).toEqual([ws.errCode, ws.ip]);
      });
    }
    const tcp = v.expect.switcherTcp;
    if (tcp?.received === 'full frame') {
      it(`${v.name}: the live Go switcher's TCP answer opens to its JSON`, async () => {
        const res = await openResponse(v.password, payloadOf(tcp.bytesHex!));
        expect(encodeResponseJson(res)).toBe(tcp.responseJson);
      });
    }
  }

  it('Timestamp needs a bigint: as a JSON.parse number it loses its digits', () => {
    const json = file.requests.find((v) => v.name === 'success')!.request.json;
    expect(String((JSON.parse(json) as { Timestamp: number }).Timestamp)).not.toBe(file.clockNs);
  });
});

describe('admission.json responses', () => {
  for (const v of file.responses) {
    const opts = { salt: fromHex(v.salt), nonce: fromHex(v.nonce), headerRandom: fromHex(v.headerRandom) };

    it(`${v.name}: sealing reproduces frameHex, from the JSON and from the fields`, async () => {
      expect(toHex(await deriveKey(v.password, fromHex(v.salt)))).toBe(v.key);
      expect(toHex(await sealAdmitFrame(v.password, utf8(v.json), opts))).toBe(v.frameHex);
      const res = parseResponseJson(utf8(v.json));
      expect(encodeResponseJson(res)).toBe(v.json);
      expect(toHex(await sealResponse(v.password, res, opts))).toBe(v.frameHex);
    });

    it(`${v.name}: the node's check matches Go's handshake`, async () => {
      const res = await openResponse(v.password, payloadOf(v.frameHex));
      const want = v.expect.goHandshake;
      if (want.ok) {
        expect(checkResponse(res)).toBe(want.ip);
        return;
      }
      let err: unknown;
      try {
        checkResponse(res);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AdmissionError);
      const a = err as AdmissionError;
      if (want.error!.includes('version mismatch')) expect([a.reason, a.errCode]).toEqual(['version', 0]);
      else
        expect([a.reason, a.errCode]).toEqual([
          res.errCode === -2 ? 'registration' : 'rejected',
          res.errCode,
        ]);
    });

    it(`${v.name}: a wrong password cannot open it`, async () => {
      const err = await rejection(openResponse(`${v.password}-wrong`, payloadOf(v.frameHex)));
      expect([err.reason, err.errCode]).toEqual(['decrypt', 0]);
    });
  }
});

describe('PROTOCOL.md 2.9 worked example', () => {
  const salt = fromHex('000102030405060708090a0b0c0d0e0f');
  const nonce = fromHex('a0a1a2a3a4a5a6a7a8a9aaab');
  const init = { domain: 'alice', mac: '00:11:22:33:44:55', timestamp: 1700000000000000000n };
  const frameHex =
    '00000000000000000000c0000102030405060708090a0b0c0d0e0fa0a1a2a3a4' +
    'a5a6a7a8a9aaabf7a67973a51ff933f3b9379e83effe8fd2ebbcf4d4a163e693' +
    '6f0fdb48bc63d170546026c1e80852233b873b16b04771eee34158f0f6f55255' +
    '39f670a31ffe2aa2cdafb73451d0c052c9611c912c888d285ea8f92dd3f630c1' +
    '1f063464de5f510dae4ae88371cb4248097d14e45e75c73753c5518673c67d3a' +
    '4332e493d12e78603104b5e52ebf6e475f4b6e336cd973be197eb56c7f817134' +
    '68ca2d164ff3c93a92909a';

  it('reproduces the Sum, the plaintext, the key and the 203-byte frame', async () => {
    expect(sumInput(init.domain, init.mac, init.timestamp)).toBe(
      'alice,00:11:22:33:44:55,1700000000000000000',
    );
    expect(
      toHex(await hmacSha256(utf8('example-pwd'), utf8('alice,00:11:22:33:44:55,1700000000000000000'))),
    ).toBe('fe88752dca4a2c8d3b85504696cb0ed3f01b1b11101e291ac897bbf6b951b081');
    const req = await buildRequest('example-pwd', init);
    expect(req.sum).toBe('/oh1LcpKLI07hVBGlssO0/AbGxEQHikayJe79rlRsIE=');
    const json = encodeRequestJson(req);
    expect(json).toBe(
      '{"Version":20260225,"Domain":"alice","Mac":"00:11:22:33:44:55","Timestamp":1700000000000000000,"Sum":"/oh1LcpKLI07hVBGlssO0/AbGxEQHikayJe79rlRsIE="}',
    );
    expect(json.length).toBe(148);
    expect(toHex(await deriveKey('example-pwd', salt))).toBe(
      '6d41e2221fcacaa0fff20947111536046b3e71e79be1226c9cf55ece21dbc81c',
    );
    const frame = await sealRequest('example-pwd', init, { salt, nonce, headerRandom: new Uint8Array(8) });
    expect(frame.length).toBe(203);
    expect(toHex(frame)).toBe(frameHex);
  });

  it('is refused by a switcher today only for its old timestamp', async () => {
    const req = await openRequest('example-pwd', payloadOf(frameHex));
    expect(await verifyRequest('example-pwd', req, 1700000000000000000n + 300_000_000_000n)).toEqual({
      domain: 'alice',
    });
    const err = await rejection(verifyRequest('example-pwd', req, clockNs));
    expect(err.reason).toBe('clock');
  });

  it('reproduces the response for IP 3', async () => {
    const opts = {
      salt: fromHex('101112131415161718191a1b1c1d1e1f'),
      nonce: fromHex('b0b1b2b3b4b5b6b7b8b9babb'),
      headerRandom: new Uint8Array(8),
    };
    expect(toHex(await deriveKey('example-pwd', opts.salt))).toBe(
      'bdada03037702161fbaa233998ddcc4f48d625f138760a746005d7502f2be2d4',
    );
    const frame = await sealResponse('example-pwd', { errCode: 0, ip: 3 }, opts);
    expect(toHex(frame.subarray(0, HEADER_SIZE))).toBe('0000000000000000' + '00005f');
    expect(toHex(frame.subarray(HEADER_SIZE))).toBe(
      '101112131415161718191a1b1c1d1e1fb0b1b2b3b4b5b6b7b8b9babb' +
        '17e4b06dbeccb4a9950e125ea9b7bac9dc371e64ea560d7b85bcfd9e8f6cf8f27e10b04ae36ac9ab2c2eb7fb38e6da4f1d5f911e0415178a96614c8e6b165754a95589',
    );
    expect(checkResponse(await openResponse('example-pwd', frame.subarray(HEADER_SIZE)))).toBe(3);
  });
});

describe('envelope and checks beyond the vectors', () => {
  it('round-trips with random salt and nonce, including the empty password', async () => {
    for (const pw of ['', 'pw', utf8('bytes-pw')]) {
      const env = await sealEnvelope(pw, utf8('hello'));
      expect(env.length).toBe(5 + 44);
      expect(new TextDecoder().decode(await openEnvelope(pw, env))).toBe('hello');
    }
    const a = await sealEnvelope('pw', utf8('x'));
    const b = await sealEnvelope('pw', utf8('x'));
    expect(toHex(a)).not.toBe(toHex(b));
  });

  it('empty-password HMAC equals HMAC with 64 zero bytes (the Web Crypto workaround)', async () => {
    expect(toHex(await hmacSha256(new Uint8Array(0), utf8('abc')))).toBe(
      'fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351',
    );
  });

  it('a flipped bit, a truncated or a short envelope fails with reason decrypt', async () => {
    const env = await sealEnvelope('pw', utf8('hello'));
    for (const bad of [
      env.map((b, i) => (i === 30 ? b ^ 1 : b)),
      env.subarray(0, env.length - 1),
      env.subarray(0, 43),
    ]) {
      const err = await rejection(openEnvelope('pw', bad));
      expect(err.reason).toBe('decrypt');
    }
  });

  it('refuses bad salt/nonce/header sizes and oversized plaintexts', async () => {
    await expect(sealEnvelope('pw', utf8('x'), { salt: new Uint8Array(15) })).rejects.toThrow(ConfigError);
    await expect(sealEnvelope('pw', utf8('x'), { nonce: new Uint8Array(16) })).rejects.toThrow(ConfigError);
    await expect(sealEnvelope('pw', new Uint8Array(65535 - 43))).rejects.toThrow(ConfigError);
    await expect(sealAdmitFrame('pw', utf8('x'), { headerRandom: new Uint8Array(4) })).rejects.toThrow(
      ConfigError,
    );
    await expect(sealRequest('pw', { domain: 'a', timestamp: 2n ** 63n })).rejects.toThrow(ConfigError);
    await expect(sealResponse('pw', { errCode: 0, ip: 70000 })).rejects.toThrow(ConfigError);
  });

  it('accepts a clock difference of exactly 5 minutes and refuses one nanosecond more', async () => {
    const req = await buildRequest('pw', { domain: 'edge', timestamp: clockNs });
    const five = 300_000_000_000n;
    for (const now of [clockNs + five, clockNs - five])
      expect(await verifyRequest('pw', req, now)).toEqual({ domain: 'edge' });
    for (const now of [clockNs + five + 1n, clockNs - five - 1n]) {
      expect((await rejection(verifyRequest('pw', req, now))).reason).toBe('clock');
    }
  });

  it('checks version before clock, clock before Sum, Sum before domain (Go order)', async () => {
    const bad = await buildRequest('other', { domain: 'a.b', timestamp: 0n, version: 1 });
    expect((await rejection(verifyRequest('pw', bad, clockNs))).reason).toBe('version');
    expect((await rejection(verifyRequest('pw', { ...bad, version: 20260225 }, clockNs))).reason).toBe(
      'clock',
    );
    const fresh = { ...bad, version: 20260225, timestamp: clockNs };
    expect((await rejection(verifyRequest('pw', fresh, clockNs))).reason).toBe('sum');
    const signed = await buildRequest('pw', { domain: 'a.b', timestamp: clockNs });
    expect((await rejection(verifyRequest('pw', signed, clockNs))).reason).toBe('domain');
  });

  it('an admitted response must assign a node IP, 1..65534 (0 and 0xFFFF are reserved, 1.4)', () => {
    const ok = { errCode: 0, errMsg: '', version: 20260225 };
    expect(checkResponse({ ...ok, ip: 1 })).toBe(1);
    expect(checkResponse({ ...ok, ip: 0xfffe })).toBe(0xfffe);
    for (const ip of [0, 0xffff]) {
      expect(() => checkResponse({ ...ok, ip })).toThrow(
        expect.objectContaining({ errCode: 0, reason: 'json' }),
      );
    }
  });

  it('a non-zero ErrCode wins over a version mismatch', () => {
    let err: unknown;
    try {
      checkResponse({ errCode: -2, errMsg: 'handshake rejected', ip: 0, version: 1 });
    } catch (e) {
      err = e;
    }
    expect((err as AdmissionError).errCode).toBe(-2);
  });

  it('a refusal with ErrCode -1 says what to check, since the reply never says which check failed', () => {
    // Before: 'admission rejected by the switcher (ErrCode -1): handshake rejected' and nothing
    // more, for a team password used with a domain it may not register, say.
    expect(() =>
      checkResponse({ errCode: -1, errMsg: 'handshake rejected', ip: 0, version: 20260225 }),
    ).toThrow(
      'admission rejected by the switcher (ErrCode -1): handshake rejected (check the password, the domain (access rules may limit a password to some domains) and the clock; the switcher logs the reason)',
    );
  });

  it('a refusal with ErrCode -2 names every cause a switcher gives it, and that waiting mends most', () => {
    // Before: only a held domain or a full switcher, not a domain another connection is still
    // being admitted with (`busy`: often the node's own attempt from before its restart), nor
    // that these pass (a session's ready() waits through them).
    expect(() =>
      checkResponse({ errCode: -2, errMsg: 'handshake rejected', ip: 0, version: 20260225 }),
    ).toThrow(
      "admission rejected by the switcher (ErrCode -2): handshake rejected (the domain is held by another node that still answers, or claimed by a connection still being admitted (often this node's own earlier attempt, just after it restarted), or the switcher is full (its maxClients limit, or no free virtual IP); the switcher logs which; waiting usually mends it)",
    );
  });
});
