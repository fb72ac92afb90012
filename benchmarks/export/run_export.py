#!/usr/bin/env python3
"""Export and recommend on real data (issue 7, part 8): a finished search's model exported with
`autosample export`, served with `autosample recommend`, and checked against numpy.

For each search directory given, it
1. runs `autosample export SEARCH --to WORK/export-<name> --overwrite` and times it;
2. runs `autosample recommend EXPORT --users-file <users> -k 20 --json` for the first
   --users users of users.tsv (original ids) and times it;
3. checks every list: K items, known ids, none of the user's training items (seen.txt), no
   repeats; and, from the exported user_embeddings.npy / item_embeddings.npy, recomputes each
   user's top K with numpy (scores ⟨u, i⟩, training items masked) and compares the lists
   (equal, or rank by rank the same score to 1e-5: near-ties swapped), and the served scores
   against numpy's;
4. writes benchmarks/runs/<date>-2cpu/export/{summary.md,raw.json,SETUP.md} (one row per
   search; rows of earlier runs of the same day are kept).

    benchmarks/.venv/bin/python benchmarks/export/run_export.py SEARCH_DIR [SEARCH_DIR ...]
        [--users 1000] [-k 20]

numpy comes from benchmarks/.venv (benchmarks/export/run_export.sh makes it, numpy pinned as
benchmarks/speed/requirements.txt has it). AUTOSAMPLE_BIN names the binary (default
target/release/autosample); AUTOSAMPLE_BENCH_WORK the work directory for the exports
(default autosample-bench-work/ beside the repository).
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks" / "quality"))
from run_quality import cpu_name  # noqa: E402
BIN = Path(os.environ.get("AUTOSAMPLE_BIN", REPO / "target" / "release" / "autosample"))
WORK = Path(os.environ.get("AUTOSAMPLE_BENCH_WORK", REPO.parent / "autosample-bench-work")) / "export"


def run(cmd):
    t = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr}")
    return p.stdout, seconds


def read_map(path):
    """dense id → original id, from a `dense<TAB>original` file."""
    out = {}
    for line in open(path):
        dense, original = line.rstrip("\n").split("\t")
        out[int(dense)] = original
    return out


def read_seen(path):
    seen = {}
    for line in open(path):
        parts = line.split()
        if parts:
            seen[int(parts[0])] = {int(i) for i in parts[1:]}
    return seen


def check(export, recs, k):
    users = read_map(export / "users.tsv")
    items = read_map(export / "items.tsv")
    user_of = {v: d for d, v in users.items()}
    item_of = {v: d for d, v in items.items()}
    seen = read_seen(export / "seen.txt")
    u = np.load(export / "user_embeddings.npy")
    v = np.load(export / "item_embeddings.npy")
    assert u.dtype == np.float32 and v.dtype == np.float32, (u.dtype, v.dtype)
    assert u.shape == (len(users), v.shape[1]) and v.shape[0] == len(items), (u.shape, v.shape)
    problems = []
    exact = ties = 0
    for r in recs:
        du = user_of.get(r["user"])
        unknown = [x["item"] for x in r["items"] if x["item"] not in item_of]
        if du is None or unknown:
            problems.append(f"user {r['user']}: unknown ids (user {du is None}, items {unknown[:3]})")
            continue
        got = [item_of[x["item"]] for x in r["items"]]
        if len(got) != min(k, len(items) - len(seen.get(du, ()))):
            problems.append(f"user {r['user']}: {len(got)} items")
        if len(set(got)) != len(got):
            problems.append(f"user {r['user']}: repeated items")
        if seen.get(du, set()) & set(got):
            problems.append(f"user {r['user']}: a training item recommended")
        scores = v @ u[du]
        # The scores recommend printed are numpy's, up to float32 summation order.
        served = np.array([x["score"] for x in r["items"]], dtype=np.float64)
        if not np.allclose(served, scores[got], rtol=1e-4, atol=1e-6):
            problems.append(f"user {r['user']}: served scores differ from numpy's")
        mask = np.zeros(len(items), dtype=bool)
        mask[list(seen.get(du, ()))] = True
        scores[mask] = -np.inf
        want = list(np.argsort(-scores, kind="stable")[:len(got)])
        if want == got:
            exact += 1
        elif np.allclose(scores[got], scores[want], rtol=1e-5, atol=0):
            # Rank by rank the same score to 1e-5: items whose scores tie to float32 rounding
            # (summation order differs between numpy and recommend) swapped places.
            ties += 1
        else:
            problems.append(f"user {r['user']}: top-{k} differs from numpy's")
    return {"users_checked": len(recs), "equal_to_numpy": exact, "equal_up_to_ties": ties,
            "problems": problems[:20], "n_problems": len(problems)}


def fmt(x):
    return "?" if x is None else f"{x:.4f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("searches", nargs="+", type=Path)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("-k", type=int, default=20)
    args = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"no binary at {BIN}: build it (cargo build --release -p autosample-cli) or set AUTOSAMPLE_BIN")
    WORK.mkdir(parents=True, exist_ok=True)
    today = datetime.date.today().isoformat()
    record = REPO / "benchmarks" / "runs" / f"{today}-2cpu" / "export"
    record.mkdir(parents=True, exist_ok=True)
    raw_path = record / "raw.json"
    rows = {r["search"]: r for r in json.load(open(raw_path))} if raw_path.exists() else {}
    for search in args.searches:
        search = search.resolve()
        outcome = json.load(open(search / "outcome.json"))
        export = WORK / f"export-{search.name}"
        _, export_seconds = run([BIN, "export", search, "--to", export, "--overwrite", "--quiet"])
        manifest = json.load(open(export / "manifest.json"))
        users = [line.split("\t")[1].rstrip("\n") for line in open(export / "users.tsv")][:args.users]
        users_file = WORK / f"users-{search.name}.txt"
        users_file.write_text("".join(u + "\n" for u in users))
        out, rec_seconds = run([BIN, "recommend", export, "--users-file", users_file, "-k", args.k,
                                "--json", "--quiet"])
        recs = json.loads(out)
        recs = recs if isinstance(recs, list) else recs.get("recommendations", recs)
        checked = check(export, recs, args.k)
        sizes = {f.name: f.stat().st_size for f in sorted(export.iterdir()) if f.is_file()}
        rows[str(search.name)] = {
            "search": search.name, "model": outcome["model"], "dataset": outcome["dataset"]["name"],
            "seed": outcome["seed"], "chosen": outcome["chosen"],
            "search_commit": outcome["build"]["commit"], "export_commit": manifest["build"]["commit"],
            "manifest_valid_recall@20": ((manifest.get("metrics") or {}).get("valid") or {}).get("recall@20"),
            "machine": cpu_name(),
            "manifest_sampler": manifest["sampler"], "final_sampler": manifest.get("final_sampler"),
            "n_users": manifest["n_users"], "n_items": manifest["n_items"], "dim": manifest["dim"],
            "manifest_test_recall@20": ((manifest.get("metrics") or {}).get("test") or {}).get("recall@20"),
            "outcome_test_recall@20": outcome["test"].get("recall@20"),
            "export_seconds": round(export_seconds, 2), "recommend_users": len(users), "k": args.k,
            "recommend_seconds": round(rec_seconds, 2),
            "users_per_second": round(len(users) / rec_seconds, 1), "files": sizes, **checked,
        }
        print(f"{search.name}: export {export_seconds:.1f} s, recommend {len(users)} users in "
              f"{rec_seconds:.1f} s, {checked['equal_to_numpy']} equal to numpy, "
              f"{checked['equal_up_to_ties']} up to ties, {checked['n_problems']} problems", flush=True)
    json.dump(sorted(rows.values(), key=lambda r: r["search"]), open(raw_path, "w"), indent=1)
    lines = ["# Export and recommend on real data", "",
             "Each row: a finished search's model exported (`autosample export`), top-20 served for "
             "the first users of users.tsv (`autosample recommend --users-file`, one process, "
             "reading the export), and each list checked: K items, known ids, no training item, no "
             "repeat, served scores equal to numpy's, and the list equal to numpy's top-K over the "
             "exported .npy embeddings with the training items masked (or, rank by rank, the same "
             "score to 1e-5: items tied to float32 rounding swapped). Seconds are wall time of "
             "the whole command, start-up and reading included.", "",
             "| search | model × data | chosen | users × items | export s | recommend | equal to numpy | up to ties | problems | test R@20 (manifest = outcome) |",
             "|---|---|---|---|---:|---|---:|---:|---:|---|"]
    for r in sorted(rows.values(), key=lambda r: r["search"]):
        same = "yes" if r["manifest_test_recall@20"] == r["outcome_test_recall@20"] else "NO"
        lines.append(
            f"| {r['search']} | {r['model']} × {r['dataset']} | {r['chosen']} | {r['n_users']} × "
            f"{r['n_items']} | {r['export_seconds']} | {r['recommend_users']} users in "
            f"{r['recommend_seconds']} s ({r['users_per_second']}/s) | {r['equal_to_numpy']} | "
            f"{r['equal_up_to_ties']} | {r['n_problems']} | {fmt(r['outcome_test_recall@20'])} ({same}) |")
    (record / "summary.md").write_text("\n".join(lines) + "\n")
    (record / "SETUP.md").write_text(
        "# Setup\n\n"
        f"- machine: {', '.join(sorted({r['machine'] for r in rows.values()}))}, {os.cpu_count()} cores "
        "(raw.json `machine` per row; two benchmark queues ran beside it)\n"
        f"- binary: {BIN} (commit {', '.join(sorted({r['export_commit'] for r in rows.values()}))}, "
        "from each export's manifest)\n"
        f"- numpy {np.__version__}, Python {platform.python_version()}\n"
        f"- command: `{' '.join(['benchmarks/export/run_export.sh'] + sys.argv[1:])}`\n"
        "- each row's search commit is raw.json `search_commit`\n")
    print(f"wrote {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
