import v8 from 'node:v8';

/** A V8 flag: its name (`--scavenger-max-new-space-capacity-mb`) and the setting passed to V8. */
export interface GcFlag {
  readonly name: string;
  readonly setting: string;
}

const NODE24: GcFlag = {
  name: '--scavenger-max-new-space-capacity-mb',
  setting: '--scavenger-max-new-space-capacity-mb=8',
};
const NODE26: GcFlag = {
  name: '--external-memory-accounted-in-global-limit',
  setting: '--external-memory-accounted-in-global-limit',
};

/**
 * The V8 flag that gives a process receiving bulk data its cheap collections back, for the V8
 * that runs it, or null where none is needed or known.
 *
 * V8 13.6 (Node.js 24) raised its new-space limit from 8 to 32 MB, and with it the amount of young
 * `ArrayBuffer` memory that triggers a scavenge, from 32 to 128 MB: above the 64 MB of external
 * memory at which V8 starts a full mark-compact (nodejs/node#61967, #63863). Socket read buffers,
 * which a switcher drops as soon as it has forwarded them, are then reclaimed by mark-compacts of
 * the whole heap, one per ~64 MB received, and a receiver with a large heap spends several times
 * the CPU it did on Node 22 (docs/performance.md, "Node.js 24 and 26"). On V8 13 (Node 24) the old
 * new-space limit restores the old behaviour. V8 14 (Node 26) has no such flag; counting external
 * memory within the heap's global limit, which V8 itself later made the default, keeps those
 * mark-compacts for heaps that need them. Node 20 and 22 need neither.
 */
export function gcFlag(v8Version: string): GcFlag | null {
  const [major = 0, minor = 0] = v8Version.split('.').map((n) => Number.parseInt(n, 10));
  if (major === 13 && minor >= 6) return NODE24;
  if (major === 14) return NODE26;
  return null;
}

/** A command-line flag's name as V8 reads it: dashes for underscores, no `--no-`, no value. */
function flagName(arg: string): string {
  const name = arg.split('=', 1)[0]!.replaceAll('_', '-');
  return name.startsWith('--no-') ? `--${name.slice(5)}` : name;
}

/**
 * Sets `gcFlag` in this process (the CLI owns its process; the library never changes V8's flags),
 * unless the command line set that flag itself, either way. Returns the setting made, or null.
 */
export function tuneGarbageCollector(
  execArgv: readonly string[] = process.execArgv,
  v8Version: string = process.versions.v8,
  setFlags: (flags: string) => void = v8.setFlagsFromString,
): string | null {
  const flag = gcFlag(v8Version);
  if (flag === null || execArgv.some((a) => flagName(a) === flag.name)) return null;
  setFlags(flag.setting);
  return flag.setting;
}
