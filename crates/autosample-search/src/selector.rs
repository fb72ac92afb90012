//! Selector rules: what moves the candidates' weights during an AutoSample search and what
//! the controller prunes on (issue 7, part 3). Which rule works is settled by the selector
//! benchmark against exhaustive search (benchmarks/selector/), not here.
//!
//! Two kinds of rule share one interface:
//! - **round rules** read evidence once per round, before the round's supernet epochs
//!   ([`SelectorConfig::Evidence`]: branches that continue from the shared state with one
//!   candidate alone, scored on validation);
//! - **step rules** learn logits `α` during the round's supernet epochs, one update per step or
//!   per probe ([`SelectorConfig::Alignment`], the textbook baseline, and
//!   [`SelectorConfig::TrainingLoss`], the negative control), with weights
//!   `w = softmax(α/τ)` over the active candidates.
//!
//! Every rule can floor its weights (`weight_floor / C` each, then renormalised), so that early
//! evidence cannot silence a candidate for good (method reference §3.4: once a softmax weight
//! is ~0, its own Jacobian keeps it there).

use autosample_data::{Dataset, ItemId, UserId};
use autosample_samplers::{SamplerRng, nth_non_positive};
use autosample_train::{Result, TrainError, TrainedModel, derive_seed};
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// The validation loss the alignment rule follows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValidationLoss {
    /// BPR on validation pairs, each with one uniform non-training negative.
    UniformBpr,
    /// Full softmax over every item (training items masked) at `temperature`, the
    /// validation positive as the target.
    Softmax {
        /// Temperature of the scores.
        temperature: f64,
    },
}

/// A selector rule and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum SelectorConfig {
    /// Validation-metric evidence: per round, every active candidate trains alone from the
    /// shared state for `branch_epochs · 2^round` epochs and is scored by the monitored
    /// validation metric per user; a candidate is pruned where the leader's lead exceeds
    /// `z` bootstrap standard errors (`bootstrap` resamples of the validation users), with `z`
    /// the one-sided normal quantile at the Bonferroni level `prune_level / (|A| − 1)` (one
    /// comparison per non-leader), and only from round `prune_from_round` on. The leader is
    /// picked from the same data it is compared on, so this bounds the round's family-wise
    /// error by `prune_level` only given the leader: when all candidates are equal it can reach
    /// about `|A| · prune_level` (two equal candidates: a prune when `|gap| > 1.645 SE` at
    /// 0.05, 10 % of the time). The bound over all ordered pairs would be
    /// `prune_level / (|A|(|A| − 1))`; the defaults were measured with this one (decision
    /// 0005), so it stays;
    /// weights are `softmax(evidence / temperature)`.
    Evidence {
        /// Branch epochs in round 0 (doubling per round).
        branch_epochs: usize,
        /// Softmax temperature, in units of the monitored metric.
        temperature: f64,
        /// Family-wise level of a round's prunes (one-sided).
        prune_level: f64,
        /// Bootstrap resamples of the validation users.
        bootstrap: usize,
        /// The first round that may prune. The bootstrap test says a candidate is behind
        /// *now*; learning curves cross, so a short early branch can be significantly behind
        /// and still train best (a sampler with a long warm-up, a slow starter). Rounds before
        /// this one only weigh.
        #[serde(default)]
        prune_from_round: usize,
        /// End the rounds at the first round whose leader scores below the best leader of an
        /// earlier round: the shared state is then past the peak of training on this data
        /// (branches grow each round, so a still-improving state scores higher), and further
        /// rounds would only rank overtrained continuations. The choice is then the best
        /// round's leader, and a branch retrain continues that round's branch. On in
        /// [`SelectorConfig::evidence`] (decision 0005); a checkpoint written before the setting
        /// existed resumes with it off, as it ran.
        #[serde(default)]
        stop_past_peak: bool,
        /// Never prune a candidate whose own warm-up ([`SamplerConfig::schedule_warmup`]:
        /// SRNS's variance ramp, DENS's gate ramp) ends after the round's branch but within
        /// the rounds' horizon (the end of the last planned round's branch: warm-up + (R − 1)
        /// supernet rounds + its branch, 94 epochs at the defaults): until then its branch
        /// measures the ramp, not its rule. A warm-up that outlasts the horizon (DENS's 100
        /// epochs at the defaults) holds nothing, since no round would see it end. On in
        /// [`SelectorConfig::evidence`] (decision 0005); a checkpoint written before the setting
        /// existed resumes with it off, as it ran.
        ///
        /// [`SamplerConfig::schedule_warmup`]: autosample_samplers::SamplerConfig::schedule_warmup
        #[serde(default)]
        hold_in_warmup: bool,
    },
    /// First-order bi-level (DARTS-style) alignment, the textbook rule: every `probe_every`
    /// supernet steps, each active candidate's own one-step update is tried from the current
    /// state and the decrease `Δ_k` of a fixed validation loss sample is read; since the
    /// mixture's step moves the validation loss by about `−Σ_k w_k Δ_k`, `α` follows
    /// `∂/∂α_m = (w_m/τ)·(−Δ_m + Σ_k w_k Δ_k)` with Adam at `alpha_lr`. Candidates whose
    /// learned weight (before the floor) falls below `prune_below / |A|` are pruned at the end
    /// of a round.
    Alignment {
        /// The validation loss.
        validation: ValidationLoss,
        /// Validation pairs per probe.
        validation_pairs: usize,
        /// Probe every this many supernet steps.
        probe_every: usize,
        /// Adam learning rate of `α`.
        alpha_lr: f64,
        /// Softmax temperature `τ` of `α`.
        tau: f64,
        /// Prune below `prune_below / |A|`.
        prune_below: f64,
    },
    /// The negative control: `α` follows the training loss itself,
    /// `∂/∂α_m = (w_m/τ)·(ℓ̄_m − Σ_k w_k ℓ̄_k)`, which moves weight to the candidate with the
    /// *smallest* loss, i.e. the easiest negatives (method reference §3.2). Kept to show, in
    /// a test, that a rule can fail this way.
    TrainingLoss {
        /// Adam learning rate of `α`.
        alpha_lr: f64,
        /// Softmax temperature `τ`.
        tau: f64,
        /// Prune below `prune_below / |A|`.
        prune_below: f64,
    },
}

