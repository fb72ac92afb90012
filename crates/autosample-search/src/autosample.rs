//! The AutoSample strategy: a supernet over the candidates, a selector rule that moves their
//! weights and prunes, and a warm-started retrain of the choice. Which selector rule earns the
//! default is measured by the selector benchmark (docs/decisions/0004); `exhaustive` stays the
//! CLI default until then.
//!
//! 1. **Warm-up.** A fresh model trains `warmup_epochs` through the supernet with equal weights.
//! 2. **Rounds** (until one candidate is left or `max_rounds`):
//!    - *Assessment* by the rule ([`SelectorConfig`]). Evidence rule: from the shared state,
//!      every active candidate trains alone for `H = branch_epochs · 2^round` epochs (the branch
//!      keeps the shared optimizer state) and is scored per validation user; candidate `c` is
//!      pruned where the leader beats it by more than `z` bootstrap standard errors of the
//!      paired per-user difference (`z` Bonferroni-corrected over the round's comparisons),
//!      unless its own warm-up still runs past its branch and ends within the rounds
//!      (`hold_in_warmup`); the weights are `softmax(evidence / temperature)`. With
//!      `stop_past_peak` the rounds end at the first round whose leader scores below an
//!      earlier round's best, whose leader is then the choice.
//!      Step rules (alignment, training loss): the previous round's learned weights; a
//!      candidate whose learned weight `softmax(α/τ)` (before the floor) fell below
//!      `prune_below / |A|` is pruned.
//!    - Every weight the supernet trains with is floored at `weight_floor / |A|` so that
//!      early evidence cannot silence a candidate for good while it is active.
//!    - *Supernet.* The shared model trains `round_epochs` through the supernet; step rules
//!      update their logits during these steps.
//! 3. **Choice**: the leader (best last evidence, the best round's past the peak, or the
//!    largest weight).
//! 4. **Retrain** the choice from the shared parameters (fresh optimizer; `Scratch`: from a
//!    fresh initialisation, for the ablation; `Branch`: continuing the leader's kept evidence
//!    branch, the last round's supernet epochs skipped), early-stopped on validation; the test
//!    split is read once, for the retrained model.
//!
//! Every decision is an [`Event`] with its evidence.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use autosample_data::Dataset;
use autosample_train::{Progress, Result, TrainConfig, TrainError, TrainedModel};
use serde::{Deserialize, Serialize};

use crate::SearchSpace;
use crate::selector::SelectorConfig;

mod checkpoint;
mod evidence;
mod retrain;
mod search;

pub use checkpoint::{AUTOSAMPLE_CHECKPOINT, remove_autosample_checkpoint};
use retrain::{SearchEnd, retrain_argmax, retrain_fixed_mixture};
use search::{Search, Setup, earlier_plus};

/// How the winner is retrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retrain {
    /// From the search's parameters, optimizer state reset.
    Warm,
    /// From the search's parameters with the optimizer state the supernet left: Adam's
    /// moments of the mixture's gradients, which a fresh optimizer would rebuild over its first
    /// steps. The documented alternative to `Warm` (issue 7, part 6); `Warm` stays the default
    /// until a benchmark says otherwise.
    WarmKeep,
    /// From a fresh initialisation (the ablation).
    Scratch,
    /// From the chosen candidate's branch of the last evidence round, which already trained
    /// the choice alone from the search state: the retrain continues that branch (its
    /// optimizer state kept), and the last round's supernet epochs, which nothing after the
    /// choice would read, are skipped. Evidence rule with the argmax final only.
    Branch,
}

/// What the final model trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalSampler {
    /// The leader alone (the argmax of the weights or the evidence).
    Argmax,
    /// The supernet with the last round's weights held fixed (every candidate still active).
    Mixture,
}

