#!/usr/bin/env bash
# Queue A (PLAN.md): LightGCN x ml-1m warm seed 2 (about 1.5 h of one core), then MF x gowalla
# warm seeds 1 and 3 (about 1 h of one core each). Queue B takes the other seeds, so the two
# never run the same search directory. v21 records the seconds of every process of a resumed
# search; v19 counted only the last one.
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v21/autosample"
python3 benchmarks/selector/run_selector.py --models lightgcn --datasets ml-1m-diffrec-clean --seeds 2 --strategies evidence-6r-peak-warm
python3 benchmarks/selector/run_selector.py --models mf --datasets gowalla --space-set large --seeds 1 3 --strategies evidence-6r-peak-warm
echo "queue A done"
