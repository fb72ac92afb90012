//! Splitting interactions into train/valid/test, per user, deterministically for a seed.
//!
//! # Rules
//!
//! All splits are **per user**: each user's interactions are divided on their own, so every user
//! with enough interactions appears in every split.
//!
//! - **Three-way split** of a user with `n` interactions ([`split_sizes`]):
//!   `n_test = round(test_fraction · n)`, raised to 1 when `n ≥ 3`;
//!   `n_valid = round(valid_fraction · n)`; then, so that the user keeps at least one train
//!   interaction, `n_valid` and after it `n_test` are lowered until `n_train = n − n_valid −
//!   n_test ≥ 1`. `round` rounds halves away from zero. Examples with fractions 0.1 / 0.2:
//!   n = 1 → 1/0/0, n = 2 → 2/0/0, n = 3 → 2/0/1, n = 5 → 3/1/1, n = 10 → 7/1/2.
//! - **Random** ([`random_split`]): the user's items are shuffled with a ChaCha8 RNG seeded
//!   once with `seed` (users visited in ascending dense id), then the first `n_train` go to
//!   train, the next `n_valid` to valid and the rest to test.
//! - **Temporal** ([`temporal_split`]): the user's interactions are ordered by timestamp, oldest
//!   first (ties broken by the seeded shuffle); the oldest `n_train` go to train, the newest
//!   `n_test` to test, the ones in between to valid.
//! - **Carving valid out of train** ([`carve_valid`], used when only train and test are
//!   given): per user `n_valid = round(fraction · n)`, lowered to `n − 1` so the user keeps at
//!   least one train item (a user with a single train item gives none); which items move is
//!   chosen by the same seeded shuffle.
//!
//! Duplicate `(user, item)` pairs are kept once (the first occurrence, for a temporal split),
//! so the splits are always disjoint.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::{Interactions, ItemId, UserId};

/// How many of a user's interactions go to each split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitSizes {
    /// Interactions kept for training.
    pub train: usize,
    /// Interactions for validation.
    pub valid: usize,
    /// Interactions for test.
    pub test: usize,
}

fn round_count(fraction: f64, n: usize) -> usize {
    let f = if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    };
    ((f * n as f64).round() as usize).min(n)
}

/// The per-user sizes of a three-way split (see the module docs for the rule). Fractions are
/// clamped to `[0, 1]` (NaN counts as 0).
pub fn split_sizes(n: usize, valid_fraction: f64, test_fraction: f64) -> SplitSizes {
    if n == 0 {
        return SplitSizes {
            train: 0,
            valid: 0,
            test: 0,
        };
    }
    let mut test = round_count(test_fraction, n);
    if n >= 3 {
        test = test.max(1);
    }
    let mut valid = round_count(valid_fraction, n);
    // Keep at least one train interaction: give up valid first, then test.
    let budget = n - 1;
    if valid + test > budget {
        valid = budget.saturating_sub(test);
        test = test.min(budget);
    }
    SplitSizes {
        train: n - valid - test,
        valid,
        test,
    }
}

/// The three splits of one dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splits {
    /// Training interactions.
    pub train: Interactions,
    /// Validation interactions.
    pub valid: Interactions,
    /// Test interactions.
    pub test: Interactions,
}

/// Moves about `fraction` of each user's train items to a new valid split (see the module docs).
/// Returns `(train, valid)`; deterministic for a seed. `fraction` is clamped to `[0, 1]`.
pub fn carve_valid(train: &Interactions, fraction: f64, seed: u64) -> (Interactions, Interactions) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut keep = Vec::with_capacity(train.nnz());
    let mut moved = Vec::new();
    let mut row = Vec::new();
    for u in 0..train.n_users() as UserId {
        let items = train.items(u);
        let n = items.len();
        let n_valid = round_count(fraction, n).min(n.saturating_sub(1));
        if n_valid == 0 {
            keep.extend(items.iter().map(|&i| (u, i)));
            continue;
        }
        row.clear();
        row.extend_from_slice(items);
        row.shuffle(&mut rng);
        moved.extend(row[..n_valid].iter().map(|&i| (u, i)));
        keep.extend(row[n_valid..].iter().map(|&i| (u, i)));
    }
    let (nu, ni) = (train.n_users(), train.n_items());
    (
        Interactions::from_pairs(nu, ni, &keep),
        Interactions::from_pairs(nu, ni, &moved),
    )
}

