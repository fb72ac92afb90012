//! Per-user ranking metrics at several cutoffs from one top-K list.
//!
//! For a user `u` with target items `T_u` and a ranked list `R = (i_1, i_2, …)` (best first,
//! excluded items already removed), let `rel_r = 1[i_r ∈ T_u]` and `hits@K = Σ_{r=1..K} rel_r`:
//!
//! | metric        | definition                                                            |
//! |---------------|-----------------------------------------------------------------------|
//! | Recall@K      | `hits@K / |T_u|`                                                      |
//! | Precision@K   | `hits@K / K` (always `K`, even if fewer than `K` items were rankable) |
//! | Hit@K         | `1[hits@K > 0]`                                                       |
//! | MRR@K         | `1 / r*` with `r*` the 1-based rank of the first hit within `K`, else 0 |
//! | NDCG@K        | `DCG@K / IDCG@K`, `DCG@K = Σ_{r=1..K} rel_r / log2(r + 1)`,            |
//! |               | `IDCG@K = Σ_{r=1..min(K, |T_u|)} 1 / log2(r + 1)`                     |
//!
//! These are the full-ranking definitions of LightGCN (He et al., SIGIR 2020,
//! [arXiv:2002.02126](https://arxiv.org/abs/2002.02126)); its code computes `rel` with
//! `utils.getLabel`, recall/precision with `RecallPrecision_ATk` (precision divides by `k`) and
//! NDCG with `NDCGatK_r` (ideal list of `min(|T_u|, k)` ones). NGCF and MixGCF
//! (`utils/evaluate.py` → `utils/metrics.py`: `recall_at_k`, `ndcg_at_k`, `hit_at_k`) use the
//! same binary-relevance definitions. Target items that were also excluded (a dirty split)
//! still count in `|T_u|` but can never be hit.

/// Number of metrics computed per cutoff, in the order of [`MetricValues`]'s fields.
pub(crate) const N_METRICS: usize = 5;

/// One user's metrics at one cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct MetricValues {
    pub recall: f64,
    pub ndcg: f64,
    pub precision: f64,
    pub hit: f64,
    pub mrr: f64,
}

/// Precomputed discounts shared by all users: `disc[r] = 1 / log2(r + 2)` (0-based rank `r`)
/// and `idcg[n] = Σ_{r<n} disc[r]`.
#[derive(Debug, Clone)]
pub(crate) struct Discounts {
    disc: Vec<f64>,
    idcg: Vec<f64>,
}

impl Discounts {
    /// Discounts for ranks `1..=k_max`.
    pub fn new(k_max: usize) -> Self {
        let disc: Vec<f64> = (0..k_max).map(|r| 1.0 / ((r + 2) as f64).log2()).collect();
        let mut idcg = Vec::with_capacity(k_max + 1);
        let mut acc = 0.0;
        idcg.push(acc);
        for &d in &disc {
            acc += d;
            idcg.push(acc);
        }
        Self { disc, idcg }
    }
}

