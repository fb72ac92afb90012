//! Hand-written top-K selection over one score row.
//!
//! Ordering: descending score, ties broken towards the **lower item id** (a total, deterministic
//! order, so reports do not depend on thread scheduling or chunking). Items scoring `-inf` (how
//! a caller of [`top_k`] marks excluded items) or NaN are never returned, and the evaluator's
//! [`TopK::select_checked`] also skips the items of its exclusion predicate, so a row with fewer
//! than `K` rankable items yields fewer than `K` ids.
//!
//! Algorithm, for the usual small `K` (≤ [`SMALL_K`]): one pass in ascending item order keeping
//! a sorted buffer of the best `K` seen so far and its threshold (the `K`-th best score). Blocks
//! of 32 scores are first tested with a branch-free, vectorisable "any score above the
//! threshold?" check (fused, in [`TopK::select_checked`], with the "any non-finite score?"
//! check), so the pass runs at close to memory speed; only the rare blocks that contain a
//! candidate are inspected one by one (for a random row about `K·ln(n/K)` insertions). Because
//! items are visited in ascending id order, a later item that merely *ties* the threshold has a
//! higher id than everything in the buffer and is rightly rejected, which implements the tie rule
//! for free. For large `K` the row's rankable items are partitioned with
//! `select_nth_unstable_by` and the first `K` sorted, with the same comparator.

use std::cmp::Ordering;

/// Largest `K` handled by the streaming buffer; larger `K` use quickselect + sort.
pub const SMALL_K: usize = 128;
/// Scores per block for the vectorised rejection test (32 measured best among 16…128).
const BLOCK: usize = 32;
/// SIMD-friendly lane count of the block tests.
const LANES: usize = 16;

/// Reusable top-K selector: holds its buffers so that selecting for many rows does not allocate.
#[derive(Debug, Clone, Default)]
pub struct TopK {
    vals: Vec<f32>,
    ids: Vec<u32>,
}

impl TopK {
    /// A selector with room for `k` entries (it grows on demand if used with a larger `k`).
    pub fn with_capacity(k: usize) -> Self {
        let cap = k.min(SMALL_K);
        Self {
            vals: Vec::with_capacity(cap),
            ids: Vec::with_capacity(cap),
        }
    }

    /// Writes into `out` (cleared first) the ids of the best `k` items of `scores`, best first,
    /// with the ordering described in the [module docs](self): `-inf` and NaN scores are
    /// skipped, `+inf` ranks first.
    pub fn select(&mut self, scores: &[f32], k: usize, out: &mut Vec<u32>) {
        // Without the check the selection cannot fail.
        let _ = self.run::<false>(scores, k, |_| false, out);
    }

    /// Like [`TopK::select`] but for the evaluator: items for which `is_excluded(id)` holds are
    /// skipped (only called for items that would otherwise enter the top-K, so it may be a
    /// binary search), and every score must be finite.
    ///
    /// # Errors
    /// `Err(j)` with `j` the index of the first NaN or ±inf score of the row (excluded items
    /// included); `out` is then empty.
    pub fn select_checked(
        &mut self,
        scores: &[f32],
        k: usize,
        is_excluded: impl Fn(u32) -> bool,
        out: &mut Vec<u32>,
    ) -> Result<(), usize> {
        let r = self.run::<true>(scores, k, is_excluded, out);
        if r.is_err() {
            out.clear();
        }
        r
    }

    fn run<const CHECK: bool>(
        &mut self,
        scores: &[f32],
        k: usize,
        skip: impl Fn(u32) -> bool,
        out: &mut Vec<u32>,
    ) -> Result<(), usize> {
        out.clear();
        if k == 0 || k > SMALL_K {
            if CHECK && let Some(j) = first_non_finite(scores) {
                return Err(j);
            }
            if k > 0 {
                select_large(scores, k, skip, out);
            }
            return Ok(());
        }
        self.vals.clear();
        self.ids.clear();
        let mut thr = f32::NEG_INFINITY;
        let mut base = 0usize;
        let mut blocks = scores.chunks_exact(BLOCK);
        for block in &mut blocks {
            let (any, bad) = scan_block::<CHECK>(block, thr);
            if CHECK && bad {
                return Err(base + first_non_finite(block).unwrap_or(0));
            }
            if any {
                for (j, &x) in block.iter().enumerate() {
                    let id = (base + j) as u32;
                    if x > thr && !skip(id) {
                        thr = self.insert(x, id, k);
                    }
                }
            }
            base += BLOCK;
        }
        for (j, &x) in blocks.remainder().iter().enumerate() {
            if CHECK && !x.is_finite() {
                return Err(base + j);
            }
            let id = (base + j) as u32;
            if x > thr && !skip(id) {
                thr = self.insert(x, id, k);
            }
        }
        out.extend_from_slice(&self.ids);
        Ok(())
    }

