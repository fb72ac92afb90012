#!/usr/bin/env bash
# Queue B (PLAN.md): the MF x yelp2018 selector cell with the default (warm) retrain, 3 seeds
# (seed 1 ran on v19 in sessions 10-11 and is skipped; the sweep, its ground truth, is recorded), about 2 h
# of one core a seed. v21 records the seconds of every process of a resumed search.
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v21/autosample"
python3 benchmarks/selector/run_selector.py --models mf --datasets yelp2018 --space-set large --strategies evidence-6r-peak-warm
echo "queue B done"
