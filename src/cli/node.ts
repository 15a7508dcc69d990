import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { Command, Option } from 'commander';
import type { InspectableNode, InspectableSession } from '../admin/config.js';
import { defaults, sessionDefaults } from '../config.js';
import type { ConnectOptions, NodeSession } from '../connect.js';
import { connector } from '../connect.js';
import { ConnectionClosedError, ResetCode, StreamResetError } from '../errors.js';
import type { FlexStream } from '../face/duplex.js';
import type { Listener } from '../node/listener.js';
import { connectionLost, untilTarget } from '../node/redial.js';
import type { SessionState } from '../node/session.js';
import { splice } from '../splice.js';
import { errorFields } from '../util/cause.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { now, timeout } from '../util/timers.js';
import { withoutPassword } from '../util/url.js';
import { addAdminOptions, cliAdminToken, startCliAdmin } from './admin-server.js';
import { ADMIN_LOST, warnBrowserBlockedPort } from './bad-ports.js';
import { checkAgain } from './check-again.js';
import { addCheckConfigOption, checkAdmin, reportOk } from './check-config.js';
import type { CliCommand, CommandContext } from './command.js';
import { dialerToCome } from './dialer-to-come.js';
import { CliError } from './exit.js';
import { type NodeReloadSources, nodeReloadPlan } from './node-reload.js';
import { forwardTarget, listenAddress, NodeRules, nodeRulesPlan, rulesProblem } from './node-rules.js';
import { addCommonOptions, addConnectOptions, type ConnectOpts, flag } from './options.js';
import { listenersOverlap, sharedAddress } from './overlap.js';
import {
  collect,
  type Expose,
  type Forward,
  formatHostPort,
  type HostPort,
  parseBackoff,
  parseBindHost,
  parseDuration,
  parseExpose,
  parseForward,
  parseTimeout,
} from './parse.js';
import { type ReloadPlan, reloadAll } from './reload.js';
import { ReloadCounts } from './reload-count.js';
import { onReloadSignal } from './reload-signal.js';
import { connectOptions, openSession } from './session.js';
import { onStopSignal } from './shutdown.js';

/**
 * `flexmux node`: stays connected to a switcher under a domain, serves local TCP services on
 * virtual ports (`--expose`) and makes remote ones reachable on local ports (`--forward`).
 */

interface NodeOpts extends ConnectOpts {
  checkConfig?: boolean;
  expose?: Expose[];
  forward?: Forward[];
  bind: string;
  dialTimeout: number;
  exposeConnectTimeout: number;
  waitForTarget?: boolean;
  earlyData?: boolean;
  /** Unset: the session's own default (sessionDefaults). */
  reconnectSpread?: number;
  startSpread?: number;
  backoffInitial?: number;
  backoffMax?: number;
  admin?: HostPort;
  adminTokenFile?: string;
  adminAllowedHost?: string[];
}

const CLOSE_BOUND = 5_000;

/** ms an exposed stream's connection to its target may take (--expose-connect-timeout). */
const EXPOSE_CONNECT_TIMEOUT = 10_000;

