//! SRNS: Simplify and Robustify Negative Sampling (Ding et al., NeurIPS 2020).
//!
//! Source: the official code, github.com/dingjingtao/SRNS, commit
//! 40703a96f34b45195593150d47bf18d37d14f9a4 (the original upload 15a60a8 plus e699c02, a
//! one-line fix of the history deletion): `SRNS_real/SRNS_main.py` (`training`,
//! `training_batch`) and `SRNS_real/Model.py` (the score `(p_u ⊙ q_j)·h`, the same function for
//! positives, candidates and history). Defaults are the ML-1M run of `SRNS_real/run.sh` (same
//! commit): `S1 = 8`, `S2_div_S1 = 8`, `alpha = 5.0`, `warmup = 50`, `temperature = 10.0` (the
//! parser defaults are `S1 = 20`, `S2_div_S1 = 1`, `alpha = 1`, `warmup = 1`,
//! `temperature = 1`); `varset = 3000` is the parser default `--varset_size`, which `run.sh`
//! keeps.
//!
//! Two modes, chosen by `varset` (`V`):
//!
//! - **varset mode** (`V > S1`, the default `V = 3000`): the reference's algorithm. The memory
//!   indexes a per-user candidate array that is redrawn every epoch and whose items have a score
//!   history over the last five epochs, so every memory item has a history.
//! - **memory-only mode** (`V = 0`): the earlier simplification, history only for memory slots
//!   (see [the end of this page](#memory-only-mode-varset--0)).
//!
//! # What the reference does (`SRNS_main.py` at 40703a9, line numbers of that file)
//!
//! - Before training (l. 101–128): `candidate_cur`, an array `[n_users, V]` of items drawn
//!   uniformly with replacement and redrawn entry by entry while a training positive of the
//!   user (so: independent uniform non-positives, repeats possible), and five more such arrays
//!   `candidate_nxt[0..5]`. `Mu_idx[u]` = `random.sample(range(V), S1)`: `S1` distinct indices
//!   into the array. `candidate_cur` and the training positives are scored once with the
//!   initial model (one history row each); the `candidate_nxt` have no row yet.
//! - After every epoch `e` (l. 148–174), with the end-of-epoch model: the five `candidate_nxt`
//!   and the positives are scored and the scores appended as one more row; the positives keep
//!   their last 5 rows (the initial row is dropped after epoch 0); then the arrays shift:
//!   `candidate_cur ← candidate_nxt[0]` (with its rows), `candidate_nxt[c] ← candidate_nxt[c+1]`,
//!   and a fresh array with no row becomes `candidate_nxt[4]`. Hence in epoch `t ≥ 1` the
//!   current array is one drawn before training (`t ≤ 5`) or at the end of epoch `t − 6`, never
//!   used before, whose rows are the end-of-epoch scores of epochs `max(0, t−5) … t−1`
//!   (`min(t, 5)` rows) — the same epochs as the positives' rows. In epoch 0 both have the one
//!   initial row. `Mu_idx` persists across epochs, so the memory's *items* change every epoch.
//! - Selection (l. 210–270), per pair `(u, i)`, memory items `j = candidate_cur[u, Mu_idx[u]]`:
//!   `L_j = σ(s(u,j) − s(u,i))` with current scores; over the rows `e`,
//!   `x_e = σ(s_e(u,j) − s_e(u,i))`, `std_j = sqrt(Σ_e (x_e − mean)² / n_rows)` (population
//!   std); `argmax_j L_j + α·min(1, t/warmup)·std_j`, or `argmax_j std_j` if `α < 0`. One
//!   negative per pair.
//! - Memory update (l. 272–308), after the selection, with the same model: `Mu_idx[u]` is
//!   extended to `S1 + S2` (`S2 = S1·S2_div_S1`) with indices `random.randint(0, V−1)` redrawn
//!   while in the set of the user's current memory indices (the set is taken before the
//!   extension, so the fresh indices may repeat one another); the `S1 + S2` items are scored,
//!   `p = softmax(s/τ)` (no max subtraction), and `S1` positions are kept with
//!   `np.random.choice(S1+S2, S1, p=p, replace=False)`, once per distinct user of the batch.
//! - Cost: `5·n_users·V + nnz` scores per epoch; six `n_users × V` item arrays and 15 rows of
//!   `n_users × V` scores (float64) held at once.
//!
//! # Varset mode (`V > S1`)
//!
//! ## State
//!
//! - Per user `u`: the varset `A_u`, `V` independent uniform non-positive items, **redrawn for
//!   every user at the first batch of every epoch** (the first batch after
//!   [`NegativeSampler::start_epoch`], or whose [`SampleContext::epoch`] differs from the
//!   previous batch's), from that batch's RNG.
//! - Per user: the memory, `S1` indices into `A_u`: `S1` distinct uniform indices at the first
//!   draw, then kept across epochs (so its items change with every redraw, as in the reference).
//! - Snapshots: [`NegativeSampler::start_epoch`] at epoch `t ≥ 1` copies the model's pooled
//!   embeddings ([`Scorer::user_vec`], [`Scorer::item_vec`] of every user and item), i.e. the
//!   model at the end of epoch `t − 1`; the last [`HISTORY_EPOCHS`] = 5 are kept. (If a batch of
//!   epoch `t` comes without a snapshot of `t`, it takes one first: the same model, as no step
//!   of epoch `t` has been taken.) The history score of item `j` for epoch `e` is
//!   `s_e(u, j) = ⟨user_vec_e(u), item_vec_e(j)⟩`, the [`Scorer`] contract for scores.
//!
//! ## Selection, pair `(u, i)` at epoch `t` (0-based), `K` negatives
//!
//! Rows `R_t` = the snapshots of epochs `e` with `max(1, t−4) ≤ e ≤ t` (`min(t, 5)` of them in
//! a normal run). For each memory slot (item `j = A_u[m]`):
//! - `L_j = σ(s(u,j) − s(u,i))` with current scores;
//! - `std_j` = population std over `e ∈ R_t` of `σ(s_e(u,j) − s_e(u,i))` (two-pass, in f64;
//!   0 with fewer than two rows);
//! - `C_j = L_j + α · min(1, t / T_warmup) · std_j` (if `α < 0`: `C_j = std_j`; `T_warmup = 0`
//!   means a ramp of 1).
//!
//! The negative is `argmax_j C_j` (first maximum; NaN wins, like `np.argmax`); for `K > 1` the
//! `K` slots with the highest criterion (distinct slots, in criterion order); `K > S1` is an
//! error.
//!
//! ## Memory update, once per distinct user of the batch, after the selection
//!
//! `S2 = S1 · S2_div_S1` fresh indices, each uniform over `[0, V)` minus the set of the
//! current memory indices (they may repeat one another, as in the reference); score the items
//! of the `S1 + S2` indices and keep `S1` of the indices drawn without replacement with
//! probabilities `softmax(s(u,·)/τ)` (successive draws = `np.random.choice(replace=False)`), in
//! draw order. The softmax subtracts the maximum first (same result unless the reference
//! overflows); NaN scores get weight 0, all-zero weights fall back to uniform.
//!
//! ## What matches the reference, and what does not
//!
//! Matches: the varset (size, uniform non-positive entries with repeats, a new one every
//! epoch), the memory of indices that persist across epochs, the history rows (end-of-epoch
//! scores of epochs `max(0, t−5) … t−1` = snapshots `max(1, t−4) … t`, the same rows for the
//! memory items and the positive), the std formula, the criterion and warm-up ramp, the fresh
//! indices and the softmax-without-replacement update. In epochs 0 and 1 both have a single
//! row, so `std = 0`. Because the varset draws do not depend on the model, drawing epoch `t`'s
//! array at the start of epoch `t` and scoring it against the stored embeddings of the
//! previous epochs gives the reference's joint distribution without its five-array pipeline.
//!
//! Differs:
//! 1. Random streams (ChaCha8 per-chunk streams instead of numpy's and Python's global RNGs):
//!    same distributions, different draws.
//! 2. History scores are `⟨user_vec, item_vec⟩` of the stored embeddings in f32; a model whose
//!    [`Scorer::score`] is not that inner product would get different histories.
//! 3. The softmax subtracts the maximum; NaN handling as above.
//! 4. `K > 1` negatives (top-`K` slots) is an extension; `T_warmup = 0` is a ramp of 1 (the
//!    reference divides by zero).
//! 5. The state (memory, varsets, snapshots, histories) is saved with checkpoints
//!    ([`NegativeSampler::save_state`]), so a resumed run repeats an uninterrupted one.
//! 6. Users with no negative item get no varset (the reference would loop forever).
//!
//! ## Cost and memory
//!
//! Per epoch: `n_users · V` uniform draws (the redraw, parallel over chunks of 64 users) and
//! one snapshot copy of `(n_users + n_items) · dim` floats. Per batch: `B · (S1 + 1)` current
//! scores plus `B · (S1 + 1) · |R_t|` (≤ 5) snapshot inner products for the selection,
//! `U · (S1 + S2)` scores for the update (`U` distinct users). With `S1 = 8` that is 45
//! history inner products per training pair per epoch (≈ 45 M on ML-1M's ≈ 1 M pairs), against
//! the reference's `5 · n_users · V` ≈ 90 M scores. On an ML-1M-shaped split the redraw adds
//! ≈ 3 % to the sampler's epoch (`docs/samplers/srns.md`).
//!
//! Memory ([`SrnsSampler::state_bytes`]):
//! `4·n_users·V + 4·n_users·S1 + 4·5·(n_users + n_items)·dim + 9·n_users` bytes (varset items,
//! memory indices, five f32 snapshots, bookkeeping). ML-1M (6,040 users, 3,706 items,
//! `dim = 64`, `V = 3000`): ≈ 85 MB; Gowalla (29,858 users, 40,981 items): ≈ 450 MB. Above
//! [`SRNS_MEMORY_LIMIT`] (2 GiB) the sampler returns [`SamplerError::MemoryLimit`], naming the
//! largest `varset` that fits.
//!
//! # Memory-only mode (`varset = 0`)
//!
//! ## State
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
//! ## Selection, pair `(u, i)` at 0-based epoch `t`, `K` negatives
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
//! ## Memory update, once per distinct user of the batch, after the selection
//!
//! Extend `M_u` with `S2 = S1 · S2_div_S1` fresh uniform non-positive items, score the
//! `S1 + S2` items, and keep `S1` of them drawn **without replacement** with probabilities
//! `softmax(s(u,·)/τ)` (successive draws, the same distribution as `np.random.choice(…,
//! replace=False, p=…)`), in draw order; every kept slot records its current score for epoch
//! `t`. The softmax subtracts the maximum first (the official code does not; same result when
//! it does not overflow); NaN scores get weight 0, and all-zero weights fall back to uniform.
//!
//! ## Simplifications versus the official code (stated precisely)
//!
//! 1. **No `varset`.** The memory holds items, fresh candidates are uniform over all
//!    non-positives, the memory's items persist across epochs, and history is kept only for
//!    memory slots (bounded memory, no per-epoch snapshot). Consequence: `std_j` is non-zero
//!    only for slots that survived memory updates across at least two epochs. With the ML-1M
//!    defaults (`τ = 10`, so the softmax is close to uniform, keeping 8 of 72 per update) few
//!    slots survive an epoch and the std term is usually small or zero: the sampler then
//!    behaves like "argmax of the current likelihood over a softmax-refreshed memory". Lower
//!    `τ` makes high-scoring slots persist (and accumulate history).
//! 2. **When history is recorded.** The official code scores at the end of each epoch; here a
//!    slot's value for epoch `e` is its score at the user's last update in epoch `e`, and the
//!    positive's is its score when the pair was visited in epoch `e`. Both are read only from
//!    epoch `e + 1` on, as in the official code.
//! 3. Fresh candidates may repeat an item already in memory (the official code only avoids
//!    repeating an *index* of its candidate array, whose items may repeat too).
//! 4. `K > 1` negatives are the top-`K` slots (the official code uses `K = 1`).
//!
//! Cost per batch: `B · (S1 + 1)` scores for the selection, `U · (S1 + S2)` scores and uniform
//! draws for the update (`U` distinct users), `O(B · S1 · 5)` for the histories. `start_epoch`
//! needs no scorer in this mode.

