//! PNS: popularity-biased negative sampling.
//!
//! Rule: `P(j | u) ∝ w_j = (f_j + smoothing)^β` over the items `j ∉ I_u⁺`, where `f_j` is item
//! `j`'s interaction count (degree) in the training split. `β = 1` samples proportionally to
//! popularity; `β = 0.75` is the word2vec smoothing (Mikolov et al., 2013). An item with
//! `f_j + smoothing = 0` has weight 0 — never drawn — so with the default `smoothing = 0`
//! items without a training interaction are never negatives; `smoothing = 1` gives them the
//! weight `1^β = 1` (and shifts every other weight by one interaction). The weight of a zero
//! base is 0 for every `β`, including `β = 0` (which is then uniform over items with a
//! training interaction).
//!
//! Defaults: `β = 0.75`, `smoothing = 0`. Which `β` AutoSample used is unknown (reference
//! digest §2.2); `popularity:beta=1` gives plain popularity. The rule with rejection of user
//! positives follows the Rust sampler `src/sampling/popularity_neg.rs` of the `oxicuda-recsys`
//! crate (docs.rs/crate/oxicuda-recsys/latest), which uses `β = 1` and a CDF.
//!
//! # Drawing
//!
//! The weights, a Vose alias table ([`AliasTable`]) and the prefix sums of the weights are
//! built from the training degrees at [`NegativeSampler::start_epoch`] (and at the first batch
//! if `start_epoch` was not called, or if the split's shape changed). Per draw:
//! - if the user's non-positive weight is at least 1/8 of the total, draw from the alias table
//!   in O(1) and reject positives and zero-weight items (≤ 8 tries expected);
//! - otherwise, or after 64 rejected tries, draw exactly from the complement by inverse CDF:
//!   walk the gaps between the user's (sorted) positives, O(|I_u⁺| + log n).
//!
//! Both paths sample exactly the distribution above (a capped rejection loop followed by an
//! exact draw is still exact). A user with no non-positive item of positive weight gets
//! [`crate::SamplerError::UserHasNoWeightedNegatives`], whose message names the fix
//! (`smoothing=1`). Cost per batch: `O(B·K)` draws and `O(Σ_b |I_u⁺|)` only for users whose
//! positives hold more than 7/8 of the popularity mass. No scorer needed; the draws use the
//! caller's RNG directly (serially).

use autosample_data::{Interactions, ItemId, UserId};
use rand::RngExt;

use crate::engine::check_batch;
use crate::{
    NegativeSampler, Negatives, PairBatch, Result, SampleContext, SamplerError, SamplerRng,
};

/// Rejection tries before switching to the exact complement draw.
const MAX_TRIES: usize = 64;

/// Walker's alias method with Vose's construction: O(n) build, O(1) draws from a discrete
/// distribution given by non-negative weights.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasTable {
    /// Probability of keeping column `i` (else its alias).
    prob: Vec<f64>,
    /// The alias of column `i`.
    alias: Vec<u32>,
}

