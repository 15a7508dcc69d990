#!/usr/bin/env bash
# Every flexmux benchmark in one command (about 10 minutes on 2 cores): the direct node-to-node
# comparison with raw TCP, the shared multiplexer harness (flexmux vs libp2p-yamux, http2-tuned,
# raw TCP), how much of the harness's S5 is a cold server process (bench/warmup.mjs), the
# three-process relay through a switcher vs a plain TCP relay, and the 1,000-node scale run. Each writes JSON with the machine, Node version and load average to bench/results/
# (the shared run's report ends with issue 5's targets, bench/targets.mjs). First, flexmux's own
# CPU per MiB without sockets (bench/jscost.mjs, printed only), and what importing the package
# costs a fresh process (bench/startup.mjs), and what early data saves per request on a link
# with latency (bench/earlyopen.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
node bench/jscost.mjs
node bench/startup.mjs
node bench/earlyopen.mjs
node bench/direct.mjs
bash bench/run-shared.sh "$@"
node bench/warmup.mjs
node bench/relay.mjs
node bench/scale.mjs
