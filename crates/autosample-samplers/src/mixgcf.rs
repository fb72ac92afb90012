//! MixGCF (Huang et al., KDD 2021): synthetic hard negatives for graph recommenders.
//!
//! For a pair `(u, i)` and each of its `K` negatives, draw `M` uniform non-positive candidates
//! `c_1 … c_M` (group `k` of the `M·K` candidates, as for DNS), then for every layer
//! `l = 0 … L−1` (`L` = [`crate::Scorer::n_layers`]):
//!
//! 1. **Positive mixing.** `a⁽ˡ⁾ ~ U[0, 1)`, one per (pair, negative, layer), shared by the `M`
//!    candidates; `ẽ_m⁽ˡ⁾ = a⁽ˡ⁾ e_i⁽ˡ⁾ + (1 − a⁽ˡ⁾) e_{c_m}⁽ˡ⁾`.
//! 2. **Hop mixing.** `m*_l = argmax_m ⟨q_u⁽ˡ⁾, ẽ_m⁽ˡ⁾⟩`, with `q_u⁽ˡ⁾` the pooled user
//!    embedding ([`crate::Scorer::user_vec`]) for `pool=mean`, and the user's layer-`l`
//!    embedding ([`crate::Scorer::user_layer`]) for `pool=concat`.
//!
//! The synthetic negative is the stack `[ẽ_{m*_0}⁽⁰⁾, …, ẽ_{m*_{L−1}}⁽ᴸ⁻¹⁾]`, pooled by the
//! model like a real item. This sampler returns it as [`Negatives::Mixed`]: for each
//! (pair `b`, negative `k`, layer `l`), at index `(b·K + k)·L + l`, the chosen candidate
//! `c_{m*_l}` and the weight `a⁽ˡ⁾`; the model rebuilds the embedding (with gradients to both
//! the positive's and the candidate's embeddings, as in the reference).
//!
//! Source: `negative_sampling` in github.com/huangtinglin/MixGCF, `modules/LightGCN.py`,
//! commit 2ff0b957813e650ba8ea78b2e5eeaa0a422723c3 (same code at e659f4a):
//! `seed = torch.rand(batch_size, 1, n_hops+1, 1)`; `n_e_ = seed * p_e + (1 - seed) * n_e`;
//! `scores = (s_e.unsqueeze(dim=1) * n_e_).sum(dim=-1)`; `torch.max(scores, dim=1)` over the
//! candidates, per layer; `s_e = self.pooling(s_e)` unless `pool == 'concat'`. `mean` here
//! uses the model's pooled user vector: for LightGCN that is the layer mean, and since the
//! argmax is invariant to a positive rescaling of `q_u`, `sum` pooling would choose the same.
//!
//! Defaults: `M = 64` (`--n_negs` default, `utils/parser.py` at commit 2c4d38d, and the README's
//! Yelp2018 LightGCN command; the README uses 32 for Alibaba and 16 for Amazon) and
//! `pool = mean` (every README LightGCN command passes `--pool mean`; the parser default
//! `concat` is used for NGCF).
//!
//! Notes:
//! - Because `a⁽ˡ⁾` is shared by the candidates and `1 − a⁽ˡ⁾ > 0`,
//!   `⟨q, ẽ_m⟩ = a⟨q, e_i⟩ + (1 − a)⟨q, e_m⟩` is maximised by the candidate maximising
//!   `⟨q, e_m⁽ˡ⁾⟩`: the weight changes the synthetic embedding, not which candidate is chosen
//!   (up to float rounding). The scores are nevertheless computed on the mixed embeddings, as
//!   in the reference.
//! - With one layer (MF), the rule degenerates to "DNS over the candidates, then mix the pick
//!   with the positive" (same choice as DNS with the same candidates).
//! - Candidates are uniform non-positives, never positives of `u` (the positive enters only
//!   through the mixing weight).
//!
//! Cost per batch: `B·K·M` uniform draws (unless pooled) and `B·K·L·M` mixed inner products of
//! width `dim` (`3·dim` flops each).

use autosample_data::ItemId;
use rand::RngExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::{
    CHUNK_PAIRS, check_batch, chunk_rng, fill_candidates, require_scorer, usable_pool,
};
use crate::{
    NegativeKind, NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerError,
    SamplerRng,
};

/// Which user embedding MixGCF's hop mixing scores the mixed candidates against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MixPool {
    /// The pooled user embedding ([`crate::Scorer::user_vec`], the layer mean for LightGCN),
    /// for every layer.
    #[default]
    Mean,
    /// The user's embedding at the same layer ([`crate::Scorer::user_layer`]).
    Concat,
}