export function nodeCommand(): CliCommand {
  const cmd = new Command('node')
    .description('connect to a switcher as DOMAIN; expose local services and forward local ports')
    .addOption(
      flag(
        '-e, --expose <port=host:port>',
        'serve virtual PORT by connecting to local HOST:PORT (repeatable)',
      ).argParser(collect(parseExpose)),
    )
    .addOption(
      flag(
        '-f, --forward <localport=domain:port>',
        'listen on LOCALPORT and dial DOMAIN:PORT per connection (repeatable)',
      ).argParser(collect(parseForward)),
    )
    .addOption(
      flag('--bind <host>', 'interface for --forward listeners')
        .default('127.0.0.1')
        .argParser(parseBindHost),
    )
    .addOption(
      flag('--dial-timeout <duration>', 'time a forwarded connection waits for its stream')
        .argParser((v) => parseTimeout(v))
        .default(defaults.dialTimeout, `${defaults.dialTimeout / 1000}s`),
    )
    .addOption(
      flag(
        '--expose-connect-timeout <duration>',
        'time an exposed stream waits for the connection to its target; then it is reset',
      )
        .argParser((v) => parseTimeout(v))
        .default(EXPOSE_CONNECT_TIMEOUT, `${EXPOSE_CONNECT_TIMEOUT / 1000}s`),
    )
    .addOption(
      new Option(
        '--wait-for-target',
        'a forwarded connection waits within --dial-timeout for a target that is not there (domain not registered, port not listening) at any time, not only just after (re)connecting',
      ),
    )
    .addOption(
      new Option(
        '--early-data',
        "send a forwarded connection's first bytes with its stream's open, one round trip sooner (flexmux switchers and nodes)",
      ),
    )
    // The three reconnection flags default to nothing, so the session resolves what is not given
    // (shown in --help as sessionDefaults): reconnectSpread's default is also never longer than
    // backoffInitial or backoffMax, which a fixed 500 ms here would break for --backoff-initial 200ms.
    .addOption(
      sessionDefault(
        flag(
          '--reconnect-spread <duration>',
          'longest random wait before reconnecting after a lost connection; 0: at once',
        ).argParser((v) => parseDuration(v)),
        `${sessionDefaults.reconnectSpread}ms`,
        ', or --backoff-initial or --backoff-max if shorter',
      ),
    )
    .addOption(
      flag(
        '--start-spread <duration>',
        'longest random wait before the first connection attempt, for a fleet started all at once; 0: at once',
      )
        .argParser((v) => parseDuration(v))
        .default(sessionDefaults.startSpread, `${sessionDefaults.startSpread}ms`),
    )
    .addOption(
      sessionDefault(
        flag(
          '--backoff-initial <duration>',
          'wait after a failed connection attempt; doubles after each one',
        ).argParser((v) => parseBackoff(v)),
        `${sessionDefaults.backoffInitial / 1000}s`,
      ),
    )
    .addOption(
      sessionDefault(
        flag('--backoff-max <duration>', 'longest wait between two connection attempts').argParser((v) =>
          parseBackoff(v),
        ),
        `${sessionDefaults.backoffMax / 1000}s`,
      ),
    );
  addAdminOptions(cmd, "serve this node's admin HTTP API and dashboard here");
  addConnectOptions(cmd, { domainRequired: true });
  addCheckConfigOption(cmd);
  addCommonOptions(cmd, 'info');
  cmd.addHelpText(
    'after',
    `
Example: serve local ssh as alice:22; reach bob's web server on local port 8080:
  FLEXMUX_PASSWORD=... flexmux node -s tcp://relay:7000 -d alice \\
    -e 22=127.0.0.1:22 -f 8080=bob:80

On SIGHUP (not on Windows) it reads --password-file and --ca again, for its next
connection (the one up stays), --admin-token-file, and the expose and forward
lists of --config (unless a flag or variable gave them), serving the ports added
and closing those removed (what is open through them stays); the rest of the
config file is not read again. See "Reloading" in docs/cli.md.
--check-config checks all of it without connecting or listening.`,
  );
  return { command: cmd, reloads: true, run: runNode };
}

/**
 * A flag left unset by default, for the session to resolve, whose --help still names that default:
 * commander prints a default only when its value is defined, so the text goes in the description.
 */
function sessionDefault(o: Option, shown: string, unless = ''): Option {
  o.default(undefined, shown);
  o.description = `${o.description} (default: ${shown}${unless})`;
  return o;
}

/**
 * The streams joined to TCP connections. A graceful close of the session ends each stream like a
 * finished one (a v3 close), so at shutdown they are reset first: both ends of a connection cut
 * off in the middle must learn that it was cut off, not take what came for all of it.
 */
