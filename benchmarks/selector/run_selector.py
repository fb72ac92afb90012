#!/usr/bin/env python3
"""The selector benchmark (issue 7): each search strategy against exhaustive ground truth.

For every (model, dataset, seed) it runs `autosample search --strategy S` with the settings of
the per-sampler sweep (benchmarks/samplers/run_sweep.sh: dim 64, Adam 1e-3, L2 1e-4, batch
2048, eval every 5, patience 10, --engine native, 3 layers for LightGCN) over the space that
equals the sweep's candidates (search-spaces/mf.json for MF, default.json for LightGCN). The
sweep's runs are the ground truth: per sampler, mean and std of validation Recall@20 over
seeds; the exhaustive best is the highest mean.

For each strategy run the record gives: whether its pick is the exhaustive best, whether it is
within one std of the best's mean, the retrained model's test Recall@20, and its cost in epochs
and seconds against the sweep's (exhaustive) cost for the same seed. A cell whose ground truth
is not recorded yet says so instead of a number.

    python3 benchmarks/selector/run_selector.py [--models mf lightgcn]
        [--datasets lastfm-lightgcn ml-1m-diffrec-clean] [--seeds 1 2 3]
        [--strategies autosample halving] [--summarize-only]

Search directories live in $AUTOSAMPLE_BENCH_WORK/selector (default
/work/autosample-bench-work); finished searches are skipped; an unfinished one restarts (only
exhaustive searches resume). AUTOSAMPLE_BIN pins the binary. Writes
benchmarks/runs/<date>-2cpu/selector/{raw.csv,summary.md,SETUP.md}.
"""
import argparse
import csv
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("AUTOSAMPLE_BIN", REPO / "target" / "release" / "autosample"))
WORK = Path(os.environ.get("AUTOSAMPLE_BENCH_WORK", REPO.parent / "autosample-bench-work")) / "selector"
SWEEP_ARGS = ["--dim", "64", "--lr", "0.001", "--l2", "1e-4", "--batch-size", "2048",
              "--eval-every", "5", "--patience", "10", "--epochs", "1000", "--engine", "native"]


def ground_truth():
    """(dataset, model) → {sampler: [rows]} from the sweep records, newest record per run."""
    latest = {}
    for f in sorted(REPO.glob("benchmarks/runs/*/samplers-*/raw.csv")):
        for r in csv.DictReader(open(f)):
            latest[(r["dataset"], r["model"], r["sampler"], r["seed"])] = r
    truth = defaultdict(lambda: defaultdict(list))
    for (ds, model, sampler, _), r in latest.items():
        truth[(ds, model)][sampler].append(r)
    return truth


