#!/usr/bin/env bash
# Queue A (PLAN.md): the LightGCN x ml-1m selector cell with the default (warm) retrain, 3 seeds
# (seed 1 ran on v19 in sessions 10-11 and is skipped), about 1.5 h of one core a seed; then the MF x
# gowalla warm cell (about 1-1.5 h a seed). v21 records the seconds of every process of a
# resumed search; v19 counted only the last one.
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v21/autosample"
python3 benchmarks/selector/run_selector.py --models lightgcn --datasets ml-1m-diffrec-clean --strategies evidence-6r-peak-warm
python3 benchmarks/selector/run_selector.py --models mf --datasets gowalla --space-set large --strategies evidence-6r-peak-warm
echo "queue A done"
