//! `autosample inspect`: a search's choice and the evidence behind it, in the terminal and
//! as a self-contained `report.html` (inline CSS and SVG, no scripts, no network).

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::args::InspectArgs;

/// One bar of a chart: label, value, highlighted.
struct Bar {
    label: String,
    value: f64,
    chosen: bool,
}

/// One line of a line chart.
struct Series {
    label: String,
    chosen: bool,
    points: Vec<(f64, f64)>,
}

/// The last `chosen` event of a search's `details` (an autosample search has one).
pub(crate) fn chosen_event(details: &Value) -> Option<&Value> {
    details["events"]
        .as_array()?
        .iter()
        .rev()
        .find(|e| e["event"] == "chosen")
}

/// How a search's final model trained: `mixture` (`--final mixture`: on the candidates'
/// weighted losses, `chosen` being the argmax of the weights) or `argmax`.
pub(crate) fn final_sampler(details: &Value) -> &str {
    chosen_event(details)
        .and_then(|e| e["final_sampler"].as_str())
        .unwrap_or("argmax")
}

/// The line saying that the final model trained on the mixture (`--final mixture`), with its
/// weights by candidate; `None` for an argmax final. The `chosen` event's `final_weights` are
/// `[spec, weight]` pairs of the candidates the mixture trained (the active ones).
pub(crate) fn mixture_line(chosen: &Value) -> Option<String> {
    if chosen["final_sampler"] != "mixture" {
        return None;
    }
    let weights: Vec<String> = chosen["final_weights"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pair| {
            format!(
                "{} {:.3}",
                pair[0].as_str().unwrap_or("?"),
                pair[1].as_f64().unwrap_or(f64::NAN)
            )
        })
        .collect();
    Some(format!(
        "final sampler: the mixture of the candidates' losses with these weights (the chosen \
         sampler is their argmax): {}",
        weights.join(", ")
    ))
}

