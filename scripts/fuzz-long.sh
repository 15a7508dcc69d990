#!/bin/sh
# Long fuzz run by hand: every property in test/fuzz at 50x its CI run count (FLEXMUX_FUZZ_SCALE
# scales numRuns and the per-test time budget; the suites written before the scale existed run at
# their fixed counts). Pass another scale as the first argument, extra vitest options after it:
#   scripts/fuzz-long.sh            # scale 50
#   scripts/fuzz-long.sh 200 -t switcher
# At scale 200 a synchronous property can keep a vitest worker busy for over a minute, and vitest
# then reports an unhandled `[vitest-worker]: Timeout calling "onTaskUpdate"` and exits 1 although
# every test passed (seen 2026-11-25: 22 of 22 passed in 649 s): read the test lines, not only the
# exit code.
set -eu
cd "$(dirname "$0")/.."
SCALE="${1:-50}"
[ $# -gt 0 ] && shift
echo "fuzzing with FLEXMUX_FUZZ_SCALE=$SCALE" >&2
FLEXMUX_FUZZ_SCALE="$SCALE" exec npx vitest run test/fuzz --testTimeout=0 "$@"
