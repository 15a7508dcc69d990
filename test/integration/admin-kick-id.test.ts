import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, type ClientView, startAdmin } from '../../src/admin/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { join, PASSWORD } from '../unit/switcher/helpers.js';
import { request } from './admin-http.js';

/**
 * `DELETE /api/v1/clients/{domain}?id=N`: a kick sent from what an operator saw (a dashboard row,
 * a client list read a while ago) names the connection; once the node has reconnected, the
 * domain's holder is another connection, which such a kick must leave alone.
 */

const TOKEN = 'kick-id-token';

interface ApiError {
  error: { code: string; message: string };
}

let sw: Switcher | undefined;
let admin: AdminServer | undefined;
afterEach(async () => {
  await admin?.close();
  await sw?.close({ timeout: 1_000 });
  admin = undefined;
  sw = undefined;
});

const left = (s: Switcher, id: number) =>
  new Promise<void>((resolve) =>
    s.on('clientLeft', (c) => {
      if (c.id === id) resolve();
    }),
  );

describe('DELETE /api/v1/clients/{domain} with an id', () => {
  it('leaves a reconnected node alone when the id is stale, and kicks it with its own', async () => {
    sw = new Switcher({ password: PASSWORD });
    admin = await startAdmin({ switcher: sw, port: 0, token: TOKEN });
    const url = admin.url;
    const kick = (path: string, body?: unknown) =>
      request(url, `/api/v1/clients/${path}`, {
        method: 'DELETE',
        token: TOKEN,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    const idOf = async (domain: string): Promise<number> => {
      const r = await request(url, `/api/v1/clients/${domain}`, { token: TOKEN });
      expect(r.status, r.text).toBe(200);
      return (r.json as { client: ClientView }).client.id;
    };

    await join(sw, 'carol');
    const stale = await idOf('carol');
    // carol's connection drops and she comes back: a new connection under the same domain.
    const gone = left(sw, stale);
    expect(sw.kick('carol')).toBe(true);
    await gone;
    await join(sw, 'carol');
    const fresh = await idOf('carol');
    expect(fresh).not.toBe(stale);

    // A kick aimed at the connection that left, by query or by body: refused, carol stays.
    for (const r of [await kick(`carol?id=${stale}`), await kick('carol', { id: stale, reason: 'late' })]) {
      expect(r.status, r.text).toBe(409);
      expect((r.json as ApiError).error.code).toBe('conflict');
      expect((r.json as ApiError).error.message).toContain(`connection ${fresh}, not ${stale}`);
    }
    expect(sw.client('carol')?.id).toBe(fresh);

    // Not an id: 400, and nobody kicked.
    for (const bad of ['abc', '-1', '1.5', '', '1000000000000000']) {
      const r = await kick(`carol?id=${encodeURIComponent(bad)}`);
      expect(r.status, `id=${bad}: ${r.text}`).toBe(400);
    }
    // The body's id follows the same rule as ?id=: a whole number of at most 15 digits. A 16-digit
    // one, a safe integer still, was taken there (and answered 409) while ?id= refused it.
    for (const bad of ['7', -1, 1.5, 1e15, Number.MAX_SAFE_INTEGER, null, true]) {
      const r = await kick('carol', { id: bad });
      expect(r.status, `{"id": ${JSON.stringify(bad)}}: ${r.text}`).toBe(400);
      expect((r.json as ApiError).error.message).toContain('at most 15 digits');
    }
    expect(sw.client('carol')?.id).toBe(fresh);
    // The largest id, either way: an id (of nobody here), so a conflict, not a bad request.
    for (const r of [
      await kick('carol?id=999999999999999'),
      await kick('carol', { id: 999_999_999_999_999 }),
    ]) {
      expect(r.status, r.text).toBe(409);
    }
    expect(sw.client('carol')?.id).toBe(fresh);

    // With the id of the connection that holds the domain: kicked.
    const out = left(sw, fresh);
    const r = await kick(`carol?id=${fresh}&reason=maintenance`);
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({
      kicked: { domain: 'carol', id: fresh, ip: expect.any(Number), reason: 'maintenance' },
    });
    await out;
    expect(sw.client('carol')).toBeUndefined();
    // And an id for a domain nobody holds is a 404, as without one.
    expect((await kick(`carol?id=${fresh}`)).status).toBe(404);
  });
});
