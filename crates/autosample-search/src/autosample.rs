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
//!      paired per-user difference (`z` Bonferroni-corrected over the round's comparisons), and the weights are `softmax(evidence / temperature)`.
//!      Step rules (alignment, training loss): the previous round's learned weights; a
//!      candidate whose weight fell below `prune_below / |A|` is pruned.
//!    - Every weight is floored at `weight_floor / |A|` so that early evidence cannot silence
//!      a candidate for good.
//!    - *Supernet.* The shared model trains `round_epochs` through the supernet; step rules
//!      update their logits during these steps.
//! 3. **Choice**: the leader (best last evidence, or largest weight).
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
use autosample_metrics::{EvalOptions, evaluate};
use autosample_models::TrainingState;
use autosample_samplers::{SamplerConfig, read_sampler_states, write_sampler_states};
use autosample_train::{
    Progress, Result, TrainConfig, TrainError, TrainOptions, TrainedModel, WarmStart, derive_seed,
    train_with,
};
use serde::{Deserialize, Serialize};

use crate::mixture::retrain_mixture;
use crate::selector::{
    SelectorConfig, StepRule, ValidationSample, bonferroni_z, bootstrap_se, floored_softmax,
};
use crate::{SearchSpace, Supernet};

/// How the winner is retrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retrain {
    /// From the search's parameters, optimizer state reset.
    Warm,
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
    /// How the winner is retrained. The default, `Warm`, works with every rule; the CLI uses
    /// `Branch` with the evidence rule and the argmax final, its better-measured setting
    /// (docs/decisions/0005).
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
}

