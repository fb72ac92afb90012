//! Dataset statistics: sizes, density, popularity skew (Gini), per-split counts, cold start.
//!
//! [`dataset_stats`] computes a [`DatasetStats`], which serialises to JSON for run records and
//! prints as an aligned table for `autosample data stats`.
//!
//! Definitions:
//! - **density** = interactions in all splits / (users × items);
//! - **Gini** of item popularity: the train interaction counts of *all* items (items with no
//!   train interaction count as 0), sorted ascending `x_1 ≤ … ≤ x_n`:
//!   `G = Σ_i (2i − n − 1) x_i / (n Σ_i x_i)`, i = 1..n; 0 when every item is equally popular,
//!   approaching 1 when a few items take all interactions; 0 for an empty split;
//! - **cold-start**: valid/test users with no train interaction, test items never in train;
//! - **items per user**: interactions in all splits per user, over all users (users with none
//!   count as 0).

use std::fmt;

use serde::Serialize;

use crate::{Dataset, Interactions};

/// Counts of one split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SplitStats {
    /// Interactions in the split.
    pub interactions: usize,
    /// Users with at least one interaction in the split.
    pub users: usize,
    /// Items with at least one interaction in the split.
    pub items: usize,
}

impl SplitStats {
    /// Counts of `split`.
    pub fn of(split: &Interactions) -> Self {
        Self {
            interactions: split.nnz(),
            users: (0..split.n_users())
                .filter(|&u| split.degree(u as u32) > 0)
                .count(),
            items: split.item_degrees().iter().filter(|&&d| d > 0).count(),
        }
    }
}

/// Summary statistics of a [`Dataset`] (see the module docs for the definitions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetStats {
    /// The dataset's name.
    pub name: String,
    /// Users in the id space.
    pub users: usize,
    /// Items in the id space.
    pub items: usize,
    /// Interactions in all splits.
    pub interactions: usize,
    /// interactions / (users × items).
    pub density: f64,
    /// Gini coefficient of the train popularity of all items.
    pub gini_item_popularity: f64,
    /// Train split counts.
    pub train: SplitStats,
    /// Valid split counts.
    pub valid: SplitStats,
    /// Test split counts.
    pub test: SplitStats,
    /// Users with valid interactions but no train interaction.
    pub cold_valid_users: usize,
    /// Users with test interactions but no train interaction.
    pub cold_test_users: usize,
    /// Items in test but never in train.
    pub cold_test_items: usize,
    /// Mean interactions (all splits) per user.
    pub mean_items_per_user: f64,
    /// Median interactions (all splits) per user.
    pub median_items_per_user: f64,
    /// The split fingerprint ([`Dataset::fingerprint`]).
    pub fingerprint: String,
}

/// Gini coefficient of non-negative counts (see the module docs); 0 for an empty or all-zero
/// slice.
pub fn gini(counts: &[u32]) -> f64 {
    let n = counts.len();
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    if n == 0 || total == 0.0 {
        return 0.0;
    }
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let nf = n as f64;
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(k, &x)| (2.0 * (k as f64 + 1.0) - nf - 1.0) * x as f64)
        .sum();
    weighted / (nf * total)
}

fn median(values: &mut [usize]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    let m = values.len() / 2;
    if !values.len().is_multiple_of(2) {
        values[m] as f64
    } else {
        (values[m - 1] + values[m]) as f64 / 2.0
    }
}