/// Runs `autosample inspect`.
pub fn run(args: &InspectArgs) -> Result<()> {
    let path = args.run.join("outcome.json");
    if !path.exists() && args.run.join("search.json").exists() {
        bail!(
            "{}: the search has not finished (no outcome.json yet); continue it with `autosample \
             search --resume {}`",
            args.run.display(),
            args.run.display()
        );
    }
    if !path.exists() && args.run.join("config.json").exists() {
        bail!(
            "{}: a training run, not a search; inspect reads searches (a run's results are in \
             its summary.json, and `autosample evaluate` re-reads them)",
            args.run.display()
        );
    }
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read; give a directory written by `autosample search`",
            path.display()
        )
    })?;
    let o: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a search outcome", path.display()))?;
    let chosen = o["chosen"].as_str().unwrap_or("?").to_owned();
    let monitor = o["monitor"].as_str().unwrap_or("recall@20").to_owned();
    let metric = |split: &str, k: &str| o[split][k].as_f64().unwrap_or(f64::NAN);

    // The evidence: per candidate (exhaustive), or per round (autosample).
    let mut lines = Vec::new();
    let mut charts = Vec::new();
    if let Some(cands) = o["details"]["candidates"].as_array() {
        lines.push(format!(
            "candidates ({} trained alone, validation {monitor}):",
            cands.len()
        ));
        let bars: Vec<Bar> = cands
            .iter()
            .map(|c| Bar {
                label: c["sampler"].as_str().unwrap_or("?").to_owned(),
                value: c["monitor_value"].as_f64().unwrap_or(f64::NAN),
                chosen: c["sampler"].as_str() == Some(&chosen),
            })
            .collect();
        for b in &bars {
            lines.push(format!(
                " {} {:<64} {:.4}",
                if b.chosen { "*" } else { " " },
                b.label,
                b.value
            ));
        }
        charts.push((format!("Validation {monitor} of every candidate"), bars));
    }
    for r in o["details"]["rungs"].as_array().into_iter().flatten() {
        lines.push(format!(
            "rung {} ({} epochs each): dropped {}",
            r["rung"], r["epochs"], r["dropped"]
        ));
        let bars: Vec<Bar> = r["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                let label = v[0].as_str().unwrap_or("?").to_owned();
                Bar {
                    chosen: label == chosen,
                    value: v[1].as_f64().unwrap_or(f64::NAN),
                    label,
                }
            })
            .collect();
        for b in &bars {
            lines.push(format!("    {:<64} {:.4}", b.label, b.value));
        }
        charts.push((
            format!(
                "Rung {}: validation {monitor} after {} epochs",
                r["rung"], r["epochs"]
            ),
            bars,
        ));
    }
    if let Some(events) = o["details"]["events"].as_array() {
        // Candidate order, which the weight vectors follow: every initial candidate is active
        // in round 0, listed in order; an expansion appends its candidates.
        let mut names: Vec<String> = events
            .iter()
            .find(|e| e["event"] == "round")
            .and_then(|e| e["evidence"].as_array())
            .into_iter()
            .flatten()
            .map(|x| x["sampler"].as_str().unwrap_or("?").to_owned())
            .collect();
        for e in events {
            match e["event"].as_str() {
                Some("warmup") => lines.push(format!(
                    "warm-up: {} supernet epochs with equal weights",
                    e["epochs"]
                )),
                Some("round") => {
                    let rule = e["rule"].as_str().unwrap_or("evidence");
                    let signal = e["signal"].as_str().map_or(
                        format!("validation {monitor} of each branch"),
                        str::to_owned,
                    );
                    lines.push(match e["branch_epochs"].as_u64() {
                        Some(h) if h > 0 => format!(
                            "round {} ({rule}, branches of {h} epochs): pruned {}",
                            e["round"], e["pruned"]
                        ),
                        _ => format!("round {} ({rule}): pruned {}", e["round"], e["pruned"]),
                    });
                    let mut bars = Vec::new();
                    for x in e["evidence"].as_array().into_iter().flatten() {
                        let label = x["sampler"].as_str().unwrap_or("?").to_owned();
                        let value = x["value"].as_f64().unwrap_or(f64::NAN);
                        let held = x["held_until"].as_f64().map_or(String::new(), |w| {
                            format!("  (held: its warm-up ends at epoch {w})")
                        });
                        // A step rule's signal is a mean over its probe steps: a round too
                        // short for one has none (recorded as null).
                        let shown = if value.is_finite() {
                            format!("{value:.4}")
                        } else {
                            "no signal (no probe step this round)".to_owned()
                        };
                        lines.push(format!(
                            "    {label:<64} {shown}  behind the leader by {:.4} ± {:.4}{held}",
                            x["lead"].as_f64().unwrap_or(0.0),
                            x["lead_se"].as_f64().unwrap_or(0.0)
                        ));
                        bars.push(Bar {
                            chosen: label == chosen,
                            label,
                            value,
                        });
                    }
                    charts.push((format!("Round {}: {signal}", e["round"]), bars));
                    // The weights α gives each candidate at the end of the round.
                    let weights = e["final_weights"].as_array().or(e["weights"].as_array());
                    let bars: Vec<Bar> = weights
                        .into_iter()
                        .flatten()
                        .zip(&names)
                        .map(|(w, label)| Bar {
                            chosen: *label == chosen,
                            label: label.clone(),
                            value: w.as_f64().unwrap_or(0.0),
                        })
                        .collect();
                    if !bars.is_empty() {
                        charts.push((
                            format!("Round {}: candidate weights at its end", e["round"]),
                            bars,
                        ));
                    }
                }
                Some("expanded") => {
                    lines.push(format!(
                        "after round {}: added the neighbours of {}: {}",
                        e["round"], e["leader"], e["added"]
                    ));
                    let added = e["added"].as_array().into_iter().flatten();
                    names.extend(added.map(|x| x.as_str().unwrap_or("?").to_owned()));
                }
                Some("past_peak") => lines.push(format!(
                    "round {}: leader's evidence {:.4} below round {}'s {:.4}: past the peak, \
                     rounds stop; chosen {}",
                    e["round"],
                    e["value"].as_f64().unwrap_or(f64::NAN),
                    e["best_round"],
                    e["best_value"].as_f64().unwrap_or(f64::NAN),
                    e["leader"]
                )),
                Some("budget_reached") => lines.push(format!(
                    "budget reached after {} rounds ({} epochs, {:.0} s)",
                    e["rounds"],
                    e["epochs"],
                    e["seconds"].as_f64().unwrap_or(f64::NAN)
                )),
                Some("chosen") => {
                    lines.push(format!(
                        "retrain ({}): {} epochs, best epoch {}",
                        e["retrain"], e["retrain_epochs"], e["best_epoch"]
                    ));
                    if let Some(mix) = mixture_line(e) {
                        lines.push(mix);
                    }
                }
                _ => {}
            }
        }
    }
    let estimate = exhaustive_estimate(&o);
    let cost = cost_line(&o, estimate.as_ref());
    // The decision log: per candidate (exhaustive), per rung (halving), or every event
    // (autosample: warm-up, rounds with their evidence and prunes, stops, the choice).
    let decisions = ["candidates", "rungs", "events"]
        .iter()
        .find_map(|k| o["details"].get(*k).cloned())
        .unwrap_or(Value::Null);
    let summary = serde_json::json!({
        "strategy": o["strategy"],
        "chosen": chosen,
        "final_sampler": final_sampler(&o["details"]),
        "final_weights": chosen_event(&o["details"]).map_or(Value::Null, |e| e["final_weights"].clone()),
        "monitor": monitor,
        "valid": o["valid"],
        "test": o["test"],
        "total_epochs": o["total_epochs"],
        "search_seconds": o["search_seconds"],
        "work_epochs": work_epochs(&o),
        "exhaustive_estimate": estimate.as_ref().map_or(Value::Null, Estimate::to_json),
        "seed": o["seed"],
        "dataset": o["dataset"]["name"],
        "model": o["model"],
        "decisions": decisions,
    });

    let report = args.run.join("report.html");
    let lines_charts = line_charts(&o, &chosen, &monitor);
    let html = render_html(&o, &chosen, &cost, &lines, &charts, &lines_charts);
    autosample_data::write_atomic(&report, html.as_bytes())
        .with_context(|| format!("writing {}", report.display()))?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        out!(
            "search {} on {} with {} ({} strategy, seed {})",
            args.run.display(),
            o["dataset"]["name"].as_str().unwrap_or("?"),
            o["model"].as_str().unwrap_or("?"),
            o["strategy"].as_str().unwrap_or("?"),
            o["seed"]
        );
        out!("chosen: {chosen}");
        for l in &lines {
            out!("{l}");
        }
        out!(
            "test of the chosen: recall@20 {:.4}  ndcg@20 {:.4}",
            metric("test", "recall@20"),
            metric("test", "ndcg@20")
        );
        out!("{cost}");
        out!("report: {}", report.display());
    }
    Ok(())
}

