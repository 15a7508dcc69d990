import type { ReloadResult } from './reload.js';

/**
 * The reloads a long-running command ran on SIGHUP, by result, for its admin server's
 * `flexmux_reloads_total` and `flexmux_reload_last_success_timestamp_seconds`: an operator (or an
 * alert) sees that the reload certbot's hook sent failed without reading the log.
 */
export class ReloadCounts {
  ok = 0;
  failed = 0;
  /**
   * When the last reload without a failure ended, in ms since the epoch; until one has, when the
   * command read its files at start (as Prometheus counts its own start as a configuration load).
   */
  lastSuccess: number;

  constructor(private readonly now: () => number = Date.now) {
    this.lastSuccess = now();
  }

  /** `reload`, counted: failed when any item failed, or when it threw (reloadAll does not). */
  counted(reload: () => Promise<ReloadResult>): () => Promise<ReloadResult> {
    return async () => {
      let result: ReloadResult;
      try {
        result = await reload();
      } catch (err) {
        this.failed++;
        throw err;
      }
      if (result.failed.length > 0) this.failed++;
      else {
        this.ok++;
        this.lastSuccess = this.now();
      }
      return result;
    };
  }
}
