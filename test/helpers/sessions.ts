import {
  BaseNode,
  type FlexStream,
  FlexStream as FS,
  Session,
  type SessionOptions,
} from '../../src/index.js';
import type { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';

/**
 * A session whose connections are in-memory pairs handed to `sw`, with the Node.js stream face.
 * The caller closes it (each test file registers that with its own cleanups).
 */
export function memorySessionTo(sw: Switcher, options: SessionOptions): Session<FlexStream> {
  return new Session<FlexStream>({
    connector: async () => {
      const [a, b] = memoryPair();
      sw.handle(b);
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    ...options,
  });
}
