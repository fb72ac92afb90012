//! A search between rounds ([`Search`]): its start (warm-up or resume), its rounds under each
//! selector rule, expansion, and its checkpoints.

use std::path::Path;
use std::time::Instant;

use autosample_data::Dataset;
use autosample_models::{ModelError, TrainingState};
use autosample_samplers::{SamplerConfig, read_sampler_states};
use autosample_train::{Progress, Result, TrainConfig, TrainError, TrainedModel, derive_seed};

use super::checkpoint::{
    BRANCH_SAMPLER_KEY, Checkpoint, LeaderBranch, load_checkpoint, write_search_checkpoint,
};
use super::evidence::{BranchContext, best_evidence_round, evidence_round};
use super::{AutoSampleConfig, EpochCounts, Event, Evidence, Retrain};
use crate::selector::{SelectorConfig, StepRule, ValidationSample, floored_softmax};
use crate::{SearchSpace, Supernet};

/// The evidence rule's branch length in `round`: `first` epochs in round 0, doubling, and never
/// more than `max_epochs` (the training's `--epochs`): a branch is one candidate training
/// alone, and a branch longer than a whole training would cost more than training that
/// candidate outright, which is what the search exists to avoid.
pub(super) fn branch_length(first: usize, round: usize, max_epochs: usize) -> usize {
    let doubled = u32::try_from(round)
        .ok()
        .and_then(|r| first.max(1).checked_mul(1usize.checked_shl(r)?))
        .unwrap_or(usize::MAX);
    doubled.min(max_epochs.max(1))
}

/// Seconds of a search: those of the runs before a resume plus this run's.
pub(super) fn earlier_plus(earlier: f64, started: Instant) -> f64 {
    earlier + started.elapsed().as_secs_f64()
}

/// What a search reads and never changes.
pub(super) struct Setup<'a> {
    pub(super) dataset: &'a Dataset,
    pub(super) space: &'a SearchSpace,
    pub(super) base: &'a TrainConfig,
    pub(super) settings: &'a AutoSampleConfig,
    pub(super) progress: Progress,
    /// `settings` as recorded in checkpoints.
    pub(super) settings_json: serde_json::Value,
}

impl Setup<'_> {
    /// Planned epochs of a full training: sampler schedules (SRNS/DENS warm-ups, CNS's
    /// curriculum) run over it through every stage, as in the exhaustive runs the search
    /// stands in for.
    pub(super) fn total_epochs(&self) -> usize {
        self.base.epochs
    }
}

/// A search between rounds: what a checkpoint holds.
pub(super) struct Search {
    pub(super) candidates: Vec<SamplerConfig>,
    pub(super) net: Supernet,
    /// The shared state.
    pub(super) model: TrainedModel,
    /// Supernet epochs so far (warm-up and rounds): where stages' sampler schedules continue.
    pub(super) epoch: usize,
    pub(super) events: Vec<Event>,
    pub(super) counts: EpochCounts,
    /// The step rules' weights (`None` for the evidence rule).
    pub(super) step_rule: Option<StepRule>,
    pub(super) leader: usize,
    /// With `Retrain::Branch`: the kept evidence branch.
    pub(super) leader_branch: Option<LeaderBranch>,
}

