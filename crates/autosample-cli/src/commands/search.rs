//! `autosample search`

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use autosample_search::{
    AutoSampleConfig, FinalSampler, HALVING_CHECKPOINT, HalvingStart, Retrain, SearchSpace,
    SelectorConfig, ValidationLoss, autosample_in, exhaustive, successive_halving_in,
};
use autosample_train::{Progress, RunFiles, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::args::{FinalArg, HalvingStartArg, RetrainArg, SearchArgs, SelectorArg, StrategyArg};
use crate::commands::train::{DatasetInfo, RunConfig, resolve_config};
use crate::data_source::DataSpec;
use crate::meta::{BuildInfo, build_info, utc_stamp};

/// Removes what a search leaves in `dir` (its outcome, plan, event log, candidates and
/// checkpoints): a new search or a training run (`--overwrite`) replacing it must not leave
/// `inspect` or `search --resume` reading the old one.
pub fn remove_search_files(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir.join("candidates"));
    for f in [
        "outcome.json",
        "search.json",
        "events.jsonl",
        "report.html",
        HALVING_CHECKPOINT,
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    autosample_search::remove_autosample_checkpoint(dir);
}

/// What `outcome.json` holds.
#[derive(Debug, Serialize)]
struct Outcome {
    build: BuildInfo,
    strategy: &'static str,
    seed: u64,
    dataset: DatasetInfo,
    model: String,
    space: String,
    /// The training configuration every candidate used (its `sampler` is the chosen one).
    train: TrainConfig,
    /// The chosen sampler (best validation metric).
    chosen: String,
    /// The monitored validation metric.
    monitor: String,
    /// Per candidate (exhaustive) or per decision (autosample): the evidence behind the choice.
    details: serde_json::Value,
    /// Validation metrics of the chosen model (what was selected on: the chosen candidate's
    /// best epoch, or the final retrain's), as a train run's summary has them.
    valid: std::collections::BTreeMap<String, f64>,
    /// Test metrics of the chosen candidate's model: the only read of the test split.
    test: std::collections::BTreeMap<String, f64>,
    total_epochs: usize,
    /// Wall seconds of the whole search, the processes before a `--resume` included (each
    /// strategy keeps its elapsed time in its checkpoints; an interrupted epoch's time is lost).
    search_seconds: f64,
    /// Wall seconds of the process that finished it.
    process_seconds: f64,
    finished_at_unix: u64,
}

/// What a search directory records about how it was started (`search.json`), so that
/// `--resume` continues exactly that search.
#[derive(Debug, Serialize, Deserialize)]
struct SearchPlan {
    train: TrainConfig,
    data: DataSpec,
    strategy: StrategyArg,
    retrain: RetrainArg,
    #[serde(default = "default_first_epochs")]
    first_epochs: usize,
    #[serde(default = "default_selector")]
    selector: SelectorArg,
    #[serde(default = "default_weight_floor")]
    weight_floor: f64,
    #[serde(default = "default_first_epochs")]
    warmup_epochs: usize,
    #[serde(default = "default_halving_start")]
    halving_start: HalvingStartArg,
    #[serde(default = "default_final")]
    final_sampler: FinalArg,
    #[serde(default = "default_max_rounds")]
    max_rounds: usize,
    #[serde(default = "default_prune_level")]
    prune_level: f64,
    #[serde(default)]
    prune_from_round: usize,
    #[serde(default)]
    stop_past_peak: bool,
    #[serde(default)]
    hold_warmup: bool,
    #[serde(default = "default_first_epochs")]
    round_epochs: usize,
    #[serde(default)]
    expand: bool,
    #[serde(default = "default_max_candidates")]
    max_candidates: usize,
    #[serde(default)]
    budget_epochs: Option<usize>,
    #[serde(default)]
    budget_seconds: Option<f64>,
    /// Where the space was read from, and its text (the search uses this copy).
    space_file: String,
    space: String,
    /// The data's fingerprint ([`autosample_data::Dataset::fingerprint`]), checked on
    /// `--resume`: a resumed search on other data would silently end elsewhere. Absent in plans
    /// written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_fingerprint: Option<String>,
}

fn default_first_epochs() -> usize {
    5
}

fn default_selector() -> SelectorArg {
    SelectorArg::Evidence
}

fn default_weight_floor() -> f64 {
    0.1
}

fn default_final() -> FinalArg {
    FinalArg::Argmax
}

fn default_prune_level() -> f64 {
    0.05
}

fn default_max_rounds() -> usize {
    // Plans written before --max-rounds existed ran 4 rounds.
    4
}

fn default_max_candidates() -> usize {
    16
}

fn default_halving_start() -> HalvingStartArg {
    HalvingStartArg::Init
}

/// Runs `autosample search`.
pub fn run(args: &SearchArgs, quiet: bool) -> Result<()> {
    let started = Instant::now();
    // Everything is checked before any training: the space, the flags, the output directory.
    let (mut plan, out) = match &args.resume {
        Some(dir) => {
            super::flags::refuse_beside_resume(
                &args.given,
                &["--resume", "--json"],
                dir,
                "search.json",
            )?;
            let path = dir.join("search.json");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "{}: cannot read; is this a search directory?",
                    path.display()
                )
            })?;
            let plan: SearchPlan = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a search plan", path.display()))?;
            if dir.join("outcome.json").exists() {
                bail!(
                    "{}: this search has finished already (outcome.json)",
                    dir.display()
                );
            }
            (plan, dir.clone())
        }
        None => {
            let space_file = args
                .space
                .clone()
                .context("give --space FILE (or --resume SEARCH_DIR)")?;
            let space_text = std::fs::read_to_string(&space_file).map_err(|e| {
                anyhow::anyhow!(
                    "{}: file: cannot read it ({e}); give the path of a search-space JSON file",
                    space_file.display()
                )
            })?;
            let space = SearchSpace::parse(&space_text, &space_file.display().to_string())?;
            check_flags_apply(args, &space, &space_file)?;
            if let Some(b) = args.budget_seconds
                && !(b.is_finite() && b >= 0.0)
            {
                bail!("--budget-seconds {b}: give a number of seconds ≥ 0");
            }
            let plan = SearchPlan {
                train: resolve_config(&args.hyper, Some("uniform"))?,
                data: DataSpec::from_args(&args.data, None)?,
                strategy: args.strategy,
                retrain: args.retrain,
                first_epochs: args.first_epochs,
                selector: args.selector,
                weight_floor: args.weight_floor,
                warmup_epochs: args.warmup_epochs,
                halving_start: args.halving_start,
                final_sampler: args.final_sampler,
                max_rounds: args.max_rounds,
                prune_level: args.prune_level,
                prune_from_round: args.prune_from_round,
                stop_past_peak: args.stop_past_peak,
                hold_warmup: args.hold_warmup,
                round_epochs: args.round_epochs,
                expand: args.expand,
                max_candidates: args.max_candidates,
                budget_epochs: args.budget_epochs,
                budget_seconds: args.budget_seconds,
                space_file: space_file.display().to_string(),
                space: space_text,
                data_fingerprint: None,
            };
            if plan.strategy == StrategyArg::Autosample {
                autosample_settings(&plan).validate()?;
            }
            let out = match &args.out {
                Some(dir) => dir.clone(),
                None => PathBuf::from("runs").join(format!(
                    "search-{}-{}-{}",
                    match &plan.data {
                        DataSpec::Synthetic { .. } => "synthetic".to_owned(),
                        DataSpec::Files { path, .. } => path
                            .file_name()
                            .map_or("data".to_owned(), |n| n.to_string_lossy().into_owned()),
                    },
                    plan.train.model.name(),
                    utc_stamp().1
                )),
            };
            if (out.join("outcome.json").exists() || out.join("search.json").exists())
                && !args.overwrite
            {
                bail!(
                    "{}: already holds a search; pick another --out, pass --overwrite, or \
                     --resume it",
                    out.display()
                );
            }
            if out.join(RunFiles::CONFIG).exists() && !args.overwrite {
                bail!(
                    "{}: holds a training run; pick another --out for the search, or pass \
                     --overwrite to replace the run",
                    out.display()
                );
            }
            (plan, out)
        }
    };
    let space = SearchSpace::parse(&plan.space, &plan.space_file)?;
    let spec = plan.data.clone();
    let dataset = spec.load()?;
    crate::commands::train::check_model_fits(&plan.train, &dataset)?;
    let fingerprint = dataset.fingerprint();
    match &plan.data_fingerprint {
        Some(recorded) if *recorded != fingerprint => bail!(
            "{}: the data differs from the search's (fingerprint {fingerprint} here, {recorded} \
             in search.json): were the files changed, or is the path relative to another \
             directory? Resume from the directory the search started in, with its data",
            out.join("search.json").display()
        ),
        Some(_) => {}
        None if args.resume.is_some() => {} // a plan from before fingerprints were recorded
        None => {
            // A new search: an old one is removed (--overwrite) and the plan written only once
            // everything the search needs has been checked, so a bad flag loses nothing.
            if args.overwrite {
                remove_search_files(&out);
                // A training run's files too, or `train --resume` and `inspect` would read them.
                autosample_train::remove_run_files(&out)?;
            }
            plan.data_fingerprint = Some(fingerprint);
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            autosample_data::write_atomic(
                &out.join("search.json"),
                serde_json::to_string_pretty(&plan)?.as_bytes(),
            )
            .with_context(|| format!("writing {}", out.join("search.json").display()))?;
        }
    }
    let mut cfg = plan.train.clone();
    let outcome_path = out.join("outcome.json");
    let progress = if quiet {
        Progress::Quiet
    } else {
        Progress::Bar
    };
    tracing::info!(
        candidates = space.initial_candidates().len(),
        strategy = ?plan.strategy,
        "search over {}",
        plan.space_file
    );
    // The strategy's own seconds, which count the processes before a resume too.
    let strategy_seconds: f64;
    let (strategy, chosen, valid, test, total_epochs, details, model) = match plan.strategy {
        StrategyArg::Exhaustive => {
            let r = exhaustive(&dataset, &space, &cfg, progress, Some(&out))?;
            // Each candidate's seconds are kept with it; a resume trains only what is left.
            strategy_seconds = r.candidates.iter().map(|c| c.seconds).sum::<f64>();
            let valid = r
                .candidates
                .iter()
                .find(|c| c.sampler == r.chosen)
                .map(|c| c.valid.clone())
                .unwrap_or_default();
            let details = serde_json::json!({ "candidates": r.candidates });
            (
                "exhaustive",
                r.chosen,
                valid,
                r.test,
                r.total_epochs,
                details,
                r.model,
            )
        }
        StrategyArg::Halving => {
            let start = match plan.halving_start {
                HalvingStartArg::Init => HalvingStart::Init,
                HalvingStartArg::Warmup => HalvingStart::SupernetWarmup {
                    epochs: plan.warmup_epochs,
                },
            };
            let r = successive_halving_in(
                &dataset,
                &space,
                &cfg,
                plan.first_epochs,
                start,
                progress,
                Some(&out),
            )?;
            strategy_seconds = r.seconds;
            let details = serde_json::json!({
                "start": r.start,
                "warmup_epochs": r.warmup_epochs,
                "rungs": r.rungs,
                "final_epochs": r.final_epochs,
                "final_valid": r.valid,
            });
            (
                "halving",
                r.chosen,
                r.valid,
                r.test,
                r.total_epochs,
                details,
                r.model,
            )
        }
        StrategyArg::Autosample => {
            let settings = autosample_settings(&plan);
            let r = autosample_in(&dataset, &space, &cfg, &settings, progress, Some(&out))?;
            let epochs = r.epochs.supernet + r.epochs.branches + r.epochs.retrain;
            let details = serde_json::json!({
                "settings": settings,
                "events": r.events,
                "epochs": r.epochs,
                "retrained_valid": r.valid,
                "retrain_seconds": r.retrain_seconds,
                "retrain_curve": r.retrain_curve,
            });
            strategy_seconds = r.search_seconds + r.retrain_seconds;
            (
                "autosample",
                r.chosen,
                r.valid,
                r.test,
                epochs,
                details,
                r.model,
            )
        }
    };
    cfg.sampler = chosen.parse()?;
    // The chosen model, as a train run keeps its best: `autosample evaluate <out>` reads it.
    let model = model.context("the search returned no model")?;
    let (u, i) = model.tables();
    autosample_models::checkpoint::save_tables(&out.join(RunFiles::BEST), &u, &i)?;
    model.training_state().write(
        &out.join(RunFiles::BEST_STATE),
        &serde_json::json!({ "sampler": cfg.sampler.spec() }),
    )?;
    let run_config = RunConfig {
        train: cfg.clone(),
        data: spec.clone(),
        build: serde_json::to_value(build_info())?,
        dataset_fingerprint: Some(dataset.fingerprint()),
    };
    autosample_data::write_atomic(
        &out.join(RunFiles::CONFIG),
        serde_json::to_string_pretty(&run_config)?.as_bytes(),
    )
    .with_context(|| format!("writing {}", out.join(RunFiles::CONFIG).display()))?;
    let process_seconds = started.elapsed().as_secs_f64();
    let outcome = Outcome {
        build: build_info(),
        strategy,
        seed: cfg.seed,
        dataset: DatasetInfo::of(&dataset),
        model: cfg.model.name().to_owned(),
        space: plan.space_file.clone(),
        monitor: cfg.monitor.clone(),
        train: cfg,
        chosen,
        details,
        valid,
        test,
        total_epochs,
        search_seconds: strategy_seconds.max(process_seconds),
        process_seconds,
        finished_at_unix: utc_stamp().0,
    };
    // The decisions, one JSON object per line (the exhaustive baseline: one per candidate).
    let mut events = String::new();
    let list = outcome.details["events"]
        .as_array()
        .or_else(|| outcome.details["candidates"].as_array())
        .or_else(|| outcome.details["rungs"].as_array())
        .cloned()
        .unwrap_or_default();
    for e in &list {
        events.push_str(&serde_json::to_string(e)?);
        events.push('\n');
    }
    autosample_data::write_atomic(&out.join("events.jsonl"), events.as_bytes())
        .with_context(|| format!("writing {}", out.join("events.jsonl").display()))?;
    let text = serde_json::to_string_pretty(&outcome)?;
    autosample_data::write_atomic(&outcome_path, text.as_bytes())
        .with_context(|| format!("writing {}", outcome_path.display()))?;
    if args.json {
        out!("{text}");
    } else {
        out!(
            "chosen: {}   ({}, {} candidates, {} epochs, {:.1} s)",
            outcome.chosen,
            outcome.strategy,
            space.initial_candidates().len(),
            outcome.total_epochs,
            outcome.search_seconds
        );
        if crate::commands::inspect::final_sampler(&outcome.details) == "mixture" {
            out!(
                "  final sampler: the mixture of the candidates' losses with the last weights \
                 (the model was not trained on {} alone; `autosample inspect` lists the weights)",
                outcome.chosen
            );
        }
        if let Some(candidates) = outcome.details["candidates"].as_array() {
            for c in candidates {
                let spec = c["sampler"].as_str().unwrap_or("?");
                let mark = if spec == outcome.chosen { "*" } else { " " };
                out!(
                    " {mark} {spec:<60} valid {} {:.4}  (best epoch {})",
                    outcome.monitor,
                    c["monitor_value"].as_f64().unwrap_or(f64::NAN),
                    c["best_epoch"]
                );
            }
        }
        if let Some(rungs) = outcome.details["rungs"].as_array() {
            for r in rungs {
                out!(
                    "  rung {} ({} epochs): dropped {}",
                    r["rung"],
                    r["epochs"],
                    r["dropped"]
                );
            }
        }
        if let Some(events) = outcome.details["events"].as_array() {
            for e in events.iter().filter(|e| e["event"] == "round") {
                out!("  round {}: pruned {}", e["round"], e["pruned"]);
            }
        }
        let t = |k: &str| outcome.test.get(k).copied().unwrap_or(f64::NAN);
        out!(
            "test of the chosen: recall@20 {:.4}  ndcg@20 {:.4}",
            t("recall@20"),
            t("ndcg@20")
        );
        out!("outcome: {}", outcome_path.display());
    }
    Ok(())
}

