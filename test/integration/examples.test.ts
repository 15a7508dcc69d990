import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, it, vi } from 'vitest';
import { killAll, ROOT, runCli } from '../helpers/cli.js';

/**
 * Every example runs as its README says (`npx tsx examples/NAME.ts`), finishes by itself, exits
 * 0 and prints what it promises (STYLE.md habit 13: examples cannot rot).
 */

vi.setConfig({ testTimeout: 90_000 });
afterAll(() => killAll(true));

const EXPECTED: Record<string, RegExp[]> = {
  'direct.ts': [
    /^bob listens on tcp:\/\/127\.0\.0\.1:\d+$/m,
    /^alice got: HELLO FROM ALICE$/m,
    /^early requests: ONE TWO THREE$/m,
  ],
  'echo.ts': [
    /^echo service admitted with virtual IP \d+$/m,
    /^client got back: ping through the switcher$/m,
  ],
  'ping.ts': [
    /^ping 3: switcher [\d.]+ ms, alice [\d.]+ ms$/m,
    /^ping carol failed: domain not found \(FLEX_ERR_PING_FAILED\)$/m,
  ],
  'tcp-proxy.ts': [/^client got: service read 100000 bytes$/m],
  'ws-gateway.ts': [
    /^GET \/hello: 200 hello over plain HTTP$/m,
    /^bob dialled alice over WebSocket: alice here, you are bob$/m,
  ],
  'chat.ts': [
    /^bob: hello alice$/m,
    /^ {2}\(alice heard "hello alice"\)$/m,
    /^alice: bye$/m,
    /^ {2}\(bob heard "bye"\)$/m,
  ],
};

describe.concurrent('examples', () => {
  it('every example in examples/ is covered here', ({ expect }) => {
    const files = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts'));
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.for(Object.keys(EXPECTED))('%s runs to completion', async (name, { expect }) => {
    const child = runCli([], { script: `examples/${name}` });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      child.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.proc.kill('SIGKILL');
          reject(new Error(`${name} did not finish\n${child.stdout}\n${child.stderr}`));
        }, 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(child.stderr).toBe('');
    expect(code).toBe(0);
    for (const re of EXPECTED[name]) expect(child.stdout).toMatch(re);
    expect(child.stdout).toMatch(/^done$/m);
  });
});
