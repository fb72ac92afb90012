//! Shared machinery of the scoring samplers: argument checks, deterministic per-chunk RNG
//! streams, candidate drawing (own draws or the shared [`CandidatePool`]), NaN-aware argmax.
//!
//! # Determinism
//!
//! A batch is cut into fixed chunks of [`CHUNK_PAIRS`] pairs. The sampler draws **one** `u64`
//! from the caller's RNG per batch; chunk `c` draws from a ChaCha8 stream seeded with that
//! value and stream id `c` ([`chunk_rng`]). Chunks are processed in parallel with rayon, but
//! every chunk's draws depend on (seed, chunk index) alone, so the output is the same for any
//! thread count.

use std::cmp::Ordering;

use autosample_data::{Interactions, ItemId, UserId};
use rand::SeedableRng;

use crate::{
    CandidatePool, PairBatch, Result, SampleContext, SamplerError, SamplerRng, Scorer,
    UniformSampler,
};

/// Pairs per parallel chunk (and per chunk RNG stream).
pub(crate) const CHUNK_PAIRS: usize = 64;

/// The RNG of chunk `chunk` of a batch whose sampler drew `seed`: ChaCha8 seeded with `seed`,
/// stream `chunk` (independent streams of one key).
pub(crate) fn chunk_rng(seed: u64, chunk: u64) -> SamplerRng {
    let mut rng = SamplerRng::seed_from_u64(seed);
    rng.set_stream(chunk);
    rng
}

/// The scorer, or [`SamplerError::MissingScorer`].
pub(crate) fn require_scorer<'a>(
    ctx: &SampleContext<'a>,
    sampler: &'static str,
) -> Result<&'a dyn Scorer> {
    ctx.scorer.ok_or(SamplerError::MissingScorer { sampler })
}

/// Checks the batch against the training split: equal lengths, ids in range, and every user
/// has at least one non-positive item ([`SamplerError::UserHasNoNegatives`] for the first pair
/// whose user has none). Done serially before any parallel work so that the reported error does
/// not depend on scheduling, and so that draws inside the parallel part cannot fail.
pub(crate) fn check_batch(
    batch: &PairBatch<'_>,
    train: &Interactions,
    sampler: &'static str,
) -> Result<()> {
    if batch.users.len() != batch.positives.len() {
        return Err(SamplerError::InvalidContext {
            sampler,
            message: format!(
                "batch has {} users but {} positives",
                batch.users.len(),
                batch.positives.len()
            ),
        });
    }
    let (n_users, n_items) = (train.n_users(), train.n_items());
    for (&user, &item) in batch.users.iter().zip(batch.positives) {
        if user as usize >= n_users || item as usize >= n_items {
            return Err(SamplerError::InvalidContext {
                sampler,
                message: format!(
                    "pair ({user}, {item}) is outside the training split's {n_users} users × \
                     {n_items} items"
                ),
            });
        }
        if train.degree(user) >= n_items {
            return Err(SamplerError::UserHasNoNegatives { user, n_items });
        }
    }
    Ok(())
}

/// The shared pool to read `need` candidates per pair from, if the context has one that is
/// large enough (`per_pair ≥ need`); `None` means "draw your own". A pool that is present and
/// large enough must have `batch.len() · per_pair` items, in range and non-positive for the
/// pair's user (the first `need` of each pair are checked), or the call fails with
/// [`SamplerError::InvalidContext`].
pub(crate) fn usable_pool<'a>(
    ctx: &SampleContext<'a>,
    batch: &PairBatch<'_>,
    need: usize,
    sampler: &'static str,
) -> Result<Option<&'a CandidatePool>> {
    let Some(pool) = ctx.pool else {
        return Ok(None);
    };
    if pool.per_pair < need {
        return Ok(None);
    }
    if pool.items.len() != batch.len() * pool.per_pair {
        return Err(SamplerError::InvalidContext {
            sampler,
            message: format!(
                "candidate pool has {} items, expected {} pairs × {} per pair",
                pool.items.len(),
                batch.len(),
                pool.per_pair
            ),
        });
    }
    let n_items = ctx.train.n_items();
    for (b, &user) in batch.users.iter().enumerate() {
        let positives = ctx.train.items(user);
        for &j in &pool.of(b)[..need] {
            if j as usize >= n_items || positives.binary_search(&j).is_ok() {
                return Err(SamplerError::InvalidContext {
                    sampler,
                    message: format!(
                        "candidate pool item {j} of pair {b} is out of range or a training \
                         positive of user {user}"
                    ),
                });
            }
        }
    }
    Ok(Some(pool))
}

/// Fills `buf` with pair `b`'s first `need` candidates: from the pool when given, else `need`
/// fresh uniform non-positive draws from `rng`.
///
/// The user must have a non-positive item ([`check_batch`] ran before).
pub(crate) fn fill_candidates(
    pool: Option<&CandidatePool>,
    b: usize,
    need: usize,
    user: UserId,
    train: &Interactions,
    rng: &mut SamplerRng,
    buf: &mut Vec<ItemId>,
) {
    buf.clear();
    match pool {
        Some(pool) => buf.extend_from_slice(&pool.of(b)[..need]),
        None => {
            let positives = train.items(user);
            let n_items = train.n_items();
            // `check_batch` guarantees a non-positive exists, so `draw` returns `Some`; the
            // fallback to item 0 is unreachable and only avoids an unwrap.
            buf.extend(
                (0..need).map(|_| UniformSampler::draw(positives, n_items, rng).unwrap_or(0)),
            );
        }
    }
}

/// Orders scores like `torch.max`/`torch.topk`: a NaN counts as the largest value (torch
/// propagates NaN, returning its index), ties by lower index first. Returns `Less` when `a`
/// ranks **before** `b` (i.e. is larger). A total order, so any selection algorithm gives the
/// same result.
pub(crate) fn rank_desc(a: (f32, usize), b: (f32, usize)) -> Ordering {
    let by_value = match (a.0.is_nan(), b.0.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal),
    };
    by_value.then(a.1.cmp(&b.1))
}

/// Index of the maximum, with `torch.max(dim)` semantics: the first NaN if there is one, else
/// the first maximal value. `0` for an empty slice.
pub(crate) fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() {
            return i;
        }
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Logistic sigmoid `1 / (1 + e^{−x})`: SRNS's likelihoods, DENS's gates here and DENS's
/// auxiliary loss in the models, one formula for all.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn argmax_and_ranking_follow_torch() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[1.0, f32::NAN, 5.0]), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
        let mut v: Vec<(f32, usize)> = [2.0, f32::NAN, 3.0, 2.0].iter().copied().zip(0..).collect();
        v.sort_by(|a, b| rank_desc(*a, *b));
        let order: Vec<usize> = v.iter().map(|x| x.1).collect();
        assert_eq!(order, vec![1, 2, 0, 3]);
    }

    #[test]
    fn chunk_streams_are_distinct_and_reproducible() {
        let a: u64 = chunk_rng(9, 0).random();
        let b: u64 = chunk_rng(9, 1).random();
        assert_ne!(a, b);
        assert_eq!(a, chunk_rng(9, 0).random::<u64>());
    }
}