    /// Inserts `(x, id)`, `id` larger than every id already held; returns the new threshold.
    #[inline]
    fn insert(&mut self, x: f32, id: u32, k: usize) -> f32 {
        // `vals` is sorted descending; equal scores keep ascending ids, so the newcomer goes
        // after every score >= x.
        let pos = self.vals.partition_point(|&v| v >= x);
        if self.vals.len() == k {
            self.vals.pop();
            self.ids.pop();
        }
        self.vals.insert(pos, x);
        self.ids.insert(pos, id);
        if self.vals.len() == k {
            self.vals[k - 1]
        } else {
            f32::NEG_INFINITY
        }
    }
}

/// For one block: whether any score is strictly above `thr` (NaN never is) and, if `CHECK`,
/// whether any score is non-finite. Branch-free over fixed lanes so that it compiles to packed
/// compares and ORs.
#[inline]
fn scan_block<const CHECK: bool>(block: &[f32], thr: f32) -> (bool, bool) {
    let mut above = [false; LANES];
    let mut bad = [false; LANES];
    for chunk in block.chunks_exact(LANES) {
        for ((a, b), &x) in above.iter_mut().zip(bad.iter_mut()).zip(chunk) {
            *a |= x > thr;
            if CHECK {
                *b |= non_finite(x);
            }
        }
    }
    (
        above.iter().fold(false, |p, &q| p | q),
        bad.iter().fold(false, |p, &q| p | q),
    )
}

/// NaN or ±inf: all exponent bits set. An integer mask-and-compare, which vectorises well.
#[inline(always)]
fn non_finite(x: f32) -> bool {
    const EXP: u32 = 0x7f80_0000;
    x.to_bits() & EXP == EXP
}

/// Index of the first NaN or ±inf in `row`: a branch-free scan, then the exact position only in
/// the (error) case that there is one.
pub(crate) fn first_non_finite(row: &[f32]) -> Option<usize> {
    let mut bad = [false; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (b, &x) in bad.iter_mut().zip(c) {
            *b |= non_finite(x);
        }
    }
    let tail = chunks.remainder().iter().any(|x| !x.is_finite());
    if tail || bad.iter().any(|&b| b) {
        row.iter().position(|x| !x.is_finite())
    } else {
        None
    }
}

/// Descending score, then ascending id. Only called on non-NaN scores, so it is a total order.
#[inline]
fn rank_cmp(scores: &[f32], a: u32, b: u32) -> Ordering {
    let (sa, sb) = (scores[a as usize], scores[b as usize]);
    sb.partial_cmp(&sa)
        .unwrap_or(Ordering::Equal)
        .then(a.cmp(&b))
}

fn select_large(scores: &[f32], k: usize, skip: impl Fn(u32) -> bool, out: &mut Vec<u32>) {
    out.extend(
        scores
            .iter()
            .enumerate()
            .filter(|&(i, &x)| x > f32::NEG_INFINITY && !skip(i as u32))
            .map(|(i, _)| i as u32),
    );
    if out.len() > k {
        out.select_nth_unstable_by(k - 1, |&a, &b| rank_cmp(scores, a, b));
        out.truncate(k);
    }
    out.sort_unstable_by(|&a, &b| rank_cmp(scores, a, b));
}

