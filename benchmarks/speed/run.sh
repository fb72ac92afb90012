#!/usr/bin/env bash
# Training and evaluation speed of autosample vs the Python library `implicit` 0.7.3, on the same
# data, in one run. See benchmarks/speed/README.md.
#
#   bash benchmarks/speed/run.sh [dataset ...]      (default: ml-1m-diffrec-clean gowalla)
#
# Environment:
#   AUTOSAMPLE_DATA_DIR  where the datasets live (default: <repo>/../shared/data)
#   AUTOSAMPLE_BIN       our binary (default: <repo>/target/release/autosample; built if missing)
#   BENCH_EPOCHS         epochs for every dataset (default: 20, gowalla 10)
#   BENCH_REPEATS        train+evaluate each system N times, medians reported (default 1)
#   BENCH_MACHINE        machine label in the output path (default: hostname, or "<nproc>cpu")
#   BENCH_OUT            output directory (default: benchmarks/runs/<YYYY-MM-DD>-<machine>/speed)
#   PYTHON               interpreter for the virtualenv (default: python3)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"

COMMAND="bash benchmarks/speed/run.sh${*:+ $*}"
for v in AUTOSAMPLE_DATA_DIR AUTOSAMPLE_BIN BENCH_EPOCHS BENCH_REPEATS BENCH_MACHINE BENCH_OUT; do
    if [[ -n "${!v:-}" ]]; then COMMAND="$v=${!v} $COMMAND"; fi
done