class Tunnels {
  private readonly live = new Set<FlexStream>();
  private stopped = false;

  /** Joins `stream` and `socket`; once stopping, resets both instead. */
  splice(stream: FlexStream, socket: net.Socket): Promise<Error | undefined> {
    if (this.stopped) {
      const err = new NodeStopping();
      stream.destroy(err);
      socket.on('error', () => {});
      if (socket.connecting) socket.destroy();
      else socket.resetAndDestroy();
      return Promise.resolve(err);
    }
    this.live.add(stream);
    return splice(socket, stream).finally(() => this.live.delete(stream));
  }

  /** Resets every stream (and so its TCP connection), and any that comes later. */
  stop(): void {
    this.stopped = true;
    const err = new NodeStopping();
    for (const stream of this.live) stream.destroy(err);
  }
}

const NODE_STOPPING = 'the node is stopping';

/**
 * Why the shutdown reset a tunnel. Logged at debug, as a dial the shutdown abandons is: a node
 * stopped with hundreds of tunnels open wrote a warn line, `exposed connection failed` or
 * `forwarded connection failed`, for each, as if each had failed on its own. The reset carries
 * code 4, refused or shutting down (PROTOCOL.md 14.3), and this message to the node at the other
 * end of each tunnel, which tells it from a failure by them (peerStopping).
 */
class NodeStopping extends Error {
  readonly resetCode = ResetCode.REFUSED;
  constructor() {
    super(NODE_STOPPING);
  }
}

/**
 * Whether the node at the other end of a tunnel reset it as it stopped (NodeStopping). The node
 * that stayed logged a warn line for each of them, `exposed connection failed` or `forwarded
 * connection failed: stream reset by peer (...): the node is stopping`, as if each had failed:
 * noise at the other end of an orderly stop. Code 0 too: earlier versions sent that.
 */
function peerStopping(err: Error): boolean {
  return (
    err instanceof StreamResetError &&
    err.remote &&
    (err.resetCode === ResetCode.REFUSED || err.resetCode === ResetCode.CANCELLED) &&
    err.message === `stream reset by peer (code ${err.resetCode}): ${NODE_STOPPING}`
  );
}

/** The message of the reset a stopping switcher sends each stream (switcher/orphans.ts). */
const SWITCHER_STOPPING = 'the switcher is shutting down';

/**
 * Whether the switcher reset a tunnel as it stopped: the stop is logged once, as `session
 * disconnected`, and each tunnel gave a warn line more, hundreds for a switcher restarted with
 * hundreds open. A stream whose other end left (a node gone without stopping) is still a failure.
 */
function switcherStopping(err: Error): boolean {
  return (
    err instanceof StreamResetError &&
    err.remote &&
    err.message === `stream reset by peer (code ${ResetCode.REFUSED}): ${SWITCHER_STOPPING}`
  );
}

/**
 * Logs how a tunnel ended: its failure at warn, unless the shutdown of this node, of the one at
 * the other end or of the switcher cut it (debug).
 */
function logTunnelEnd(logger: Logger, err: Error | undefined, fields: object, failed: string): void {
  if (err === undefined) logger.debug(fields, 'stream done');
  else if (err instanceof NodeStopping)
    logger.debug({ ...fields, ...errorFields(err) }, 'tunnel cut: stopping');
  else if (peerStopping(err))
    logger.debug({ ...fields, ...errorFields(err) }, 'tunnel cut: the peer is stopping');
  else if (switcherStopping(err))
    logger.debug({ ...fields, ...errorFields(err) }, 'tunnel cut: the switcher is stopping');
  else logger.warn({ ...fields, ...errorFields(err) }, failed);
}

/** The session options that `flexmux node`'s own flags set. */
export type NodeSessionOptions = Pick<
  ConnectOptions,
  'earlyData' | 'reconnectSpread' | 'startSpread' | 'backoffInitial' | 'backoffMax'
