#!/usr/bin/env python3
"""Training and evaluation speed of autosample vs the Python library `implicit` on one dataset.

Usage (normally driven by run.sh):

    compare_implicit.py run DATASET_DIR --bin target/release/autosample --raw OUT/raw.csv
    compare_implicit.py summarize --raw OUT/raw.csv --out OUT/summary.md

`run` appends rows to raw.csv (system, dataset, measurement, value, unit, note) and prints a
short table; `summarize` turns raw.csv into summary.md. The data is only read: the only files
written besides raw.csv are our run directory under --work (benchmarks/work, gitignored).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

K = 20
DIM = 64
LR = 0.01
REG = 0.01
SEED = 42
FIELDS = ["system", "dataset", "measurement", "repeat", "value", "unit", "note"]


# --------------------------------------------------------------------------------------------
# Data


def read_pairs(path: Path):
    """`user<TAB>item` (or space/comma separated; extra columns ignored), 0-based ids."""
    users, items = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.replace(",", " ").split()
            if len(parts) < 2:
                continue
            try:
                u, i = int(parts[0]), int(parts[1])
            except ValueError:  # a header line
                continue
            users.append(u)
            items.append(i)
    return users, items


def read_lists(path: Path):
    """LightGCN lists: `user item item ...`; a line may hold only a user."""
    users, items = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            u = int(parts[0])
            for tok in parts[1:]:
                users.append(u)
                items.append(int(tok))
    return users, items


def find_split(d: Path, name: str):
    for ext, reader in ((".tsv", read_pairs), (".txt", None), (".csv", read_pairs)):
        p = d / f"{name}{ext}"
        if p.exists():
            if reader is None:
                reader = read_lists if looks_like_lists(p) else read_pairs
            return p, reader
    return None, None


def looks_like_lists(path: Path) -> bool:
    """A `.txt` split is a LightGCN list file unless every line has exactly two columns."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            if len(line.split()) > 2:
                return True
            if n > 1000:
                break
    return False


def load_dataset(d: Path):
    import numpy as np
    import scipy.sparse as sp

    splits = {}
    files = {}
    for name in ("train", "valid", "test"):
        p, reader = find_split(d, name)
        if p is not None:
            splits[name] = reader(p)
            files[name] = p.name
    if "train" not in splits or "test" not in splits:
        raise SystemExit(f"{d}: need train and test files (train.tsv/test.tsv or train.txt/test.txt)")
    n_users = 1 + max(max(u) for u, _ in splits.values() if u)
    n_items = 1 + max(max(i) for _, i in splits.values() if i)

    def csr(pairs):
        u, i = pairs
        m = sp.csr_matrix(
            (np.ones(len(u), dtype=np.float32), (np.asarray(u, dtype=np.int32), np.asarray(i, dtype=np.int32))),
            shape=(n_users, n_items),
        )
        m.sum_duplicates()
        m.data[:] = 1.0
        m.sort_indices()
        return m

    mats = {name: csr(pairs) for name, pairs in splits.items()}
    excl = mats["train"]
    if "valid" in mats:
        excl = excl + mats["valid"]
        excl.data[:] = 1.0
        excl.sort_indices()
    return mats, excl, files, n_users, n_items


# --------------------------------------------------------------------------------------------
# implicit


def thread_info():
    info = {"cpu_count": os.cpu_count()}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            info[f"{pool.get('internal_api')}:{pool.get('prefix')}"] = pool.get("num_threads")
    except Exception as e:  # noqa: BLE001 - informational only
        info["threadpoolctl"] = f"unavailable ({e})"
    return info


def run_implicit(train, excl, test, epochs: int):
    import implicit
    from implicit.bpr import BayesianPersonalizedRanking
    from implicit.evaluation import ranking_metrics_at_k

    model = BayesianPersonalizedRanking(
        factors=DIM,
        learning_rate=LR,
        regularization=REG,
        iterations=epochs,
        use_gpu=False,
        verify_negative_samples=True,
        random_state=SEED,
    )
    t0 = time.perf_counter()
    model.fit(train, show_progress=False)
    train_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    metrics = ranking_metrics_at_k(model, excl, test, K=K, show_progress=False)
    eval_s = time.perf_counter() - t0
    eval_users = int((test.getnnz(axis=1) > 0).sum())
    return {
        "version": implicit.__version__,
        "num_threads": getattr(model, "num_threads", None),
        "item_factor_cols": int(model.item_factors.shape[1]),
        "train_seconds": train_s,
        "triplets": int(train.nnz) * epochs,
        "eval_seconds": eval_s,
        "eval_users": eval_users,
        "metrics": metrics,
    }


