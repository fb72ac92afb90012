//! The [`NegativeSampler`] and [`Scorer`] traits, the context a sampler reads and the
//! [`Negatives`] it writes.

use autosample_data::{Interactions, ItemId, UserId};

use crate::Result;

/// The portable, seeded RNG every sampler draws from (ChaCha8: same stream on every platform
/// and rand version, unlike `StdRng`).
pub type SamplerRng = rand_chacha::ChaCha8Rng;

/// The current model as hard-negative samplers see it: embeddings per propagation layer and
/// the pooled embeddings that scores are inner products of. Models implement it; samplers only
/// read it, so this crate never depends on burn.
///
/// Layer 0 is the ego (trainable) embedding; MF has one layer, LightGCN with `L` hops has
/// `L + 1`. Scores are `⟨user_vec(u), item_vec(i)⟩`.
pub trait Scorer: Sync {
    /// Embedding width.
    fn dim(&self) -> usize;

    /// Number of layers, including layer 0 (1 for MF).
    fn n_layers(&self) -> usize {
        1
    }

    /// User `u`'s embedding at `layer`.
    fn user_layer(&self, layer: usize, user: UserId) -> &[f32];

    /// Item `i`'s embedding at `layer`.
    fn item_layer(&self, layer: usize, item: ItemId) -> &[f32];

    /// The pooled user embedding used for scoring (layer 0 for MF, the layer mean for LightGCN).
    fn user_vec(&self, user: UserId) -> &[f32];

    /// The pooled item embedding used for scoring.
    fn item_vec(&self, item: ItemId) -> &[f32];

    /// Score of `item` for `user` under the current parameters (higher = more relevant).
    fn score(&self, user: UserId, item: ItemId) -> f32 {
        dot(self.user_vec(user), self.item_vec(item))
    }

    /// The part of `user`'s pooled score that a layer-`layer` item vector `v` contributes: the
    /// pooled score of an item whose layer vectors are `v_l` is `Σ_l layer_score(u, l, v_l)`.
    /// Linear in `v`, which is what lets a synthetic (MixGCF) negative be scored from its
    /// parts. The default is mean pooling over [`Scorer::n_layers`] (MF, LightGCN); a model
    /// that pools otherwise (NGCF concatenates) overrides it.
    fn layer_score(&self, user: UserId, layer: usize, v: &[f32]) -> f32 {
        let _ = layer;
        dot(self.user_vec(user), v) / self.n_layers() as f32
    }

    /// Scores of several items for one user; `out.len() == items.len()`.
    ///
    /// The item rows are random reads from a table that large data does not keep in cache
    /// (gowalla's MF items: 10 MB), so [`score_rows`] prefetches them a few items ahead.
    fn score_items(&self, user: UserId, items: &[ItemId], out: &mut [f32]) {
        score_rows(self.user_vec(user), items, |i| self.item_vec(i), out);
    }
}

/// `out[k] = ⟨u, row(items[k])⟩` (via [`dot`]), prefetching the rows [`PREFETCH_AHEAD`] items
/// ahead: the rows are random reads, and on large data they come from memory rather than cache.
pub(crate) fn score_rows<'a>(
    u: &[f32],
    items: &[ItemId],
    row: impl Fn(ItemId) -> &'a [f32],
    out: &mut [f32],
) {
    for &i in items.iter().take(PREFETCH_AHEAD) {
        prefetch_row(row(i));
    }
    for (k, (o, &i)) in out.iter_mut().zip(items).enumerate() {
        if let Some(&next) = items.get(k + PREFETCH_AHEAD) {
            prefetch_row(row(next));
        }
        *o = dot(u, row(i));
    }
}

/// How many rows ahead [`score_rows`] prefetches.
const PREFETCH_AHEAD: usize = 4;

