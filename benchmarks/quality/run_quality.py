#!/usr/bin/env python3
"""Quality benchmark: train with autosample on the real datasets and record test metrics.

Usage:
    python3 benchmarks/quality/run_quality.py --experiment mf-uniform \
        --datasets gowalla ml-1m-diffrec-clean lastfm-lightgcn --seeds 2024 \
        -- --model mf --sampler uniform --dim 64 --lr 1e-3

Everything after `--` is passed to `autosample train`. Each (dataset, seed) trains into
$AUTOSAMPLE_BENCH_WORK/<experiment>/<dataset>-seed<seed>/ (default: autosample-bench-work/ beside
the repository, outside the work tree, so that runs survive a fresh checkout) and is skipped when
its summary.json already
exists; a run that was interrupted after an evaluation continues with `autosample train
--resume`, so a long benchmark spans sessions by rerunning the same command. The record goes to
benchmarks/runs/<date>-<machine>/<experiment>/: SETUP.md, raw.csv (one row per run) and
summary.md (mean ± std over seeds, next to the published anchors).

Data: $AUTOSAMPLE_DATA_DIR or <repo>/../shared/data (licensed; read in place, never copied).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# AUTOSAMPLE_BIN pins a copy of the binary, so that rebuilding target/ while a long sweep runs
# does not change the code of the runs still to come (each row records the binary's commit).
BIN = Path(os.environ.get("AUTOSAMPLE_BIN", REPO / "target" / "release" / "autosample"))

# Published full-ranking anchors (test Recall@20 / NDCG@20), from ../shared/reference/anchors.md.
ANCHORS = {
    ("gowalla", "mf"): [("MF-BPR, NGCF paper", 0.1291, 0.1109), ("MF-BPR tuned, BARS", 0.1627, 0.1378)],
    ("gowalla", "lightgcn"): [("LightGCN paper", 0.1830, 0.1554)],
    ("yelp2018", "mf"): [("MF-BPR, NGCF paper", 0.0433, 0.0354), ("MF-BPR tuned, BARS", 0.0576, 0.0468)],
    ("yelp2018", "lightgcn"): [("LightGCN paper", 0.0649, 0.0530), ("LightGCN + MixGCF, MixGCF logs", 0.0713, 0.0588)],
}


def bench_work():
    """Where run directories live: outside the work tree, so a fresh checkout keeps them."""
    return Path(os.environ.get("AUTOSAMPLE_BENCH_WORK", REPO.parent / "autosample-bench-work"))


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unavailable"


def cpu_name():
    """The CPU's model name (the first `model name` line of /proc/cpuinfo), or "unknown"."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_facts():
    cpu = cpu_name()
    mem = "unknown"
    try:
        kb = int(open("/proc/meminfo").readline().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": platform.platform(),
        "rustc": sh(["rustc", "--version"]),
        # The checkout the script ran from when it last wrote the record; each run's binary
        # (AUTOSAMPLE_BIN may pin an older one) is named by raw.csv's `commit`.
        "scripts commit (the binary's is raw.csv's `commit`)": sh(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
        "scripts dirty": "yes" if sh(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"]) else "no",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiment", required=True)
    ap.add_argument("--datasets", nargs="+", required=True)
    ap.add_argument("--seeds", nargs="+", type=int, default=[2024])
    ap.add_argument("--record-dir", default=None, help="default benchmarks/runs/<date>-<machine>")
    ap.add_argument("train_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    train_args = [a for a in args.train_args if a != "--"]

    data_root = Path(os.environ.get("AUTOSAMPLE_DATA_DIR", REPO.parent / "shared" / "data"))
    if not data_root.is_dir():
        print(f"skip: no shared data at {data_root} (set AUTOSAMPLE_DATA_DIR)")
        return 0
    if not BIN.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "autosample-cli"], cwd=REPO, check=True)

    today = datetime.date.today().isoformat()
    record = Path(args.record_dir) if args.record_dir else REPO / "benchmarks" / "runs" / f"{today}-2cpu"
    out_dir = record / args.experiment
    work = bench_work() / args.experiment
    facts = machine_facts()

    # Runs already recorded (by any earlier session, in any dated record of this experiment, with
    # the same train arguments) are not trained again: a session's run directories do not survive
    # a fresh machine, but its committed raw.csv does.
    recorded = earlier_rows(args.experiment, train_args)
    rows = []
    any_new = False
    for ds in args.datasets:
        path = data_root / ds
        if not path.is_dir():
            print(f"skip {ds}: {path} not found")
            continue
        for seed in args.seeds:
            run = work / f"{ds}-seed{seed}"
            summary_path = run / "summary.json"
            cmd = [str(BIN), "train", "--data", str(path), "--seed", str(seed), "--out", str(run),
                   "--quiet", "--json"] + train_args
            # A recorded run is never recorded again, even when its run directory survives: a
            # later day would otherwise copy it into a second dated record.
            if (ds, str(seed)) in recorded:
                rows.append(recorded[(ds, str(seed))])
                print(f"{ds} seed {seed}: recorded earlier, not rerun", flush=True)
                continue
            if not summary_path.exists():
                if (run / "resume.bin").exists():
                    # An interrupted run (session ended, machine restarted): continue it.
                    todo = [str(BIN), "train", "--resume", str(run), "--quiet", "--json"]
                else:
                    todo = cmd + (["--overwrite"] if (run / "config.json").exists() else [])
                print("run:", " ".join(todo), flush=True)
                work.mkdir(parents=True, exist_ok=True)
                with open(work / f"{ds}-seed{seed}.log", "a") as log:
                    subprocess.run(todo, check=True, stdout=subprocess.DEVNULL, stderr=log)
            s = json.loads(summary_path.read_text())
            row = {
                "dataset": ds,
                "model": s["model"],
                "sampler": s["sampler"],
                "seed": s["seed"],
                "best_epoch": s["best_epoch"],
                "epochs_run": s["epochs_run"],
                "valid_recall@20": s["valid"].get("recall@20"),
                "valid_ndcg@20": s["valid"].get("ndcg@20"),
                "test_recall@20": s["test"].get("recall@20"),
                "test_ndcg@20": s["test"].get("ndcg@20"),
                "test_users": s["test_users"],
                "train_seconds": round(s["timing"]["train_seconds"], 2),
                "eval_seconds": round(s["timing"]["eval_seconds"], 2),
                "seconds_per_epoch": round(s["timing"]["train_seconds"] / max(1, s["epochs_run"]), 3),
                "triplets_per_sec": round(s["timing"]["triplets_per_sec"]),
                "commit": s["build"]["commit"],
                "provenance": json.dumps(s["dataset"]["provenance"]),
                "command": " ".join(cmd),
            }
            rows.append(row)
            any_new = True
            print(f"{ds} seed {seed}: test recall@20 {row['test_recall@20']:.4f} ndcg@20 {row['test_ndcg@20']:.4f} "
                  f"(best epoch {row['best_epoch']}/{row['epochs_run']})", flush=True)
            # The record is rewritten after every run, so a session that ends mid-sweep keeps
            # (and can commit) everything that finished.
            write_record(out_dir, args, train_args, rows, facts, today)
    if not any_new:
        print("every run was recorded earlier; no new record written")
    return 0


def earlier_rows(experiment, train_args):
    """(dataset, seed) -> raw.csv row of every run recorded for this experiment with these args."""
    wanted = " ".join(train_args)
    found = {}
    for f in sorted(REPO.glob(f"benchmarks/runs/*/{experiment}/raw.csv")):
        for r in csv.DictReader(open(f)):
            if r.get("command", "").endswith(wanted):
                found[(r["dataset"], r["seed"])] = r
    return found


def write_record(out_dir, args, train_args, rows, facts, today):
    out_dir.mkdir(parents=True, exist_ok=True)
    # Another invocation of the same experiment (other datasets, run concurrently or earlier
    # today) may have written this record: keep its rows for the runs this one does not cover.
    mine = {(str(r["dataset"]), str(r["seed"])) for r in rows}
    if (out_dir / "raw.csv").exists():
        others = [r for r in csv.DictReader(open(out_dir / "raw.csv"))
                  if (r["dataset"], r["seed"]) not in mine and r.get("command", "").endswith(" ".join(train_args))]
        rows = others + rows
    # Rows carried from an earlier raw.csv hold strings; the summary needs numbers.
    numeric = {"valid_recall@20", "valid_ndcg@20", "test_recall@20", "test_ndcg@20", "seconds_per_epoch"}
    rows = [{k: (float(v) if k in numeric and isinstance(v, str) and v else v) for k, v in r.items()}
            for r in rows]
    with open(out_dir / "raw.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)

    def ms(vals):
        vals = [v for v in vals if v is not None]
        if len(vals) > 1:
            return f"{statistics.mean(vals):.4f} ± {statistics.stdev(vals):.4f}"
        return f"{vals[0]:.4f}" if vals else "–"

    lines = [f"# {args.experiment}", "",
             f"Command: `python3 benchmarks/quality/run_quality.py --experiment {args.experiment} "
             f"--datasets {' '.join(dict.fromkeys(str(r['dataset']) for r in rows))} --seeds {' '.join(dict.fromkeys(str(r['seed']) for r in rows))} -- {' '.join(train_args)}`", "",
             "Test metrics are at the epoch with the best *validation* Recall@20; the test split is read once.", "",
             "| dataset | model | sampler | seeds | test Recall@20 | test NDCG@20 | valid Recall@20 | best epoch | s/epoch | anchors (Recall@20 / NDCG@20) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        rs = [r for r in rows if r["dataset"] == ds]
        model = rs[0]["model"]
        anchors = "; ".join(f"{n}: {r:.4f} / {n_:.4f}" for n, r, n_ in ANCHORS.get((ds, model), [])) or "–"
        lines.append(
            f"| {ds} | {model} | {rs[0]['sampler']} | {len(rs)} | {ms([r['test_recall@20'] for r in rs])} | "
            f"{ms([r['test_ndcg@20'] for r in rs])} | {ms([r['valid_recall@20'] for r in rs])} | "
            f"{', '.join(str(r['best_epoch']) for r in rs)} | {ms([r['seconds_per_epoch'] for r in rs])} | {anchors} |")
    lines += ["", "Split notes: gowalla and yelp2018 ship train/test only; 10 % of each user's train items are carved out "
              "as validation (seed in raw.csv `provenance`), so our models train on ~90 % of the published train set. "
              "ml-1m-diffrec-clean ships its own valid split. lastfm-lightgcn ships train/test; validation is carved likewise."]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")
    setup = ["# Setup", ""] + [f"- {k}: {v}" for k, v in facts.items()] + [
        f"- date: {today}", f"- binary: {BIN} (release)",
        f"- command: `python3 benchmarks/quality/run_quality.py --experiment {args.experiment} --datasets {' '.join(dict.fromkeys(str(r['dataset']) for r in rows))} "
        f"--seeds {' '.join(dict.fromkeys(str(r['seed']) for r in rows))} -- {' '.join(train_args)}`"]
    (out_dir / "SETUP.md").write_text("\n".join(setup) + "\n")
    print(f"recorded in {out_dir}")


if __name__ == "__main__":
    sys.exit(main())
