#!/bin/sh
# Long fuzz run by hand: every property in test/fuzz at 50x its CI run count (FLEXMUX_FUZZ_SCALE
# scales numRuns and the per-test time budget; the suites written before the scale existed run at
# their fixed counts). Pass another scale as the first argument, extra vitest options after it:
#   scripts/fuzz-long.sh            # scale 50
#   scripts/fuzz-long.sh 200 -t switcher
set -eu
cd "$(dirname "$0")/.."
SCALE="${1:-50}"
[ $# -gt 0 ] && shift
echo "fuzzing with FLEXMUX_FUZZ_SCALE=$SCALE" >&2
FLEXMUX_FUZZ_SCALE="$SCALE" exec npx vitest run test/fuzz --testTimeout=0 "$@"
