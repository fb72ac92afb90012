//! Shared fixtures of the integration tests: a [`Scorer`] over small random embedding tables,
//! random training splits, and a chi-square helper.
#![allow(dead_code)]

use autosample_data::{Interactions, ItemId, UserId};
use autosample_samplers::{
    CandidatePool, NegativeSampler, Negatives, PairBatch, SampleContext, SamplerRng, Scorer,
};
use rand::{RngExt, SeedableRng};

/// Embedding tables per layer, pooled by the layer mean (like LightGCN; MF with one layer).
#[derive(Debug, Clone)]
pub struct TestScorer {
    pub dim: usize,
    pub layers: usize,
    n_users: usize,
    n_items: usize,
    /// `[layer][user][dim]`, flattened.
    users: Vec<f32>,
    /// `[layer][item][dim]`, flattened.
    items: Vec<f32>,
    user_mean: Vec<f32>,
    item_mean: Vec<f32>,
}

impl TestScorer {
    /// Tables with entries uniform in `[-1, 1)`.
    pub fn random(n_users: usize, n_items: usize, dim: usize, layers: usize, seed: u64) -> Self {
        let mut rng = SamplerRng::seed_from_u64(seed);
        let mut table = |n: usize| -> Vec<f32> {
            (0..n * dim * layers)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect()
        };
        let users = table(n_users);
        let items = table(n_items);
        Self::from_tables(n_users, n_items, dim, layers, users, items)
    }

    /// Tables given as `[layer][row][dim]`, flattened.
    pub fn from_tables(
        n_users: usize,
        n_items: usize,
        dim: usize,
        layers: usize,
        users: Vec<f32>,
        items: Vec<f32>,
    ) -> Self {
        assert_eq!(users.len(), layers * n_users * dim);
        assert_eq!(items.len(), layers * n_items * dim);
        let mean = |t: &[f32], n: usize| -> Vec<f32> {
            let mut m = vec![0.0; n * dim];
            for l in 0..layers {
                for (acc, x) in m.iter_mut().zip(&t[l * n * dim..(l + 1) * n * dim]) {
                    *acc += x / layers as f32;
                }
            }
            m
        };
        let user_mean = mean(&users, n_users);
        let item_mean = mean(&items, n_items);
        Self {
            dim,
            layers,
            n_users,
            n_items,
            users,
            items,
            user_mean,
            item_mean,
        }
    }

    /// A one-dimensional, one-layer scorer with `s(u, j) = user_values[u] · item_values[j]`.
    pub fn scalar(user_values: &[f32], item_values: &[f32]) -> Self {
        Self::from_tables(
            user_values.len(),
            item_values.len(),
            1,
            1,
            user_values.to_vec(),
            item_values.to_vec(),
        )
    }
}

impl Scorer for TestScorer {
    fn dim(&self) -> usize {
        self.dim
    }

    fn n_layers(&self) -> usize {
        self.layers
    }

    fn user_layer(&self, layer: usize, user: UserId) -> &[f32] {
        let start = (layer * self.n_users + user as usize) * self.dim;
        &self.users[start..start + self.dim]
    }

    fn item_layer(&self, layer: usize, item: ItemId) -> &[f32] {
        let start = (layer * self.n_items + item as usize) * self.dim;
        &self.items[start..start + self.dim]
    }

    fn user_vec(&self, user: UserId) -> &[f32] {
        let start = user as usize * self.dim;
        &self.user_mean[start..start + self.dim]
    }

    fn item_vec(&self, item: ItemId) -> &[f32] {
        let start = item as usize * self.dim;
        &self.item_mean[start..start + self.dim]
    }

    fn score(&self, user: UserId, item: ItemId) -> f32 {
        autosample_samplers::dot(self.user_vec(user), self.item_vec(item))
    }

    fn score_items(&self, user: UserId, items: &[ItemId], out: &mut [f32]) {
        assert_eq!(items.len(), out.len());
        let u = self.user_vec(user);
        for (o, &i) in out.iter_mut().zip(items) {
            *o = autosample_samplers::dot(u, self.item_vec(i));
        }
    }
}

