import http from 'node:http';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { FlexStream, Node } from '../../src/index.js';
import { links, nodePair } from '../helpers/links.js';

/**
 * Node's http runs over a flexmux stream as over a socket: a server takes streams through
 * emit('connection'), a client agent dials them. A keep-alive agent calls the socket methods
 * setKeepAlive, setNoDelay, ref and unref on the sockets it pools; a stream lacking them threw
 * from the agent's 'free' handler (an uncaught TypeError) and was never reused.
 */

const pairs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.close();
});

/** An http.Agent whose connections are streams dialled from `node` to bob:80. */
class FlexAgent extends http.Agent {
  dials = 0;
  constructor(
    private readonly node: Node,
    options: http.AgentOptions,
  ) {
    super(options);
  }
  override createConnection(
    _o: http.ClientRequestArgs,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    this.dials++;
    this.node.dial('bob:80').then(
      (s) => cb?.(null, s),
      (err: Error) => cb?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

function request(agent: http.Agent, path: string): Promise<{ text: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: 'bob', path, method: 'POST', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ text, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setNoDelay(true);
    req.end(`body of ${path}`);
  });
}

describe('http over flexmux streams', () => {
  it('a keep-alive agent reuses one stream for sequential requests', { timeout: 5_000 }, async () => {
    const nodes = await nodePair(links.memory!, { heartbeatInterval: 0 }, { heartbeatInterval: 0 });
    pairs.push(nodes);
    const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        body += d;
      });
      req.on('end', () => res.end(`${req.method} ${req.url}: ${body}`));
    });
    nodes.b.listen(80).on('stream', (s: FlexStream) => server.emit('connection', s));
    const agent = new FlexAgent(nodes.a, { keepAlive: true });
    try {
      const got: { text: string; reused: boolean }[] = [];
      for (const path of ['/a', '/b', '/c']) {
        got.push(await request(agent, path));
        // The agent pools the stream on the response's end, a tick or so later.
        await new Promise((r) => setImmediate(r));
      }
      expect(got).toEqual([
        { text: 'POST /a: body of /a', reused: false },
        { text: 'POST /b: body of /b', reused: true },
        { text: 'POST /c: body of /c', reused: true },
      ]);
      expect(agent.dials).toBe(1);
    } finally {
      agent.destroy();
      server.close();
    }
    await expect.poll(() => nodes.a.streamCount + nodes.b.streamCount).toBe(0);
  });
});
