import { Command, type Option } from 'commander';
import { listenDemo } from '../demo/index.js';
import { DEMO_HTTP_CONNECTIONS } from '../demo/listen.js';
// Not public: the ranges the flags below are checked against as they are parsed.
import { switcherRanges } from '../switcher/config.js';
import {
  type AccessOptions,
  AccessPolicy,
  type IpAssignment,
  ipAssignments,
  Switcher,
  type SwitcherOptions,
  switcherDefaults,
  validateSwitcherOptions,
} from '../switcher/index.js';
import { transportDefaults } from '../transport/index.js';
import type { Logger } from '../util/logger.js';
import { accessFromConfig, accessReload, passwordAndAccessReload } from './access.js';
import { addAdminOptions, cliAdminToken, startCliAdmin } from './admin-server.js';
import { ADMIN_LOST, DEMO_LOST, WS_LOST, warnBrowserBlockedPort } from './bad-ports.js';
import { CertificateExpiry, chainOutOfValidity, outOfValidity } from './cert-expiry.js';
import { checkAgain } from './check-again.js';
import { addCheckConfigOption, checkAdmin, reportOk } from './check-config.js';
import type { CliCommand, CommandContext } from './command.js';
import type { ConfigData } from './config-file.js';
import { CliError, listenFailure } from './exit.js';
import { connectionsAllowed, fdShortfall, openFileLimit } from './fd-limit.js';
import {
  type ListenerSpecs,
  type OpenListener,
  type PemPair,
  readPemPair,
  startListeners,
} from './listeners.js';
import { addCommonOptions, type CommonOpts, flag } from './options.js';
import { listenersOverlap, sharedAddress } from './overlap.js';
import {
  collect,
  formatHostPort,
  type HostPort,
  type HostPortPath,
  parseCount,
  parseDuration,
  parseHostPort,
  parseHostPortPath,
  parseRate,
  parseSizeIn,
  parseTimeout,
} from './parse.js';
import {
  type AdminTokenSource,
  addAdminTokenReload,
  certificateReload,
  type Reloadable,
  type ReloadPlan,
  type ReloadResult,
  reloadAll,
  secretReload,
} from './reload.js';
import { ReloadCounts } from './reload-count.js';
import { onReloadSignal } from './reload-signal.js';
import { findSecret, generatePassword, PASSWORD_ENV } from './secret.js';
import { onStopSignal } from './shutdown.js';

/** `flexmux switcher`: the relay server on TCP, TLS, WebSocket and secure WebSocket listeners. */

/** With no listener flag at all, `npm start` and a bare `flexmux switcher` serve these. */
export const DEFAULT_LISTENERS = Object.freeze({
  tcp: '127.0.0.1:7000',
  ws: `127.0.0.1:7080${transportDefaults.wsPath}`,
});

/** Extra time past the switcher's own close timeout before the process gives up and exits. */
const SHUTDOWN_SLACK = 3_000;

export interface SwitcherOpts extends CommonOpts {
  checkConfig?: boolean;
  tcp?: HostPort[];
  ws?: HostPortPath[];
  tls?: HostPort[];
  wss?: HostPortPath[];
  cert?: string;
  key?: string;
  passwordFile?: string;
  admin?: HostPort;
  adminTokenFile?: string;
  adminAllowedHost?: string[];
  demo?: HostPort;
  maxClients?: number;
  maxPendingAdmissions?: number;
  admissionTimeout?: number;
  ipAssignment?: IpAssignment;
  livenessTimeout?: number;
  idleTimeout?: number;
  pingInterval?: number;
  stallTimeout?: number;
  closeTimeout?: number;
  maxQueuePerClient?: number;
  maxQueuePerSource?: number;
  maxStreamsPerClient?: number;
  failedAdmissionBurst?: number;
  failedAdmissionRate?: number;
}

const LIMITS = [
  'maxClients',
  'maxPendingAdmissions',
  'admissionTimeout',
  'livenessTimeout',
  'idleTimeout',
  'pingInterval',
  'stallTimeout',
  'closeTimeout',
  'maxQueuePerClient',
  'maxQueuePerSource',
  'maxStreamsPerClient',
  'failedAdmissionBurst',
  'failedAdmissionRate',
] as const;

