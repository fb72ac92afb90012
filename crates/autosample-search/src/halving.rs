//! Successive halving: from scratch, the second baseline of the search (issue 7, part 5); from
//! a short supernet warm-up, one of the selector rules (part 3).
//!
//! Every candidate starts from the same state ([`HalvingStart`]: the initialisation, or the
//! model after a few equal-weight supernet epochs) and trains `first_epochs`; the better
//! half on validation (rounded up) continues, each from its own state, for twice as many
//! epochs; and so on until one is left, which then trains on to early stopping. The test split
//! is read once, for that final model.

use std::time::Instant;

use autosample_data::Dataset;
use autosample_models::TrainingState;
use autosample_train::{
    Progress, Result, TrainConfig, TrainError, TrainOptions, TrainedModel, WarmStart, derive_seed,
    train_with,
};
use serde::Serialize;

use crate::{SearchSpace, Supernet};

/// Where every candidate's copy starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HalvingStart {
    /// The same fresh initialisation (the baseline).
    Init,
    /// The model after `epochs` supernet epochs over every candidate with equal weights
    /// (optimizer state kept): a common *early* state (method reference §3.4).
    SupernetWarmup {
        /// Supernet epochs.
        epochs: usize,
    },
}

/// One rung of successive halving.
#[derive(Debug, Clone, Serialize)]
pub struct Rung {
    /// Rung (0-based).
    pub rung: usize,
    /// Epochs each survivor trained in this rung.
    pub epochs: usize,
    /// Per survivor: spec and validation metric after the rung.
    pub values: Vec<(String, f64)>,
    /// Specs dropped after this rung.
    pub dropped: Vec<String>,
}

/// The result of successive halving.
#[derive(Debug, Clone, Serialize)]
pub struct HalvingOutcome {
    /// The last candidate standing.
    pub chosen: String,
    /// Every rung.
    pub rungs: Vec<Rung>,
    /// Where the copies started.
    pub start: HalvingStart,
    /// Supernet warm-up epochs (0 from the initialisation).
    pub warmup_epochs: usize,
    /// Epochs of the final training to early stopping.
    pub final_epochs: usize,
    /// Epochs over the warm-up, all rungs and the final training.
    pub total_epochs: usize,
    /// Validation metrics of the final model.
    pub valid: std::collections::BTreeMap<String, f64>,
    /// Test metrics of the final model: the only read of the test split.
    pub test: std::collections::BTreeMap<String, f64>,
    /// Seconds.
    pub seconds: f64,
    /// The final model.
    #[serde(skip)]
    pub model: Option<TrainedModel>,
}

/// Runs successive halving over the initial candidates of `space`, rungs starting at
/// `first_epochs` and doubling; `base` gives everything else (its `epochs`, `eval_every` and
/// `patience` govern the final training).
///
/// # Errors
/// A training error, naming the candidate.
pub fn successive_halving(
    dataset: &Dataset,
    space: &SearchSpace,
    base: &TrainConfig,
    first_epochs: usize,
    start: HalvingStart,
    progress: Progress,
) -> Result<HalvingOutcome> {
    let started = Instant::now();
    let candidates = space.initial_candidates();
    let (common, warmup_epochs) = match start {
        HalvingStart::Init => (None, 0),
        HalvingStart::SupernetWarmup { epochs } => {
            let mut net = Supernet::new(candidates, derive_seed(base.seed, "halving-warmup", 0))?;
            let mut model = TrainedModel::new(
                &base.model,
                &dataset.train,
                derive_seed(base.seed, "init", 0),
            )?;
            let equal = vec![1.0; candidates.len()];
            for epoch in 0..epochs {
                net.train_epoch(
                    &mut model,
                    &dataset.train,
                    base.batch_size,
                    base.negatives,
                    &equal,
                    epoch,
                    epochs,
                )?;
            }
            (Some(model.training_state()), epochs)
        }
    };
    let mut survivors: Vec<(usize, Option<TrainingState>)> =
        (0..candidates.len()).map(|i| (i, common.clone())).collect();
    let mut rungs = Vec::new();
    let mut total_epochs = warmup_epochs;
    let mut epochs = first_epochs.max(1);
    let mut rung = 0;
    while survivors.len() > 1 {
        let mut scored: Vec<(usize, f64, TrainingState)> = Vec::new();
        for (i, state) in survivors.drain(..) {
            let cfg = TrainConfig {
                sampler: candidates[i].clone(),
                epochs,
                eval_every: epochs,
                patience: 0,
                seed: derive_seed(base.seed, "halving", rung as u64),
                ..base.clone()
            };
            let options = TrainOptions {
                warm_start: state.map(|state| WarmStart {
                    state,
                    keep_optimizer: true,
                }),
                read_test: false,
            };
            let out = train_with(dataset, &cfg, None, progress, &options).map_err(|e| {
                TrainError::Config(format!("candidate `{}`: {e}", candidates[i].spec()))
            })?;
            total_epochs += out.epochs_run;
            let value = out.best_valid.get(&base.monitor).unwrap_or(f64::NAN);
            scored.push((i, value, out.model.training_state()));
        }
        // Best first; ties keep space order.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let keep = scored.len().div_ceil(2);
        let values = scored
            .iter()
            .map(|(i, v, _)| (candidates[*i].spec(), *v))
            .collect();
        let dropped = scored[keep..]
            .iter()
            .map(|(i, _, _)| candidates[*i].spec())
            .collect();
        rungs.push(Rung {
            rung,
            epochs,
            values,
            dropped,
        });
        survivors = scored
            .into_iter()
            .take(keep)
            .map(|(i, _, s)| (i, Some(s)))
            .collect();
        epochs *= 2;
        rung += 1;
    }
    let (winner, state) = survivors
        .pop()
        .ok_or_else(|| TrainError::Config("the search space has no candidate".to_owned()))?;
    let cfg = TrainConfig {
        sampler: candidates[winner].clone(),
        seed: derive_seed(base.seed, "halving", rung as u64),
        ..base.clone()
    };
    let options = TrainOptions {
        warm_start: state.map(|state| WarmStart {
            state,
            keep_optimizer: true,
        }),
        read_test: true,
    };
    let out = train_with(dataset, &cfg, None, progress, &options)?;
    total_epochs += out.epochs_run;
    let test = out.test.as_ref().map(|t| t.to_map()).ok_or_else(|| {
        TrainError::Config("the final training did not read the test split".to_owned())
    })?;
    Ok(HalvingOutcome {
        chosen: candidates[winner].spec(),
        rungs,
        start,
        warmup_epochs,
        final_epochs: out.epochs_run,
        total_epochs,
        valid: out.best_valid.to_map(),
        test,
        seconds: started.elapsed().as_secs_f64(),
        model: Some(out.model),
    })
}
