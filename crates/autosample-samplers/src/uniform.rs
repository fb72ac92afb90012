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

use autosample_data::{ItemId, UserId};
use rand::RngExt;

use crate::{NegativeSampler, Result, SampleContext, SamplerError, SamplerRng, nth_non_positive};

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

    fn sample(
        &self,
        user: UserId,
        _positive: ItemId,
        n: usize,
        ctx: &SampleContext<'_>,
        rng: &mut SamplerRng,
        out: &mut Vec<ItemId>,
    ) -> Result<()> {
        let positives = ctx.train.items(user);
        let n_items = ctx.train.n_items();
        for _ in 0..n {
            match Self::draw(positives, n_items, rng) {
                Some(j) => out.push(j),
                None => return Err(SamplerError::UserHasNoNegatives { user, n_items }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autosample_data::Interactions;
    use rand::SeedableRng;

    fn ctx(train: &Interactions) -> SampleContext<'_> {
        SampleContext {
            train,
            scorer: None,
            epoch: 0,
        }
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
            let mut out = Vec::new();
            UniformSampler
                .sample(user, 0, 7000, &ctx(&train), &mut rng, &mut out)
                .unwrap();
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
        let draw = |seed| {
            let mut rng = SamplerRng::seed_from_u64(seed);
            let mut out = Vec::new();
            UniformSampler
                .sample(0, 0, 50, &ctx(&train), &mut rng, &mut out)
                .unwrap();
            out
        };
        assert_eq!(draw(5), draw(5));
        let mut rng = SamplerRng::seed_from_u64(0);
        let err = UniformSampler.sample(1, 0, 1, &ctx(&train), &mut rng, &mut Vec::new());
        assert!(matches!(
            err,
            Err(SamplerError::UserHasNoNegatives {
                user: 1,
                n_items: 3
            })
        ));
    }
}