/// Flags that only `--strategy autosample` reads.
const AUTOSAMPLE_FLAGS: &[&str] = &[
    "--retrain",
    "--selector",
    "--weight-floor",
    "--final",
    "--max-rounds",
    "--prune-level",
    "--prune-from-round",
    "--stop-past-peak",
    "--hold-warmup",
    "--round-epochs",
    "--expand",
    "--max-candidates",
    "--budget-epochs",
    "--budget-seconds",
];

/// Flags that only the evidence selector reads.
const EVIDENCE_FLAGS: &[&str] = &[
    "--prune-level",
    "--prune-from-round",
    "--stop-past-peak",
    "--hold-warmup",
];

/// Flags that only `--strategy halving` reads.
const HALVING_FLAGS: &[&str] = &["--first-epochs", "--halving-start"];

/// Refuses a flag this search would not read (given on the command line, not a default), and
/// `--expand` where it can add nothing.
///
/// # Errors
/// The flag, where it applies, and the fix.
fn check_flags_apply(args: &SearchArgs, space: &SearchSpace, space_file: &Path) -> Result<()> {
    use super::flags::refuse_unread;
    use clap::ValueEnum;
    let name = |v: Option<clap::builder::PossibleValue>| {
        v.map_or_else(|| "?".to_owned(), |v| v.get_name().to_owned())
    };
    let strategy = name(args.strategy.to_possible_value());
    let here = format!("this search is `{strategy}`");
    let given = &args.given;
    if args.strategy != StrategyArg::Autosample {
        refuse_unread(given, AUTOSAMPLE_FLAGS, "to --strategy autosample", &here)?;
    }
    if args.strategy != StrategyArg::Halving {
        refuse_unread(given, HALVING_FLAGS, "to --strategy halving", &here)?;
    }
    let reads_warmup = args.strategy == StrategyArg::Autosample
        || (args.strategy == StrategyArg::Halving && args.halving_start == HalvingStartArg::Warmup);
    if !reads_warmup {
        refuse_unread(
            given,
            &["--warmup-epochs"],
            "to --strategy autosample and to halving with --halving-start warmup",
            &format!("{here}, starting from the initialisation"),
        )?;
    }
    if args.strategy != StrategyArg::Autosample {
        return Ok(());
    }
    if args.selector != SelectorArg::Evidence {
        refuse_unread(
            given,
            EVIDENCE_FLAGS,
            "to --selector evidence",
            &format!(
                "this search's selector is `{}`",
                name(args.selector.to_possible_value())
            ),
        )?;
    }
    if !args.expand {
        refuse_unread(
            given,
            &["--max-candidates"],
            "with --expand",
            "this search does not expand",
        )?;
        return Ok(());
    }
    let candidates = space.initial_candidates();
    if candidates.len() < 2 {
        bail!(
            "--expand adds the neighbours of the rounds' leader, and {} starts from one \
             candidate, so no round runs: list the candidates to compare in the space (more \
             values in a `choice`), or drop --expand",
            space_file.display()
        );
    }
    let specs: Vec<String> = candidates.iter().map(|c| c.spec()).collect();
    let adds_nothing = candidates.iter().all(|c| {
        space
            .neighbours(c)
            .iter()
            .all(|n| specs.contains(&n.spec()))
    });
    if adds_nothing {
        bail!(
            "--expand adds the neighbours of the rounds' leader, and no candidate of {} has a \
             neighbouring value that is not a candidate already: give a parameter \
             more values in the space, or drop --expand",
            space_file.display()
        );
    }
    Ok(())
}

