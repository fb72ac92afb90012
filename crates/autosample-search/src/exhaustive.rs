//! Exhaustive search: the ground-truth baseline. Every candidate of the space trains alone,
//! from the same initialisation and seed, to early stopping on validation; the candidate with
//! the best validation metric wins; only the winner's model is evaluated on the test split,
//! once, at the end. Its cost is what AutoSample's search is measured against.

use std::time::Instant;

use autosample_data::Dataset;
use autosample_metrics::EvalReport;
use autosample_train::{
    Progress, Result, TrainConfig, TrainError, TrainOptions, TrainedModel, evaluate_model,
    train_with,
};
use serde::Serialize;

use crate::SearchSpace;

/// One candidate's run in an exhaustive search.
#[derive(Debug, Clone, Serialize)]
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
/// candidate) and picks the best on validation (`base.monitor`).
///
/// # Errors
/// A candidate's training error, naming the candidate.
pub fn exhaustive(
    dataset: &Dataset,
    space: &SearchSpace,
    base: &TrainConfig,
    progress: Progress,
) -> Result<ExhaustiveOutcome> {
    let started = Instant::now();
    let options = TrainOptions {
        warm_start: None,
        read_test: false,
    };
    let mut runs = Vec::new();
    let mut best: Option<(f64, usize, TrainedModel)> = None;
    let mut total_epochs = 0;
    for (i, candidate) in space.initial_candidates().iter().enumerate() {
        let cfg = TrainConfig {
            sampler: candidate.clone(),
            ..base.clone()
        };
        let t = Instant::now();
        tracing::info!(sampler = %candidate.spec(), "exhaustive search: training candidate {}", i + 1);
        let out = train_with(dataset, &cfg, None, progress, &options)
            .map_err(|e| TrainError::Config(format!("candidate `{}`: {e}", candidate.spec())))?;
        let value = out.best_valid.get(&base.monitor).unwrap_or(f64::NAN);
        total_epochs += out.epochs_run;
        runs.push(CandidateRun {
            sampler: candidate.spec(),
            valid: out.best_valid.to_map(),
            monitor_value: value,
            best_epoch: out.best_epoch,
            epochs_run: out.epochs_run,
            seconds: t.elapsed().as_secs_f64(),
        });
        if best.as_ref().is_none_or(|(v, _, _)| value > *v) {
            best = Some((value, i, out.model));
        }
    }
    let Some((_, winner, mut model)) = best else {
        return Err(TrainError::Config(
            "the search space has no candidate".to_owned(),
        ));
    };
    model.refresh();
    let train_valid = dataset.train.union(&dataset.valid);
    let test: EvalReport =
        evaluate_model(model.scorer(), &dataset.test, &[&train_valid], &base.ks)?;
    Ok(ExhaustiveOutcome {
        chosen: runs[winner].sampler.clone(),
        candidates: runs,
        test: test.to_map(),
        seconds: started.elapsed().as_secs_f64(),
        total_epochs,
        model: Some(model),
    })
}
