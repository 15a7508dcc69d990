import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import type { PingOptions } from '../node/node.js';
import type { SessionState } from '../node/session.js';
import type { StreamCore } from '../stream/core.js';
import type { Switcher } from '../switcher/switcher.js';
import { checkBool, checkInt, checkOptions } from '../util/check.js';
import type { Logger } from '../util/logger.js';

/**
 * Every default of the admin server in one frozen object (STYLE.md habit 6). The server is off
 * unless something calls `startAdmin()`; when it runs it binds to loopback unless told otherwise.
 */
export const adminDefaults = Object.freeze({
  /** Address to bind: loopback only. */
  host: '127.0.0.1',
  /** TCP port. */
  port: 7090,
  /** ms between two samples of the counters (rates, sparklines, SSE snapshots). */
  sampleInterval: 1_000,
  /** Samples of total throughput kept for the chart (5 minutes at 1 s). */
  historySize: 300,
  /** Samples kept per client or stream for its sparkline. */
  itemHistory: 60,
  /** Node mode: ms between RTT pings (to the switcher and to each peer domain); 0 disables. */
  pingInterval: 5_000,
  /** Node mode: peer domains pinged per round at most. */
  maxPingedDomains: 16,
  /** Event streams (/api/v1/events) open at once; more are answered 503. */
  maxEventStreams: 16,
  /** Bytes an event stream may have unsent before it is dropped as too slow. */
  eventBufferLimit: 4 * 1024 * 1024,
  /** Clients or streams listed in one SSE snapshot at most (the REST lists come in pages instead). */
  maxSnapshotItems: 1_000,
  /** Largest request body accepted (only DELETE /clients/{domain} reads one). */
  maxBodyBytes: 16 * 1024,
  /** Node.js process metrics (CPU, memory, event loop) in /metrics. */
  processMetrics: false,
  /**
   * TCP connections open at once. Anyone who can reach the port can open them, token or not, and
   * they share the process's file descriptors with the switcher or node being served. With a
   * token, a new one closes the oldest that has not shown it (connections.ts), and is closed as
   * it arrives when all have; without one, more are closed as they arrive.
   */
  maxConnections: 64,
  /**
   * ms a connection may take to send its request headers, counted from the connection (Node's own
   * headersTimeout starts at the first byte, so a silent connection would be held for good).
   */
  headersTimeout: 10_000,
});

/**
 * What the admin reads of a node (a `BaseNode` of any stream type satisfies it). Structural, so a
 * `BaseNode<FlexStream>` or `BaseNode<WebStream>` fits without casts: the classes are generic in
 * their stream type and invariant in it.
 */
export interface InspectableNode {
  /** The node's virtual IP. */
  readonly ip: number;
  /** The node's domain ('' for none). */
  readonly domain: string;
  /** True once the node is closed. */
  readonly closed: boolean;
  /** Number of live streams. */
  readonly streamCount: number;
  /** The node's counters (`BaseNode.stats`). */
  readonly stats: {
    /** Frames received. */
    readonly framesIn: number;
    /** Bytes received from the transport. */
    readonly bytesIn: number;
    /** Frames received and dropped. */
    readonly dropped: number;
    /** Streams this node dialled whose open was accepted. */
    readonly streamsOpened: number;
    /** Streams opened by the peer and accepted by a listener. */
    readonly streamsAccepted: number;
    /** Opens from the peer refused (none read as 0). */
    readonly openRefused?: number;
    /** Bugs of flexmux's that closed the connection (none read as 0). */
    readonly internalErrors?: number;
  };
  /** What the admin reads of the connection's writer: bytes written and control frames queued. */
  readonly scheduler: {
    /** Bytes written to the transport. */
    readonly bytesWritten: number;
    /** Control frames queued. */
    readonly controlLength: number;
  };
  /** The connection: `remoteAddress` names the peer. */
  readonly transport: {
    /** The peer's address, as the transport names it. */
    readonly remoteAddress: string;
  };
  /** The resolved options: `pingTimeout` bounds the RTT pings. */
  readonly options: {
    /** ms a ping waits for its answer. */
    readonly pingTimeout: number;
  };
  /** Live stream cores. */
  streamList(): StreamCore[];
  /**
   * Live stream cores by serial: those whose serial is greater than `after` (and that `keep`),
   * ascending, the `limit` after the first `skip`; it costs those it steps over, not all.
   */
  streamPage(after: number, skip: number, limit: number, keep?: (s: StreamCore) => boolean): StreamCore[];
  /** Streams registered so far: unchanged, with `streamCount`, while none opens or ends. */
  readonly streamsAdded: number;
  /** The ports the node listens on. */
  listenerPorts(): number[];
  /** Pings the switcher (no domain) or a peer domain; resolves to the RTT in ms. */
  ping(domain?: string, options?: PingOptions): Promise<number>;
}

