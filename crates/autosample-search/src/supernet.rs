//! The supernet step: every active candidate sampler draws negatives for the same pairs, and
//! one training step follows `L = Σ_k w_k · ℓ_k` (docs/decisions/0004-supernet-step.md).
//!
//! The `C` candidates' negatives become one batch of `C·B` pairs (the pairs repeated per
//! candidate), every negative in per-layer form (an item negative is that item at every layer
//! with weight 0 on the positive, which the models train on exactly as an item), with pair
//! weight `C·w_k` on candidate `k`'s copy, so the batch-mean loss is `Σ_k w_k ℓ_k`. A graph
//! model then propagates once for all candidates.
//!
//! Each candidate draws from its own RNG stream, derived from the root seed, its spec and the
//! epoch, so adding or pruning a candidate does not change the others' draws.
//!
//! A candidate with an auxiliary loss (DENS) adds it over its own copy of the pairs, weighted
//! like its BPR loss, and its gates take their gradient here as they would training alone.
//!
//! Not yet: the shared candidate pool of two-pass samplers (each draws its own candidates,
//! which costs sampling time, not correctness).

use autosample_data::{Interactions, ItemId, UserId};
use autosample_models::{AuxiliaryTerm, MixedNegatives, ModelError, StepStats, TrainBatch};
use autosample_samplers::{
    NegativeSampler, Negatives, PairBatch, SampleContext, SamplerConfig, SamplerRng, Scorer,
};
use autosample_train::{Result, TrainError, TrainedModel, derive_seed};
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// One candidate of the supernet.
struct Member {
    config: SamplerConfig,
    sampler: Box<dyn NegativeSampler>,
    rng: SamplerRng,
    negatives: Negatives,
    active: bool,
}

/// The context a candidate samples in: the model's scores if it reads them.
fn context<'a>(
    sampler: &dyn NegativeSampler,
    model: &'a TrainedModel,
    train: &'a Interactions,
    epoch: usize,
    total: usize,
) -> SampleContext<'a> {
    SampleContext {
        train,
        scorer: sampler
            .needs_scorer()
            .then(|| model.sampler_view() as &dyn Scorer),
        epoch,
        total_epochs: total,
        pool: None,
    }
}

/// A candidate's index and the gradient of its sampler's own parameters (DENS's gates).
type MemberGradient = (usize, Vec<f32>);

/// What one supernet step did.
#[derive(Debug, Clone, PartialEq)]
pub struct SupernetStep {
    /// The model's step statistics (loss = the weighted sum).
    pub stats: StepStats,
    /// The weight each candidate had (0 for inactive ones), in candidate order.
    pub weights: Vec<f64>,
}

/// The candidate samplers of a search and their weighted training step.
pub struct Supernet {
    members: Vec<Member>,
    seed: u64,
}

impl Supernet {
    /// A supernet over `candidates` (all active), RNG streams derived from `seed`.
    ///
    /// # Errors
    /// [`TrainError::Config`] for no candidate or a candidate listed twice; a sampler's own
    /// validation error for an invalid config.
    pub fn new(candidates: &[SamplerConfig], seed: u64) -> Result<Self> {
        if candidates.is_empty() {
            return Err(TrainError::Config(
                "the supernet needs at least one candidate sampler".to_owned(),
            ));
        }
        let mut members: Vec<Member> = Vec::with_capacity(candidates.len());
        for c in candidates {
            if members.iter().any(|m| &m.config == c) {
                return Err(TrainError::Config(format!(
                    "candidate `{}` is listed twice",
                    c.spec()
                )));
            }
            members.push(Member {
                config: c.clone(),
                sampler: c.try_build()?,
                rng: SamplerRng::seed_from_u64(0),
                negatives: Negatives::default(),
                active: true,
            });
        }
        Ok(Self { members, seed })
    }

