//! [`Interactions`]: one split's user→item sets in compressed sparse row (CSR) form.
//!
//! Every sampler, model and evaluator reads interactions through this type. Items of a user are
//! kept sorted and unique so that "is `i` a positive of `u`?" is a binary search and two
//! splits can be merged or compared cheaply.

use serde::{Deserialize, Serialize};

/// A user's dense id: `0..n_users`, kept in a [`crate::IdMap`] (order: see [`crate::load`]).
pub type UserId = u32;
/// An item's dense id: `0..n_items`, kept in a [`crate::IdMap`] (order: see [`crate::load`]).
pub type ItemId = u32;

/// User→item interactions of one split in CSR form: items per user sorted ascending, no duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interactions {
    n_users: usize,
    n_items: usize,
    /// `indptr[u]..indptr[u + 1]` is the range of `u`'s items in `indices`; length `n_users + 1`.
    indptr: Vec<usize>,
    indices: Vec<ItemId>,
}

impl Interactions {
    /// An empty split over `n_users × n_items`.
    pub fn empty(n_users: usize, n_items: usize) -> Self {
        Self {
            n_users,
            n_items,
            indptr: vec![0; n_users + 1],
            indices: Vec::new(),
        }
    }

    /// Builds the CSR from `(user, item)` pairs; duplicate pairs are kept once.
    ///
    /// # Panics
    /// If a pair is outside `n_users × n_items`: ids come from an [`crate::IdMap`], so an
    /// out-of-range id is a programming error, not a user-input error.
    pub fn from_pairs(n_users: usize, n_items: usize, pairs: &[(UserId, ItemId)]) -> Self {
        let mut counts = vec![0usize; n_users + 1];
        for &(u, i) in pairs {
            assert!(
                (u as usize) < n_users && (i as usize) < n_items,
                "pair ({u}, {i}) outside {n_users} users × {n_items} items"
            );
            counts[u as usize + 1] += 1;
        }
        for u in 0..n_users {
            counts[u + 1] += counts[u];
        }
        let mut fill = counts.clone();
        let mut indices = vec![0 as ItemId; pairs.len()];
        for &(u, i) in pairs {
            indices[fill[u as usize]] = i;
            fill[u as usize] += 1;
        }
        // Sort and dedupe each user's row, compacting in place.
        let mut indptr = Vec::with_capacity(n_users + 1);
        indptr.push(0);
        let mut write = 0;
        for u in 0..n_users {
            let row = &mut indices[counts[u]..counts[u + 1]];
            row.sort_unstable();
            let mut last: Option<ItemId> = None;
            for k in counts[u]..counts[u + 1] {
                let item = indices[k];
                if last != Some(item) {
                    indices[write] = item;
                    write += 1;
                    last = Some(item);
                }
            }
            indptr.push(write);
        }
        indices.truncate(write);
        Self {
            n_users,
            n_items,
            indptr,
            indices,
        }
    }

    /// Number of users in the id space (including users with no interaction in this split).
    pub fn n_users(&self) -> usize {
        self.n_users
    }

    /// Number of items in the id space.
    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// Number of (unique) interactions.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The sorted items of `user`; empty for a user with no interaction here.
    pub fn items(&self, user: UserId) -> &[ItemId] {
        let u = user as usize;
        &self.indices[self.indptr[u]..self.indptr[u + 1]]
    }

    /// Number of items of `user`.
    pub fn degree(&self, user: UserId) -> usize {
        let u = user as usize;
        self.indptr[u + 1] - self.indptr[u]
    }

    /// Whether `(user, item)` is an interaction of this split (binary search).
    pub fn contains(&self, user: UserId, item: ItemId) -> bool {
        self.items(user).binary_search(&item).is_ok()
    }

    /// Row offsets: `indptr()[u]..indptr()[u + 1]` indexes `indices()`.
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// All item ids, row after row.
    pub fn indices(&self) -> &[ItemId] {
        &self.indices
    }

    /// Users with at least one interaction, ascending.
    pub fn active_users(&self) -> Vec<UserId> {
        (0..self.n_users as UserId)
            .filter(|&u| self.degree(u) > 0)
            .collect()
    }

    /// Interaction count of every item (its popularity in this split).
    pub fn item_degrees(&self) -> Vec<u32> {
        let mut deg = vec![0u32; self.n_items];
        for &i in &self.indices {
            deg[i as usize] += 1;
        }
        deg
    }

    /// Every `(user, item)` pair, user-major.
    pub fn pairs(&self) -> impl Iterator<Item = (UserId, ItemId)> + '_ {
        (0..self.n_users).flat_map(move |u| {
            self.indices[self.indptr[u]..self.indptr[u + 1]]
                .iter()
                .map(move |&i| (u as UserId, i))
        })
    }

    /// The union of two splits over the same id space (e.g. train ∪ valid, the items excluded
    /// when ranking for the test split).
    ///
    /// # Panics
    /// If the id spaces differ (a programming error: splits of one dataset share them).
    pub fn union(&self, other: &Interactions) -> Interactions {
        assert_eq!(
            (self.n_users, self.n_items),
            (other.n_users, other.n_items),
            "id spaces differ"
        );
        let pairs: Vec<_> = self.pairs().chain(other.pairs()).collect();
        Interactions::from_pairs(self.n_users, self.n_items, &pairs)
    }

    /// Number of pairs present in both splits (0 for a clean split).
    pub fn overlap(&self, other: &Interactions) -> usize {
        self.pairs()
            .filter(|&(u, i)| (u as usize) < other.n_users && other.contains(u, i))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_and_dedupes_per_user() {
        let x = Interactions::from_pairs(3, 5, &[(0, 4), (0, 1), (2, 3), (0, 4), (2, 0)]);
        assert_eq!(x.items(0), &[1, 4]);
        assert_eq!(x.items(1), &[] as &[ItemId]);
        assert_eq!(x.items(2), &[0, 3]);
        assert_eq!(x.nnz(), 4);
        assert!(x.contains(2, 3) && !x.contains(1, 3));
        assert_eq!(x.item_degrees(), vec![1, 1, 0, 1, 1]);
        assert_eq!(x.active_users(), vec![0, 2]);
    }

    #[test]
    fn union_and_overlap() {
        let a = Interactions::from_pairs(2, 3, &[(0, 0), (1, 1)]);
        let b = Interactions::from_pairs(2, 3, &[(0, 0), (1, 2)]);
        assert_eq!(a.overlap(&b), 1);
        let u = a.union(&b);
        assert_eq!(u.items(1), &[1, 2]);
        assert_eq!(u.nnz(), 3);
    }
}
