import { afterAll, expect, it, vi } from 'vitest';
import { connect } from '../../src/index.js';
import { killAll, startSwitcher } from '../helpers/cli.js';

/**
 * `switcher --ping-interval`: the switcher pings its nodes, so the admin API (and `flexmux
 * clients`) show an RTT instead of "-".
 */

vi.setConfig({ testTimeout: 90_000 });
afterAll(() => killAll(true));

it('--ping-interval fills each client rttMs in the admin API', async () => {
  const env = { FLEXMUX_PASSWORD: 'test-password', FLEXMUX_ADMIN_TOKEN: undefined };
  const sw = await startSwitcher(
    ['--tcp', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--ping-interval', '100ms'],
    env,
  );
  const admin = (await sw.child.waitForLog('admin API listening')).url as string;
  const node = connect(sw.tcp, { password: 'test-password', domain: 'alice', heartbeatInterval: 0 });
  try {
    await node.ready({ timeout: 30_000 });
    await expect
      .poll(
        async () => {
          const body = (await (await fetch(`${admin}api/v1/clients/alice`)).json()) as {
            client: { rttMs: number | null };
          };
          return body.client.rttMs;
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBeTypeOf('number');
  } finally {
    await node.close();
  }
});
