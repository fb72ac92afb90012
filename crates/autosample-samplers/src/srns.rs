//! SRNS: Simplify and Robustify Negative Sampling (Ding et al., NeurIPS 2020).
//!
//! Source: the official code, github.com/dingjingtao/SRNS, `SRNS_real/SRNS_main.py`
//! (`training` and `training_batch`), commit 40703a96f34b45195593150d47bf18d37d14f9a4 (the
//! original upload 15a60a8 plus a one-line fix of the history deletion). Defaults are the
//! ML-1M run of `SRNS_real/run.sh` (same commit): `S1 = 8`, `S2_div_S1 = 8`, `alpha = 5.0`,
//! `warmup = 50`, `temperature = 10.0` (the parser defaults are `S1 = 20`, `S2_div_S1 = 1`,
//! `alpha = 1`, `warmup = 1`, `temperature = 1`).
//!
//! # State
//!
//! - Per user `u`, a **memory** `M_u` of `S1` slots, each holding a non-positive item and that
//!   item's **score history**: `s(u, j)` recorded once per epoch for the last
//!   [`HISTORY_EPOCHS`] = 5 consecutive epochs (the value recorded for epoch `e` is the last
//!   score computed for the slot during epoch `e`, i.e. at the user's last memory update of
//!   that epoch). Memories are filled with `S1` uniform non-positives when the user is first
//!   seen.
//! - Per training pair `(u, i)`, the positive's score history, recorded when the pair is
//!   visited (once per epoch in a normal run), same 5-epoch window.
//!
//! A history holds consecutive epochs only: a value recorded after a gap (an epoch in which the
//! slot or pair was not visited) restarts it. When a memory update **replaces** a slot by a
//! fresh item, the new slot's history starts empty (its first value is the score at which it
//! entered). Slots that survive an update keep their history. Memory is `n_users · S1` slots of
//! 32 bytes plus `nnz` positive histories of 28 bytes.
//!
//! # Selection, pair `(u, i)` at 0-based epoch `t`, `K` negatives
//!
//! For each slot `j` of `M_u` (the memory before this batch's update):
//! - `L_j = σ(s(u,j) − s(u,i))` with current scores;
//! - `std_j` = the population standard deviation, over the epochs `e ∈ [t−5, t−1]` in which
//!   both slot `j` and the pair have a recorded score, of `σ(s_e(u,j) − s_e(u,i))` (0 with
//!   fewer than two such epochs' values, i.e. whenever it has one or none);
//! - criterion `C_j = L_j + α · min(1, t / T_warmup) · std_j` (if `α < 0`: `C_j = std_j`, as
//!   the official code's `argmax(variance)` branch; `T_warmup = 0` means a ramp of 1).
//!
//! The negative is `argmax_j C_j` (first maximum; NaN wins, like `np.argmax`). For `K > 1`, the
//! `K` slots with the highest criterion (distinct slots, in criterion order); `K > S1` is an
//! error. At `t = 0` the std term is off whatever `α` (the ramp is 0).
//!
//! # Memory update, once per distinct user of the batch, after the selection
//!
//! Extend `M_u` with `S2 = S1 · S2_div_S1` fresh uniform non-positive items, score the
//! `S1 + S2` items, and keep `S1` of them drawn **without replacement** with probabilities
//! `softmax(s(u,·)/τ)` (successive draws, the same distribution as `np.random.choice(…,
//! replace=False, p=…)`), in draw order; every kept slot records its current score for epoch
//! `t`. The softmax subtracts the maximum first (the official code does not; same result when
//! it does not overflow); NaN scores get weight 0, and all-zero weights fall back to uniform.
//!
//! # Simplifications versus the official code (stated precisely)
//!
//! 1. **No `varset`.** The official memory holds *indices* into a per-user array of
//!    `varset_size = 3000` uniform non-positives, and the score history is kept for the whole
//!    array: five arrays are queued and scored for all users at the end of every epoch, so
//!    that the array that becomes current has five epochs of history, and the current array
//!    changes every epoch (the memory's indices persist, so its items change each epoch).
//!    Here the memory holds items, fresh candidates are uniform over all non-positives, the
//!    memory's items persist across epochs, and history is kept only for memory slots
//!    (bounded memory, no per-epoch full scoring). Consequence: `std_j` is non-zero only for
//!    slots that survived memory updates across at least two epochs. With the ML-1M defaults
//!    (`τ = 10`, so the softmax is close to uniform, keeping 8 of 72 per update) few slots
//!    survive an epoch and the std term is usually small or zero: the sampler then behaves
//!    like "argmax of the current likelihood over a softmax-refreshed memory". Lower `τ`
//!    makes high-scoring slots persist (and accumulate history).
//! 2. **When history is recorded.** The official code scores at the end of each epoch; here a
//!    slot's value for epoch `e` is its score at the user's last update in epoch `e`, and the
//!    positive's is its score when the pair was visited in epoch `e`. Both are read only from
//!    epoch `e + 1` on, as in the official code.
//! 3. Fresh candidates may repeat an item already in memory (the official code only avoids
//!    repeating an *index* of its candidate array, whose items may repeat too).
//! 4. `K > 1` negatives are the top-`K` slots (the official code uses `K = 1`).
//!
//! Cost per batch: `B · (S1 + 1)` scores for the selection, `U · (S1 + S2)` scores and uniform
//! draws for the update (`U` distinct users), `O(B · S1 · 5)` for the histories.