# --------------------------------------------------------------------------------------------
# autosample


def parse_json(stdout: str):
    """The JSON object on stdout (tolerates stray lines before it)."""
    start = stdout.find("{")
    if start < 0:
        raise ValueError("no JSON object on stdout")
    return json.loads(stdout[start:])


def tail(text: str, n: int = 6) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:])


def run_ours(binary: Path, data: Path, out: Path, epochs: int):
    res = {"train_error": None, "eval_error": None}
    if not binary.exists():
        res["train_error"] = f"binary {binary} not found"
        return res
    cmd = [
        str(binary), "train", "--data", str(data), "--model", "mf", "--sampler", "uniform",
        "--dim", str(DIM), "--epochs", str(epochs), "--eval-every", str(epochs), "--patience", "0",
        "--quiet", "--json", "--out", str(out), "--overwrite",
    ] + os.environ.get("AUTOSAMPLE_TRAIN_ARGS", "").split()
    res["train_cmd"] = " ".join(cmd)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        res["train_error"] = f"exit {p.returncode}: {tail(p.stderr or p.stdout)}"
        return res
    try:
        s = parse_json(p.stdout)
        t = s["timing"]
        res["train_seconds"] = float(t["train_seconds"])
        res["triplets"] = int(t["triplets"])
        res["triplets_per_sec"] = float(t["triplets_per_sec"])
        res["epochs_run"] = s.get("epochs_run")
        res["train_test_metrics"] = s.get("test", {})
    except (ValueError, KeyError, TypeError) as e:
        res["train_error"] = f"unexpected train JSON ({e}): {tail(p.stdout)}"
        return res

    cmd = [str(binary), "evaluate", str(out), "--on", "test", "--json"]
    res["eval_cmd"] = " ".join(cmd)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        res["eval_error"] = f"exit {p.returncode}: {tail(p.stderr or p.stdout)}"
        return res
    try:
        e = parse_json(p.stdout)
        res["eval_seconds"] = float(e["seconds"])
        res["eval_users"] = e.get("test_users")
        res["metrics"] = e.get("test") or {}
    except (ValueError, KeyError, TypeError) as err:
        res["eval_error"] = f"unexpected evaluate JSON ({err}): {tail(p.stdout)}"
    return res


# --------------------------------------------------------------------------------------------
# run


def default_epochs(name: str) -> int:
    return 10 if "gowalla" in name.lower() else 20


