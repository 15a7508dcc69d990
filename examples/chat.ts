/**
 * Two nodes chatting over one stream through a switcher: one line per message, in turns.
 *
 *   npx tsx examples/chat.ts
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { connect, type FlexStream, Switcher, serveTcp } from '../src/index.js';

const password = 'example-password';
const switcher = new Switcher({ password });
const listener = await serveTcp(switcher, { host: '127.0.0.1', port: 0 });
const url = `tcp://127.0.0.1:${listener.address.port}`;

/** Says each of `lines` after reading one line from the other side (or first, if `opens`). */
async function talk(name: string, stream: FlexStream, lines: string[], opens: boolean): Promise<void> {
  const say = (line: string): void => {
    console.log(`${name}: ${line}`);
    stream.write(`${line}\n`);
  };
  const queue = [...lines];
  if (opens) say(queue.shift() ?? '');
  for await (const heard of createInterface({ input: stream as Readable })) {
    console.log(`  (${name} heard "${heard}")`);
    const next = queue.shift();
    if (next === undefined) break;
    say(next);
    if (queue.length === 0 && !opens) break;
  }
  stream.end();
}

const alice = connect(url, { password, domain: 'alice' });
const bob = connect(url, { password, domain: 'bob' });
const aliceDone = new Promise<void>((resolve) => {
  alice.listen(1).once('stream', (s: FlexStream) => {
    void talk('alice', s, ['hi bob', 'fine, thanks', 'bye'], false).then(resolve);
  });
});
await Promise.all([alice.ready(), bob.ready()]);

const stream = await bob.dial('alice:1');
await Promise.all([talk('bob', stream, ['hello alice', 'how are you?', 'see you'], true), aliceDone]);

await Promise.all([alice.close(), bob.close()]);
await listener.close();
await switcher.close();
console.log('done');