/// Computes the statistics of `data`.
pub fn dataset_stats(data: &Dataset) -> DatasetStats {
    let (nu, ni) = (data.n_users(), data.n_items());
    let interactions = data.train.nnz() + data.valid.nnz() + data.test.nnz();
    let cold_users = |split: &Interactions| {
        (0..nu as u32)
            .filter(|&u| split.degree(u) > 0 && data.train.degree(u) == 0)
            .count()
    };
    let train_deg = data.train.item_degrees();
    let test_deg = data.test.item_degrees();
    let cold_test_items = train_deg
        .iter()
        .zip(&test_deg)
        .filter(|&(&tr, &te)| te > 0 && tr == 0)
        .count();
    let mut per_user: Vec<usize> = (0..nu as u32)
        .map(|u| data.train.degree(u) + data.valid.degree(u) + data.test.degree(u))
        .collect();
    DatasetStats {
        name: data.name.clone(),
        users: nu,
        items: ni,
        interactions,
        density: if nu * ni == 0 {
            0.0
        } else {
            interactions as f64 / (nu as f64 * ni as f64)
        },
        gini_item_popularity: gini(&train_deg),
        train: SplitStats::of(&data.train),
        valid: SplitStats::of(&data.valid),
        test: SplitStats::of(&data.test),
        cold_valid_users: cold_users(&data.valid),
        cold_test_users: cold_users(&data.test),
        cold_test_items,
        mean_items_per_user: if nu == 0 {
            0.0
        } else {
            interactions as f64 / nu as f64
        },
        median_items_per_user: median(&mut per_user),
        fingerprint: data.fingerprint(),
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (k, c) in s.chars().enumerate() {
        if k > 0 && (s.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for DatasetStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const W: usize = 34;
        writeln!(f, "{:<W$}{}", "dataset", self.name)?;
        writeln!(f, "{:<W$}{}", "users", thousands(self.users))?;
        writeln!(f, "{:<W$}{}", "items", thousands(self.items))?;
        writeln!(
            f,
            "{:<W$}{}",
            "interactions (all splits)",
            thousands(self.interactions)
        )?;
        writeln!(f, "{:<W$}{:.6}", "density", self.density)?;
        writeln!(
            f,
            "{:<W$}{:.4}",
            "gini of item popularity (train)", self.gini_item_popularity
        )?;
        writeln!(
            f,
            "{:<W$}mean {:.1}, median {:.1}",
            "interactions per user", self.mean_items_per_user, self.median_items_per_user
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<8}{:>14}{:>10}{:>10}",
            "split", "interactions", "users", "items"
        )?;
        for (name, s) in [
            ("train", &self.train),
            ("valid", &self.valid),
            ("test", &self.test),
        ] {
            writeln!(
                f,
                "{:<8}{:>14}{:>10}{:>10}",
                name,
                thousands(s.interactions),
                thousands(s.users),
                thousands(s.items)
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<W$}{}",
            "valid users without train items",
            thousands(self.cold_valid_users)
        )?;
        writeln!(
            f,
            "{:<W$}{}",
            "test users without train items",
            thousands(self.cold_test_users)
        )?;
        writeln!(
            f,
            "{:<W$}{}",
            "test items never in train",
            thousands(self.cold_test_items)
        )?;
        write!(f, "{:<W$}{}", "split fingerprint", self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IdMap, SplitProvenance};

    #[test]
    fn gini_on_hand_examples() {
        assert_eq!(gini(&[0, 0, 0, 10]), 0.75);
        assert_eq!(gini(&[5, 5, 5, 5]), 0.0);
        assert_eq!(gini(&[]), 0.0);
        assert_eq!(gini(&[0, 0]), 0.0);
        // [1, 2, 3]: Σ(2i−n−1)x = (−2)(1) + 0(2) + 2(3) = 4; n Σx = 3 · 6 = 18.
        assert!((gini(&[3, 1, 2]) - 4.0 / 18.0).abs() < 1e-12);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_027_370), "1,027,370");
    }

    #[test]
    fn stats_on_a_hand_example() {
        // 4 users × 5 items.
        // train: u0 {0,1,2}, u1 {0,1}, u2 {0}; valid: u0 {3}, u3 {1}; test: u1 {4}, u3 {0}.
        let train =
            Interactions::from_pairs(4, 5, &[(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]);
        let valid = Interactions::from_pairs(4, 5, &[(0, 3), (3, 1)]);
        let test = Interactions::from_pairs(4, 5, &[(1, 4), (3, 0)]);
        let data = Dataset {
            name: "hand".into(),
            source: "memory".into(),
            users: IdMap::identity(4),
            items: IdMap::identity(5),
            train,
            valid,
            test,
            provenance: SplitProvenance::Given,
        };
        let s = dataset_stats(&data);
        assert_eq!((s.users, s.items, s.interactions), (4, 5, 10));
        assert!((s.density - 0.5).abs() < 1e-12);
        // Train popularity [3, 2, 1, 0, 0] sorted [0, 0, 1, 2, 3]:
        // Σ(2i−6)x = 0 + 0 + 0·1 + 2·2 + 4·3 = 16; n Σx = 5 · 6 = 30.
        assert!((s.gini_item_popularity - 16.0 / 30.0).abs() < 1e-12);
        assert_eq!(
            s.train,
            SplitStats {
                interactions: 6,
                users: 3,
                items: 3
            }
        );
        assert_eq!(
            s.valid,
            SplitStats {
                interactions: 2,
                users: 2,
                items: 2
            }
        );
        assert_eq!(
            s.test,
            SplitStats {
                interactions: 2,
                users: 2,
                items: 2
            }
        );
        assert_eq!(
            (s.cold_valid_users, s.cold_test_users, s.cold_test_items),
            (1, 1, 1)
        );
        // Per user: u0 4, u1 3, u2 1, u3 2 → mean 2.5, median 2.5.
        assert_eq!((s.mean_items_per_user, s.median_items_per_user), (2.5, 2.5));
        let table = s.to_string();
        assert!(
            table.contains("dataset                           hand"),
            "{table}"
        );
        assert!(
            table.contains("train                6         3         3"),
            "{table}"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["train"]["interactions"], 6);
    }
}
