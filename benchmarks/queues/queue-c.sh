#!/usr/bin/env bash
# Queue C (PLAN.md): the last LightGCN x lastfm ablation rows (v14, bitwise comparable with the
# branch rows of f42a8d5), then the MF x gowalla cell with the default (warm) retrain.
set -u; cd "$REPO"
AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v14/autosample" python3 benchmarks/selector/run_selector.py \
  --models lightgcn --datasets lastfm-lightgcn --strategies evidence-6r-peak-scratch evidence-6r-peak-mixture
AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v19/autosample" python3 benchmarks/selector/run_selector.py \
  --models mf --datasets gowalla --space-set large --strategies evidence-6r-peak-warm
echo "queue C done"
