#!/usr/bin/env python3
"""Collects the sampler sweep's raw.csv files into one table (mean ± std over seeds).

Reads benchmarks/runs/*/samplers-<model>-*/raw.csv and writes
benchmarks/runs/<latest date>/samplers-summary.md. The best sampler per (dataset, model) is picked
by mean *validation* Recall@20; test figures are reported next to it, never used to choose.
"""
import statistics
from collections import defaultdict

from sweep_records import DEFAULT_LR, REPO, latest_rows


def ms(v):
    if not v:
        return "–"
    if len(v) == 1:
        return f"{v[0]:.4f}"
    return f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}"


def main():
    rows = latest_rows()
    if not rows:
        print("no sweep records yet")
        return
    groups = defaultdict(list)
    for r in rows:
        # A sweep at another learning rate is its own table block (model "lightgcn, lr 5e-3").
        model = r["model"] if r["lr"] == DEFAULT_LR else f"{r['model']}, lr {r['lr']}"
        groups[(r["dataset"], model, r["sampler"])].append(r)
    out = ["# Every sampler trained alone (mean ± std over seeds)", "",
           "Each cell: one model trained with one sampler to early stopping on validation Recall@20 "
           "(dim 64, Adam lr 1e-3 unless the model column names another, L2 1e-4, batch 2048, eval every 5 epochs, patience 10, `--engine native`). "
           "Best per (dataset, model) = highest mean validation Recall@20 (bold). Test is read once per run.", "",
           "| dataset | model | sampler | seeds | valid Recall@20 | test Recall@20 | test NDCG@20 | epochs to best | s/epoch | record |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    by_pair = defaultdict(list)
    for (ds, model, sampler), rs in groups.items():
        by_pair[(ds, model)].append((sampler, rs))
    for (ds, model), items in sorted(by_pair.items()):
        def vmean(item):
            return statistics.mean(float(r["valid_recall@20"]) for r in item[1])
        best = max(items, key=vmean)[0]
        uniform_s = None
        for sampler, rs in sorted(items, key=vmean, reverse=True):
            v = [float(r["valid_recall@20"]) for r in rs]
            t = [float(r["test_recall@20"]) for r in rs]
            n = [float(r["test_ndcg@20"]) for r in rs]
            e = [float(r["best_epoch"]) for r in rs]
            sp = [float(r["seconds_per_epoch"]) for r in rs]
            if sampler == "uniform":
                uniform_s = statistics.mean(sp)
            b = "**" if sampler == best else ""
            out.append(f"| {ds} | {model} | {b}{sampler}{b} | {len(rs)} | {ms(v)} | {ms(t)} | {ms(n)} | "
                       f"{statistics.mean(e):.0f} | {statistics.mean(sp):.3f} | {rs[0]['_record']} |")
    out += ["", "Cost per epoch relative to uniform (same model and data) is the s/epoch column divided by uniform's.",
            "Commits and exact commands are in each record's raw.csv and SETUP.md."]
    latest = sorted({r["_record"].split("/")[0] for r in rows})[-1]
    dest = REPO / "benchmarks" / "runs" / latest / "samplers-summary.md"
    dest.write_text("\n".join(out) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