/** The switcher options the Limits flags set (those given, as flag, variable or config file). */
export function limitOptions(o: SwitcherOpts): Partial<SwitcherOptions> {
  const options: Partial<SwitcherOptions> = {};
  for (const k of LIMITS) if (o[k] !== undefined) options[k] = o[k];
  return options;
}

const ms = (v: number): string => (v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`);
const mib = (v: number): string => `${v / 1024 / 1024}MiB`;

function limit(flags: string, text: string, parse: (v: string) => number): Option {
  return flag(flags, text).argParser(parse).helpGroup('Limits:');
}

export function switcherCommand(): CliCommand {
  const d = switcherDefaults;
  const r = switcherRanges;
  const cmd = new Command('switcher')
    .description('run a switcher: admit nodes with a password and relay streams between them')
    .addOption(flag('--tcp <host:port>', 'TCP listener (repeatable)').argParser(collect(parseHostPort)))
    .addOption(
      flag(
        '--ws <host:port[/path]>',
        `WebSocket listener, path default ${transportDefaults.wsPath} (repeatable)`,
      ).argParser(collect((v) => parseHostPortPath(v, transportDefaults.wsPath))),
    )
    .addOption(
      flag('--tls <host:port>', 'TLS listener (needs --cert, --key; repeatable)').argParser(
        collect(parseHostPort),
      ),
    )
    .addOption(
      flag(
        '--wss <host:port[/path]>',
        'secure WebSocket listener (needs --cert, --key; repeatable)',
      ).argParser(collect((v) => parseHostPortPath(v, transportDefaults.wsPath))),
    )
    .addOption(flag('--cert <file>', 'PEM certificate chain for --tls and --wss'))
    .addOption(flag('--key <file>', 'PEM private key for --tls and --wss'))
    .addOption(
      flag(
        '--password-file <file>',
        `read the shared password from a file (else ${PASSWORD_ENV}, else random)`,
      ),
    );
  addAdminOptions(cmd, 'serve the admin HTTP API and metrics here');
  cmd
    .addOption(
      flag(
        '--demo <host:port>',
        `serve the browser demo page, and a WebSocket at ${transportDefaults.wsPath}`,
      ).argParser((v) => parseHostPort(v)),
    )
    .addOption(
      flag(
        '--ip-assignment <mode>',
        `virtual IPs: by-domain keeps a node's IP across reconnects and restarts, sequential is Go's order (default ${d.ipAssignment})`,
      ).choices(ipAssignments),
    )
    .addOption(
      limit('--max-clients <n>', `admitted nodes at once (default ${d.maxClients})`, (v) =>
        parseCount(v, ...r.maxClients),
      ),
    )
    .addOption(
      limit(
        '--max-pending-admissions <n>',
        `connections in admission at once (default ${d.maxPendingAdmissions})`,
        (v) => parseCount(v, ...r.maxPendingAdmissions),
      ),
    )
    .addOption(
      limit(
        '--admission-timeout <duration>',
        `time to send the admission frame (default ${ms(d.admissionTimeout)})`,
        (v) => parseTimeout(v),
      ),
    )
    .addOption(
      limit(
        '--liveness-timeout <duration>',
        `time a domain holder has to answer a takeover ping (default ${ms(d.livenessTimeout)})`,
        (v) => parseTimeout(v),
      ),
    )
    .addOption(
      limit('--idle-timeout <duration>', 'close a node silent this long (default 0: never)', (v) =>
        parseDuration(v),
      ),
    )
    .addOption(
      limit(
        '--ping-interval <duration>',
        'ping every node this often: its RTT (clients, admin API); two unanswered, with nothing else from it, close it (default 0: off)',
        (v) => parseDuration(v),
      ),
    )
    .addOption(
      limit(
        '--stall-timeout <duration>',
        `close a node that keeps others paused without reading this long (default ${ms(d.stallTimeout)}; 0: never)`,
        (v) => parseDuration(v),
      ),
    )
    .addOption(
      limit('--close-timeout <duration>', `graceful shutdown bound (default ${ms(d.closeTimeout)})`, (v) =>
        parseDuration(v),
      ),
    )
    .addOption(
      limit(
        '--max-queue-per-client <size>',
        `bytes queued for one node (default ${mib(d.maxQueuePerClient)})`,
        (v) => parseSizeIn(v, r.maxQueuePerClient),
      ),
    )
    .addOption(
      limit(
        '--max-queue-per-source <size>',
        `bytes queued from one node to another (default ${mib(d.maxQueuePerSource)})`,
        (v) => parseSizeIn(v, r.maxQueuePerSource),
      ),
    )
    .addOption(
      limit(
        '--max-streams-per-client <n>',
        `streams through the switcher with one node at an end; more dials are refused (default ${d.maxStreamsPerClient})`,
        (v) => parseCount(v, ...r.maxStreamsPerClient),
      ),
    )
    .addOption(
      limit(
        '--failed-admission-burst <n>',
        `failed admissions per host before rate limiting, 0: off (default ${d.failedAdmissionBurst})`,
        (v) => parseCount(v, ...r.failedAdmissionBurst),
      ),
    )
    .addOption(
      limit(
        '--failed-admission-rate <n>',
        `failed admissions per second regained (default ${d.failedAdmissionRate})`,
        parseRate,
      ),
    );
  addCheckConfigOption(cmd);
  addCommonOptions(cmd, 'info');
  cmd.addHelpText(
    'after',
    `
With no listener flag, listens on tcp://${DEFAULT_LISTENERS.tcp} and
ws://${DEFAULT_LISTENERS.ws}. The password comes from ${PASSWORD_ENV} or
--password-file; with neither, a random one is generated and printed once on
stderr. Access rules (extra passwords, dial rules) are set in the config file's
switcher.access section; see docs/cli.md.

On SIGHUP (not on Windows) it reads --cert and --key, --password-file,
--admin-token-file and the config file's switcher.access section again: new
connections and admissions use what they hold (dial rules apply at once),
connected nodes stay. A file that cannot be read or checked keeps the old value;
see "Reloading" in docs/cli.md. --check-config checks all of it without
starting: run it before a restart or a reload.`,
  );
  return { command: cmd, extraKeys: ['access'], reloads: true, run: runSwitcher };
}

/**
 * The listeners: those given, or with none given, the defaults. An empty list (`tcp: []` in the
 * config file) is none of that kind, as the docs say of every repeatable setting; the switcher
 * then took `tcp: []` alone for no setting at all and opened both defaults, the tcp:// one
 * included. Lists that are all empty leave it no listener but the demo page's WebSocket (--demo),
 * and without that one, none: bad usage, naming them.
 */
function listenerSpecs(o: SwitcherOpts): ListenerSpecs {
  const lists = { tcp: o.tcp, ws: o.ws, tls: o.tls, wss: o.wss };
  const given = Object.values(lists).some((l) => l !== undefined && l.length > 0);
  const empty = Object.entries(lists).filter(([, l]) => l !== undefined && l.length === 0);
  if (!given && empty.length > 0 && o.demo === undefined) {
    const names = empty.map(([kind]) => `${kind}: []`).join(', ');
    throw new CliError(
      'CLI_USAGE',
      `${names} in the config file leaves the switcher no listener: give one (--tcp, --ws, --tls, --wss), or drop the empty list for the defaults (tcp://${DEFAULT_LISTENERS.tcp}, ws://${DEFAULT_LISTENERS.ws})`,
    );
  }
  if (!given && empty.length === 0) {
    return {
      tcp: [parseHostPort(DEFAULT_LISTENERS.tcp)],
      ws: [parseHostPortPath(DEFAULT_LISTENERS.ws, transportDefaults.wsPath)],
      tls: [],
      wss: [],
    };
  }
  return { tcp: o.tcp ?? [], ws: o.ws ?? [], tls: o.tls ?? [], wss: o.wss ?? [], cert: o.cert, key: o.key };
}

