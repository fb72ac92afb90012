//! The synthetic generator: the embedded default dataset (`--data synthetic`) and small test
//! datasets, with the two properties that make negative samplers differ — power-law item
//! popularity and latent user/item clusters.
//!
//! # Model
//!
//! 1. Every item gets a popularity rank `r` (a random permutation of `1..=n_items`) and weight
//!    `r^-popularity_exponent` (Zipf), and a cluster drawn uniformly from `0..n_clusters`.
//! 2. Every user gets a cluster drawn uniformly, and a number of items
//!    `min_items_per_user + round(extra)`, with `extra` log-normal (σ = 1) of mean
//!    `mean_items_per_user − min_items_per_user`, clamped to
//!    `[min_items_per_user, max(min_items_per_user, n_items / 2)]`.
//! 3. The user's items are drawn without replacement with probability ∝ item weight ×
//!    (`cluster_affinity` if the item is in the user's cluster, else 1).
//! 4. Each user's items are split at random into train/valid/test with
//!    [`crate::split::random_split`] (every user keeps ≥ 1 train item; a user with ≥ 3 items gets
//!    ≥ 1 test item).
//!
//! Every random choice comes from one ChaCha8 RNG seeded with [`SyntheticConfig::seed`], in a
//! fixed order, so a seed always gives the same dataset. Ids are identity maps (`"0"`, `"1"`, …).

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::split::random_split;
use crate::{Dataset, IdMap, ItemId, SplitProvenance, UserId};

/// Parameters of the synthetic generator. Every field has a default ([`SyntheticConfig::default`]
/// is the embedded default dataset); in a config file, unknown keys are an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Number of users. Default 2000.
    pub n_users: usize,
    /// Number of items. Default 1500.
    pub n_items: usize,
    /// Number of latent clusters shared by users and items. Default 8.
    pub n_clusters: usize,
    /// Mean number of items per user (before clamping to `n_items / 2`). Default 40.
    pub mean_items_per_user: f64,
    /// Fewest items a user has; must be below `n_items`. Default 8.
    pub min_items_per_user: usize,
    /// Zipf exponent of item popularity by rank (0 = uniform, larger = more skewed). Default 1.0.
    pub popularity_exponent: f64,
    /// How many times more likely a user picks an item of its own cluster (≥ 1; 1 = no
    /// clusters). Default 8.0.
    pub cluster_affinity: f64,
    /// Fraction of each user's items in valid. Default 0.1.
    pub valid_fraction: f64,
    /// Fraction of each user's items in test. Default 0.2.
    pub test_fraction: f64,
    /// Seed of the generator. Default 7.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            n_users: 2000,
            n_items: 1500,
            n_clusters: 8,
            mean_items_per_user: 40.0,
            min_items_per_user: 8,
            popularity_exponent: 1.0,
            cluster_affinity: 8.0,
            valid_fraction: 0.1,
            test_fraction: 0.2,
            seed: 7,
        }
    }
}

impl SyntheticConfig {
    /// A tiny dataset (60 users × 80 items, 4 clusters, ~12 items per user) that generates in
    /// microseconds, for tests.
    pub fn tiny() -> Self {
        Self {
            n_users: 60,
            n_items: 80,
            n_clusters: 4,
            mean_items_per_user: 12.0,
            min_items_per_user: 5,
            ..Self::default()
        }
    }