/// A random split: `n_users × n_items`, user `u` with `1 + (u·7 mod max_degree)` positives drawn
/// with a popularity skew (item `j` weighted by `1/(j+1)`), and the last `cold` items never
/// interacted with.
pub fn random_split(
    n_users: usize,
    n_items: usize,
    max_degree: usize,
    cold: usize,
    seed: u64,
) -> Interactions {
    let mut rng = SamplerRng::seed_from_u64(seed);
    let warm = n_items - cold;
    let weights: Vec<f64> = (0..warm).map(|j| 1.0 / (j as f64 + 1.0)).collect();
    let total: f64 = weights.iter().sum();
    let mut pairs = Vec::new();
    for u in 0..n_users {
        let degree = 1 + (u * 7) % max_degree;
        let mut mine = std::collections::BTreeSet::new();
        while mine.len() < degree.min(warm) {
            let mut r = rng.random::<f64>() * total;
            let mut pick = warm - 1;
            for (j, w) in weights.iter().enumerate() {
                if r < *w {
                    pick = j;
                    break;
                }
                r -= w;
            }
            mine.insert(pick as ItemId);
        }
        pairs.extend(mine.into_iter().map(|j| (u as UserId, j)));
    }
    Interactions::from_pairs(n_users, n_items, &pairs)
}

/// All training pairs, user-major, as `(users, positives)`.
pub fn all_pairs(train: &Interactions) -> (Vec<UserId>, Vec<ItemId>) {
    train.pairs().unzip()
}

/// Chi-square goodness of fit: the statistic of `observed` counts against `expected`
/// probabilities (cells with probability 0 must have count 0 and are skipped), and the
/// critical value at significance `1e-4` (Wilson–Hilferty approximation, z = 3.719).
pub fn chi_square(observed: &[usize], expected: &[f64]) -> (f64, f64) {
    let n: usize = observed.iter().sum();
    let mut stat = 0.0;
    let mut cells = 0usize;
    for (&o, &p) in observed.iter().zip(expected) {
        if p == 0.0 {
            assert_eq!(o, 0, "a cell of probability 0 was drawn");
            continue;
        }
        let e = p * n as f64;
        stat += (o as f64 - e).powi(2) / e;
        cells += 1;
    }
    let df = (cells - 1) as f64;
    let z = 3.719;
    let h = 2.0 / (9.0 * df);
    (stat, df * (1.0 - h + z * h.sqrt()).powi(3))
}

/// Runs `sampler` over `(users, positives)` in batches of `batch_size`, with optional
/// per-batch candidate pools of `pool_per_pair` (drawn from a fixed seed independent of
/// `seed`), for `epochs` epochs of `total_epochs`; returns every batch's negatives.
#[allow(clippy::too_many_arguments)]
pub fn run_sampler(
    sampler: &mut dyn NegativeSampler,
    train: &Interactions,
    scorer: Option<&dyn Scorer>,
    users: &[UserId],
    positives: &[ItemId],
    batch_size: usize,
    k: usize,
    pool_per_pair: Option<usize>,
    epochs: usize,
    seed: u64,
) -> autosample_samplers::Result<Vec<Negatives>> {
    let mut rng = SamplerRng::seed_from_u64(seed);
    let mut pool_rng = SamplerRng::seed_from_u64(0xC0FFEE);
    let mut out = Vec::new();
    for epoch in 0..epochs {
        let ctx = SampleContext {
            train,
            scorer,
            epoch,
            total_epochs: epochs + 1,
            pool: None,
        };
        sampler.start_epoch(&ctx)?;
        for (us, ps) in users.chunks(batch_size).zip(positives.chunks(batch_size)) {
            let batch = PairBatch {
                users: us,
                positives: ps,
            };
            let pool = match pool_per_pair {
                Some(n) => Some(CandidatePool::draw(&batch, n, train, &mut pool_rng)?),
                None => None,
            };
            let ctx = SampleContext {
                pool: pool.as_ref(),
                ..ctx
            };
            let mut negatives = Negatives::default();
            sampler.sample_batch(&batch, k, &ctx, &mut rng, &mut negatives)?;
            out.push(negatives);
        }
    }
    Ok(out)
}