    /// Adds `config` as a new active candidate (expansion) and returns its index; its RNG
    /// stream starts with the next [`Supernet::start_epoch`].
    ///
    /// # Errors
    /// [`TrainError::Config`] if it is a candidate already; the sampler's validation error.
    pub fn add_candidate(&mut self, config: SamplerConfig) -> Result<usize> {
        if self.members.iter().any(|m| m.config == config) {
            return Err(TrainError::Config(format!(
                "candidate `{}` is in the supernet already",
                config.spec()
            )));
        }
        self.members.push(Member {
            sampler: config.try_build()?,
            config,
            rng: SamplerRng::seed_from_u64(0),
            negatives: Negatives::default(),
            active: true,
        });
        Ok(self.members.len() - 1)
    }

    /// The candidates, in order.
    pub fn candidates(&self) -> impl Iterator<Item = &SamplerConfig> {
        self.members.iter().map(|m| &m.config)
    }

    /// Number of candidates, active or not.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the supernet has no candidate (never: [`Supernet::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The first active candidate whose sampler keeps state across epochs that no
    /// checkpoint holds (SRNS), if any.
    pub fn stateful_candidate(&self) -> Option<String> {
        self.members
            .iter()
            .find(|m| m.active && m.sampler.keeps_state())
            .map(|m| m.config.spec())
    }

    /// Every active candidate's state across epochs ([`NegativeSampler::save_state`]) under its
    /// spec, for a checkpoint.
    pub fn sampler_states(&self) -> Vec<(String, Vec<u8>)> {
        self.members
            .iter()
            .filter(|m| m.active)
            .filter_map(|m| Some((m.config.spec(), m.sampler.save_state()?)))
            .collect()
    }

    /// Candidate `i`'s state across epochs, for a stage that continues it alone (a branch,
    /// a halving copy, the retrain); `None` if it keeps none.
    pub fn sampler_state_of(&self, i: usize) -> Option<Vec<u8>> {
        self.members.get(i)?.sampler.save_state()
    }

    /// Restores states from [`Supernet::sampler_states`].
    ///
    /// # Errors
    /// [`TrainError::Config`] for a spec that is not a candidate; a sampler's error for a
    /// state it cannot take.
    pub fn restore_sampler_states(&mut self, states: &[(String, Vec<u8>)]) -> Result<()> {
        for (spec, state) in states {
            let member = self
                .members
                .iter_mut()
                .find(|m| &m.config.spec() == spec)
                .ok_or_else(|| {
                    TrainError::Config(format!("saved state of `{spec}`, not a candidate"))
                })?;
            member.sampler.load_state(state)?;
        }
        Ok(())
    }

    /// Whether candidate `i` still takes part.
    pub fn is_active(&self, i: usize) -> bool {
        self.members.get(i).is_some_and(|m| m.active)
    }

    /// Removes candidate `i` from the steps to come (pruning). Its slot and index stay.
    pub fn deactivate(&mut self, i: usize) {
        if let Some(m) = self.members.get_mut(i) {
            m.active = false;
        }
    }

    /// Starts epoch `epoch` (0-based) of `total`: each active candidate's RNG stream for the
    /// epoch, and its own `start_epoch` (SRNS snapshots its scores here).
    ///
    /// # Errors
    /// A sampler's error.
    pub fn start_epoch(
        &mut self,
        model: &mut TrainedModel,
        train: &Interactions,
        epoch: usize,
        total: usize,
    ) -> Result<()> {
        if self
            .members
            .iter()
            .any(|m| m.active && m.sampler.needs_scorer())
        {
            model.refresh();
        }
        for m in self.members.iter_mut().filter(|m| m.active) {
            m.rng = SamplerRng::seed_from_u64(derive_seed(
                self.seed,
                &format!("supernet/{}", m.config.spec()),
                epoch as u64,
            ));
            let ctx = context(m.sampler.as_ref(), model, train, epoch, total);
            m.sampler.start_epoch(&ctx)?;
        }
        Ok(())
    }

