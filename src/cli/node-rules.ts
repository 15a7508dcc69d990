import type * as net from 'node:net';
import type { Command } from 'commander';
import type { Logger } from '../util/logger.js';
import { readConfigSettings } from './config-file.js';
import { envName } from './options.js';
import { type Expose, type Forward, formatHostPort } from './parse.js';
import type { Reloadable, ReloadPlan } from './reload.js';

/**
 * The `expose` and `forward` rules of `flexmux node`, as served now, and what SIGHUP changes in
 * them when they come from the config file: a restart to add or remove a service dropped the
 * node's connection and every tunnel through it. A reload applies the difference only: a port
 * whose rule is unchanged keeps its listener, one whose target changed keeps it too and sends its
 * next stream or connection to the new target, one removed stops listening (what is open through
 * it stays until it ends), one added starts.
 */

/** How the node serves one rule (node.ts: serveExpose, listenForward). */
export interface RuleServing {
  /**
   * Starts serving virtual port `e.port`, reading `e.target` for each stream (a reload changes it
   * in place); logs `exposing`. Close what it returns to stop.
   */
  expose(e: Expose): { close(): void };
  /**
   * Binds the local listener of `f`, reading `f.domain` and `f.port` for each connection; throws
   * when it cannot bind, and logs nothing (the caller says `forwarding` once it keeps it). With
   * `admitted`, each connection waits for it: true serves it, false closes it.
   */
  forward(f: Forward, admitted?: Promise<boolean>): Promise<net.Server>;
}

/** A virtual port served: the rule (its target read per stream) and its listener. */
interface Exposing {
  rule: Expose;
  listener: { close(): void };
}

interface Forwarding {
  /** The rule this listener serves, read per connection: a reload retargets it in place. */
  rule: Forward;
  server: net.Server;
  listen: string;
}

/** The lists a reload gives; a list left out is kept as it is (it came from a flag or variable). */
export interface NextRules {
  expose?: readonly Expose[];
  forward?: readonly Forward[];
}

const exposeTarget = (e: Expose): string => formatHostPort(e.target);

/** `domain:port`, where a forward rule sends its connections. */
export const forwardTarget = (f: Forward): string => `${f.domain}:${f.port}`;

/** Where `server` listens, as `host:port` (the port bound, also for port 0). */
export function listenAddress(server: net.Server): string {
  const a = server.address() as net.AddressInfo;
  return formatHostPort({ host: a.address, port: a.port });
}

/** Why `expose` and `forward` cannot be served together, or undefined when they can. */
export function rulesProblem(expose: readonly Expose[], forward: readonly Forward[]): string | undefined {
  const ports = new Set<number>();
  for (const e of expose) {
    if (ports.has(e.port)) return `virtual port ${e.port} is exposed twice`;
    ports.add(e.port);
  }
  // Port 0 picks a free port for each rule: any number of them can listen.
  const local = new Set<number>();
  for (const f of forward) {
    if (f.localPort !== 0 && local.has(f.localPort)) return `local port ${f.localPort} is forwarded twice`;
    local.add(f.localPort);
  }
  return undefined;
}

export class NodeRules {
  private readonly exposed = new Map<number, Exposing>();
  private forwarded: Forwarding[] = [];
  private stopped = false;

  constructor(
    private readonly serving: RuleServing,
    private readonly logger: Logger,
  ) {}

  /**
   * Binds the forward listeners given at start, one after the other; the first that cannot bind
   * throws (those bound stay here, for close()). Stopped meanwhile, it closes the listener it was
   * binding and binds no more.
   */
  async startForwarding(list: readonly Forward[]): Promise<void> {
    for (const f of list) {
      const rule = { ...f };
      const server = await this.serving.forward(rule);
      // close() came while this one was binding: it closed those it knew of, not this one, which
      // would otherwise listen on after the node stopped.
      if (this.stopped) {
        server.close();
        return;
      }
      this.keepForward(rule, server);
    }
  }

  /** Serves the virtual ports given at start. */
  startExposing(list: readonly Expose[]): void {
    for (const e of list) this.addExpose(e);
  }

