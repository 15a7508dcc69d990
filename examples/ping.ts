/**
 * Round trips through a switcher: to the switcher itself and to another node, by domain.
 *
 *   npx tsx examples/ping.ts
 */
import { connect, Switcher, serveTcp } from '../src/index.js';

const password = 'example-password';
const switcher = new Switcher({ password });
const listener = await serveTcp(switcher, { host: '127.0.0.1', port: 0 });
const url = `tcp://127.0.0.1:${listener.address.port}`;

const alice = connect(url, { password, domain: 'alice' });
const bob = connect(url, { password, domain: 'bob' });
await Promise.all([alice.ready(), bob.ready()]);

for (let i = 1; i <= 3; i++) {
  const toSwitcher = await bob.ping();
  const toAlice = await bob.ping('alice');
  console.log(`ping ${i}: switcher ${toSwitcher.toFixed(3)} ms, alice ${toAlice.toFixed(3)} ms`);
}

// A domain nobody holds answers with an error, not a timeout.
await bob
  .ping('carol')
  .catch((err: Error & { code?: string }) => console.log(`${err.message} (${err.code})`));

await Promise.all([alice.close(), bob.close()]);
await listener.close();
await switcher.close();
console.log('done');