impl MixPool {
    /// The spec value.
    pub fn as_str(self) -> &'static str {
        match self {
            MixPool::Mean => "mean",
            MixPool::Concat => "concat",
        }
    }
}

/// MixGCF: positive mixing then per-layer hop mixing over `M` uniform candidates.
#[derive(Debug, Clone)]
pub struct MixGcfSampler {
    candidates: usize,
    pool: MixPool,
}

impl MixGcfSampler {
    /// MixGCF over `candidates` (`M ≥ 1`) uniform candidates.
    pub fn new(candidates: usize, pool: MixPool) -> Self {
        Self {
            candidates: candidates.max(1),
            pool,
        }
    }
}

/// Per-worker reusable buffers.
#[derive(Default)]
struct Scratch {
    candidates: Vec<ItemId>,
    mixed: Vec<f32>,
}

const NAME: &str = "mixgcf";

impl NegativeSampler for MixGcfSampler {
    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_scorer(&self) -> bool {
        true
    }

    fn kind(&self) -> NegativeKind {
        NegativeKind::Mixed
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
        let layers = scorer.n_layers();
        let (candidates, weights) = out.reset_mixed(k, layers);
        if k == 0 || batch.is_empty() || layers == 0 {
            return Ok(());
        }
        // Mixing happens per layer; pool=mean scores the mixes against the pooled user vector,
        // which only makes sense when pooling keeps the layer width (the layer mean of
        // LightGCN, MF's single layer), not for concatenation (NGCF).
        let dim = scorer.user_layer(0, batch.users[0]).len();
        if self.pool == MixPool::Mean && scorer.user_vec(batch.users[0]).len() != dim {
            return Err(SamplerError::InvalidContext {
                sampler: NAME,
                message: format!(
                    "pool=mean scores layer embeddings of width {dim} against the pooled user \
                     vector, which has width {}; use pool=concat for concatenation pooling",
                    scorer.user_vec(batch.users[0]).len()
                ),
            });
        }
        let m = self.candidates;
        let need = m * k;
        let pool = usable_pool(ctx, batch, need, NAME)?;
        let seed: u64 = rng.random();
        let train = ctx.train;
        let mix_pool = self.pool;
        let per_pair = k * layers;
        candidates.resize(batch.len() * per_pair, 0);
        weights.resize(batch.len() * per_pair, 0.0);
        candidates
            .par_chunks_mut(CHUNK_PAIRS * per_pair)
            .zip(weights.par_chunks_mut(CHUNK_PAIRS * per_pair))
            .enumerate()
            .for_each_init(Scratch::default, |s, (c, (cand_chunk, weight_chunk))| {
                let mut rng = chunk_rng(seed, c as u64);
                let pairs = cand_chunk
                    .chunks_mut(per_pair)
                    .zip(weight_chunk.chunks_mut(per_pair));
                for (j, (pair_cands, pair_weights)) in pairs.enumerate() {
                    let b = c * CHUNK_PAIRS + j;
                    let (user, positive) = (batch.users[b], batch.positives[b]);
                    fill_candidates(pool, b, need, user, train, &mut rng, &mut s.candidates);
                    for g in 0..k {
                        let group = &s.candidates[g * m..(g + 1) * m];
                        for l in 0..layers {
                            let a: f32 = rng.random();
                            let q = match mix_pool {
                                MixPool::Mean => scorer.user_vec(user),
                                MixPool::Concat => scorer.user_layer(l, user),
                            };
                            let e_pos = scorer.item_layer(l, positive);
                            let mut best = 0;
                            let mut best_score = f32::NEG_INFINITY;
                            for (idx, &cand) in group.iter().enumerate() {
                                let e = scorer.item_layer(l, cand);
                                s.mixed.clear();
                                s.mixed.extend(
                                    e_pos.iter().zip(e).map(|(p, x)| a * p + (1.0 - a) * x),
                                );
                                let score = crate::dot(q, &s.mixed);
                                // torch.max: the first NaN wins, else the first maximum.
                                if score.is_nan() {
                                    best = idx;
                                    break;
                                }
                                if idx == 0 || score > best_score {
                                    (best, best_score) = (idx, score);
                                }
                            }
                            pair_cands[g * layers + l] = group[best];
                            pair_weights[g * layers + l] = a;
                        }
                    }
                }
            });
        Ok(())
    }
}
