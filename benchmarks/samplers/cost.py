#!/usr/bin/env python3
"""Cost per epoch of every sampler relative to uniform, same model and data, one run each.

Usage: python3 benchmarks/samplers/cost.py [--model mf|lightgcn|ngcf] [--dataset DIR_NAME] [--epochs N]

Trains each sampler for N epochs (evaluation only at the last epoch, not timed), reads
`timing.train_seconds` and its breakdown from the run summary, and writes
benchmarks/runs/<date>-2cpu/sampler-cost-<model>-<dataset>/{raw.csv,summary.md,SETUP.md}.
Run it on an otherwise idle machine: the ratios compare runs made one after another.
"""
import argparse
import csv
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "target" / "release" / "autosample"
SAMPLERS = ["uniform", "popularity:beta=0.75", "dns:candidates=8", "dns:candidates=32",
            "dns_mn:candidates=32,top=4", "cns:candidates=32", "ahns:candidates=32", "srns",
            "mixgcf:candidates=32", "dens"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mf")
    ap.add_argument("--dataset", default="ml-1m-diffrec-clean")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    data_root = Path(os.environ.get("AUTOSAMPLE_DATA_DIR", REPO.parent / "shared" / "data"))
    data = data_root / args.dataset
    if not data.is_dir():
        print(f"skip: {data} not found (set AUTOSAMPLE_DATA_DIR)")
        return 0
    if not BIN.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "autosample-cli"], cwd=REPO, check=True)
    today = datetime.date.today().isoformat()
    out = REPO / "benchmarks" / "runs" / f"{today}-2cpu" / f"sampler-cost-{args.model}-{args.dataset}"
    out.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get("AUTOSAMPLE_BENCH_WORK", REPO.parent / "autosample-bench-work")) / "sampler-cost"
    rows = []
    for s in SAMPLERS:
        spec = s + (",pool=concat" if args.model == "ngcf" and s.startswith("mixgcf") else "")
        run = work / f"{args.model}-{args.dataset}-{spec.replace(':', '_').replace(',', '_').replace('=', '_')}"
        cmd = [str(BIN), "train", "--data", str(data), "--model", args.model, "--sampler", spec,
               "--epochs", str(args.epochs), "--eval-every", str(args.epochs), "--patience", "0",
               "--engine", "native", "--out", str(run), "--overwrite", "--quiet", "--json"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            print(f"{spec}: failed: {p.stderr.strip()[-300:]}")
            rows.append({"sampler": spec, "error": p.stderr.strip()[-300:]})
            continue
        t = json.loads(p.stdout)["timing"]
        row = {"sampler": spec, "seconds_per_epoch": t["train_seconds"] / args.epochs,
               **{f"breakdown_{k}": v / args.epochs for k, v in t["breakdown"].items()},
               "command": " ".join(cmd)}
        rows.append(row)
        print(f"{spec:32s} {row['seconds_per_epoch']:.3f} s/epoch", flush=True)
    base = next((r["seconds_per_epoch"] for r in rows if r["sampler"] == "uniform" and "seconds_per_epoch" in r), None)
    keys = sorted({k for r in rows for k in r})
    with open(out / "raw.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    lines = [f"# Cost per epoch of each sampler: {args.model} on {args.dataset}", "",
             f"{args.epochs} epochs per sampler, one after another, `--engine native`; seconds per epoch of sampling + "
             "steps (evaluation excluded).", "",
             "| sampler | s/epoch | × uniform | sampling s/epoch |", "|---|---:|---:|---:|"]
    for r in rows:
        if "seconds_per_epoch" not in r:
            lines.append(f"| {r['sampler']} | failed | | |")
            continue
        ratio = f"{r['seconds_per_epoch'] / base:.2f}" if base else "–"
        lines.append(f"| {r['sampler']} | {r['seconds_per_epoch']:.3f} | {ratio} | {r.get('breakdown_sampling', 0):.3f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    (out / "SETUP.md").write_text(f"# Setup\n\n- commit: {commit}\n- cores: {os.cpu_count()}\n- date: {today}\n"
                                  f"- command: `python3 benchmarks/samplers/cost.py --model {args.model} --dataset {args.dataset} --epochs {args.epochs}`\n")
    print(f"recorded in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
