// Issue 5's targets from a shared-harness JSON, each ratio taken within one run and the median
// over runs: `node bench/targets.mjs bench/results/shared-full-<stamp>.json` prints a markdown
// table (bench/run-shared.sh appends it to its report). See lib/targets.mjs for the method.
import fs from 'node:fs';
import { evaluateTargets, renderTargets } from './lib/targets.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/targets.mjs RESULTS.json');
  process.exit(2);
}
const rows = evaluateTargets(JSON.parse(fs.readFileSync(file, 'utf8')));
console.log(rows.length > 0 ? renderTargets(rows) : 'no target cells in this run (flexmux and its anchors)');
