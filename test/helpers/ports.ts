import * as fs from 'node:fs';
import * as net from 'node:net';

/**
 * Ports for tests that need one nothing listens on: to be refused there, or to have a child
 * process listen there next.
 *
 * A port the kernel just gave to `listen(0)` and took back is the worst choice: it comes from the
 * ephemeral range, where every other test worker's `listen(0)` and every outgoing connection's
 * local end draw theirs, so between the check and its use another test may take it (a 'refused'
 * target that accepts, a child that cannot bind). The ports given here lie below that range, which
 * only an explicit bind reaches; each is checked free on 127.0.0.1 before it is given.
 */

const LOWEST = 20_000;

/** The first port of the kernel's ephemeral range (Linux's default where it cannot be read). */
function ephemeralStart(): number {
  try {
    const [first] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(first);
    if (Number.isInteger(n) && n > LOWEST + 1_000) return n;
  } catch {
    // Not Linux, or no /proc: fall through.
  }
  return 32_768;
}

const END = ephemeralStart();

function bindsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1, outside the ephemeral range, that nothing listens on now. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (END - LOWEST));
    if (await bindsFree(port)) return port;
  }
  throw new Error(`no free port found in ${LOWEST}..${END - 1} after 100 tries`);
}