/// The result of the AutoSample strategy.
#[derive(Debug, Clone, Serialize)]
pub struct AutoSampleOutcome {
    /// The chosen spec (for a mixture: its largest weight).
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

/// The checkpoint file [`autosample_in`] writes in its directory.
pub const AUTOSAMPLE_CHECKPOINT: &str = "autosample.ckpt";

/// Beside the checkpoint, in files it names (one name per checkpoint, so that a checkpoint
/// never names a file of another round, whenever the process dies; older ones are removed once
/// the new checkpoint is written):
/// - `autosample-samplers-n<next_round>.state`: the candidates' sampler states (SRNS's memory),
///   so that a resumed search repeats an uninterrupted one;
/// - `autosample-branch-r<round>.state`, with [`Retrain::Branch`]: the leader's branch of that
///   round, so that a search interrupted after its last round can still continue it.
const SAMPLERS_PREFIX: &str = "autosample-samplers-n";
const BRANCH_PREFIX: &str = "autosample-branch-r";

fn branch_file(round: usize) -> String {
    format!("{BRANCH_PREFIX}{round}.state")
}

fn samplers_file(next_round: usize) -> String {
    format!("{SAMPLERS_PREFIX}{next_round}.state")
}

/// Removes an AutoSample search's checkpoint and the files beside it from `dir` (a search
/// started over in that directory).
pub fn remove_autosample_checkpoint(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(AUTOSAMPLE_CHECKPOINT));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if (name.starts_with(BRANCH_PREFIX) || name.starts_with(SAMPLERS_PREFIX))
            && name.ends_with(".state")
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// What a checkpoint holds besides the model's training state: everything the rounds to come
/// read. Supernet RNG streams, branch seeds and bootstrap seeds are derived from the root seed
/// and the epoch or round, so they need no saving.
#[derive(Serialize, Deserialize)]
struct Checkpoint {
    /// The settings that wrote it (a resume with other settings is refused).
    settings: serde_json::Value,
    next_round: usize,
    epoch: usize,
    counts: EpochCounts,
    events: Vec<Event>,
    /// Every candidate's spec, expansions included, in order.
    candidates: Vec<String>,
    active: Vec<bool>,
    leader: usize,
    rule: Option<StepRule>,
    /// Search seconds before the interruption.
    seconds: f64,
    /// With [`Retrain::Branch`]: the leader's last branch, as (its file in the checkpoint's
    /// directory, the epoch it ended at).
    #[serde(default)]
    branch: Option<(String, usize)>,
    /// The file holding the candidates' sampler states, if any keeps one.
    #[serde(default)]
    sampler_states: Option<String>,
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
        search.events.push(round_event);
        let stopping = past_peak.is_some();
        search.events.extend(past_peak);
        if settings.expand && !stopping && search.net.is_active(search.leader) {
            search.expand(&setup, round, &active)?;
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

/// Seconds of a search: those of the runs before a resume plus this run's.
fn earlier_plus(earlier: f64, started: Instant) -> f64 {
    earlier + started.elapsed().as_secs_f64()
}

/// What a search reads and never changes.
struct Setup<'a> {
    dataset: &'a Dataset,
    space: &'a SearchSpace,
    base: &'a TrainConfig,
    settings: &'a AutoSampleConfig,
    progress: Progress,
    /// `settings` as recorded in checkpoints.
    settings_json: serde_json::Value,
}

impl Setup<'_> {
    /// Planned epochs of a full training: sampler schedules (SRNS/DENS warm-ups, CNS's
    /// curriculum) run over it through every stage, as in the exhaustive runs the search
    /// stands in for.
    fn total_epochs(&self) -> usize {
        self.base.epochs
    }
}

/// A search between rounds: what a checkpoint holds.
struct Search {
    candidates: Vec<SamplerConfig>,
    net: Supernet,
    /// The shared state.
    model: TrainedModel,
    /// Supernet epochs so far (warm-up and rounds): where stages' sampler schedules continue.
    epoch: usize,
    events: Vec<Event>,
    counts: EpochCounts,
    /// The step rules' weights (`None` for the evidence rule).
    step_rule: Option<StepRule>,
    leader: usize,
    /// With `Retrain::Branch`: the kept evidence branch.
    leader_branch: Option<LeaderBranch>,
}

impl Search {
    /// A new search: the supernet over the initial candidates after the equal-weight warm-up.
    fn warm_up(setup: &Setup<'_>) -> Result<Self> {
        let (base, settings) = (setup.base, setup.settings);
        let candidates: Vec<SamplerConfig> = setup.space.initial_candidates().to_vec();
        let mut net = Supernet::new(&candidates, derive_seed(base.seed, "autosample", 0))?;
        let mut model = TrainedModel::new(
            &base.model,
            &setup.dataset.train,
            derive_seed(base.seed, "init", 0),
        )?;
        let last_loss = net.warm_up(
            &mut model,
            &setup.dataset.train,
            base.batch_size,
            base.negatives,
            settings.warmup_epochs,
            setup.total_epochs(),
        )?;
        let step_rule = StepRule::new(
            &settings.selector,
            candidates.len(),
            settings.weight_floor,
            derive_seed(base.seed, "selector", 0),
        );
        Ok(Self {
            candidates,
            net,
            model,
            epoch: settings.warmup_epochs,
            events: vec![Event::Warmup {
                epochs: settings.warmup_epochs,
                loss: last_loss,
            }],
            counts: EpochCounts {
                supernet: settings.warmup_epochs,
                ..EpochCounts::default()
            },
            step_rule,
            leader: 0,
            leader_branch: None,
        })
    }