def loadavg() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def cmd_run(a):
    data = Path(a.data).resolve()
    name = a.name or data.name
    epochs = a.epochs or default_epochs(name)
    repeats = max(1, a.repeats)
    print(f"== {name}: loading {data}", flush=True)
    mats, excl, files, n_users, n_items = load_dataset(data)
    train, test = mats["train"], mats["test"]
    rows = []

    def row(system, measurement, value, unit="", note="", rep=""):
        if isinstance(value, float):
            value = repr(round(value, 1 if abs(value) >= 1e4 else 6))
        rows.append({"system": system, "dataset": name, "measurement": measurement, "repeat": rep,
                     "value": value, "unit": unit, "note": note})

    row("data", "users", n_users, "count", "max id + 1 over all splits")
    row("data", "items", n_items, "count", "max id + 1 over all splits")
    row("data", "train_interactions", int(train.nnz), "count", files["train"])
    if "valid" in mats:
        row("data", "valid_interactions", int(mats["valid"].nnz), "count", files["valid"])
    row("data", "test_interactions", int(test.nnz), "count", files["test"])
    row("data", "epochs", epochs, "count", "both systems")
    row("data", "repeats", repeats, "count", "each system trained and evaluated this many times")

    excl_note = "train+valid excluded" if "valid" in mats else "train excluded"
    out = Path(a.work).resolve() / f"{name}-speed"
    binary = Path(a.bin).resolve()
    im_rates, im_evals, our_rates, our_evals = [], [], [], []
    im = ours = None
    for rep in range(1, repeats + 1):
        # implicit
        print(f"   [{rep}/{repeats}] implicit: BPR factors={DIM} lr={LR} reg={REG} "
              f"iterations={epochs} on {train.nnz} train interactions", flush=True)
        row("machine", "loadavg_1min_before_implicit", loadavg(), "", "os.getloadavg()[0]", rep)
        im = run_implicit(train, excl, test, epochs)
        im["rate"] = im["triplets"] / im["train_seconds"]
        im_rates.append(im["rate"])
        im_evals.append(im["eval_seconds"])
        tinfo = thread_info()  # after the fit, so implicit's OpenMP runtime is loaded
        threads_note = "; ".join(f"{k}={v}" for k, v in tinfo.items())
        row("implicit", "train_seconds", im["train_seconds"], "s",
            f"model.fit, {epochs} iterations; num_threads={im['num_threads']} (0 = all cores)", rep)
        row("implicit", "train_triplets", im["triplets"], "count", "nnz x iterations", rep)
        row("implicit", "train_triplets_per_sec", im["rate"], "triplets/s", threads_note, rep)
        row("implicit", "eval_seconds", im["eval_seconds"], "s",
            f"ranking_metrics_at_k K={K}, all items, {excl_note}", rep)
        row("implicit", "eval_users", im["eval_users"], "count", "users with >=1 test item", rep)
        for m in ("ndcg", "precision", "map", "auc"):
            if m in im["metrics"]:
                row("implicit", f"{m}@{K}", float(im["metrics"][m]), "",
                    "implicit's definitions (precision divides by min(K, |test|))", rep)
        row("implicit", "item_factor_columns", im["item_factor_cols"], "count",
            f"factors={DIM} plus implicit's internal bias column", rep)

        # ours
        print(f"   [{rep}/{repeats}] autosample: train --epochs {epochs} -> {out}", flush=True)
        row("machine", "loadavg_1min_before_autosample", loadavg(), "", "os.getloadavg()[0]", rep)
        ours = run_ours(binary, data, out, epochs)
        if ours.get("train_error"):
            row("autosample", "train_error", "n/a", "", ours["train_error"], rep)
        else:
            our_rates.append(ours["triplets_per_sec"])
            row("autosample", "train_seconds", ours["train_seconds"], "s",
                "timing.train_seconds (sampling included, evaluation excluded)", rep)
            row("autosample", "train_triplets", ours["triplets"], "count", "timing.triplets", rep)
            row("autosample", "train_triplets_per_sec", ours["triplets_per_sec"], "triplets/s",
                "timing.triplets_per_sec", rep)
        if ours.get("eval_error"):
            row("autosample", "eval_error", "n/a", "", ours["eval_error"], rep)
        elif "eval_seconds" in ours:
            our_evals.append(ours["eval_seconds"])
            row("autosample", "eval_seconds", ours["eval_seconds"], "s",
                f"evaluate --on test --json: seconds (full ranking @{K}, train+valid excluded)", rep)
            if ours.get("eval_users") is not None:
                row("autosample", "eval_users", ours["eval_users"], "count", "test_users", rep)
            for m, v in sorted(ours.get("metrics", {}).items()):
                if m.endswith(f"@{K}") and isinstance(v, (int, float)):
                    row("autosample", m, float(v), "", "autosample's definitions", rep)

    im_rate, im_eval = median(im_rates), median(im_evals)
    our_rate, our_eval = median(our_rates), median(our_evals)
    if our_rate is not None:
        row("ratio", "train_triplets_per_sec", our_rate / im_rate, "x",
            f"autosample / implicit, medians over {repeats} repeat(s) (>1: autosample faster)", "median")
    if our_eval is not None:
        row("ratio", "eval_seconds", our_eval / im_eval, "x",
            f"autosample / implicit, medians over {repeats} repeat(s) (target <= 1)", "median")

    raw = Path(a.raw)
    new = not raw.exists() or raw.stat().st_size == 0
    raw.parent.mkdir(parents=True, exist_ok=True)
    with open(raw, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerows(rows)

    # stdout table (medians; the last repeat's metrics)
    def fmt(v, spec):
        return "n/a" if v is None else format(v, spec)

    print()
    print(f"   {name}  (E={epochs}, dim={DIM}, K={K}, median of {repeats})")
    print(f"   {'':<22}{'implicit':>14}{'autosample':>14}{'ours/impl':>12}")
    print(f"   {'train triplets/s':<22}{fmt(im_rate, ',.0f'):>14}{fmt(our_rate, ',.0f'):>14}"
          f"{fmt(our_rate / im_rate if our_rate else None, '.3f'):>12}")
    print(f"   {'eval seconds (test)':<22}{fmt(im_eval, '.3f'):>14}{fmt(our_eval, '.3f'):>14}"
          f"{fmt(our_eval / im_eval if our_eval else None, '.3f'):>12}")
    print(f"   {f'ndcg@{K} (sanity)':<22}{fmt(im['metrics'].get('ndcg'), '.4f'):>14}"
          f"{fmt(ours.get('metrics', {}).get(f'ndcg@{K}'), '.4f'):>14}")
    for key in ("train_error", "eval_error"):
        if ours.get(key):
            print(f"   autosample {key.replace('_', ' ')}: {ours[key]}")
    print(flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# summarize


def cmd_summarize(a):
    rows = list(csv.DictReader(open(a.raw, encoding="utf-8")))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    values = {}
    notes = {}
    for r in rows:
        key = (r["system"], r["dataset"], r["measurement"])
        values.setdefault(key, []).append(r["value"])
        notes[key] = r["note"]

    def med(xs):
        try:
            m = median([float(x) for x in xs])
        except ValueError:
            return xs[-1]
        return str(int(m)) if m == int(m) else repr(m)

    get = {key: med(xs) for key, xs in values.items()}  # medians over repeats

    def v(system, ds, m, spec=None):
        x = get.get((system, ds, m))
        if x is None or x == "n/a":
            return "n/a"
        if spec is None:
            return x
        try:
            return format(float(x), spec)
        except ValueError:
            return x

    out = []
    out.append("# Speed: autosample vs implicit 0.7.3\n")
    out.append(f"Raw numbers: `raw.csv` (one row per system x dataset x measurement). "
               f"Machine and versions: `SETUP.md`.\n")
    reps = {get.get(("data", ds, "repeats"), "1") for ds in datasets}
    out.append(f"Each number is the median over {', '.join(sorted(reps))} "
               f"repeat(s) per system and dataset. 1-minute load average before the runs: "
               + ", ".join(f"{ds} {v('machine', ds, 'loadavg_1min_before_implicit', '.2f')}" for ds in datasets)
               + " (should be well below 1 on this 2-core machine).\n")
    out.append("## Training (triplet updates per second; higher is better)\n")
    out.append("| dataset | epochs | implicit train nnz | implicit s | implicit triplets/s "
               "| autosample triplets | autosample s | autosample triplets/s | autosample / implicit |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ds in datasets:
        out.append(
            f"| {ds} | {v('data', ds, 'epochs')} | {v('data', ds, 'train_interactions', ',.0f')} "
            f"| {v('implicit', ds, 'train_seconds', '.2f')} "
            f"| {v('implicit', ds, 'train_triplets_per_sec', ',.0f')} "
            f"| {v('autosample', ds, 'train_triplets', ',.0f')} "
            f"| {v('autosample', ds, 'train_seconds', '.2f')} "
            f"| {v('autosample', ds, 'train_triplets_per_sec', ',.0f')} "
            f"| {v('ratio', ds, 'train_triplets_per_sec', '.3f')} |"
        )
    out.append("")
    out.append(f"## Evaluation (test split, full ranking over all items, top-{K}; lower is better)\n")
    out.append("| dataset | test users | implicit s | autosample s | autosample / implicit (target <= 1) "
               f"| implicit ndcg@{K} | implicit precision@{K} | autosample ndcg@{K} | autosample recall@{K} |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ds in datasets:
        out.append(
            f"| {ds} | {v('implicit', ds, 'eval_users', ',.0f')} "
            f"| {v('implicit', ds, 'eval_seconds', '.3f')} "
            f"| {v('autosample', ds, 'eval_seconds', '.3f')} "
            f"| {v('ratio', ds, 'eval_seconds', '.3f')} "
            f"| {v('implicit', ds, f'ndcg@{K}', '.4f')} | {v('implicit', ds, f'precision@{K}', '.4f')} "
            f"| {v('autosample', ds, f'ndcg@{K}', '.4f')} | {v('autosample', ds, f'recall@{K}', '.4f')} |"
        )
    out.append("")
    problems = [
        (ds, m, notes[(s, ds, m)])
        for (s, ds, m) in get
        if s == "autosample" and m.endswith("_error")
    ]
    if problems:
        out.append("## Problems\n")
        for ds, m, note in problems:
            out.append(f"- {ds}: autosample {m.replace('_', ' ')}: `{note}`")
        out.append("")
    threads = {ds: notes.get(("implicit", ds, "train_triplets_per_sec"), "") for ds in datasets}
    out.append("## How to read this\n")
    out.append(
        "- **Different algorithms, same unit.** implicit's BPR is Cython Hogwild SGD, one "
        "(user, positive, negative) update at a time, with negatives drawn in proportion to item "
        "popularity (it samples a random training interaction's item) and "
        "`verify_negative_samples=True`; it also learns an item bias as an extra factor column "
        f"(item factors have {DIM}+1 columns). autosample trains BPR-MF in mini-batches of 2048 "
        "with lazy (row-sparse) Adam over burn autodiff and uniform negatives. The rates count "
        "triplet updates per second for both; they are not equal work per update and the models "
        "do not converge to the same place, so the ranking metrics are a sanity check only."
    )
    out.append(
        f"- implicit: triplets = train nnz x iterations (it draws nnz samples per iteration); "
        f"timed around `model.fit` with `time.perf_counter`, default threads (all cores). "
        f"Thread pools: {'; '.join(f'{ds}: {t}' for ds, t in threads.items())}."
    )
    out.append(
        "- autosample: `timing.triplets_per_sec` from `autosample train --json` "
        "(every pair x negative update, sampling included, evaluation excluded); evaluation "
        "time is `seconds` from `autosample evaluate RUN --on test --json` (data and "
        "checkpoint loading excluded)."
    )
    out.append(
        f"- Evaluation: both rank all items for every user with a test item and exclude the "
        f"items seen before test (train+valid for ml-1m-diffrec-clean, train.txt for gowalla); "
        f"implicit via `ranking_metrics_at_k(K={K})`, timed as one call. implicit's "
        f"`precision` divides by min(K, |test items|), not K."
    )
    if any("gowalla" in ds for ds in datasets):
        out.append(
            "- gowalla: autosample carves 10% of train.txt as validation (seeded), so it trains "
            "on ~90% of the interactions implicit trains on (the autosample triplets column shows "
            "its count). The comparison is per triplet, so the size difference does not bias the "
            "rate; the exclusion set at test time is the whole train.txt for both."
        )
    out.append("- A 2-core machine: anything else running (a cargo build) distorts both systems; "
               "the load averages in raw.csv show whether the machine was idle. Use "
               "`BENCH_REPEATS=3` for medians.")
    Path(a.out).write_text("\n".join(out) + "\n", encoding="utf-8")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="benchmark one dataset directory")
    r.add_argument("data", help="dataset directory (train/valid/test .tsv, or train/test .txt lists)")
    r.add_argument("--name", help="dataset name in the records (default: the directory name)")
    r.add_argument("--epochs", type=int, help="epochs/iterations (default 20; 10 for gowalla)")
    r.add_argument("--bin", default="target/release/autosample", help="autosample binary")
    r.add_argument("--work", default="benchmarks/work", help="scratch dir for our run directory")
    r.add_argument("--repeats", type=int, default=1, help="train+evaluate each system N times")
    r.add_argument("--raw", required=True, help="raw.csv to append to")
    s = sub.add_parser("summarize", help="write summary.md from raw.csv")
    s.add_argument("--raw", required=True)
    s.add_argument("--out", required=True)
    a = p.parse_args()
    return cmd_run(a) if a.cmd == "run" else cmd_summarize(a)


if __name__ == "__main__":
    sys.exit(main())