use autosample_data::{Interactions, ItemId, UserId};
use rand::RngExt;
use rayon::prelude::*;

use crate::base::score_rows;
use crate::engine::{
    CHUNK_PAIRS, argmax, check_batch, chunk_rng, rank_desc, require_scorer, sigmoid,
};
use crate::{
    NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerError, SamplerRng, Scorer,
    StateReader, StateWriter, UniformSampler, dot, nth_non_positive,
};

/// Epochs of score history (hard-coded 5 in the official code): snapshots kept in varset mode,
/// epochs per memory slot and per positive in memory-only mode.
pub const HISTORY_EPOCHS: usize = 5;

/// Largest state the varset mode allocates, in bytes (2 GiB); see
/// [`SrnsSampler::state_bytes`].
pub const SRNS_MEMORY_LIMIT: u64 = 2 << 30;

/// Default `varset` (the official parser's `--varset_size`).
pub const DEFAULT_VARSET: usize = 3000;

const NAME: &str = "srns";

/// Users per parallel chunk (and per RNG stream) of the varset redraw.
const CHUNK_USERS: usize = 64;

/// Stream ids of the varset redraw start here (the update's chunks use `0, 1, …`, the
/// memory-only initialisation `u64::MAX`).
const VARSET_STREAM: u64 = 1 << 62;

