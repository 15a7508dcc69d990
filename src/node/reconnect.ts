/**
 * The wait before a session reconnects after a connection that worked is lost (reconnectSpread).
 * Kept out of session.ts, whose exports are all public, so that the CLI can quote the default.
 */

/**
 * Default reconnectSpread, ms: a thousand nodes reconnecting after a switcher restart arrive at
 * about two a millisecond instead of all at once (which filled the switcher's default
 * maxPendingAdmissions of 1,024 to 98 %, and past it nodes are turned away and wait
 * backoffInitial), while a single node is back within half a second, a quarter of one on average.
 */
export const RECONNECT_SPREAD = 500;

/**
 * A wait uniform over 0..spread ms. From 0 rather than from a floor: for a given longest wait,
 * that spreads a crowd the widest and brings a single node back the soonest.
 */
export function spreadDelay(spread: number): number {
  return Math.round(Math.random() * spread);
}