/// Settings of the AutoSample strategy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoSampleConfig {
    /// Supernet epochs with equal weights before the first assessment.
    pub warmup_epochs: usize,
    /// Supernet epochs per round.
    pub round_epochs: usize,
    /// At most this many rounds.
    pub max_rounds: usize,
    /// The rule that moves the weights and prunes.
    pub selector: SelectorConfig,
    /// Each active weight is at least `weight_floor / |A|`.
    pub weight_floor: f64,
    /// How the winner is retrained. The default, `Warm`, works with every rule and tested the
    /// same as or above `Branch` on every pair of the selector benchmark (docs/decisions/0005).
    pub retrain: Retrain,
    /// What the final model trains with.
    pub final_sampler: FinalSampler,
    /// After each round, add the leader's neighbours in the space (one step of each
    /// hyperparameter, `SearchSpace::neighbours`) as new candidates.
    pub expand: bool,
    /// Expansion stops at this many candidates in all (active or pruned).
    pub max_candidates: usize,
    /// Stop the rounds once the search (supernet and branch epochs) has used this many epochs.
    pub budget_epochs: Option<usize>,
    /// Stop the rounds once the search has run this many seconds.
    pub budget_seconds: Option<f64>,
}

impl Default for AutoSampleConfig {
    fn default() -> Self {
        Self {
            warmup_epochs: 5,
            round_epochs: 5,
            // Six rounds (branches up to 64 epochs) picked the exhaustive best on MF × lastfm
            // in 3 seeds out of 3, four rounds in 1 (benchmarks/runs/2026-11-29-2cpu/selector).
            max_rounds: 6,
            selector: SelectorConfig::evidence(),
            weight_floor: 0.1,
            retrain: Retrain::Warm,
            final_sampler: FinalSampler::Argmax,
            expand: false,
            max_candidates: 16,
            budget_epochs: None,
            budget_seconds: None,
        }
    }
}

/// One decision of the search, with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        /// The selector rule.
        rule: String,
        /// What `evidence[].value` means under that rule.
        signal: String,
        /// Branch epochs per candidate (evidence rule; 0 for step rules).
        branch_epochs: usize,
        /// Per active candidate: spec, evidence (mean validation metric of its branch), lead
        /// of the leader over it and the lead's standard error.
        evidence: Vec<Evidence>,
        /// Specs pruned this round.
        pruned: Vec<String>,
        /// Weights this round's supernet epochs started with, per candidate (0 = inactive).
        weights: Vec<f64>,
        /// Weights at the end of the round's supernet epochs (step rules learn during them).
        final_weights: Vec<f64>,
    },
    /// Expansion: the leader's neighbours joined the search.
    Expanded {
        /// After this round.
        round: usize,
        /// The leader whose neighbours were added.
        leader: String,
        /// The new candidates (none when all were tried or the cap was reached).
        added: Vec<String>,
    },
    /// The rounds ended early because the leader's evidence fell below an earlier round's
    /// (the evidence rule's `stop_past_peak`): the shared state is past its peak.
    PastPeak {
        /// The round whose leader scored lower.
        round: usize,
        /// Its leader's evidence.
        value: f64,
        /// The earlier round with the best leader, whose leader is chosen.
        best_round: usize,
        /// That leader's evidence.
        best_value: f64,
        /// That leader.
        leader: String,
    },
    /// The budget ended the rounds early.
    BudgetReached {
        /// Rounds completed.
        rounds: usize,
        /// Search epochs used (supernet and branches).
        epochs: usize,
        /// Seconds used.
        seconds: f64,
    },
    /// The choice and the retrain.
    Chosen {
        /// The chosen spec.
        sampler: String,
        /// How it was retrained.
        retrain: Retrain,
        /// The leader alone, or the fixed mixture.
        final_sampler: FinalSampler,
        /// The mixture's weights per active candidate (empty for the argmax).
        final_weights: Vec<(String, f64)>,
        /// Retrain epochs run, and its best epoch.
        retrain_epochs: usize,
        /// Best retrain epoch.
        best_epoch: usize,
    },
}

