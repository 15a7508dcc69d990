// Preloaded into a CLI child by tests (NODE_OPTIONS=--import): a DNS lookup of HELD_HOST never
// answers, as on a host whose resolver hangs, so a listener on that name holds the command in its
// start-up for as long as the test wants. The child logs `test: lookup held` (a JSON line, as
// its logs are) when it starts waiting; a ref'd timer keeps it alive meanwhile. SIGUSR2 releases
// the lookup.
import dns from 'node:dns';

export const HELD_HOST = 'held-startup.invalid';

const lookup = dns.lookup;
dns.lookup = function heldLookup(hostname, ...rest) {
  if (hostname !== HELD_HOST) return lookup.call(this, hostname, ...rest);
  const keep = setInterval(() => {}, 60_000);
  // SIGUSR2 lets the lookup answer (127.0.0.1), so that a test can see what start-up does next.
  process.once('SIGUSR2', () => {
    clearInterval(keep);
    lookup.call(this, '127.0.0.1', ...rest);
  });
  process.stderr.write(`${JSON.stringify({ level: 30, msg: 'test: lookup held', hostname })}\n`);
  return {};
};
