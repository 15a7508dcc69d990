import { pipeline } from 'node:stream';
import { FlexStream } from '../face/duplex.js';
import { BaseNode } from '../node/node.js';
import { Session } from '../node/session.js';
import type { Switcher } from '../switcher/switcher.js';
import { memoryPair } from '../transport/memory.js';

/**
 * The demo's Node-side echo service: a node inside the switcher's process, joined to it by an
 * in-memory link, admitted with the switcher's own password like any other client, that echoes
 * every stream on its port (half-close and reset included, as a socket echo would).
 */
export function startEchoNode(switcher: Switcher, domain: string, port: number): Session<FlexStream> {
  // Set once the constructor returns (it starts the first attempt, with the password given).
  let self: Session<FlexStream> | undefined;
  const session = new Session<FlexStream>({
    connector: async () => {
      // The switcher's password may have changed since (setPassword, a reload on SIGHUP): a
      // reconnect after a kick would otherwise be refused for ever.
      self?.setPassword(switcher.options.password);
      const [ours, theirs] = memoryPair({ remoteAddresses: ['switcher', `demo-${domain}`] });
      switcher.handle(theirs);
      return ours;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
    password: switcher.options.password,
    domain,
    logger: switcher.logger,
  });
  self = session;
  session.listen(port).on('stream', (s: FlexStream) => {
    pipeline(s, s, () => {});
  });
  return session;
}