/// One candidate's evidence in a round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    /// The spec.
    pub sampler: String,
    /// The rule's signal for it (the round event's `signal` says what it is).
    pub value: f64,
    /// Evidence rule: the leader's mean per-user lead over it (0 for the leader); step rules:
    /// the leader's weight minus its weight.
    pub lead: f64,
    /// Evidence rule: bootstrap standard error of that lead (paired over validation users);
    /// 0 for step rules.
    pub lead_se: f64,
    /// Evidence rule with `hold_in_warmup`: the epoch at which the candidate's own warm-up
    /// (SRNS's variance ramp, DENS's gate ramp) ends, when its branch ended before it and the
    /// rounds' horizon does not; the candidate was then exempt from pruning this round. `None`
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<f64>,
}

/// The result of the AutoSample strategy.
#[derive(Debug, Clone, Serialize)]
pub struct AutoSampleOutcome {
    /// The chosen spec: the leader of the rounds (after a past-peak stop, the best round's).
    /// A mixture final trains with the last round's weights, whose largest may be another
    /// candidate's after such a stop.
    pub chosen: String,
    /// What the final model trained with.
    pub final_sampler: FinalSampler,
    /// Every decision.
    pub events: Vec<Event>,
    /// Validation metrics of the retrained model (best epoch).
    pub valid: BTreeMap<String, f64>,
    /// Test metrics of the retrained model: the only read of the test split.
    pub test: BTreeMap<String, f64>,
    /// Epochs, all kinds: supernet, branches, retrain.
    pub epochs: EpochCounts,
    /// Seconds: search (warm-up, rounds) and retrain.
    pub search_seconds: f64,
    /// Seconds of the retrain.
    pub retrain_seconds: f64,
    /// The retrain's validation curve: (epoch, monitored metric) at every evaluation, epoch 0
    /// being the warm start.
    pub retrain_curve: Vec<(usize, f64)>,
    /// The retrained model.
    #[serde(skip)]
    pub model: Option<TrainedModel>,
}

/// Where the epochs went.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EpochCounts {
    /// Supernet epochs (warm-up and rounds).
    pub supernet: usize,
    /// Single-candidate branch epochs.
    pub branches: usize,
    /// Retrain epochs.
    pub retrain: usize,
}

/// Runs the AutoSample strategy over `space` with the training settings of `base` (its sampler
/// is ignored; its `epochs`, `eval_every` and `patience` govern the retrain).
///
/// # Errors
/// A selector setting out of range, a training or an evaluation error.
pub fn autosample(
    dataset: &Dataset,
    space: &SearchSpace,
    base: &TrainConfig,
    settings: &AutoSampleConfig,
    progress: Progress,
) -> Result<AutoSampleOutcome> {
    autosample_in(dataset, space, base, settings, progress, None)
}