/// What exhaustive search would have cost on the same data, estimated from a search that did
/// not run it: every candidate trained as long as the chosen model trained in all, at the
/// chosen model's seconds per epoch. Candidates differ in cost (SRNS's epochs are slower, and
/// each stops early at its own epoch), and a warm retrain stops sooner than a training from
/// scratch, so this is a yardstick that tends to understate exhaustive search (on MF ×
/// yelp2018 it gave 340 epochs where exhaustive search measured 570); the selector benchmark
/// measures the real ratio.
struct Estimate {
    candidates: usize,
    epochs_per_candidate: usize,
    seconds_per_epoch: f64,
    basis: &'static str,
}

impl Estimate {
    fn epochs(&self) -> usize {
        self.candidates * self.epochs_per_candidate
    }

    fn seconds(&self) -> f64 {
        self.epochs() as f64 * self.seconds_per_epoch
    }

    fn to_json(&self) -> Value {
        serde_json::json!({
            "candidates": self.candidates,
            "epochs_per_candidate": self.epochs_per_candidate,
            "epochs": self.epochs(),
            "seconds": self.seconds(),
            "basis": self.basis,
        })
    }
}

/// [`Estimate`] of a halving or autosample search; `None` for exhaustive search (its cost is
/// the real one) and for an outcome without the counts.
fn exhaustive_estimate(o: &Value) -> Option<Estimate> {
    let d = &o["details"];
    let count = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    match o["strategy"].as_str()? {
        "halving" => {
            let rungs = d["rungs"].as_array()?;
            let candidates = rungs
                .first()
                .and_then(|r| r["values"].as_array())
                .map_or(1, Vec::len);
            let winner: usize = count(&d["warmup_epochs"]).unwrap_or(0)
                + rungs
                    .iter()
                    .filter_map(|r| count(&r["epochs"]))
                    .sum::<usize>()
                + count(&d["final_epochs"])?;
            let work = work_epochs(o)?.max(1);
            Some(Estimate {
                candidates,
                epochs_per_candidate: winner,
                seconds_per_epoch: o["search_seconds"].as_f64()? / work as f64,
                basis: "each candidate trained as long as the winner did (its rungs and final \
                        training), at the search's mean seconds per epoch",
            })
        }
        "autosample" => {
            let (epochs, settings) = (&d["epochs"], &d["settings"]);
            let retrain = count(&epochs["retrain"])?;
            let events = d["events"].as_array()?;
            let retrain_kind = settings["retrain"].as_str().unwrap_or("warm");
            // What the chosen model trained in all: the supernet epochs and the retrain
            // (`warm`, and a mixture, whose retrain is warm); the retrain alone (`scratch`);
            // the supernet epochs before the chosen round's branches, the branch and the
            // retrain (`branch`: past the peak, the best round's branch, else the last one).
            let own = match retrain_kind {
                "scratch" => retrain,
                "branch" => {
                    let chosen_round = events
                        .iter()
                        .find(|e| e["event"] == "past_peak")
                        .and_then(|e| count(&e["best_round"]))
                        .or_else(|| {
                            events
                                .iter()
                                .rev()
                                .find(|e| e["event"] == "round")
                                .and_then(|e| count(&e["round"]))
                        })?;
                    let round = events.iter().find(|e| {
                        e["event"] == "round" && count(&e["round"]) == Some(chosen_round)
                    })?;
                    count(&settings["warmup_epochs"])?
                        + chosen_round * count(&settings["round_epochs"])?
                        + count(&round["branch_epochs"])?
                        + retrain
                }
                _ => count(&epochs["supernet"])? + retrain,
            };
            let mut names: Vec<&str> = Vec::new();
            for e in events {
                for x in e["evidence"].as_array().into_iter().flatten() {
                    if let Some(n) = x["sampler"].as_str().filter(|n| !names.contains(n)) {
                        names.push(n);
                    }
                }
            }
            // A mixture retrain trains every candidate with a weight in each epoch.
            let copies = if settings["final_sampler"] == "mixture" {
                mixture_candidates(d).max(1)
            } else {
                1
            };
            Some(Estimate {
                candidates: names.len().max(1),
                epochs_per_candidate: own,
                seconds_per_epoch: d["retrain_seconds"].as_f64()?
                    / (retrain.max(1) * copies) as f64,
                basis: match retrain_kind {
                    "scratch" => {
                        "each candidate trained as long as the chosen one's retrain, at the \
                         retrain's seconds per epoch"
                    }
                    "branch" => {
                        "each candidate trained as long as the chosen model did in all (the \
                         supernet epochs before its branch, the branch and the retrain), at the \
                         retrain's seconds per epoch"
                    }
                    _ if copies > 1 => {
                        "each candidate trained as long as the chosen model did in all (the \
                         supernet epochs and the mixture retrain), at the retrain's seconds per \
                         epoch and weighted candidate"
                    }
                    _ => {
                        "each candidate trained as long as the chosen model did in all (the \
                         supernet epochs and the retrain), at the retrain's seconds per epoch"
                    }
                },
            })
        }
        _ => None,
    }
}

