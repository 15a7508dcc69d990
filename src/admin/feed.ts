import { delta, type Keyed } from './delta.js';
import { type EventHub, formatEvent } from './events.js';
import { HttpError, queryParam } from './http.js';
import type { Panel } from './panel.js';
import type { Context } from './router.js';

/** Channels of the event hub: streams that get every snapshot whole, and those that get deltas. */
const FULL = 'full';
const DELTA = 'delta';

/**
 * The live event stream's snapshots. A stream opened with `?delta=1` (the dashboard's) gets,
 * after its hello, `delta` events (delta.ts) instead of `snapshot` events: what changed since
 * the snapshot before. Every delta stream holds the same snapshot, `base`: the last one a delta
 * was made to, or the one a hello since gave. A hello on a delta stream carries `base` rather
 * than a newer snapshot, or a value that moved after `base` and moved back by the next sample
 * (a client's open streams, its queued bytes) would be left as the hello showed it; with no
 * delta stream open at the last sample there is no base, and the hello's new snapshot becomes it.
 */
export class Feed {
  private base: { snapshot: unknown; keyed: Keyed } | null = null;
  /**
   * The hello, built and serialised once for every stream opened until the next sample, delta or
   * not: all of them carry `base` and the history as of the last sample. Built for each, a
   * reconnecting crowd of dashboards or scripts (every one when the server restarts) paid each a
   * whole hello of 1,000 clients and their sparklines, 0.7 MB of JSON and more, on the event loop.
   */
  private hello: string | null = null;

  constructor(
    private readonly panel: Panel,
    readonly hub: EventHub,
  ) {}

  /** After every sample: the snapshot to full streams, its changes to delta streams. */
  sample(): void {
    // This sample's history (and snapshot, as the new base) go in the hellos from now on.
    this.hello = null;
    if (this.hub.size === 0) {
      this.base = null;
      return;
    }
    const snapshot = this.panel.snapshot();
    if (this.hub.count(FULL) > 0) this.hub.send('snapshot', snapshot, FULL);
    if (this.hub.count(DELTA) === 0) {
      this.base = null;
      return;
    }
    const next = { snapshot, keyed: this.panel.keyed(snapshot) };
    if (this.base !== null) this.hub.send('delta', delta(this.base.keyed, next.keyed), DELTA);
    this.base = next;
  }

  /**
   * Opens a stream for `GET /api/v1/events`: a delta stream with `?delta=1`. A stream without it
   * takes the same hello: the `snapshot` events that follow are whole, so the hello's snapshot
   * needs to be no newer than the last sample's (up to one `sampleInterval` old, as a delta
   * stream's is), and each such stream built its own hello as a delta stream once did. Any other
   * `delta` (`0`, `true`, empty, or given twice) is a 400: it used to open a snapshot stream
   * without a word, so a client that asked for deltas in its own words got what it had not.
   */
  open(c: Context): void {
    const asked = queryParam(c.url, 'delta');
    if (asked !== null && asked !== '1') {
      throw new HttpError(400, 'bad_request', 'delta must be 1 (deltas) or absent (snapshots)');
    }
    this.hub.open(c.req, c.res, this.first, asked === '1' ? DELTA : FULL);
  }

  /** The hello of a stream that opens: `base`, made now if there is none, and the history. */
  private readonly first = (): string[] => {
    if (this.base === null) {
      const snapshot = this.panel.snapshot();
      this.base = { snapshot, keyed: this.panel.keyed(snapshot) };
    }
    this.hello ??= formatEvent('hello', this.panel.hello(this.base.snapshot));
    return [this.hello];
  };
}
