//! The AutoSample strategy, first rule: **validation-metric evidence** (issue 7's second
//! selector rule). A hypothesis until the selector benchmark against exhaustive search has
//! measured it (docs/decisions/0004); `exhaustive` stays the CLI default until then.
//!
//! 1. **Warm-up.** A fresh model trains `warmup_epochs` through the supernet with equal weights.
//! 2. **Rounds** (until one candidate is left or `max_rounds`):
//!    - *Evidence.* From the shared state, every active candidate trains alone for `H` epochs
//!      (`H = branch_epochs · 2^round`, the branch keeps the shared optimizer state), and its
//!      branch is scored by the monitored validation metric per user.
//!    - *Pruning,* only where the gap exceeds the noise: candidate `c` is dropped when the
//!      leader beats it by more than `prune_z` standard errors of the per-user paired
//!      difference.
//!    - *Weights* `w = softmax(evidence / temperature)` over the active candidates, with a floor
//!      of `weight_floor / C` so that early evidence cannot silence a candidate for good.
//!    - *Supernet.* The shared model trains `round_epochs` through the supernet with `w`.
//! 3. **Choice**: the leader of the last evidence (or the one candidate left).
//! 4. **Retrain** the choice from the shared parameters (fresh optimizer; `Scratch`: from a
//!    fresh initialisation, for the ablation), early-stopped on validation; the test split is
//!    read once, for the retrained model.
//!
//! Every decision is an [`Event`] with its evidence.

use std::time::Instant;

use autosample_data::Dataset;
use autosample_metrics::{EvalOptions, evaluate};
use autosample_samplers::SamplerConfig;
use autosample_train::{
    Progress, Result, TrainConfig, TrainError, TrainOptions, TrainedModel, WarmStart, derive_seed,
    train_with,
};
use serde::Serialize;

use crate::{SearchSpace, Supernet};

/// How the winner is retrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retrain {
    /// From the search's parameters, optimizer state reset.
    Warm,
    /// From a fresh initialisation (the ablation).
    Scratch,
}

/// Settings of the evidence rule.
#[derive(Debug, Clone, Serialize)]
pub struct AutoSampleConfig {
    /// Supernet epochs with equal weights before the first evidence.
    pub warmup_epochs: usize,
    /// Supernet epochs per round.
    pub round_epochs: usize,
    /// Epochs of each candidate's branch in round 0 (doubles every round).
    pub branch_epochs: usize,
    /// At most this many rounds.
    pub max_rounds: usize,
    /// Softmax temperature of the evidence (in units of the monitored metric).
    pub temperature: f64,
    /// Each active weight is at least `weight_floor / C`.
    pub weight_floor: f64,
    /// Prune where the leader's lead exceeds this many standard errors.
    pub prune_z: f64,
    /// How the winner is retrained.
    pub retrain: Retrain,
}

impl Default for AutoSampleConfig {
    fn default() -> Self {
        Self {
            warmup_epochs: 5,
            round_epochs: 5,
            branch_epochs: 2,
            max_rounds: 4,
            temperature: 0.005,
            weight_floor: 0.1,
            prune_z: 2.0,
            retrain: Retrain::Warm,
        }
    }
}

/// One decision of the search, with its evidence.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The warm-up ended.
    Warmup {
        /// Supernet epochs.
        epochs: usize,
        /// Mean loss of its last epoch.
        loss: f64,
    },
    /// A round's evidence, pruning and weights.
    Round {
        /// Round (0-based).
        round: usize,
        /// Branch epochs per candidate.
        branch_epochs: usize,
        /// Per active candidate: spec, evidence (mean validation metric of its branch), lead
        /// of the leader over it and the lead's standard error.
        evidence: Vec<Evidence>,
        /// Specs pruned this round.
        pruned: Vec<String>,
        /// Weights used by this round's supernet epochs, per candidate (0 = inactive).
        weights: Vec<f64>,
    },
    /// The choice and the retrain.
    Chosen {
        /// The chosen spec.
        sampler: String,
        /// How it was retrained.
        retrain: Retrain,
        /// Retrain epochs run, and its best epoch.
        retrain_epochs: usize,
        /// Best retrain epoch.
        best_epoch: usize,
    },
}