    /// The search a checkpoint at `path` saved, with its first round to run and the seconds
    /// spent before it.
    ///
    /// # Errors
    /// A checkpoint that cannot be read, or was written with other settings.
    fn resume(setup: &Setup<'_>, path: &Path) -> Result<(Self, usize, f64)> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let (state, ck) = load_checkpoint(path, &setup.settings_json)?;
        // The candidates' sampler states, the leader branch's among them.
        let mut saved_samplers = match &ck.sampler_states {
            Some(file) => Some(read_sampler_states(&dir.join(file))?),
            None => None,
        };
        let branch_sampler = saved_samplers.as_mut().and_then(|states| {
            let k = states
                .iter()
                .position(|(key, _)| key == BRANCH_SAMPLER_KEY)?;
            Some(states.remove(k).1)
        });
        let leader_branch = match &ck.branch {
            Some((file, epoch)) => Some(LeaderBranch {
                state: TrainingState::read(&dir.join(file))?.0,
                sampler: branch_sampler,
                epoch: *epoch,
                round: ck.next_round.saturating_sub(1),
            }),
            None => None,
        };
        let mut candidates: Vec<SamplerConfig> = setup.space.initial_candidates().to_vec();
        let mut net = Supernet::new(&candidates, derive_seed(setup.base.seed, "autosample", 0))?;
        for spec in ck.candidates.iter().skip(candidates.len()) {
            let cfg: SamplerConfig = spec
                .parse()
                .map_err(|e| TrainError::Config(format!("checkpoint candidate `{spec}`: {e}")))?;
            net.add_candidate(cfg.clone())?;
            candidates.push(cfg);
        }
        for (i, a) in ck.active.iter().enumerate() {
            if !a {
                net.deactivate(i);
            }
        }
        let mut model = TrainedModel::new(
            &setup.base.model,
            &setup.dataset.train,
            derive_seed(setup.base.seed, "init", 0),
        )?;
        model.restore(state)?;
        match &saved_samplers {
            Some(states) => net.restore_sampler_states(states)?,
            None => {
                if let Some(m) = net.stateful_candidate() {
                    tracing::warn!(
                        sampler = %m,
                        "the checkpoint holds no state of this candidate (an older version \
                         wrote it); it restarts, so the resumed search may differ from an \
                         uninterrupted one"
                    );
                }
            }
        }
        let search = Self {
            candidates,
            net,
            model,
            epoch: ck.epoch,
            events: ck.events,
            counts: ck.counts,
            step_rule: ck.rule,
            leader: ck.leader,
            leader_branch,
        };
        Ok((search, ck.next_round, ck.seconds))
    }

    /// One round of the evidence rule: branches, the past-peak check, pruning, the round's
    /// supernet epochs. Returns the round's event and, if the rounds stop past the peak, that
    /// event too.
    fn evidence_round(
        &mut self,
        setup: &Setup<'_>,
        round: usize,
        active: &[bool],
    ) -> Result<(Event, Option<Event>)> {
        let settings = setup.settings;
        let SelectorConfig::Evidence {
            branch_epochs,
            temperature,
            prune_level,
            bootstrap,
            prune_from_round,
            stop_past_peak,
        } = settings.selector
        else {
            return Err(TrainError::Config(format!(
                "selector `{}` is not the evidence rule",
                settings.selector.name()
            )));
        };
        let c = self.candidates.len();
        let h = branch_epochs.max(1) << round;
        let branch_retrain = settings.retrain == Retrain::Branch;
        let mut ctx = BranchContext {
            dataset: setup.dataset,
            base: setup.base,
            candidates: &self.candidates,
            net: &self.net,
            progress: setup.progress,
            counts: &mut self.counts,
            epoch: self.epoch,
        };
        let assessed = evidence_round(
            &mut ctx,
            &self.model,
            active,
            round,
            h,
            (round >= prune_from_round).then_some(prune_level),
            bootstrap,
            branch_retrain,
        )?;
        let value = assessed
            .values
            .iter()
            .find(|(i, _)| *i == assessed.leader)
            .map_or(f64::NAN, |(_, v)| *v);
        // Every earlier round was a new best (or the rounds would have stopped), so the kept
        // leader and branch are the best round's.
        let peak = best_evidence_round(&self.events)
            .filter(|(_, best_value, _)| stop_past_peak && value < *best_value);
        let past_peak = match peak {
            Some((best_round, best_value, best_leader)) => {
                self.leader = self
                    .candidates
                    .iter()
                    .position(|cfg| cfg.spec() == best_leader)
                    .unwrap_or(self.leader);
                Some(Event::PastPeak {
                    round,
                    value,
                    best_round,
                    best_value,
                    leader: best_leader,
                })
            }
            None => {
                self.leader = assessed.leader;
                if let Some((state, sampler)) = assessed.leader_state {
                    self.leader_branch = Some(LeaderBranch {
                        state,
                        sampler,
                        epoch: self.epoch + h,
                        round,
                    });
                }
                for &i in &assessed.pruned {
                    self.net.deactivate(i);
                }
                None
            }
        };
        let still: Vec<bool> = (0..c).map(|i| self.net.is_active(i)).collect();
        // The retrain continues the leader's branch: after the last round, supernet epochs
        // would train a state nothing reads.
        let last_round = round + 1 == settings.max_rounds
            || past_peak.is_some()
            || (!settings.expand && still.iter().filter(|a| **a).count() <= 1);
        let round_epochs = if (branch_retrain && last_round) || past_peak.is_some() {
            0
        } else {
            settings.round_epochs
        };
        let mut alpha = vec![f64::NEG_INFINITY; c];
        for (i, v) in &assessed.values {
            alpha[*i] = *v;
        }
        let weights = floored_softmax(&alpha, temperature, &still, settings.weight_floor);
        for _ in 0..round_epochs {
            self.net.train_epoch(
                &mut self.model,
                &setup.dataset.train,
                setup.base.batch_size,
                setup.base.negatives,
                &weights,
                self.epoch,
                setup.total_epochs(),
            )?;
            self.epoch += 1;
            self.counts.supernet += 1;
        }
        let event = Event::Round {
            round,
            rule: settings.selector.name().to_owned(),
            signal: settings.selector.signal().to_owned(),
            branch_epochs: h,
            evidence: assessed.evidence,
            // A round past the peak prunes nothing: the rounds end with it.
            pruned: assessed
                .pruned
                .iter()
                .filter(|&&i| !self.net.is_active(i))
                .map(|&i| self.candidates[i].spec())
                .collect(),
            final_weights: weights.clone(),
            weights,
        };
        Ok((event, past_peak))
    }