/// Splits `pairs` per user at random into train/valid/test (see the module docs for the sizes).
/// Duplicate pairs count once. Deterministic for a seed.
///
/// # Panics
/// If a pair is outside `n_users × n_items` (ids come from an [`crate::IdMap`], so this is a
/// programming error).
pub fn random_split(
    n_users: usize,
    n_items: usize,
    pairs: &[(UserId, ItemId)],
    valid_fraction: f64,
    test_fraction: f64,
    seed: u64,
) -> Splits {
    let all = Interactions::from_pairs(n_users, n_items, pairs);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out: [Vec<(UserId, ItemId)>; 3] = Default::default();
    let mut row = Vec::new();
    for u in 0..n_users as UserId {
        row.clear();
        row.extend_from_slice(all.items(u));
        row.shuffle(&mut rng);
        distribute(
            u,
            &row,
            split_sizes(row.len(), valid_fraction, test_fraction),
            &mut out,
        );
    }
    build(n_users, n_items, &out)
}

/// Splits timestamped `(user, item, timestamp)` records per user by time: oldest to train,
/// newest to test (see the module docs). A duplicate pair keeps its first record. Ties in time
/// are broken by a shuffle seeded with `seed`.
///
/// # Panics
/// If a record is outside `n_users × n_items` (a programming error, as for [`random_split`]).
pub fn temporal_split(
    n_users: usize,
    n_items: usize,
    records: &[(UserId, ItemId, f64)],
    valid_fraction: f64,
    test_fraction: f64,
    seed: u64,
) -> Splits {
    // Group by user and dedupe (user, item), keeping the first record of each pair.
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_unstable_by_key(|&k| (records[k].0, records[k].1, k));
    order.dedup_by_key(|k| (records[*k].0, records[*k].1));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out: [Vec<(UserId, ItemId)>; 3] = Default::default();
    let mut row: Vec<(ItemId, f64)> = Vec::new();
    let mut items: Vec<ItemId> = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let u = records[order[start]].0;
        let mut end = start;
        while end < order.len() && records[order[end]].0 == u {
            end += 1;
        }
        row.clear();
        row.extend(
            order[start..end]
                .iter()
                .map(|&k| (records[k].1, records[k].2)),
        );
        row.shuffle(&mut rng);
        row.sort_by(|a, b| a.1.total_cmp(&b.1));
        items.clear();
        items.extend(row.iter().map(|r| r.0));
        distribute(
            u,
            &items,
            split_sizes(items.len(), valid_fraction, test_fraction),
            &mut out,
        );
        start = end;
    }
    build(n_users, n_items, &out)
}

fn distribute(u: UserId, row: &[ItemId], sizes: SplitSizes, out: &mut [Vec<(UserId, ItemId)>; 3]) {
    let (train, rest) = row.split_at(sizes.train);
    let (valid, test) = rest.split_at(sizes.valid);
    out[0].extend(train.iter().map(|&i| (u, i)));
    out[1].extend(valid.iter().map(|&i| (u, i)));
    out[2].extend(test.iter().map(|&i| (u, i)));
}