/// One candidate's evidence in a round.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The spec.
    pub sampler: String,
    /// Mean validation metric of its branch.
    pub value: f64,
    /// Leader's mean per-user lead over it (0 for the leader).
    pub lead: f64,
    /// Standard error of that lead (paired over validation users).
    pub lead_se: f64,
}

/// The result of the AutoSample strategy.
#[derive(Debug, Clone, Serialize)]
pub struct AutoSampleOutcome {
    /// The chosen spec.
    pub chosen: String,
    /// Every decision.
    pub events: Vec<Event>,
    /// Validation metrics of the retrained model (best epoch).
    pub valid: std::collections::BTreeMap<String, f64>,
    /// Test metrics of the retrained model: the only read of the test split.
    pub test: std::collections::BTreeMap<String, f64>,
    /// Epochs, all kinds: supernet, branches, retrain.
    pub epochs: EpochCounts,
    /// Seconds: search (warm-up, rounds) and retrain.
    pub search_seconds: f64,
    /// Seconds of the retrain.
    pub retrain_seconds: f64,
    /// The retrained model.
    #[serde(skip)]
    pub model: Option<TrainedModel>,
}

/// Where the epochs went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EpochCounts {
    /// Supernet epochs (warm-up and rounds).
    pub supernet: usize,
    /// Single-candidate branch epochs.
    pub branches: usize,
    /// Retrain epochs.
    pub retrain: usize,
}

/// Per-user values of `monitor` on validation for `model`.
fn per_user_valid(model: &mut TrainedModel, dataset: &Dataset, monitor: &str) -> Result<Vec<f64>> {
    model.refresh();
    let k = monitor
        .split_once('@')
        .and_then(|(_, k)| k.parse().ok())
        .ok_or_else(|| TrainError::Config(format!("monitor {monitor:?} has no @K")))?;
    let report = evaluate(
        model.scorer(),
        &dataset.valid,
        &[&dataset.train],
        &EvalOptions {
            ks: vec![k],
            keep_per_user: true,
            ..EvalOptions::default()
        },
    )?;
    report
        .per_user
        .as_ref()
        .and_then(|p| p.metric(monitor))
        .map(<[f64]>::to_vec)
        .ok_or_else(|| TrainError::Config(format!("unknown monitor {monitor:?}")))
}