    /// One round of a step rule: supernet epochs whose weights the rule moves step by step,
    /// then pruning by weight.
    fn step_rule_round(
        &mut self,
        setup: &Setup<'_>,
        round: usize,
        active: &[bool],
    ) -> Result<Event> {
        let (dataset, base, settings) = (setup.dataset, setup.base, setup.settings);
        let Some(rule) = self.step_rule.as_mut() else {
            return Err(TrainError::Config(format!(
                "selector `{}` has no step state",
                settings.selector.name()
            )));
        };
        let c = self.candidates.len();
        let weights = rule.weights(active);
        for _ in 0..settings.round_epochs {
            self.net.train_epoch_with(
                &mut self.model,
                &dataset.train,
                base.batch_size,
                base.negatives,
                self.epoch,
                setup.total_epochs(),
                |net, model, users, positives| {
                    step_rule_update(rule, net, model, dataset, users, positives, base)
                },
            )?;
            self.epoch += 1;
            self.counts.supernet += 1;
        }
        let final_weights = rule.weights(active);
        let signal = rule.take_signal();
        let n_active = active.iter().filter(|a| **a).count() as f64;
        let leader = (0..c)
            .filter(|&i| active[i])
            .max_by(|&a, &b| final_weights[a].total_cmp(&final_weights[b]))
            .unwrap_or(self.leader);
        self.leader = leader;
        let mut pruned = Vec::new();
        let mut evidence = Vec::new();
        for i in (0..c).filter(|&i| active[i]) {
            evidence.push(Evidence {
                sampler: self.candidates[i].spec(),
                value: signal[i],
                lead: final_weights[leader] - final_weights[i],
                lead_se: 0.0,
            });
            if i != leader && final_weights[i] < rule.prune_below() / n_active {
                self.net.deactivate(i);
                pruned.push(self.candidates[i].spec());
            }
        }
        Ok(Event::Round {
            round,
            rule: settings.selector.name().to_owned(),
            signal: settings.selector.signal().to_owned(),
            branch_epochs: 0,
            evidence,
            pruned,
            weights,
            final_weights,
        })
    }

    /// Adds the leader's neighbours in the space as candidates (up to `max_candidates`) and
    /// logs them.
    fn expand(&mut self, setup: &Setup<'_>, round: usize, active: &[bool]) -> Result<()> {
        let mut added = Vec::new();
        for n in setup.space.neighbours(&self.candidates[self.leader]) {
            if self.candidates.len() >= setup.settings.max_candidates {
                break;
            }
            if self.candidates.contains(&n) {
                continue;
            }
            self.net.add_candidate(n.clone())?;
            if let Some(rule) = self.step_rule.as_mut() {
                rule.add_candidate(active);
            }
            added.push(n.spec());
            self.candidates.push(n);
        }
        self.events.push(Event::Expanded {
            round,
            leader: self.candidates[self.leader].spec(),
            added,
        });
        Ok(())
    }