impl AliasTable {
    /// The table of the distribution `P(i) = weights[i] / Σ weights`. `None` if there is no
    /// item, the sum is not positive and finite, or a weight is negative or not finite.
    ///
    /// Items of weight 0 are never drawn: their column keeps probability 0 even where rounding
    /// would leave them as the last "small" column (Vose's algorithm sets leftovers to 1).
    pub fn new(weights: &[f64]) -> Option<Self> {
        let n = weights.len();
        if n == 0 || weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return None;
        }
        let total: f64 = weights.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return None;
        }
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut prob = vec![0.0; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| scaled[i as usize] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            large.pop();
            prob[s as usize] = scaled[s as usize];
            alias[s as usize] = l;
            scaled[l as usize] = (scaled[l as usize] + scaled[s as usize]) - 1.0;
            if scaled[l as usize] < 1.0 {
                small.push(l);
            } else {
                large.push(l);
            }
        }
        // The heaviest item: the alias of leftover zero-weight columns.
        let heaviest = (0..n).fold(0, |b, i| if weights[i] > weights[b] { i } else { b }) as u32;
        for i in large.into_iter().chain(small) {
            if weights[i as usize] > 0.0 {
                prob[i as usize] = 1.0;
            } else {
                prob[i as usize] = 0.0;
                alias[i as usize] = heaviest;
            }
        }
        Some(Self { prob, alias })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.prob.len()
    }

    /// Whether the table is empty (never, for a table [`AliasTable::new`] returned).
    pub fn is_empty(&self) -> bool {
        self.prob.is_empty()
    }

    /// One draw.
    #[inline]
    pub fn sample(&self, rng: &mut SamplerRng) -> u32 {
        let i = rng.random_range(0..self.prob.len());
        if rng.random::<f64>() < self.prob[i] {
            i as u32
        } else {
            self.alias[i]
        }
    }

    /// The probability of each item implied by the table (for tests and diagnostics):
    /// `(prob[i] + Σ_{c: alias[c] = i} (1 − prob[c])) / n`.
    pub fn probabilities(&self) -> Vec<f64> {
        let n = self.prob.len();
        let mut p: Vec<f64> = self.prob.clone();
        for c in 0..n {
            p[self.alias[c] as usize] += 1.0 - self.prob[c];
        }
        p.iter().map(|x| x / n as f64).collect()
    }
}

/// The weights and tables of one training split.
#[derive(Debug, Clone)]
struct PopTable {
    n_users: usize,
    n_items: usize,
    nnz: usize,
    weights: Vec<f64>,
    alias: AliasTable,
    /// `cum[j] = Σ_{i<j} w_i`, length `n_items + 1`.
    cum: Vec<f64>,
    /// Weight of each user's positives.
    pos_mass: Vec<f64>,
    /// Number of each user's non-positive items of positive weight.
    free_count: Vec<u32>,
}

impl PopTable {
    fn build(train: &Interactions, beta: f64, smoothing: f64) -> Self {
        let weights: Vec<f64> = train
            .item_degrees()
            .iter()
            .map(|&f| pns_weight(f, beta, smoothing))
            .collect();
        let mut cum = Vec::with_capacity(weights.len() + 1);
        cum.push(0.0);
        let mut acc = 0.0;
        for &w in &weights {
            acc += w;
            cum.push(acc);
        }
        let n_weighted = weights.iter().filter(|&&w| w > 0.0).count() as u32;
        let (mut pos_mass, mut free_count) = (Vec::new(), Vec::new());
        for u in 0..train.n_users() as UserId {
            let items = train.items(u);
            pos_mass.push(items.iter().map(|&i| weights[i as usize]).sum());
            let weighted = items.iter().filter(|&&i| weights[i as usize] > 0.0).count() as u32;
            free_count.push(n_weighted - weighted);
        }
        // An all-zero weight vector gives no table; every user then has `free_count == 0` and
        // errors before any draw, so a one-item placeholder is never sampled.
        let alias = AliasTable::new(&weights).unwrap_or(AliasTable {
            prob: vec![0.0],
            alias: vec![0],
        });
        Self {
            n_users: train.n_users(),
            n_items: train.n_items(),
            nnz: train.nnz(),
            weights,
            alias,
            cum,
            pos_mass,
            free_count,
        }
    }

    fn fits(&self, train: &Interactions) -> bool {
        self.n_users == train.n_users()
            && self.n_items == train.n_items()
            && self.nnz == train.nnz()
    }

    fn total(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }

    /// One draw for a user with positives `positives` (sorted) and at least one weighted
    /// non-positive.
    fn draw(&self, user: UserId, positives: &[ItemId], rng: &mut SamplerRng) -> ItemId {
        let free_mass = self.total() - self.pos_mass[user as usize];
        if free_mass * 8.0 >= self.total() {
            for _ in 0..MAX_TRIES {
                let j = self.alias.sample(rng);
                if self.weights[j as usize] > 0.0 && positives.binary_search(&j).is_err() {
                    return j;
                }
            }
        }
        self.draw_exact(positives, rng)
    }