/// As [`autosample`], checkpointing into `dir` ([`AUTOSAMPLE_CHECKPOINT`]) after the warm-up and
/// after every round, and continuing from a checkpoint found there: an interrupted search ends
/// with the outcome of an uninterrupted one (the candidates' sampler states, SRNS's memory, are
/// saved beside the checkpoint).
///
/// # Errors
/// As [`autosample`]; a checkpoint that cannot be read or was written with other settings.
pub fn autosample_in(
    dataset: &Dataset,
    space: &SearchSpace,
    base: &TrainConfig,
    settings: &AutoSampleConfig,
    progress: Progress,
    dir: Option<&Path>,
) -> Result<AutoSampleOutcome> {
    check_settings(settings)?;
    let per_candidate = branch_epochs_per_candidate(settings, base.epochs);
    if per_candidate > base.epochs {
        // Not an error: a budget or pruning may end the rounds sooner, and a user may want
        // the evidence anyway; but the cost goal of the search cannot be met this way.
        tracing::warn!(
            "with --epochs {} and {} rounds, the branches may train each candidate {per_candidate} \
             epochs, more than one whole training: this search can cost more than exhaustive \
             search. Give fewer --max-rounds, a --budget-epochs, or a larger --epochs",
            base.epochs,
            settings.max_rounds
        );
    }
    let started = Instant::now();
    let setup = Setup {
        dataset,
        space,
        base,
        settings,
        progress,
        settings_json: serde_json::to_value(settings)
            .map_err(|e| TrainError::Config(format!("settings: {e}")))?,
    };
    let (mut search, first_round, earlier) = match dir
        .map(|d| d.join(AUTOSAMPLE_CHECKPOINT))
        .filter(|p| p.exists())
    {
        Some(path) => Search::resume(&setup, &path)?,
        None => {
            let search = Search::warm_up(&setup)?;
            search.write_checkpoint(&setup, dir, 0, earlier_plus(0.0, started))?;
            (search, 0, 0.0)
        }
    };
    let elapsed = || earlier_plus(earlier, started);
    for round in first_round..settings.max_rounds {
        // A search resumed after its rounds stopped past the peak goes on to the retrain.
        if search
            .events
            .iter()
            .any(|e| matches!(e, Event::PastPeak { .. }))
        {
            break;
        }
        let used = search.counts.supernet + search.counts.branches;
        let seconds = elapsed();
        // At least one round runs: without one there is no evidence to choose by.
        if round > 0
            && (settings.budget_epochs.is_some_and(|b| used >= b)
                || settings.budget_seconds.is_some_and(|b| seconds >= b))
        {
            search.events.push(Event::BudgetReached {
                rounds: round,
                epochs: used,
                seconds,
            });
            break;
        }
        let active: Vec<bool> = (0..search.candidates.len())
            .map(|i| search.net.is_active(i))
            .collect();
        if active.iter().filter(|a| **a).count() <= 1 {
            search.leader = active.iter().position(|a| *a).unwrap_or(search.leader);
            break;
        }
        let (mut round_event, past_peak) = match &settings.selector {
            SelectorConfig::Evidence { .. } => search.evidence_round(&setup, round, &active)?,
            _ => (search.step_rule_round(&setup, round, &active)?, None),
        };
        if let Event::Round { final_weights, .. } = &mut round_event {
            // Pruned candidates carry no weight into the next round.
            for (i, w) in final_weights.iter_mut().enumerate() {
                if !search.net.is_active(i) {
                    *w = 0.0;
                }
            }
        }
        log_round(&round_event);
        search.events.push(round_event);
        let stopping = past_peak.is_some();
        if let Some(Event::PastPeak {
            round,
            value,
            best_round,
            best_value,
            leader,
        }) = &past_peak
        {
            tracing::info!(
                "round {round}: the leader scores {value:.4}, below round {best_round}'s \
                 {best_value:.4}: past the peak, the rounds stop; chosen {leader}"
            );
        }
        search.events.extend(past_peak);
        if settings.expand && !stopping && search.net.is_active(search.leader) {
            search.expand(&setup, round)?;
        }
        search.write_checkpoint(&setup, dir, round + 1, elapsed())?;
        if std::env::var("AUTOSAMPLE_TEST_ABORT_AFTER_ROUND")
            .ok()
            .as_deref()
            == Some(round.to_string().as_str())
        {
            // Test hook: die like a killed process right after the round's checkpoint.
            std::process::abort();
        }
        if stopping {
            break;
        }
    }
    let search_seconds = elapsed();

    // Retrain the choice.
    let Search {
        candidates,
        net,
        model,
        epoch,
        mut events,
        mut counts,
        leader,
        leader_branch,
        ..
    } = search;
    let chosen = candidates[leader].clone();
    let retrain_started = Instant::now();
    let last_weights = events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Round { final_weights, .. } => Some(final_weights.clone()),
            _ => None,
        })
        .unwrap_or_else(|| vec![1.0; candidates.len()]);
    let end = SearchEnd {
        model,
        net,
        candidates: &candidates,
        leader,
        leader_branch,
        epoch,
        last_weights,
    };
    let retrained = match settings.final_sampler {
        FinalSampler::Argmax => retrain_argmax(dataset, base, settings.retrain, progress, end)?,
        FinalSampler::Mixture => retrain_fixed_mixture(dataset, base, settings.retrain, end)?,
    };
    counts.retrain = retrained.epochs;
    events.push(Event::Chosen {
        sampler: chosen.spec(),
        retrain: settings.retrain,
        final_sampler: settings.final_sampler,
        final_weights: retrained.final_weights,
        retrain_epochs: retrained.epochs,
        best_epoch: retrained.best_epoch,
    });
    Ok(AutoSampleOutcome {
        chosen: chosen.spec(),
        final_sampler: settings.final_sampler,
        events,
        valid: retrained.valid,
        test: retrained.test,
        epochs: counts,
        search_seconds,
        retrain_seconds: retrain_started.elapsed().as_secs_f64(),
        retrain_curve: retrained.curve,
        model: Some(retrained.model),
    })
}