    /// Checkpoints the search into `dir` (if given) before round `next_round` (0: after the
    /// warm-up).
    fn write_checkpoint(
        &self,
        setup: &Setup<'_>,
        dir: Option<&Path>,
        next_round: usize,
        seconds: f64,
    ) -> Result<()> {
        let ck = Checkpoint {
            settings: setup.settings_json.clone(),
            next_round,
            epoch: self.epoch,
            counts: self.counts.clone(),
            events: self.events.clone(),
            candidates: self.candidates.iter().map(SamplerConfig::spec).collect(),
            active: (0..self.candidates.len())
                .map(|i| self.net.is_active(i))
                .collect(),
            leader: self.leader,
            rule: self.step_rule.clone(),
            seconds,
            branch: None,
            sampler_states: None,
        };
        write_search_checkpoint(dir, &self.model, ck, &self.net, self.leader_branch.as_ref())
    }
}

/// Where the rounds left the search: what the retrain starts from.
struct SearchEnd<'a> {
    /// The shared (supernet) state.
    model: TrainedModel,
    net: Supernet,
    candidates: &'a [SamplerConfig],
    leader: usize,
    /// The kept evidence branch (`Retrain::Branch`).
    leader_branch: Option<LeaderBranch>,
    /// Supernet epochs run: where the retrain's sampler schedules continue.
    epoch: usize,
    /// The last round's final weights, per candidate.
    last_weights: Vec<f64>,
}

/// The retrained final model.
struct Retrained {
    model: TrainedModel,
    valid: BTreeMap<String, f64>,
    test: BTreeMap<String, f64>,
    epochs: usize,
    best_epoch: usize,
    /// The mixture's weights per active candidate (empty for the argmax).
    final_weights: Vec<(String, f64)>,
    /// (epoch, monitored metric) at every evaluation, epoch 0 being the start.
    curve: Vec<(usize, f64)>,
}

/// Retrains the leader alone to early stopping: warm from the shared state (fresh optimizer),
/// from scratch, or continuing its kept branch (optimizer kept). A warm retrain continues the
/// leader's sampler state as the supernet left it, a branch retrain as its branch left it.
fn retrain_argmax(
    dataset: &Dataset,
    base: &TrainConfig,
    retrain: Retrain,
    progress: Progress,
    end: SearchEnd<'_>,
) -> Result<Retrained> {
    let (warm_start, schedule_offset, sampler_state) = match retrain {
        Retrain::Warm => (
            Some(WarmStart {
                state: end.model.training_state(),
                keep_optimizer: false,
                start_competes: true,
            }),
            end.epoch,
            end.net.sampler_state_of(end.leader),
        ),
        Retrain::Scratch => (None, 0, None),
        Retrain::Branch => {
            let b = end.leader_branch.ok_or_else(|| {
                TrainError::Config("retrain `branch`: the search ran no evidence round".to_owned())
            })?;
            (
                Some(WarmStart {
                    state: b.state,
                    keep_optimizer: true,
                    start_competes: true,
                }),
                b.epoch,
                b.sampler,
            )
        }
    };
    let options = TrainOptions {
        warm_start,
        read_test: true,
        schedule_offset,
        schedule_total: None,
        sampler_state,
    };
    let cfg = TrainConfig {
        sampler: end.candidates[end.leader].clone(),
        ..base.clone()
    };
    let out = train_with(dataset, &cfg, None, progress, &options)?;
    let test =
        out.test.as_ref().map(|t| t.to_map()).ok_or_else(|| {
            TrainError::Config("the retrain did not read the test split".to_owned())
        })?;
    let curve = out
        .start_valid
        .map(|v| (0, v))
        .into_iter()
        .chain(out.history.iter().filter_map(|r| {
            let v = r.valid.as_ref()?.get(&base.monitor)?;
            Some((r.epoch, *v))
        }))
        .collect();
    Ok(Retrained {
        valid: out.best_valid.to_map(),
        model: out.model,
        test,
        epochs: out.epochs_run,
        best_epoch: out.best_epoch,
        final_weights: Vec::new(),
        curve,
    })
}