    /// One training step on the pairs `(users[b], positives[b])` with `k` negatives per pair
    /// and candidate weights `weights` (one per candidate, in candidate order; inactive
    /// candidates' weights are ignored, the active ones' are renormalised to sum to 1):
    /// [`Supernet::sample`] then [`Supernet::train_sampled`].
    ///
    /// # Errors
    /// [`TrainError::Config`] if the weights do not fit (wrong count, negative, not finite, or
    /// zero over the active candidates); a sampler's or the model's error.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        model: &mut TrainedModel,
        train: &Interactions,
        users: &[UserId],
        positives: &[ItemId],
        k: usize,
        weights: &[f64],
        epoch: usize,
        total: usize,
    ) -> Result<SupernetStep> {
        let effective = self.effective_weights(weights)?;
        self.sample(model, train, users, positives, k, epoch, total)?;
        let stats = self.train_sampled(model, users, positives, k, &effective)?;
        Ok(SupernetStep {
            stats,
            weights: effective,
        })
    }

    /// Checks `weights` (one per candidate, finite, ≥ 0, positive over the active ones) and
    /// returns them renormalised over the active candidates, 0 for the inactive.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming what does not fit.
    pub fn effective_weights(&self, weights: &[f64]) -> Result<Vec<f64>> {
        if weights.len() != self.members.len() {
            return Err(TrainError::Config(format!(
                "{} weights for {} candidates",
                weights.len(),
                self.members.len()
            )));
        }
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(TrainError::Config(format!(
                "candidate weights must be finite and ≥ 0, got {weights:?}"
            )));
        }
        let active_sum: f64 = self
            .members
            .iter()
            .zip(weights)
            .filter(|(m, _)| m.active)
            .map(|(_, w)| w)
            .sum();
        if active_sum <= 0.0 {
            return Err(TrainError::Config(
                "the active candidates' weights sum to 0".to_owned(),
            ));
        }
        Ok(self
            .members
            .iter()
            .zip(weights)
            .map(|(m, w)| if m.active { w / active_sum } else { 0.0 })
            .collect())
    }

    /// Every active candidate draws its `k` negatives for the pairs, kept until the next
    /// draw (read by [`Supernet::train_sampled`], [`Supernet::train_candidate`] and
    /// [`Supernet::candidate_losses`]). Brings the model's scores up to date first if any
    /// candidate reads them.
    ///
    /// # Errors
    /// A sampler's error.
    #[allow(clippy::too_many_arguments)]
    pub fn sample(
        &mut self,
        model: &mut TrainedModel,
        train: &Interactions,
        users: &[UserId],
        positives: &[ItemId],
        k: usize,
        epoch: usize,
        total: usize,
    ) -> Result<()> {
        if self
            .members
            .iter()
            .any(|m| m.active && m.sampler.needs_scorer())
        {
            model.refresh();
        }
        let pairs = PairBatch { users, positives };
        for m in self.members.iter_mut().filter(|m| m.active) {
            let ctx = context(m.sampler.as_ref(), model, train, epoch, total);
            m.sampler
                .sample_batch(&pairs, k, &ctx, &mut m.rng, &mut m.negatives)?;
        }
        Ok(())
    }

    /// One optimizer step on the last draw with `effective` weights (as returned by
    /// [`Supernet::effective_weights`]): the active candidates' negatives become one batch of
    /// `C·B` pairs with pair weight `C·w_k` on candidate `k`'s copy. A candidate with an
    /// auxiliary loss (DENS) adds it over its own copy with weight `w_k`, and its parameters
    /// (DENS's gates) take the step's gradient, as they would training alone.
    ///
    /// # Errors
    /// The model's error, or a mixed negative whose layer count does not fit the model.
    pub fn train_sampled(
        &mut self,
        model: &mut TrainedModel,
        users: &[UserId],
        positives: &[ItemId],
        k: usize,
        effective: &[f64],
    ) -> Result<StepStats> {
        let active: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].active)
            .collect();
        let (stats, auxiliary_grads) =
            self.train_members(model, users, positives, k, &active, effective)?;
        let lr = model.learning_rate();
        for (i, grad) in auxiliary_grads {
            self.members[i].sampler.apply_auxiliary_gradient(&grad, lr);
        }
        Ok(stats)
    }

    /// One optimizer step on the last draw of candidate `i` alone (weight 1): the step the
    /// model would take if `i` were the only sampler, which the alignment selector probes.
    /// The model's step includes `i`'s auxiliary loss; the candidate's own parameters stay
    /// as they are (a probe is undone afterwards, and a sampler's cannot be).
    ///
    /// # Errors
    /// As [`Supernet::train_sampled`].
    pub fn train_candidate(
        &self,
        model: &mut TrainedModel,
        users: &[UserId],
        positives: &[ItemId],
        k: usize,
        i: usize,
    ) -> Result<StepStats> {
        let mut effective = vec![0.0; self.members.len()];
        effective[i] = 1.0;
        Ok(self
            .train_members(model, users, positives, k, &[i], &effective)?
            .0)
    }

    /// The step over `members`' copies of the pairs; returns its statistics and, per member
    /// with an auxiliary loss, the gradient of that member's sampler parameters.
    fn train_members(
        &self,
        model: &mut TrainedModel,
        users: &[UserId],
        positives: &[ItemId],
        k: usize,
        members: &[usize],
        effective: &[f64],
    ) -> Result<(StepStats, Vec<MemberGradient>)> {
        let b = users.len();
        let layers = model.sampler_view().n_layers();
        // C copies of the batch, every negative in per-layer form.
        let c = members.len();
        let mut all_users = Vec::with_capacity(c * b);
        let mut all_positives = Vec::with_capacity(c * b);
        let mut candidates = Vec::with_capacity(c * b * k * layers);
        let mut pos_weight = Vec::with_capacity(c * b * k * layers);
        let mut pair_weights = Vec::with_capacity(c * b);
        let mut auxiliary = Vec::new();
        let mut auxiliary_owners = Vec::new();
        for (slot, &i) in members.iter().enumerate() {
            let member = &self.members[i];
            if let Some(loss) = member.sampler.auxiliary().filter(|_| effective[i] > 0.0) {
                auxiliary.push(AuxiliaryTerm {
                    loss,
                    pairs: slot * b..(slot + 1) * b,
                    weight: effective[i] as f32,
                });
                auxiliary_owners.push(i);
            }
            all_users.extend_from_slice(users);
            all_positives.extend_from_slice(positives);
            pair_weights.extend(std::iter::repeat_n((c as f64 * effective[i]) as f32, b));
            match &self.members[i].negatives {
                Negatives::Items { items, .. } => {
                    for &item in items {
                        candidates.extend(std::iter::repeat_n(item, layers));
                        pos_weight.extend(std::iter::repeat_n(0.0f32, layers));
                    }
                }
                Negatives::Mixed {
                    layers: l,
                    candidates: cands,
                    pos_weight: w,
                    ..
                } => {
                    if *l != layers {
                        return Err(TrainError::Config(format!(
                            "candidate `{}` mixed {l} layers, the model has {layers}",
                            self.members[i].config.spec()
                        )));
                    }
                    candidates.extend_from_slice(cands);
                    pos_weight.extend_from_slice(w);
                }
            }
        }
        let batch = TrainBatch {
            users: &all_users,
            positives: &all_positives,
            negatives: &[],
            mixed: Some(MixedNegatives {
                k,
                layers,
                candidates: &candidates,
                pos_weight: &pos_weight,
            }),
            auxiliary: &auxiliary,
            pair_weights: Some(&pair_weights),
        };
        let stats = model.train_step(&batch)?;
        let grads = model.take_auxiliary_gradient();
        Ok((stats, auxiliary_owners.into_iter().zip(grads).collect()))
    }

    /// Each active candidate's mean K-pair BPR loss `log(1 + Σ_k exp(s_k − s_pos))` on its
    /// last draw, under the model's current scores (call before the step that trains on the
    /// draw, after [`TrainedModel::refresh`]); `None` for inactive candidates. The L2 term is
    /// left out: it is the same for every candidate up to the negatives' norms.
    pub fn candidate_losses(
        &self,
        scorer: &dyn Scorer,
        users: &[UserId],
        positives: &[ItemId],
    ) -> Vec<Option<f64>> {
        self.members
            .iter()
            .map(|m| {
                m.active
                    .then(|| mean_kpair_loss(scorer, users, positives, &m.negatives))
            })
            .collect()
    }
}