/// The shape of a training split, to notice when the sampler is used on another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    n_users: usize,
    n_items: usize,
    nnz: usize,
}

impl Shape {
    fn of(train: &Interactions) -> Self {
        Self {
            n_users: train.n_users(),
            n_items: train.n_items(),
            nnz: train.nnz(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Memory-only mode state

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
    /// `(epoch, score)` recorded for it, oldest first (at most [`HISTORY_EPOCHS`]). In varset
    /// mode: the rows the next selection uses, `(e, s_e(u, item))` from the snapshot of
    /// epoch `e`.
    pub history: Vec<(usize, f32)>,
}

/// The memory-only state of one training split.
#[derive(Debug, Clone)]
struct State {
    shape: Shape,
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
            shape: Shape::of(train),
            slots: vec![Slot::default(); train.n_users() * s1],
            ready: vec![false; train.n_users()],
            positives: vec![History::default(); train.nnz()],
            seen: vec![0; train.n_users()],
            batch: 0,
        }
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

// ---------------------------------------------------------------------------------------------
// Varset mode state

/// The model's pooled embeddings at the start of one epoch.
#[derive(Debug, Clone)]
struct Snapshot {
    epoch: usize,
    dim: usize,
    /// `[n_users][dim]`.
    users: Vec<f32>,
    /// `[n_items][dim]`.
    items: Vec<f32>,
}

impl Snapshot {
    fn take(scorer: &dyn Scorer, shape: Shape, epoch: usize) -> Result<Self> {
        let dim = scorer.dim();
        let mut users = Vec::with_capacity(shape.n_users * dim);
        for u in 0..shape.n_users as UserId {
            users.extend_from_slice(checked_row(scorer.user_vec(u), dim, "user", u)?);
        }
        let mut items = Vec::with_capacity(shape.n_items * dim);
        for i in 0..shape.n_items as ItemId {
            items.extend_from_slice(checked_row(scorer.item_vec(i), dim, "item", i)?);
        }
        Ok(Self {
            epoch,
            dim,
            users,
            items,
        })
    }

    fn user(&self, user: UserId) -> &[f32] {
        let u = user as usize;
        &self.users[u * self.dim..(u + 1) * self.dim]
    }

    fn item(&self, item: ItemId) -> &[f32] {
        let i = item as usize;
        &self.items[i * self.dim..(i + 1) * self.dim]
    }

    fn score(&self, user: UserId, item: ItemId) -> f32 {
        dot(self.user(user), self.item(item))
    }
}

fn checked_row<'a>(row: &'a [f32], dim: usize, what: &str, id: u32) -> Result<&'a [f32]> {
    if row.len() == dim {
        Ok(row)
    } else {
        Err(SamplerError::InvalidContext {
            sampler: NAME,
            message: format!(
                "the scorer's {what}_vec({id}) has {} values but Scorer::dim() is {dim}",
                row.len()
            ),
        })
    }
}

/// The varset-mode state of one training split.
#[derive(Debug, Clone)]
struct VarsetState {
    shape: Shape,
    /// `V`.
    size: usize,
    /// `[n_users][V]`: the current varsets.
    items: Vec<ItemId>,
    /// `[n_users][S1]`: memory indices into the varset.
    memory: Vec<u32>,
    /// Whether the user has a varset and a memory (it has a negative item).
    ready: Vec<bool>,
    /// The epoch of the current varsets, once drawn.
    epoch: Option<usize>,
    /// `start_epoch` was called since the last redraw.
    stale: bool,
    /// At most [`HISTORY_EPOCHS`], ascending epochs.
    snapshots: Vec<Snapshot>,
    seen: Vec<u64>,
    batch: u64,
}

impl VarsetState {
    fn new(train: &Interactions, s1: usize, size: usize) -> Self {
        let n_users = train.n_users();
        Self {
            shape: Shape::of(train),
            size,
            items: vec![0; n_users * size],
            memory: vec![0; n_users * s1],
            ready: vec![false; n_users],
            epoch: None,
            stale: true,
            snapshots: Vec::new(),
            seen: vec![0; n_users],
            batch: 0,
        }
    }

    /// Stores the snapshot of epoch `epoch` (none for epoch 0, whose single history row never
    /// gives a non-zero std), dropping snapshots outside the window `(epoch − 5, epoch)` and any
    /// of later epochs (a restarted run).
    fn record_snapshot(&mut self, scorer: &dyn Scorer, epoch: usize) -> Result<()> {
        self.snapshots
            .retain(|s| s.epoch < epoch && s.epoch + HISTORY_EPOCHS > epoch);
        if epoch >= 1 {
            let snapshot = Snapshot::take(scorer, self.shape, epoch)?;
            // Widths must agree across rows (a different model restarts the history).
            self.snapshots.retain(|s| s.dim == snapshot.dim);
            self.snapshots.push(snapshot);
        }
        Ok(())
    }

    /// The history rows of epoch `epoch`: snapshots of `max(1, t−4) ..= t`.
    fn rows(&self, epoch: usize) -> Vec<&Snapshot> {
        self.snapshots
            .iter()
            .filter(|s| s.epoch >= 1 && s.epoch <= epoch && s.epoch + HISTORY_EPOCHS > epoch)
            .collect()
    }