if [[ $# -gt 0 ]]; then DATASETS=("$@"); else DATASETS=(ml-1m-diffrec-clean gowalla); fi

# ---- data (read in place; never copied into the repo) ----------------------------------------
DATA_DIR=${AUTOSAMPLE_DATA_DIR:-$REPO/../shared/data}
if [[ ! -d "$DATA_DIR" ]]; then
    echo "speed benchmark skipped: no data directory at $DATA_DIR (set AUTOSAMPLE_DATA_DIR to the folder holding ${DATASETS[*]})."
    exit 0
fi
DATA_DIR=$(cd "$DATA_DIR" && pwd)
PRESENT=()
for ds in "${DATASETS[@]}"; do
    if [[ -d "$DATA_DIR/$ds" ]]; then
        PRESENT+=("$ds")
    else
        echo "speed benchmark: skipping $ds: $DATA_DIR/$ds not found."
    fi
done
if [[ ${#PRESENT[@]} -eq 0 ]]; then
    echo "speed benchmark skipped: none of ${DATASETS[*]} is under $DATA_DIR."
    exit 0
fi

# ---- Python side: benchmarks/.venv with implicit 0.7.3 ---------------------------------------
VENV=$REPO/benchmarks/.venv
PY=$VENV/bin/python
if [[ ! -x "$PY" ]]; then
    echo "creating $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$PY" -c 'import implicit, numpy, scipy, threadpoolctl; assert implicit.__version__ == "0.7.3"' 2>/dev/null; then
    echo "installing implicit 0.7.3 into $VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
fi

# ---- our binary ------------------------------------------------------------------------------
BUILT=no
BIN=${AUTOSAMPLE_BIN:-$REPO/target/release/autosample}
if [[ ! -x "$BIN" ]]; then
    if [[ -n "${AUTOSAMPLE_BIN:-}" ]]; then
        echo "AUTOSAMPLE_BIN=$AUTOSAMPLE_BIN is not an executable" >&2
        exit 1
    fi
    echo "building our release binary (cargo build --release -p autosample-cli)"
    cargo build --release -p autosample-cli
    BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/autosample
    BUILT=yes
fi

# ---- output ----------------------------------------------------------------------------------
NPROC=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
MACHINE=${BENCH_MACHINE:-$(hostname -s 2>/dev/null || true)}
case "$MACHINE" in
    "" | localhost | vm | "(none)" | ubuntu | debian) MACHINE="${NPROC}cpu" ;;
esac
OUT=${BENCH_OUT:-$REPO/benchmarks/runs/$(date +%F)-$MACHINE/speed}
mkdir -p "$OUT" "$REPO/benchmarks/work"
rm -f "$OUT/raw.csv" "$OUT/summary.md" "$OUT/SETUP.md"

# ---- SETUP.md --------------------------------------------------------------------------------
{
    echo "# Speed benchmark setup"
    echo
    echo "- started: $(date -u +%FT%TZ)"
    echo "- command (from the repository root): \`$COMMAND\`"
    echo "- git commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    dirty=$(git --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | wc -l || true)
    echo "- tracked files modified in the work tree: ${dirty:-unknown}"
    echo
    echo "## Machine"
    echo
    echo "- nproc: $NPROC"
    echo "- CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
    echo "- memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
    echo "- OS: $(uname -srm)"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
    for v in OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS RAYON_NUM_THREADS; do
        if [[ -n "${!v:-}" ]]; then echo "- $v=${!v}"; fi
    done
    echo
    echo "## autosample"
    echo
    echo "- rustc: $(rustc --version 2>/dev/null || echo 'not found')"
    echo "- cargo: $(cargo --version 2>/dev/null || echo 'not found')"
    echo "- binary: ${BIN#"$REPO"/} ($("$BIN" --version 2>/dev/null || echo 'version unknown')), modified $(date -u -r "$BIN" +%FT%TZ), built by this script: $BUILT"
    newer=$(find "$REPO/crates" "$REPO/Cargo.toml" "$REPO/Cargo.lock" -newer "$BIN" -type f 2>/dev/null | head -3 | sed "s|$REPO/||" | tr '\n' ' ')
    if [[ -n "$newer" ]]; then
        echo "- WARNING: sources newer than the binary (e.g. $newer); rebuild for numbers of the current tree"
    fi
    echo
    echo "## Python"
    echo
    echo "- python: $("$PY" -c 'import platform; print(platform.python_implementation(), platform.python_version())')"
    echo "- packages: $("$PY" -m pip freeze --disable-pip-version-check 2>/dev/null | grep -Ei '^(implicit|numpy|scipy|threadpoolctl)==' | tr '\n' ' ')"
    echo "- thread pools after import: $("$PY" -c 'import implicit.cpu.bpr, threadpoolctl; print("; ".join("%s=%s" % (p.get("internal_api"), p.get("num_threads")) for p in threadpoolctl.threadpool_info()))' 2>/dev/null || echo unknown)"
    echo
    echo "## Data (read in place, not copied)"
    echo
    for ds in "${PRESENT[@]}"; do
        for f in "$DATA_DIR/$ds"/{train,valid,test}.{tsv,txt}; do
            if [[ -f "$f" ]]; then
                echo "- $ds/$(basename "$f"): sha256 $(sha256sum "$f" | cut -d' ' -f1)"
            fi
        done
    done
} >"$OUT/SETUP.md"

# ---- run -------------------------------------------------------------------------------------
for ds in "${PRESENT[@]}"; do
    args=(run "$DATA_DIR/$ds" --name "$ds" --bin "$BIN" --work "$REPO/benchmarks/work"
          --raw "$OUT/raw.csv" --repeats "${BENCH_REPEATS:-1}")
    if [[ -n "${BENCH_EPOCHS:-}" ]]; then args+=(--epochs "$BENCH_EPOCHS"); fi
    "$PY" "$HERE/compare_implicit.py" "${args[@]}"
done
"$PY" "$HERE/compare_implicit.py" summarize --raw "$OUT/raw.csv" --out "$OUT/summary.md"
printf '\n## End\n\n- finished: %s\n' "$(date -u +%FT%TZ)" >>"$OUT/SETUP.md"

if grep -q '^autosample,.*_error,' "$OUT/raw.csv"; then
    echo "WARNING: some autosample steps failed; see the Problems section of $OUT/summary.md"
fi
echo "results: ${OUT#"$REPO"/}/{raw.csv,summary.md,SETUP.md}"