impl Supernet {
    /// The error for a step whose weighted loss was `value` (non-finite): the parameters are
    /// unchanged, so each candidate's loss on the same draw says which one diverged.
    fn diverged(
        &self,
        model: &mut TrainedModel,
        users: &[UserId],
        positives: &[ItemId],
        value: f32,
        step: u64,
    ) -> TrainError {
        model.refresh();
        let losses = self.candidate_losses(model.sampler_view(), users, positives);
        let named: Vec<(String, f64)> = self
            .members
            .iter()
            .zip(&losses)
            .filter_map(|(m, l)| l.map(|l| (m.config.spec(), l)))
            .collect();
        let culprits: Vec<&str> = named
            .iter()
            .filter(|(_, l)| !l.is_finite())
            .map(|(s, _)| s.as_str())
            .collect();
        let per = named
            .iter()
            .map(|(s, l)| format!("{s}: {l:.4}"))
            .collect::<Vec<_>>()
            .join(", ");
        let who = if culprits.is_empty() {
            "no single candidate's loss is non-finite, the L2 term or the weighted sum \
             overflowed"
                .to_owned()
        } else {
            format!("non-finite loss from {}", culprits.join(", "))
        };
        TrainError::Diverged(format!(
            "the supernet step diverged (loss {value} at step {step}): {who} (per-candidate \
             losses: {per}); lower the learning rate, or remove the candidate from the space"
        ))
    }
}