/** Says, once, when the open-file limit is below the connections the switcher's limits allow. */
function warnOnFdLimit(
  o: { maxClients: number; maxPendingAdmissions: number },
  handshakeListeners: number,
  httpConnections: number,
  chosen: boolean,
  logger: Logger,
): void {
  const limit = openFileLimit();
  if (limit === null) return;
  const short = fdShortfall(limit, o, handshakeListeners, httpConnections);
  if (short === 0) return;
  const allowed = connectionsAllowed(o, handshakeListeners, httpConnections);
  // The defaults are the protocol's maximum (65,534 virtual IPs), which few machines can hold:
  // said, but as a warning only when the operator chose limits the machine cannot back.
  logger[chosen ? 'warn' : 'info'](
    { openFileLimit: limit, maxClients: o.maxClients, maxPendingAdmissions: o.maxPendingAdmissions },
    `the open-file limit (${limit}) caps connections at ${allowed - short} of the ${allowed} that maxClients and ` +
      'maxPendingAdmissions allow: past the cap the OS drops new connections without a log line. To allow ' +
      'more, raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit); to be told of none, lower --max-clients',
  );
}

/** What the switcher's secrets and certificate came from at start. */
export interface ReloadSources {
  password: string;
  /** No password was given: this run's was generated. */
  generated: boolean;
  admin?: AdminTokenSource;
  listeners: readonly OpenListener[];
  /** The certificate and key the secure listeners serve. */
  pem: PemPair | undefined;
  /** Told of each certificate a reload applies. */
  certificate?: CertificateExpiry;
  /** The access rules the config file's `switcher.access` section held at start. */
  access?: AccessOptions;
  /**
   * The switcher command, its settings resolved: the reload checks the whole config file as a
   * start of it would before it takes the `access` section (accessFromConfigFile).
   */
  command: Command;
}