/// The AutoSample strategy's settings from a plan's flags.
fn autosample_settings(plan: &SearchPlan) -> AutoSampleConfig {
    AutoSampleConfig {
        retrain: match plan.retrain {
            RetrainArg::Warm => Retrain::Warm,
            RetrainArg::WarmKeep => Retrain::WarmKeep,
            RetrainArg::Scratch => Retrain::Scratch,
            RetrainArg::Branch => Retrain::Branch,
        },
        warmup_epochs: plan.warmup_epochs,
        max_rounds: plan.max_rounds,
        round_epochs: plan.round_epochs,
        weight_floor: plan.weight_floor,
        final_sampler: match plan.final_sampler {
            FinalArg::Argmax => FinalSampler::Argmax,
            FinalArg::Mixture => FinalSampler::Mixture,
        },
        expand: plan.expand,
        max_candidates: plan.max_candidates,
        budget_epochs: plan.budget_epochs,
        budget_seconds: plan.budget_seconds,
        selector: match plan.selector {
            SelectorArg::Evidence => match SelectorConfig::evidence() {
                SelectorConfig::Evidence {
                    branch_epochs,
                    temperature,
                    bootstrap,
                    ..
                } => SelectorConfig::Evidence {
                    branch_epochs,
                    temperature,
                    prune_level: plan.prune_level,
                    bootstrap,
                    prune_from_round: plan.prune_from_round,
                    stop_past_peak: plan.stop_past_peak,
                    hold_in_warmup: plan.hold_warmup,
                },
                other => other,
            },
            SelectorArg::AlignmentBpr => SelectorConfig::alignment(ValidationLoss::UniformBpr),
            SelectorArg::AlignmentSoftmax => {
                SelectorConfig::alignment(ValidationLoss::Softmax { temperature: 0.1 })
            }
            SelectorArg::TrainingLoss => SelectorConfig::training_loss(),
        },
    }
}
