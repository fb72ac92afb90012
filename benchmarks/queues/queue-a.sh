#!/usr/bin/env bash
# Queue A (PLAN.md): the wall-time cost of the warm default on its three pairs (about 1.2 h of
# one core; first, since it completes a record within a session), then the LightGCN x ml-1m
# selector cell with the default (warm) retrain (about 1.5 h of one core a seed).
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v19/autosample"
python3 benchmarks/selector/cost.py --strategy evidence-6r-peak-warm
python3 benchmarks/selector/run_selector.py --models lightgcn --datasets ml-1m-diffrec-clean --strategies evidence-6r-peak-warm
echo "queue A done"