    /// Redraws every user's varset (and fills the memory of users that have none) in parallel
    /// chunks of [`CHUNK_USERS`] users, chunk `c` drawing from stream `VARSET_STREAM + c`.
    fn redraw(&mut self, train: &Interactions, s1: usize, seed: u64) {
        let size = self.size;
        let n_items = train.n_items();
        self.items
            .par_chunks_mut(CHUNK_USERS * size)
            .zip(self.memory.par_chunks_mut(CHUNK_USERS * s1))
            .zip(self.ready.par_chunks_mut(CHUNK_USERS))
            .enumerate()
            .for_each_init(Vec::new, |taken, (c, ((items, memory), ready))| {
                let mut rng = chunk_rng(seed, VARSET_STREAM + c as u64);
                let rows = items
                    .chunks_mut(size)
                    .zip(memory.chunks_mut(s1))
                    .zip(ready.iter_mut());
                for (j, ((row, memory), ready)) in rows.enumerate() {
                    let user = (c * CHUNK_USERS + j) as UserId;
                    let positives = train.items(user);
                    if positives.len() >= n_items {
                        continue; // No negative: never in a valid batch.
                    }
                    for slot in row.iter_mut() {
                        *slot = UniformSampler::draw(positives, n_items, &mut rng).unwrap_or(0);
                    }
                    if !*ready {
                        distinct_indices(size, memory, taken, &mut rng);
                        *ready = true;
                    }
                }
            });
    }
}

/// Fills `out` with distinct indices uniform over `[0, size)`, in draw order
/// (`random.sample(range(size), len)`); `size ≥ out.len()`.
fn distinct_indices(size: usize, out: &mut [u32], taken: &mut Vec<u32>, rng: &mut SamplerRng) {
    taken.clear();
    for (n, slot) in out.iter_mut().enumerate() {
        let index = nth_non_positive(taken, rng.random_range(0..(size - n) as u32));
        let at = taken.partition_point(|&t| t < index);
        taken.insert(at, index);
        *slot = index;
    }
}

/// Per slot, the population std (two-pass, f64) over the snapshot rows of
/// `σ(s_e(u, item) − s_e(u, positive))`; 0 with fewer than two rows.
fn snapshot_stds(
    rows: &[&Snapshot],
    user: UserId,
    positive: ItemId,
    items: &[ItemId],
    values: &mut Vec<f64>,
    out: &mut Vec<f32>,
) {
    out.clear();
    let n = rows.len();
    if n < 2 {
        out.resize(items.len(), 0.0);
        return;
    }
    values.clear();
    values.resize(items.len() * n, 0.0);
    // `out` holds one snapshot's scores until the stds replace them.
    out.resize(items.len(), 0.0);
    for (r, snapshot) in rows.iter().enumerate() {
        let u = snapshot.user(user);
        let s_pos = dot(u, snapshot.item(positive));
        score_rows(u, items, |i| snapshot.item(i), out);
        for (j, &score) in out.iter().enumerate() {
            values[j * n + r] = f64::from(sigmoid(score - s_pos));
        }
    }
    out.clear();
    out.extend(values.chunks(n).map(population_std));
}

/// `sqrt(Σ (x − mean)² / n)`, as the reference computes it.
fn population_std(xs: &[f64]) -> f32 {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt() as f32
}

// ---------------------------------------------------------------------------------------------
// The sampler

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
    indices: Vec<u32>,
    taken: Vec<u32>,
    values: Vec<f64>,
    stds: Vec<f32>,
}

/// SRNS: negatives from a per-user memory, chosen by likelihood plus score variance.
///
/// Varset mode (the default, `varset = 3000`) follows the official code: per-user candidate
/// arrays redrawn every epoch, the memory as indices into them, and every memory item's score
/// history over the last 5 epochs from snapshots of the model's embeddings taken at
/// [`NegativeSampler::start_epoch`]. `varset = 0` is the memory-only simplification (history
/// only for memory slots). Both modes, what matches the official code and what does not, cost
/// and memory (`4·n_users·varset` bytes and more, limit [`SRNS_MEMORY_LIMIT`]):
/// `docs/samplers/srns.md` and this module's source documentation.
#[derive(Debug, Clone)]
pub struct SrnsSampler {
    s1: usize,
    s2: usize,
    alpha: f64,
    warmup: f64,
    temperature: f64,
    varset: usize,
    state: Option<State>,
    varset_state: Option<VarsetState>,
    positive_scores: Vec<f32>,
    work: Vec<Slot>,
    work_indices: Vec<u32>,
    users: Vec<UserId>,
}

impl SrnsSampler {
    /// SRNS with memory size `s1 ≥ 1`, `s2_div_s1` fresh candidates per memory slot per
    /// update, variance weight `alpha`, warm-up epochs `warmup ≥ 0` and softmax
    /// `temperature > 0`, in varset mode with the default `varset` ([`DEFAULT_VARSET`]); see
    /// [`SrnsSampler::with_varset`].
    pub fn new(s1: usize, s2_div_s1: usize, alpha: f64, warmup: f64, temperature: f64) -> Self {
        let s1 = s1.max(1);
        Self {
            s1,
            s2: s1 * s2_div_s1,
            alpha,
            warmup,
            temperature,
            varset: DEFAULT_VARSET.max(s1 + 1),
            state: None,
            varset_state: None,
            positive_scores: Vec::new(),
            work: Vec::new(),
            work_indices: Vec::new(),
            users: Vec::new(),
        }
    }

    /// Sets the candidate array size `V`: `0` selects the memory-only mode; otherwise `V` is
    /// raised to at least `s1 + 1` (the reference needs a free index for every fresh draw).
    /// Resets the state.
    pub fn with_varset(mut self, varset: usize) -> Self {
        self.varset = if varset == 0 {
            0
        } else {
            varset.max(self.s1 + 1)
        };
        self.state = None;
        self.varset_state = None;
        self
    }

    /// The candidate array size `V` (0 in memory-only mode).
    pub fn varset(&self) -> usize {
        self.varset
    }