/// The best `k` item ids of `scores` into `out` (cleared first): descending score, ties → lower
/// item id first; `-inf` (excluded) and NaN scores are never returned, so `out` may hold fewer
/// than `k` ids. Convenience wrapper over [`TopK`], which reuses its buffers across rows.
pub fn top_k(scores: &[f32], k: usize, out: &mut Vec<u32>) {
    // At most every item is returned, so K beyond the item count (`recommend -k` from a user)
    // is the item count: no allocation of K slots.
    let k = k.min(scores.len());
    TopK::with_capacity(k).select(scores, k, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: full sort of the rankable items with the same comparator.
    fn naive(scores: &[f32], k: usize) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..scores.len() as u32)
            .filter(|&i| scores[i as usize] > f32::NEG_INFINITY)
            .collect();
        ids.sort_by(|&a, &b| rank_cmp(scores, a, b));
        ids.truncate(k);
        ids
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn small_example_descending_with_ties_to_lower_id() {
        // Scores: item 3 = 5 is best; items 1 and 4 tie at 4 → 1 before 4; then 0 (=2).
        let s = [2.0, 4.0, 1.0, 5.0, 4.0, f32::NEG_INFINITY];
        let mut out = Vec::new();
        top_k(&s, 4, &mut out);
        assert_eq!(out, vec![3, 1, 4, 0]);
        // k = 2 cuts between the tied pair: the lower id wins.
        top_k(&s, 2, &mut out);
        assert_eq!(out, vec![3, 1]);
        // Any k beyond the item count gives every rankable item (and allocates no k slots).
        top_k(&s, usize::MAX, &mut out);
        assert_eq!(out, vec![3, 1, 4, 0, 2]);
    }

    #[test]
    fn all_equal_scores_give_lowest_ids() {
        let s = vec![0.5f32; 300];
        let mut out = Vec::new();
        top_k(&s, 20, &mut out);
        assert_eq!(out, (0..20).collect::<Vec<u32>>());
        top_k(&s, 200, &mut out); // large-k path
        assert_eq!(out, (0..200).collect::<Vec<u32>>());
    }

    #[test]
    fn excluded_and_nan_items_are_skipped_and_short_rows_work() {
        let mut s = vec![f32::NEG_INFINITY; 70];
        s[5] = 1.0;
        s[66] = 3.0;
        s[7] = f32::NAN;
        let mut out = Vec::new();
        top_k(&s, 20, &mut out);
        assert_eq!(out, vec![66, 5]);
        top_k(&s, 500, &mut out);
        assert_eq!(out, vec![66, 5]);
        top_k(&s, 0, &mut out);
        assert!(out.is_empty());
        top_k(&[], 3, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn matches_full_sort_on_random_rows() {
        let mut seed = 7u64;
        let mut sel = TopK::default();
        let mut out = Vec::new();
        for trial in 0..200 {
            let n = 1 + (lcg(&mut seed) % 700) as usize;
            // Few distinct values → many ties; some excluded items.
            let levels = 1 + lcg(&mut seed) % 50;
            let s: Vec<f32> = (0..n)
                .map(|_| {
                    let r = lcg(&mut seed);
                    if r.is_multiple_of(9) {
                        f32::NEG_INFINITY
                    } else {
                        (r % levels) as f32 - 20.0
                    }
                })
                .collect();
            for k in [1, 3, 20, 128, 129, 300, 1000] {
                sel.select(&s, k, &mut out);
                assert_eq!(out, naive(&s, k), "trial {trial}, n {n}, k {k}");
            }
        }
    }

    #[test]
    fn checked_selection_skips_excluded_and_reports_non_finite() {
        let mut seed = 99u64;
        let mut sel = TopK::default();
        let mut out = Vec::new();
        for trial in 0..100 {
            let n = 1 + (lcg(&mut seed) % 300) as usize;
            let s: Vec<f32> = (0..n).map(|_| (lcg(&mut seed) % 40) as f32).collect();
            let excluded: Vec<u32> = (0..n as u32)
                .filter(|_| lcg(&mut seed).is_multiple_of(4))
                .collect();
            // Reference: mark excluded items -inf, select unchecked.
            let mut masked = s.clone();
            for &i in &excluded {
                masked[i as usize] = f32::NEG_INFINITY;
            }
            for k in [1, 7, 20, 200] {
                let r = sel.select_checked(&s, k, |i| excluded.binary_search(&i).is_ok(), &mut out);
                assert_eq!(r, Ok(()));
                assert_eq!(out, naive(&masked, k), "trial {trial}, k {k}");
            }
            // A non-finite score anywhere (excluded or not) is reported at its first position.
            let mut bad = s.clone();
            let j = (lcg(&mut seed) % n as u64) as usize;
            bad[j] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][trial % 3];
            if j + 1 < n {
                bad[n - 1] = f32::NAN;
            }
            for k in [0, 5, 500] {
                let r =
                    sel.select_checked(&bad, k, |i| excluded.binary_search(&i).is_ok(), &mut out);
                assert_eq!(r, Err(j), "trial {trial}, k {k}");
                assert!(out.is_empty());
            }
        }
    }

    #[test]
    fn ascending_and_descending_rows() {
        let asc: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let desc: Vec<f32> = asc.iter().rev().copied().collect();
        let mut out = Vec::new();
        top_k(&asc, 5, &mut out);
        assert_eq!(out, vec![999, 998, 997, 996, 995]);
        top_k(&desc, 5, &mut out);
        assert_eq!(out, vec![0, 1, 2, 3, 4]);
    }
}
