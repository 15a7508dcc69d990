import { afterEach, describe, expect, it } from 'vitest';
import { RESERVED_FDS } from '../../src/cli/fd-limit.js';
import { killAll, runCli } from '../helpers/cli.js';

const env = { FLEXMUX_PASSWORD: 'fd-limit-test' };
const FD_WARNING = /^the open-file limit \((\d+)\) caps connections at (\d+) of the (\d+) that/;

describe('flexmux switcher under a low open-file limit', () => {
  afterEach(() => killAll());

  it('says at start that connections past the limit would be dropped without a word', async () => {
    const sw = runCli(
      ['switcher', '--tcp', '127.0.0.1:0', '--max-clients', '1000', '--max-pending-admissions', '200'],
      {
        env,
        nofile: 512,
      },
    );
    await sw.waitForLog('switcher ready');
    const warn = sw.logs.find((l) => FD_WARNING.test(l.msg));
    expect(warn, JSON.stringify(sw.logs)).toBeDefined();
    expect(warn!.level).toBe(40);
    expect(warn).toMatchObject({ openFileLimit: 512, maxClients: 1000, maxPendingAdmissions: 200 });
    const [, limit, cap, allowed] = FD_WARNING.exec(warn!.msg)!.map(Number);
    expect([limit, allowed, cap]).toEqual([512, 1200, 512 - RESERVED_FDS]);
  });

  it('says nothing when the limit covers what the switcher may hold', async () => {
    const sw = runCli(
      ['switcher', '--tcp', '127.0.0.1:0', '--max-clients', '300', '--max-pending-admissions', '100'],
      {
        env,
        nofile: 512,
      },
    );
    await sw.waitForLog('switcher ready');
    expect(sw.logs.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('with the default limits (the protocol maximum, nobody chose them) says it at info, not as a warning', async () => {
    const sw = runCli(['switcher', '--tcp', '127.0.0.1:0'], { env, nofile: 512 });
    await sw.waitForLog('switcher ready');
    const line = sw.logs.find((l) => FD_WARNING.test(l.msg));
    expect(line, JSON.stringify(sw.logs)).toBeDefined();
    expect(line!.level).toBe(30);
    expect(sw.logs.filter((l) => l.level >= 40)).toEqual([]);
  });
});