>;

/**
 * What the node's flags set on its session beyond the connection flags (exported for tests). A
 * reconnection flag not given is left out: the session's default applies.
 */
export function nodeSessionOptions(
  o: Pick<NodeOpts, 'earlyData' | 'reconnectSpread' | 'startSpread' | 'backoffInitial' | 'backoffMax'>,
): NodeSessionOptions {
  const out: NodeSessionOptions = { earlyData: o.earlyData === true };
  if (o.reconnectSpread !== undefined) out.reconnectSpread = o.reconnectSpread;
  if (o.startSpread !== undefined) out.startSpread = o.startSpread;
  if (o.backoffInitial !== undefined) out.backoffInitial = o.backoffInitial;
  if (o.backoffMax !== undefined) out.backoffMax = o.backoffMax;
  return out;
}

/** How an exposed port connects to its target (serveExpose). */
export interface ExposeServing {
  /** ms the connection to the target may take before the stream is reset. */
  connectTimeout: number;
  /** Opens the connection (tests give their own); net.connect by default. */
  connect?: (options: net.NetConnectOpts) => net.Socket;
}

/**
 * Serves virtual port `e.port` by connecting to `e.target` per stream (exported for tests). The
 * target is read for each stream: a reload that changes it (node-rules.ts) sends the next one to
 * the new target. Closing the listener returned stops serving the port; streams open stay.
 */