/**
 * What SIGHUP reads again: the files given at start, and the config file's `switcher.access`
 * section. A secret from the environment, or generated, has no file to read: it stays, and the
 * log line says so.
 */
export function switcherReloadPlan(o: SwitcherOpts, switcher: Switcher, s: ReloadSources): ReloadPlan {
  const items: Reloadable[] = [];
  const notReloaded: string[] = [];
  if (s.pem !== undefined && o.cert !== undefined && o.key !== undefined)
    items.push(
      certificateReload(o.cert, o.key, s.listeners, s.pem, (pair) => s.certificate?.serve(pair.cert)),
    );
  // Its `access` section only: the rest of the config file, as the flags, needs a restart.
  if (o.passwordFile !== undefined && o.config !== undefined) {
    // Read and applied together: a password may move between the two in one reload.
    items.push(
      ...passwordAndAccessReload(
        o.passwordFile,
        s.command,
        o.config,
        { password: s.password, access: s.access },
        (access, password) => switcher.setAccess(access, password),
        (password) => switcher.setPassword(password),
      ),
    );
  } else if (o.passwordFile !== undefined) {
    items.push(secretReload('password', o.passwordFile, s.password, (p) => switcher.setPassword(p)));
  } else if (o.config !== undefined) {
    items.push(accessReload(s.command, o.config, s.access, (access) => switcher.setAccess(access)));
  }
  if (o.passwordFile === undefined)
    notReloaded.push(s.generated ? 'password (generated at start)' : `password (from ${PASSWORD_ENV})`);
  addAdminTokenReload({ items, notReloaded }, s.admin, o.adminTokenFile);
  return { items, notReloaded };
}

/**
 * What SIGHUP runs: `plan` read again and counted, then the served certificate's expiry said
 * again (also when the reload kept the old one: an operator who reloads expects a renewal).
 */
export function switcherReload(
  plan: ReloadPlan,
  logger: Logger,
  reloads: ReloadCounts,
  certificate?: CertificateExpiry,
): () => Promise<ReloadResult> {
  return reloads.counted(async () => {
    const result = await reloadAll(plan, logger);
    certificate?.check();
    return result;
  });
}