    /// Inverse-CDF draw over the complement of `positives`: the gaps between consecutive
    /// positives are segments of consecutive items whose mass is a difference of prefix sums.
    fn draw_exact(&self, positives: &[ItemId], rng: &mut SamplerRng) -> ItemId {
        let n = self.n_items;
        let segments = || {
            let starts = std::iter::once(0).chain(positives.iter().map(|&p| p as usize + 1));
            let ends = positives
                .iter()
                .map(|&p| p as usize)
                .chain(std::iter::once(n));
            starts.zip(ends).filter(|(s, e)| s < e)
        };
        let mass: f64 = segments().map(|(s, e)| self.cum[e] - self.cum[s]).sum();
        let mut r = rng.random::<f64>() * mass;
        let mut last_weighted = None;
        for (s, e) in segments() {
            let seg = self.cum[e] - self.cum[s];
            if seg <= 0.0 {
                continue;
            }
            last_weighted = Some((s, e));
            if r < seg {
                // Smallest j in [s, e) with cum[j + 1] > cum[s] + r: never a zero-weight item.
                let target = self.cum[s] + r;
                let j = s + self.cum[s + 1..=e].partition_point(|&c| c <= target);
                if j < e {
                    return j as ItemId;
                }
                break;
            }
            r -= seg;
        }
        // Rounding pushed `r` past the last segment: the last weighted item of the last
        // weighted segment (there is one: the caller checked `free_count > 0`).
        let (s, e) = last_weighted.unwrap_or((0, n));
        (s..e).rev().find(|&j| self.weights[j] > 0.0).unwrap_or(s) as ItemId
    }
}

/// `(f + smoothing)^β`, and 0 for a zero base whatever `β`.
pub(crate) fn pns_weight(degree: u32, beta: f64, smoothing: f64) -> f64 {
    let base = degree as f64 + smoothing;
    if base <= 0.0 { 0.0 } else { base.powf(beta) }
}

/// PNS: negatives drawn with probability `∝ (degree + smoothing)^β` among non-positives.
#[derive(Debug, Clone)]
pub struct PopularitySampler {
    beta: f64,
    smoothing: f64,
    table: Option<PopTable>,
}

impl PopularitySampler {
    /// PNS with exponent `beta` and additive `smoothing` of the degrees.
    pub fn new(beta: f64, smoothing: f64) -> Self {
        Self {
            beta,
            smoothing,
            table: None,
        }
    }

    /// The sampling probabilities over all items for a user without positives, i.e. the
    /// normalised weights (for tests and diagnostics); built from `train`.
    pub fn item_probabilities(&self, train: &Interactions) -> Vec<f64> {
        let w: Vec<f64> = train
            .item_degrees()
            .iter()
            .map(|&f| pns_weight(f, self.beta, self.smoothing))
            .collect();
        let total: f64 = w.iter().sum();
        w.iter()
            .map(|x| if total > 0.0 { x / total } else { 0.0 })
            .collect()
    }
}

