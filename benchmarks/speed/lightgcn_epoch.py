#!/usr/bin/env python3
"""LightGCN training time per epoch on gowalla (3 layers, dim 64, batch 2048, one uniform
negative per pair: the official LightGCN setting), against the official code's published
27-36 s per epoch on a GPU (issue 4), and against a baseline binary run in the same script.

    python3 benchmarks/speed/lightgcn_epoch.py [--epochs 3] [--baseline BIN] [--engine native]

Each binary trains `--epochs` epochs (no evaluation until the last); the per-epoch
`train_seconds` of metrics.jsonl are reported (median), with the propagation share from
summary.json. Binaries run one after the other, alternating, `--repeats` times, so machine
noise hits both. Writes benchmarks/runs/<date>-2cpu/lightgcn-epoch/{SETUP.md,raw.csv}.

Environment: AUTOSAMPLE_DATA_DIR (default <repo>/../shared/data),
AUTOSAMPLE_BIN (default <repo>/target/release/autosample). Needs an idle machine: pause any
long run first (kill -STOP <pgid>, then kill -CONT).
"""

import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GPU_PUBLISHED = "27-36 s/epoch (official LightGCN, GPU; ../shared/reference/anchors.md)"


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_once(binary, data, epochs, engine, workdir):
    out = Path(workdir) / "run"
    if out.exists():
        shutil.rmtree(out)
    cmd = [str(binary), "train", "--data", str(data), "--model", "lightgcn", "--layers", "3",
           "--dim", "64", "--batch-size", "2048", "--lr", "0.001", "--l2", "1e-4",
           "--sampler", "uniform", "--epochs", str(epochs), "--eval-every", str(epochs),
           "--engine", engine, "--seed", "2024", "--out", str(out), "--quiet", "--json"]
    summary = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    epochs_s = [json.loads(line)["train_seconds"] for line in open(out / "metrics.jsonl")]
    timing = summary["timing"]
    prop = timing["breakdown"].get("propagation", 0.0)
    return {
        "commit": summary["build"]["commit"],
        "epoch_seconds": epochs_s,
        "median_epoch_seconds": statistics.median(epochs_s),
        "propagation_share": prop / max(timing["train_seconds"], 1e-9),
        "command": " ".join(cmd),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--engine", default="native", choices=["native", "burn"])
    ap.add_argument("--baseline", default=None, help="an older autosample binary to compare with")
    ap.add_argument("--dataset", default="gowalla")
    ap.add_argument("--record-dir", default=None)
    args = ap.parse_args()

    data_root = Path(os.environ.get("AUTOSAMPLE_DATA_DIR", REPO.parent / "shared" / "data"))
    data = data_root / args.dataset
    if not data.is_dir():
        print(f"lightgcn epoch benchmark skipped: {data} not found (set AUTOSAMPLE_DATA_DIR)")
        return 0
    binary = Path(os.environ.get("AUTOSAMPLE_BIN", REPO / "target" / "release" / "autosample"))
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "autosample-cli"], cwd=REPO, check=True)
    systems = [("current", binary)] + ([("baseline", Path(args.baseline))] if args.baseline else [])

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for label, b in systems:
                r = run_once(b, data, args.epochs, args.engine, tmp)
                r.update(label=label, repeat=rep + 1)
                rows.append(r)
                print(f"{label} ({r['commit']}) repeat {rep + 1}: epochs "
                      + ", ".join(f"{s:.1f}" for s in r["epoch_seconds"])
                      + f" s; propagation {100 * r['propagation_share']:.0f} %", flush=True)

    today = datetime.date.today().isoformat()
    record = Path(args.record_dir) if args.record_dir else REPO / "benchmarks" / "runs" / f"{today}-2cpu" / "lightgcn-epoch"
    record.mkdir(parents=True, exist_ok=True)
    with open(record / "raw.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "repeat", "commit", "epoch", "train_seconds", "propagation_share", "command"])
        for r in rows:
            for e, s in enumerate(r["epoch_seconds"], 1):
                w.writerow([r["label"], r["repeat"], r["commit"], e, f"{s:.3f}", f"{r['propagation_share']:.3f}", r["command"]])
    med = {label: statistics.median(s for r in rows if r["label"] == label for s in r["epoch_seconds"])
           for label, _ in systems}
    cpu = sh(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).strip()
    lines = [
        f"# LightGCN epoch time on {args.dataset}", "",
        f"- date: {today}; machine: {platform.machine()}, {os.cpu_count()} cores ({cpu})",
        f"- command: `python3 benchmarks/speed/lightgcn_epoch.py {' '.join(sys.argv[1:])}`",
        f"- setting: 3 layers, dim 64, batch 2048, uniform negative, `--engine {args.engine}`, "
        f"{args.epochs} epochs × {args.repeats} repeats per binary, alternating",
        f"- published reference: {GPU_PUBLISHED}", "",
        "| binary | commit | median s/epoch | propagation share |", "|---|---|---:|---:|",
    ]
    for label, _ in systems:
        rs = [r for r in rows if r["label"] == label]
        share = statistics.median(r["propagation_share"] for r in rs)
        lines.append(f"| {label} | {rs[0]['commit']} | {med[label]:.1f} | {100 * share:.0f} % |")
    if "baseline" in med:
        lines += ["", f"Speed-up of current over baseline, same script and machine: "
                      f"{med['baseline'] / med['current']:.2f}×."]
    lines += ["", "Per-epoch times are in raw.csv."]
    (record / "SETUP.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
