import { Argument, Command, Option } from 'commander';
import { defaults } from '../config.js';
import { ConnectionClosedError } from '../errors.js';
import type { FlexStream } from '../face/duplex.js';
import { withoutPassword } from '../util/url.js';
import type { CliCommand, CommandContext } from './command.js';
import { CliError, ExitCode } from './exit.js';
import { type Meter, startMeter, transferOutcome } from './meter.js';
import { addCommonOptions, addConnectOptions, type ConnectOpts, flag } from './options.js';
import { outputClosed, settled } from './output.js';
import { parseInterval, parseTarget, parseTimeout } from './parse.js';
import { closeOnce, noSwitcherInTime, openOnce, openWaiting, raceFailed, randomDomain } from './session.js';
import { onStopSignal, type ShutdownHandle, type StopSignal } from './shutdown.js';

/**
 * `flexmux dial DOMAIN:PORT`: one stream, joined to stdin and stdout, as `nc` would. The end of
 * stdin half-closes the stream; the command ends when the stream has ended both ways (with
 * --exit-on-remote-end, also once the remote has ended: it then ends its side itself). Fit for
 * `ssh -o ProxyCommand='flexmux dial --exit-on-remote-end %h:22'`.
 */

interface DialOpts extends ConnectOpts {
  stats?: boolean;
  statsInterval: number;
  dialTimeout: number;
  waitForTarget?: boolean;
  exitOnRemoteEnd?: boolean;
}

const s = (v: number): string => `${v / 1000}s`;

export function dialCommand(): CliCommand {
  const cmd = new Command('dial')
    .description('open a stream to DOMAIN:PORT and join it to stdin/stdout (usable as ssh ProxyCommand)')
    .addArgument(new Argument('<domain:port>', 'the node and virtual port to reach').argParser(parseTarget))
    .addOption(flag('--stats', 'print progress and throughput on stderr'))
    .addOption(
      flag('--stats-interval <duration>', 'time between progress lines (at least 100ms)')
        .argParser((v) => parseInterval(v))
        .default(1_000, '1s'),
    )
    .addOption(
      flag('--dial-timeout <duration>', 'time to wait for the stream to be accepted')
        .argParser((v) => parseTimeout(v))
        .default(defaults.dialTimeout, s(defaults.dialTimeout)),
    )
    .addOption(
      new Option(
        '--wait-for-target',
        'while the switcher is not up, DOMAIN not registered or PORT not listening (a switcher restart), try again until --dial-timeout runs out',
      ),
    )
    .addOption(
      new Option(
        '--exit-on-remote-end',
        'once the remote ended its side and that reached stdout, end this side too and exit 0 without waiting for stdin to end (for ssh ProxyCommand)',
      ),
    );
  addConnectOptions(cmd, { domainRequired: false });
  addCommonOptions(cmd, 'warn');
  cmd.addHelpText(
    'after',
    `
Example (~/.ssh/config), reaching nodes by their domain (the password from
FLEXMUX_PASSWORD_FILE, or --password-file FILE):

Host alice bob
  ProxyCommand flexmux dial --exit-on-remote-end -s tcp://relay:7000 %h:22`,
  );
  return { command: cmd, run: runDial };
}

/**
 * Resolves when the stream has closed: with its error, or undefined after a clean end both ways.
 * (A stream aborted under the command, its node destroyed, fails with an error: see
 * FlexStream.onClose. Exported for the tests.)
 */
export function streamOutcome(stream: FlexStream): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let failure: Error | undefined;
    stream.on('error', (err: Error) => {
      failure ??= err;
    });
    stream.on('close', () => resolve(failure));
  });
}

/**
 * A transfer cut off because the connection to the switcher was lost (the switcher killed or
 * restarted, the network gone) ended with the library's `connection closed`, which names no
 * connection; its cause, saying why, is of the same class and was not printed (describeError).
 * Said as what it is, with the switcher and the reason. Other failures unchanged.
 */
function lostSwitcher(err: Error, switcher: string): Error {
  if ((err as { code?: unknown }).code !== 'FLEX_ERR_CONNECTION_CLOSED') return err;
  const why = err.cause instanceof Error ? err.cause.message : err.message;
  return new ConnectionClosedError(
    `lost the connection to the switcher ${withoutPassword(switcher)}: ${why}`,
    {
      cause: err,
    },
  );
}

/** The failure a stop signal makes of a transfer it cuts short: exit 130 or 143. */
function interruption(signal: StopSignal): CliError {
  const exitCode = signal === 'SIGINT' ? ExitCode.SIGINT : ExitCode.SIGTERM;
  return new CliError('CLI_INTERRUPTED', `interrupted by ${signal}`, { exitCode });
}

/**
 * Resolves once what was written to stdout has gone out (undefined), or with why it did not:
 * stdout's error (EPIPE as CLI_OUTPUT_CLOSED), or a signal. No clock bounds it: a reader that is
 * slow, or paused (`| less`), is owed the tail, as `cat` would wait for it; a signal ends the
 * wait, as Ctrl-C ends `cat`. This wait is the only place a signal meets a stream that ended
 * cleanly: the stream's second end, its close and the command's wake-up from `await done` all
 * run in one turn of the event loop, before any signal handler can, so a signal that came
 * earlier had destroyed the stream with its interruption, and this is not called.
 */
async function untilWritten(shutdown: ShutdownHandle): Promise<Error | undefined> {
  const written = settled(process.stdout).then((err) =>
    err === undefined ? undefined : outputClosed(err, 'before the transfer ended'),
  );
  return Promise.race([written, shutdown.signalled.then(interruption)]);
}