/** The certificate the secure listeners of `specs` serve, from `pem`; its expiry said at start. */
export function servedCertificate(
  specs: ListenerSpecs,
  pem: PemPair | undefined,
  logger: Logger,
): CertificateExpiry | undefined {
  if (pem === undefined) return undefined;
  const kinds = (['tls', 'wss'] as const).filter((k) => specs[k].length > 0);
  const certificate = new CertificateExpiry(kinds, specs.cert ?? '', logger);
  certificate.serve(pem.cert);
  certificate.check();
  return certificate;
}

/**
 * `--cert` or `--key` with no `--tls` or `--wss` listener to serve them: the files were neither
 * read nor checked (`--check-config` said OK for a file that does not exist), and the switcher
 * served plain text only where the flags say TLS was meant. Bad usage, as `--ca` with a tcp://
 * switcher is for the commands that connect (session.ts).
 */
function checkCertificateUsed(o: SwitcherOpts, specs: ListenerSpecs): void {
  if (specs.tls.length + specs.wss.length > 0) return;
  const given = o.cert !== undefined ? 'cert' : o.key !== undefined ? 'key' : undefined;
  if (given === undefined) return;
  throw new CliError(
    'CLI_USAGE',
    `--${given} (or FLEXMUX_${given.toUpperCase()}, or ${given}: in the config file) is for --tls and --wss listeners, and none is given: the switcher would serve no TLS; add --tls or --wss, or drop --cert and --key`,
  );
}

/**
 * An address given to two of the switcher's listeners (`--tcp` twice, `--ws` and `--admin` on one
 * port): the second can never bind, yet `--check-config` said OK, and a start bound the first and
 * then failed with EADDRINUSE (exit 13), as for a port another process holds. Bad usage, as a
 * node's local port forwarded twice is. Port 0 picks a free port each time: it may repeat. So is
 * a wildcard address and one it covers (`0.0.0.0:7000` and `127.0.0.1:7000`, listenersOverlap).
 */
function checkAddressesApart(o: SwitcherOpts, specs: ListenerSpecs): void {
  const uses: [string, HostPort | undefined][] = [
    ...specs.tcp.map((a): [string, HostPort] => ['the tcp:// listener', a]),
    ...specs.ws.map((a): [string, HostPort] => ['the ws:// listener', a]),
    ...specs.tls.map((a): [string, HostPort] => ['the tls:// listener', a]),
    ...specs.wss.map((a): [string, HostPort] => ['the wss:// listener', a]),
    ['the admin API', o.admin],
    ['the demo page', o.demo],
  ];
  const seen: [string, HostPort][] = [];
  for (const [what, at] of uses) {
    if (at === undefined || at.port === 0) continue;
    const clash = seen.find(([, other]) => listenersOverlap(other, at));
    if (clash !== undefined) throw new CliError('CLI_USAGE', sharedAddress(clash[1], clash[0], at, what));
    seen.push([what, at]);
  }
}

/** What a start reads and checks before it binds anything: the same for a start and a check. */
interface SwitcherStart {
  access: AccessOptions | undefined;
  /** Undefined: none given, the start generates one. */
  password: string | undefined;
  options: Omit<SwitcherOptions, 'password'>;
  specs: ListenerSpecs;
  pem: PemPair | undefined;
}

/**
 * Reads and checks what `flexmux switcher` needs before it binds anything: the access section
 * (and the password files it names), the password, the switcher's options (its constructor's
 * checks), the certificate and key as a pair. Throws the error a start gives.
 */
function switcherStart(o: SwitcherOpts, extras: ConfigData, logger?: Logger): SwitcherStart {
  const access = accessFromConfig(extras.access, o.config ?? '');
  const password = findSecret(
    { file: o.passwordFile, env: PASSWORD_ENV, what: 'password' },
    process.env,
    logger,
  );
  const options: Omit<SwitcherOptions, 'password'> = { access, ...limitOptions(o) };
  if (o.ipAssignment !== undefined) options.ipAssignment = o.ipAssignment;
  // The Switcher's own checks, without one: a generated password is random, so it never repeats
  // an extra password, and '' stands for it here (an extra password is never empty).
  const checked = validateSwitcherOptions({ ...options, password: password ?? '' });
  new AccessPolicy(checked.password, checked.access);
  const specs = listenerSpecs(o);
  checkCertificateUsed(o, specs);
  checkAddressesApart(o, specs);
  return { access, password, options, specs, pem: readPemPair(specs) };
}

