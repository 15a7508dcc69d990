import { describe, expect, it } from 'vitest';
import { fdShortfall, openFileLimit, parseOpenFileLimit, RESERVED_FDS } from '../../../src/cli/fd-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             94154                94154                processes
Max open files            20000                524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('open-file limit', () => {
  it('reads the soft limit from /proc/self/limits text', () => {
    expect(parseOpenFileLimit(LIMITS)).toBe(20000);
    expect(parseOpenFileLimit(LIMITS.replace('20000  ', 'unlimited'))).toBeNull();
    expect(parseOpenFileLimit('Max processes 5 5 processes\n')).toBeNull();
  });

  it('is null where it cannot be read', () => {
    expect(
      openFileLimit(() => {
        throw new Error('ENOENT');
      }),
    ).toBeNull();
    expect(openFileLimit(() => LIMITS)).toBe(20000);
  });

  it('counts the connections the limit leaves no descriptor for', () => {
    const o = { maxClients: 1000, maxPendingAdmissions: 200 };
    expect(fdShortfall(1200 + RESERVED_FDS, o)).toBe(0);
    expect(fdShortfall(1200 + RESERVED_FDS - 1, o)).toBe(1);
    expect(fdShortfall(512, o)).toBe(1200 + RESERVED_FDS - 512);
    expect(fdShortfall(1_048_576, { maxClients: 65_534, maxPendingAdmissions: 1_024 })).toBe(0);
  });

  // Each TLS or WebSocket listener also holds up to maxPendingAdmissions connections in their TLS
  // handshake or HTTP upgrade, before they are admissions: the limit must leave room for those.
  it('counts the connections TLS and WebSocket listeners hold in their handshake', () => {
    const o = { maxClients: 1000, maxPendingAdmissions: 200 };
    expect(fdShortfall(1200 + RESERVED_FDS, o, 0)).toBe(0);
    expect(fdShortfall(1200 + RESERVED_FDS, o, 2)).toBe(400);
    expect(fdShortfall(1600 + RESERVED_FDS, o, 2)).toBe(0);
  });

  it('counts the browser connections a demo page keeps open apart from the pending ones', () => {
    const o = { maxClients: 1000, maxPendingAdmissions: 200 };
    expect(fdShortfall(1400 + RESERVED_FDS, o, 1, 64)).toBe(64);
    expect(fdShortfall(1464 + RESERVED_FDS, o, 1, 64)).toBe(0);
  });
});
