#!/usr/bin/env bash
# Every sampler × model × dataset × seed, each trained alone to early stopping: the table that
# shows whether the best sampler differs across datasets and models (issue 4), and the
# exhaustive ground truth for the selector benchmark (issue 7).
#
# Usage: bash benchmarks/samplers/run_sweep.sh [model] [dataset ...]
#   model    mf (default) or lightgcn
#   datasets default: lastfm-lightgcn ml-1m-diffrec-clean
#   SAMPLERS (environment): the sampler specs to sweep instead of the full list
#   SEEDS (environment): the seeds, default "1 2 3" (one seed for LightGCN on large data)
#   LR (environment): Adam's learning rate, default 1e-3; another rate names its experiments
#     samplers-<model>-<sampler>-lr<LR>, a ground truth of its own (sweep_records.py). LightGCN
#     on gowalla and yelp2018 sweeps at LR=5e-3, where 1e-3 needs about three times the epochs.
# Common hyperparameters (the MixGCF/AHNS code defaults): dim 64, Adam lr 1e-3, L2 1e-4,
# batch 2048, one negative, evaluation every 5 epochs, patience 10; seeds 1 2 3.
# Interrupted runs resume (run_quality.py); rerun the same command to continue. Afterwards:
#   python3 benchmarks/samplers/summarize.py
set -euo pipefail
cd "$(dirname "$0")/../.."
model="${1:-mf}"; shift || true
datasets=("$@"); [ ${#datasets[@]} -eq 0 ] && datasets=(lastfm-lightgcn ml-1m-diffrec-clean)
samplers=(
  "uniform"
  "popularity:beta=0.75"
  "dns:candidates=8"
  "dns:candidates=32"
  "dns_mn:candidates=32,top=4"
  "cns:candidates=32"
  "ahns:candidates=32"
  "srns"
)
samplers+=("dens")
[ "$model" = "lightgcn" ] && samplers+=("mixgcf:candidates=32")
# SAMPLERS="uniform dns:candidates=8 ..." replaces the list: the smaller candidate sets of
# large data (search-spaces/large*.json), whose sweep is the ground truth of their searches.
if [ -n "${SAMPLERS:-}" ]; then read -r -a samplers <<< "$SAMPLERS"; fi
read -r -a seeds <<< "${SEEDS:-1 2 3}"
lr="${LR:-0.001}"
suffix=""; [ "$lr" != "1e-3" ] && [ "$lr" != "0.001" ] && suffix="-lr$lr"
extra=(--layers 3); [ "$model" = "mf" ] && extra=()
for s in "${samplers[@]}"; do
  name="samplers-${model}-$(echo "$s" | tr ':,=' '___')${suffix}"
  python3 benchmarks/quality/run_quality.py --experiment "$name" --datasets "${datasets[@]}" \
    --seeds "${seeds[@]}" -- --model "$model" --sampler "$s" --dim 64 --lr "$lr" --l2 1e-4 \
    --batch-size 2048 --eval-every 5 --patience 10 --epochs 1000 --engine native "${extra[@]}"
done
python3 benchmarks/samplers/summarize.py