impl SelectorConfig {
    /// The evidence rule at its defaults.
    pub fn evidence() -> Self {
        Self::Evidence {
            branch_epochs: 2,
            temperature: 0.005,
            prune_level: 0.05,
            bootstrap: 1000,
            prune_from_round: 0,
            stop_past_peak: true,
            hold_in_warmup: true,
        }
    }

    /// The alignment rule at the settings measured in method reference §3.4 (α Adam lr 0.05,
    /// τ = 1), with `validation` as its validation loss.
    pub fn alignment(validation: ValidationLoss) -> Self {
        Self::Alignment {
            validation,
            validation_pairs: 4096,
            probe_every: 10,
            alpha_lr: 0.05,
            tau: 1.0,
            prune_below: 0.05,
        }
    }

    /// The training-loss negative control at the alignment rule's α settings.
    pub fn training_loss() -> Self {
        Self::TrainingLoss {
            alpha_lr: 0.05,
            tau: 1.0,
            prune_below: 0.05,
        }
    }

    /// A short name for records: `evidence`, `alignment-bpr`, `alignment-softmax`,
    /// `training-loss`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Evidence { .. } => "evidence",
            Self::Alignment {
                validation: ValidationLoss::UniformBpr,
                ..
            } => "alignment-bpr",
            Self::Alignment { .. } => "alignment-softmax",
            Self::TrainingLoss { .. } => "training-loss",
        }
    }

    /// What a round's evidence `value` means under this rule, for logs and reports.
    pub fn signal(&self) -> &'static str {
        match self {
            Self::Evidence { .. } => "validation metric of the candidate's branch",
            Self::Alignment { .. } => {
                "mean decrease of the validation loss after the candidate's own step"
            }
            Self::TrainingLoss { .. } => "mean training loss of the candidate's negatives",
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the setting and its allowed range.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(TrainError::Config(format!("selector: {what}")));
        match *self {
            Self::Evidence {
                branch_epochs,
                temperature,
                prune_level,
                bootstrap,
                prune_from_round: _,
                stop_past_peak: _,
                hold_in_warmup: _,
            } => {
                if branch_epochs == 0 {
                    return bad("branch_epochs must be ≥ 1");
                }
                if !(temperature > 0.0 && temperature.is_finite()) {
                    return bad("temperature must be > 0");
                }
                if !(prune_level > 0.0 && prune_level < 1.0) {
                    return bad("prune_level must be in (0, 1)");
                }
                if bootstrap < 10 {
                    return bad("bootstrap must be ≥ 10 resamples");
                }
            }
            Self::Alignment {
                validation,
                validation_pairs,
                probe_every,
                alpha_lr,
                tau,
                prune_below,
            } => {
                if let ValidationLoss::Softmax { temperature } = validation
                    && !(temperature > 0.0 && temperature.is_finite())
                {
                    return bad("the softmax validation temperature must be > 0");
                }
                if validation_pairs == 0 || probe_every == 0 {
                    return bad("validation_pairs and probe_every must be ≥ 1");
                }
                check_alpha(alpha_lr, tau, prune_below)?;
            }
            Self::TrainingLoss {
                alpha_lr,
                tau,
                prune_below,
            } => check_alpha(alpha_lr, tau, prune_below)?,
        }
        Ok(())
    }
}

