import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/connect.js';
import { ConnectionClosedError } from '../../src/errors.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { nextEvent } from '../helpers/faulty-streams.js';
import { cert, key } from '../unit/transport/tls-fixture.js';

/**
 * The warn line of a failed connection attempt names the runtime's reason behind flexmux's code:
 * a certificate this client does not trust and a refused connection both fail the attempt with
 * FLEX_ERR_CONNECTION_CLOSED, and before, only the message (free text) told them apart.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listening(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/** The fields of the session's 'session attempt failed' line, and the error it disconnected with. */
async function failedAttempt(url: string): Promise<{ fields: Record<string, unknown>; err: Error }> {
  const logger = captureLogger();
  const s = connect(url, { password: 'p', domain: 'attemptlog', reconnect: false, logger });
  cleanups.push(() => s.close());
  const err = await nextEvent<Error>(s, 'disconnect', 5_000);
  const lines = logger.find('session attempt failed');
  expect(lines).toHaveLength(1);
  return { fields: lines[0]!.fields, err };
}

describe("the log line of a failed attempt names its cause's code", () => {
  it('a self-signed switcher certificate: DEPTH_ZERO_SELF_SIGNED_CERT', async () => {
    const server = tls.createServer({ key, cert }, (socket) => socket.destroy());
    server.on('tlsClientError', () => {});
    const port = await listening(server);
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { fields, err } = await failedAttempt(`tls://127.0.0.1:${port}`);
    expect(fields).toMatchObject({
      code: 'FLEX_ERR_CONNECTION_CLOSED',
      cause: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    // What callers get is unchanged: the cause is Node's, under flexmux's own error type.
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err.cause as { code?: string }).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('a refused connection: ECONNREFUSED', async () => {
    const server = net.createServer();
    const port = await listening(server);
    await new Promise((resolve) => server.close(resolve));
    const { fields } = await failedAttempt(`tcp://127.0.0.1:${port}`);
    expect(fields).toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED', cause: 'ECONNREFUSED' });
  });
});