/// Retrains through the supernet with the last round's weights held fixed (`--final
/// mixture`), warm from the shared state (fresh optimizer) or from scratch.
fn retrain_fixed_mixture(
    dataset: &Dataset,
    base: &TrainConfig,
    retrain: Retrain,
    end: SearchEnd<'_>,
) -> Result<Retrained> {
    let SearchEnd {
        mut model,
        mut net,
        candidates,
        epoch,
        last_weights,
        ..
    } = end;
    let start = match retrain {
        Retrain::Warm => {
            let state = model.training_state().with_fresh_optimizer();
            model.restore(state)?;
            model
        }
        Retrain::Scratch => TrainedModel::new(
            &base.model,
            &dataset.train,
            derive_seed(base.seed, "init", 0),
        )?,
        Retrain::Branch => {
            return Err(TrainError::Config(
                "retrain `branch` does not apply to the mixture final".to_owned(),
            ));
        }
    };
    let out = retrain_mixture(dataset, &mut net, start, &last_weights, base, epoch)?;
    let final_weights = (0..candidates.len())
        .filter(|&i| net.is_active(i))
        .map(|i| (candidates[i].spec(), last_weights[i]))
        .collect();
    Ok(Retrained {
        model: out.model,
        valid: out.valid,
        test: out.test,
        epochs: out.epochs_run,
        best_epoch: out.best_epoch,
        final_weights,
        curve: out.curve,
    })
}

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

/// Writes the checkpoint `ck` into `dir` (if there is one): first the files it names (the
/// candidates' sampler states; the leader's `branch` of round `.2`, if that is the round just
/// finished), then the checkpoint with `model`'s training state (atomically), then the removal
/// of the files the previous checkpoint named.
fn write_search_checkpoint(
    dir: Option<&Path>,
    model: &TrainedModel,
    mut ck: Checkpoint,
    net: &Supernet,
    branch: Option<&LeaderBranch>,
) -> Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    let n = ck.next_round;
    let mut states = net.sampler_states();
    if let Some(sampler) = branch.and_then(|b| b.sampler.clone()) {
        states.push((BRANCH_SAMPLER_KEY.to_owned(), sampler));
    }
    if !states.is_empty() {
        let file = samplers_file(n);
        write_sampler_states(&dir.join(&file), &states)?;
        ck.sampler_states = Some(file);
    }
    let new_branch = branch.is_some_and(|b| b.round + 1 == n);
    if let Some(b) = branch {
        let file = branch_file(b.round);
        if new_branch {
            b.state
                .write(&dir.join(&file), &serde_json::json!({ "epoch": b.epoch }))?;
        }
        ck.branch = Some((file, b.epoch));
    }
    let meta =
        serde_json::to_value(&ck).map_err(|e| TrainError::Config(format!("checkpoint: {e}")))?;
    model
        .training_state()
        .write(&dir.join(AUTOSAMPLE_CHECKPOINT), &meta)?;
    if let Some(previous) = n.checked_sub(1) {
        let _ = std::fs::remove_file(dir.join(samplers_file(previous)));
        if new_branch && let Some(r) = previous.checked_sub(1) {
            let _ = std::fs::remove_file(dir.join(branch_file(r)));
        }
    }
    Ok(())
}

/// Reads a checkpoint and checks that it was written with `settings`.
fn load_checkpoint(
    path: &Path,
    settings: &serde_json::Value,
) -> Result<(TrainingState, Checkpoint)> {
    let (state, meta) = TrainingState::read(path)?;
    let ck: Checkpoint = serde_json::from_value(meta).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        message: format!("not an AutoSample checkpoint ({e}); remove it to start over"),
    })?;
    if !same_settings(&ck.settings, settings) {
        return Err(TrainError::Io {
            path: path.to_path_buf(),
            message: "written by a search with other settings; resume with the recorded \
                      settings or remove it to start over"
                .to_owned(),
        });
    }
    Ok((state, ck))
}

/// Whether a checkpoint's recorded settings are `current`. The recorded ones are read through
/// the current config type, so that a setting added since the checkpoint was written compares
/// at its default, which is what the older search ran with.
fn same_settings(recorded: &serde_json::Value, current: &serde_json::Value) -> bool {
    serde_json::from_value::<AutoSampleConfig>(recorded.clone())
        .ok()
        .and_then(|c| serde_json::to_value(c).ok())
        .is_some_and(|r| &r == current)
}

