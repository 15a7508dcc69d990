/**
 * The wait before a session reconnects after a connection that worked is lost (reconnectSpread;
 * its default is in sessionDefaults, src/config.ts).
 */

/**
 * A wait uniform over 0..spread ms. From 0 rather than from a floor: for a given longest wait,
 * that spreads a crowd the widest and brings a single node back the soonest.
 */
export function spreadDelay(spread: number): number {
  return Math.round(Math.random() * spread);
}