  /** The rules served now (tests, and the reload's comparison). */
  get rules(): { expose: Expose[]; forward: Forward[] } {
    return {
      expose: [...this.exposed.values()].map((x) => ({ ...x.rule, target: { ...x.rule.target } })),
      forward: this.forwarded.map((x) => ({ ...x.rule })),
    };
  }

  /**
   * Serves `next` instead of the rules served now, and resolves whether anything changed. All of
   * it or none: the lists are checked together, and every new forward listener is bound before
   * anything is changed, then every new virtual port listened on; one that fails closes those
   * bound and listened on and throws, the old rules served on as they were. A new listener serves
   * no connection before the reload is applied: one accepted meanwhile waits, and is closed if
   * the reload fails (its rule was never served). The new virtual ports and the commit that
   * follows run without a pause, so no stream reaches a port that is then closed again.
   */
  async apply(next: NextRules): Promise<boolean> {
    if (this.stopped) throw new Error('the node is stopping');
    const expose = next.expose ?? this.rules.expose;
    const forward = next.forward ?? this.rules.forward;
    const problem = rulesProblem(expose, forward);
    if (problem !== undefined) throw new Error(problem);
    const plan = this.forwardPlan(forward);
    const bound: { rule: Forward; server: net.Server }[] = [];
    let admit = (_ok: boolean): void => {};
    const admitted = new Promise<boolean>((resolve) => {
      admit = resolve;
    });
    // Every step that can fail comes first, each undone if a later one fails: the forward
    // listeners are bound, then the new virtual ports are listened on (session.listen throws on a
    // session closed meanwhile). Only then is anything the old rules serve changed, by steps that
    // cannot fail, so the log's "kept the old rules" is true whenever this throws.
    const added: Exposing[] = [];
    try {
      for (const f of plan.added) {
        const rule = { ...f };
        bound.push({ rule, server: await this.serving.forward(rule, admitted) });
      }
      // Stopped while binding: the shutdown closed the listeners it knew of, not these.
      if (this.stopped) throw new Error('the node is stopping');
      for (const e of expose) {
        if (this.exposed.has(e.port)) continue;
        const rule = { port: e.port, target: { ...e.target } };
        added.push({ rule, listener: this.serving.expose(rule) });
      }
    } catch (err) {
      // A connection accepted by a listener bound before the failure is closed, not forwarded by
      // a rule the log says was not applied.
      admit(false);
      for (const b of bound) b.server.close();
      // serving.expose said `exposing` for these: say they stopped, as they did.
      for (const a of added) {
        a.listener.close();
        this.logger.info({ port: a.rule.port, target: exposeTarget(a.rule) }, 'stopped exposing');
      }
      throw err;
    }
    // Nothing below fails: from here the new rules are served whole.
    let changed = bound.length > 0 || plan.removed.length > 0 || added.length > 0;
    for (const x of plan.removed) {
      x.server.close();
      this.forwarded = this.forwarded.filter((y) => y !== x);
      this.logger.info({ listen: x.listen, target: forwardTarget(x.rule) }, 'stopped forwarding');
    }
    for (const [x, f] of plan.kept) {
      if (x.rule.localPort !== f.localPort) {
        x.rule.localPort = f.localPort;
        changed = true;
      }
      if (forwardTarget(f) === forwardTarget(x.rule)) continue;
      const was = forwardTarget(x.rule);
      x.rule.domain = f.domain;
      x.rule.port = f.port;
      changed = true;
      this.logger.info({ listen: x.listen, target: forwardTarget(f), was }, 'forwarding');
    }
    for (const b of bound) this.keepForward(b.rule, b.server);
    admit(true);
    return this.changeExposes(expose, added) || changed;
  }

  /** Stops every forward listener, and any a reload binds from now on (the node is stopping). */
  close(): void {
    this.stopped = true;
    for (const x of this.forwarded) x.server.close();
    this.forwarded = [];
  }

  private keepForward(rule: Forward, server: net.Server): void {
    const listen = listenAddress(server);
    this.forwarded.push({ rule, server, listen });
    this.logger.info({ listen, target: forwardTarget(rule) }, 'forwarding');
  }

