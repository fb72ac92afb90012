//! CNS: the curriculum negative sampler of the AHNS repository ("hard to easy").
//!
//! Rule: draw `M` uniform non-positive candidates `c_0 … c_{M−1}`, then return the
//! highest-scoring of the first `W(t)` of them, where at (0-based) epoch `t` of `T` planned
//! epochs
//!
//! `W(t) = max(1, ⌊(1 − t/T) · M⌋)`
//!
//! (also capped at `M`). At `t = 0` this is DNS over all `M` candidates; the window shrinks
//! linearly, so the argmax runs over fewer and fewer uniform candidates and the negatives get
//! easier, ending at a single uniform candidate (RNS) once `(1 − t/T)·M < 2`.
//!
//! Source: `curr_negative_sampling` in github.com/Riwei-HEU/AHNS, `modules/MF.py`, commit
//! 735b0a75ccedbac6b0578fcc5830bebd3a7e88ac:
//! `scores[:, :max(1, int((1 - (cur_epoch / self.epoch)) * self.n_negs))]` then `torch.max`,
//! with `cur_epoch` the 0-based epoch of `for epoch in range(args.epoch)` (`main.py`) and
//! `self.epoch = args.epoch`. Python's `int` truncates toward zero, which is the floor here
//! because `1 − t/T > 0` for `t < T` (for `t ≥ T` the window is 1). `t` and `T` are
//! [`crate::SampleContext::epoch`] and [`crate::SampleContext::total_epochs`]; `T = 0` is an
//! error. Default `M = 32` (`--n_negs`, `utils/parser.py`, same commit).
//!
//! Cost per batch: as DNS. The reference scores all `M` candidates and slices; so does this
//! implementation (the candidates beyond the window are drawn and scored but never chosen),
//! keeping candidate draws identical to DNS for the same seed.

use crate::engine::argmax;
use crate::hard::{GroupRule, sample_two_pass};
use crate::{
    NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerError, SamplerRng,
};

/// CNS: argmax over a window of the `M` candidates that shrinks over the run.
#[derive(Debug, Clone)]
pub struct CnsSampler {
    candidates: usize,
}

impl CnsSampler {
    /// CNS over `candidates` (`M ≥ 1`) uniform candidates.
    pub fn new(candidates: usize) -> Self {
        Self {
            candidates: candidates.max(1),
        }
    }

    /// The window `W(t) = min(M, max(1, ⌊(1 − t/T)·M⌋))` at 0-based epoch `epoch` of
    /// `total_epochs` (computed in `f64` like the reference's Python floats).
    pub fn window(candidates: usize, epoch: usize, total_epochs: usize) -> usize {
        let fraction = 1.0 - epoch as f64 / total_epochs as f64;
        // `as i64` truncates toward zero and saturates, like Python's `int`.
        let w = (fraction * candidates as f64) as i64;
        (w.max(1) as usize).min(candidates.max(1))
    }
}

/// DNS restricted to the first `window` candidates of each group.
struct CnsRule {
    candidates: usize,
    window: usize,
}

impl GroupRule for CnsRule {
    const NAME: &'static str = "cns";
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
        argmax(&scores[..self.window.min(scores.len())])
    }
}

impl NegativeSampler for CnsSampler {
    fn name(&self) -> &'static str {
        CnsRule::NAME
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
        if ctx.total_epochs == 0 {
            return Err(SamplerError::InvalidContext {
                sampler: CnsRule::NAME,
                message: "the curriculum needs the planned number of epochs, but \
                          SampleContext::total_epochs is 0"
                    .to_owned(),
            });
        }
        let rule = CnsRule {
            candidates: self.candidates,
            window: Self::window(self.candidates, ctx.epoch, ctx.total_epochs),
        };
        sample_two_pass(&rule, batch, k, ctx, rng, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_follows_the_reference_expression() {
        // M = 8, T = 10: ⌊8·(1 − t/10)⌋ = 8, 7.2→7, 6.4→6, 5.6→5, 4.8→4, 4, 3.2→3, 2.4→2,
        // 1.6→1, 0.8→0→1.
        let got: Vec<usize> = (0..10).map(|t| CnsSampler::window(8, t, 10)).collect();
        assert_eq!(got, vec![8, 7, 6, 5, 4, 4, 3, 2, 1, 1]);
        // Past the planned end the window stays at one candidate.
        assert_eq!(CnsSampler::window(8, 12, 10), 1);
        // Default M = 32 over 100 epochs: epoch 50 → 16.
        assert_eq!(CnsSampler::window(32, 50, 100), 16);
        assert_eq!(CnsSampler::window(1, 0, 1), 1);
    }
}
