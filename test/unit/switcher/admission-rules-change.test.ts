import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { admitRaw, connectRaw, join, PASSWORD } from './helpers.js';

/**
 * An admission takes a while after its password was checked: a takeover waits up to
 * livenessTimeout for the holder's answer. A reload (Switcher.setAccess, setPassword) in that
 * time must hold for it too: the operator who removed a leaked password, then kicked who it let
 * in, saw a node admitted with it after both.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 200 })));
});

const TEAM = { password: 'team-pw', domains: 'team-*' };

/**
 * A switcher whose node `team-a` (admitted with the shared password) does not answer pings, and
 * an admission as `team-a` with `password`, waiting on the takeover ping to the holder; `settle`
 * kicks the holder, so that the claim goes through.
 */
async function takeoverUnderWay(password: string) {
  const sw = new Switcher({ password: PASSWORD, livenessTimeout: 60_000, access: { passwords: [TEAM] } });
  switchers.push(sw);
  const holder = await join(sw, 'team-a');
  const admission = admitRaw(connectRaw(sw), 'team-a', { password });
  await holder.next((f) => f.cmd === Cmd.PING && f.srcIP === SWITCHER_IP);
  return { sw, admission, settle: () => expect(sw.kick('team-a')).toBe(true) };
}

describe('switcher: an admission under way when the access rules change', () => {
  it('is refused when a reload removed its extra password, even after a kick', async () => {
    const { sw, admission, settle } = await takeoverUnderWay(TEAM.password);
    sw.setAccess({});
    settle();
    expect((await admission).errCode).toBe(-1);
    expect(sw.client('team-a')).toBeUndefined();
  });

  it('is refused when its password may no longer register the domain', async () => {
    const { sw, admission, settle } = await takeoverUnderWay(TEAM.password);
    sw.setAccess({ passwords: [{ ...TEAM, domains: 'ops-*' }] });
    settle();
    expect((await admission).errCode).toBe(-1);
    expect(sw.client('team-a')).toBeUndefined();
  });

  it('is refused when the shared password it opened with was rotated', async () => {
    const { sw, admission, settle } = await takeoverUnderWay(PASSWORD);
    sw.setPassword('rotated');
    settle();
    expect((await admission).errCode).toBe(-1);
    expect(sw.client('team-a')).toBeUndefined();
  });

  it('is admitted when the new rules still let its password register the domain', async () => {
    // The shared password moved to an extra one for team-*: still good for team-a.
    const { sw, admission, settle } = await takeoverUnderWay(PASSWORD);
    sw.setAccess({ passwords: [{ password: PASSWORD, domains: 'team-*' }] }, 'rotated');
    settle();
    expect((await admission).errCode).toBe(0);
    expect(sw.client('team-a')).toBeDefined();
  });
});
