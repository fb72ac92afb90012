//! DNS(M,N) (Shi et al., WWW 2023, "On the Theories Behind Hard Negative Sampling for
//! Recommendation").
//!
//! Rule: draw `M` uniform non-positive candidates, keep the `N` highest-scoring ones, and
//! return one of those `N` uniformly at random. `N = 1` is DNS and `N = M` is RNS (as
//! distributions; with `N = 1` no random number is consumed for the pick, so `dns_mn` with
//! `top=1` returns exactly what `dns` returns for the same seed). Hardness grows as `N/M`
//! shrinks; the paper shows BPR with DNS(M,N) estimates one-way partial AUC.
//!
//! Source: `dynamic_mn_negative_sampling` in github.com/Riwei-HEU/AHNS, `modules/MF.py`,
//! commit 735b0a75ccedbac6b0578fcc5830bebd3a7e88ac: `torch.topk(scores, topk)` then
//! `torch.randint(0, topk)`. Defaults `M = 32` (`--n_negs`) and `N = 1` (`--topk`) from
//! `utils/parser.py` of the same commit.
//!
//! Ties in the top-`N` cut go to the lower candidate index and NaN scores rank first (torch
//! propagates NaN); the `N` kept candidates are ordered by (score desc, index asc) before the
//! uniform pick, so the result does not depend on the selection algorithm.
//!
//! Cost per batch: as DNS (`B·K·M` scores) plus an `O(M)` selection per group.

use rand::RngExt;

use crate::engine::{argmax, rank_desc};
use crate::hard::{GroupRule, sample_two_pass};
use crate::{NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerRng};

/// DNS(M,N): uniform among the top `N` of `M` uniform non-positive candidates.
#[derive(Debug, Clone)]
pub struct DnsMnSampler {
    candidates: usize,
    top: usize,
}

impl DnsMnSampler {
    /// DNS(M,N) with `M = candidates ≥ 1` and `N = top`, clamped to `1..=M`.
    pub fn new(candidates: usize, top: usize) -> Self {
        let candidates = candidates.max(1);
        Self {
            candidates,
            top: top.clamp(1, candidates),
        }
    }
}

impl GroupRule for DnsMnSampler {
    const NAME: &'static str = "dns_mn";
    const NEEDS_POSITIVE_SCORE: bool = false;

    fn group_size(&self) -> usize {
        self.candidates
    }

    fn select(
        &self,
        scores: &[f32],
        _positive: f32,
        rng: &mut SamplerRng,
        scratch: &mut Vec<(f32, usize)>,
    ) -> usize {
        let n = self.top.min(scores.len());
        if n <= 1 {
            return argmax(scores);
        }
        scratch.clear();
        scratch.extend(scores.iter().copied().zip(0..));
        if n < scratch.len() {
            scratch.select_nth_unstable_by(n - 1, |a, b| rank_desc(*a, *b));
        }
        let top = &mut scratch[..n];
        top.sort_unstable_by(|a, b| rank_desc(*a, *b));
        top[rng.random_range(0..n)].1
    }
}

impl NegativeSampler for DnsMnSampler {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn picks_only_among_the_top_n() {
        let rule = DnsMnSampler::new(6, 3);
        let scores = [0.1, 0.9, 0.5, 0.7, -1.0, 0.6];
        let mut rng = SamplerRng::seed_from_u64(0);
        let mut scratch = Vec::new();
        let mut seen = [0usize; 6];
        for _ in 0..3000 {
            seen[rule.select(&scores, 0.0, &mut rng, &mut scratch)] += 1;
        }
        // Top 3 are indices 1 (0.9), 3 (0.7), 5 (0.6).
        assert_eq!(seen[0] + seen[2] + seen[4], 0, "{seen:?}");
        for i in [1, 3, 5] {
            assert!((800..1200).contains(&seen[i]), "{seen:?}");
        }
        assert_eq!(
            DnsMnSampler::new(6, 1).select(&scores, 0.0, &mut rng, &mut scratch),
            1
        );
        assert_eq!(DnsMnSampler::new(4, 9).top, 4);
    }
}