/// The candidates a mixture retrain trained: the `chosen` event's `final_weights`, one
/// `[spec, weight]` pair per active candidate (each samples and joins every batch, whatever
/// its weight; as the selector benchmark counts them).
fn mixture_candidates(details: &Value) -> usize {
    chosen_event(details)
        .and_then(|e| e["final_weights"].as_array())
        .map_or(0, Vec::len)
}

/// A search's work in single-sampler epochs, as the selector benchmark counts it
/// (benchmarks/selector/run_selector.py `work_epochs`): a supernet epoch trains every active
/// candidate's copy of each pair, so it counts once per active candidate.
fn work_epochs(o: &Value) -> Option<usize> {
    let d = &o["details"];
    let count = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    let total = count(&o["total_epochs"])?;
    match o["strategy"].as_str()? {
        "autosample" => {
            let events = d["events"].as_array()?;
            let active = |e: &Value| {
                e["weights"].as_array().map_or(0, |w| {
                    w.iter()
                        .filter(|w| w.as_f64().is_some_and(|w| w > 0.0))
                        .count()
                })
            };
            let rounds: Vec<&Value> = events.iter().filter(|e| e["event"] == "round").collect();
            // The warm-up trains every initial candidate: as many as round 0 has weights.
            let initial = rounds
                .first()
                .and_then(|e| e["weights"].as_array())
                .map_or(1, |w| w.len().max(1));
            let warmup = events
                .first()
                .filter(|e| e["event"] == "warmup")
                .and_then(|e| count(&e["epochs"]))
                .unwrap_or(0);
            let epochs = &d["epochs"];
            let mut work = count(&epochs["branches"])? + count(&epochs["retrain"])?;
            work += warmup * initial;
            // The supernet epochs after the warm-up, round by round (a `--retrain branch`
            // search skips its last round's).
            let round_epochs = count(&d["settings"]["round_epochs"])?;
            let mut left = count(&epochs["supernet"])?.saturating_sub(warmup);
            for e in rounds {
                let ran = round_epochs.min(left);
                left -= ran;
                work += ran * active(e);
            }
            if d["settings"]["final_sampler"] == "mixture" {
                work += count(&epochs["retrain"])? * mixture_candidates(d).saturating_sub(1);
            }
            Some(work)
        }
        "halving" => {
            let warm = count(&d["warmup_epochs"]).unwrap_or(0);
            let c = d["rungs"][0]["values"].as_array().map_or(1, Vec::len);
            Some(total + warm * c.saturating_sub(1))
        }
        _ => Some(total),
    }
}