impl Search {
    /// A new search: the supernet over the initial candidates after the equal-weight warm-up.
    pub(super) fn warm_up(setup: &Setup<'_>) -> Result<Self> {
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
    pub(super) fn resume(setup: &Setup<'_>, path: &Path) -> Result<(Self, usize, f64)> {
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
    pub(super) fn evidence_round(
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
            hold_in_warmup,
        } = settings.selector
        else {
            return Err(TrainError::Config(format!(
                "selector `{}` is not the evidence rule",
                settings.selector.name()
            )));
        };
        let c = self.candidates.len();
        let h = branch_length(branch_epochs, round, setup.base.epochs);
        let branch_retrain = settings.retrain == Retrain::Branch;
        // A candidate whose own warm-up ends after its branch does: its evidence is of the
        // ramp, not of its rule, so it is not pruned on it, if the rounds can see the warm-up
        // end. One whose warm-up outlasts the last planned branch is judged on what the
        // search can see: holding it would only cost.
        let horizon = settings.warmup_epochs
            + settings.max_rounds.saturating_sub(1) * settings.round_epochs
            + branch_length(
                branch_epochs,
                settings.max_rounds.saturating_sub(1),
                setup.base.epochs,
            );
        let held_until: Vec<Option<f64>> = self
            .candidates
            .iter()
            .map(|cfg| {
                cfg.schedule_warmup().filter(|&w| {
                    hold_in_warmup && ((self.epoch + h) as f64) < w && w <= horizon as f64
                })
            })
            .collect();
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
            &held_until,
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
    pub(super) fn step_rule_round(
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
        // The leader and the pruning read the softmax before the floor: a floored weight is at
        // least `(floor/|A|)/(1 + floor)` (0.091/|A| at the default floor 0.1), so pruning the
        // floored weights below `prune_below/|A|` (0.05/|A|) could never fire. The floor keeps
        // a candidate in the mixture while it is active; it does not shield it from pruning.
        let learned = rule.unfloored_weights(active);
        let signal = rule.take_signal();
        let n_active = active.iter().filter(|a| **a).count() as f64;
        let leader = (0..c)
            .filter(|&i| active[i])
            .max_by(|&a, &b| learned[a].total_cmp(&learned[b]))
            .unwrap_or(self.leader);
        self.leader = leader;
        let mut pruned = Vec::new();
        let mut evidence = Vec::new();
        for i in (0..c).filter(|&i| active[i]) {
            evidence.push(Evidence {
                sampler: self.candidates[i].spec(),
                value: signal[i],
                lead: learned[leader] - learned[i],
                lead_se: 0.0,
                held_until: None,
            });
            if i != leader && learned[i] < rule.prune_below() / n_active {
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
    pub(super) fn expand(&mut self, setup: &Setup<'_>, round: usize) -> Result<()> {
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
                // The new logit starts at the mean of the candidates before it that are active
                // now, after this round's pruning.
                let now: Vec<bool> = (0..self.candidates.len())
                    .map(|i| self.net.is_active(i))
                    .collect();
                rule.add_candidate(&now);
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
    pub(super) fn write_checkpoint(
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

/// The divergence of candidate `i` inside a step rule's update, named as the supernet's own
/// divergence report names it.
fn step_rule_diverged(net: &Supernet, i: usize, step: usize, why: &str) -> TrainError {
    let spec = net
        .candidates()
        .nth(i)
        .map_or_else(|| format!("candidate {i}"), SamplerConfig::spec);
    TrainError::Diverged(format!(
        "the search diverged at selector step {step}: non-finite loss from {spec} ({why}); lower \
         the learning rate, or remove the candidate from the space"
    ))
}

/// A step rule's update after the supernet drew its negatives for a batch, before the step:
/// returns the weights the step trains with.
pub(super) fn step_rule_update(
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
            // A non-finite loss would turn every logit into NaN through the softmax chain.
            if let Some(i) = (0..c).find(|&i| active[i] && !losses[i].is_finite()) {
                return Err(step_rule_diverged(
                    net,
                    i,
                    rule.steps,
                    &format!("its training loss is {}", losses[i]),
                ));
            }
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
            if !before.is_finite() {
                return Err(TrainError::Diverged(format!(
                    "the supernet diverged before alignment probe {}: the validation loss of the \
                     shared model is {before}; lower the learning rate",
                    rule.steps
                )));
            }
            let state = model.training_state();
            let mut decrease = vec![0.0; c];
            for i in (0..c).filter(|&i| active[i]) {
                match net.train_candidate(model, users, positives, base.negatives, i) {
                    Err(TrainError::Model(ModelError::Diverged { value, .. })) => {
                        let why = format!("its probe step's training loss is {value}");
                        return Err(step_rule_diverged(net, i, rule.steps, &why));
                    }
                    other => other?,
                };
                model.refresh();
                let after = sample.value(model, dataset);
                if !after.is_finite() {
                    let why = format!("the validation loss after its probe step is {after}");
                    return Err(step_rule_diverged(net, i, rule.steps, &why));
                }
                decrease[i] = before - after;
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