use autosample_data::{Interactions, ItemId, UserId};
use rand::RngExt;
use rayon::prelude::*;

use crate::engine::{
    CHUNK_PAIRS, argmax, check_batch, chunk_rng, rank_desc, require_scorer, sigmoid,
};
use crate::{
    NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerError, SamplerRng,
    UniformSampler,
};

/// Epochs of score history kept per memory slot and per positive (hard-coded 5 in the
/// official code).
pub const HISTORY_EPOCHS: usize = 5;

const NAME: &str = "srns";

/// Scores at up to [`HISTORY_EPOCHS`] consecutive epochs ending at `last`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct History {
    values: [f32; HISTORY_EPOCHS],
    last: u32,
    len: u8,
}

impl History {
    /// Records `value` for `epoch`: overwrites this epoch's value, extends by one epoch, or
    /// restarts the history after a gap (or when `epoch` goes backwards).
    fn record(&mut self, epoch: usize, value: f32) {
        let e = epoch as u32;
        if self.len > 0 && e == self.last {
            // Same epoch: keep the latest value.
        } else if self.len > 0 && Some(e) == self.last.checked_add(1) {
            self.len = (self.len + 1).min(HISTORY_EPOCHS as u8);
        } else {
            self.len = 1;
        }
        self.last = e;
        self.values[epoch % HISTORY_EPOCHS] = value;
    }

    /// The value recorded for `epoch`, if any.
    fn get(&self, epoch: usize) -> Option<f32> {
        let e = epoch as u32;
        (self.len > 0 && e <= self.last && self.last - e < u32::from(self.len))
            .then(|| self.values[epoch % HISTORY_EPOCHS])
    }

    /// `(epoch, value)` pairs, oldest first.
    fn entries(&self) -> Vec<(usize, f32)> {
        let last = self.last as usize;
        (0..self.len as usize)
            .rev()
            .map(|back| last - back)
            .map(|e| (e, self.values[e % HISTORY_EPOCHS]))
            .collect()
    }
}

/// Population std, over the epochs `[t−5, t−1]` both histories have, of
/// `σ(s_e(u,j) − s_e(u,i))`.
fn history_std(slot: &History, positive: Option<&History>, epoch: usize) -> f32 {
    let Some(positive) = positive else {
        return 0.0;
    };
    let (mut n, mut sum, mut sum_sq) = (0u32, 0.0f64, 0.0f64);
    for e in epoch.saturating_sub(HISTORY_EPOCHS)..epoch {
        if let (Some(sj), Some(si)) = (slot.get(e), positive.get(e)) {
            let x = f64::from(sigmoid(sj - si));
            n += 1;
            sum += x;
            sum_sq += x * x;
        }
    }
    if n < 2 {
        return 0.0;
    }
    let mean = sum / f64::from(n);
    ((sum_sq / f64::from(n) - mean * mean).max(0.0)).sqrt() as f32
}

/// One memory slot.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Slot {
    item: ItemId,
    history: History,
}

/// A memory slot as [`SrnsSampler::memory`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorySlot {
    /// The item.
    pub item: ItemId,
    /// `(epoch, score)` recorded for it, oldest first (at most [`HISTORY_EPOCHS`]).
    pub history: Vec<(usize, f32)>,
}