/// Asks the CPU to start loading `row` into its caches (every 64-byte line of it); a hint with
/// no effect on results, and none at all off x86-64.
#[inline]
#[allow(unsafe_code)]
fn prefetch_row(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(16) {
        // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 has; a prefetch reads nothing
        // and cannot fault (an invalid address is ignored), and this one points into `row`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast::<i8>(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Lanes of [`dot`]'s partial sums.
const DOT_LANES: usize = 8;

/// Inner product over the shorter of the two slices, in a fixed summation order: eight
/// interleaved partial sums (element `j` goes to sum `j mod 8`), added pairwise, then the tail
/// of fewer than eight elements in order.
///
/// Why not `zip().map().sum()`: that is one sequential chain of dependent additions, which
/// the compiler may not reorder (float addition is not associative), so every score cost 64
/// add latencies at dim 64. Hard-negative samplers spend most of their time here (DNS scores
/// `M` candidates per pair, SRNS its memory against five past snapshots). The eight
/// independent sums vectorise on any x86-64 (two SSE registers) and keep a result that is the
/// same on every target, since the order is written out here rather than left to the compiler.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (a_chunks, b_chunks) = (a.chunks_exact(DOT_LANES), b.chunks_exact(DOT_LANES));
    let (a_tail, b_tail) = (a_chunks.remainder(), b_chunks.remainder());
    let mut acc = [0.0f32; DOT_LANES];
    for (x, y) in a_chunks.zip(b_chunks) {
        for j in 0..DOT_LANES {
            acc[j] += x[j] * y[j];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in a_tail.iter().zip(b_tail) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// The training pairs of one mini-batch.
#[derive(Debug, Clone, Copy)]
pub struct PairBatch<'a> {
    /// Users, `[B]`.
    pub users: &'a [UserId],
    /// Their positive items, `[B]`.
    pub positives: &'a [ItemId],
}

impl PairBatch<'_> {
    /// Number of pairs `B`.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Uniform non-positive candidates drawn once per step and shared by every two-pass sampler of
/// a search (DNS, DNS(M,N), MixGCF, AHNS, CNS start from `M` uniform candidates), so that the
/// candidates are drawn once instead of once per sampler.
#[derive(Debug, Clone, Default)]
pub struct CandidatePool {
    /// Candidates per pair.
    pub per_pair: usize,
    /// `[B · per_pair]`: pair `b`'s candidates are `items[b·per_pair .. (b+1)·per_pair]`.
    pub items: Vec<ItemId>,
}

impl CandidatePool {
    /// Pair `b`'s candidates.
    pub fn of(&self, b: usize) -> &[ItemId] {
        &self.items[b * self.per_pair..(b + 1) * self.per_pair]
    }
}

/// What a sampler may read while drawing.
#[derive(Clone, Copy)]
pub struct SampleContext<'a> {
    /// The training split: its positives are never returned as negatives.
    pub train: &'a Interactions,
    /// The current model, for samplers that score candidates; `None` for static samplers.
    pub scorer: Option<&'a dyn Scorer>,
    /// The current epoch (0-based), for samplers with schedules (SRNS, DENS warm-up, CNS).
    pub epoch: usize,
    /// Planned number of epochs, for curricula defined over the run (CNS).
    pub total_epochs: usize,
    /// A shared uniform candidate pool, when the caller drew one.
    pub pool: Option<&'a CandidatePool>,
}

impl<'a> SampleContext<'a> {
    /// A context with no scorer and no pool, at epoch 0 of 1.
    pub fn new(train: &'a Interactions) -> Self {
        Self {
            train,
            scorer: None,
            epoch: 0,
            total_epochs: 1,
            pool: None,
        }
    }
}

/// Negatives of one batch: real items, or synthetic embeddings defined by mixing (MixGCF).
#[derive(Debug, Clone, PartialEq)]
pub enum Negatives {
    /// `K` item ids per pair, row-major `[B · K]`.
    Items {
        /// Negatives per pair.
        k: usize,
        /// The items.
        items: Vec<ItemId>,
    },
    /// Synthetic negatives (MixGCF positive + hop mixing): for pair `b`, negative `k`, layer
    /// `l`, the negative's layer-`l` embedding is
    /// `pos_weight · e_pos⁽ˡ⁾ + (1 − pos_weight) · e_cand⁽ˡ⁾`, and the negative is pooled over
    /// layers like a real item. Indexing of both vectors: `(b·K + k)·layers + l`.
    Mixed {
        /// Negatives per pair.
        k: usize,
        /// Layers per negative (the model's [`Scorer::n_layers`]).
        layers: usize,
        /// The candidate chosen for each (pair, negative, layer).
        candidates: Vec<ItemId>,
        /// The positive's mixing weight `a⁽ˡ⁾ ∈ [0, 1)` for each (pair, negative, layer).
        pos_weight: Vec<f32>,
    },
}

impl Default for Negatives {
    fn default() -> Self {
        Negatives::Items {
            k: 0,
            items: Vec::new(),
        }
    }
}

impl Negatives {
    /// Negatives per pair.
    pub fn k(&self) -> usize {
        match self {
            Negatives::Items { k, .. } | Negatives::Mixed { k, .. } => *k,
        }
    }

    /// Clears the buffers (keeping their capacity) and sets the item kind with `k` per pair.
    pub fn reset_items(&mut self, k: usize) -> &mut Vec<ItemId> {
        if !matches!(self, Negatives::Items { .. }) {
            *self = Negatives::Items {
                k,
                items: Vec::new(),
            };
        }
        match self {
            Negatives::Items { k: kk, items } => {
                *kk = k;
                items.clear();
                items
            }
            Negatives::Mixed { .. } => unreachable!("set to Items just above"),
        }
    }

    /// Clears the buffers (keeping their capacity) and sets the mixed kind with `k` negatives
    /// per pair and `layers` layers per negative; returns `(candidates, pos_weight)`.
    pub fn reset_mixed(&mut self, k: usize, layers: usize) -> (&mut Vec<ItemId>, &mut Vec<f32>) {
        if !matches!(self, Negatives::Mixed { .. }) {
            *self = Negatives::Mixed {
                k,
                layers,
                candidates: Vec::new(),
                pos_weight: Vec::new(),
            };
        }
        match self {
            Negatives::Mixed {
                k: kk,
                layers: ll,
                candidates,
                pos_weight,
            } => {
                *kk = k;
                *ll = layers;
                candidates.clear();
                pos_weight.clear();
                (candidates, pos_weight)
            }
            Negatives::Items { .. } => unreachable!("set to Mixed just above"),
        }
    }

    /// The item ids, when the negatives are items.
    pub fn items(&self) -> Option<&[ItemId]> {
        match self {
            Negatives::Items { items, .. } => Some(items),
            Negatives::Mixed { .. } => None,
        }
    }

    /// Which variant this is.
    pub fn kind(&self) -> NegativeKind {
        match self {
            Negatives::Items { .. } => NegativeKind::Items,
            Negatives::Mixed { .. } => NegativeKind::Mixed,
        }
    }
}

/// The kind of negatives a sampler produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegativeKind {
    /// Item ids.
    Items,
    /// Synthetic mixed embeddings ([`Negatives::Mixed`]).
    Mixed,
}

/// A negative sampler: for each training pair of a batch, `K` negatives that are not training
/// positives of the pair's user.
///
/// `&mut self` lets samplers keep state across steps and epochs (SRNS's per-user memory);
/// samplers parallelise internally over the batch with deterministic per-chunk RNG streams, so
/// the draws depend on the seed alone, not on the thread count.
pub trait NegativeSampler: Send {
    /// Stable name; equals the `type` tag of its config.
    fn name(&self) -> &'static str;

    /// Whether [`SampleContext::scorer`] must be set.
    fn needs_scorer(&self) -> bool {
        false
    }

    /// What [`NegativeSampler::sample_batch`] writes.
    fn kind(&self) -> NegativeKind {
        NegativeKind::Items
    }

    /// Whether the sampler keeps state across epochs beyond the model's (SRNS's memory and
    /// score history, DENS's gates); a checkpoint must hold it, through
    /// [`NegativeSampler::save_state`], for a resumed run to repeat an uninterrupted one.
    fn keeps_state(&self) -> bool {
        false
    }

    /// That state, encoded ([`crate::state`]); `None` when the sampler keeps none or has not
    /// built it yet (before its first epoch).
    fn save_state(&self) -> Option<Vec<u8>> {
        None
    }

    /// Restores a state from [`NegativeSampler::save_state`].
    ///
    /// # Errors
    /// [`crate::SamplerError::InvalidState`] for a state that is not this sampler's or is
    /// damaged, or a sampler that keeps no state.
    fn load_state(&mut self, _state: &[u8]) -> Result<()> {
        Err(crate::SamplerError::InvalidState {
            sampler: self.name(),
            message: "this sampler keeps no state across epochs".to_owned(),
        })
    }

    /// Parameters this sampler trains through an auxiliary loss that the model adds to its own
    /// (DENS's gates when `γ > 0`), or `None`. The model returns the loss's gradient with
    /// respect to them, which goes back through
    /// [`NegativeSampler::apply_auxiliary_gradient`].
    fn auxiliary(&self) -> Option<Auxiliary<'_>> {
        None
    }

    /// Takes an optimizer step on the parameters of [`NegativeSampler::auxiliary`] with their
    /// gradient `grad` (same length) and the model's learning rate `lr`.
    fn apply_auxiliary_gradient(&mut self, _grad: &[f32], _lr: f64) {}

    /// Called once at the start of every epoch, before its first batch.
    fn start_epoch(&mut self, _ctx: &SampleContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Writes `k` negatives for every pair of `batch` into `out`.
    ///
    /// Never yields a training positive of the pair's user as an item negative (nor as a
    /// MixGCF candidate). Returns [`crate::SamplerError::UserHasNoNegatives`] when a user has
    /// no negative item at all, and [`crate::SamplerError::MissingScorer`] when a scorer is
    /// needed but absent.
    fn sample_batch(
        &mut self,
        batch: &PairBatch<'_>,
        k: usize,
        ctx: &SampleContext<'_>,
        rng: &mut SamplerRng,
        out: &mut Negatives,
    ) -> Result<()>;
}

/// Sampler-owned parameters and the auxiliary loss they train through, as handed to the model.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Auxiliary<'a> {
    /// DENS: the four gates ([`crate::DensGate`] layout, `4·(d² + d)` floats for layer width
    /// `dim`) and the weight `gamma` of the disentangling loss. The model builds
    /// `gamma/4 × (four K-pair BPR terms)` over the batch's per-layer rows of users, positives
    /// and the chosen candidates (see [`crate::DensSampler`]).
    DensGates {
        /// Width of one layer embedding.
        dim: usize,
        /// The gate vector.
        gates: &'a [f32],
        /// Loss weight γ > 0.
        gamma: f32,
    },
}

