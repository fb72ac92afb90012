//! The [`NegativeSampler`] and [`Scorer`] traits and the context a sampler reads.

use autosample_data::{Interactions, ItemId, UserId};

use crate::Result;

/// The portable, seeded RNG every sampler draws from (ChaCha8: same stream on every platform
/// and rand version, unlike `StdRng`).
pub type SamplerRng = rand_chacha::ChaCha8Rng;

/// The current model's view that hard-negative samplers need: a score for `(user, item)`.
/// Models implement it; samplers only read it.
pub trait Scorer: Sync {
    /// Score of `item` for `user` under the current parameters (higher = more relevant).
    fn score(&self, user: UserId, item: ItemId) -> f32;

    /// Scores of several items for one user; `out.len() == items.len()`.
    fn score_items(&self, user: UserId, items: &[ItemId], out: &mut [f32]) {
        for (o, &i) in out.iter_mut().zip(items) {
            *o = self.score(user, i);
        }
    }
}

/// What a sampler may read while drawing.
#[derive(Clone, Copy)]
pub struct SampleContext<'a> {
    /// The training split: its positives are never returned as negatives.
    pub train: &'a Interactions,
    /// The current model, for samplers that score candidates; `None` for static samplers.
    pub scorer: Option<&'a dyn Scorer>,
    /// The current epoch (0-based), for samplers with schedules.
    pub epoch: usize,
}

/// A negative sampler: draws items a user has not interacted with in the training split.
///
/// `&self` so that one sampler can serve parallel workers; each worker brings its own RNG.
/// Object-safe, so a search can hold `Vec<Box<dyn NegativeSampler>>`.
pub trait NegativeSampler: Send + Sync {
    /// Stable name; equals the `type` tag of its config.
    fn name(&self) -> &'static str;

    /// Appends `n` negatives for the training pair `(user, positive)` to `out`.
    ///
    /// Never yields a training positive of `user`. Returns
    /// [`crate::SamplerError::UserHasNoNegatives`] when the user has no negative item at all.
    fn sample(
        &self,
        user: UserId,
        positive: ItemId,
        n: usize,
        ctx: &SampleContext<'_>,
        rng: &mut SamplerRng,
        out: &mut Vec<ItemId>,
    ) -> Result<()>;

    /// Whether [`SampleContext::scorer`] must be set.
    fn needs_scorer(&self) -> bool {
        false
    }
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
}
