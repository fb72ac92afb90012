#!/usr/bin/env bash
# Queue B (PLAN.md): the rest of the MF x yelp2018 sweep (SRNS; DNS(32, 4) is recorded and
# skipped), then its selector cell with the default (warm) retrain.
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v19/autosample"
SAMPLERS="dns_mn:candidates=32,top=4 srns" bash benchmarks/samplers/run_sweep.sh mf yelp2018
python3 benchmarks/selector/run_selector.py --models mf --datasets yelp2018 --space-set large --strategies evidence-6r-peak-warm
echo "queue B done"