    /// Bytes of the varset-mode state for a split of `n_users × n_items` and a scorer of width
    /// `dim`: `4·n_users·V + 4·n_users·S1 + 4·5·(n_users + n_items)·dim + 9·n_users` (varset
    /// items, memory indices, five f32 snapshots, bookkeeping). 0 in memory-only mode.
    pub fn state_bytes(&self, n_users: usize, n_items: usize, dim: usize) -> u64 {
        if self.varset == 0 {
            return 0;
        }
        let (u, i, d) = (n_users as u128, n_items as u128, dim as u128);
        let bytes = 4 * u * self.varset as u128
            + 4 * u * self.s1 as u128
            + 4 * HISTORY_EPOCHS as u128 * (u + i) * d
            + 9 * u;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }

    /// [`SamplerError::MemoryLimit`] when [`SrnsSampler::state_bytes`] exceeds
    /// [`SRNS_MEMORY_LIMIT`].
    fn check_memory(&self, shape: Shape, dim: usize) -> Result<()> {
        let needed = self.state_bytes(shape.n_users, shape.n_items, dim);
        if needed <= SRNS_MEMORY_LIMIT {
            return Ok(());
        }
        let varset_bytes = 4 * (shape.n_users as u64).saturating_mul(self.varset as u64);
        let rest = needed.saturating_sub(varset_bytes);
        let fits = SRNS_MEMORY_LIMIT.saturating_sub(rest) / (4 * shape.n_users as u64).max(1);
        let advice = if fits > self.s1 as u64 {
            format!("lower `varset` to at most {fits} (e.g. `srns:varset={fits}`)")
        } else {
            "no `varset` fits with these s1 and embedding width".to_owned()
        };
        let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
        Err(SamplerError::MemoryLimit {
            sampler: NAME,
            needed_bytes: needed,
            limit_bytes: SRNS_MEMORY_LIMIT,
            message: format!(
                "varset mode needs {needed} bytes ({:.2} GiB) for {} users × varset {} \
                 (4·n_users·varset + 4·n_users·s1 + 20·(n_users + n_items)·dim + 9·n_users, \
                 {} items, dim {dim}), over the {:.0} GiB limit; {advice}, or use `varset=0` \
                 (memory-only mode)",
                gib(needed),
                shape.n_users,
                self.varset,
                shape.n_items,
                gib(SRNS_MEMORY_LIMIT),
            ),
        })
    }

    /// The varset state for `train`, created (after the memory check) if absent or built for
    /// another split.
    fn ensure_varset_state(&mut self, train: &Interactions, dim: usize) -> Result<()> {
        let shape = Shape::of(train);
        self.check_memory(shape, dim)?;
        if !self.varset_state.as_ref().is_some_and(|s| s.shape == shape) {
            self.varset_state = Some(VarsetState::new(train, self.s1, self.varset));
        }
        Ok(())
    }

    /// The selection criterion for a slot with current likelihood `likelihood` and history
    /// std `std` at epoch `epoch`: `L + α·min(1, t/T)·std`, or `std` when `α < 0`.
    pub fn criterion(&self, likelihood: f32, std: f32, epoch: usize) -> f32 {
        criterion(self.alpha, self.warmup, epoch, likelihood, std)
    }

