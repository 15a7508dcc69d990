import { afterEach, describe, expect, it } from 'vitest';
import { AdmissionError } from '../../../src/errors.js';
import { admit } from '../../../src/node/admit.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { fromHex, loadVector } from '../wire/vectors.js';

/**
 * The node's side of the recorded wrong-password sessions (vectors/sessions/tcp-wrong-password,
 * ws-wrong-password): what a Go switcher sends a node whose password is wrong, replayed byte for
 * byte, then its close. Over raw TCP the rejection arrives whole, not at all, or as its 11-byte
 * header alone (PROTOCOL.md 2.7); each must end admit() with an AdmissionError, never a hang or a
 * frame taken for a reply: a reply that cannot be opened (reason `decrypt`, the Go client's
 * "message authentication failed") or a connection closed during admission (reason `closed`, its
 * "read header failed" and "read payload failed").
 */

interface Recorded {
  password: string;
  transport: 'tcp' | 'ws';
  connections: Record<string, { transport: 'tcp' | 'ws'; domain: string }>;
  admissions: { conn: string; domain: string; clientPassword?: string; timestampNs: string }[];
  steps: { conn: string; event?: string; error?: string }[];
  frames: { dir?: 'c2s' | 's2c'; conn: string; hex: string; event?: string; partial?: boolean }[];
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** The Go client's error, as the kind of AdmissionError flexmux reports for it. */
function expectedReason(goError: string): 'decrypt' | 'closed' {
  if (goError.endsWith('message authentication failed')) return 'decrypt';
  if (goError.endsWith('read header failed') || goError.endsWith('read payload failed')) return 'closed';
  throw new Error(`unexpected Go client error ${goError}`);
}

for (const file of ['tcp-wrong-password', 'ws-wrong-password']) {
  const s = loadVector<Recorded>(`sessions/${file}.json`);
  describe(`sessions/${file}.json, replayed to admit()`, () => {
    for (const adm of s.admissions) {
      const goError = s.steps.find((st) => st.conn === adm.conn && st.event === 'admit-failed')!.error!;
      const reason = expectedReason(goError);
      const sent = s.frames.filter((f) => f.conn === adm.conn && f.dir === 's2c' && f.event === undefined);
      const what = sent.length === 0 ? 'nothing' : sent[0].partial ? 'a header alone' : 'the whole rejection';
      /** admit() with `password` against the recorded answer; resolves with its error. */
      const replay = async (password: string): Promise<unknown> => {
        const framing = s.connections[adm.conn].transport === 'ws' ? 'message' : 'stream';
        const [node, sw] = memoryPair({ framing });
        cleanups.push(
          () => node.destroy(),
          () => sw.destroy(),
        );
        let requests = 0;
        sw.attach({
          data: () => {
            if (requests++ > 0) return;
            // The switcher's answer as recorded, then its FIN.
            for (const f of sent) sw.send([fromHex(f.hex)]);
            sw.close();
          },
          drain: () => {},
          close: () => {},
        });
        const err = await admit(node, {
          password,
          domain: adm.domain,
          timeout: 5_000,
          clock: () => BigInt(adm.timestampNs),
        }).catch((e: unknown) => e);
        expect(requests).toBe(1);
        return err;
      };
      it(`${adm.conn}: ${what}, then the close, is an AdmissionError (${reason}) as Go's "${goError}"`, async () => {
        const err = await replay(adm.clientPassword!);
        expect(err).toBeInstanceOf(AdmissionError);
        expect(err).toMatchObject({ errCode: 0, reason });
      });
      if (reason === 'decrypt') {
        it(`${adm.conn}: the same rejection read with the switcher's password is ErrCode -1`, async () => {
          const err = await replay(s.password);
          expect(err).toBeInstanceOf(AdmissionError);
          expect(err).toMatchObject({ errCode: -1, reason: 'rejected' });
        });
      }
    }
  });
}