    /// Checks that the configuration makes sense.
    ///
    /// # Errors
    /// [`DataError::Config`] naming the offending field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DataError::config(format!("synthetic data: {m}")));
        const MAX_IDS: usize = 50_000_000;
        if self.n_users == 0 || self.n_users > MAX_IDS {
            return bad(format!(
                "n_users must be between 1 and {MAX_IDS}, got {}",
                self.n_users
            ));
        }
        if self.n_items < 2 || self.n_items > MAX_IDS {
            return bad(format!(
                "n_items must be between 2 and {MAX_IDS}, got {}",
                self.n_items
            ));
        }
        if self.n_clusters == 0 || self.n_clusters > self.n_items {
            return bad(format!(
                "n_clusters must be between 1 and n_items ({}), got {}",
                self.n_items, self.n_clusters
            ));
        }
        if self.min_items_per_user == 0 || self.min_items_per_user >= self.n_items {
            return bad(format!(
                "min_items_per_user must be at least 1 and below n_items ({}), got {}",
                self.n_items, self.min_items_per_user
            ));
        }
        if !self.mean_items_per_user.is_finite()
            || self.mean_items_per_user < self.min_items_per_user as f64
        {
            return bad(format!(
                "mean_items_per_user must be a number at least min_items_per_user ({}), got {}",
                self.min_items_per_user, self.mean_items_per_user
            ));
        }
        if !(self.popularity_exponent.is_finite() && self.popularity_exponent >= 0.0) {
            return bad(format!(
                "popularity_exponent must be a number ≥ 0, got {}",
                self.popularity_exponent
            ));
        }
        if !(self.cluster_affinity.is_finite() && self.cluster_affinity >= 1.0) {
            return bad(format!(
                "cluster_affinity must be a number ≥ 1 (1 = no clusters), got {}",
                self.cluster_affinity
            ));
        }
        for (name, v) in [
            ("valid_fraction", self.valid_fraction),
            ("test_fraction", self.test_fraction),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return bad(format!("{name} must be strictly between 0 and 1, got {v}"));
            }
        }
        if self.valid_fraction + self.test_fraction >= 1.0 {
            return bad(format!(
                "valid_fraction + test_fraction must be below 1, got {} + {}",
                self.valid_fraction, self.test_fraction
            ));
        }
        Ok(())
    }
}

/// The hidden structure behind a synthetic dataset, for tests and diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyntheticTruth {
    /// Cluster of every user.
    pub user_cluster: Vec<u32>,
    /// Cluster of every item.
    pub item_cluster: Vec<u32>,
    /// Popularity weight of every item (`rank^-exponent`).
    pub item_weight: Vec<f64>,
}

/// Generates the dataset described by `cfg` (see the module docs for the model).
///
/// # Errors
/// [`DataError::Config`] if the configuration makes no sense (see [`SyntheticConfig::validate`]).
pub fn generate(cfg: &SyntheticConfig) -> Result<Dataset> {
    generate_with_truth(cfg).map(|(d, _)| d)
}

/// Like [`generate`], and also returns the clusters and popularity weights behind the data.
///
/// # Errors
/// As [`generate`].
pub fn generate_with_truth(cfg: &SyntheticConfig) -> Result<(Dataset, SyntheticTruth)> {
    cfg.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let (nu, ni, nc) = (cfg.n_users, cfg.n_items, cfg.n_clusters);

    // 1. Items: popularity rank and cluster.
    let mut ranks: Vec<u32> = (1..=ni as u32).collect();
    ranks.shuffle(&mut rng);
    let item_weight: Vec<f64> = ranks
        .iter()
        .map(|&r| (r as f64).powf(-cfg.popularity_exponent))
        .collect();
    let item_cluster: Vec<u32> = (0..ni).map(|_| rng.random_range(0..nc as u32)).collect();
    // 2. Users: cluster.
    let user_cluster: Vec<u32> = (0..nu).map(|_| rng.random_range(0..nc as u32)).collect();

    let sampler = Sampler::new(&item_weight, &item_cluster, nc);
    let max_items = cfg.min_items_per_user.max(ni / 2);
    let extra_mean = cfg.mean_items_per_user - cfg.min_items_per_user as f64;
    const SIGMA: f64 = 1.0;
    let mut pairs: Vec<(UserId, ItemId)> = Vec::new();
    let mut seen = vec![u32::MAX; ni];
    let mut chosen = Vec::new();
    for (u, &cluster) in user_cluster.iter().enumerate() {
        // Box–Muller normal → log-normal of mean `extra_mean`.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let extra = extra_mean * (SIGMA * z - SIGMA * SIGMA / 2.0).exp();
        let k = (cfg.min_items_per_user as f64 + extra.round())
            .clamp(cfg.min_items_per_user as f64, max_items as f64) as usize;
        sampler.draw(
            &mut rng,
            cluster,
            k,
            cfg.cluster_affinity,
            u as u32,
            &mut seen,
            &mut chosen,
        );
        pairs.extend(chosen.iter().map(|&i| (u as UserId, i)));
    }

    let split_seed = rng.random::<u64>();
    let splits = random_split(
        nu,
        ni,
        &pairs,
        cfg.valid_fraction,
        cfg.test_fraction,
        split_seed,
    );
    let data = Dataset {
        name: "synthetic".to_owned(),
        source: "synthetic".to_owned(),
        users: IdMap::identity(nu),
        items: IdMap::identity(ni),
        train: splits.train,
        valid: splits.valid,
        test: splits.test,
        provenance: SplitProvenance::Synthetic { seed: cfg.seed },
    };
    Ok((
        data,
        SyntheticTruth {
            user_cluster,
            item_cluster,
            item_weight,
        },
    ))
}

