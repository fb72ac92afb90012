"""The per-sampler sweep's records, read one way by every script that uses them.

A sweep experiment is benchmarks/runs/<date>-2cpu/samplers-<model>-<sampler>[-lr<LR>]/raw.csv.
The `-lr<LR>` suffix marks a sweep at a learning rate other than the common 1e-3
(run_sweep.sh with LR=...): LightGCN on the large data runs at 5e-3, where 1e-3 needs several
times the epochs. Runs at different learning rates are different ground truths and never mix.
"""
import csv
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_LR = "1e-3"
_LR_SUFFIX = re.compile(r"-lr([0-9.eE+-]+)$")


def lr_label(value):
    """A learning rate as the records name it: "1e-3", "5e-3", "2.5e-3" (the same value, the
    same label, whether written 0.005 or 5e-3)."""
    mantissa, exponent = f"{float(value):.6e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def experiment_lr(name):
    """The learning-rate label of a sweep experiment's directory name."""
    m = _LR_SUFFIX.search(name)
    return lr_label(m.group(1)) if m else DEFAULT_LR


def latest_rows():
    """Every sweep run once: the newest record of each (dataset, model, sampler, seed, lr).

    An experiment resumed in a later session rewrites its whole raw.csv, so a run can appear in
    several records; the newest wins. Each row gains `lr` (its label) and `_record` (the record
    directory, relative to benchmarks/runs).
    """
    latest = {}
    for f in sorted(REPO.glob("benchmarks/runs/*/samplers-*/raw.csv")):
        lr = experiment_lr(f.parent.name)
        for r in csv.DictReader(open(f)):
            r["lr"] = lr
            r["_record"] = str(f.parent.relative_to(REPO / "benchmarks" / "runs"))
            latest[(r["dataset"], r["model"], r["sampler"], r["seed"], lr)] = r
    return list(latest.values())
