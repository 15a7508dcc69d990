import { setTimeout as sleep } from 'node:timers/promises';
import { Argument, Command, Option } from 'commander';
import { defaults } from '../config.js';
import { FlexError, PingError } from '../errors.js';
import { pingTarget } from '../node/pinger.js';
import { withoutPassword } from '../util/url.js';
import { clipText } from '../wire/utf8.js';
import type { CliCommand, CommandContext } from './command.js';
import { ExitCode } from './exit.js';
import { addCommonOptions, addConnectOptions, type ConnectOpts, flag } from './options.js';
import { isOutputClosed, outputClosed, settled } from './output.js';
import { parseCount, parseDomain, parsePingInterval, parseTimeout } from './parse.js';
import { RttStats } from './rtt.js';
import { closeOnce, openOnce, openWaiting, raceFailed, randomDomain } from './session.js';
import { onStopSignal } from './shutdown.js';

/**
 * `flexmux ping [DOMAIN]`: round trips to a node, or to the switcher itself, printed like
 * ping(8), with its summary at the end (also after Ctrl-C). Exit 0 when any reply came back;
 * 141 when the reader of stdout went away (`| head -3`), as ping(8) ends by SIGPIPE there.
 */

interface PingOpts extends ConnectOpts {
  count?: number;
  interval: number;
  timeout: number;
  quiet?: boolean;
  waitForTarget?: boolean;
}

export function pingCommand(): CliCommand {
  const cmd = new Command('ping')
    .description('measure round trips to DOMAIN through the switcher (no DOMAIN: to the switcher)')
    .addArgument(new Argument('[domain]', 'the node to ping').argParser(parseDomain))
    .addOption(
      new Option('-c, --count <n>', 'stop after N pings (default: until interrupted)').argParser((v) =>
        parseCount(v, 1),
      ),
    )
    .addOption(
      new Option('-i, --interval <duration>', 'time between pings; a bare number is seconds')
        .argParser(parsePingInterval)
        .default(1_000, '1'),
    )
    .addOption(
      new Option('-W, --timeout <duration>', 'time to wait for each reply; a bare number is seconds')
        .argParser((v) => parseTimeout(v, 's'))
        .default(defaults.pingTimeout, String(defaults.pingTimeout / 1000)),
    )
    .addOption(flag('-q, --quiet', 'print only the PING line and the summary'))
    .addOption(
      new Option(
        '--wait-for-target',
        'while the switcher is not up or DOMAIN not registered (a switcher restart), ping again until --timeout runs out',
      ),
    );
  addConnectOptions(cmd, { domainRequired: false });
  addCommonOptions(cmd, 'warn');
  // Per-run settings (-c, -i, -W) take no environment variable: a shell-wide one would surprise.
  return { command: cmd, run: runPing };
}

/**
 * Losing the session ends the run: later pings could only fail the same way. Matched by code:
 * `instanceof` a FlexError subclass also matches its siblings (errors.ts brands only FlexError).
 */
function isFatal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'FLEX_ERR_NOT_CONNECTED' || code === 'FLEX_ERR_CONNECTION_CLOSED';
}

/**
 * Why a ping got no reply, for a line that names the target already: the library's messages name
 * it too (`ping alice failed: domain not found`, `ping alice timed out after 10000 ms`), which
 * would say it twice. So an answer's text alone, or the message past the name (the library's
 * messages name it once, at the start, also those of a wait for the target or the switcher).
 */
function whyNoReply(err: unknown, domain: string): string {
  if (!(err instanceof FlexError)) return String(err);
  if (err instanceof PingError) return clipText(err.remoteText);
  const named = `ping ${pingTarget(domain)} `;
  return err.message.startsWith(named) ? err.message.slice(named.length) : err.message;
}

/** A failure of an openWaiting session's that ends the run (`failed`), told apart from a lost ping. */
class Unmendable {
  constructor(readonly err: unknown) {}
}