/** What the admin reads of a reconnecting `Session` of any stream type. */
export interface InspectableSession {
  /** The current node, or null while the session is not connected. */
  readonly node: InspectableNode | null;
  /** The session's state: 'connecting', 'ready', 'backoff' or 'closed'. */
  readonly state: SessionState;
  /** The session's domain. */
  readonly domain: string;
  /** Admissions so far. */
  readonly connections: number;
  /** Its listeners' ports, kept between connections (a node has none then). */
  listenerPorts(): number[];
  /** Listens for the session's state changes. */
  on(event: 'state', fn: (state: SessionState) => void): unknown;
  /** Stops listening for them. */
  off(event: 'state', fn: (state: SessionState) => void): unknown;
}

/** A node the admin server can show: one connection, or a session that reconnects. */
export type AdminNode = InspectableNode | InspectableSession;

/**
 * Options of `startAdmin()` (docs/admin.md, "Options"): exactly one of `switcher` and `node`. Times are in
 * ms, sizes in bytes; defaults are those of `adminDefaults`. An invalid one throws a ConfigError naming it.
 */
export interface AdminOptions {
  /** Serve this switcher (exactly one of `switcher` and `node`). */
  switcher?: Switcher;
  /** Serve this node or session (exactly one of `switcher` and `node`). */
  node?: AdminNode;
  /**
   * Address to bind; anything but 127.0.0.0/8, `::1` or `localhost` needs `token` (a ConfigError otherwise).
   * Default '127.0.0.1'.
   */
  host?: string;
  /** TCP port; 0 picks a free one (see the resolved `url`). Default 7090. */
  port?: number;
  /** Bearer token for the API and /metrics; required when `host` is not a loopback address. */
  token?: string;
  /**
   * Host names (or addresses, without a port) requests may name in their `Host` header besides
   * loopback ones, for a server reached by a name (a reverse proxy that passes the client's Host
   * on). Default: none on loopback, where any other Host is refused (DNS rebinding); any Host on
   * another address, or, when given, these, loopback names and the address bound.
   */
  allowedHosts?: readonly string[];
  /** A pino-compatible logger (docs/admin.md); default silent. */
  logger?: Logger;
  /** ms between two samples of the counters (rates, charts, SSE snapshots). Default 1000. */
  sampleInterval?: number;
  /** Samples of total throughput kept (5 minutes at 1 s). Default 300. */
  historySize?: number;
  /**
   * Samples kept per client or stream for its sparkline, for the first `maxSnapshotItems` only. Default 60.
   */
  itemHistory?: number;
  /** Node mode: ms between RTT pings to the switcher and to each peer domain; 0 disables. Default 5000. */
  pingInterval?: number;
  /** Node mode: peer domains pinged per round at most. Default 16. */
  maxPingedDomains?: number;
  /** Event streams open at once; more are answered 503. Default 16. */
  maxEventStreams?: number;
  /**
   * Unsent bytes after which a stalled event stream is closed (its hello's are allowed on top
   * until it is out). Default 4 MiB.
   */
  eventBufferLimit?: number;
  /** Clients or streams per SSE snapshot (the REST lists come in pages instead). Default 1000. */
  maxSnapshotItems?: number;
  /** Largest request body, bytes (only the kick reads one); a larger one is answered 413. Default 16 KiB. */
  maxBodyBytes?: number;
  /** Add prom-client's Node.js process metrics (CPU, memory, event loop) to /metrics. Default false. */
  processMetrics?: boolean;
  /**
   * TCP connections open at once; with a token, a new one closes the oldest that has not shown it, without
   * one more are closed as they arrive. Default 64.
   */
  maxConnections?: number;
  /**
   * ms a connection has to send its request headers, counted from the connection (at most 30000). Default
   * 10000.
   */
  headersTimeout?: number;
}

/** Admin options with every default applied. */
export type ResolvedAdminOptions = {
  [K in Exclude<keyof typeof adminDefaults, 'host'>]: (typeof adminDefaults)[K] extends boolean
    ? boolean
    : number;
} & {
  /** Address to bind. */
  host: string;
  /** Bearer token, or undefined for none (loopback only). */
  token: string | undefined;
  /** Host names answered besides loopback ones (hosts.ts); null: any Host. */
  allowedHosts: string[] | null;
};

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1 and `localhost`; false for no string. */
export function isLoopback(host: string): boolean {
  if (typeof host !== 'string') return false;
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  // Every spelling: 127.0.0.0/8, ::1 written out, IPv4-mapped in dotted or hex form (a URL writes
  // ::ffff:127.0.0.1 as [::ffff:7f00:1]).
  const family = isIP(h);
  return family === 4 ? loopbacks.check(h, 'ipv4') : family === 6 && loopbacks.check(h, 'ipv6');
}

const loopbacks = new BlockList();
loopbacks.addSubnet('127.0.0.0', 8, 'ipv4');
loopbacks.addAddress('::1', 'ipv6');

/**
 * The names a server bound to `listen` answers to besides loopback ones (hosts.ts), from the
 * `allowedHosts` option; null for any. Throws ConfigError for a name that is no host name.
 */
