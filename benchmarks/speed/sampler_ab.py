#!/usr/bin/env python3
"""One sampler's training speed, this binary against a baseline binary, in alternation.

For a change that must not change results (a faster kernel), it checks that both binaries
train bitwise the same (every epoch's loss in metrics.jsonl and the final validation metrics
equal). For a change that alters floating-point rounding on purpose (`--numerics-change`: a
new summation order), it checks instead that each binary is deterministic across its own
repeats and reports how far the two differ (largest relative difference of an epoch's loss, and
the final validation metrics of each). Either way it reports the median seconds per epoch of
the training loop and of its sampling part for each, and their ratio. The binaries alternate,
`--repeats` runs each, so that both meet the same load on a shared machine.

    python3 benchmarks/speed/sampler_ab.py --baseline /path/to/old/autosample \
        [--sampler dens] [--model mf] [--dataset ml-1m-diffrec-clean] [--epochs 2] [--repeats 3] \
        [--numerics-change] [--suffix=-what-changed]

Writes benchmarks/runs/<date>-2cpu/sampler-ab-<model>-<sampler>-<dataset><suffix>/{raw.csv,summary.md,
SETUP.md}.
AUTOSAMPLE_BIN is the binary under test (default target/release/autosample).
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
BIN = Path(os.environ.get("AUTOSAMPLE_BIN", REPO / "target" / "release" / "autosample"))
WORK = Path(os.environ.get("AUTOSAMPLE_BENCH_WORK", REPO.parent / "autosample-bench-work")) / "sampler-ab"


def run(binary, label, repeat, args, data):
    out = WORK / f"{label}-{repeat}"
    cmd = [str(binary), "train", "--data", str(data), "--model", args.model, "--sampler", args.sampler,
           "--epochs", str(args.epochs), "--eval-every", str(args.epochs), "--patience", "0",
           "--engine", "native", "--seed", "1", "--out", str(out), "--overwrite", "--quiet", "--json"]
    if args.model != "mf":
        cmd += ["--layers", "3"]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    s = json.loads(p.stdout)
    losses = [json.loads(line)["loss"] for line in open(out / "metrics.jsonl")]
    t = s["timing"]
    return {"binary": label, "repeat": repeat, "commit": s["build"]["commit"],
            "train_s_per_epoch": t["train_seconds"] / args.epochs,
            "sampling_s_per_epoch": t["breakdown"]["sampling"] / args.epochs,
            "losses": json.dumps(losses), "valid": json.dumps(s.get("best_valid", s.get("valid"))),
            "command": " ".join(cmd)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--sampler", default="dens")
    ap.add_argument("--model", default="mf")
    ap.add_argument("--dataset", default="ml-1m-diffrec-clean")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--suffix", default="",
                    help="appended to the record's directory name (one record per change)")
    ap.add_argument("--numerics-change", action="store_true",
                    help="the change alters rounding on purpose: require determinism per binary, "
                         "report the differences")
    args = ap.parse_args()
    data = Path(os.environ.get("AUTOSAMPLE_DATA_DIR", REPO.parent / "shared" / "data")) / args.dataset
    if not data.is_dir():
        print(f"skip: {data} not found (set AUTOSAMPLE_DATA_DIR)")
        return 0
    rows = []
    for r in range(1, args.repeats + 1):
        pair = [("current", BIN), ("baseline", Path(args.baseline))]
        for label, binary in (pair if r % 2 else pair[::-1]):
            rows.append(run(binary, label, r, args, data))
            x = rows[-1]
            print(f"{label} r{r}: {x['train_s_per_epoch']:.3f} s/epoch, sampling {x['sampling_s_per_epoch']:.3f}",
                  flush=True)
    same = len({(x["losses"], x["valid"]) for x in rows}) == 1
    deterministic = all(len({(x["losses"], x["valid"]) for x in rows if x["binary"] == lab}) == 1
                        for lab in ("current", "baseline"))
    first = {lab: next(x for x in rows if x["binary"] == lab) for lab in ("current", "baseline")}
    loss_pairs = zip(json.loads(first["current"]["losses"]), json.loads(first["baseline"]["losses"]))
    max_rel_loss = max((abs(c - b) / max(abs(b), 1e-12) for c, b in loss_pairs), default=0.0)
    med = {lab: {k: statistics.median(x[k] for x in rows if x["binary"] == lab)
                 for k in ("train_s_per_epoch", "sampling_s_per_epoch")} for lab in ("current", "baseline")}
    name = f"sampler-ab-{args.model}-{args.sampler.split(':')[0]}-{args.dataset}{args.suffix}"
    out = REPO / "benchmarks" / "runs" / f"{datetime.date.today().isoformat()}-2cpu" / name
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "raw.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    commits = {x["binary"]: x["commit"] for x in rows}
    lines = [f"# {args.sampler} with {args.model} on {args.dataset}: current against baseline", "",
             f"{args.repeats} alternating runs of {args.epochs} epochs each (seed 1, `--engine native`); "
             "medians of seconds per epoch of the training loop (evaluation excluded).", "",
             "| binary | commit | train s/epoch | sampling s/epoch |", "|---|---|---:|---:|"]
    for lab in ("current", "baseline"):
        lines.append(f"| {lab} | {commits[lab]} | {med[lab]['train_s_per_epoch']:.3f} "
                     f"| {med[lab]['sampling_s_per_epoch']:.3f} |")
    lines += ["",
              f"Speed-up of current over baseline: training loop "
              f"{med['baseline']['train_s_per_epoch'] / med['current']['train_s_per_epoch']:.2f}x, sampling "
              f"{med['baseline']['sampling_s_per_epoch'] / med['current']['sampling_s_per_epoch']:.2f}x.",
              f"Results identical (every epoch's loss and the validation metrics, bitwise): "
              f"{'yes' if same else 'NO'}."]
    if args.numerics_change:
        lines += [f"Declared a numerics change: each binary deterministic over its repeats: "
                  f"{'yes' if deterministic else 'NO'}; largest relative difference of an epoch's "
                  f"loss {max_rel_loss:.2e}; final validation, current {first['current']['valid']}, "
                  f"baseline {first['baseline']['valid']}."]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    (out / "SETUP.md").write_text("\n".join([
        "# Setup", "", f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {os.cpu_count()} cores, {platform.platform()} (shared with other benchmark jobs; "
        "the binaries alternate)",
        f"- current: {BIN}; baseline: {args.baseline}",
        f"- command: `python3 benchmarks/speed/sampler_ab.py --baseline {args.baseline} --sampler {args.sampler} "
        f"--model {args.model} --dataset {args.dataset} --epochs {args.epochs} --repeats {args.repeats}"
        f"{' --numerics-change' if args.numerics_change else ''}"
        f"{f' --suffix={args.suffix}' if args.suffix else ''}`"]) + "\n")
    print("\n".join(lines))
    ok = deterministic if args.numerics_change else same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
