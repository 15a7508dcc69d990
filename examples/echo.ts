/**
 * A switcher, an echo service registered as "echo", and a client that reaches it by name.
 *
 *   npx tsx examples/echo.ts
 */
import { connect, type FlexStream, Switcher, serveTcp } from '../src/index.js';

const password = 'example-password';
const switcher = new Switcher({ password });
const listener = await serveTcp(switcher, { host: '127.0.0.1', port: 0 });
const url = `tcp://127.0.0.1:${listener.address.port}`;
console.log(`switcher on ${url}`);

// The service: a node that echoes every stream on virtual port 7.
const service = connect(url, { password, domain: 'echo' });
service.listen(7).on('stream', (s: FlexStream) => s.pipe(s));
await service.ready();
console.log(`echo service admitted with virtual IP ${service.ip}`);

// The client dials echo:7 through the switcher.
const client = connect(url, { password, domain: 'client' });
await client.ready();
const stream = await client.dial('echo:7');
stream.end('ping through the switcher');
let echoed = '';
for await (const chunk of stream) echoed += String(chunk);
console.log(`client got back: ${echoed}`);

await client.close();
await service.close();
await listener.close();
await switcher.close();
console.log('done');
