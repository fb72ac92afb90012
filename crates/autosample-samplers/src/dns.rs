//! DNS: Dynamic Negative Sampling (Zhang, Chen, Wang, Yu, SIGIR 2013).
//!
//! Rule: draw `M` uniform non-positive candidates `C` and return
//! `j* = argmax_{j ∈ C} s(u, j)` under the current model (no gradient flows through the
//! choice). `K` negatives per pair are `K` independent groups of `M` candidates.
//!
//! Source: `dynamic_negative_sampling` in github.com/Riwei-HEU/AHNS, `modules/MF.py`, commit
//! 735b0a75ccedbac6b0578fcc5830bebd3a7e88ac (scores are inner products of the layer-mean-pooled
//! user and item embeddings, i.e. [`crate::Scorer::score_items`]; `torch.max(scores, dim=1)`,
//! whose ties go to the first index and whose NaN wins, as here). The `K` groups are the slices
//! `neg_item[:, k*n_negs:(k+1)*n_negs]` of the `n_negs*K` candidates of `get_feed_dict`
//! (`main.py`, same commit).
//!
//! Default `M = 32`: `--n_negs` default of the AHNS parser (`utils/parser.py`, same commit).
//! IRGAN's DNS baseline uses `DNS_K = 5` (github.com/geek-ai/irgan,
//! `item_recommendation/cf_dns.py`, commit 066f568), i.e. `dns:candidates=5`.
//!
//! Candidates come from [`crate::SampleContext::pool`] when it holds at least `M·K` per pair
//! (the first `M·K` are used), otherwise they are drawn here. Cost per batch: `B·K·M` uniform
//! draws (unless pooled) and `B·K·M` scores of width `dim`.

use crate::hard::{GroupRule, sample_two_pass};
use crate::{NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerRng};

/// DNS: the highest-scoring of `M` uniform non-positive candidates.
#[derive(Debug, Clone)]
pub struct DnsSampler {
    candidates: usize,
}

impl DnsSampler {
    /// DNS over `candidates` (`M ≥ 1`) uniform candidates.
    pub fn new(candidates: usize) -> Self {
        Self {
            candidates: candidates.max(1),
        }
    }
}

impl GroupRule for DnsSampler {
    const NAME: &'static str = "dns";
    const NEEDS_POSITIVE_SCORE: bool = false;

    fn group_size(&self) -> usize {
        self.candidates
    }

    fn select(
        &self,
        scores: &[f32],
        _positive: f32,
        _rng: &mut SamplerRng,
        _scratch: &mut Vec<(f32, usize)>,
    ) -> usize {
        crate::engine::argmax(scores)
    }
}

impl NegativeSampler for DnsSampler {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn needs_scorer(&self) -> bool {
        true
    }

    fn sample_batch(
        &mut self,
        batch: &PairBatch<'_>,
        k: usize,
        ctx: &SampleContext<'_>,
        rng: &mut SamplerRng,
        out: &mut Negatives,
    ) -> Result<()> {
        sample_two_pass(&*self, batch, k, ctx, rng, out)
    }
}
