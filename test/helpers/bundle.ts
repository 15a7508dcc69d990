import { buildSync } from 'esbuild';

/**
 * Bundles a source entry into one ESM file for Node 20 with its packages left to node_modules, as
 * dist/ resolves them: a child process can then run the code without a tsc build.
 */
export function bundleForNode(entry: string, outfile: string): void {
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
}