/// Mean over pairs of `log(1 + Σ_k exp(s_k − s_pos))`, the models' K-pair BPR loss; a
/// synthetic negative is scored from its layer parts ([`Scorer::layer_score`]).
pub(crate) fn mean_kpair_loss(
    scorer: &dyn Scorer,
    users: &[UserId],
    positives: &[ItemId],
    negatives: &Negatives,
) -> f64 {
    let k = negatives.k().max(1);
    let mut total = 0.0f64;
    let mut scores = vec![0.0f64; k];
    for (b, (&u, &p)) in users.iter().zip(positives).enumerate() {
        let pos = scorer.score(u, p) as f64;
        match negatives {
            Negatives::Items { items, .. } => {
                for (s, &j) in scores.iter_mut().zip(&items[b * k..(b + 1) * k]) {
                    *s = scorer.score(u, j) as f64;
                }
            }
            Negatives::Mixed {
                layers,
                candidates,
                pos_weight,
                ..
            } => {
                let pos_parts: Vec<f64> = (0..*layers)
                    .map(|l| scorer.layer_score(u, l, scorer.item_layer(l, p)) as f64)
                    .collect();
                for (kk, s) in scores.iter_mut().enumerate() {
                    let base = (b * k + kk) * layers;
                    *s = (0..*layers)
                        .map(|l| {
                            let a = pos_weight[base + l] as f64;
                            let c = candidates[base + l];
                            let cand = scorer.layer_score(u, l, scorer.item_layer(l, c)) as f64;
                            a * pos_parts[l] + (1.0 - a) * cand
                        })
                        .sum();
                }
            }
        }
        // log(1 + Σ exp(x_k)) with x_k = s_k − pos, stably.
        let m = scores.iter().map(|s| s - pos).fold(0.0f64, f64::max);
        let z = (-m).exp() + scores.iter().map(|s| (s - pos - m).exp()).sum::<f64>();
        total += m + z.ln();
    }
    total / users.len().max(1) as f64
}