/// Weighted sampling without replacement with cluster affinity.
///
/// The weight of item `j` for a user of cluster `c` is `w_j · (a if cluster(j) = c else 1)`
/// = `w_j + (a − 1) · w_j · [cluster(j) = c]`: a mixture of "all items by popularity" and "the
/// user's cluster by popularity". Drawing from the mixture and rejecting repeats is exact
/// successive sampling; if rejections pile up (a user taking most of the mass), the rest is drawn
/// with Efraimidis–Spirakis keys over the remaining items, which continues the same process.
struct Sampler<'a> {
    weight: &'a [f64],
    cluster: &'a [u32],
    cum_all: Vec<f64>,
    members: Vec<Vec<u32>>,
    cum_members: Vec<Vec<f64>>,
}

impl<'a> Sampler<'a> {
    fn new(weight: &'a [f64], cluster: &'a [u32], n_clusters: usize) -> Self {
        let cum = |ids: &mut dyn Iterator<Item = usize>| {
            let mut acc = 0.0;
            ids.map(|j| {
                acc += weight[j];
                acc
            })
            .collect::<Vec<f64>>()
        };
        let cum_all = cum(&mut (0..weight.len()));
        let mut members = vec![Vec::new(); n_clusters];
        for (j, &c) in cluster.iter().enumerate() {
            members[c as usize].push(j as u32);
        }
        let cum_members = members
            .iter()
            .map(|m| cum(&mut m.iter().map(|&j| j as usize)))
            .collect();
        Self {
            weight,
            cluster,
            cum_all,
            members,
            cum_members,
        }
    }

    fn pick(cum: &[f64], rng: &mut ChaCha8Rng) -> usize {
        let total = cum.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        cum.partition_point(|&c| c <= x)
            .min(cum.len().saturating_sub(1))
    }