/// The state of one training split.
#[derive(Debug, Clone)]
struct State {
    n_users: usize,
    n_items: usize,
    nnz: usize,
    /// `n_users · S1` slots.
    slots: Vec<Slot>,
    ready: Vec<bool>,
    /// Indexed like the split's CSR `indices`.
    positives: Vec<History>,
    /// `seen[u] == batch` when `u` was already collected for this batch's update.
    seen: Vec<u64>,
    batch: u64,
}

impl State {
    fn new(train: &Interactions, s1: usize) -> Self {
        Self {
            n_users: train.n_users(),
            n_items: train.n_items(),
            nnz: train.nnz(),
            slots: vec![Slot::default(); train.n_users() * s1],
            ready: vec![false; train.n_users()],
            positives: vec![History::default(); train.nnz()],
            seen: vec![0; train.n_users()],
            batch: 0,
        }
    }

    fn fits(&self, train: &Interactions) -> bool {
        self.n_users == train.n_users()
            && self.n_items == train.n_items()
            && self.nnz == train.nnz()
    }
}

/// Index of the pair `(user, item)` in the split's CSR order, if it is a training pair.
fn pair_index(train: &Interactions, user: UserId, item: ItemId) -> Option<usize> {
    let start = train.indptr()[user as usize];
    train
        .items(user)
        .binary_search(&item)
        .ok()
        .map(|p| start + p)
}

/// Per-worker reusable buffers.
#[derive(Default)]
struct Scratch {
    items: Vec<ItemId>,
    scores: Vec<f32>,
    criterion: Vec<f32>,
    rank: Vec<(f32, usize)>,
    weights: Vec<f64>,
    chosen: Vec<usize>,
    old: Vec<Slot>,
}

/// SRNS: negatives from a per-user memory, chosen by likelihood plus score variance.
#[derive(Debug, Clone)]
pub struct SrnsSampler {
    s1: usize,
    s2: usize,
    alpha: f64,
    warmup: f64,
    temperature: f64,
    state: Option<State>,
    positive_scores: Vec<f32>,
    work: Vec<Slot>,
    users: Vec<UserId>,
}

impl SrnsSampler {
    /// SRNS with memory size `s1 ≥ 1`, `s2_div_s1` fresh candidates per memory slot per
    /// update, variance weight `alpha`, warm-up epochs `warmup ≥ 0` and softmax
    /// `temperature > 0`.
    pub fn new(s1: usize, s2_div_s1: usize, alpha: f64, warmup: f64, temperature: f64) -> Self {
        let s1 = s1.max(1);
        Self {
            s1,
            s2: s1 * s2_div_s1,
            alpha,
            warmup,
            temperature,
            state: None,
            positive_scores: Vec::new(),
            work: Vec::new(),
            users: Vec::new(),
        }
    }

    /// The selection criterion for a slot with current likelihood `likelihood` and history
    /// std `std` at epoch `epoch`: `L + α·min(1, t/T)·std`, or `std` when `α < 0`.
    pub fn criterion(&self, likelihood: f32, std: f32, epoch: usize) -> f32 {
        criterion(self.alpha, self.warmup, epoch, likelihood, std)
    }

    /// User `user`'s memory (its slots in order, with their histories), once initialised.
    pub fn memory(&self, user: UserId) -> Option<Vec<MemorySlot>> {
        let state = self.state.as_ref()?;
        let u = user as usize;
        if !*state.ready.get(u)? {
            return None;
        }
        Some(
            state.slots[u * self.s1..(u + 1) * self.s1]
                .iter()
                .map(|s| MemorySlot {
                    item: s.item,
                    history: s.history.entries(),
                })
                .collect(),
        )
    }

    /// The recorded `(epoch, score)` history of the training pair `(user, item)`.
    pub fn positive_history(
        &self,
        train: &Interactions,
        user: UserId,
        item: ItemId,
    ) -> Option<Vec<(usize, f32)>> {
        let state = self.state.as_ref().filter(|s| s.fits(train))?;
        if user as usize >= state.n_users {
            return None;
        }
        Some(state.positives[pair_index(train, user, item)?].entries())
    }

    fn ensure_state(&mut self, train: &Interactions) {
        if !self.state.as_ref().is_some_and(|s| s.fits(train)) {
            self.state = Some(State::new(train, self.s1));
        }
    }
}

impl NegativeSampler for SrnsSampler {
    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_scorer(&self) -> bool {
        true
    }

