import { describe, expect, it, vi } from 'vitest';
import { describeError, exitCodeOf } from '../../../src/cli/exit.js';
import { startListeners } from '../../../src/cli/listeners.js';
import type { Switcher } from '../../../src/switcher/index.js';

const listenTcp = vi.hoisted(() => vi.fn());
vi.mock('../../../src/switcher-node.js', () => ({
  listenTcp,
  listenTls: vi.fn(),
  listenWs: vi.fn(),
  listenWss: vi.fn(),
}));

describe('startListeners', () => {
  it('a host name the resolver cannot answer for now (EAI_AGAIN) is an I/O failure naming the address', async () => {
    // What node:net rejects with for `--tcp relay.example:7000` while DNS is down. Its code has an
    // underscore, which the /^E[A-Z]+$/ errno test missed: exit 1, and no address in the message.
    const close = vi.fn(async () => {});
    listenTcp
      .mockResolvedValueOnce({ address: { host: '127.0.0.1', port: 7000 }, close })
      .mockRejectedValueOnce(
        Object.assign(new Error('getaddrinfo EAI_AGAIN relay.example'), {
          code: 'EAI_AGAIN',
          errno: -3001,
          syscall: 'getaddrinfo',
          hostname: 'relay.example',
        }),
      );
    const specs = {
      tcp: [
        { host: '127.0.0.1', port: 7000 },
        { host: 'relay.example', port: 7000 },
      ],
      ws: [],
      tls: [],
      wss: [],
    };
    const err = await startListeners({} as Switcher, specs).catch((e: unknown) => e);
    expect(exitCodeOf(err)).toBe(13);
    expect(describeError(err)).toBe(
      'cannot listen on relay.example:7000 for the tcp:// listener: getaddrinfo EAI_AGAIN relay.example [CLI_IO]',
    );
    // The listener already open is closed.
    expect(close).toHaveBeenCalledOnce();
  });
});
