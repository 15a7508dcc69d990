#!/usr/bin/env bash
# Runs the shared mux-bench harness (../shared/bench) with our flexmux adapter, in one command:
# builds dist/, copies the read-only harness to a temp dir, `npm ci` there, runs bench.mjs and
# writes the report and raw JSON to bench/results/ (git-ignored), with issue 5's targets checked
# as medians of within-run ratios (bench/targets.mjs) at the end of the report.
#
#   bench/run-shared.sh                      # full suite, 3 runs per cell (~6-8 min on 2 cores)
#   bench/run-shared.sh --quick              # scaled down, 1 run per cell (~1.5 min)
#   bench/run-shared.sh --scenarios S1,S5 --runs 5
#   ADAPTERS=yamux,tcp bench/run-shared.sh   # other rows next to flexmux
#
# Extra arguments go to bench.mjs unchanged. Environment: HARNESS (harness source dir, default
# ../shared/bench next to the repo), ADAPTERS (rows next to flexmux, default yamux,tcp,http2-tuned),
# TIMEOUT (seconds for the whole run, default 1800), KEEP=1 (keep the temp copy).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
harness="${HARNESS:-$repo/../shared/bench}"
adapters="$repo/bench/adapters/flexmux.mjs,${ADAPTERS:-yamux,tcp,http2-tuned}"
limit="${TIMEOUT:-1800}"
results="$repo/bench/results"

[ -f "$harness/bench.mjs" ] || { echo "harness not found at $harness (set HARNESS)" >&2; exit 2; }
mkdir -p "$results"

echo "== building flexmux dist/" >&2
(cd "$repo" && npm run build --silent)

work="$(mktemp -d "${TMPDIR:-/tmp}/flexmux-bench.XXXXXX")"
bench_pid=""
cleanup() {
  # bench.mjs kills its own client/server children on SIGTERM.
  if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then kill -TERM "$bench_pid" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = "1" ]; then echo "kept harness copy: $work/bench" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== copying harness to $work/bench and installing its pinned dependencies" >&2
cp -r "$harness" "$work/bench"
chmod -R u+w "$work/bench"
(cd "$work/bench" && npm ci --no-audit --no-fund --loglevel=error >&2)

mode=full
for a in "$@"; do [ "$a" = "--quick" ] && mode=quick; done
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
report="$results/shared-$mode-$stamp.md"
json="$results/shared-$mode-$stamp.json"

# The VM may be shared with other work; record its load so noisy runs can be recognised.
load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "== running bench.mjs ($mode), load average before: $load_before" >&2
cd "$work/bench"
timeout --signal=TERM --kill-after=15 "$limit" \
  node --expose-gc bench.mjs --adapters "$adapters" --report "$report" --json "$json" "$@" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=""
load_after="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
if [ -f "$report" ]; then
  printf '\nLoad average (1/5/15 min) before: %s, after: %s. Command: bench/run-shared.sh %s\n' \
    "$load_before" "$load_after" "$*" >>"$report"
  if [ -f "$json" ]; then
    # Issue 5's targets: each ratio within one run, then the median over runs (bench/targets.mjs).
    { printf '\n## Targets (median of within-run ratios)\n\n'; node "$repo/bench/targets.mjs" "$json"; } >>"$report"
  fi
  echo "== report: $report" >&2
  echo "== raw:    $json" >&2
fi
exit "$status"
