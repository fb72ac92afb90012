#!/usr/bin/env bash
# Queue B (PLAN.md): LightGCN x ml-1m warm seed 3 (about 1.5 h of one core), then MF x gowalla
# warm seed 2. Queue A takes the other seeds, so the two never run the same search directory.
# MF x yelp2018 seed 3, this queue's first cell, was recorded in session 12. The LightGCN search
# runs on two threads (results do not depend on the thread count): in session 12 it was
# restarted so, from its round-3 checkpoint, to end within the session.
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v21/autosample"
RAYON_NUM_THREADS=2 python3 benchmarks/selector/run_selector.py --models lightgcn --datasets ml-1m-diffrec-clean --seeds 3 --strategies evidence-6r-peak-warm
python3 benchmarks/selector/run_selector.py --models mf --datasets gowalla --space-set large --seeds 2 --strategies evidence-6r-peak-warm
echo "queue B done"
