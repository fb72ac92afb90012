#!/usr/bin/env bash
# Queue D (PLAN.md), at the lowest priority: the other half of the MF x yelp2018 sweep.
set -u; cd "$REPO"; renice -n 19 $$ > /dev/null; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v19/autosample"
SAMPLERS="uniform dns:candidates=8" bash benchmarks/samplers/run_sweep.sh mf yelp2018
echo "queue D done"