/// Average losses of one supernet epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct SupernetEpoch {
    /// The epoch (0-based, as passed in).
    pub epoch: usize,
    /// Pair-weighted mean of the steps' losses (the weighted sum `Σ_k w_k ℓ_k` plus L2).
    pub loss: f64,
    /// Seconds.
    pub seconds: f64,
}

impl Supernet {
    /// Trains `model` through the supernet for one epoch over every training pair of `train`:
    /// the pairs shuffled by `derive_seed(seed, "supernet-shuffle", epoch)`, cut into batches of
    /// `batch_size`, one [`Supernet::step`] each with `weights`.
    ///
    /// # Errors
    /// As [`Supernet::step`]; [`TrainError::Config`] for a zero batch size.
    #[allow(clippy::too_many_arguments)]
    pub fn train_epoch(
        &mut self,
        model: &mut TrainedModel,
        train: &Interactions,
        batch_size: usize,
        k: usize,
        weights: &[f64],
        epoch: usize,
        total: usize,
    ) -> Result<SupernetEpoch> {
        self.train_epoch_with(model, train, batch_size, k, epoch, total, |_, _, _, _| {
            Ok(weights.to_vec())
        })
    }

    /// The equal-weight warm-up: epochs `0..epochs` of a run of `total`, every active
    /// candidate weighted alike. Returns the last epoch's mean loss (NaN for none).
    ///
    /// # Errors
    /// As [`Supernet::train_epoch`].
    pub fn warm_up(
        &mut self,
        model: &mut TrainedModel,
        train: &Interactions,
        batch_size: usize,
        k: usize,
        epochs: usize,
        total: usize,
    ) -> Result<f64> {
        let equal = vec![1.0; self.members.len()];
        let mut loss = f64::NAN;
        for epoch in 0..epochs {
            loss = self
                .train_epoch(model, train, batch_size, k, &equal, epoch, total)?
                .loss;
        }
        Ok(loss)
    }

    /// As [`Supernet::train_epoch`], with the weights of each step chosen by `weights_for`
    /// after the candidates drew their negatives for the batch and before the step (a step
    /// selector reads the draws, may probe the model, and returns the weights).
    ///
    /// # Errors
    /// As [`Supernet::train_epoch`], and `weights_for`'s error.
    #[allow(clippy::too_many_arguments)]
    pub fn train_epoch_with<F>(
        &mut self,
        model: &mut TrainedModel,
        train: &Interactions,
        batch_size: usize,
        k: usize,
        epoch: usize,
        total: usize,
        mut weights_for: F,
    ) -> Result<SupernetEpoch>
    where
        F: FnMut(&Supernet, &mut TrainedModel, &[UserId], &[ItemId]) -> Result<Vec<f64>>,
    {
        if batch_size == 0 {
            return Err(TrainError::Config("batch size must be ≥ 1".to_owned()));
        }
        let started = std::time::Instant::now();
        self.start_epoch(model, train, epoch, total)?;
        let mut pairs: Vec<(UserId, ItemId)> = train.pairs().collect();
        let mut rng =
            SamplerRng::seed_from_u64(derive_seed(self.seed, "supernet-shuffle", epoch as u64));
        pairs.shuffle(&mut rng);
        let (mut users, mut positives) = (Vec::new(), Vec::new());
        let mut loss_sum = 0.0f64;
        for chunk in pairs.chunks(batch_size) {
            users.clear();
            positives.clear();
            for &(u, i) in chunk {
                users.push(u);
                positives.push(i);
            }
            self.sample(model, train, &users, &positives, k, epoch, total)?;
            let weights = weights_for(self, model, &users, &positives)?;
            let effective = self.effective_weights(&weights)?;
            let stats = match self.train_sampled(model, &users, &positives, k, &effective) {
                Err(TrainError::Model(ModelError::Diverged { value, step })) => {
                    return Err(self.diverged(model, &users, &positives, value, step));
                }
                other => other?,
            };
            loss_sum += stats.loss as f64 * chunk.len() as f64;
        }
        Ok(SupernetEpoch {
            epoch,
            loss: loss_sum / pairs.len().max(1) as f64,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
