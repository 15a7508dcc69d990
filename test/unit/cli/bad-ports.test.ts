import { describe, expect, it } from 'vitest';
import { fetchRefusesPort } from '../../../src/cli/bad-ports.js';

/** The bad ports the CLI warns of are those Node's fetch refuses (it connects to none of them). */

describe('fetchRefusesPort', () => {
  it('names ports fetch refuses, and not the ports flexmux uses by default', async () => {
    const named = [6000, 6665, 6669, 10080, 4190, 6679, 1, 5061];
    for (const port of named) expect({ port, bad: fetchRefusesPort(port) }).toEqual({ port, bad: true });
    // fetch gives `bad port` before any connection: nothing is reached, nothing need listen.
    const causes = await Promise.all(
      named.map((port) =>
        fetch(`http://127.0.0.1:${port}/`).then(
          () => 'answered',
          (err: Error) => (err.cause as Error | undefined)?.message,
        ),
      ),
    );
    expect(causes).toEqual(named.map(() => 'bad port'));
    for (const port of [0, 7000, 7080, 7090, 7443, 6670, 10081, 8080])
      expect(fetchRefusesPort(port)).toBe(false);
  });
});
