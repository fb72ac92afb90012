//! Exhaustive search: the ground-truth baseline. Every candidate of the space trains alone,
//! from the same initialisation and seed, to early stopping on validation; the candidate with
//! the best validation metric wins; only the winner's model is evaluated on the test split,
//! once, at the end. Its cost is what AutoSample's search is measured against.
//!
//! With a work directory, each candidate trains in its own run directory
//! (`candidates/<index>-<spec>/`) and leaves `result.json` when done, so an interrupted search
//! continues where it stopped: finished candidates are read back, an interrupted one resumes
//! from its last evaluation (exactly, as `train --resume` does), the rest start.

use std::path::Path;
use std::time::Instant;

use autosample_data::Dataset;
use autosample_train::{
    Progress, Result, RunDir, RunFiles, TrainConfig, TrainError, TrainOptions, TrainedModel,
    test_report, train_with,
};
use serde::{Deserialize, Serialize};

use crate::SearchSpace;

/// One candidate's run in an exhaustive search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateRun {
    /// The sampler spec.
    pub sampler: String,
    /// Validation metrics at its best epoch.
    pub valid: std::collections::BTreeMap<String, f64>,
    /// The monitored validation metric at its best epoch.
    pub monitor_value: f64,
    /// Its best epoch (1-based).
    pub best_epoch: usize,
    /// Epochs it ran.
    pub epochs_run: usize,
    /// Seconds of training and validation.
    pub seconds: f64,
}

/// The result of an exhaustive search.
#[derive(Debug, Clone, Serialize)]
pub struct ExhaustiveOutcome {
    /// Every candidate, in space order.
    pub candidates: Vec<CandidateRun>,
    /// The winner's spec (best monitored validation metric; the first on a tie).
    pub chosen: String,
    /// Test metrics of the winner's best-validation parameters: the only read of the test
    /// split.
    pub test: std::collections::BTreeMap<String, f64>,
    /// Total seconds.
    pub seconds: f64,
    /// Epochs trained over all candidates.
    pub total_epochs: usize,
    /// The winner's model.
    #[serde(skip)]
    pub model: Option<TrainedModel>,
}

/// Trains every initial candidate of `space` with `base` (its `sampler` is replaced by each
/// candidate) and picks the best on validation (`base.monitor`). With `workdir`, candidates
/// train in run directories under it and an interrupted search continues (module docs).
///
/// # Errors
/// A candidate's training error, naming the candidate; an unreadable work directory.
pub fn exhaustive(
    dataset: &Dataset,
    space: &SearchSpace,
    base: &TrainConfig,
    progress: Progress,
    workdir: Option<&Path>,
) -> Result<ExhaustiveOutcome> {
    let started = Instant::now();
    let options = TrainOptions {
        warm_start: None,
        read_test: false,
        ..TrainOptions::default()
    };
    let mut runs = Vec::new();
    let mut best: Option<(f64, usize, Option<TrainedModel>)> = None;
    let mut total_epochs = 0;
    for (i, candidate) in space.initial_candidates().iter().enumerate() {
        let cfg = TrainConfig {
            sampler: candidate.clone(),
            ..base.clone()
        };
        let dir = workdir.map(|w| candidate_dir(w, i, &candidate.spec()));
        let done = dir.as_ref().map(|d| d.join(RESULT));
        let (run, model) = match done.as_ref().filter(|p| p.exists()) {
            Some(path) => (read_result(path)?, None),
            None => {
                let t = Instant::now();
                tracing::info!(sampler = %candidate.spec(), "exhaustive search: candidate {}", i + 1);
                let mut run_dir = match &dir {
                    Some(d) if d.join(RunFiles::STATE).exists() => Some(RunDir::resume(d)?),
                    Some(d) => {
                        let r = RunDir::create(d, true)?;
                        r.write_json(RunFiles::CONFIG, &cfg)?;
                        Some(r)
                    }
                    None => None,
                };
                let out = train_with(dataset, &cfg, run_dir.as_mut(), progress, &options).map_err(
                    |e| TrainError::Config(format!("candidate `{}`: {e}", candidate.spec())),
                )?;
                let run = CandidateRun {
                    sampler: candidate.spec(),
                    valid: out.best_valid.to_map(),
                    monitor_value: out.best_valid.get(&base.monitor).unwrap_or(f64::NAN),
                    best_epoch: out.best_epoch,
                    epochs_run: out.epochs_run,
                    seconds: t.elapsed().as_secs_f64(),
                };
                if let Some(path) = &done {
                    autosample_train::write_json_atomic(path, &run)?;
                }
                (run, Some(out.model))
            }
        };
        total_epochs += run.epochs_run;
        if best.as_ref().is_none_or(|(v, _, _)| run.monitor_value > *v) {
            best = Some((run.monitor_value, i, model));
        }
        runs.push(run);
    }
    let Some((_, winner, model)) = best else {
        return Err(TrainError::Config(
            "the search space has no candidate".to_owned(),
        ));
    };
    let mut model = match (model, workdir) {
        (Some(m), _) => m,
        (None, Some(w)) => {
            let d = candidate_dir(w, winner, &runs[winner].sampler);
            TrainedModel::load(&base.model, &d, &dataset.train)?
        }
        (None, None) => unreachable!("without a work directory every candidate trains here"),
    };
    let test = test_report(&mut model, dataset, &base.ks)?;
    Ok(ExhaustiveOutcome {
        chosen: runs[winner].sampler.clone(),
        candidates: runs,
        test: test.to_map(),
        seconds: started.elapsed().as_secs_f64(),
        total_epochs,
        model: Some(model),
    })
}

/// A finished candidate's record in its run directory.
const RESULT: &str = "result.json";

fn candidate_dir(workdir: &Path, index: usize, spec: &str) -> std::path::PathBuf {
    let safe: String = spec
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    workdir
        .join("candidates")
        .join(format!("{index:02}-{safe}"))
}

fn read_result(path: &Path) -> Result<CandidateRun> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        message: format!("cannot read ({e})"),
    })?;
    serde_json::from_str(&text).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        message: format!("not a candidate result ({e}); delete the file to retrain the candidate"),
    })
}