    /// Keeps the memory and histories; the 5-epoch window moves with
    /// [`SampleContext::epoch`] (values older than `t − 5` are ignored and overwritten).
    /// Resets the state only if the training split's shape changed.
    fn start_epoch(&mut self, ctx: &SampleContext<'_>) -> Result<()> {
        self.ensure_state(ctx.train);
        Ok(())
    }

    fn sample_batch(
        &mut self,
        batch: &PairBatch<'_>,
        k: usize,
        ctx: &SampleContext<'_>,
        rng: &mut SamplerRng,
        out: &mut Negatives,
    ) -> Result<()> {
        let scorer = require_scorer(ctx, NAME)?;
        check_batch(batch, ctx.train, NAME)?;
        if k > self.s1 {
            return Err(SamplerError::InvalidContext {
                sampler: NAME,
                message: format!(
                    "{k} negatives per pair requested, but the memory has s1 = {} slots; \
                     raise s1 (srns returns distinct memory slots)",
                    self.s1
                ),
            });
        }
        let items = out.reset_items(k);
        if k == 0 || batch.is_empty() {
            return Ok(());
        }
        let (s1, s2) = (self.s1, self.s2);
        let (alpha, warmup, temperature) = (self.alpha, self.warmup, self.temperature);
        let epoch = ctx.epoch;
        let train = ctx.train;
        let n_items = train.n_items();
        let seed: u64 = rng.random();
        if !self.state.as_ref().is_some_and(|s| s.fits(train)) {
            self.state = None;
        }
        let state = self.state.get_or_insert_with(|| State::new(train, s1));

        // 1. Fill the memory of users seen for the first time (serially, own stream).
        let mut init_rng = chunk_rng(seed, u64::MAX);
        for &user in batch.users {
            let u = user as usize;
            if !state.ready[u] {
                let positives = train.items(user);
                for slot in &mut state.slots[u * s1..(u + 1) * s1] {
                    // `check_batch` guarantees a non-positive exists.
                    let item = UniformSampler::draw(positives, n_items, &mut init_rng);
                    *slot = Slot {
                        item: item.unwrap_or(0),
                        history: History::default(),
                    };
                }
                state.ready[u] = true;
            }
        }

        // 2. Selection from the memory before this batch's update (parallel, no randomness).
        items.resize(batch.len() * k, 0);
        self.positive_scores.clear();
        self.positive_scores.resize(batch.len(), 0.0);
        {
            let state = &*state;
            items
                .par_chunks_mut(CHUNK_PAIRS * k)
                .zip(self.positive_scores.par_chunks_mut(CHUNK_PAIRS))
                .enumerate()
                .for_each_init(Scratch::default, |s, (c, (negs, pos_scores))| {
                    for (j, (negatives, pos_score)) in
                        negs.chunks_mut(k).zip(pos_scores.iter_mut()).enumerate()
                    {
                        let b = c * CHUNK_PAIRS + j;
                        let (user, positive) = (batch.users[b], batch.positives[b]);
                        let memory = &state.slots[user as usize * s1..(user as usize + 1) * s1];
                        let s_pos = scorer.score(user, positive);
                        *pos_score = s_pos;
                        s.items.clear();
                        s.items.extend(memory.iter().map(|m| m.item));
                        s.scores.clear();
                        s.scores.resize(s1, 0.0);
                        scorer.score_items(user, &s.items, &mut s.scores);
                        let pos_history =
                            pair_index(train, user, positive).map(|p| &state.positives[p]);
                        s.criterion.clear();
                        for (slot, &score) in memory.iter().zip(&s.scores) {
                            let std = history_std(&slot.history, pos_history, epoch);
                            let likelihood = sigmoid(score - s_pos);
                            s.criterion
                                .push(criterion(alpha, warmup, epoch, likelihood, std));
                        }
                        if k == 1 {
                            negatives[0] = s.items[argmax(&s.criterion)];
                        } else {
                            s.rank.clear();
                            s.rank.extend(s.criterion.iter().copied().zip(0..));
                            s.rank.sort_unstable_by(|a, b| rank_desc(*a, *b));
                            for (neg, &(_, idx)) in negatives.iter_mut().zip(&s.rank) {
                                *neg = s.items[idx];
                            }
                        }
                    }
                });
        }

        // 3. Record the positives' scores for this epoch.
        for (b, &score) in self.positive_scores.iter().enumerate() {
            if let Some(p) = pair_index(train, batch.users[b], batch.positives[b]) {
                state.positives[p].record(epoch, score);
            }
        }

        // 4. Memory update, once per distinct user (first-occurrence order), in parallel over
        //    chunks of users with their own RNG streams.
        state.batch += 1;
        self.users.clear();
        for &user in batch.users {
            if state.seen[user as usize] != state.batch {
                state.seen[user as usize] = state.batch;
                self.users.push(user);
            }
        }
        self.work.clear();
        for &user in &self.users {
            let u = user as usize;
            self.work
                .extend_from_slice(&state.slots[u * s1..(u + 1) * s1]);
        }
        let users = &self.users;
        self.work
            .par_chunks_mut(CHUNK_PAIRS * s1)
            .enumerate()
            .for_each_init(Scratch::default, |s, (c, memories)| {
                let mut rng = chunk_rng(seed, c as u64);
                for (j, memory) in memories.chunks_mut(s1).enumerate() {
                    let user = users[c * CHUNK_PAIRS + j];
                    let positives = train.items(user);
                    s.old.clear();
                    s.old.extend_from_slice(memory);
                    s.items.clear();
                    s.items.extend(memory.iter().map(|m| m.item));
                    for _ in 0..s2 {
                        let fresh = UniformSampler::draw(positives, n_items, &mut rng);
                        s.items.push(fresh.unwrap_or(0));
                    }
                    s.scores.clear();
                    s.scores.resize(s.items.len(), 0.0);
                    scorer.score_items(user, &s.items, &mut s.scores);
                    softmax_weights(&s.scores, temperature, &mut s.weights);
                    draw_without_replacement(&mut s.weights, s1, &mut rng, &mut s.chosen);
                    for (slot, &idx) in memory.iter_mut().zip(&s.chosen) {
                        *slot = if idx < s1 {
                            s.old[idx]
                        } else {
                            Slot {
                                item: s.items[idx],
                                history: History::default(),
                            }
                        };
                        slot.history.record(epoch, s.scores[idx]);
                    }
                }
            });
        for (n, &user) in self.users.iter().enumerate() {
            let u = user as usize;
            state.slots[u * s1..(u + 1) * s1].copy_from_slice(&self.work[n * s1..(n + 1) * s1]);
        }
        Ok(())
    }
}

