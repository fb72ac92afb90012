#!/usr/bin/env python3
"""The search's cost in the issue's own unit: wall time against one training of the best sampler.

Issue 7's cost goal is "total wall time (search + retrain) at most 2x one training of the best
single sampler". The selector record (run_selector.py) counts cost in work epochs, which a
shared machine does not distort but which weigh every epoch alike: a LightGCN supernet epoch
shares its propagation across candidates, and a DNS branch epoch costs a fraction of an SRNS or
DENS one. This script measures the goal directly: for each (model, dataset, seed) it runs, in
alternation and `--repeats` times, one training of the exhaustive best sampler (the sweep's
settings; the best is the sweep's highest mean validation Recall@20) and one `autosample search`
with the default strategy, timing each by wall clock and by the CPU time of the child process
(user + system, from getrusage), which contention on a shared machine distorts less. Each
repeat's ratio pairs a search with the training run next to it, so both saw the same load.

    python3 benchmarks/selector/cost.py [--pairs mf:lastfm-lightgcn lightgcn:lastfm-lightgcn
        mf:ml-1m-diffrec-clean] [--seeds 1] [--repeats 2] [--strategy evidence-6r-peak]

Adds to the newest benchmarks/runs/<date>-2cpu/selector-cost/{raw.csv,summary.md,SETUP.md}
(today's when there is none, or --record); runs already in that raw.csv (same pair, seed,
repeat, kind and binary) are not run again. AUTOSAMPLE_BIN pins the binary; scratch directories go to $AUTOSAMPLE_BENCH_WORK/selector-cost.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_selector  # noqa: E402  (the benchmark's settings, spaces and ground truth)

REPO = run_selector.REPO
BIN = run_selector.BIN
WORK = run_selector.WORK.parent / "selector-cost"
FIELDS = ["model", "dataset", "seed", "repeat", "kind", "what", "wall_seconds", "cpu_seconds",
          "epochs", "test_recall@20", "commit", "command"]


def space_of(model, dataset):
    """The search space the selector benchmark searches this pair over (the smaller candidate
    sets on the large data)."""
    return run_selector.row_space({"model": model, "dataset": dataset})


def best_sampler(model, dataset):
    """The sweep's best sampler for the pair among its space's candidates: the highest mean
    validation Recall@20."""
    gt = run_selector.ground_truth().get((dataset, model, run_selector.DEFAULT_LR), {})
    candidates = run_selector.space_candidates(space_of(model, dataset))
    gt = {s: rs for s, rs in gt.items() if s in candidates}
    if len(gt) < len(candidates):
        return None
    means = {s: statistics.mean(float(r["valid_recall@20"]) for r in rs) for s, rs in gt.items()}
    return max(means, key=means.get)


def timed(cmd):
    """Runs `cmd`; returns (wall seconds, child CPU seconds, parsed JSON stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout)