/// Fills `out[j]` with the metrics at cutoff `ks[j]` for the ranked list `ranked` (at most
/// `max(ks)` ids, best first) against the sorted, non-empty `targets`. `ks` must be ascending and
/// `≤` the `k_max` the discounts were built for.
pub(crate) fn user_metrics(
    ranked: &[u32],
    targets: &[u32],
    ks: &[usize],
    d: &Discounts,
    out: &mut [MetricValues],
) {
    debug_assert_eq!(ks.len(), out.len());
    debug_assert!(!targets.is_empty());
    let n_t = targets.len();
    let mut hits = 0usize;
    let mut dcg = 0.0f64;
    let mut first_hit: Option<usize> = None; // 1-based rank
    let mut r = 0usize; // ranks consumed so far
    for (&k, slot) in ks.iter().zip(out.iter_mut()) {
        let upto = k.min(ranked.len());
        while r < upto {
            if targets.binary_search(&ranked[r]).is_ok() {
                hits += 1;
                dcg += d.disc[r];
                first_hit.get_or_insert(r + 1);
            }
            r += 1;
        }
        let idcg = d.idcg[k.min(n_t)];
        *slot = MetricValues {
            recall: hits as f64 / n_t as f64,
            ndcg: dcg / idcg,
            precision: hits as f64 / k as f64,
            hit: if hits > 0 { 1.0 } else { 0.0 },
            mrr: first_hit.map_or(0.0, |f| 1.0 / f as f64),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ranked: &[u32], targets: &[u32], ks: &[usize]) -> Vec<MetricValues> {
        let d = Discounts::new(ks.iter().copied().max().unwrap_or(0));
        let mut out = vec![MetricValues::default(); ks.len()];
        user_metrics(ranked, targets, ks, &d, &mut out);
        out
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn hits_at_ranks_1_and_3() {
        // K = 3, ranked (10, 11, 12), T = {10, 12}: rel = (1, 0, 1), hits = 2.
        // recall = 2/2 = 1; precision = 2/3; hit = 1; mrr = 1/1.
        // DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5; IDCG (min(3, 2) = 2 ones) = 1 + 1/log2(3).
        let m = run(&[10, 11, 12], &[10, 12], &[3])[0];
        close(m.recall, 1.0);
        close(m.precision, 2.0 / 3.0);
        close(m.hit, 1.0);
        close(m.mrr, 1.0);
        close(
            m.ndcg,
            (1.0 + 1.0 / 4f64.log2()) / (1.0 + 1.0 / 3f64.log2()),
        );
    }

    #[test]
    fn first_hit_at_rank_2() {
        // K = 3, ranked (5, 7, 9), T = {7, 1, 2} sorted {1, 2, 7}: rel = (0, 1, 0).
        // recall = 1/3; precision = 1/3; hit = 1; mrr = 1/2.
        // DCG = 1/log2(3); IDCG = 1 + 1/log2(3) + 1/log2(4) = 1 + 1/log2 3 + 0.5.
        let m = run(&[5, 7, 9], &[1, 2, 7], &[3])[0];
        close(m.recall, 1.0 / 3.0);
        close(m.precision, 1.0 / 3.0);
        close(m.hit, 1.0);
        close(m.mrr, 0.5);
        let l3 = 3f64.log2();
        close(m.ndcg, (1.0 / l3) / (1.0 + 1.0 / l3 + 0.5));
    }

    #[test]
    fn no_hit_is_all_zero() {
        let m = run(&[1, 2, 3], &[4], &[3])[0];
        assert_eq!(m, MetricValues::default());
    }

    #[test]
    fn several_ks_are_prefixes() {
        // ranked (0..5), T = {1, 4}: rel = (0, 1, 0, 0, 1).
        // K=1: hits 0 → all 0.
        // K=2: hits 1; recall 1/2; precision 1/2; mrr 1/2; ndcg = (1/log2 3)/(1 + 1/log2 3).
        // K=5: hits 2; recall 1; precision 2/5; mrr 1/2;
        //      ndcg = (1/log2 3 + 1/log2 6)/(1 + 1/log2 3).
        let ms = run(&[0, 1, 2, 3, 4], &[1, 4], &[1, 2, 5]);
        assert_eq!(ms[0], MetricValues::default());
        let l3 = 3f64.log2();
        close(ms[1].recall, 0.5);
        close(ms[1].precision, 0.5);
        close(ms[1].mrr, 0.5);
        close(ms[1].ndcg, (1.0 / l3) / (1.0 + 1.0 / l3));
        close(ms[2].recall, 1.0);
        close(ms[2].precision, 0.4);
        close(ms[2].mrr, 0.5);
        close(ms[2].hit, 1.0);
        close(
            ms[2].ndcg,
            (1.0 / l3 + 1.0 / 6f64.log2()) / (1.0 + 1.0 / l3),
        );
    }

    #[test]
    fn short_ranked_list_divides_precision_by_k() {
        // Only 2 rankable items, K = 5, T = {8}: ranked (8, 9) → hits 1.
        // precision = 1/5 (not 1/2); recall 1; ndcg = 1/1; mrr 1.
        let m = run(&[8, 9], &[8], &[5])[0];
        close(m.precision, 0.2);
        close(m.recall, 1.0);
        close(m.ndcg, 1.0);
        close(m.mrr, 1.0);
    }
}
