//! End-to-end tests of `evaluate` with hand-derived expected values.

use autosample_data::{Interactions, UserId};
use autosample_metrics::{
    DotScorer, EvalError, EvalOptions, EvalReport, RankingScorer, evaluate, top_k,
};

/// A scorer that copies rows of a dense `n_users × n_items` score table.
struct TableScorer {
    scores: Vec<f32>,
    n_items: usize,
}

impl RankingScorer for TableScorer {
    fn n_items(&self) -> usize {
        self.n_items
    }
    fn score_users(&self, users: &[UserId], out: &mut [f32]) {
        for (r, &u) in users.iter().enumerate() {
            let src = &self.scores[u as usize * self.n_items..(u as usize + 1) * self.n_items];
            out[r * self.n_items..(r + 1) * self.n_items].copy_from_slice(src);
        }
    }
}

fn inter(n_users: usize, n_items: usize, rows: &[&[u32]]) -> Interactions {
    let pairs: Vec<(u32, u32)> = rows
        .iter()
        .enumerate()
        .flat_map(|(u, items)| items.iter().map(move |&i| (u as u32, i)))
        .collect();
    Interactions::from_pairs(n_users, n_items, &pairs)
}

fn opts(ks: &[usize]) -> EvalOptions {
    EvalOptions {
        keep_per_user: true,
        ..EvalOptions::with_ks(ks)
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

/// The report without its timings, for exact comparisons.
fn untimed(mut r: EvalReport) -> EvalReport {
    r.seconds = 0.0;
    r.scoring_seconds = 0.0;
    r.ranking_seconds = 0.0;
    r
}

struct Rng(u64);
impl Rng {
    /// splitmix64
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unif(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random tables and disjoint train/test splits; some users have no test items.
fn random_case(
    seed: u64,
    nu: usize,
    ni: usize,
    d: usize,
) -> (Vec<f32>, Vec<f32>, Interactions, Interactions) {
    let mut rng = Rng(seed);
    let ue: Vec<f32> = (0..nu * d).map(|_| rng.unif() - 0.5).collect();
    let ie: Vec<f32> = (0..ni * d).map(|_| rng.unif() - 0.5).collect();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for u in 0..nu as u32 {
        for _ in 0..rng.below(8) {
            train.push((u, rng.below(ni) as u32));
        }
        if u % 5 != 4 {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(ni) as u32;
                if !train.contains(&(u, i)) {
                    test.push((u, i));
                }
            }
        }
    }
    let train = Interactions::from_pairs(nu, ni, &train);
    let test = Interactions::from_pairs(nu, ni, &test);
    (ue, ie, train, test)
}

/// Naive reference: full sort of every user's rankable items, formulas written out directly.
fn reference(
    scorer: &dyn RankingScorer,
    target: &Interactions,
    exclude: &[&Interactions],
    k: usize,
) -> [f64; 5] {
    let n = scorer.n_items();
    let users = target.active_users();
    let mut sums = [0.0; 5];
    for &u in &users {
        let mut row = vec![0.0; n];
        scorer.score_users(&[u], &mut row);
        let mut items: Vec<u32> = (0..n as u32)
            .filter(|&i| exclude.iter().all(|x| !x.contains(u, i)))
            .collect();
        items.sort_by(|&a, &b| row[b as usize].total_cmp(&row[a as usize]).then(a.cmp(&b)));
        items.truncate(k);
        let t = target.items(u);
        let rel: Vec<bool> = items.iter().map(|i| t.contains(i)).collect();
        let hits = rel.iter().filter(|&&r| r).count() as f64;
        let dcg: f64 = rel
            .iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(r, _)| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let idcg: f64 = (0..k.min(t.len()))
            .map(|r| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let mrr = rel
            .iter()
            .position(|&r| r)
            .map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
        let m = [
            hits / t.len() as f64,
            dcg / idcg,
            hits / k as f64,
            (hits > 0.0) as u8 as f64,
            mrr,
        ];
        for (s, v) in sums.iter_mut().zip(m) {
            *s += v;
        }
    }
    sums.map(|s| s / users.len() as f64)
}

#[test]
fn hand_computed_three_users() {
    // 6 items, K = 3. Exclusions from `train`.
    // user 0: scores descend with id → ranked (0, 1, 2); T = {0, 2}: hits at ranks 1 and 3.
    //   recall = 2/2 = 1, precision = 2/3, hit = 1, mrr = 1,
    //   ndcg = (1/log2 2 + 1/log2 4) / (1/log2 2 + 1/log2 3) = 1.5 / (1 + 1/log2 3).
    // user 1: scores (9, 8, 1, 5, 3, 2), train = {0, 1} (its two best) → ranked (3, 4, 5);
    //   T = {2, 4}: only hit at rank 2.
    //   recall = 1/2, precision = 1/3, hit = 1, mrr = 1/2,
    //   ndcg = (1/log2 3) / (1 + 1/log2 3)   (IDCG over min(3, 2) = 2 ranks).
    // user 2: scores descend with id → ranked (0, 1, 2); T = {5}: no hit → all 0.
    // user 3: no target item → skipped (its NaN row is never even scored).
    let nan = f32::NAN;
    #[rustfmt::skip]
    let scores = vec![
        6.0, 5.0, 4.0, 3.0, 2.0, 1.0,
        9.0, 8.0, 1.0, 5.0, 3.0, 2.0,
        6.0, 5.0, 4.0, 3.0, 2.0, 1.0,
        nan, nan, nan, nan, nan, nan,
    ];
    let s = TableScorer { scores, n_items: 6 };
    let target = inter(4, 6, &[&[0, 2], &[2, 4], &[5], &[]]);
    let train = inter(4, 6, &[&[], &[0, 1], &[], &[3]]);
    let r = evaluate(&s, &target, &[&train], &opts(&[3])).unwrap();
    assert_eq!(r.n_users, 3);
    let l3 = 3f64.log2();
    let ndcg = [1.5 / (1.0 + 1.0 / l3), (1.0 / l3) / (1.0 + 1.0 / l3), 0.0];
    close(r.get("recall@3").unwrap(), (1.0 + 0.5 + 0.0) / 3.0);
    close(
        r.get("precision@3").unwrap(),
        (2.0 / 3.0 + 1.0 / 3.0 + 0.0) / 3.0,
    );
    close(r.get("hit@3").unwrap(), 2.0 / 3.0);
    close(r.get("hr@3").unwrap(), 2.0 / 3.0);
    close(r.get("mrr@3").unwrap(), (1.0 + 0.5 + 0.0) / 3.0);
    close(r.get("ndcg@3").unwrap(), ndcg.iter().sum::<f64>() / 3.0);
    let pu = r.per_user.as_ref().unwrap();
    assert_eq!(pu.users, vec![0, 1, 2]);
    assert_eq!(pu.metric("recall@3").unwrap(), &[1.0, 0.5, 0.0]);
    assert_eq!(pu.metric("mrr@3").unwrap(), &[1.0, 0.5, 0.0]);
    for (a, b) in pu.metric("ndcg@3").unwrap().iter().zip(ndcg) {
        close(*a, b);
    }
    // Names.
    assert_eq!(r.get("recall@20"), None);
    assert_eq!(r.get("auc@3"), None);
    assert_eq!(r.get("recall"), None);
    let map = r.to_map();
    assert_eq!(
        map.keys().cloned().collect::<Vec<_>>(),
        ["hit@3", "mrr@3", "ndcg@3", "precision@3", "recall@3"]
    );
    assert_eq!(map["recall@3"], r.at[0].recall);
}

#[test]
fn excluded_items_never_appear() {
    // Every user's highest scores are its training positives; the target repeats those very
    // items (a dirty split), so any excluded item in the top-K would register as a hit.
    // Correct exclusion → every metric is 0.
    let (nu, ni) = (5, 30);
    let mut scores = vec![0.0f32; nu * ni];
    let mut train_rows: Vec<Vec<u32>> = Vec::new();
    for u in 0..nu {
        for i in 0..ni {
            scores[u * ni + i] = (i as f32 * 7.0 + u as f32) % 13.0;
        }
        let mut row: Vec<u32> = (0..ni as u32).collect();
        row.sort_by(|&a, &b| scores[u * ni + b as usize].total_cmp(&scores[u * ni + a as usize]));
        row.truncate(10);
        for &i in &row {
            scores[u * ni + i as usize] = 100.0 + i as f32;
        }
        train_rows.push(row);
    }
    let rows: Vec<&[u32]> = train_rows.iter().map(|r| r.as_slice()).collect();
    let train = inter(nu, ni, &rows);
    let s = TableScorer {
        scores,
        n_items: ni,
    };
    let r = evaluate(&s, &train, &[&train], &opts(&[5, 20])).unwrap();
    assert_eq!(r.n_users, nu);
    assert!(r.to_map().values().all(|&v| v == 0.0), "{:?}", r.to_map());
    // Without exclusion they would all be hits at K = 5.
    let r = evaluate(&s, &train, &[], &opts(&[5])).unwrap();
    close(r.get("precision@5").unwrap(), 1.0);
}

#[test]
fn ties_break_to_lower_item_id() {
    // All 8 items score 1.0 → ranking is by id: (0, 1, 2, …).
    let s = TableScorer {
        scores: vec![1.0; 3 * 8],
        n_items: 8,
    };
    // user 0: T = {1} → with K = 1 ranked (0): miss; K = 2: hit at rank 2 (mrr 1/2).
    // user 1: T = {0} → hit at rank 1.
    // user 2: train = {0, 1}, T = {2} → ranked (2, 3, …): hit at rank 1.
    let target = inter(3, 8, &[&[1], &[0], &[2]]);
    let train = inter(3, 8, &[&[], &[], &[0, 1]]);
    let r = evaluate(&s, &target, &[&train], &opts(&[1, 2])).unwrap();
    let pu = r.per_user.unwrap();
    assert_eq!(pu.metric("hit@1").unwrap(), &[0.0, 1.0, 1.0]);
    assert_eq!(pu.metric("mrr@2").unwrap(), &[0.5, 1.0, 1.0]);

    let mut out = Vec::new();
    top_k(&[0.5, 0.7, 0.5, 0.7], 3, &mut out);
    assert_eq!(out, vec![1, 3, 0]);
}

#[test]
fn k_larger_than_rankable_items() {
    // 5 items, 3 excluded → 2 rankable: items 3 (score 2) and 4 (score 1). T = {4}, K = 10.
    // ranked (3, 4): hit at rank 2 → recall 1, precision 1/10, mrr 1/2,
    // ndcg = (1/log2 3) / (1/log2 2) = 1/log2 3.
    let s = TableScorer {
        scores: vec![9.0, 8.0, 7.0, 2.0, 1.0],
        n_items: 5,
    };
    let target = inter(1, 5, &[&[4]]);
    let train = inter(1, 5, &[&[0, 2]]);
    let valid = inter(1, 5, &[&[1]]);
    // A cut-off far beyond the item count (a user's `--ks`) is no allocation of K slots: the
    // ranking buffers hold at most the item count.
    let r = evaluate(
        &s,
        &target,
        &[&train, &valid],
        &opts(&[10, 1000, usize::MAX]),
    )
    .unwrap();
    for k in [10.0, 1000.0, usize::MAX as f64] {
        let at = r.at.iter().find(|a| a.k as f64 == k).unwrap();
        close(at.recall, 1.0);
        close(at.precision, 1.0 / k);
        close(at.mrr, 0.5);
        close(at.ndcg, 1.0 / 3f64.log2());
    }
}

#[test]
fn matches_naive_reference_on_random_data() {
    let (nu, ni, d) = (60, 300, 8);
    let (ue, ie, train, test) = random_case(3, nu, ni, d);
    let s = DotScorer::new(&ue, &ie, d).unwrap();
    let ks = [1, 5, 20, 150, 400];
    let r = evaluate(&s, &test, &[&train], &opts(&ks)).unwrap();
    for (at, &k) in r.at.iter().zip(&ks) {
        assert_eq!(at.k, k);
        let want = reference(&s, &test, &[&train], k);
        let got = [at.recall, at.ndcg, at.precision, at.hit, at.mrr];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "k {k}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn several_ks_equal_separate_runs_and_are_consistent() {
    let (nu, ni, d) = (50, 200, 6);
    let (ue, ie, train, test) = random_case(11, nu, ni, d);
    let s = DotScorer::new(&ue, &ie, d).unwrap();
    // Unsorted with a duplicate: reported once each, ascending.
    let all = evaluate(&s, &test, &[&train], &opts(&[20, 1, 5, 20])).unwrap();
    assert_eq!(
        all.at.iter().map(|a| a.k).collect::<Vec<_>>(),
        vec![1, 5, 20]
    );
    for a in &all.at {
        let one = evaluate(&s, &test, &[&train], &opts(&[a.k])).unwrap();
        assert_eq!(one.at[0], *a);
    }
    // Prefix consistency: recall, hit and hits·K/K… can only grow with K; mrr too.
    for w in all.at.windows(2) {
        assert!(w[0].recall <= w[1].recall && w[0].hit <= w[1].hit && w[0].mrr <= w[1].mrr);
    }
    // At K = 1: precision = hit = mrr = ndcg for every user (one slot, IDCG = 1).
    let a1 = all.at[0];
    close(a1.precision, a1.hit);
    close(a1.mrr, a1.hit);
    close(a1.ndcg, a1.hit);
}

#[test]
fn chunk_size_does_not_change_the_report() {
    let (nu, ni, d) = (23, 97, 16);
    let (ue, ie, train, test) = random_case(5, nu, ni, d);
    let s = DotScorer::new(&ue, &ie, d).unwrap();
    let run = |chunk| {
        let o = EvalOptions {
            chunk_users: chunk,
            ..opts(&[3, 10])
        };
        untimed(evaluate(&s, &test, &[&train], &o).unwrap())
    };
    let base = run(1);
    assert!(base.n_users > 0 && base.n_users < nu);
    for chunk in [3, 7, nu, nu + 100, 4096, usize::MAX] {
        assert_eq!(run(chunk), base, "chunk {chunk}");
    }
}

#[test]
fn users_without_targets_are_skipped_and_per_user_matches_averages() {
    let (nu, ni, d) = (40, 120, 4);
    let (ue, ie, train, test) = random_case(9, nu, ni, d);
    let s = DotScorer::new(&ue, &ie, d).unwrap();
    let r = evaluate(&s, &test, &[&train], &opts(&[5, 10])).unwrap();
    let active = test.active_users();
    assert!(active.len() < nu);
    assert_eq!(r.n_users, active.len());
    let pu = r.per_user.as_ref().unwrap();
    assert_eq!(pu.users, active);
    for (a, p) in r.at.iter().zip(&pu.at) {
        assert_eq!(a.k, p.k);
        for name in autosample_metrics::METRIC_NAMES {
            let col = p.get(name).unwrap();
            assert_eq!(col.len(), r.n_users);
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            close(mean, a.get(name).unwrap());
        }
    }
    // Without keep_per_user nothing is kept, and the averages are the same.
    let plain = evaluate(&s, &test, &[&train], &EvalOptions::with_ks(&[5, 10])).unwrap();
    assert!(plain.per_user.is_none());
    assert_eq!(plain.at, r.at);
}

#[test]
fn empty_target_gives_zero_users() {
    let s = TableScorer {
        scores: vec![1.0; 6],
        n_items: 3,
    };
    let r = evaluate(&s, &Interactions::empty(2, 3), &[], &opts(&[2])).unwrap();
    assert_eq!(r.n_users, 0);
    assert!(r.to_map().values().all(|&v| v == 0.0));
    assert_eq!(r.per_user.unwrap().users, Vec::<u32>::new());
}

#[test]
fn non_finite_scores_report_the_first_user() {
    // 6 users × 4 items; users 3 and 5 have NaN, user 1 (not evaluated) has +inf.
    let mut scores = vec![0.5f32; 6 * 4];
    scores[3 * 4 + 2] = f32::NAN;
    scores[5 * 4] = f32::NAN;
    scores[4] = f32::INFINITY;
    let s = TableScorer { scores, n_items: 4 };
    let target = inter(6, 4, &[&[0], &[], &[1], &[1], &[1], &[2]]);
    for chunk in [1, 2, 4, 100] {
        let o = EvalOptions {
            chunk_users: chunk,
            ..opts(&[2])
        };
        match evaluate(&s, &target, &[], &o) {
            Err(EvalError::NonFiniteScore {
                user: 3,
                item: 2,
                value,
            }) => assert!(value.is_nan()),
            other => panic!("chunk {chunk}: {other:?}"),
        }
    }
    // -inf counts too, even on an item that would be excluded.
    let mut scores = vec![0.5f32; 4];
    scores[1] = f32::NEG_INFINITY;
    let s = TableScorer { scores, n_items: 4 };
    let target = inter(1, 4, &[&[0]]);
    let train = inter(1, 4, &[&[1]]);
    let e = evaluate(&s, &target, &[&train], &opts(&[2])).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::NonFiniteScore {
                user: 0,
                item: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("user 0"));
}

#[test]
fn option_and_shape_errors() {
    let s = TableScorer {
        scores: vec![1.0; 6],
        n_items: 3,
    };
    let t = inter(2, 3, &[&[0], &[1]]);
    let bad = |o: EvalOptions| evaluate(&s, &t, &[], &o).unwrap_err();
    assert_eq!(bad(EvalOptions::with_ks(&[])), EvalError::NoCutoffs);
    assert_eq!(bad(EvalOptions::with_ks(&[5, 0])), EvalError::ZeroCutoff);
    assert_eq!(
        bad(EvalOptions {
            chunk_users: 0,
            ..EvalOptions::default()
        }),
        EvalError::ZeroChunk
    );

    let o = EvalOptions::default();
    let wide = Interactions::empty(2, 4);
    assert!(matches!(
        evaluate(&s, &wide, &[], &o),
        Err(EvalError::ItemSpaceMismatch {
            expected: 3,
            got: 4,
            ..
        })
    ));
    assert!(matches!(
        evaluate(&s, &t, &[&t, &wide], &o),
        Err(EvalError::ItemSpaceMismatch { ref what, .. }) if what == "exclude[1]"
    ));
    let tall = Interactions::empty(3, 3);
    assert!(matches!(
        evaluate(&s, &t, &[&tall], &o),
        Err(EvalError::UserSpaceMismatch {
            expected: 2,
            got: 3,
            ..
        })
    ));
    // DotScorer knows its user count: 3 user rows vs a 2-user split.
    let ue = [0.0f32; 3];
    let ie = [0.0f32; 3];
    let d = DotScorer::new(&ue, &ie, 1).unwrap();
    assert!(matches!(
        evaluate(&d, &t, &[], &o),
        Err(EvalError::UserSpaceMismatch { ref what, expected: 2, got: 3 }) if what == "scorer"
    ));
}

#[test]
fn report_serialises() {
    let s = TableScorer {
        scores: vec![3.0, 2.0, 1.0],
        n_items: 3,
    };
    let t = inter(1, 3, &[&[0]]);
    let r = evaluate(&s, &t, &[], &opts(&[1, 2])).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    let back: EvalReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert!(json.contains("\"recall\":1.0"));
    let o: EvalOptions = serde_json::from_str("{\"ks\":[10,20]}").unwrap();
    assert_eq!(
        o,
        EvalOptions {
            ks: vec![10, 20],
            ..EvalOptions::default()
        }
    );
}
