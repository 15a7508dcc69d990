/**
 * A burst of identical events (connections turned away because too many are pending) told in a
 * few log lines instead of one each: a herd of nodes reconnecting at once (a switcher restart)
 * gave hundreds of the same line in a few milliseconds, and nothing said how many in all or when
 * it ended. The first of a burst is logged in full by the caller, the rest are counted and said
 * in summary lines: at most one per `everyMs` while the burst lasts, and one when it ends.
 *
 * No timer of its own: the caller reports each event and says when the load is down, so nothing
 * is left to clean up when it goes away. A caller that may see no next event (a node's peer that
 * floods, then goes quiet) arms its own timer while a burst is open and calls endIfQuiet from it.
 */
export class Burst {
  /** Events since the last line about the burst. */
  #unlogged = 0;
  /** Events in the whole burst; 0 when there is none. */
  private total = 0;
  private since = 0;
  #lastLine = 0;
  /** When the last event came, and the fields it came with (for endIfQuiet's line). */
  #lastHit = 0;
  #lastExtra: object = {};

  /**
   * @param summary writes one summary line with these fields: `refused` (events since the last
   *   line; named by `countField`), `total`, `ms` since the burst began, `over` (whether it ended),
   *   and the caller's own.
   * @param clock monotonic ms
   */
  constructor(
    private readonly summary: (fields: Record<string, unknown>) => void,
    private readonly clock: () => number,
    private readonly everyMs = 1_000,
    private readonly countField = 'refused',
  ) {}

  get active(): boolean {
    return this.total > 0;
  }

  /** One more event: true if it is the first of a burst, for the caller to log in full. */
  hit(extra: object = {}): boolean {
    const at = this.clock();
    this.#lastHit = at;
    this.#lastExtra = extra;
    if (this.total === 0) {
      this.total = 1;
      this.since = at;
      this.#lastLine = at;
      return true;
    }
    this.total++;
    this.#unlogged++;
    this.tick(extra, at);
    return false;
  }

  /** Says what the burst counted since its last line, if a line is due. */
  tick(extra: object = {}, at = this.clock()): void {
    if (this.#unlogged > 0 && at - this.#lastLine >= this.everyMs) this.write(extra, at, false);
  }

  /**
   * Ends the burst once `ms` have passed without an event, for events that have no "load is down"
   * of their own: says what is left, with `extra` (by default the fields of the last event).
   */
  endIfQuiet(ms: number, extra: object = this.#lastExtra): void {
    if (this.total > 0 && this.clock() - this.#lastHit >= ms) this.end(extra);
  }

  /** The load is down: says what is left of the burst, and forgets it. */
  end(extra: object = {}): void {
    if (this.total === 0) return;
    if (this.#unlogged > 0) this.write(extra, this.clock(), true);
    this.total = 0;
  }

  private write(extra: object, at: number, over: boolean): void {
    this.summary({
      [this.countField]: this.#unlogged,
      total: this.total,
      ms: Math.round(at - this.since),
      over,
      ...extra,
    });
    this.#unlogged = 0;
    this.#lastLine = at;
  }
}