/// The leader's branch of an evidence round, kept for `Retrain::Branch`.
struct LeaderBranch {
    state: TrainingState,
    /// Its sampler's state at the end of the branch, if the sampler keeps one.
    sampler: Option<Vec<u8>>,
    /// The epoch the branch ended at.
    epoch: usize,
    round: usize,
}

/// The evidence round with the best leader so far, as `(round, leader's evidence, leader)`;
/// a later round wins a tie, as it would have replaced the kept branch.
fn best_evidence_round(events: &[Event]) -> Option<(usize, f64, String)> {
    let mut best: Option<(usize, f64, String)> = None;
    for e in events {
        let Event::Round {
            round,
            branch_epochs,
            evidence,
            ..
        } = e
        else {
            continue;
        };
        // Step rules' rounds carry weights, not branch evidence.
        if *branch_epochs == 0 {
            continue;
        }
        let leader = evidence.iter().reduce(|a, b| {
            if b.value.total_cmp(&a.value).is_ge() {
                b
            } else {
                a
            }
        });
        if let Some(l) = leader
            && best
                .as_ref()
                .is_none_or(|(_, v, _)| l.value.total_cmp(v).is_ge())
        {
            best = Some((*round, l.value, l.sampler.clone()));
        }
    }
    best
}

/// The key of the leader branch's sampler state in the checkpoint's sampler-state file (not a
/// sampler spec, so it cannot clash with a candidate's).
const BRANCH_SAMPLER_KEY: &str = "@leader-branch";

/// What the evidence rule's branches train with.
struct BranchContext<'a> {
    dataset: &'a Dataset,
    base: &'a TrainConfig,
    candidates: &'a [SamplerConfig],
    /// The supernet: each branch continues its candidate's sampler state from it.
    net: &'a Supernet,
    progress: Progress,
    counts: &'a mut EpochCounts,
    /// Supernet epochs so far: where the branches' sampler schedules start.
    epoch: usize,
}

/// One round of the evidence rule.
struct Assessed {
    leader: usize,
    /// (candidate, mean validation metric of its branch).
    values: Vec<(usize, f64)>,
    evidence: Vec<Evidence>,
    pruned: Vec<usize>,
    /// The leader's branch and its sampler's state, when the retrain is to continue it.
    leader_state: Option<(TrainingState, Option<Vec<u8>>)>,
}

/// Branches every active candidate alone from `model`'s state for `h` epochs, scores them per
/// validation user and prunes where the paired lead exceeds the Bonferroni `z` (family-wise
/// level `prune_level`; `None`: a round that only weighs) in bootstrap SEs.
#[allow(clippy::too_many_arguments)]
fn evidence_round(
    ctx: &mut BranchContext<'_>,
    model: &TrainedModel,
    active: &[bool],
    round: usize,
    h: usize,
    prune_level: Option<f64>,
    bootstrap: usize,
    keep_leader_state: bool,
) -> Result<Assessed> {
    let c = ctx.candidates.len();
    let snapshot = model.training_state();
    let mut per_user: Vec<(usize, Vec<f64>)> = Vec::new();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    // The running leader, (position in `per_user`, mean): the last candidate with the largest
    // mean under `total_cmp`. Its branch is kept when the retrain is to continue it.
    let mut best: Option<(usize, f64)> = None;
    let mut leader_state = None;
    for i in (0..c).filter(|&i| active[i]) {
        let cfg = TrainConfig {
            sampler: ctx.candidates[i].clone(),
            epochs: h,
            eval_every: h,
            patience: 0,
            seed: derive_seed(ctx.base.seed, "branch", (round * c + i) as u64),
            ..ctx.base.clone()
        };
        let options = TrainOptions {
            warm_start: Some(WarmStart {
                state: snapshot.clone(),
                keep_optimizer: true,
                start_competes: false,
            }),
            read_test: false,
            // The branch continues the shared run at its current epoch, its sampler as the
            // supernet left it (SRNS's memory and histories).
            schedule_offset: ctx.epoch,
            schedule_total: Some(ctx.base.epochs),
            sampler_state: ctx.net.sampler_state_of(i),
        };
        let mut out = train_with(ctx.dataset, &cfg, None, ctx.progress, &options).map_err(|e| {
            TrainError::Config(format!(
                "candidate `{}` (branch of round {round}): {e}",
                ctx.candidates[i].spec()
            ))
        })?;
        ctx.counts.branches += out.epochs_run;
        let vals = per_user_valid(&mut out.model, ctx.dataset, &ctx.base.monitor)?;
        let m = mean(&vals);
        if best.is_none_or(|(_, b)| m.total_cmp(&b).is_ge()) {
            best = Some((per_user.len(), m));
            if keep_leader_state {
                leader_state = Some((out.model.training_state(), out.sampler_state.take()));
            }
        }
        per_user.push((i, vals));
    }
    let (leader, lead_vals) = best
        .map(|(k, _)| (per_user[k].0, per_user[k].1.clone()))
        .ok_or_else(|| TrainError::Config("no active candidate".to_owned()))?;
    let prune_z = prune_level.map(|level| bonferroni_z(level, per_user.len()));
    let mut evidence = Vec::new();
    let mut pruned = Vec::new();
    for (i, vals) in &per_user {
        let diffs: Vec<f64> = lead_vals.iter().zip(vals).map(|(a, b)| a - b).collect();
        let lead = mean(&diffs);
        let se = bootstrap_se(
            &diffs,
            bootstrap,
            derive_seed(ctx.base.seed, "bootstrap", (round * c + i) as u64),
        );
        evidence.push(Evidence {
            sampler: ctx.candidates[*i].spec(),
            value: mean(vals),
            lead,
            lead_se: se,
        });
        if *i != leader && se > 0.0 && prune_z.is_some_and(|z| lead > z * se) {
            pruned.push(*i);
        }
    }
    Ok(Assessed {
        leader_state,
        leader,
        values: per_user.iter().map(|(i, v)| (*i, mean(v))).collect(),
        evidence,
        pruned,
    })
}

