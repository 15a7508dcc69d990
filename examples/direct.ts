/**
 * Two nodes over a direct TCP link, no switcher: bob listens on virtual port 80 and echoes in
 * upper case; alice dials it, sends a line, half-closes, and prints the answer.
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
const alice = new Node(await dialTcp('127.0.0.1', server.address.port), { domain: 'alice' });
const stream = await alice.dial('bob:80');
stream.end('hello from alice');
let answer = '';
for await (const chunk of stream) answer += String(chunk);
console.log(`alice got: ${answer}`);

await alice.close();
await Promise.all(nodes.map((n) => n.close()));
await server.close();
console.log('done');
