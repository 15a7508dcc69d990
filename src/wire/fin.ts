/**
 * StreamFin (0x0C, a flexmux extension, PROTOCOL.md 14.2) payload:
 *
 *   [bytes sent on the stream before this FIN, mod 2^32, u32 BE]
 *
 * A Go switcher on raw TCP writes every command but data, close and close-ACK ahead of the stream
 * frames it still queues for a node (its fair writer's control class, PROTOCOL.md 9), the FIN
 * with them: so an IP dial through it, which keeps the caps byte (14.1), could see the FIN before
 * the last data. The count lets the receiver end the stream only once that data has come. A FIN
 * without it (flexmux before 2026-11-27) ends the stream where it arrives.
 */

/** The FIN payload for a stream that has sent `sent` bytes. */
export function encodeFin(sent: number): Uint8Array {
  const n = sent % 0x1_0000_0000;
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/**
 * Bytes still to come before a FIN with this payload takes effect at a receiver that has received
 * `received` bytes: 0 at once (also for a FIN without a count), else how many are on their way.
 */
export function finOwed(payload: Uint8Array, received: number): number {
  if (payload.length < 4) return 0;
  const sent = ((payload[0] << 24) | (payload[1] << 16) | (payload[2] << 8) | payload[3]) >>> 0;
  // Both mod 2^32: what came before the FIN is less than a window (< 2^31) away.
  return (sent - received) >>> 0;
}
