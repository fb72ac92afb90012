#!/usr/bin/env bash
# Builds the release binary of one commit into a pinned copy that long benchmark queues use
# (AUTOSAMPLE_BIN), so that rebuilding target/ cannot change the code of runs still to come.
#
# Usage: bash benchmarks/queues/pin_binary.sh NAME COMMIT
#   writes $AUTOSAMPLE_BIN_DIR/NAME/autosample (default /work/autosample-bench-bin beside the
#   repository's parent); does nothing if it is there and was built from COMMIT.
# The commit is checked out in a detached worktree under ../bench-src/NAME and built with the
# repository's target directory, so the compiled dependencies are shared (about 3 minutes on 2
# cores once target/ has a release build; 8 cold).
set -euo pipefail
name="${1:?usage: pin_binary.sh NAME COMMIT}"; commit="${2:?usage: pin_binary.sh NAME COMMIT}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bins="${AUTOSAMPLE_BIN_DIR:-$(dirname "$repo")/autosample-bench-bin}"
src="$(dirname "$repo")/bench-src/$name"
full="$(git -C "$repo" rev-parse --verify "$commit^{commit}")"
if [ -x "$bins/$name/autosample" ] && [ "$(cat "$bins/$name/COMMIT" 2>/dev/null)" = "$full" ]; then
  echo "$bins/$name/autosample: built from $full already"; exit 0
fi
if [ ! -d "$src" ]; then git -C "$repo" worktree add --detach "$src" "$full"; fi
git -C "$src" checkout -q --detach "$full"
(cd "$src" && CARGO_TARGET_DIR="$repo/target" cargo build --release -p autosample-cli)
mkdir -p "$bins/$name"
cp "$repo/target/release/autosample" "$bins/$name/autosample"
echo "$full" > "$bins/$name/COMMIT"
echo "pinned $bins/$name/autosample ($full)"
