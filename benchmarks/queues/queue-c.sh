#!/usr/bin/env bash
# Queue C (PLAN.md): the MF x gowalla cell with the default (warm) retrain.
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v19/autosample"
python3 benchmarks/selector/run_selector.py --models mf --datasets gowalla --space-set large --strategies evidence-6r-peak-warm
echo "queue C done"