  /**
   * Which listeners `forward` keeps (a rule on the port one listens on, perhaps with a new
   * target), closes and adds. A rule on port 0 has no port to go by: one with the same target
   * keeps such a listener. A rule naming the port a port-0 rule was given keeps its listener (a
   * new one could not bind it).
   */
  private forwardPlan(forward: readonly Forward[]): {
    kept: [Forwarding, Forward][];
    removed: Forwarding[];
    added: Forward[];
  } {
    const left = [...this.forwarded];
    const kept: [Forwarding, Forward][] = [];
    const added: Forward[] = [];
    const take = (match: (x: Forwarding) => boolean): Forwarding | undefined => {
      const i = left.findIndex(match);
      return i < 0 ? undefined : left.splice(i, 1)[0];
    };
    for (const f of forward) {
      const x =
        f.localPort === 0
          ? take((y) => y.rule.localPort === 0 && forwardTarget(y.rule) === forwardTarget(f))
          : (take((y) => y.rule.localPort === f.localPort) ??
            take((y) => (y.server.address() as net.AddressInfo | null)?.port === f.localPort));
      if (x === undefined) added.push(f);
      else kept.push([x, f]);
    }
    return { kept, removed: left, added };
  }

  private addExpose(e: Expose): void {
    const rule = { port: e.port, target: { ...e.target } };
    this.exposed.set(e.port, { rule, listener: this.serving.expose(rule) });
  }

  /**
   * Serves `expose` instead of the virtual ports served now, `added` (those it adds) already
   * listening; whether anything changed besides them. Cannot fail.
   */
  private changeExposes(expose: readonly Expose[], added: readonly Exposing[]): boolean {
    let changed = false;
    const wanted = new Map(expose.map((e) => [e.port, e]));
    for (const [port, x] of [...this.exposed]) {
      if (wanted.has(port)) continue;
      // Closing a listener refuses new streams (`no-listener`); those it handed out stay.
      x.listener.close();
      this.exposed.delete(port);
      changed = true;
      this.logger.info({ port, target: exposeTarget(x.rule) }, 'stopped exposing');
    }
    for (const e of expose) {
      const x = this.exposed.get(e.port);
      if (x === undefined || exposeTarget(x.rule) === exposeTarget(e)) continue;
      const was = exposeTarget(x.rule);
      x.rule.target = { ...e.target };
      changed = true;
      this.logger.info({ port: e.port, target: exposeTarget(e), was }, 'exposing');
    }
    for (const a of added) this.exposed.set(a.rule.port, a);
    return changed;
  }
}

/**
 * What SIGHUP does with the rules of `cmd` (the node command, its settings resolved): the lists
 * the config file `file` gave, or gives now, are read from it again; a list from a flag or an
 * environment variable won over the file at start and wins still: it is left as it is, and the
 * reload's log line says so. Nothing else in the file is read again.
 */
export function nodeRulesPlan(cmd: Command, file: string | undefined, rules: NodeRules): ReloadPlan {
  const notReloaded: string[] = [];
  const fromFile: ('expose' | 'forward')[] = [];
  for (const key of ['expose', 'forward'] as const) {
    const source = cmd.getOptionValueSource(key);
    if (source === 'cli') notReloaded.push(`${key} (from --${key})`);
    else if (source === 'env') notReloaded.push(`${key} (from ${envName(`--${key}`)})`);
    else if (file !== undefined) fromFile.push(key);
  }
  if (file === undefined || fromFile.length === 0) return { items: [], notReloaded };
  return { items: [rulesReload(cmd, file, fromFile, rules)], notReloaded };
}

function rulesReload(
  cmd: Command,
  file: string,
  lists: readonly ('expose' | 'forward')[],
  rules: NodeRules,
): Reloadable {
  return {
    what: `${lists.join(' and ')} rules`,
    files: [file],
    async reload(config) {
      // The whole file is checked as at start: one that would not start the node is not used.
      const settings = readConfigSettings(cmd, file, [], config(file));
      const next: NextRules = {};
      // A list the file no longer gives is empty, as it would be at start.
      if (lists.includes('expose')) next.expose = (settings.get('expose') as Expose[] | undefined) ?? [];
      if (lists.includes('forward')) next.forward = (settings.get('forward') as Forward[] | undefined) ?? [];
      return rules.apply(next);
    },
  };
}
