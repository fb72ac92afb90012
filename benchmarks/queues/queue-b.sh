#!/usr/bin/env bash
# Queue B (PLAN.md): MF x yelp2018 warm seed 3 (about 1 h of one core; seeds 1-2 are recorded),
# then LightGCN x ml-1m warm seed 3 (about 1.5 h), then MF x gowalla warm seed 2. Queue A takes
# the other seeds, so the two never run the same search directory.
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v21/autosample"
python3 benchmarks/selector/run_selector.py --models mf --datasets yelp2018 --space-set large --seeds 3 --strategies evidence-6r-peak-warm
python3 benchmarks/selector/run_selector.py --models lightgcn --datasets ml-1m-diffrec-clean --seeds 3 --strategies evidence-6r-peak-warm
python3 benchmarks/selector/run_selector.py --models mf --datasets gowalla --space-set large --seeds 2 --strategies evidence-6r-peak-warm
echo "queue B done"