/// `L + α·min(1, t/T)·std` (`T = 0`: ramp 1), or `std` when `α < 0`.
fn criterion(alpha: f64, warmup: f64, epoch: usize, likelihood: f32, std: f32) -> f32 {
    if alpha < 0.0 {
        return std;
    }
    let ramp = if warmup <= 0.0 {
        1.0
    } else {
        (epoch as f64 / warmup).min(1.0)
    };
    likelihood + (alpha * ramp) as f32 * std
}

/// `softmax(scores / τ)` up to normalisation: `exp((s − max)/τ)`, NaN scores weight 0, all
/// non-finite scores weight 1 each.
fn softmax_weights(scores: &[f32], temperature: f64, out: &mut Vec<f64>) {
    out.clear();
    let max = scores
        .iter()
        .copied()
        .filter(|s| s.is_finite())
        .fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        out.resize(scores.len(), 1.0);
        return;
    }
    out.extend(scores.iter().map(|&s| {
        let w = ((f64::from(s) - f64::from(max)) / temperature).exp();
        if w.is_nan() { 0.0 } else { w }
    }));
}

/// Draws `n ≤ weights.len()` distinct indices, each next one with probability proportional to
/// the remaining weights (successive sampling = `np.random.choice(replace=False, p=…)`); when
/// the remaining weights sum to 0, uniformly among the remaining indices. Zeroes the drawn
/// weights.
fn draw_without_replacement(
    weights: &mut [f64],
    n: usize,
    rng: &mut SamplerRng,
    chosen: &mut Vec<usize>,
) {
    chosen.clear();
    let n = n.min(weights.len());
    for _ in 0..n {
        let total: f64 = weights.iter().sum();
        let pick = if total > 0.0 && total.is_finite() {
            let mut r = rng.random::<f64>() * total;
            let mut pick = None;
            for (i, &w) in weights.iter().enumerate() {
                if w > 0.0 {
                    pick = Some(i);
                    if r < w {
                        break;
                    }
                    r -= w;
                }
            }
            pick
        } else {
            None
        };
        let pick = pick.unwrap_or_else(|| {
            let remaining = weights.len() - chosen.len();
            let r = rng.random_range(0..remaining);
            (0..weights.len())
                .filter(|i| !chosen.contains(i))
                .nth(r)
                .unwrap_or(0)
        });
        weights[pick] = 0.0;
        chosen.push(pick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn history(values: &[(usize, f32)]) -> History {
        let mut h = History::default();
        for &(e, v) in values {
            h.record(e, v);
        }
        h
    }

    #[test]
    fn history_keeps_five_consecutive_epochs_and_restarts_after_a_gap() {
        let h = history(&[(0, 1.0), (1, 2.0), (1, 3.0), (2, 4.0)]);
        assert_eq!(h.entries(), vec![(0, 1.0), (1, 3.0), (2, 4.0)]);
        let h = history(&(0..8).map(|e| (e, e as f32)).collect::<Vec<_>>());
        assert_eq!(
            h.entries(),
            vec![(3, 3.0), (4, 4.0), (5, 5.0), (6, 6.0), (7, 7.0)]
        );
        assert_eq!(h.get(2), None);
        assert_eq!(h.get(4), Some(4.0));
        let h = history(&[(0, 1.0), (1, 2.0), (3, 9.0)]);
        assert_eq!(h.entries(), vec![(3, 9.0)]);
        assert_eq!(History::default().entries(), vec![]);
    }

    #[test]
    fn std_is_over_the_joint_past_epochs_only() {
        // Scores such that σ(s_j − s_i) = σ(0) = 0.5 at epoch 0 and σ(ln 3) = 0.75 at epoch 1:
        // population std of {0.5, 0.75} = 0.125.
        let slot = history(&[(0, 1.0), (1, 1.0 + 3f32.ln()), (2, 100.0)]);
        let pos = history(&[(0, 1.0), (1, 1.0), (2, 0.0)]);
        assert!((history_std(&slot, Some(&pos), 2) - 0.125).abs() < 1e-6);
        // The current epoch's value (epoch 2) is not used; one joint value gives 0.
        assert_eq!(history_std(&slot, Some(&pos), 1), 0.0);
        assert_eq!(history_std(&slot, None, 2), 0.0);
        // Only epochs both have count: the positive lacks epoch 0 here.
        let pos = history(&[(1, 1.0), (2, 0.0)]);
        assert_eq!(history_std(&slot, Some(&pos), 2), 0.0);
    }

    #[test]
    fn criterion_ramps_the_std_term_in_over_the_warmup() {
        let s = SrnsSampler::new(8, 8, 5.0, 50.0, 10.0);
        // t = 0: std term off.
        assert_eq!(s.criterion(0.3, 0.2, 0), 0.3);
        // t = 25: half of α.
        assert!((s.criterion(0.3, 0.2, 25) - (0.3 + 2.5 * 0.2)).abs() < 1e-6);
        // t ≥ warmup: full α.
        assert!((s.criterion(0.3, 0.2, 80) - (0.3 + 5.0 * 0.2)).abs() < 1e-6);
        // α < 0: std only.
        assert_eq!(
            SrnsSampler::new(8, 8, -1.0, 50.0, 10.0).criterion(0.3, 0.2, 0),
            0.2
        );
        // warmup = 0: full weight at once.
        assert!((SrnsSampler::new(8, 8, 1.0, 0.0, 1.0).criterion(0.0, 0.5, 0) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn successive_sampling_without_replacement() {
        let mut rng = SamplerRng::seed_from_u64(3);
        let mut chosen = Vec::new();
        // Weights 1, 0, 3: two draws must be {0, 2}; the first is 2 with probability 3/4.
        let mut first2 = 0;
        for _ in 0..4000 {
            let mut w = vec![1.0, 0.0, 3.0];
            draw_without_replacement(&mut w, 2, &mut rng, &mut chosen);
            let mut sorted = chosen.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 2]);
            first2 += usize::from(chosen[0] == 2);
        }
        assert!((2800..3200).contains(&first2), "{first2}");
        // All weights zero: uniform among the remaining, still distinct.
        let mut w = vec![0.0; 5];
        draw_without_replacement(&mut w, 5, &mut rng, &mut chosen);
        let mut sorted = chosen.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
        let mut out = Vec::new();
        softmax_weights(&[0.0, 10.0, f32::NAN], 10.0, &mut out);
        assert!((out[0] - (-1f64).exp()).abs() < 1e-12 && out[1] == 1.0 && out[2] == 0.0);
    }
}