/// The cost line of the summary: the search's epochs and seconds, and against exhaustive
/// search's (estimated, unless this is it).
fn cost_line(o: &Value, estimate: Option<&Estimate>) -> String {
    let epochs = o["total_epochs"].as_u64().unwrap_or(0);
    let seconds = o["search_seconds"].as_f64().unwrap_or(f64::NAN);
    let work = work_epochs(o).unwrap_or(0);
    let own = if work as u64 == epochs {
        format!("cost: {epochs} epochs, {seconds:.1} s")
    } else {
        format!(
            "cost: {epochs} epochs ({work} epochs of work, a supernet epoch counting once per \
             candidate it trains), {seconds:.1} s"
        )
    };
    match estimate {
        _ if o["strategy"] == "exhaustive" => {
            format!("{own} (exhaustive search: the baseline others are measured against)")
        }
        Some(e) if e.epochs() > 0 => format!(
            "{own}: {:.2}× the work and {:.2}× the seconds of an exhaustive search, estimated \
             as {} candidates × {} epochs = {} epochs, about {:.0} s ({})",
            work as f64 / e.epochs() as f64,
            seconds / e.seconds(),
            e.candidates,
            e.epochs_per_candidate,
            e.epochs(),
            e.seconds(),
            e.basis
        ),
        _ => own,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG.
fn bar_chart(title: &str, bars: &[Bar]) -> String {
    let (row, label_w, plot_w) = (22.0, 560.0, 300.0);
    let max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let height = row * bars.len() as f64 + 10.0;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{}\" height=\"{height}\" role=\"img\">",
        escape(title),
        label_w + plot_w + 70.0
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i as f64 * row + 5.0;
        let w = if b.value.is_finite() {
            b.value / max * plot_w
        } else {
            0.0
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar{}\" x=\"{}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\"/>\
             <text x=\"{}\" y=\"{}\">{:.4}</text>",
            label_w - 6.0,
            y + 14.0,
            escape(&b.label),
            if b.chosen { " chosen" } else { "" },
            label_w,
            row - 6.0,
            label_w + w + 4.0,
            y + 14.0,
            b.value
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// The AutoSample search's curves: each candidate's weight over the rounds (α over time) and
/// the retrain's validation curve.
fn line_charts(o: &Value, chosen: &str, monitor: &str) -> Vec<(String, String, Vec<Series>)> {
    let mut out = Vec::new();
    let events = o["details"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rounds: Vec<&Value> = events.iter().filter(|e| e["event"] == "round").collect();
    let names: Vec<String> = rounds
        .first()
        .and_then(|e| e["evidence"].as_array())
        .into_iter()
        .flatten()
        .map(|x| x["sampler"].as_str().unwrap_or("?").to_owned())
        .collect();
    if !rounds.is_empty() {
        let weight = |e: &Value, key: &str, i: usize| e[key][i].as_f64().unwrap_or(0.0);
        let series = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut points = vec![(0.0, weight(rounds[0], "weights", i))];
                for (r, e) in rounds.iter().enumerate() {
                    points.push(((r + 1) as f64, weight(e, "final_weights", i)));
                }
                Series {
                    label: name.clone(),
                    chosen: name == chosen,
                    points,
                }
            })
            .collect();
        out.push((
            "Candidate weights over the rounds (0 = start of round 0)".to_owned(),
            "round".to_owned(),
            series,
        ));
    }
    let curve: Vec<(f64, f64)> = o["details"]["retrain_curve"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
        .collect();
    if !curve.is_empty() {
        out.push((
            format!("Retrain: validation {monitor} by epoch (0 = the search's parameters)"),
            "epoch".to_owned(),
            vec![Series {
                label: chosen.to_owned(),
                chosen: true,
                points: curve,
            }],
        ));
    }
    out
}

/// An inline SVG line chart: one polyline per series, axes labelled with their ranges.
fn line_chart(title: &str, x_label: &str, series: &[Series]) -> String {
    let (w, h, left, legend_w) = (460.0, 220.0, 50.0, 420.0);
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return String::new();
    }
    let (y0, y1) = (y0.min(0.0), if y1 > y0 { y1 } else { y0 + 1.0 });
    let sx = |x: f64| left + (x - x0) / (x1 - x0).max(1e-12) * w;
    let sy = |y: f64| 10.0 + (1.0 - (y - y0) / (y1 - y0).max(1e-12)) * h;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg class=\"chart line-chart\" \
         xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\"/>\
         <line x1=\"{left}\" y1=\"10\" x2=\"{left}\" y2=\"{}\" stroke=\"#444\"/>\
         <text x=\"{left}\" y=\"{}\">{x_label} {x0}</text><text x=\"{}\" y=\"{}\" \
         text-anchor=\"end\">{x1}</text><text x=\"2\" y=\"16\">{y1:.3}</text>\
         <text x=\"2\" y=\"{}\">{y0:.3}</text>",
        escape(title),
        left + w + legend_w,
        h + 40.0,
        h + 10.0,
        left + w,
        h + 10.0,
        h + 10.0,
        h + 28.0,
        left + w,
        h + 28.0,
        h + 10.0,
    );
    for (k, s) in series.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let class = if s.chosen { "line chosen" } else { "line" };
        let _ = write!(
            svg,
            "<polyline class=\"{class}\" fill=\"none\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\">{}{}</text>",
            path.join(" "),
            left + w + 12.0,
            16.0 + 14.0 * k as f64,
            if s.chosen { "● " } else { "○ " },
            escape(&s.label)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn render_html(
    o: &Value,
    chosen: &str,
    cost: &str,
    lines: &[String],
    charts: &[(String, Vec<Bar>)],
    line_charts: &[(String, String, Vec<Series>)],
) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>autosample search: {} × {}</h1><p>Dataset <b>{}</b>, model <b>{}</b>, strategy \
         <b>{}</b>, seed {}. Chosen sampler: <b class=\"chosen-name\">{}</b>.</p>",
        escape(o["model"].as_str().unwrap_or("?")),
        escape(o["dataset"]["name"].as_str().unwrap_or("?")),
        escape(o["dataset"]["name"].as_str().unwrap_or("?")),
        escape(o["model"].as_str().unwrap_or("?")),
        escape(o["strategy"].as_str().unwrap_or("?")),
        o["seed"],
        escape(chosen)
    );
    let _ = write!(
        body,
        "<p>Test of the chosen (read once): Recall@20 {:.4}, NDCG@20 {:.4}.</p><p \
         class=\"cost\">{}</p><p>Build {}.</p>",
        o["test"]["recall@20"].as_f64().unwrap_or(f64::NAN),
        o["test"]["ndcg@20"].as_f64().unwrap_or(f64::NAN),
        escape(cost),
        escape(o["build"]["commit"].as_str().unwrap_or("?"))
    );
    for (title, x_label, series) in line_charts {
        body.push_str(&line_chart(title, x_label, series));
    }
    for (title, bars) in charts {
        body.push_str(&bar_chart(title, bars));
    }
    body.push_str("<h2>Decisions</h2><pre>");
    for l in lines {
        body.push_str(&escape(l));
        body.push('\n');
    }
    body.push_str("</pre>");
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>autosample search \
         report</title><style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}\
         svg text{{font-size:12px;font-family:monospace}}rect.bar{{fill:#8aa9c9}}\
         rect.bar.chosen{{fill:#d0743c}}polyline.line{{stroke:#8aa9c9;stroke-width:1.5}}\
         polyline.line.chosen{{stroke:#d0743c;stroke-width:2.5}}figcaption{{font-weight:bold;margin:1em 0 .3em}}\
         </style></head><body>{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An autosample outcome: 3 candidates, a 5-epoch warm-up, rounds of 5 supernet epochs,
    /// the third candidate pruned in round 0, the rounds stopped past the peak in round 2 (best
    /// round 1, whose branches ran 4 epochs), a 10-epoch retrain of 20 s.
    fn autosample_outcome(retrain: &str, final_sampler: &str) -> Value {
        serde_json::json!({
            "strategy": "autosample",
            "total_epochs": 5 + 10 + 30 + 10,
            "search_seconds": 100.0,
            "details": {
                "settings": {"retrain": retrain, "final_sampler": final_sampler,
                             "warmup_epochs": 5, "round_epochs": 5},
                "epochs": {"supernet": 15, "branches": 30, "retrain": 10},
                "retrain_seconds": 20.0,
                "events": [
                    {"event": "warmup", "epochs": 5},
                    {"event": "round", "round": 0, "branch_epochs": 2, "weights": [0.3, 0.3, 0.4],
                     "evidence": [{"sampler": "a"}, {"sampler": "b"}, {"sampler": "c"}]},
                    {"event": "round", "round": 1, "branch_epochs": 4, "weights": [0.5, 0.5, 0.0],
                     "evidence": [{"sampler": "a"}, {"sampler": "b"}]},
                    {"event": "round", "round": 2, "branch_epochs": 8, "weights": [0.5, 0.5, 0.0],
                     "evidence": [{"sampler": "a"}, {"sampler": "b"}]},
                    {"event": "past_peak", "round": 2, "best_round": 1},
                    {"event": "chosen", "final_weights": [["a", 0.6], ["b", 0.4]]},
                ],
            },
        })
    }

    #[test]
    fn the_exhaustive_estimate_follows_what_the_chosen_model_trained() {
        let est = |retrain, final_sampler| {
            let e = exhaustive_estimate(&autosample_outcome(retrain, final_sampler)).unwrap();
            (e.candidates, e.epochs_per_candidate, e.seconds_per_epoch)
        };
        // warm: the 15 supernet epochs and the retrain.
        assert_eq!(est("warm", "argmax"), (3, 15 + 10, 2.0));
        // scratch: the retrain alone.
        assert_eq!(est("scratch", "argmax"), (3, 10, 2.0));
        // branch: the warm-up, round 1's supernet epochs before its branches (1 · 5), the
        // 4-epoch branch and the retrain.
        assert_eq!(est("branch", "argmax"), (3, 5 + 5 + 4 + 10, 2.0));
        // mixture: each retrain epoch trains the two weighted candidates.
        assert_eq!(est("warm", "mixture"), (3, 25, 1.0));
    }

    #[test]
    fn work_epochs_count_a_supernet_epoch_once_per_candidate_it_trains() {
        // Branches 30 + retrain 10, warm-up 5 × 3, then 10 supernet epochs after it: round 0's
        // 5 with 3 weighted candidates, round 1's 5 with 2 (round 2 ran none).
        let argmax = work_epochs(&autosample_outcome("warm", "argmax")).unwrap();
        assert_eq!(argmax, 30 + 10 + 15 + 5 * 3 + 5 * 2);
        let mixture = work_epochs(&autosample_outcome("warm", "mixture")).unwrap();
        assert_eq!(mixture, argmax + 10);
        let exhaustive = serde_json::json!({"strategy": "exhaustive", "total_epochs": 42});
        assert_eq!(work_epochs(&exhaustive), Some(42));
        assert!(exhaustive_estimate(&exhaustive).is_none());
    }
}