    #[allow(clippy::too_many_arguments)]
    fn draw(
        &self,
        rng: &mut ChaCha8Rng,
        c: u32,
        k: usize,
        affinity: f64,
        stamp: u32,
        seen: &mut [u32],
        out: &mut Vec<ItemId>,
    ) {
        out.clear();
        let c = c as usize;
        let mass_all = self.cum_all.last().copied().unwrap_or(0.0);
        let mass_c = self.cum_members[c].last().copied().unwrap_or(0.0);
        let p_all = mass_all / (mass_all + (affinity - 1.0) * mass_c);
        let budget = 8 * k + 64;
        let mut attempts = 0;
        while out.len() < k && attempts < budget {
            attempts += 1;
            let j = if self.members[c].is_empty() || rng.random::<f64>() < p_all {
                Self::pick(&self.cum_all, rng)
            } else {
                self.members[c][Self::pick(&self.cum_members[c], rng)] as usize
            };
            if seen[j] != stamp {
                seen[j] = stamp;
                out.push(j as ItemId);
            }
        }
        if out.len() < k {
            // Efraimidis–Spirakis over the remaining items: key = ln(U) / w, largest keys win.
            let mut keys: Vec<(f64, u32)> = (0..self.weight.len())
                .filter(|&j| seen[j] != stamp)
                .map(|j| {
                    let w = self.weight[j]
                        * if self.cluster[j] as usize == c {
                            affinity
                        } else {
                            1.0
                        };
                    let u: f64 = 1.0 - rng.random::<f64>();
                    (u.ln() / w.max(f64::MIN_POSITIVE), j as u32)
                })
                .collect();
            let need = k - out.len();
            if need < keys.len() {
                keys.select_nth_unstable_by(need, |a, b| b.0.total_cmp(&a.0));
                keys.truncate(need);
            }
            for &(_, j) in &keys {
                seen[j as usize] = stamp;
                out.push(j);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::dataset_stats;

    #[test]
    fn same_seed_same_dataset_other_seed_other_dataset() {
        let a = generate(&SyntheticConfig::tiny()).unwrap();
        let b = generate(&SyntheticConfig::tiny()).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!((&a.train, &a.valid, &a.test), (&b.train, &b.valid, &b.test));
        let c = generate(&SyntheticConfig {
            seed: 8,
            ..SyntheticConfig::tiny()
        })
        .unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn tiny_has_the_promised_shape() {
        let cfg = SyntheticConfig::tiny();
        let d = generate(&cfg).unwrap();
        assert_eq!((d.n_users(), d.n_items()), (60, 80));
        assert_eq!(d.users.len(), 60);
        assert_eq!(d.items.original(79), Some("79"));
        assert_eq!(d.provenance, SplitProvenance::Synthetic { seed: 7 });
        assert_eq!(d.train.overlap(&d.valid) + d.train.overlap(&d.test), 0);
        assert_eq!(d.valid.overlap(&d.test), 0);
        for u in 0..60 {
            let n = d.train.degree(u) + d.valid.degree(u) + d.test.degree(u);
            assert!((5..=40).contains(&n), "user {u} has {n} items");
            assert!(d.train.degree(u) >= 1 && d.test.degree(u) >= 1);
        }
    }

    #[test]
    fn default_is_skewed_and_clustered() {
        let cfg = SyntheticConfig::default();
        let (d, truth) = generate_with_truth(&cfg).unwrap();
        let s = dataset_stats(&d);
        assert!(
            s.gini_item_popularity > 0.3,
            "gini {}",
            s.gini_item_popularity
        );
        let mean = s.interactions as f64 / s.users as f64;
        assert!((30.0..50.0).contains(&mean), "mean items per user {mean}");
        // Share of interactions inside the user's own cluster vs. what chance would give.
        let all = d.train.union(&d.valid).union(&d.test);
        let own = all
            .pairs()
            .filter(|&(u, i)| truth.user_cluster[u as usize] == truth.item_cluster[i as usize])
            .count() as f64
            / all.nnz() as f64;
        let chance = 1.0 / cfg.n_clusters as f64;
        assert!(
            own > 3.0 * chance,
            "own-cluster share {own} vs chance {chance}"
        );
    }

    #[test]
    fn heavy_skew_falls_back_without_hanging() {
        let cfg = SyntheticConfig {
            n_users: 20,
            n_items: 30,
            n_clusters: 2,
            mean_items_per_user: 15.0,
            min_items_per_user: 15,
            popularity_exponent: 6.0,
            ..SyntheticConfig::default()
        };
        let d = generate(&cfg).unwrap();
        for u in 0..20 {
            assert_eq!(d.train.degree(u) + d.valid.degree(u) + d.test.degree(u), 15);
        }
    }

    #[test]
    fn nonsense_configs_are_errors() {
        let cases = [
            SyntheticConfig {
                min_items_per_user: 80,
                ..SyntheticConfig::tiny()
            },
            SyntheticConfig {
                n_users: 0,
                ..SyntheticConfig::tiny()
            },
            SyntheticConfig {
                n_clusters: 0,
                ..SyntheticConfig::tiny()
            },
            SyntheticConfig {
                mean_items_per_user: 2.0,
                ..SyntheticConfig::tiny()
            },
            SyntheticConfig {
                cluster_affinity: 0.5,
                ..SyntheticConfig::tiny()
            },
            SyntheticConfig {
                popularity_exponent: f64::NAN,
                ..SyntheticConfig::tiny()
            },
            SyntheticConfig {
                test_fraction: 0.0,
                ..SyntheticConfig::tiny()
            },
            SyntheticConfig {
                valid_fraction: 0.5,
                test_fraction: 0.5,
                ..SyntheticConfig::tiny()
            },
        ];
        for cfg in cases {
            let err = generate(&cfg).unwrap_err();
            assert!(matches!(err, DataError::Config { .. }), "{err}");
            assert!(
                err.to_string()
                    .starts_with("invalid option: synthetic data: "),
                "{err}"
            );
        }
        let msg = generate(&SyntheticConfig {
            min_items_per_user: 80,
            ..SyntheticConfig::tiny()
        })
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("min_items_per_user") && msg.contains("80"),
            "{msg}"
        );
    }

    #[test]
    fn config_round_trips_through_json() {
        let cfg = SyntheticConfig::default();
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<SyntheticConfig>(&json).unwrap(), cfg);
        let partial: SyntheticConfig = serde_json::from_str(r#"{"n_users": 10}"#).unwrap();
        assert_eq!(partial.n_items, 1500);
        assert!(serde_json::from_str::<SyntheticConfig>(r#"{"users": 10}"#).is_err());
    }
}