/**
 * `--check-config`, and the reload's check of the whole config file: everything a start reads and
 * checks, the admin token and address included; resolves with what a start would run, or throws
 * what it would fail with. Nothing is bound.
 */
async function checkSwitcher(o: SwitcherOpts, extras: ConfigData): Promise<string> {
  // A reload's check: what reading the secrets warns of was said at the start.
  return (await checkSwitcherStart(o, extras)).summary;
}

async function checkSwitcherStart(
  o: SwitcherOpts,
  extras: ConfigData,
  logger?: Logger,
): Promise<{ summary: string; start: SwitcherStart }> {
  const start = switcherStart(o, extras, logger);
  const { specs } = start;
  const urls = [
    ...specs.tcp.map((a) => `tcp://${formatHostPort(a)}`),
    ...specs.ws.map((a) => `ws://${formatHostPort(a)}${a.path}`),
    ...specs.tls.map((a) => `tls://${formatHostPort(a)}`),
    ...specs.wss.map((a) => `wss://${formatHostPort(a)}${a.path}`),
  ];
  let summary = urls.length > 0 ? `switcher on ${urls.join(', ')}` : 'switcher on the demo page only';
  if (o.admin !== undefined) {
    // As a start refuses it (cliAdminToken), then the admin module's own checks.
    const token = cliAdminToken(o.admin, o.adminTokenFile, logger);
    await checkAdmin(o.admin, token);
    summary += `; admin on ${formatHostPort(o.admin)}`;
  }
  if (o.demo !== undefined) summary += `; demo page on ${formatHostPort(o.demo)}`;
  if (start.password === undefined) summary += '; password generated at start';
  return { summary, start };
}

/**
 * `--check-config` says OK to a certificate that has expired or is not valid yet, as a start
 * serves it; but a reload refuses it (certificateReload), and the check is what an operator runs
 * before one: a warning line says both, rather than an OK that the reload then contradicts.
 */
function warnCertificateValidity(o: SwitcherOpts, pem: PemPair | undefined, logger: Logger): void {
  if (pem === undefined) return;
  const now = Date.now();
  // The certificates after the leaf: a start and a reload serve them, with a warning each.
  for (const problem of chainOutOfValidity(pem.cert, now)) {
    logger.warn(
      { file: o.cert },
      `in the chain in ${o.cert}, ${problem}: clients that verify through it refuse the handshake; a start and a reload serve it`,
    );
  }
  const invalid = outOfValidity(pem.cert, now);
  if (invalid === undefined) return;
  logger.warn(
    { file: o.cert },
    `the certificate in ${o.cert} ${invalid}: a start serves it (verifying clients refuse it), a reload refuses it and keeps the one in use`,
  );
}

/** The ws:// and wss:// listeners browser nodes cannot reach (bad-ports.ts). */
function warnWebSocketPorts(specs: ListenerSpecs, logger: Logger): void {
  for (const a of specs.ws) warnBrowserBlockedPort(a, 'the ws:// listener', WS_LOST, logger);
  for (const a of specs.wss) warnBrowserBlockedPort(a, 'the wss:// listener', WS_LOST, logger);
}