async function runDial(ctx: CommandContext): Promise<number> {
  const o = ctx.cmd.opts<DialOpts>();
  const target = ctx.args[0] as { domain: string; port: number };
  const { logger } = ctx;
  const domain = o.domain ?? randomDomain('dial');
  const switcherIsDefault = ctx.cmd.getOptionValueSource('switcher') === 'default';
  const address = `${target.domain}:${target.port}`;
  // With --wait-for-target, the whole restart of a switcher is waited for within --dial-timeout:
  // the switcher itself coming back (this session reconnects until then; a one-shot session exited
  // 6 at the first refused connection), then the target's node (a target not there yet is dialled
  // again). Without the flag, the first failure of either is the result.
  const waiting = o.waitForTarget === true ? openWaiting(o, domain, logger) : null;
  const session = waiting?.session ?? (await openOnce(o, domain, logger, switcherIsDefault));
  let meter: Meter | null = null;
  // Until the stream is open, a signal ends the process the default way.
  let shutdown: ShutdownHandle | null = null;
  // The stream once open, and the error the transfer ends with, as the command reports it.
  let opened: FlexStream | null = null;
  let failure: Error | undefined;
  // Whether stdout failed, or a signal came, before what the stream brought had all gone out.
  let undelivered = false;
  // Whether the command ended its side at the remote's end, leaving the rest of stdin unread.
  let inputLeft = false;
  try {
    const stream = waiting
      ? await raceFailed(
          // The session's connection and the target, waited for within the timeout together.
          session.dial(address, { timeout: o.dialTimeout, wait: true, waitForTarget: true }),
          waiting.failed,
        ).catch((err: unknown) => {
          throw noSwitcherInTime(err, session, o, `dial ${address}`, o.dialTimeout, switcherIsDefault);
        })
      : await session.dial(address, { timeout: o.dialTimeout });
    opened = stream;
    logger.info({ target: address }, 'stream open');
    const done = streamOutcome(stream);
    shutdown = onStopSignal(logger, 2_000);
    if (o.stats) {
      meter = startMeter(
        () => ({ sent: stream.bytesWritten, received: stream.bytesRead }),
        process.stderr,
        o.statsInterval,
      );
    }
    void shutdown.signalled.then((signal) => {
      // Closed already: the signal came while stdout's tail drained, and untilWritten takes it.
      // (Ending both ways destroys the stream at once, so no close is ever under way here.)
      if (stream.destroyed) return;
      stream.destroy(interruption(signal));
    });
    // A reader that went away (`| head`) ends the transfer, not the process with an EPIPE; the
    // transfer was cut short all the same, and says so: exit 141, as a shell reports `nc` killed
    // by SIGPIPE, never 0 and a `done:` summary a script would take for a complete transfer.
    let outputError: Error | undefined;
    process.stdout.on('error', (err) => {
      outputError ??= outputClosed(err, 'before the transfer ended');
      stream.destroy(outputError);
    });
    // stdin a socket (inetd, systemd's Accept=yes) that its peer reset: reading it fails. Unheard,
    // that 'error' ended the process with Node's stack trace (exit 1), and the stream with no word.
    process.stdin.on('error', (err) => {
      stream.destroy(
        new CliError('CLI_IO', `stdin failed before the transfer ended: ${err.message}`, { cause: err }),
      );
    });
    process.stdin.pipe(stream);
    stream.pipe(process.stdout, { end: false });
    stream.once('end', () => {
      logger.info({ pendingOutput: process.stdout.writableLength }, 'remote ended');
      if (o.exitOnRemoteEnd !== true) return;
      // ssh under ProxyCommand sees the remote's end only as the end of this process's stdout,
      // which Node never closes: the command must end instead of waiting for a stdin that ssh
      // keeps open. Once the remote's bytes are out (a stdout that failed meanwhile has reset the
      // stream), this side ends as stdin's end would end it: what was read is sent, then the end.
      void settled(process.stdout).then((err) => {
        if (err !== undefined || stream.destroyed || stream.writableEnded) return;
        process.stdin.unpipe(stream);
        inputLeft = true;
        stream.end();
      });
    });
    let err = await done;
    if (err !== undefined) err = lostSwitcher(err, o.switcher);
    process.stdin.unpipe(stream);
    process.stdin.pause();
    if (err === undefined) {
      // The stream has ended both ways, but what it brought may still be queued for a full pipe:
      // a reader that leaves now loses that tail, and its EPIPE would come only as main.ts waits
      // for stdout, after this command chose exit 0 and `done:`. So the outcome waits for stdout.
      logger.info({ pendingOutput: process.stdout.writableLength }, 'stream closed');
      err = (await untilWritten(shutdown)) ?? outputError;
      undelivered = err !== undefined;
    }
    if (err !== undefined) {
      failure = err;
      throw err;
    }
    return ExitCode.OK;
  } finally {
    waiting?.dispose();
    // The summary is written here, before the program prints the error this throws: it says
    // itself how the transfer ended (`interrupted`, `failed`), not `done` for one cut short.
    meter?.stop(
      transferOutcome({
        complete: opened?.readableEnded === true && opened.writableFinished && !undelivered,
        signalled: shutdown?.requested === true,
        failure,
        inputLeft,
      }),
    );
    shutdown?.dispose();
    await closeOnce(session);
  }
}
