/**
 * Two nodes over a direct TCP link, no switcher: bob listens on virtual port 80 and echoes in
 * upper case; alice dials it, sends a line, half-closes, and prints the answer. With
 * `earlyData`, alice's later requests leave together with their streams' opens (one round trip
 * each instead of two; docs/manual.md, section 3).
 *
 *   npx tsx examples/direct.ts
 */
import { dialTcp, type FlexStream, listenTcp, Node } from '../src/index.js';

const nodes: Node[] = [];

// Bob: every TCP connection to this listener becomes a node named bob.
const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (transport) => {
  const bob = new Node(transport, { domain: 'bob' });
  nodes.push(bob);
  bob.listen(80).on('stream', (s: FlexStream) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => s.end(Buffer.concat(chunks).toString().toUpperCase()));
  });
});
console.log(`bob listens on tcp://127.0.0.1:${server.address.port}`);

// Alice: one TCP connection, one node; on a direct link the peer's domain is just a name.
const alice = new Node(await dialTcp('127.0.0.1', server.address.port), {
  domain: 'alice',
  earlyData: true,
});

async function ask(line: string): Promise<string> {
  const stream = await alice.dial('bob:80');
  stream.end(line);
  let answer = '';
  for await (const chunk of stream) answer += String(chunk);
  return answer;
}

// The first dial waits for bob's answer to the open, and shows alice the link is direct ...
console.log(`alice got: ${await ask('hello from alice')}`);
// ... so these dials resolve at once and their lines go out with the opens.
const answers = await Promise.all(['one', 'two', 'three'].map(ask));
console.log(`early requests: ${answers.join(' ')}`);

await alice.close();
await Promise.all(nodes.map((n) => n.close()));
await server.close();
console.log('done');