fn build(n_users: usize, n_items: usize, out: &[Vec<(UserId, ItemId)>; 3]) -> Splits {
    Splits {
        train: Interactions::from_pairs(n_users, n_items, &out[0]),
        valid: Interactions::from_pairs(n_users, n_items, &out[1]),
        test: Interactions::from_pairs(n_users, n_items, &out[2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(n: usize) -> (usize, usize, usize) {
        let s = split_sizes(n, 0.1, 0.2);
        (s.train, s.valid, s.test)
    }

    #[test]
    fn split_sizes_follow_the_documented_rule() {
        assert_eq!(sizes(0), (0, 0, 0));
        assert_eq!(sizes(1), (1, 0, 0));
        assert_eq!(sizes(2), (2, 0, 0));
        assert_eq!(sizes(3), (2, 0, 1));
        assert_eq!(sizes(5), (3, 1, 1));
        assert_eq!(sizes(10), (7, 1, 2));
        assert_eq!(sizes(100), (70, 10, 20));
        // Big fractions still leave one train item, taking from valid first.
        let s = split_sizes(4, 0.5, 0.5);
        assert_eq!((s.train, s.valid, s.test), (1, 1, 2));
        let s = split_sizes(2, 0.9, 0.9);
        assert_eq!((s.train, s.valid, s.test), (1, 0, 1));
        let s = split_sizes(5, f64::NAN, 2.0);
        assert_eq!((s.train, s.valid, s.test), (1, 0, 4));
    }

    fn toy(n_users: usize, per_user: usize, n_items: usize) -> Vec<(UserId, ItemId)> {
        let mut pairs = Vec::new();
        for u in 0..n_users {
            for k in 0..per_user {
                pairs.push((u as UserId, ((u * 7 + k * 3) % n_items) as ItemId));
            }
        }
        pairs
    }

    #[test]
    fn carve_valid_is_deterministic_disjoint_and_keeps_a_train_item() {
        let mut pairs = toy(50, 12, 40);
        pairs.push((50, 3)); // a user with a single item gives none
        let train = Interactions::from_pairs(51, 40, &pairs);
        let (a_train, a_valid) = carve_valid(&train, 0.25, 9);
        let (b_train, b_valid) = carve_valid(&train, 0.25, 9);
        assert_eq!((&a_train, &a_valid), (&b_train, &b_valid));
        let (c_train, _) = carve_valid(&train, 0.25, 10);
        assert_ne!(a_train, c_train, "another seed moves other items");
        assert_eq!(a_train.overlap(&a_valid), 0);
        assert_eq!(a_train.union(&a_valid), train);
        for u in 0..51 {
            assert!(a_train.degree(u) >= 1);
        }
        assert_eq!(a_valid.degree(0), 3); // round(0.25 · 12)
        assert_eq!(a_valid.degree(50), 0);
        // Fraction 1 still keeps one train item per user.
        let (t, v) = carve_valid(&train, 1.0, 1);
        assert_eq!(t.nnz(), 51);
        assert_eq!(v.nnz(), train.nnz() - 51);
    }

    #[test]
    fn random_split_partitions_every_user() {
        let pairs = toy(30, 10, 25);
        let all = Interactions::from_pairs(30, 25, &pairs);
        let s = random_split(30, 25, &pairs, 0.1, 0.2, 4);
        assert_eq!(s, random_split(30, 25, &pairs, 0.1, 0.2, 4));
        assert_eq!(s.train.overlap(&s.valid) + s.train.overlap(&s.test), 0);
        assert_eq!(s.valid.overlap(&s.test), 0);
        assert_eq!(s.train.union(&s.valid).union(&s.test), all);
        for u in 0..30 {
            assert_eq!(
                (s.train.degree(u), s.valid.degree(u), s.test.degree(u)),
                (7, 1, 2)
            );
        }
    }

    #[test]
    fn temporal_split_puts_the_latest_in_test() {
        // User 0: items 0..10 at times 10·i; user 1: times reversed; a duplicate keeps its
        // first record.
        let mut recs: Vec<(UserId, ItemId, f64)> = Vec::new();
        for i in 0..10u32 {
            recs.push((0, i, 10.0 * i as f64));
            recs.push((1, i, 100.0 - i as f64));
        }
        recs.push((0, 0, 1e9)); // duplicate of (0, 0): ignored
        let s = temporal_split(2, 10, &recs, 0.1, 0.2, 3);
        assert_eq!(s.test.items(0), &[8, 9]);
        assert_eq!(s.valid.items(0), &[7]);
        assert_eq!(s.train.items(0), &[0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(s.test.items(1), &[0, 1]);
        assert_eq!(s.valid.items(1), &[2]);
        assert_eq!(s.train.nnz() + s.valid.nnz() + s.test.nnz(), 20);
    }
}
