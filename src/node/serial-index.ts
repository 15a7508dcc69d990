import { IdIndex } from '../util/id-index.js';
import { useSerialIndex } from './node.js';

/**
 * Gives every node's streamPage() an IdIndex of its streams by serial (a page costs its own
 * streams, not those before the cursor). Called by the Node.js entry and the admin, which pages
 * through a node's streams; the browser build does without (node.ts, SerialIndex).
 */
export function indexStreamsBySerial(): void {
  useSerialIndex((streams) => IdIndex.of(streams, (s) => s.serial));
}