function allowedHosts(listen: string, option: unknown): string[] | null {
  if (option === undefined) return isLoopback(listen) ? [] : null;
  if (!Array.isArray(option))
    throw new ConfigError('admin option allowedHosts must be an array of host names');
  const names: string[] = [];
  for (const h of option) {
    if (typeof h !== 'string' || !isHostName(h)) {
      throw new ConfigError(
        `admin option allowedHosts: ${JSON.stringify(h)} is not a host name or address (give no port)`,
      );
    }
    names.push(h.replace(/^\[(.*)\]$/, '$1'));
  }
  // A wildcard address is no name anyone sends.
  if (!isLoopback(listen) && listen !== '0.0.0.0' && listen !== '::') names.push(listen);
  return names;
}

/** Whether `name` is a DNS name or an IP address (IPv6 with or without brackets), without a port. */
export function isHostName(name: string): boolean {
  const bare = name.replace(/^\[(.*)\]$/, '$1');
  return isIP(bare) !== 0 || DNS_NAME.test(bare);
}

/** A DNS name (labels of letters, digits, `-` and `_`), perhaps with the dot that ends it. */
const DNS_NAME = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\.?$/i;

/** ms a request may take to arrive whole, headers and body. */
export const REQUEST_TIMEOUT = 30_000;

const int = (name: string, v: unknown, min: number, max: number): number =>
  checkInt(`admin option ${name}`, v, min, max);

/**
 * Whether `token` can travel as `Authorization: Bearer <token>`: HTTP trims a header's ends, the
 * bearer syntax (auth.ts) ends at white space, control characters are not allowed in a header at
 * all, and beyond ASCII clients disagree (curl and Prometheus send UTF-8, Node reads Latin-1). So
 * printable ASCII without spaces. The server refuses any other token at start, the CLI's clients
 * before they send it.
 */
export function isHeaderToken(token: string): boolean {
  return !/[^\x21-\x7e]/.test(token);
}

/** Throws ConfigError unless `token` is one the server can take: at start, and when it is replaced. */
export function checkToken(token: unknown): asserts token is string {
  if (typeof token !== 'string' || token === '') {
    throw new ConfigError('admin option token must be a non-empty string');
  }
  if (!isHeaderToken(token)) {
    throw new ConfigError(
      'admin option token must be printable ASCII without spaces: an Authorization header carries it',
    );
  }
}

/**
 * Applies defaults and checks every option; throws ConfigError naming the bad one. Options that
 * are no object are refused as every other call's are (checkOptions).
 */
export function validateAdminOptions(o: AdminOptions): ResolvedAdminOptions {
  checkOptions('admin', o);
  if ((o.switcher === undefined) === (o.node === undefined)) {
    throw new ConfigError('admin needs exactly one of the options switcher and node');
  }
  const d = adminDefaults;
  const host = o.host ?? d.host;
  if (typeof host !== 'string' || host === '') throw new ConfigError('admin option host must be a string');
  if (o.token !== undefined) checkToken(o.token);
  if (o.token === undefined && !isLoopback(host)) {
    throw new ConfigError(`admin on ${host} is reachable from other machines: set a token`);
  }
  return {
    host,
    port: int('port', o.port ?? d.port, 0, 65_535),
    token: o.token,
    allowedHosts: allowedHosts(host, o.allowedHosts),
    sampleInterval: int('sampleInterval', o.sampleInterval ?? d.sampleInterval, 10, 3_600_000),
    historySize: int('historySize', o.historySize ?? d.historySize, 2, 100_000),
    itemHistory: int('itemHistory', o.itemHistory ?? d.itemHistory, 2, 10_000),
    pingInterval: int('pingInterval', o.pingInterval ?? d.pingInterval, 0, 3_600_000),
    maxPingedDomains: int('maxPingedDomains', o.maxPingedDomains ?? d.maxPingedDomains, 0, 1_024),
    maxEventStreams: int('maxEventStreams', o.maxEventStreams ?? d.maxEventStreams, 1, 10_000),
    eventBufferLimit: int('eventBufferLimit', o.eventBufferLimit ?? d.eventBufferLimit, 1024, 2 ** 30),
    maxSnapshotItems: int('maxSnapshotItems', o.maxSnapshotItems ?? d.maxSnapshotItems, 1, 1_000_000),
    maxBodyBytes: int('maxBodyBytes', o.maxBodyBytes ?? d.maxBodyBytes, 64, 2 ** 24),
    processMetrics: checkBool('admin option processMetrics', o.processMetrics ?? d.processMetrics),
    maxConnections: int('maxConnections', o.maxConnections ?? d.maxConnections, 1, 1_000_000),
    // At most the request timeout (30 s), as Node requires.
    headersTimeout: int('headersTimeout', o.headersTimeout ?? d.headersTimeout, 100, REQUEST_TIMEOUT),
  };
}
