#!/usr/bin/env bash
# Builds the `ebsim` binary (release) of an earlier revision, for old-against-new runs, in a
# scratch git worktree with its own target dir (target-ab-old/, ignored by git); prints the
# binary's path on the last line.
#   bench/build-baseline.sh OLD_REV
set -euo pipefail
cd "$(dirname "$0")/.."
OLD_REV=${1:?usage: bench/build-baseline.sh OLD_REV}
root=$(pwd)
tree=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"' EXIT
git worktree add -q --detach "$tree" "$OLD_REV"
(cd "$tree" && CARGO_TARGET_DIR="$root/target-ab-old" cargo build --release -q --bin ebsim -p ebsim)
echo "$root/target-ab-old/release/ebsim"