/// Runs the AutoSample strategy (evidence rule) over `space` with the training settings of
/// `base` (its sampler is ignored; its `epochs`, `eval_every` and `patience` govern the
/// retrain).
///
/// # Errors
/// A training or evaluation error.
pub fn autosample(
    dataset: &Dataset,
    space: &SearchSpace,
    base: &TrainConfig,
    settings: &AutoSampleConfig,
    progress: Progress,
) -> Result<AutoSampleOutcome> {
    let started = Instant::now();
    let candidates: Vec<SamplerConfig> = space.initial_candidates().to_vec();
    let c = candidates.len();
    let mut net = Supernet::new(&candidates, derive_seed(base.seed, "autosample", 0))?;
    let mut model = TrainedModel::new(
        &base.model,
        &dataset.train,
        derive_seed(base.seed, "init", 0),
    )?;
    let total = settings.warmup_epochs + settings.max_rounds * settings.round_epochs;
    let mut epoch = 0;
    let mut events = Vec::new();
    let mut counts = EpochCounts::default();
    let equal = vec![1.0; c];
    let mut last_loss = f64::NAN;
    for _ in 0..settings.warmup_epochs {
        last_loss = net
            .train_epoch(
                &mut model,
                &dataset.train,
                base.batch_size,
                base.negatives,
                &equal,
                epoch,
                total,
            )?
            .loss;
        epoch += 1;
        counts.supernet += 1;
    }
    events.push(Event::Warmup {
        epochs: settings.warmup_epochs,
        loss: last_loss,
    });
    let mut leader = 0;
    for round in 0..settings.max_rounds {
        let active: Vec<usize> = (0..c).filter(|&i| net.is_active(i)).collect();
        if active.len() <= 1 {
            leader = active.first().copied().unwrap_or(leader);
            break;
        }
        let h = settings.branch_epochs.max(1) << round;
        let snapshot = model.training_state();
        let mut per_user: Vec<(usize, Vec<f64>)> = Vec::new();
        for &i in &active {
            let cfg = TrainConfig {
                sampler: candidates[i].clone(),
                epochs: h,
                eval_every: h,
                patience: 0,
                seed: derive_seed(base.seed, "branch", (round * c + i) as u64),
                ..base.clone()
            };
            let options = TrainOptions {
                warm_start: Some(WarmStart {
                    state: snapshot.clone(),
                    keep_optimizer: true,
                }),
                read_test: false,
            };
            let mut out = train_with(dataset, &cfg, None, progress, &options)?;
            counts.branches += out.epochs_run;
            per_user.push((i, per_user_valid(&mut out.model, dataset, &base.monitor)?));
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let (lead_idx, lead_vals) = per_user
            .iter()
            .max_by(|a, b| mean(&a.1).total_cmp(&mean(&b.1)))
            .map(|(i, v)| (*i, v.clone()))
            .ok_or_else(|| TrainError::Config("no active candidate".to_owned()))?;
        leader = lead_idx;
        let mut evidence = Vec::new();
        let mut pruned = Vec::new();
        for (i, vals) in &per_user {
            let diffs: Vec<f64> = lead_vals.iter().zip(vals).map(|(a, b)| a - b).collect();
            let lead = mean(&diffs);
            let n = diffs.len().max(2) as f64;
            let var = diffs.iter().map(|d| (d - lead).powi(2)).sum::<f64>() / (n - 1.0);
            let se = (var / n).sqrt();
            evidence.push(Evidence {
                sampler: candidates[*i].spec(),
                value: mean(vals),
                lead,
                lead_se: se,
            });
            if *i != lead_idx && lead > settings.prune_z * se && se > 0.0 {
                net.deactivate(*i);
                pruned.push(candidates[*i].spec());
            }
        }
        // Weights: softmax of the evidence over the still active candidates, floored.
        let values: Vec<(usize, f64)> = per_user
            .iter()
            .filter(|(i, _)| net.is_active(*i))
            .map(|(i, v)| (*i, mean(v)))
            .collect();
        let top = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
        let mut weights = vec![0.0; c];
        for &(i, v) in &values {
            weights[i] = ((v - top) / settings.temperature.max(1e-12)).exp();
        }
        let sum: f64 = weights.iter().sum();
        let floor = settings.weight_floor / values.len() as f64;
        for &(i, _) in &values {
            weights[i] = (weights[i] / sum).max(floor);
        }
        let sum: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= sum);
        for _ in 0..settings.round_epochs {
            net.train_epoch(
                &mut model,
                &dataset.train,
                base.batch_size,
                base.negatives,
                &weights,
                epoch,
                total,
            )?;
            epoch += 1;
            counts.supernet += 1;
        }
        events.push(Event::Round {
            round,
            branch_epochs: h,
            evidence,
            pruned,
            weights,
        });
    }
    let search_seconds = started.elapsed().as_secs_f64();

    // Retrain the choice.
    let chosen = candidates[leader].clone();
    let retrain_started = Instant::now();
    let options = TrainOptions {
        warm_start: (settings.retrain == Retrain::Warm).then(|| WarmStart {
            state: model.training_state(),
            keep_optimizer: false,
        }),
        read_test: true,
    };
    let cfg = TrainConfig {
        sampler: chosen.clone(),
        ..base.clone()
    };
    let out = train_with(dataset, &cfg, None, progress, &options)?;
    counts.retrain = out.epochs_run;
    events.push(Event::Chosen {
        sampler: chosen.spec(),
        retrain: settings.retrain,
        retrain_epochs: out.epochs_run,
        best_epoch: out.best_epoch,
    });
    let test =
        out.test.as_ref().map(|t| t.to_map()).ok_or_else(|| {
            TrainError::Config("the retrain did not read the test split".to_owned())
        })?;
    Ok(AutoSampleOutcome {
        chosen: chosen.spec(),
        events,
        valid: out.best_valid.to_map(),
        test,
        epochs: counts,
        search_seconds,
        retrain_seconds: retrain_started.elapsed().as_secs_f64(),
        model: Some(out.model),
    })
}
