/**
 * Round-trip statistics as ping(8) reports them: transmitted, received, loss, and
 * min/avg/max/mdev, where mdev is the standard deviation sqrt(E[x²] - E[x]²).
 */

export class RttStats {
  transmitted = 0;
  received = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = 0;
  private sum = 0;
  private sumSquares = 0;

  sent(): void {
    this.transmitted++;
  }

  reply(rtt: number): void {
    this.received++;
    this.min = Math.min(this.min, rtt);
    this.max = Math.max(this.max, rtt);
    this.sum += rtt;
    this.sumSquares += rtt * rtt;
  }

  /** Percentage of pings without a reply. */
  get loss(): number {
    return this.transmitted === 0 ? 0 : ((this.transmitted - this.received) / this.transmitted) * 100;
  }

  /** min/avg/max/mdev in ms, or null before the first reply. */
  summary(): { min: number; avg: number; max: number; mdev: number } | null {
    if (this.received === 0) return null;
    const avg = this.sum / this.received;
    const variance = Math.max(0, this.sumSquares / this.received - avg * avg);
    return { min: this.min, avg, max: this.max, mdev: Math.sqrt(variance) };
  }

  /** The closing lines of ping(8), for `target` and a run of `elapsed` ms. */
  report(target: string, elapsed: number): string {
    const loss = Number.isInteger(this.loss) ? String(this.loss) : this.loss.toFixed(1);
    const lines = [
      `--- ${target} ping statistics ---`,
      `${this.transmitted} transmitted, ${this.received} received, ${loss}% loss, time ${Math.round(elapsed)} ms`,
    ];
    const s = this.summary();
    if (s !== null) {
      const f = (v: number): string => v.toFixed(3);
      lines.push(`rtt min/avg/max/mdev = ${f(s.min)}/${f(s.avg)}/${f(s.max)}/${f(s.mdev)} ms`);
    }
    return `${lines.join('\n')}\n`;
  }
}