impl NegativeSampler for PopularitySampler {
    fn name(&self) -> &'static str {
        "popularity"
    }

    fn start_epoch(&mut self, ctx: &SampleContext<'_>) -> Result<()> {
        self.table = Some(PopTable::build(ctx.train, self.beta, self.smoothing));
        Ok(())
    }

    fn sample_batch(
        &mut self,
        batch: &PairBatch<'_>,
        k: usize,
        ctx: &SampleContext<'_>,
        rng: &mut SamplerRng,
        out: &mut Negatives,
    ) -> Result<()> {
        check_batch(batch, ctx.train, self.name())?;
        if !self.table.as_ref().is_some_and(|t| t.fits(ctx.train)) {
            self.table = None;
        }
        let (beta, smoothing) = (self.beta, self.smoothing);
        let table = self
            .table
            .get_or_insert_with(|| PopTable::build(ctx.train, beta, smoothing));
        for &user in batch.users {
            if table.free_count[user as usize] == 0 {
                return Err(SamplerError::UserHasNoWeightedNegatives {
                    sampler: "popularity",
                    user,
                });
            }
        }
        let items = out.reset_items(k);
        items.reserve(batch.len() * k);
        for &user in batch.users {
            let positives = ctx.train.items(user);
            for _ in 0..k {
                items.push(table.draw(user, positives, rng));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn vose_table_on_three_items_by_hand() {
        // Weights 1, 2, 3 (n = 3, total 6): scaled 0.5, 1.0, 1.5. small = [0],
        // large = [1, 2]. Pop s = 0, l = 2: prob[0] = 0.5, alias[0] = 2, scaled[2] = 1.0 →
        // large = [1, 2]. Small is empty: prob[1] = prob[2] = 1.
        let t = AliasTable::new(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(t.prob, vec![0.5, 1.0, 1.0]);
        assert_eq!(t.alias, vec![2, 1, 2]);
        // P(0) = 0.5/3 = 1/6, P(1) = 1/3, P(2) = (1 + 0.5)/3 = 1/2.
        let p = t.probabilities();
        for (got, want) in p.iter().zip([1.0 / 6.0, 1.0 / 3.0, 0.5]) {
            assert!((got - want).abs() < 1e-12, "{p:?}");
        }
        // A zero weight is never drawn.
        let t = AliasTable::new(&[0.0, 1.0, 0.0, 3.0]).unwrap();
        let p = t.probabilities();
        assert_eq!((p[0], p[2]), (0.0, 0.0));
        assert!((p[1] - 0.25).abs() < 1e-12 && (p[3] - 0.75).abs() < 1e-12);
        let mut rng = SamplerRng::seed_from_u64(4);
        assert!((0..1000).all(|_| matches!(t.sample(&mut rng), 1 | 3)));
        assert!(AliasTable::new(&[]).is_none());
        assert!(AliasTable::new(&[0.0, 0.0]).is_none());
        assert!(AliasTable::new(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn weights_follow_degree_and_smoothing() {
        assert_eq!(pns_weight(0, 0.75, 0.0), 0.0);
        assert_eq!(pns_weight(0, 0.0, 0.0), 0.0);
        assert_eq!(pns_weight(0, 0.75, 1.0), 1.0);
        assert!((pns_weight(16, 0.75, 0.0) - 8.0).abs() < 1e-12);
        assert_eq!(pns_weight(3, 1.0, 0.0), 3.0);
    }

    #[test]
    fn exact_path_matches_weights_over_the_complement() {
        // Items 0..6, degrees from users 1..: item j has degree j. User 0 likes items 4, 5
        // (mass 4^1 + 5^1 = 9 of 15 → rejection path would still apply; force exact).
        let mut pairs = vec![(0u32, 4u32), (0, 5)];
        for j in 1..6u32 {
            for u in 1..=j {
                pairs.push((u, j));
            }
        }
        let train = Interactions::from_pairs(7, 6, &pairs);
        let table = PopTable::build(&train, 1.0, 0.0);
        let mut rng = SamplerRng::seed_from_u64(11);
        let mut counts = [0usize; 6];
        let n = 60_000;
        for _ in 0..n {
            counts[table.draw_exact(train.items(0), &mut rng) as usize] += 1;
        }
        // Degrees: item 0 → 0, items 1..3 → 1, 2, 3 (item 4 and 5 have +1 from user 0 but
        // are positives). Complement weights: 0, 1, 2, 3 → P = 0, 1/6, 2/6, 3/6.
        assert_eq!(counts[0] + counts[4] + counts[5], 0, "{counts:?}");
        for (j, p) in [(1, 1.0 / 6.0), (2, 2.0 / 6.0), (3, 3.0 / 6.0)] {
            let expected = p * n as f64;
            // 5 standard deviations of a binomial count.
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!((counts[j] as f64 - expected).abs() < 5.0 * sd, "{counts:?}");
        }
    }
}
