#!/usr/bin/env bash
# Starts the benchmark queues of benchmarks/PLAN.md in the background, one process group each,
# single-threaded (RAYON_NUM_THREADS=1: four queues share the 2 cores; results do not depend on
# the thread count). Each queue is a file queue-*.sh beside this one; it is copied to the work
# directory and run from the copy, since bash reads a script as it runs and a checkout or an
# edit of the repository's file would otherwise change the commands still to come.
#
# Usage: bash benchmarks/queues/start.sh [queue ...]    (default: every queue-*.sh here)
# Logs: $AUTOSAMPLE_BENCH_WORK/queues/<queue>.log (default ../autosample-bench-work). Stop one
# with `kill -- -<pgid>` (its pid file holds the pgid). Every command in a queue skips what is
# recorded and resumes what was interrupted, so starting a queue again continues it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(cd "$here/../.." && pwd)"
work="${AUTOSAMPLE_BENCH_WORK:-$(dirname "$repo")/autosample-bench-work}/queues"
bins="${AUTOSAMPLE_BIN_DIR:-$(dirname "$repo")/autosample-bench-bin}"
export AUTOSAMPLE_BIN_DIR="$bins"   # one place for the default: pin_binary.sh and the queues read it
mkdir -p "$work"
# The pinned binary the queues name (PLAN.md, "Binaries").
# Only the binaries a queue runs are built (each build takes 3-8 minutes of both cores); v19 =
# 25e9084 and v20 = 6e84e95 made earlier rows and no queue runs them now: pin them by hand with
# pin_binary.sh to rerun one of those rows.
bash "$here/pin_binary.sh" v21 d00f0a3   # the cells started from session 11 on (seconds across resumes)
queues=("$@"); [ ${#queues[@]} -eq 0 ] && queues=($(cd "$here" && ls queue-*.sh | sed 's/\.sh$//'))
for q in "${queues[@]}"; do
  if [ -f "$work/$q.pid" ] && kill -0 "$(cat "$work/$q.pid")" 2>/dev/null; then
    echo "$q: running already (pgid $(cat "$work/$q.pid"))"; continue
  fi
  cp "$here/$q.sh" "$work/$q.sh"
  setsid nohup env RAYON_NUM_THREADS=1 REPO="$repo" bash "$work/$q.sh" >> "$work/$q.log" 2>&1 < /dev/null &
  echo $! > "$work/$q.pid"
  echo "$q: started (pgid $!), log $work/$q.log"
done