export function serveExpose(
  session: Pick<NodeSession, 'listen'>,
  e: Expose,
  tunnels: Pick<Tunnels, 'splice'>,
  logger: Logger,
  { connectTimeout, connect = net.connect }: ExposeServing = { connectTimeout: EXPOSE_CONNECT_TIMEOUT },
): Listener<FlexStream> {
  const listener = session.listen(e.port);
  listener.on('stream', (stream: FlexStream) => {
    const to = e.target;
    const target = formatHostPort(to);
    const from = stream.remoteDomain || stream.remoteAddress;
    // noDelay: see serveForward.
    const socket = connect({
      host: to.host,
      port: to.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    // A target that never answers (a host down or firewalled, dropping the SYN) left the stream,
    // and the client at the far end, waiting until the kernel gave up, about 2 minutes on Linux,
    // with nothing logged meanwhile. Bounded here: the socket's error resets the stream (splice)
    // and is logged below with the other failures.
    const giveUp = timeout(() => {
      const err = new Error(`connecting to ${target} timed out after ${connectTimeout} ms`);
      socket.destroy(Object.assign(err, { code: 'ETIMEDOUT' }));
    }, connectTimeout);
    socket.once('connect', () => clearTimeout(giveUp));
    socket.once('close', () => clearTimeout(giveUp));
    logger.debug({ port: e.port, from, target }, 'stream accepted');
    void tunnels.splice(stream, socket).then((err) => {
      // The target's refusal (ECONNREFUSED) is the socket's own error: its code says it.
      logTunnelEnd(logger, err, { port: e.port, from, target }, 'exposed connection failed');
    });
  });
  logger.info({ port: e.port, target: formatHostPort(e.target) }, 'exposing');
  return listener;
}

/** What a forwarded connection may wait for, within --dial-timeout, beyond the session's (re)connection. */
export interface ForwardWaits {
  /**
   * Whether a target that is not there (its domain not registered, or its port not listening)
   * may be coming back (this node connected lately): the dial is made again until it is there.
   */
  target(): boolean;
  /**
   * Whether the session is reconnecting (neither closed nor ready): a dial cut off by the loss of
   * the connection is made again on the next one.
   */
  session(): boolean;
}

const NO_WAITS: ForwardWaits = { target: () => false, session: () => false };

/**
 * When the command's forwarded connections wait (exported for tests). A target that is not there
 * (a domain the switcher does not know yet, a port not listening yet) may be a node still coming
 * back for --dial-timeout after each admission of this node's session (`admitted()`: after a
 * switcher restart, or at start-up); with --wait-for-target, at any time. A lost connection is
 * waited out while `session()` is reconnecting.
 */
export function forwardWaits(
  o: Pick<NodeOpts, 'dialTimeout' | 'waitForTarget'>,
  session: () => Pick<NodeSession, 'state'> | undefined,
): ForwardWaits & { admitted(): void } {
  let admittedAt = Number.NEGATIVE_INFINITY;
  return {
    target: () => o.waitForTarget === true || now() - admittedAt < o.dialTimeout,
    // Reconnecting: neither closed nor ready again (a dial that failed while the session is
    // ready did not lose its connection, and making it again at once could spin). Before the
    // session exists, dials wait for it (runNode's dialer): nothing fails then.
    session: () => {
      const s = session();
      return s !== undefined && s.state !== 'closed' && s.state !== 'ready';
    },
    admitted: () => {
      admittedAt = now();
    },
  };
}

/**
 * Dials `target` for one forwarded connection within `dialTimeout` ms. The dial waits for the
 * session while it (re)connects; and nothing has reached the local client before its stream
 * exists, so a dial that failed only because its target or connection was not there yet is made
 * again (`waits`) rather than resetting the client:
 * - after a switcher restart every node comes back on its own jittered back-off, and a dial was
 *   refused 'resolve domain failed' because the target's node came back a moment after this one,
 *   after it had waited through the outage;
 * - a dial still waiting for its answer when the connection dropped (the switcher killed, or
 *   silent until the heartbeat gave up) was reset, where one made a moment later waited.
 * The loop, its pauses, its log line and its final error are the library's (untilTarget, as a
 * session's `waitForTarget` dial uses it, node/redial.ts); only when to wait is the command's own
 * (`waits`). `stop` (the command's shutdown) ends a pause, or a wait for the session, at once
 * with AbortError: without it a shutdown left each such dial, and its client, waiting out its
 * pause (up to 1 s) before the dial failed on the closed session.
 */
function dialForwarded(
  session: Pick<NodeSession, 'dial'>,
  target: string,
  dialTimeout: number,
  waits: ForwardWaits,
  logger: Logger,
  stop: AbortSignal | undefined,
): Promise<FlexStream> {
  return untilTarget(
    {
      what: 'dial',
      target,
      timeout: dialTimeout,
      signal: stop,
      logger,
      awayWaits: () => waits.target(),
      // (A lost connection is dialled again at once: the session is no longer ready, so the dial waits.)
      now: (err) => connectionLost(err) && waits.session(),
    },
    (timeout, signal) => session.dial(target, { wait: true, timeout, signal }),
  );
}

/** How a forward listener serves its connections (serveForward, listenForward). */
export interface ForwardServing {
  /** What a dial waits for rather than failing (dialForwarded); none by default. */
  waits?: ForwardWaits;
  /** The command's shutdown: abandons the dials still waiting. */
  stop?: AbortSignal;
  /** Holds each connection until it settles (listenForward). */
  admitted?: Promise<boolean>;
}

/**
 * Listens on `f.localPort` and dials `f.domain:f.port` per connection (exported for tests),
 * waiting for what `waits` allows (dialForwarded) until `stop` (the command's shutdown) aborts.
 */
export async function serveForward(
  session: Pick<NodeSession, 'dial'>,
  f: Forward,
  o: Pick<NodeOpts, 'bind' | 'dialTimeout'>,
  tunnels: Pick<Tunnels, 'splice'>,
  logger: Logger,
  how: Omit<ForwardServing, 'admitted'> = {},
): Promise<net.Server> {
  const server = await listenForward(session, f, o, tunnels, logger, how);
  logger.info({ listen: listenAddress(server), target: forwardTarget(f) }, 'forwarding');
  return server;
}

/**
 * serveForward without its `forwarding` line: a reload (node-rules.ts) binds its new listeners
 * first and says so only once it keeps them. The target is read for each connection: a reload
 * that changes it sends the next one to the new target. With `admitted`, a connection is held
 * (paused, not dialled) until it settles: true serves it, false closes it (the reload that bound
 * this listener was not applied).
 */
export async function listenForward(
  session: Pick<NodeSession, 'dial'>,
  f: Forward,
  o: Pick<NodeOpts, 'bind' | 'dialTimeout'>,
  tunnels: Pick<Tunnels, 'splice'>,
  logger: Logger,
  { waits = NO_WAITS, stop, admitted }: ForwardServing = {},
): Promise<net.Server> {
  const forwardConnection = (socket: net.Socket, from: string): void => {
    // Read here, not at accept: a connection held until its reload commits goes where it says.
    const target = forwardTarget(f);
    // While (re)connecting, a new connection waits for the session rather than failing.
    dialForwarded(session, target, o.dialTimeout, waits, logger, stop).then(
      (stream) => {
        logger.debug({ from, target }, 'forwarding connection');
        socket.resume();
        void tunnels.splice(stream, socket).then((err) => {
          logTunnelEnd(logger, err, { from, target }, 'forwarded connection failed');
        });
      },
      (err: Error) => {
        // A dial cut off by a lost connection carries the runtime's reason (ECONNRESET) as `cause`.
        const fields = { from, target, ...errorFields(err) };
        // Cut short by the shutdown: no failure of the dial's.
        if (stop?.aborted) logger.debug(fields, 'dial abandoned: stopping');
        else logger.warn(fields, 'dial failed');
        socket.resetAndDestroy();
      },
    );
  };
  // Both local sockets of a tunnel send at once (noDelay, here and in serveExpose): each carries
  // what arrives from the other side, in whatever pieces it comes. With Nagle, a small piece that
  // follows one still unacknowledged waits for its ACK, which a receiver with nothing to send
  // delays by up to 40 ms (Linux): request/response traffic (an ssh session, an HTTP answer
  // written in two parts) stalled 40 ms on round trips that take well under 1 ms directly.
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', () => {});
    logger.debug({ from, target: forwardTarget(f) }, 'connection accepted');
    if (admitted === undefined) {
      forwardConnection(socket, from);
      return;
    }
    void admitted.then((ok) => {
      if (ok) forwardConnection(socket, from);
      else {
        logger.debug({ from, target: forwardTarget(f) }, 'connection closed: its rule was not applied');
        // Reset, as a failed dial is: a FIN would pass for an empty answer to a client reading to the end.
        socket.resetAndDestroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(
        new CliError('CLI_IO', `cannot listen on ${o.bind}:${f.localPort}: ${err.message}`, { cause: err }),
      );
    server.once('error', onError);
    server.listen({ host: o.bind, port: f.localPort }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const listen = listenAddress(server);
  // Later errors are failed accepts: that connection is lost, the listener goes on. (Without a
  // handler the second one would be an unhandled 'error' event, which ends the process.)
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.warn({ listen, target: forwardTarget(f), ...errorFields(err) }, 'accept failed');
  });
  return server;
}

/**
 * What the admin server shows of the node's session, started before the session is: a session
 * still connecting until `attach()`, then the session itself.
 */
class SessionToCome extends EventEmitter implements InspectableSession {
  private session: NodeSession | null = null;

  constructor(readonly domain: string) {
    super();
  }

  get node(): InspectableNode | null {
    return this.session?.node ?? null;
  }

  get state(): SessionState {
    return this.session?.state ?? 'connecting';
  }

  get connections(): number {
    return this.session?.connections ?? 0;
  }

  listenerPorts(): number[] {
    return this.session?.listenerPorts() ?? [];
  }

  attach(session: NodeSession): void {
    this.session = session;
    session.on('state', (state) => this.emit('state', state));
    this.emit('state', session.state);
  }
}

/**
 * Rejects with the failure of the last attempt once `session` closes by itself: an attempt failed
 * in a way no retry fixes (ConfigError: a URL or TLS option the runtime refuses as the dial
 * starts). Before, the command went on without a session: exit 0, or, with a --forward listener
 * keeping the process up, running for ever and resetting every connection. It rejects on our own
 * close too, unheard by then.
 */
function sessionLost(session: NodeSession): Promise<never> {
  let last: Error = new ConnectionClosedError('session closed');
  session.on('disconnect', (err) => {
    last = err;
  });
  const lost = new Promise<never>((_, reject) => session.once('close', () => reject(last)));
  lost.catch(() => {});
  return lost;
}

/**
 * The domain, and the expose and forward lists served together: checked before anything starts.
 * A local port forwarded twice is said as such (exit 2), as a reload says it, rather than as the
 * second listener's EADDRINUSE once the first is bound.
 */
function nodeDomain(o: NodeOpts): string {
  if (o.domain === undefined)
    throw new CliError('CLI_USAGE', 'a domain is required: --domain NAME or FLEXMUX_DOMAIN');
  const problem = rulesProblem(o.expose ?? [], o.forward ?? []);
  if (problem !== undefined) throw new CliError('CLI_USAGE', problem);
  // So is the admin API on a forward's local address, or one overlapping it (`--bind 0.0.0.0`):
  // the check said OK, the start exited 13.
  const admin = o.admin;
  if (admin === undefined || admin.port === 0) return o.domain;
  for (const f of o.forward ?? []) {
    const local = { host: o.bind, port: f.localPort };
    if (listenersOverlap(admin, local)) {
      throw new CliError('CLI_USAGE', sharedAddress(admin, '--admin', local, 'a --forward'));
    }
  }
  return o.domain;
}

/**
 * `--check-config`, and the reload's check of the whole config file: what a start checks, in its
 * order, without binding, listening or connecting; resolves with what a start would run, or throws
 * what it would fail with.
 */
async function checkNode(o: NodeOpts, logger: Logger, warnTo: Logger | undefined = logger): Promise<string> {
  const domain = nodeDomain(o);
  let summary = `node ${domain} on ${withoutPassword(o.switcher)}`;
  const rules = [
    ...(o.expose ?? []).map((e) => `expose ${e.port}=${formatHostPort(e.target)}`),
    ...(o.forward ?? []).map(
      (f) => `forward ${formatHostPort({ host: o.bind, port: f.localPort })}=${forwardTarget(f)}`,
    ),
  ];
  if (rules.length > 0) summary += `; ${rules.join(', ')}`;
  if (o.admin !== undefined) {
    // As a start refuses it (cliAdminToken), then the admin module's own checks.
    const token = cliAdminToken(o.admin, o.adminTokenFile, warnTo);
    await checkAdmin(o.admin, token);
    summary += `; admin on ${formatHostPort(o.admin)}`;
  }
  // The password, the CA file, --ws-zero-mask; then the URL and the TLS options, as connect() takes them.
  connector(o.switcher, connectOptions(o, domain, logger, warnTo ?? silentLogger));
  return summary;
}

async function runNode(ctx: CommandContext): Promise<number> {
  const o = ctx.cmd.opts<NodeOpts>();
  const { logger } = ctx;
  if (o.checkConfig === true) {
    const summary = await checkNode(o, logger);
    if (o.admin !== undefined) warnBrowserBlockedPort(o.admin, 'the admin API', ADMIN_LOST, logger);
    return reportOk(summary);
  }
  const domain = nodeDomain(o);
  if ((o.expose ?? []).length + (o.forward ?? []).length === 0) {
    logger.warn({}, 'nothing to expose or forward: this node only answers pings');
  }
  const shutdown = onStopSignal(logger, CLOSE_BOUND + 2_000);
  const reloadSignal = onReloadSignal(logger);
  const closers: (() => Promise<void> | void)[] = [];
  const tunnels = new Tunnels();
  // Aborted first at shutdown: forwarded connections still dialling stop waiting (dialForwarded).
  // Every dial still waiting shares it through one listener (followSignal), however many there are.
  const stopping = new AbortController();
  let session: NodeSession | undefined;
  const closeAll = async (): Promise<void> => {
    // A reload running now ends first (it reads files, and binds the forward listeners its rules
    // add, closed below with the others; shutdown.run's bound covers it), so that it applies
    // nothing to a session that is closing, nor logs after it closed.
    await reloadSignal.stop();
    stopping.abort();
    const closing = Promise.all(closers.map((c) => c()));
    tunnels.stop();
    await closing;
    await session?.close();
  };
  try {
    // The --forward listeners are bound before the session starts: one that cannot listen ends
    // the command (exit 13) before the switcher sees a connection, an admission or a claim of the
    // domain (which could take it over from an unresponsive holder) from a node about to exit.
    // A connection accepted meanwhile waits for the session, or for the shutdown (dialerToCome).
    const { dialer, open } = dialerToCome();
    const waits = forwardWaits(o, () => session);
    const rules = new NodeRules(
      {
        expose: (e) => {
          // Exposes start once the session exists (below), and reloads after them.
          if (session === undefined) throw new Error('no session yet');
          return serveExpose(session, e, tunnels, logger, { connectTimeout: o.exposeConnectTimeout });
        },
        forward: (f, admitted) =>
          listenForward(dialer, f, o, tunnels, logger, { waits, stop: stopping.signal, admitted }),
      },
      logger,
    );
    closers.push(() => rules.close());
    await rules.startForwarding(o.forward ?? []);
    // So is the admin server, for the same reason: it shows the session once there is one.
    const shown = new SessionToCome(domain);
    let admin: NodeReloadSources['admin'];
    const reloads = new ReloadCounts();
    if (o.admin !== undefined) {
      const token = cliAdminToken(o.admin, o.adminTokenFile, logger);
      const server = await startCliAdmin(
        { node: shown },
        o.admin,
        token,
        logger,
        { reloads },
        o.adminAllowedHost,
      );
      closers.push(() => server.close());
      admin = { token, setToken: (t) => server.setToken(t) };
    }
    // Told to stop while its listeners were binding: the switcher need not see this node at all.
    if (shutdown.requested) {
      await shutdown.run(closeAll);
      return 0;
    }
    const started = openSession(o, domain, logger, nodeSessionOptions(o));
    session = started.session;
    session.on('ready', () => waits.admitted());
    open(session);
    shown.attach(session);
    const lost = sessionLost(session);
    rules.startExposing(o.expose ?? []);
    // Started after the exposes: a SIGHUP that came during start-up runs now, and compares the
    // file's rules with those served.
    const base = nodeReloadPlan(o, { session: started.session, options: started.options, admin });
    const forRules = nodeRulesPlan(ctx.cmd, o.config, rules);
    const plan: ReloadPlan = {
      items: [...base.items, ...forRules.items],
      notReloaded: [...base.notReloaded, ...forRules.notReloaded],
      applied: base.applied,
      startCheck: checkAgain<NodeOpts>(
        ctx.cmd,
        o.config,
        // What reading the secrets warns of was said at the start.
        (opts) => checkNode(opts, logger, undefined),
        [],
        // A list given by a flag or a variable wins over the file, so it cannot differ here.
        ['expose', 'forward'],
      ),
    };
    reloadSignal.start(reloads.counted(() => reloadAll(plan, logger)));
    logger.info({ switcher: withoutPassword(o.switcher), domain }, 'node started');
    await Promise.race([shutdown.signalled, lost]);
    await shutdown.run(closeAll);
    return 0;
  } catch (err) {
    await closeAll();
    throw err;
  } finally {
    reloadSignal.dispose();
    shutdown.dispose();
  }
}