async function runPing(ctx: CommandContext): Promise<number> {
  const o = ctx.cmd.opts<PingOpts>();
  const domain = (ctx.args[0] as string | undefined) ?? '';
  const name = domain === '' ? 'switcher' : domain;
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const own = o.domain ?? randomDomain('ping');
  // With --wait-for-target, the switcher too is waited for, by every ping within --timeout: its
  // session reconnects (a one-shot session exited 6 at the first refused connection), so a run
  // also goes on across a switcher restart, each ping made meanwhile lost only if --timeout runs
  // out first. What waiting cannot mend (a refused admission) still ends the run.
  const waiting = o.waitForTarget === true ? openWaiting(o, own, ctx.logger) : null;
  // Its failures told apart from a lost ping: they end the run.
  const unmendable = waiting?.failed.catch((err: unknown) => {
    throw new Unmendable(err);
  });
  unmendable?.catch(() => {});
  const session =
    waiting?.session ??
    (await openOnce(o, own, ctx.logger, ctx.cmd.getOptionValueSource('switcher') === 'default'));
  const shutdown = onStopSignal(ctx.logger, 2_000);
  const stop = new AbortController();
  void shutdown.signalled.then(() => stop.abort());
  // A reader that went away (`| head -3`) stops the run at once, the ping under way too: ping(8)
  // ends by SIGPIPE there, which Node ignores (the EPIPE would crash the process with a stack
  // trace, or, handled and forgotten, leave it pinging into the closed pipe). Any other error of
  // stdout ends it as well: the lines have nowhere to go.
  let outputError: Error | undefined;
  process.stdout.on('error', (err) => {
    outputError ??= err;
    stop.abort();
  });
  const stats = new RttStats();
  const started = performance.now();
  let fatal: unknown = null;
  out(`PING ${name} via ${withoutPassword(o.switcher)}`);
  try {
    for (let seq = 1; o.count === undefined || seq <= o.count; seq++) {
      const sentAt = performance.now();
      stats.sent();
      try {
        // With --wait-for-target, a target whose node is not back yet (a switcher restarted a
        // moment ago) is pinged again within --timeout instead of counting as lost at once.
        const pinging = session.ping(domain, {
          timeout: o.timeout,
          signal: stop.signal,
          wait: waiting !== null,
          waitForTarget: waiting !== null,
        });
        const rtt = unmendable === undefined ? await pinging : await raceFailed(pinging, unmendable);
        stats.reply(rtt);
        if (!o.quiet) out(`reply from ${name}: seq=${seq} time=${rtt.toFixed(3)} ms`);
      } catch (err) {
        if (stop.signal.aborted) {
          stats.transmitted--;
          break;
        }
        if (isFatal(err) || err instanceof Unmendable) {
          fatal = err;
          break;
        }
        if (!o.quiet) out(`no reply from ${name}: seq=${seq}: ${whyNoReply(err, domain)}`);
      }
      if (seq === o.count || stop.signal.aborted) break;
      const wait = o.interval - (performance.now() - sentAt);
      if (wait > 0) await sleep(wait, undefined, { signal: stop.signal }).catch(() => {});
      if (stop.signal.aborted) break;
    }
  } finally {
    // No summary for a reader that is gone: nothing more is written once stdout failed.
    if (outputError === undefined) {
      out('');
      process.stdout.write(stats.report(name, performance.now() - started));
    }
    waiting?.dispose();
    // Bounded, as dial's: a switcher that went away (what a Ctrl-C often ends a run for) held the
    // command up to the transport's closeTimeout (5 s) after its summary. Under the signal
    // handlers still: a second Ctrl-C meanwhile exits 1 at once, as docs/cli.md says, where it
    // met Node's default and ended the process as killed by SIGINT (130).
    await closeOnce(session);
    shutdown.dispose();
  }
  // The last lines and the summary may still be queued for a full pipe, and a reader that left
  // meanwhile (`-c 3 | head -2`) fails them only now: the exit code waits for them, as ping(8)'s
  // would for its writes. (Signals end the process the default way by now.)
  outputError ??= await settled(process.stdout);
  // A lost session ended the run before any closed stdout could (that one would have stopped it).
  if (fatal !== null) throw fatal instanceof Unmendable ? fatal.err : fatal;
  // Any other failure (a full disk) is local I/O, exit 13, naming stdout, as for dial: it went
  // out as it was, `ENOSPC: no space left on device, write`, exit 1 as an unexpected failure.
  if (outputError !== undefined && !isOutputClosed(outputError)) {
    throw outputClosed(outputError, 'before the run ended');
  }
  // Quietly, as ping(8) ends there: a closed stdout is how a pipeline ends a run without -c.
  if (outputError !== undefined) return ExitCode.SIGPIPE;
  return stats.received > 0 ? ExitCode.OK : ExitCode.NO_REPLY;
}