def run_search(model, dataset, seed, strategy, data_root):
    out = WORK / f"{strategy}-{model}-{dataset}-seed{seed}"
    if (out / "outcome.json").exists():
        return json.load(open(out / "outcome.json"))
    if out.exists():
        shutil.rmtree(out)
    space = REPO / "search-spaces" / ("mf.json" if model == "mf" else "default.json")
    cmd = [str(BIN), "search", "--data", str(data_root / dataset), "--model", model,
           "--space", str(space), "--strategy", strategy, "--seed", str(seed),
           "--out", str(out), "--quiet", "--json"] + SWEEP_ARGS
    if model != "mf":
        cmd += ["--layers", "3"]
    print("run:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.load(open(out / "outcome.json"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["mf", "lightgcn"])
    ap.add_argument("--datasets", nargs="+", default=["lastfm-lightgcn", "ml-1m-diffrec-clean"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--strategies", nargs="+", default=["autosample", "halving"])
    ap.add_argument("--summarize-only", action="store_true")
    args = ap.parse_args()
    data_root = Path(os.environ.get("AUTOSAMPLE_DATA_DIR", REPO.parent / "shared" / "data"))
    if not data_root.is_dir():
        print(f"selector benchmark skipped: no data at {data_root} (set AUTOSAMPLE_DATA_DIR)")
        return 0
    if not args.summarize_only and not BIN.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "autosample-cli"], cwd=REPO, check=True)
    WORK.mkdir(parents=True, exist_ok=True)
    truth = ground_truth()
    rows = []
    for model in args.models:
        for ds in args.datasets:
            gt = truth.get((ds, model), {})
            for seed in args.seeds:
                for strategy in args.strategies:
                    out = WORK / f"{strategy}-{model}-{ds}-seed{seed}" / "outcome.json"
                    if args.summarize_only:
                        if not out.exists():
                            continue
                        o = json.load(open(out))
                    else:
                        o = run_search(model, ds, seed, strategy, data_root)
                    row = {"model": model, "dataset": ds, "seed": seed, "strategy": strategy,
                           "chosen": o["chosen"], "test_recall@20": o["test"].get("recall@20"),
                           "epochs": o["total_epochs"], "seconds": round(o["search_seconds"], 1),
                           "commit": o["build"]["commit"]}
                    means = {s: statistics.mean(float(r["valid_recall@20"]) for r in rs)
                             for s, rs in gt.items() if len(rs) >= 1}
                    space_file = REPO / "search-spaces" / ("mf.json" if model == "mf" else "default.json")
                    if len(means) < 2 or o["chosen"] not in means:
                        row.update(hit="", within_std="", exhaustive_best="",
                                   exhaustive_seconds="", exhaustive_best_test="",
                                   note=("ground truth not recorded yet" if len(means) < 2 else
                                         f"the pick {o['chosen']} is not in the sweep yet "
                                         f"({space_file.name} has samplers the sweep lacks)"))
                    else:
                        best = max(means, key=means.get)
                        std = statistics.stdev([float(r["valid_recall@20"]) for r in gt[best]]) \
                            if len(gt[best]) > 1 else 0.0
                        same_seed = [r for rs in gt.values() for r in rs if int(r["seed"]) == seed]
                        best_test = [float(r["test_recall@20"]) for r in gt[best] if int(r["seed"]) == seed]
                        row.update(exhaustive_best_test=round(best_test[0], 4) if best_test else "")
                        row.update(hit=int(o["chosen"] == best),
                                   within_std=int(means.get(o["chosen"], -1) >= means[best] - std),
                                   exhaustive_best=best,
                                   exhaustive_seconds=round(sum(float(r["train_seconds"]) + float(r["eval_seconds"]) for r in same_seed), 1),
                                   note=f"{len(means)} samplers in the sweep")
                    rows.append(row)
    today = datetime.date.today().isoformat()
    record = REPO / "benchmarks" / "runs" / f"{today}-2cpu" / "selector"
    record.mkdir(parents=True, exist_ok=True)
    fields = ["model", "dataset", "seed", "strategy", "chosen", "exhaustive_best", "hit", "within_std",
              "test_recall@20", "exhaustive_best_test", "epochs", "seconds", "exhaustive_seconds",
              "commit", "note"]
    with open(record / "raw.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    lines = ["# Selector benchmark: each strategy's pick against exhaustive ground truth", "",
             "| model | dataset | strategy | runs | pick = best | within 1 std | mean test Recall@20 | mean s | exhaustive s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    groups = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["dataset"], r["strategy"])].append(r)
    for (m, ds, st), rs in sorted(groups.items()):
        scored = [r for r in rs if r["hit"] != ""]
        hit = f"{sum(r['hit'] for r in scored)}/{len(scored)}" if scored else "no ground truth yet"
        within = f"{sum(r['within_std'] for r in scored)}/{len(scored)}" if scored else ""
        ex = [r["exhaustive_seconds"] for r in scored]
        lines.append(f"| {m} | {ds} | {st} | {len(rs)} | {hit} | {within} | "
                     f"{statistics.mean(r['test_recall@20'] for r in rs):.4f} | "
                     f"{statistics.mean(r['seconds'] for r in rs):.0f} | "
                     f"{statistics.mean(ex):.0f} |" if ex else
                     f"| {m} | {ds} | {st} | {len(rs)} | {hit} | {within} | "
                     f"{statistics.mean(r['test_recall@20'] for r in rs):.4f} | "
                     f"{statistics.mean(r['seconds'] for r in rs):.0f} | |")
    (record / "summary.md").write_text("\n".join(lines) + "\n")
    (record / "SETUP.md").write_text(
        f"# Selector benchmark setup\n\n- date: {today}\n- binary: {BIN}\n"
        f"- command: `python3 benchmarks/selector/run_selector.py {' '.join(sys.argv[1:])}`\n"
        f"- search settings: {' '.join(SWEEP_ARGS)} (LightGCN: --layers 3)\n"
        "- ground truth: benchmarks/runs/*/samplers-<model>-*/raw.csv (the per-sampler sweep)\n")
    print(f"wrote {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