fn check_alpha(alpha_lr: f64, tau: f64, prune_below: f64) -> Result<()> {
    if !(alpha_lr > 0.0 && alpha_lr.is_finite() && tau > 0.0 && tau.is_finite()) {
        return Err(TrainError::Config(
            "selector: alpha_lr and tau must be > 0".to_owned(),
        ));
    }
    if !(0.0..1.0).contains(&prune_below) {
        return Err(TrainError::Config(
            "selector: prune_below must be in [0, 1)".to_owned(),
        ));
    }
    Ok(())
}

/// `softmax(α/τ)` over the active candidates (0 elsewhere), then each active weight raised to
/// at least `floor / |A|` and the whole renormalised.
pub fn floored_softmax(alpha: &[f64], tau: f64, active: &[bool], floor: f64) -> Vec<f64> {
    let top = alpha
        .iter()
        .zip(active)
        .filter(|(_, a)| **a)
        .map(|(x, _)| *x / tau)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut w: Vec<f64> = alpha
        .iter()
        .zip(active)
        .map(|(x, a)| if *a { (x / tau - top).exp() } else { 0.0 })
        .collect();
    normalise(&mut w);
    let n = active.iter().filter(|a| **a).count().max(1) as f64;
    if floor > 0.0 {
        for (x, a) in w.iter_mut().zip(active) {
            if *a {
                *x = x.max(floor / n);
            }
        }
        normalise(&mut w);
    }
    w
}

fn normalise(w: &mut [f64]) {
    let s: f64 = w.iter().sum();
    if s > 0.0 {
        w.iter_mut().for_each(|x| *x /= s);
    }
}

/// `∂L/∂α_m = (w_m/τ)·(g_m − Σ_k w_k g_k)` for a loss linear in the weights with
/// `∂L/∂w_k = g_k` (the softmax Jacobian), over the active candidates.
pub fn softmax_chain(w: &[f64], g: &[f64], tau: f64) -> Vec<f64> {
    let mean: f64 = w.iter().zip(g).map(|(w, g)| w * g).sum();
    w.iter().zip(g).map(|(w, g)| w / tau * (g - mean)).collect()
}