/// The `r`-th (0-based) item id that is *not* in `positives` (sorted ascending, unique).
///
/// Maps a uniform draw `r ∈ [0, n_items − |positives|)` to a uniform non-positive item in
/// O(log |positives|), which is how samplers stay exact and fast for users who have interacted
/// with most items (where rejection sampling would loop for a long time).
///
/// The answer is `r + k`, where `k` is the number of positives below it: the smallest `k` with
/// `positives[k] − k > r`.
pub fn nth_non_positive(positives: &[ItemId], r: u32) -> ItemId {
    let (mut lo, mut hi) = (0usize, positives.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if positives[mid] - mid as u32 > r {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    r + lo as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_non_positive_walks_the_complement() {
        // Items 0..8, positives {1, 2, 5}: the complement in order is 0, 3, 4, 6, 7.
        let pos = [1, 2, 5];
        let got: Vec<_> = (0..5).map(|r| nth_non_positive(&pos, r)).collect();
        assert_eq!(got, vec![0, 3, 4, 6, 7]);
        assert_eq!(nth_non_positive(&[], 3), 3);
        // Positives at the start: {0, 1} → complement 2, 3, …
        assert_eq!(nth_non_positive(&[0, 1], 0), 2);
    }

    #[test]
    fn dot_sums_every_element_including_the_tail() {
        // Small integers are exact in f32 whatever the order: Σ i·(i+1) for i < n.
        for n in [0usize, 1, 3, 7, 8, 9, 15, 16, 17, 64, 65, 71] {
            let a: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let b: Vec<f32> = (0..n).map(|i| (i + 1) as f32).collect();
            let want: usize = (0..n).map(|i| i * (i + 1)).sum();
            assert_eq!(dot(&a, &b), want as f32, "n = {n}");
        }
        // Slices of unequal length: the shorter one's length.
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
    }

    #[test]
    fn dot_uses_its_documented_lane_order() {
        // 1e8 + 1 − 1e8 loses the 1 in f32 when summed in sequence, but not when the terms
        // fall into different lanes and the large ones cancel first: element 0 and 4 share
        // the first pairwise addition, element 1 is added to them after it.
        let mut a = [0.0f32; 8];
        a[0] = 1e8;
        a[1] = 1.0;
        a[4] = -1e8;
        assert_eq!(dot(&a, &[1.0; 8]), 1.0);
        let sequential: f32 = a.iter().sum();
        assert_eq!(sequential, 0.0, "the sequential order would lose the 1");
    }
}
