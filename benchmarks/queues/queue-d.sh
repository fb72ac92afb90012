#!/usr/bin/env bash
# Queue D (PLAN.md): the step rules' selector rows again with v20 (6e84e95; the rows of
# earlier binaries never pruned, see run_selector.py SUPERSEDED), then the MF x ml-1m repeat 2
# of the warm default's cost (its first try overlapped a third process of the session's own,
# so its pairing did not hold; the rows were removed from raw.csv).
set -u; cd "$REPO"; export AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v20/autosample"
python3 benchmarks/selector/run_selector.py --models mf lightgcn --datasets lastfm-lightgcn --strategies alignment-bpr
python3 benchmarks/selector/run_selector.py --models mf --datasets lastfm-lightgcn --strategies training-loss
AUTOSAMPLE_BIN="$AUTOSAMPLE_BIN_DIR/v19/autosample" python3 benchmarks/selector/cost.py --pairs mf:ml-1m-diffrec-clean --strategy evidence-6r-peak-warm --record benchmarks/runs/2026-12-01-2cpu/selector-cost
echo "queue D done"
