#!/usr/bin/env bash
# Queue A (PLAN.md): the LightGCN x ml-1m selector cell with the default (warm) retrain, then
# the wall-time cost of the warm default on its three pairs.
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v19/autosample"
python3 benchmarks/selector/run_selector.py --models lightgcn --datasets ml-1m-diffrec-clean --strategies evidence-6r-peak-warm
python3 benchmarks/selector/cost.py --strategy evidence-6r-peak-warm
echo "queue A done"
