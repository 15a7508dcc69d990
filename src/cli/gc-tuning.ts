import v8 from 'node:v8';

/** The V8 flag that `tuneGarbageCollector` sets, without its value. */
export const YOUNG_GENERATION_FLAG = '--scavenger-max-new-space-capacity-mb';

/**
 * The V8 flag that gives a process receiving bulk data its cheap collections back, for the V8
 * that runs it, or null where none is needed or known.
 *
 * V8 13.6 (Node.js 24) raised its new-space limit from 8 to 32 MB, and with it the amount of young
 * `ArrayBuffer` memory that triggers a scavenge, from 32 to 128 MB: above the 64 MB of external
 * memory at which V8 starts a full mark-compact (nodejs/node#61967, #63863). Socket read buffers,
 * which a switcher drops as soon as it has forwarded them, are then reclaimed by mark-compacts of
 * the whole heap, one per ~64 MB received. With 200 MB of other live objects, a receiver on
 * Node 24 took 1.3-1.5 s of CPU per 512 MiB instead of 0.2-0.3 s with this flag
 * (`bench/gcread.mjs --heap 200`, docs/performance.md "Node.js 24 and 26"). Node 20 and 22 do not
 * need it; Node 26's V8 has no such flag, and none of its other flags helped.
 */
export function youngGenerationFlag(v8Version: string): string | null {
  const [major = 0, minor = 0] = v8Version.split('.').map((n) => Number.parseInt(n, 10));
  return major === 13 && minor >= 6 ? `${YOUNG_GENERATION_FLAG}=8` : null;
}

/**
 * Sets `youngGenerationFlag` in this process (the CLI owns its process; the library never changes
 * V8's flags), unless the command line set that flag itself. Returns the flag set, or null.
 */
export function tuneGarbageCollector(
  execArgv: readonly string[] = process.execArgv,
  v8Version: string = process.versions.v8,
  setFlags: (flags: string) => void = v8.setFlagsFromString,
): string | null {
  const flag = youngGenerationFlag(v8Version);
  if (flag === null || execArgv.some((a) => a.startsWith(YOUNG_GENERATION_FLAG))) return null;
  setFlags(flag);
  return flag;
}