    /// User `user`'s memory (its slots in order, with their histories), once initialised. In
    /// varset mode: the items of the memory indices in the current varset, with the history
    /// rows the next selection of the current epoch uses.
    pub fn memory(&self, user: UserId) -> Option<Vec<MemorySlot>> {
        let u = user as usize;
        if self.varset > 0 {
            let state = self.varset_state.as_ref()?;
            if !*state.ready.get(u)? {
                return None;
            }
            let rows = state.rows(state.epoch?);
            let varset = &state.items[u * state.size..(u + 1) * state.size];
            return Some(
                state.memory[u * self.s1..(u + 1) * self.s1]
                    .iter()
                    .map(|&m| {
                        let item = varset[m as usize];
                        MemorySlot {
                            item,
                            history: rows
                                .iter()
                                .map(|s| (s.epoch, s.score(user, item)))
                                .collect(),
                        }
                    })
                    .collect(),
            );
        }
        let state = self.state.as_ref()?;
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

    /// Varset mode: user `user`'s memory as indices into its varset.
    pub fn memory_indices(&self, user: UserId) -> Option<&[u32]> {
        let state = self.varset_state.as_ref()?;
        let u = user as usize;
        state
            .ready
            .get(u)?
            .then(|| &state.memory[u * self.s1..(u + 1) * self.s1])
    }

    /// Varset mode: user `user`'s current varset (`V` items), once drawn.
    pub fn varset_items(&self, user: UserId) -> Option<&[ItemId]> {
        let state = self.varset_state.as_ref()?;
        let u = user as usize;
        state.epoch?;
        state
            .ready
            .get(u)?
            .then(|| &state.items[u * state.size..(u + 1) * state.size])
    }

    /// The `(epoch, score)` history of the training pair `(user, item)`: recorded scores in
    /// memory-only mode; in varset mode the snapshot scores of the rows the next selection of
    /// the current epoch uses.
    pub fn positive_history(
        &self,
        train: &Interactions,
        user: UserId,
        item: ItemId,
    ) -> Option<Vec<(usize, f32)>> {
        if self.varset > 0 {
            let state = self
                .varset_state
                .as_ref()
                .filter(|s| s.shape == Shape::of(train))?;
            if user as usize >= state.shape.n_users {
                return None;
            }
            pair_index(train, user, item)?;
            let rows = state.rows(state.epoch?);
            return Some(
                rows.iter()
                    .map(|s| (s.epoch, s.score(user, item)))
                    .collect(),
            );
        }
        let state = self
            .state
            .as_ref()
            .filter(|s| s.shape == Shape::of(train))?;
        if user as usize >= state.shape.n_users {
            return None;
        }
        Some(state.positives[pair_index(train, user, item)?].entries())
    }
}

// ---------------------------------------------------------------------------------------------
// Saved state (checkpoints)

fn write_shape(w: &mut StateWriter, s: Shape) {
    w.usize(s.n_users);
    w.usize(s.n_items);
    w.usize(s.nnz);
}

fn read_shape(r: &mut StateReader<'_>) -> Result<Shape> {
    Ok(Shape {
        n_users: r.usize()?,
        n_items: r.usize()?,
        nnz: r.usize()?,
    })
}

fn write_histories<'h>(w: &mut StateWriter, hs: impl ExactSizeIterator<Item = &'h History>) {
    let n = hs.len();
    let (mut values, mut last, mut len) = (
        Vec::with_capacity(n * HISTORY_EPOCHS),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for h in hs {
        values.extend_from_slice(&h.values);
        last.push(h.last);
        len.push(u32::from(h.len));
    }
    w.f32s(&values);
    w.u32s(&last);
    w.u32s(&len);
}

fn read_histories(r: &mut StateReader<'_>) -> Result<Vec<History>> {
    let (values, last, len) = (r.f32s()?, r.u32s()?, r.u32s()?);
    if values.len() != last.len() * HISTORY_EPOCHS || len.len() != last.len() {
        return Err(SamplerError::InvalidState {
            sampler: NAME,
            message: "score histories of mismatched lengths".to_owned(),
        });
    }
    Ok(last
        .iter()
        .zip(&len)
        .zip(values.chunks_exact(HISTORY_EPOCHS))
        .map(|((&last, &len), v)| {
            let mut values = [0.0; HISTORY_EPOCHS];
            values.copy_from_slice(v);
            History {
                values,
                last,
                len: len.min(HISTORY_EPOCHS as u32) as u8,
            }
        })
        .collect())
}

impl SrnsSampler {
    fn encode_state(&self) -> Option<Vec<u8>> {
        let mut w = StateWriter::new(NAME);
        match (&self.state, &self.varset_state) {
            (Some(st), _) if self.varset == 0 => {
                w.u32(0);
                write_shape(&mut w, st.shape);
                w.u32s(&st.slots.iter().map(|s| s.item).collect::<Vec<_>>());
                write_histories(&mut w, st.slots.iter().map(|s| &s.history));
                w.bools(&st.ready);
                write_histories(&mut w, st.positives.iter());
                w.u64s(&st.seen);
                w.u64(st.batch);
            }
            (_, Some(st)) if self.varset > 0 => {
                w.u32(1);
                write_shape(&mut w, st.shape);
                w.usize(st.size);
                w.u32s(&st.items);
                w.u32s(&st.memory);
                w.bools(&st.ready);
                w.opt_usize(st.epoch);
                w.bool(st.stale);
                w.usize(st.snapshots.len());
                for snap in &st.snapshots {
                    w.usize(snap.epoch);
                    w.usize(snap.dim);
                    w.f32s(&snap.users);
                    w.f32s(&snap.items);
                }
                w.u64s(&st.seen);
                w.u64(st.batch);
            }
            _ => return None,
        }
        Some(w.finish())
    }

    fn decode_state(&mut self, bytes: &[u8]) -> Result<()> {
        let mut r = StateReader::new(bytes, NAME)?;
        let mode = r.u32()?;
        let mismatch = |what: &str| SamplerError::InvalidState {
            sampler: NAME,
            message: format!("{what} does not fit this sampler's settings"),
        };
        match mode {
            0 if self.varset == 0 => {
                let shape = read_shape(&mut r)?;
                let items = r.u32s()?;
                let histories = read_histories(&mut r)?;
                if items.len() != histories.len() || items.len() != shape.n_users * self.s1 {
                    return Err(mismatch("the memory's size"));
                }
                let slots = items
                    .into_iter()
                    .zip(histories)
                    .map(|(item, history)| Slot { item, history })
                    .collect();
                let state = State {
                    shape,
                    slots,
                    ready: r.bools()?,
                    positives: read_histories(&mut r)?,
                    seen: r.u64s()?,
                    batch: r.u64()?,
                };
                r.finish()?;
                if state.ready.len() != shape.n_users
                    || state.seen.len() != shape.n_users
                    || state.positives.len() != shape.nnz
                    || state.slots.iter().any(|s| s.item as usize >= shape.n_items)
                {
                    return Err(mismatch("the memory's contents"));
                }
                self.state = Some(state);
            }
            1 if self.varset > 0 => {
                let shape = read_shape(&mut r)?;
                let size = r.usize()?;
                let items = r.u32s()?;
                let memory = r.u32s()?;
                if size != self.varset
                    || items.len() != shape.n_users * size
                    || memory.len() != shape.n_users * self.s1
                {
                    return Err(mismatch("the varsets' size"));
                }
                let ready = r.bools()?;
                let epoch = r.opt_usize()?;
                let stale = r.bool()?;
                let n = r.usize()?;
                let mut snapshots = Vec::with_capacity(n.min(HISTORY_EPOCHS));
                for _ in 0..n {
                    snapshots.push(Snapshot {
                        epoch: r.usize()?,
                        dim: r.usize()?,
                        users: r.f32s()?,
                        items: r.f32s()?,
                    });
                }
                let state = VarsetState {
                    shape,
                    size,
                    items,
                    memory,
                    ready,
                    epoch,
                    stale,
                    snapshots,
                    seen: r.u64s()?,
                    batch: r.u64()?,
                };
                r.finish()?;
                let snapshots_fit = state.snapshots.iter().all(|s| {
                    s.users.len() == shape.n_users * s.dim && s.items.len() == shape.n_items * s.dim
                });
                if state.ready.len() != shape.n_users
                    || state.seen.len() != shape.n_users
                    || !snapshots_fit
                    || state.items.iter().any(|&i| i as usize >= shape.n_items)
                    || state.memory.iter().any(|&m| m as usize >= size)
                {
                    return Err(mismatch("the varsets' contents"));
                }
                self.varset_state = Some(state);
            }
            _ => return Err(mismatch("the mode (memory-only or varset)")),
        }
        Ok(())
    }
}

impl NegativeSampler for SrnsSampler {
    fn keeps_state(&self) -> bool {
        true
    }

    fn save_state(&self) -> Option<Vec<u8>> {
        self.encode_state()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        self.decode_state(state)
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_scorer(&self) -> bool {
        true
    }

    /// Memory-only mode: keeps the memory and histories (the 5-epoch window moves with
    /// [`SampleContext::epoch`]); needs no scorer.
    ///
    /// Varset mode: needs the scorer ([`SamplerError::MissingScorer`] otherwise), checks the
    /// memory limit ([`SamplerError::MemoryLimit`]), snapshots the model's embeddings for
    /// epoch `t ≥ 1` and marks the varsets for a redraw at the next batch. Keeps the memory.
    ///
    /// Both reset the state only if the training split's shape changed.
    fn start_epoch(&mut self, ctx: &SampleContext<'_>) -> Result<()> {
        if self.varset == 0 {
            if !self
                .state
                .as_ref()
                .is_some_and(|s| s.shape == Shape::of(ctx.train))
            {
                self.state = Some(State::new(ctx.train, self.s1));
            }
            return Ok(());
        }
        let scorer = require_scorer(ctx, NAME)?;
        self.ensure_varset_state(ctx.train, scorer.dim())?;
        let Some(state) = self.varset_state.as_mut() else {
            return Ok(());
        };
        state.stale = true;
        state.record_snapshot(scorer, ctx.epoch)
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
        let seed: u64 = rng.random();
        if self.varset == 0 {
            self.sample_memory_only(batch, k, ctx, scorer, seed, items);
            Ok(())
        } else {
            self.sample_varset(batch, k, ctx, scorer, seed, items)
        }
    }
}

impl SrnsSampler {
    /// Memory-only mode: one batch.
    fn sample_memory_only(
        &mut self,
        batch: &PairBatch<'_>,
        k: usize,
        ctx: &SampleContext<'_>,
        scorer: &dyn Scorer,
        seed: u64,
        items: &mut Vec<ItemId>,
    ) {
        let (s1, s2) = (self.s1, self.s2);
        let (alpha, warmup, temperature) = (self.alpha, self.warmup, self.temperature);
        let epoch = ctx.epoch;
        let train = ctx.train;
        let n_items = train.n_items();
        if !self
            .state
            .as_ref()
            .is_some_and(|s| s.shape == Shape::of(train))
        {
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
                        pick(&s.criterion, &s.items, negatives, &mut s.rank);
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
    }

    /// Varset mode: one batch.
    fn sample_varset(
        &mut self,
        batch: &PairBatch<'_>,
        k: usize,
        ctx: &SampleContext<'_>,
        scorer: &dyn Scorer,
        seed: u64,
        items: &mut Vec<ItemId>,
    ) -> Result<()> {
        let (s1, s2) = (self.s1, self.s2);
        let (alpha, warmup, temperature) = (self.alpha, self.warmup, self.temperature);
        let epoch = ctx.epoch;
        let train = ctx.train;
        self.ensure_varset_state(train, scorer.dim())?;
        let Some(state) = self.varset_state.as_mut() else {
            return Ok(()); // Unreachable: created just above.
        };

        // 1. First batch of an epoch: the snapshot of this epoch if `start_epoch` took none
        //    (same model: no step of this epoch was taken), then new varsets for every user.
        if state.stale || state.epoch != Some(epoch) {
            if epoch >= 1 && !state.snapshots.iter().any(|s| s.epoch == epoch) {
                state.record_snapshot(scorer, epoch)?;
            }
            state.redraw(train, s1, seed);
            state.epoch = Some(epoch);
            state.stale = false;
        }

        // 2. Selection from the memory before this batch's update (parallel, no randomness).
        items.resize(batch.len() * k, 0);
        {
            let state = &*state;
            let rows = state.rows(epoch);
            let size = state.size;
            items
                .par_chunks_mut(CHUNK_PAIRS * k)
                .enumerate()
                .for_each_init(Scratch::default, |s, (c, negs)| {
                    for (j, negatives) in negs.chunks_mut(k).enumerate() {
                        let b = c * CHUNK_PAIRS + j;
                        let (user, positive) = (batch.users[b], batch.positives[b]);
                        let u = user as usize;
                        let varset = &state.items[u * size..(u + 1) * size];
                        s.items.clear();
                        s.items.extend(
                            state.memory[u * s1..(u + 1) * s1]
                                .iter()
                                .map(|&m| varset[m as usize]),
                        );
                        s.scores.clear();
                        s.scores.resize(s1, 0.0);
                        scorer.score_items(user, &s.items, &mut s.scores);
                        let s_pos = scorer.score(user, positive);
                        snapshot_stds(&rows, user, positive, &s.items, &mut s.values, &mut s.stds);
                        s.criterion.clear();
                        for (&score, &std) in s.scores.iter().zip(&s.stds) {
                            let likelihood = sigmoid(score - s_pos);
                            s.criterion
                                .push(criterion(alpha, warmup, epoch, likelihood, std));
                        }
                        pick(&s.criterion, &s.items, negatives, &mut s.rank);
                    }
                });
        }

        // 3. Memory update, once per distinct user (first-occurrence order), in parallel over
        //    chunks of users with their own RNG streams.
        state.batch += 1;
        self.users.clear();
        for &user in batch.users {
            if state.seen[user as usize] != state.batch {
                state.seen[user as usize] = state.batch;
                self.users.push(user);
            }
        }
        self.work_indices.clear();
        for &user in &self.users {
            let u = user as usize;
            self.work_indices
                .extend_from_slice(&state.memory[u * s1..(u + 1) * s1]);
        }
        let users = &self.users;
        let (varsets, size) = (&state.items, state.size);
        self.work_indices
            .par_chunks_mut(CHUNK_PAIRS * s1)
            .enumerate()
            .for_each_init(Scratch::default, |s, (c, memories)| {
                let mut rng = chunk_rng(seed, c as u64);
                for (j, memory) in memories.chunks_mut(s1).enumerate() {
                    let user = users[c * CHUNK_PAIRS + j];
                    let u = user as usize;
                    let varset = &varsets[u * size..(u + 1) * size];
                    // Fresh indices: uniform over [0, V) minus the current memory's indices.
                    s.taken.clear();
                    s.taken.extend_from_slice(memory);
                    s.taken.sort_unstable();
                    s.taken.dedup();
                    let free = (size - s.taken.len()) as u32;
                    s.indices.clear();
                    s.indices.extend_from_slice(memory);
                    for _ in 0..s2 {
                        let index = nth_non_positive(&s.taken, rng.random_range(0..free));
                        s.indices.push(index);
                    }
                    s.items.clear();
                    s.items
                        .extend(s.indices.iter().map(|&m| varset[m as usize]));
                    s.scores.clear();
                    s.scores.resize(s.items.len(), 0.0);
                    scorer.score_items(user, &s.items, &mut s.scores);
                    softmax_weights(&s.scores, temperature, &mut s.weights);
                    draw_without_replacement(&mut s.weights, s1, &mut rng, &mut s.chosen);
                    for (slot, &position) in memory.iter_mut().zip(&s.chosen) {
                        *slot = s.indices[position];
                    }
                }
            });
        for (n, &user) in self.users.iter().enumerate() {
            let u = user as usize;
            state.memory[u * s1..(u + 1) * s1]
                .copy_from_slice(&self.work_indices[n * s1..(n + 1) * s1]);
        }
        Ok(())
    }
}

/// Writes the `negatives.len()` items of highest criterion: the argmax for one, else the
/// top-`K` (distinct positions, in criterion order).
fn pick(
    criterion: &[f32],
    items: &[ItemId],
    negatives: &mut [ItemId],
    rank: &mut Vec<(f32, usize)>,
) {
    if negatives.len() == 1 {
        negatives[0] = items[argmax(criterion)];
    } else {
        rank.clear();
        rank.extend(criterion.iter().copied().zip(0..));
        rank.sort_unstable_by(|a, b| rank_desc(*a, *b));
        for (neg, &(_, idx)) in negatives.iter_mut().zip(rank.iter()) {
            *neg = items[idx];
        }
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

    /// `s(u, j) = user_values[u] · item_values[j]`, one dimension.
    struct Scalar {
        users: Vec<f32>,
        items: Vec<f32>,
    }

    impl Scorer for Scalar {
        fn dim(&self) -> usize {
            1
        }
        fn user_layer(&self, _layer: usize, user: UserId) -> &[f32] {
            self.user_vec(user)
        }
        fn item_layer(&self, _layer: usize, item: ItemId) -> &[f32] {
            self.item_vec(item)
        }
        fn user_vec(&self, user: UserId) -> &[f32] {
            std::slice::from_ref(&self.users[user as usize])
        }
        fn item_vec(&self, item: ItemId) -> &[f32] {
            std::slice::from_ref(&self.items[item as usize])
        }
    }

    #[test]
    fn snapshot_rows_are_the_epochs_max1_tminus4_to_t() {
        let train = Interactions::from_pairs(1, 4, &[(0, 0)]);
        let mut state = VarsetState::new(&train, 1, 3);
        let epochs = |state: &VarsetState, t| -> Vec<usize> {
            state.rows(t).iter().map(|s| s.epoch).collect()
        };
        for t in 0..9 {
            let scorer = Scalar {
                users: vec![1.0],
                items: vec![t as f32; 4],
            };
            state.record_snapshot(&scorer, t).unwrap();
            let expected: Vec<usize> = (t.saturating_sub(4).max(1)..=t).collect();
            assert_eq!(epochs(&state, t), expected, "epoch {t}");
            assert!(state.snapshots.len() <= HISTORY_EPOCHS);
        }
        // The snapshot of epoch e scores with the model given at e.
        assert_eq!(state.rows(8)[0].score(0, 2), 4.0);
        // A restarted run (epoch going back) drops the later snapshots.
        let scorer = Scalar {
            users: vec![1.0],
            items: vec![0.5; 4],
        };
        state.record_snapshot(&scorer, 2).unwrap();
        assert_eq!(epochs(&state, 2), vec![2]);
        state.record_snapshot(&scorer, 0).unwrap();
        assert!(state.snapshots.is_empty());
        // A scorer whose rows do not have `dim` values is reported.
        struct Bad;
        impl Scorer for Bad {
            fn dim(&self) -> usize {
                2
            }
            fn user_layer(&self, _l: usize, _u: UserId) -> &[f32] {
                &[0.0]
            }
            fn item_layer(&self, _l: usize, _i: ItemId) -> &[f32] {
                &[0.0]
            }
            fn user_vec(&self, _u: UserId) -> &[f32] {
                &[0.0]
            }
            fn item_vec(&self, _i: ItemId) -> &[f32] {
                &[0.0]
            }
        }
        assert!(state.record_snapshot(&Bad, 3).is_err());
    }

    #[test]
    fn snapshot_std_is_the_population_std_over_rows() {
        // σ(s_e(u,j) − s_e(u,i)) = σ(0) = 0.5 at the first row, σ(ln 3) = 0.75 at the second:
        // population std 0.125. Item 0 is the positive (score 1), item 1 the candidate.
        let train = Interactions::from_pairs(1, 2, &[(0, 0)]);
        let mut state = VarsetState::new(&train, 1, 2);
        for (t, candidate) in [(1, 1.0), (2, 1.0 + 3f32.ln())] {
            let scorer = Scalar {
                users: vec![1.0],
                items: vec![1.0, candidate],
            };
            state.record_snapshot(&scorer, t).unwrap();
        }
        let (mut values, mut out) = (Vec::new(), Vec::new());
        snapshot_stds(&state.rows(2), 0, 0, &[1, 0], &mut values, &mut out);
        assert!((out[0] - 0.125).abs() < 1e-6, "{out:?}");
        assert_eq!(out[1], 0.0);
        // One row: 0.
        snapshot_stds(&state.rows(1), 0, 0, &[1], &mut values, &mut out);
        assert_eq!(out, vec![0.0]);
        assert!((population_std(&[1.0, 2.0, 3.0, 4.0]) - 1.25f32.sqrt()).abs() < 1e-7);
    }

    #[test]
    fn distinct_indices_are_uniform_without_replacement() {
        let mut rng = SamplerRng::seed_from_u64(5);
        let (mut taken, mut out) = (Vec::new(), vec![0u32; 3]);
        let mut first = [0usize; 5];
        for _ in 0..5000 {
            distinct_indices(5, &mut out, &mut taken, &mut rng);
            let mut sorted = out.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 3);
            assert!(out.iter().all(|&i| i < 5));
            first[out[0] as usize] += 1;
        }
        // Each index first with probability 1/5.
        assert!(first.iter().all(|&c| (850..1150).contains(&c)), "{first:?}");
        // All of them when len = size.
        let mut out = vec![0u32; 4];
        distinct_indices(4, &mut out, &mut taken, &mut rng);
        out.sort_unstable();
        assert_eq!(out, vec![0, 1, 2, 3]);
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
