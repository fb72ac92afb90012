//! The two-pass engine shared by DNS, DNS(M,N), CNS and AHNS: draw `M·K` uniform non-positive
//! candidates per pair (or read them from the shared [`crate::CandidatePool`]), score them with
//! the model, and let a rule pick one candidate from each of the `K` groups of `M`.
//!
//! Group `k` of pair `b` is candidates `k·M .. (k+1)·M`, as in the reference code, which slices
//! `neg_item[:, k*n_negs:(k+1)*n_negs]` from the `n_negs*K` candidates `get_feed_dict` drew
//! (github.com/Riwei-HEU/AHNS, `modules/MF.py`, commit 735b0a7).

use autosample_data::ItemId;
use rand::RngExt;
use rayon::prelude::*;

use crate::engine::{
    CHUNK_PAIRS, check_batch, chunk_rng, fill_candidates, require_scorer, usable_pool,
};
use crate::{Negatives, PairBatch, Result, SampleContext, SamplerRng};

/// A selection rule over one group of `M` scored candidates.
pub(crate) trait GroupRule: Sync {
    /// The sampler's name (for errors).
    const NAME: &'static str;

    /// Whether [`GroupRule::select`] reads the positive's score (computed only then).
    const NEEDS_POSITIVE_SCORE: bool;

    /// Candidates per group, `M`.
    fn group_size(&self) -> usize;

    /// The index in `0..scores.len()` of the chosen candidate. `scores[m] = s(u, c_m)`;
    /// `positive` is `s(u, i)` when [`GroupRule::NEEDS_POSITIVE_SCORE`], else 0. `scratch` is a
    /// reusable buffer.
    fn select(
        &self,
        scores: &[f32],
        positive: f32,
        rng: &mut SamplerRng,
        scratch: &mut Vec<(f32, usize)>,
    ) -> usize;
}

/// Per-worker reusable buffers.
#[derive(Default)]
struct Scratch {
    candidates: Vec<ItemId>,
    scores: Vec<f32>,
    rank: Vec<(f32, usize)>,
}

/// Runs a two-pass sampler over `batch`: `k` negatives per pair, each the rule's pick from its
/// own group of `m` candidates.
pub(crate) fn sample_two_pass<R: GroupRule>(
    rule: &R,
    batch: &PairBatch<'_>,
    k: usize,
    ctx: &SampleContext<'_>,
    rng: &mut SamplerRng,
    out: &mut Negatives,
) -> Result<()> {
    let (sampler, m) = (R::NAME, rule.group_size());
    let scorer = require_scorer(ctx, sampler)?;
    check_batch(batch, ctx.train, sampler)?;
    let items = out.reset_items(k);
    if k == 0 || batch.is_empty() {
        return Ok(());
    }
    let need = m * k;
    let pool = usable_pool(ctx, batch, need, sampler)?;
    let seed: u64 = rng.random();
    let train = ctx.train;
    items.resize(batch.len() * k, 0);
    items
        .par_chunks_mut(CHUNK_PAIRS * k)
        .enumerate()
        .for_each_init(Scratch::default, |s, (c, chunk)| {
            let mut rng = chunk_rng(seed, c as u64);
            for (j, negatives) in chunk.chunks_mut(k).enumerate() {
                let b = c * CHUNK_PAIRS + j;
                let user = batch.users[b];
                fill_candidates(pool, b, need, user, train, &mut rng, &mut s.candidates);
                s.scores.clear();
                s.scores.resize(need, 0.0);
                scorer.score_items(user, &s.candidates, &mut s.scores);
                let positive = if R::NEEDS_POSITIVE_SCORE {
                    scorer.score(user, batch.positives[b])
                } else {
                    0.0
                };
                for (g, negative) in negatives.iter_mut().enumerate() {
                    let group = g * m..(g + 1) * m;
                    let pick = rule.select(&s.scores[group], positive, &mut rng, &mut s.rank);
                    *negative = s.candidates[g * m + pick];
                }
            }
        });
    Ok(())
}