/// The most epochs the evidence rule's branches can train one candidate over the planned
/// rounds when each training may run `max_epochs` (each branch is capped at that); 0 for the
/// step rules, which have no branches. More than `max_epochs` means the search can cost more
/// than training every candidate outright.
#[must_use]
pub fn branch_epochs_per_candidate(settings: &AutoSampleConfig, max_epochs: usize) -> usize {
    match settings.selector {
        SelectorConfig::Evidence { branch_epochs, .. } => (0..settings.max_rounds)
            .map(|round| search::branch_length(branch_epochs, round, max_epochs))
            .sum(),
        _ => 0,
    }
}

impl AutoSampleConfig {
    /// Checks that these settings can run, as [`autosample`] does before any training, so
    /// that a caller can refuse them before writing anything.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the setting and the fix.
    pub fn validate(&self) -> Result<()> {
        check_settings(self)
    }
}

/// One INFO line per round, so that a long search's log says where it is and what it decided.
fn log_round(event: &Event) {
    if let Event::Round {
        round,
        signal,
        branch_epochs,
        evidence,
        pruned,
        final_weights,
        ..
    } = event
    {
        // The leader is the candidate nothing leads (its `lead` is 0): under the evidence rule
        // the best branch, under a step rule the largest weight.
        let leader = evidence.iter().find(|x| x.lead == 0.0).map_or_else(
            || "?".to_owned(),
            |x| format!("{} ({:.4})", x.sampler, x.value),
        );
        let active = final_weights.iter().filter(|w| **w > 0.0).count();
        let pruned = if pruned.is_empty() {
            "none".to_owned()
        } else {
            pruned.join(", ")
        };
        tracing::info!(
            "round {round} (branches of {branch_epochs} epochs, {signal}): leader {leader}; \
             pruned {pruned}; {active} active"
        );
    }
}

/// The most rounds a search may plan (`max_rounds`).
pub const MAX_ROUNDS: usize = 20;

/// Refuses settings that cannot run, before any training.
///
/// # Errors
/// [`TrainError::Config`] naming the setting and the fix.
fn check_settings(settings: &AutoSampleConfig) -> Result<()> {
    settings.selector.validate()?;
    if settings.retrain == Retrain::Branch
        && (!matches!(settings.selector, SelectorConfig::Evidence { .. })
            || settings.final_sampler == FinalSampler::Mixture)
    {
        return Err(TrainError::Config(
            "retrain `branch` continues the leader's evidence branch: it needs the evidence \
             selector and the argmax final; use retrain `warm` otherwise"
                .to_owned(),
        ));
    }
    // No round would leave the choice to candidate order; past 20 the evidence rule's last
    // branch (2·2^19 epochs) outlasts any training, and the doubling would overflow at 64.
    if !(1..=MAX_ROUNDS).contains(&settings.max_rounds) {
        return Err(TrainError::Config(format!(
            "max rounds {} (--max-rounds) is outside 1..={MAX_ROUNDS}: at least one round must \
             weigh the candidates, and past {MAX_ROUNDS} the last branch outlasts any training \
             (the default is 6)",
            settings.max_rounds
        )));
    }
    if !(0.0..=1.0).contains(&settings.weight_floor) {
        return Err(TrainError::Config(format!(
            "weight floor {} is outside [0, 1]; it is a fraction of 1/|active candidates|",
            settings.weight_floor
        )));
    }
    if let Some(b) = settings.budget_epochs
        && b <= settings.warmup_epochs
    {
        return Err(TrainError::Config(format!(
            "an epoch budget of {b} leaves nothing after the {}-epoch warm-up; give more",
            settings.warmup_epochs
        )));
    }
    Ok(())
}