/// Adam over the logits α (β₁ 0.9, β₂ 0.999, ε 1e-8), the optimizer of the reference's
/// measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlphaAdam {
    lr: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl AlphaAdam {
    /// For `n` logits.
    pub fn new(n: usize, lr: f64) -> Self {
        Self {
            lr,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// One step on `alpha` along `−grad`; entries with `mask[i] == false` stay as they are.
    pub fn step(&mut self, alpha: &mut [f64], grad: &[f64], mask: &[bool]) {
        self.t += 1;
        let (b1, b2) = (0.9f64, 0.999f64);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        for i in 0..alpha.len() {
            if !mask[i] {
                continue;
            }
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * grad[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * grad[i] * grad[i];
            alpha[i] -= self.lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}

/// A fixed sample of the validation loss, drawn once per probe so that the losses before and
/// after each candidate's trial step are read on the same pairs and negatives.
pub struct ValidationSample {
    loss: ValidationLoss,
    users: Vec<UserId>,
    positives: Vec<ItemId>,
    negatives: Vec<ItemId>,
}

impl ValidationSample {
    /// `pairs` validation pairs drawn uniformly (with replacement) by `seed`; for
    /// [`ValidationLoss::UniformBpr`], one uniform item per pair that is neither a training
    /// nor that validation item of the user.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the validation split is empty.
    pub fn draw(dataset: &Dataset, loss: ValidationLoss, pairs: usize, seed: u64) -> Result<Self> {
        let valid = &dataset.valid;
        let all: Vec<(UserId, ItemId)> = valid.pairs().collect();
        if all.is_empty() {
            return Err(TrainError::Config(
                "the alignment selector needs a validation split".to_owned(),
            ));
        }
        let mut rng = SamplerRng::seed_from_u64(seed);
        let n_items = dataset.train.n_items();
        let mut users = Vec::with_capacity(pairs);
        let mut positives = Vec::with_capacity(pairs);
        let mut negatives = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let (u, i) = all[rng.random_range(0..all.len())];
            users.push(u);
            positives.push(i);
            if loss == ValidationLoss::UniformBpr {
                let seen = dataset.train.items(u);
                let free = n_items - seen.len();
                if free <= 1 {
                    negatives.push(i);
                    continue;
                }
                // Uniform over non-training items other than `i` (rejection on `i` only).
                loop {
                    let j = nth_non_positive(seen, rng.random_range(0..free as u32));
                    if j != i {
                        negatives.push(j);
                        break;
                    }
                }
            }
        }
        Ok(Self {
            loss,
            users,
            positives,
            negatives,
        })
    }

    /// The loss under `model`'s current scores (refreshed by the caller).
    pub fn value(&self, model: &TrainedModel, dataset: &Dataset) -> f64 {
        match self.loss {
            ValidationLoss::UniformBpr => {
                let s = model.sampler_view();
                let mut total = 0.0;
                for ((&u, &i), &j) in self.users.iter().zip(&self.positives).zip(&self.negatives) {
                    let x = (s.score(u, j) - s.score(u, i)) as f64;
                    total += softplus(x);
                }
                total / self.users.len().max(1) as f64
            }
            ValidationLoss::Softmax { temperature } => {
                let scorer = model.scorer();
                let n = scorer.n_items();
                let mut row = vec![0.0f32; n];
                let mut total = 0.0;
                for (&u, &i) in self.users.iter().zip(&self.positives) {
                    scorer.score_users(&[u], &mut row);
                    let seen = dataset.train.items(u);
                    let mut m = f64::NEG_INFINITY;
                    for (j, &x) in row.iter().enumerate() {
                        if seen.binary_search(&(j as ItemId)).is_err() {
                            m = m.max(x as f64 / temperature);
                        }
                    }
                    let mut z = 0.0;
                    for (j, &x) in row.iter().enumerate() {
                        if seen.binary_search(&(j as ItemId)).is_err() {
                            z += (x as f64 / temperature - m).exp();
                        }
                    }
                    total += m + z.ln() - row[i as usize] as f64 / temperature;
                }
                total / self.users.len().max(1) as f64
            }
        }
    }
}

fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The standard normal CDF, from the complementary error function (Numerical Recipes'
/// Chebyshev fit, |error| < 1.2e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// The one-sided z with `P(Z > z) = p`, by bisection on [`normal_cdf`] (`p` in (0, 1)).
pub fn normal_quantile_upper(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0f64, 10.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if 1.0 - normal_cdf(mid) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The pruning threshold in standard errors for a round with `active` candidates at level
/// `level` (Bonferroni over the `active − 1` comparisons with the leader; family-wise only
/// given the leader, see [`SelectorConfig::Evidence`]).
pub fn bonferroni_z(level: f64, active: usize) -> f64 {
    normal_quantile_upper(level / active.saturating_sub(1).max(1) as f64)
}

/// Paired bootstrap over validation users: the standard error of the mean of `diffs`
/// (leader − candidate, per user) from `resamples` resamples drawn by `seed`.
pub fn bootstrap_se(diffs: &[f64], resamples: usize, seed: u64) -> f64 {
    if diffs.len() < 2 || resamples < 2 {
        return 0.0;
    }
    let mut rng = SamplerRng::seed_from_u64(seed);
    let n = diffs.len();
    let means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| diffs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    let mu = means.iter().sum::<f64>() / resamples as f64;
    (means.iter().map(|m| (m - mu).powi(2)).sum::<f64>() / (resamples - 1) as f64).sqrt()
}

/// A step rule's state: logits, their optimizer, and the round's accumulated signal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StepRule {
    pub config: SelectorConfig,
    pub alpha: Vec<f64>,
    pub adam: AlphaAdam,
    pub tau: f64,
    pub floor: f64,
    /// Per candidate: sum and count of the signal this round.
    pub signal: Vec<(f64, usize)>,
    pub steps: usize,
    pub seed: u64,
}

impl StepRule {
    pub fn new(config: &SelectorConfig, c: usize, floor: f64, seed: u64) -> Option<Self> {
        let (alpha_lr, tau) = match *config {
            SelectorConfig::Alignment { alpha_lr, tau, .. }
            | SelectorConfig::TrainingLoss { alpha_lr, tau, .. } => (alpha_lr, tau),
            SelectorConfig::Evidence { .. } => return None,
        };
        Some(Self {
            config: config.clone(),
            alpha: vec![0.0; c],
            adam: AlphaAdam::new(c, alpha_lr),
            tau,
            floor,
            signal: vec![(0.0, 0); c],
            steps: 0,
            seed: derive_seed(seed, "selector", 0),
        })
    }

    pub fn weights(&self, active: &[bool]) -> Vec<f64> {
        floored_softmax(&self.alpha, self.tau, active, self.floor)
    }

    /// The learned weights `softmax(α/τ)` without the floor: what the leader and the pruning
    /// read (the floored weights could never fall below the pruning threshold).
    pub fn unfloored_weights(&self, active: &[bool]) -> Vec<f64> {
        floored_softmax(&self.alpha, self.tau, active, 0.0)
    }

    /// `∂L/∂w_k = g_k` for the active candidates: one α step, and `signal_k` accumulated.
    pub fn update(&mut self, g: &[f64], signal: &[f64], active: &[bool]) {
        // The Jacobian is that of the plain softmax: the floor is a projection applied to the
        // weights used, not part of what α learns.
        let w = floored_softmax(&self.alpha, self.tau, active, 0.0);
        let grad = softmax_chain(&w, g, self.tau);
        self.adam.step(&mut self.alpha, &grad, active);
        for (i, a) in active.iter().enumerate() {
            if *a {
                self.signal[i].0 += signal[i];
                self.signal[i].1 += 1;
            }
        }
    }

    /// The round's mean signal per candidate (NaN where none), and a reset.
    pub fn take_signal(&mut self) -> Vec<f64> {
        let out = self
            .signal
            .iter()
            .map(|(s, n)| if *n > 0 { s / *n as f64 } else { f64::NAN })
            .collect();
        self.signal.iter_mut().for_each(|x| *x = (0.0, 0));
        out
    }

    /// A new candidate joins (expansion): its logit starts at the mean of the active ones
    /// (`active` over the candidates before it), its optimizer state at zero.
    pub fn add_candidate(&mut self, active: &[bool]) {
        let (sum, n) = self
            .alpha
            .iter()
            .zip(active)
            .filter(|(_, a)| **a)
            .fold((0.0, 0usize), |(s, n), (x, _)| (s + x, n + 1));
        self.alpha.push(if n > 0 { sum / n as f64 } else { 0.0 });
        self.adam.m.push(0.0);
        self.adam.v.push(0.0);
        self.signal.push((0.0, 0));
    }

    pub fn prune_below(&self) -> f64 {
        match self.config {
            SelectorConfig::Alignment { prune_below, .. }
            | SelectorConfig::TrainingLoss { prune_below, .. } => prune_below,
            SelectorConfig::Evidence { .. } => 0.0,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn softmax_chain_matches_finite_differences() {
        // L(α) = Σ_k softmax(α/τ)_k g_k.
        let alpha = [0.3, -0.2, 0.9];
        let g = [1.5, -0.7, 0.2];
        let tau = 0.7;
        let active = [true; 3];
        let l = |a: &[f64]| -> f64 {
            floored_softmax(a, tau, &active, 0.0)
                .iter()
                .zip(&g)
                .map(|(w, g)| w * g)
                .sum()
        };
        let w = floored_softmax(&alpha, tau, &active, 0.0);
        let grad = softmax_chain(&w, &g, tau);
        for i in 0..3 {
            let mut p = alpha;
            let mut m = alpha;
            p[i] += 1e-6;
            m[i] -= 1e-6;
            let fd = (l(&p) - l(&m)) / 2e-6;
            assert!((fd - grad[i]).abs() < 1e-6, "{i}: {fd} vs {}", grad[i]);
        }
    }

    #[test]
    fn the_floor_keeps_every_active_candidate_and_ignores_inactive_ones() {
        let w = floored_softmax(&[50.0, 0.0, 0.0, 9.0], 1.0, &[true, true, true, false], 0.3);
        // Hand-derived: softmax gives ≈ (1, 0, 0); the floor 0.3/3 = 0.1 lifts the two to 0.1,
        // then the sum 1.2 renormalises: (1/1.2, 0.1/1.2, 0.1/1.2, 0).
        let want = [1.0 / 1.2, 0.1 / 1.2, 0.1 / 1.2, 0.0];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{w:?}");
        }
    }

    #[test]
    fn alpha_adam_first_step_is_lr_times_the_sign() {
        // Adam's bias-corrected first step is lr · g/|g| (up to ε).
        let mut a = vec![0.0, 0.0, 1.0];
        AlphaAdam::new(3, 0.05).step(&mut a, &[2.0, -0.001, 5.0], &[true, true, false]);
        assert!((a[0] + 0.05).abs() < 1e-6 && (a[1] - 0.05).abs() < 1e-4 && a[2] == 1.0);
    }

    #[test]
    fn bootstrap_se_is_close_to_the_analytic_standard_error() {
        let diffs: Vec<f64> = (0..400).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
        let n = diffs.len() as f64;
        let mu = diffs.iter().sum::<f64>() / n;
        let var = diffs.iter().map(|d| (d - mu).powi(2)).sum::<f64>() / n;
        let analytic = (var / n).sqrt();
        let se = bootstrap_se(&diffs, 2000, 7);
        assert!((se / analytic - 1.0).abs() < 0.1, "{se} vs {analytic}");
        assert_eq!(se, bootstrap_se(&diffs, 2000, 7), "seeded");
        assert_eq!(bootstrap_se(&[1.0], 100, 7), 0.0);
    }

    #[test]
    fn normal_quantiles_match_tables() {
        // Standard normal table values.
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
        assert!((normal_quantile_upper(0.025) - 1.959_964).abs() < 1e-4);
        // 8 comparisons at 5 % family-wise: P(Z > z) = 0.00625, z ≈ 2.4977.
        assert!((bonferroni_z(0.05, 9) - 2.4977).abs() < 1e-3);
        assert!((bonferroni_z(0.05, 2) - 1.6449).abs() < 1e-3);
    }

    #[test]
    fn settings_are_checked() {
        assert!(SelectorConfig::evidence().validate().is_ok());
        assert!(
            SelectorConfig::alignment(ValidationLoss::Softmax { temperature: 0.0 })
                .validate()
                .is_err()
        );
        let bad = SelectorConfig::TrainingLoss {
            alpha_lr: 0.05,
            tau: 1.0,
            prune_below: 1.5,
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("prune_below")
        );
    }
}