/// A step rule's update after the supernet drew its negatives for a batch, before the step:
/// returns the weights the step trains with.
fn step_rule_update(
    rule: &mut StepRule,
    net: &Supernet,
    model: &mut TrainedModel,
    dataset: &Dataset,
    users: &[autosample_data::UserId],
    positives: &[autosample_data::ItemId],
    base: &TrainConfig,
) -> Result<Vec<f64>> {
    rule.steps += 1;
    let c = net.len();
    let active: Vec<bool> = (0..c).map(|i| net.is_active(i)).collect();
    match rule.config {
        SelectorConfig::TrainingLoss { .. } => {
            model.refresh();
            let losses: Vec<f64> = net
                .candidate_losses(model.sampler_view(), users, positives)
                .into_iter()
                .map(|l| l.unwrap_or(0.0))
                .collect();
            rule.update(&losses, &losses, &active);
        }
        SelectorConfig::Alignment {
            validation,
            validation_pairs,
            probe_every,
            ..
        } if rule.steps.is_multiple_of(probe_every) => {
            let sample = ValidationSample::draw(
                dataset,
                validation,
                validation_pairs,
                derive_seed(rule.seed, "probe", rule.steps as u64),
            )?;
            model.refresh();
            let before = sample.value(model, dataset);
            let state = model.training_state();
            let mut decrease = vec![0.0; c];
            for i in (0..c).filter(|&i| active[i]) {
                net.train_candidate(model, users, positives, base.negatives, i)?;
                model.refresh();
                decrease[i] = before - sample.value(model, dataset);
                model.restore(state.clone())?;
            }
            // The mixture's step moves the validation loss by ≈ −Σ_k w_k Δ_k.
            let g: Vec<f64> = decrease.iter().map(|d| -d).collect();
            rule.update(&g, &decrease, &active);
        }
        _ => {}
    }
    Ok(rule.weights(&active))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_from_before_a_new_setting_resumes_at_its_default() {
        let current = serde_json::to_value(AutoSampleConfig::default()).unwrap();
        let mut older = current.clone();
        let removed = older["selector"]
            .as_object_mut()
            .unwrap()
            .remove("prune_from_round");
        assert_eq!(removed, Some(serde_json::json!(0)));
        assert!(same_settings(&older, &current));

        let mut other = current.clone();
        other["max_rounds"] = serde_json::json!(3);
        assert!(!same_settings(&other, &current));
        assert!(!same_settings(&serde_json::json!("junk"), &current));
    }
}