def commands(model, dataset, seed, strategy, sampler, data_root, out):
    common = ["--data", str(data_root / dataset), "--model", model, "--seed", str(seed),
              "--quiet", "--json"] + run_selector.SWEEP_ARGS
    if model != "mf":
        common += ["--layers", "3"]
    space = REPO / "search-spaces" / space_of(model, dataset)
    single = [str(BIN), "train", "--sampler", sampler, "--out", str(out / "single")] + common
    search = [str(BIN), "search", "--space", str(space), "--out", str(out / "search")] \
        + run_selector.strategy_args(strategy) + common
    return single, search


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", nargs="+",
                    default=["mf:lastfm-lightgcn", "lightgcn:lastfm-lightgcn", "mf:ml-1m-diffrec-clean"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--strategy", default="evidence-6r-peak", choices=sorted(run_selector.STRATEGIES))
    ap.add_argument("--record", type=Path, default=None,
                    help="the record directory to add to (default the newest benchmarks/runs/*/"
                         "selector-cost, else today's)")
    args = ap.parse_args()
    data_root = Path(os.environ.get("AUTOSAMPLE_DATA_DIR", REPO.parent / "shared" / "data"))
    if not data_root.is_dir():
        print(f"skip: no shared data at {data_root} (set AUTOSAMPLE_DATA_DIR)")
        return 0
    # By default the newest record is added to, so that a queue restarted on a later day finds
    # the rows it has run (and does not run them again into a second record).
    earlier = sorted(REPO.glob("benchmarks/runs/*/selector-cost"))
    record = args.record or (earlier[-1] if earlier else REPO / "benchmarks" / "runs"
                             / f"{datetime.date.today().isoformat()}-2cpu" / "selector-cost")
    rows = list(csv.DictReader(open(record / "raw.csv"))) if (record / "raw.csv").exists() else []
    version = subprocess.run([str(BIN), "train", "--data", "synthetic:tiny", "--epochs", "1", "--quiet",
                              "--json", "--overwrite", "--out", str(WORK / "version")],
                             capture_output=True, text=True)
    commit = json.loads(version.stdout)["build"]["commit"] if version.returncode == 0 else "unknown"
    ran = 0
    for pair in args.pairs:
        model, dataset = pair.split(":", 1)
        sampler = best_sampler(model, dataset)
        if sampler is None:
            print(f"skip {pair}: its sweep is not recorded yet")
            continue
        for seed in args.seeds:
            for repeat in range(1, args.repeats + 1):
                out = WORK / f"{model}-{dataset}-seed{seed}-r{repeat}"
                single, search = commands(model, dataset, seed, args.strategy, sampler, data_root, out)
                # Alternate which goes first, so that neither always meets the same load.
                order = [("single", sampler, single), ("search", args.strategy, search)]
                if repeat % 2 == 0:
                    order.reverse()
                for kind, what, cmd in order:
                    key = (model, dataset, str(seed), str(repeat), kind, what, commit)
                    if any((r["model"], r["dataset"], r["seed"], r["repeat"], r["kind"], r["what"],
                            r["commit"]) == key for r in rows):
                        continue
                    if (out / kind).exists():
                        shutil.rmtree(out / kind)
                    print("run:", " ".join(cmd), flush=True)
                    wall, cpu, o = timed(cmd)
                    epochs = o.get("total_epochs", o.get("epochs_run", ""))
                    rows.append({"model": model, "dataset": dataset, "seed": seed, "repeat": repeat,
                                 "kind": kind, "what": what, "wall_seconds": round(wall, 1),
                                 "cpu_seconds": round(cpu, 1), "epochs": epochs,
                                 "test_recall@20": round(o["test"]["recall@20"], 4),
                                 "commit": o["build"]["commit"], "command": " ".join(cmd)})
                    print(f"{pair} seed {seed} r{repeat} {kind}: {wall:.1f} s wall, {cpu:.1f} s CPU",
                          flush=True)
                    write_record(record, rows, args)
                    ran += 1
    if ran == 0:
        print(f"every run is recorded in {record}; nothing to do")
    return 0


def write_record(record, rows, args):
    record.mkdir(parents=True, exist_ok=True)
    # One row per run (pair, seed, repeat, kind, what, binary): the latest.
    latest = {}
    for r in rows:
        latest[tuple(str(r[k]) for k in ("model", "dataset", "seed", "repeat", "kind", "what", "commit"))] = r
    rows = list(latest.values())
    with open(record / "raw.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    lines = ["# Search cost against one training of the best sampler (wall and CPU time)", "",
             "Each repeat runs one training of the sweep's best sampler and one search, in "
             "alternating order, on the same machine under the same load; the ratio is "
             "search / training. Goal (issue 7): at most 2x.", "",
             "| model | dataset | seed | best sampler | strategy | repeats | training wall s | search wall s "
             "| x (wall) | x (CPU) | search test Recall@20 | training test Recall@20 |",
             "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    groups = {}
    for r in rows:
        groups.setdefault((r["model"], r["dataset"], str(r["seed"]), str(r["commit"])), []).append(r)
    # One line per strategy: each of its searches paired with the training of its repeat (two
    # strategies timed with one binary share those trainings).
    lines_of = []
    for (model, dataset, seed, commit), rs in sorted(groups.items()):
        for strategy in sorted({r["what"] for r in rs if r["kind"] == "search"}):
            lines_of.append((model, dataset, seed, [r for r in rs if r["kind"] == "single"
                                                    or r["what"] == strategy]))
    for model, dataset, seed, rs in lines_of:
        by_repeat = {}
        for r in rs:
            by_repeat.setdefault(str(r["repeat"]), {})[r["kind"]] = r
        paired = [v for v in by_repeat.values() if "single" in v and "search" in v]
        if not paired:
            continue
        med = lambda xs: statistics.median(xs)  # noqa: E731
        ratio = lambda k: med([float(p["search"][k]) / float(p["single"][k]) for p in paired])  # noqa: E731
        lines.append(
            f"| {model} | {dataset} | {seed} | {paired[0]['single']['what']} | {paired[0]['search']['what']} "
            f"| {len(paired)} | {med([float(p['single']['wall_seconds']) for p in paired]):.0f} "
            f"| {med([float(p['search']['wall_seconds']) for p in paired]):.0f} | {ratio('wall_seconds'):.2f} "
            f"| {ratio('cpu_seconds'):.2f} | {med([float(p['search']['test_recall@20']) for p in paired]):.4f} "
            f"| {med([float(p['single']['test_recall@20']) for p in paired]):.4f} |")
    lines += ["", "Medians over repeats. Raw runs, binaries and commands: raw.csv."]
    (record / "summary.md").write_text("\n".join(lines) + "\n")
    (record / "SETUP.md").write_text("\n".join([
        "# Setup", "",
        f"- written: {datetime.date.today().isoformat()}",
        f"- machine: {run_selector.cpu_name()}, {os.cpu_count()} cores, {platform.platform()} (shared with other benchmark jobs; "
        "the alternation pairs each search with a training under the same load)",
        f"- binary: {BIN}",
        "- commands (every invocation that wrote this record; each row's binary is raw.csv "
        "`commit`, its command raw.csv `command`):",
        *(f"  - `{c}`" for c in run_selector.invocations(
            record / "SETUP.md",
            ["--pairs", *args.pairs, "--seeds", *map(str, args.seeds), "--repeats",
             str(args.repeats), "--strategy", args.strategy]
            + (["--record", str(args.record)] if args.record else []),
            script="benchmarks/selector/cost.py")),
        f"- settings: {' '.join(run_selector.SWEEP_ARGS)} (LightGCN: --layers 3); the search's strategy "
        f"flags: {' '.join(run_selector.STRATEGIES[args.strategy])}",
    ]) + "\n")


if __name__ == "__main__":
    sys.exit(main())
