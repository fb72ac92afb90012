//! RNS: uniform random negative sampling (BPR; Rendle et al., UAI 2009).
//!
//! Rule: `j ~ Uniform(I \ I_u⁺)`. Source: MixGCF `ns='rns'`
//! (github.com/huangtinglin/MixGCF, `modules/LightGCN.py`, commit 2ff0b95), whose
//! `get_feed_dict` draws by rejection (`while negitem in train_set[user]`).
//!
//! Rejection is used while the user's positives are a small share of the items (the expected
//! number of tries is `n / (n − deg)`); for denser users the draw maps a uniform index onto the
//! complement directly ([`crate::nth_non_positive`]). Both give exactly the uniform distribution
//! over non-positives.

use autosample_data::{Interactions, ItemId};
use rand::RngExt;

use crate::{
    CandidatePool, NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerError,
    SamplerRng, nth_non_positive,
};

/// Uniform negatives over the items the user has not interacted with.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniformSampler;

impl UniformSampler {
    /// One uniform non-positive item for `user`.
    #[inline]
    pub fn draw(positives: &[ItemId], n_items: usize, rng: &mut SamplerRng) -> Option<ItemId> {
        let free = n_items - positives.len();
        if free == 0 {
            return None;
        }
        if positives.len() * 4 <= n_items {
            loop {
                let j = rng.random_range(0..n_items as u32);
                if positives.binary_search(&j).is_err() {
                    return Some(j);
                }
            }
        }
        Some(nth_non_positive(
            positives,
            rng.random_range(0..free as u32),
        ))
    }
}

impl NegativeSampler for UniformSampler {
    fn name(&self) -> &'static str {
        "uniform"
    }

    fn sample_batch(
        &mut self,
        batch: &PairBatch<'_>,
        k: usize,
        ctx: &SampleContext<'_>,
        rng: &mut SamplerRng,
        out: &mut Negatives,
    ) -> Result<()> {
        crate::engine::check_batch(batch, ctx.train, "uniform")?;
        let items = out.reset_items(k);
        let n_items = ctx.train.n_items();
        items.reserve(batch.len() * k);
        for &user in batch.users {
            let positives = ctx.train.items(user);
            for _ in 0..k {
                match Self::draw(positives, n_items, rng) {
                    Some(j) => items.push(j),
                    None => return Err(SamplerError::UserHasNoNegatives { user, n_items }),
                }
            }
        }
        Ok(())
    }
}

impl CandidatePool {
    /// Draws `per_pair` uniform non-positive candidates for every pair of `batch`.
    pub fn draw(
        batch: &PairBatch<'_>,
        per_pair: usize,
        train: &Interactions,
        rng: &mut SamplerRng,
    ) -> Result<Self> {
        crate::engine::check_batch(batch, train, "candidate pool")?;
        let mut items = Vec::with_capacity(batch.len() * per_pair);
        let n_items = train.n_items();
        for &user in batch.users {
            let positives = train.items(user);
            for _ in 0..per_pair {
                match UniformSampler::draw(positives, n_items, rng) {
                    Some(j) => items.push(j),
                    None => return Err(SamplerError::UserHasNoNegatives { user, n_items }),
                }
            }
        }
        Ok(Self { per_pair, items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn draw(train: &Interactions, user: u32, n: usize, rng: &mut SamplerRng) -> Result<Vec<u32>> {
        let users = vec![user; n];
        let positives = vec![0; n];
        let batch = PairBatch {
            users: &users,
            positives: &positives,
        };
        let mut out = Negatives::default();
        UniformSampler.sample_batch(&batch, 1, &SampleContext::new(train), rng, &mut out)?;
        Ok(out.items().unwrap().to_vec())
    }

    #[test]
    fn never_returns_positives_and_is_uniform_over_the_rest() {
        // User 0 likes 6 of 8 items (dense path), user 1 likes 1 of 8 (rejection path).
        let train = Interactions::from_pairs(
            2,
            8,
            &[(0, 0), (0, 1), (0, 2), (0, 4), (0, 5), (0, 7), (1, 3)],
        );
        let mut rng = SamplerRng::seed_from_u64(1);
        for (user, allowed) in [(0u32, vec![3u32, 6]), (1, vec![0, 1, 2, 4, 5, 6, 7])] {
            let out = draw(&train, user, 7000, &mut rng).unwrap();
            assert_eq!(out.len(), 7000);
            let mut counts = [0usize; 8];
            for &j in &out {
                counts[j as usize] += 1;
            }
            let expected = 7000.0 / allowed.len() as f64;
            for j in 0..8u32 {
                if allowed.contains(&j) {
                    // ±15 % of the expected count: > 5 standard deviations for these sizes.
                    assert!((counts[j as usize] as f64 - expected).abs() < 0.15 * expected);
                } else {
                    assert_eq!(counts[j as usize], 0, "positive {j} drawn for user {user}");
                }
            }
        }
    }

    #[test]
    fn same_seed_same_draws_and_full_user_errors() {
        let train = Interactions::from_pairs(2, 3, &[(0, 0), (1, 0), (1, 1), (1, 2)]);
        let run = |seed| draw(&train, 0, 50, &mut SamplerRng::seed_from_u64(seed)).unwrap();
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
        let err = draw(&train, 1, 1, &mut SamplerRng::seed_from_u64(0));
        assert!(matches!(
            err,
            Err(SamplerError::UserHasNoNegatives {
                user: 1,
                n_items: 3
            })
        ));
    }

    #[test]
    fn candidate_pool_has_per_pair_non_positives() {
        let train = Interactions::from_pairs(2, 10, &[(0, 0), (0, 1), (1, 9)]);
        let batch = PairBatch {
            users: &[0, 1],
            positives: &[0, 9],
        };
        let pool =
            CandidatePool::draw(&batch, 16, &train, &mut SamplerRng::seed_from_u64(3)).unwrap();
        assert_eq!(pool.items.len(), 32);
        assert!(pool.of(0).iter().all(|&j| j > 1));
        assert!(pool.of(1).iter().all(|&j| j != 9));
    }

    #[test]
    fn ids_outside_the_split_are_an_invalid_context_not_a_panic() {
        let train = Interactions::from_pairs(2, 10, &[(0, 0), (1, 9)]);
        let mut rng = SamplerRng::seed_from_u64(1);
        let err = draw(&train, 2, 1, &mut rng).unwrap_err();
        assert!(matches!(err, SamplerError::InvalidContext { .. }), "{err}");
        let batch = PairBatch {
            users: &[0],
            positives: &[10],
        };
        let err = CandidatePool::draw(&batch, 4, &train, &mut rng).unwrap_err();
        assert!(matches!(err, SamplerError::InvalidContext { .. }), "{err}");
    }
}