async function runSwitcher(ctx: CommandContext): Promise<number> {
  const o = ctx.cmd.opts<SwitcherOpts>();
  const { logger } = ctx;
  if (o.checkConfig === true) {
    const { summary, start } = await checkSwitcherStart(o, ctx.extras, logger);
    warnCertificateValidity(o, start.pem, logger);
    if (o.admin !== undefined) warnBrowserBlockedPort(o.admin, 'the admin API', ADMIN_LOST, logger);
    if (o.demo !== undefined) warnBrowserBlockedPort(o.demo, 'the demo page', DEMO_LOST, logger);
    warnWebSocketPorts(start.specs, logger);
    return reportOk(summary);
  }
  // Everything that can be bad usage is checked before a password is generated and printed, or
  // a listener bound, for a run that would not happen.
  const start = switcherStart(o, ctx.extras, logger);
  const { access, specs, pem } = start;
  const adminToken = o.admin === undefined ? undefined : cliAdminToken(o.admin, o.adminTokenFile, logger);
  let password = start.password;
  const generated = password === undefined;
  if (password === undefined) {
    password = generatePassword();
    process.stderr.write(
      `flexmux: no ${PASSWORD_ENV} or --password-file given; the password for this run is:\n\n    ${password}\n\n`,
    );
  }
  const switcher = new Switcher({ ...start.options, password, logger });
  warnOnFdLimit(
    switcher.options,
    // The demo page serves the switcher's WebSocket too.
    specs.ws.length + specs.tls.length + specs.wss.length + (o.demo === undefined ? 0 : 1),
    // And browsers' connections to the page, counted apart (demo/listen.ts).
    o.demo === undefined ? 0 : DEMO_HTTP_CONNECTIONS,
    o.maxClients !== undefined || o.maxPendingAdmissions !== undefined,
    logger,
  );
  const closeTimeout = switcher.options.closeTimeout;
  const shutdown = onStopSignal(logger, closeTimeout + SHUTDOWN_SLACK);
  const reloadSignal = onReloadSignal(logger);
  const closers: (() => Promise<void>)[] = [];
  try {
    const listeners = await startListeners(switcher, specs, pem);
    for (const l of listeners) {
      closers.push(() => l.close());
      logger.info({ url: l.url }, 'listening');
    }
    warnWebSocketPorts(specs, logger);
    const certificate = servedCertificate(specs, pem, logger);
    const reloads = new ReloadCounts();
    let admin: ReloadSources['admin'];
    if (o.admin !== undefined) {
      const server = await startCliAdmin(
        { switcher },
        o.admin,
        adminToken,
        logger,
        { reloads, certificate },
        o.adminAllowedHost,
      );
      closers.push(() => server.close());
      admin = { token: adminToken, setToken: (t) => server.setToken(t) };
    }
    const urls = listeners.map((l) => l.url);
    if (o.demo !== undefined) {
      const at = o.demo;
      const demo = await listenDemo(switcher, { host: at.host, port: at.port }).catch((err: unknown) => {
        throw listenFailure(err, at, 'the demo page');
      });
      closers.push(() => demo.close());
      warnBrowserBlockedPort(at, 'the demo page', DEMO_LOST, logger);
      const bound = formatHostPort(demo.address);
      urls.push(`ws://${bound}${transportDefaults.wsPath}`);
      logger.info({ url: `http://${bound}/`, ws: `ws://${bound}${transportDefaults.wsPath}` }, 'demo page');
    }
    const plan: ReloadPlan = {
      ...switcherReloadPlan(o, switcher, {
        password,
        generated,
        admin,
        listeners,
        pem,
        certificate,
        access,
        command: ctx.cmd,
      }),
      startCheck: checkAgain<SwitcherOpts>(ctx.cmd, o.config, checkSwitcher, ['access']),
    };
    reloadSignal.start(switcherReload(plan, logger, reloads, certificate));
    logger.info({ listeners: urls }, 'switcher ready');
    await shutdown.signalled;
    await shutdown.run(async () => {
      // A reload running now ends first (it only reads files, and the bound covers it): its
      // `reloaded` line comes before `switcher closed`, and it applies nothing to what closes.
      await reloadSignal.stop();
      await Promise.all(closers.map((c) => c()));
      await switcher.close();
    });
    return 0;
  } catch (err) {
    await reloadSignal.stop();
    await Promise.all(closers.map((c) => c()));
    await switcher.close({ timeout: 0 });
    throw err;
  } finally {
    reloadSignal.dispose();
    shutdown.dispose();
  }
}
