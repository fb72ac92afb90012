//! AHNS: Adaptive Hardness Negative Sampling (Lai et al., AAAI 2024).
//!
//! Rule: draw `M` uniform non-positive candidates `C` and return
//!
//! `j* = argmin_{m ∈ C} | s(u, m) − β · (s(u, i) + α)^(p+1) |`
//!
//! so the target hardness of the negative adapts to the positive's current score: with the
//! default `p = −2` the target is `β / (s(u,i) + α)`, i.e. harder negatives for
//! poorly-scored positives.
//!
//! Source: `adaptive_negative_sampling` in github.com/Riwei-HEU/AHNS, `modules/MF.py`, commit
//! 735b0a75ccedbac6b0578fcc5830bebd3a7e88ac:
//! `torch.abs(n_scores - self.beta * (p_scores + self.alpha).pow(self.p + 1))` then
//! `torch.min(scores, dim=1)`, with inner-product scores of the layer-mean-pooled embeddings
//! (`simi='ip'`, [`crate::Scorer::score`]). Defaults from `utils/parser.py` of the same commit:
//! `M = 32` (`--n_negs`), `α = 1.0`, `β = 0.1`, `p = −2`.
//!
//! **Negative bases.** The parser declares `--p` with `type=int`, so the exponent `p + 1` is
//! always an integer and `torch.pow` of a negative base is well defined (`(−2)^(−1) = −0.5`).
//! Here `p` is an integer as well and the power is `f32::powi`: identical results, no NaN. (A
//! fractional exponent would make `torch.pow` return NaN for negative bases, and every
//! candidate's criterion would be NaN; that configuration cannot be expressed here.) A zero
//! base with a negative exponent gives `±inf`, every criterion is `inf`, and — like
//! `torch.min` — the first candidate is returned. If a criterion is NaN (a NaN score), the first
//! NaN candidate is returned, as `torch.min` does.
//!
//! Arithmetic is in `f32` like the reference. Cost per batch: as DNS plus one positive score
//! per pair.

use crate::hard::{GroupRule, sample_two_pass};
use crate::{NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerRng};

/// AHNS: the candidate whose score is closest to `β·(s(u,i) + α)^(p+1)`.
#[derive(Debug, Clone)]
pub struct AhnsSampler {
    candidates: usize,
    alpha: f32,
    beta: f32,
    p: i32,
}

impl AhnsSampler {
    /// AHNS over `candidates` (`M ≥ 1`) uniform candidates with the given `α`, `β`, `p`.
    pub fn new(candidates: usize, alpha: f64, beta: f64, p: i32) -> Self {
        Self {
            candidates: candidates.max(1),
            alpha: alpha as f32,
            beta: beta as f32,
            p,
        }
    }

    /// The target score `β · (positive + α)^(p+1)` for a positive scoring `positive`.
    pub fn target(&self, positive: f32) -> f32 {
        self.beta * (positive + self.alpha).powi(self.p.saturating_add(1))
    }
}

impl GroupRule for AhnsSampler {
    const NAME: &'static str = "ahns";
    const NEEDS_POSITIVE_SCORE: bool = true;

    fn group_size(&self) -> usize {
        self.candidates
    }

    fn select(
        &self,
        scores: &[f32],
        positive: f32,
        _rng: &mut SamplerRng,
        _scratch: &mut Vec<(f32, usize)>,
    ) -> usize {
        // argmin with `torch.min` semantics: the first NaN wins, else the first minimum.
        let target = self.target(positive);
        let (mut best, mut best_value) = (0, f32::INFINITY);
        for (m, &score) in scores.iter().enumerate() {
            let criterion = (score - target).abs();
            if criterion.is_nan() {
                return m;
            }
            if m == 0 || criterion < best_value {
                (best, best_value) = (m, criterion);
            }
        }
        best
    }
}

impl NegativeSampler for AhnsSampler {
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

    fn pick(s: &AhnsSampler, scores: &[f32], positive: f32) -> usize {
        s.select(
            scores,
            positive,
            &mut SamplerRng::seed_from_u64(0),
            &mut Vec::new(),
        )
    }

    #[test]
    fn argmin_of_the_hand_derived_criterion() {
        let s = AhnsSampler::new(4, 1.0, 0.1, -2);
        // s(u,i) = 1: target = 0.1 · 2^(−1) = 0.05; |·−0.05| = 0.85, 0.01, 0.55, 0.25.
        assert!((s.target(1.0) - 0.05).abs() < 1e-7);
        assert_eq!(pick(&s, &[0.9, 0.06, -0.5, 0.3], 1.0), 1);
        // Negative base: s(u,i) = −3 → (−2)^(−1) = −0.5 → target −0.05.
        assert!((s.target(-3.0) + 0.05).abs() < 1e-7);
        assert_eq!(pick(&s, &[0.0, -0.04, -0.3], -3.0), 1);
        // p = −3: (−2)^(−2) = 0.25 → target 0.025.
        let s3 = AhnsSampler::new(3, 1.0, 0.1, -3);
        assert!((s3.target(-3.0) - 0.025).abs() < 1e-7);
        assert_eq!(pick(&s3, &[-0.025, 0.03, 0.5], -3.0), 1);
        // Zero base with a negative exponent: every criterion is inf, the first wins.
        assert_eq!(pick(&s, &[0.3, 0.2], -1.0), 0);
        // NaN score: the first NaN wins (torch.min propagates NaN).
        assert_eq!(pick(&s, &[0.05, f32::NAN, 0.0], 1.0), 1);
    }
}
