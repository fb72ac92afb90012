//! Distribution and selection-rule tests: each sampler's output is checked against the rule
//! recomputed by brute force over the same candidates (a shared [`CandidatePool`]), or against
//! its target distribution with a chi-square test at significance 1e-4 (seeds are fixed, so the
//! tests are deterministic; the threshold only makes sure they test the right thing).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

mod common;

use autosample_data::{Interactions, ItemId, UserId};
use autosample_samplers::{
    AhnsSampler, Auxiliary, CandidatePool, CnsSampler, DensGate, DensSampler, DnsMnSampler,
    DnsSampler, MixGcfSampler, MixPool, NegativeSampler, Negatives, PairBatch, PopularitySampler,
    SRNS_MEMORY_LIMIT, SampleContext, SamplerConfig, SamplerError, SamplerRng, Scorer, SrnsSampler,
    dens_params_len, dot, gate_linear,
};
use common::{TestScorer, all_pairs, chi_square, random_split};
use rand::SeedableRng;

/// One batch through `sampler`.
#[allow(clippy::too_many_arguments)]
fn sample(
    sampler: &mut dyn NegativeSampler,
    train: &Interactions,
    scorer: Option<&dyn Scorer>,
    users: &[UserId],
    positives: &[ItemId],
    k: usize,
    pool: Option<&CandidatePool>,
    epoch: usize,
    total_epochs: usize,
    rng: &mut SamplerRng,
) -> Negatives {
    let ctx = SampleContext {
        train,
        scorer,
        epoch,
        total_epochs,
        pool,
    };
    let batch = PairBatch { users, positives };
    let mut out = Negatives::default();
    sampler
        .sample_batch(&batch, k, &ctx, rng, &mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", sampler.name()));
    out
}

fn items(n: &Negatives) -> &[ItemId] {
    n.items().expect("item negatives")
}

// ---------------------------------------------------------------------------------------------
// PNS

/// Items 0..10 with degrees 40, 36, …, 4 from filler users 1..=40, item 10 never interacted
/// with. User 0 likes item 3 (light: rejection path); user 41 likes items 0..=7, which hold
/// far more than 7/8 of the popularity mass (exact complement path).
fn popularity_split() -> Interactions {
    let mut pairs = vec![(0u32, 3u32)];
    for j in 0..10u32 {
        for u in 1..=(40 - 4 * j) {
            pairs.push((u, j));
        }
    }
    pairs.extend((0..8).map(|j| (41, j)));
    Interactions::from_pairs(42, 11, &pairs)
}

fn expected_pns(train: &Interactions, user: UserId, beta: f64, smoothing: f64) -> Vec<f64> {
    let w: Vec<f64> = train
        .item_degrees()
        .iter()
        .enumerate()
        .map(|(j, &f)| {
            let base = f as f64 + smoothing;
            if train.contains(user, j as ItemId) || base == 0.0 {
                0.0
            } else {
                base.powf(beta)
            }
        })
        .collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

#[test]
fn pns_frequencies_match_degree_power_over_non_positives() {
    let train = popularity_split();
    let n = 60_000;
    for (beta, smoothing) in [(0.75, 0.0), (1.0, 0.0), (0.75, 1.0)] {
        let mut sampler = PopularitySampler::new(beta, smoothing);
        sampler
            .start_epoch(&SampleContext::new(&train))
            .expect("table");
        for user in [0u32, 41] {
            let users = vec![user; n];
            let positives = vec![train.items(user)[0]; n];
            let mut rng = SamplerRng::seed_from_u64(u64::from(user) + 17);
            let out = sample(
                &mut sampler,
                &train,
                None,
                &users,
                &positives,
                1,
                None,
                0,
                1,
                &mut rng,
            );
            let mut counts = vec![0usize; 11];
            for &j in items(&out) {
                counts[j as usize] += 1;
            }
            let expected = expected_pns(&train, user, beta, smoothing);
            // Cold item 10: probability 0 without smoothing, > 0 with it.
            assert_eq!(expected[10] > 0.0, smoothing > 0.0);
            let (stat, critical) = chi_square(&counts, &expected);
            assert!(
                stat < critical,
                "β={beta} smoothing={smoothing} user {user}: χ² {stat:.1} ≥ {critical:.1}, \
                 counts {counts:?}, expected {expected:?}"
            );
        }
    }
    // The documented diagnostic matches the formula for a user without positives.
    let p = PopularitySampler::new(1.0, 0.0).item_probabilities(&train);
    assert_eq!(p[10], 0.0);
    let degrees = train.item_degrees();
    assert!((p[0] / p[9] - f64::from(degrees[0]) / f64::from(degrees[9])).abs() < 1e-12);
}

#[test]
fn pns_user_without_weighted_negatives_errors_and_names_the_fix() {
    // Items 2 and 3 have no interaction; user 0's only non-positives are those.
    let train = Interactions::from_pairs(2, 4, &[(0, 0), (0, 1), (1, 0), (1, 1)]);
    let mut sampler: Box<dyn NegativeSampler> =
        "popularity".parse::<SamplerConfig>().unwrap().build();
    let mut rng = SamplerRng::seed_from_u64(0);
    let ctx = SampleContext::new(&train);
    let batch = PairBatch {
        users: &[0],
        positives: &[0],
    };
    let mut out = Negatives::default();
    let err = sampler
        .sample_batch(&batch, 1, &ctx, &mut rng, &mut out)
        .unwrap_err();
    assert!(
        matches!(
            err,
            SamplerError::UserHasNoWeightedNegatives { user: 0, .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("smoothing=1"), "{err}");
    // With smoothing the cold items are drawn, uniformly (equal weights 1).
    let mut sampler = PopularitySampler::new(0.75, 1.0);
    let out = sample(
        &mut sampler,
        &train,
        None,
        &[0; 4000],
        &[0; 4000],
        1,
        None,
        0,
        1,
        &mut rng,
    );
    let twos = items(&out).iter().filter(|&&j| j == 2).count();
    assert!(items(&out).iter().all(|&j| j == 2 || j == 3));
    assert!((1800..2200).contains(&twos), "{twos}");
}

// ---------------------------------------------------------------------------------------------
// DNS, DNS(M,N), CNS, AHNS over a shared pool

struct Fixture {
    train: Interactions,
    users: Vec<UserId>,
    positives: Vec<ItemId>,
    scorer: TestScorer,
}

fn fixture(layers: usize) -> Fixture {
    let train = random_split(30, 80, 20, 0, 3);
    let (users, positives) = all_pairs(&train);
    let scorer = TestScorer::random(30, 80, 6, layers, 21);
    Fixture {
        train,
        users,
        positives,
        scorer,
    }
}

impl Fixture {
    fn pool(&self, per_pair: usize, seed: u64) -> CandidatePool {
        let batch = PairBatch {
            users: &self.users,
            positives: &self.positives,
        };
        CandidatePool::draw(
            &batch,
            per_pair,
            &self.train,
            &mut SamplerRng::seed_from_u64(seed),
        )
        .unwrap()
    }

    fn run(
        &self,
        sampler: &mut dyn NegativeSampler,
        k: usize,
        pool: Option<&CandidatePool>,
        epoch: usize,
        total: usize,
        seed: u64,
    ) -> Negatives {
        sample(
            sampler,
            &self.train,
            Some(&self.scorer),
            &self.users,
            &self.positives,
            k,
            pool,
            epoch,
            total,
            &mut SamplerRng::seed_from_u64(seed),
        )
    }

    /// The scores of group `g` (of size `m`) of pair `b`'s pool candidates.
    fn group(&self, pool: &CandidatePool, b: usize, g: usize, m: usize) -> Vec<(ItemId, f32)> {
        pool.of(b)[g * m..(g + 1) * m]
            .iter()
            .map(|&j| (j, self.scorer.score(self.users[b], j)))
            .collect()
    }
}

/// The first maximum (no NaN here).
fn brute_argmax(group: &[(ItemId, f32)]) -> ItemId {
    let mut best = group[0];
    for &c in group {
        if c.1 > best.1 {
            best = c;
        }
    }
    best.0
}

#[test]
fn dns_returns_the_highest_scoring_candidate_of_each_group() {
    for layers in [1, 3] {
        let f = fixture(layers);
        let (m, k) = (6, 3);
        let pool = f.pool(m * k + 5, 1);
        let out = f.run(&mut DnsSampler::new(m), k, Some(&pool), 0, 1, 9);
        for b in 0..f.users.len() {
            for g in 0..k {
                assert_eq!(
                    items(&out)[b * k + g],
                    brute_argmax(&f.group(&pool, b, g, m)),
                    "pair {b} group {g}"
                );
            }
        }
    }
}

#[test]
fn dns_mn_with_n_equal_m_is_uniform_and_with_n_one_is_dns() {
    // Uniformity: one user with 8 non-positives out of 10, M = N = 8.
    let train = Interactions::from_pairs(1, 10, &[(0, 0), (0, 1)]);
    let scorer = TestScorer::random(1, 10, 4, 1, 2);
    let n = 40_000;
    let out = sample(
        &mut DnsMnSampler::new(8, 8),
        &train,
        Some(&scorer),
        &vec![0; n],
        &vec![0; n],
        1,
        None,
        0,
        1,
        &mut SamplerRng::seed_from_u64(5),
    );
    let mut counts = vec![0usize; 10];
    for &j in items(&out) {
        counts[j as usize] += 1;
    }
    let mut expected = vec![1.0 / 8.0; 10];
    expected[0] = 0.0;
    expected[1] = 0.0;
    let (stat, critical) = chi_square(&counts, &expected);
    assert!(stat < critical, "χ² {stat:.1} ≥ {critical:.1}: {counts:?}");
    // DNS for contrast is far from uniform under the same scorer.
    let dns = sample(
        &mut DnsSampler::new(8),
        &train,
        Some(&scorer),
        &vec![0; 2000],
        &vec![0; 2000],
        1,
        None,
        0,
        1,
        &mut SamplerRng::seed_from_u64(5),
    );
    let mut dns_counts = vec![0usize; 10];
    for &j in items(&dns) {
        dns_counts[j as usize] += 1;
    }
    assert!(*dns_counts.iter().max().unwrap() > 1000, "{dns_counts:?}");

    // N = 1 is DNS exactly: on a shared pool, and on own draws with the same seed.
    let f = fixture(3);
    let (m, k) = (7, 2);
    let pool = f.pool(m * k, 4);
    for pool in [Some(&pool), None] {
        let a = f.run(&mut DnsMnSampler::new(m, 1), k, pool, 0, 1, 33);
        let b = f.run(&mut DnsSampler::new(m), k, pool, 0, 1, 33);
        assert_eq!(a, b);
    }
}

#[test]
fn dns_mn_picks_within_the_top_n_of_its_group() {
    let f = fixture(3);
    let (m, n, k) = (10, 3, 2);
    let pool = f.pool(m * k, 8);
    let out = f.run(&mut DnsMnSampler::new(m, n), k, Some(&pool), 0, 1, 2);
    let mut rank_seen = [0usize; 3];
    for b in 0..f.users.len() {
        for g in 0..k {
            let group = f.group(&pool, b, g, m);
            let chosen = items(&out)[b * k + g];
            let score = f.scorer.score(f.users[b], chosen);
            let above = group.iter().filter(|c| c.1 > score).count();
            assert!(above < n, "pair {b}: rank {above} ≥ N");
            rank_seen[above] += 1;
        }
    }
    // Each of the top 3 ranks is chosen (roughly a third of the time).
    assert!(rank_seen.iter().all(|&c| c > 40), "{rank_seen:?}");
}

#[test]
fn cns_window_shrinks_with_the_epoch() {
    let f = fixture(3);
    let (m, total) = (8, 10);
    let pool = f.pool(m, 6);
    let expected_windows = [8, 7, 6, 5, 4, 4, 3, 2, 1, 1];
    let dns = f.run(&mut DnsSampler::new(m), 1, Some(&pool), 0, total, 1);
    let mut disagreement = Vec::new();
    for (t, &w) in expected_windows.iter().enumerate() {
        assert_eq!(CnsSampler::window(m, t, total), w);
        let out = f.run(&mut CnsSampler::new(m), 1, Some(&pool), t, total, 1);
        for b in 0..f.users.len() {
            let window = &f.group(&pool, b, 0, m)[..w];
            assert_eq!(items(&out)[b], brute_argmax(window), "epoch {t} pair {b}");
        }
        disagreement.push(
            items(&out)
                .iter()
                .zip(items(&dns))
                .filter(|(a, b)| a != b)
                .count(),
        );
    }
    // Epoch 0 is DNS; the last epochs return the first candidate, mostly not DNS's choice.
    assert_eq!(disagreement[0], 0);
    assert!(disagreement[9] > disagreement[1], "{disagreement:?}");
    let out = f.run(&mut CnsSampler::new(m), 1, Some(&pool), 9, total, 1);
    for b in 0..f.users.len() {
        assert_eq!(items(&out)[b], pool.of(b)[0]);
    }
}

#[test]
fn ahns_picks_the_argmin_of_its_criterion_hand_derived() {
    // One user (value 1), s(u, j) = item value. Positives of the user: items 0 and 5.
    //  pair 0: s(u,0) = 1 → target 0.1·(1 + 1)^(−1) = 0.05; candidates 1..=4 with scores
    //          0.9, 0.06, −0.5, 0.3 → |·−0.05| = 0.85, 0.01, 0.55, 0.25 → item 2.
    //  pair 1: s(u,5) = −3 → target 0.1·(−2)^(−1) = −0.05; candidates 6, 7, 3, 1 with scores
    //          0.0, −0.04, −0.5, 0.9 → 0.05, 0.01, 0.45, 0.95 → item 7.
    let values = [1.0, 0.9, 0.06, -0.5, 0.3, -3.0, 0.0, -0.04];
    let scorer = TestScorer::scalar(&[1.0], &values);
    let train = Interactions::from_pairs(1, 8, &[(0, 0), (0, 5)]);
    let pool = CandidatePool {
        per_pair: 4,
        items: vec![1, 2, 3, 4, 6, 7, 3, 1],
    };
    let run = |sampler: &mut dyn NegativeSampler| {
        sample(
            sampler,
            &train,
            Some(&scorer),
            &[0, 0],
            &[0, 5],
            1,
            Some(&pool),
            0,
            1,
            &mut SamplerRng::seed_from_u64(0),
        )
    };
    assert_eq!(items(&run(&mut AhnsSampler::new(4, 1.0, 0.1, -2))), &[2, 7]);
    // DNS on the same candidates: the highest scores, items 1 and 1.
    assert_eq!(items(&run(&mut DnsSampler::new(4))), &[1, 1]);
}

#[test]
fn ahns_matches_a_brute_force_argmin_on_random_scores() {
    let f = fixture(3);
    let (m, k) = (9, 2);
    let pool = f.pool(m * k, 12);
    for (alpha, beta, p) in [(1.0f32, 0.1f32, -2i32), (0.5, 1.0, -3), (2.0, 0.3, 0)] {
        let mut sampler = AhnsSampler::new(m, f64::from(alpha), f64::from(beta), p);
        let out = f.run(&mut sampler, k, Some(&pool), 0, 1, 4);
        for b in 0..f.users.len() {
            let s_pos = f.scorer.score(f.users[b], f.positives[b]);
            let target = beta * (s_pos + alpha).powi(p + 1);
            for g in 0..k {
                let group = f.group(&pool, b, g, m);
                let crit: Vec<f32> = group.iter().map(|c| (c.1 - target).abs()).collect();
                let best = (0..m).fold(0, |a, i| if crit[i] < crit[a] { i } else { a });
                assert_eq!(items(&out)[b * k + g], group[best].0, "pair {b} group {g}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SRNS

/// The scorer of epoch `t`: fixed random tables plus an epoch-dependent perturbation, so that
/// scores vary across epochs and the history std is non-zero.
fn drifting_scorer(t: usize) -> TestScorer {
    drifting_scorer_sized(20, 30, t)
}

/// [`drifting_scorer`] for `n_users × n_items`.
fn drifting_scorer_sized(n_users: usize, n_items: usize, t: usize) -> TestScorer {
    let base = TestScorer::random(n_users, n_items, 4, 1, 77);
    let noise = TestScorer::random(n_users, n_items, 4, 1, 1000 + t as u64);
    let mix = |a: &TestScorer, b: &TestScorer, users: bool| -> Vec<f32> {
        let n = if users { n_users } else { n_items };
        (0..n as u32)
            .flat_map(|r| {
                let (x, y) = if users {
                    (a.user_layer(0, r), b.user_layer(0, r))
                } else {
                    (a.item_layer(0, r), b.item_layer(0, r))
                };
                x.iter()
                    .zip(y)
                    .map(|(p, q)| p + 0.5 * q)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    TestScorer::from_tables(
        n_users,
        n_items,
        4,
        1,
        mix(&base, &noise, true),
        mix(&base, &noise, false),
    )
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The SRNS criterion recomputed from the reported memory and positive history.
fn srns_criteria(
    sampler: &SrnsSampler,
    memory: &[autosample_samplers::MemorySlot],
    pos_history: &[(usize, f32)],
    scorer: &TestScorer,
    user: UserId,
    positive: ItemId,
    epoch: usize,
) -> (Vec<f32>, Vec<f32>) {
    let s_pos = scorer.score(user, positive);
    let mut crit = Vec::new();
    let mut stds = Vec::new();
    for slot in memory {
        let xs: Vec<f64> = slot
            .history
            .iter()
            .filter(|(e, _)| *e < epoch && *e + 5 >= epoch)
            .filter_map(|&(e, sj)| {
                pos_history
                    .iter()
                    .find(|(pe, _)| *pe == e)
                    .map(|&(_, si)| f64::from(sigmoid(sj - si)))
            })
            .collect();
        let std = if xs.len() < 2 {
            0.0
        } else {
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt() as f32
        };
        let likelihood = sigmoid(scorer.score(user, slot.item) - s_pos);
        stds.push(std);
        crit.push(sampler.criterion(likelihood, std, epoch));
    }
    (crit, stds)
}

#[test]
fn srns_selects_by_likelihood_plus_ramped_std_and_keeps_memory_across_epochs() {
    let train = random_split(20, 30, 6, 0, 9);
    let (users, positives) = all_pairs(&train);
    // Low temperature: high-scoring slots survive updates and accumulate history; a large α
    // with a short warm-up makes the std term decisive.
    let mut sampler = SrnsSampler::new(4, 2, 50.0, 2.0, 0.05).with_varset(0);
    let mut rng = SamplerRng::seed_from_u64(3);
    let mut std_seen = 0usize;
    let mut std_decisive = 0usize;
    for epoch in 0..8 {
        let scorer = drifting_scorer(epoch);
        let ctx = SampleContext {
            scorer: Some(&scorer),
            epoch,
            total_epochs: 8,
            ..SampleContext::new(&train)
        };
        let before: Vec<_> = (0..20).map(|u| sampler.memory(u)).collect();
        sampler.start_epoch(&ctx).unwrap();
        let after: Vec<_> = (0..20).map(|u| sampler.memory(u)).collect();
        assert_eq!(before, after, "start_epoch must keep the memory");
        if epoch == 0 {
            // First batch initialises the memories; nothing to compare against yet.
            sample(
                &mut sampler,
                &train,
                Some(&scorer),
                &users,
                &positives,
                1,
                None,
                epoch,
                8,
                &mut rng,
            );
        }
        // One pair per user per batch, so each batch's selection reads a known memory.
        for chunk in 0..6 {
            let picked: Vec<usize> = (0..users.len())
                .filter(|&b| {
                    let u = users[b];
                    let first = users.iter().position(|&x| x == u).unwrap();
                    b - first == chunk
                })
                .collect();
            if picked.is_empty() {
                continue;
            }
            let bu: Vec<UserId> = picked.iter().map(|&b| users[b]).collect();
            let bp: Vec<ItemId> = picked.iter().map(|&b| positives[b]).collect();
            let memories: Vec<_> = bu.iter().map(|&u| sampler.memory(u).unwrap()).collect();
            let histories: Vec<_> = bu
                .iter()
                .zip(&bp)
                .map(|(&u, &i)| sampler.positive_history(&train, u, i).unwrap())
                .collect();
            let out = sample(
                &mut sampler,
                &train,
                Some(&scorer),
                &bu,
                &bp,
                1,
                None,
                epoch,
                8,
                &mut rng,
            );
            for (n, &neg) in items(&out).iter().enumerate() {
                let memory = &memories[n];
                let (crit, stds) = srns_criteria(
                    &sampler,
                    memory,
                    &histories[n],
                    &scorer,
                    bu[n],
                    bp[n],
                    epoch,
                );
                let best = crit.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let chosen = memory
                    .iter()
                    .zip(&crit)
                    .filter(|(s, _)| s.item == neg)
                    .map(|(_, c)| *c)
                    .fold(f32::NEG_INFINITY, f32::max);
                assert!(
                    chosen >= best - 1e-4,
                    "epoch {epoch}: chose {neg} with criterion {chosen}, best {best}"
                );
                if epoch == 0 {
                    // Warm-up: at t = 0 the std term is off, the pick is the best current score.
                    let top = memory
                        .iter()
                        .map(|s| scorer.score(bu[n], s.item))
                        .fold(f32::NEG_INFINITY, f32::max);
                    assert_eq!(scorer.score(bu[n], neg), top);
                }
                std_seen += usize::from(stds.iter().any(|&s| s > 0.0));
                let likelihood_best = memory
                    .iter()
                    .map(|s| scorer.score(bu[n], s.item))
                    .fold(f32::NEG_INFINITY, f32::max);
                std_decisive += usize::from(scorer.score(bu[n], neg) < likelihood_best);
            }
        }
    }
    assert!(std_seen > 20, "the std term was never active: {std_seen}");
    assert!(
        std_decisive > 5,
        "the std term never changed a pick: {std_decisive}"
    );
}

#[test]
fn srns_rejects_more_negatives_than_slots() {
    let train = random_split(5, 20, 4, 0, 1);
    let scorer = TestScorer::random(5, 20, 4, 1, 1);
    let mut sampler = SrnsSampler::new(2, 1, 1.0, 1.0, 1.0);
    let ctx = SampleContext {
        scorer: Some(&scorer),
        ..SampleContext::new(&train)
    };
    let batch = PairBatch {
        users: &[0],
        positives: &[train.items(0)[0]],
    };
    let err = sampler
        .sample_batch(
            &batch,
            3,
            &ctx,
            &mut SamplerRng::seed_from_u64(0),
            &mut Negatives::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("s1"), "{err}");
}

/// `sqrt(Σ (x − mean)² / n)`, as the reference computes its std.
fn population_std(xs: &[f64]) -> f32 {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt() as f32
}

/// The pairs `b` that are their user's `n`-th pair (0-based) in `users` (user-major order).
fn nth_pair_of_each_user(users: &[UserId], n: usize) -> Vec<usize> {
    (0..users.len())
        .filter(|&b| b - users.iter().position(|&x| x == users[b]).unwrap() == n)
        .collect()
}

#[test]
fn srns_varset_mode_std_from_epoch_snapshots_changes_picks_with_the_default_temperature() {
    let train = random_split(20, 30, 6, 0, 9);
    let (users, positives) = all_pairs(&train);
    // Every hyperparameter at its default (ML-1M run.sh, varset 3000), in particular τ = 10.
    let config: SamplerConfig = "srns".parse().unwrap();
    assert_eq!(
        config.spec(),
        "srns:s1=8,s2_div_s1=8,alpha=5,warmup=50,temperature=10,varset=3000"
    );
    let mut sampler = SrnsSampler::new(8, 8, 5.0, 50.0, 10.0);
    assert_eq!(sampler.varset(), 3000);
    let epochs = 12;
    let mut rng = SamplerRng::seed_from_u64(3);
    let (mut checked_late, mut std_seen_late, mut std_decisive) = (0usize, 0usize, 0usize);
    let mut previous: Option<Vec<(Vec<u32>, Vec<ItemId>)>> = None;
    for epoch in 0..epochs {
        let scorer = drifting_scorer(epoch);
        let ctx = SampleContext {
            scorer: Some(&scorer),
            epoch,
            total_epochs: epochs,
            ..SampleContext::new(&train)
        };
        sampler.start_epoch(&ctx).unwrap();
        // The first batch of the epoch (user 0's first pair alone) redraws every varset.
        let first = sample(
            &mut sampler,
            &train,
            Some(&scorer),
            &users[..1],
            &positives[..1],
            1,
            None,
            epoch,
            epochs,
            &mut rng,
        );
        assert!(!train.contains(users[0], items(&first)[0]));
        // The other users' memory indices survived the redraw; their items are the new
        // varset's items at those indices.
        for u in 1..20u32 {
            let indices = sampler.memory_indices(u).unwrap().to_vec();
            let varset = sampler.varset_items(u).unwrap().to_vec();
            assert_eq!(varset.len(), 3000);
            assert!(varset.iter().all(|&j| !train.contains(u, j)));
            let memory = sampler.memory(u).unwrap();
            for (slot, &m) in memory.iter().zip(&indices) {
                assert_eq!(slot.item, varset[m as usize]);
            }
            if let Some(previous) = &previous {
                assert_eq!(previous[u as usize].0, indices, "user {u} epoch {epoch}");
                assert_ne!(
                    previous[u as usize].1, varset,
                    "user {u}: varset not redrawn"
                );
            }
        }
        // Rows: the snapshots of epochs max(1, t−4) ..= t (none at t = 0).
        let rows: Vec<usize> = (epoch.saturating_sub(4).max(1)..=epoch).collect();
        let row_scorers: Vec<TestScorer> = rows.iter().map(|&e| drifting_scorer(e)).collect();
        // One pair per user per batch, each checked against the criterion recomputed from the
        // reported memory, the epoch scorers and the current scores.
        for chunk in 0..6 {
            let picked = nth_pair_of_each_user(&users, chunk);
            if picked.is_empty() {
                continue;
            }
            let bu: Vec<UserId> = picked.iter().map(|&b| users[b]).collect();
            let bp: Vec<ItemId> = picked.iter().map(|&b| positives[b]).collect();
            let memories: Vec<_> = bu.iter().map(|&u| sampler.memory(u).unwrap()).collect();
            let pos_histories: Vec<_> = bu
                .iter()
                .zip(&bp)
                .map(|(&u, &i)| sampler.positive_history(&train, u, i).unwrap())
                .collect();
            let out = sample(
                &mut sampler,
                &train,
                Some(&scorer),
                &bu,
                &bp,
                1,
                None,
                epoch,
                epochs,
                &mut rng,
            );
            for (n, &neg) in items(&out).iter().enumerate() {
                let (u, i) = (bu[n], bp[n]);
                // The histories are the epoch scorers' scores (the snapshots are exact copies).
                let expected_pos: Vec<(usize, f32)> = rows
                    .iter()
                    .zip(&row_scorers)
                    .map(|(&e, sc)| (e, sc.score(u, i)))
                    .collect();
                assert_eq!(pos_histories[n], expected_pos, "epoch {epoch}");
                let s_pos = scorer.score(u, i);
                let mut crit = Vec::new();
                let mut any_std = false;
                for slot in &memories[n] {
                    let expected: Vec<(usize, f32)> = rows
                        .iter()
                        .zip(&row_scorers)
                        .map(|(&e, sc)| (e, sc.score(u, slot.item)))
                        .collect();
                    assert_eq!(slot.history, expected, "epoch {epoch}");
                    let xs: Vec<f64> = slot
                        .history
                        .iter()
                        .zip(&pos_histories[n])
                        .map(|(&(_, sj), &(_, si))| f64::from(sigmoid(sj - si)))
                        .collect();
                    let std = if xs.len() < 2 {
                        0.0
                    } else {
                        population_std(&xs)
                    };
                    any_std |= std > 0.0;
                    let likelihood = sigmoid(scorer.score(u, slot.item) - s_pos);
                    crit.push(sampler.criterion(likelihood, std, epoch));
                }
                let best = crit.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let chosen = memories[n]
                    .iter()
                    .zip(&crit)
                    .filter(|(s, _)| s.item == neg)
                    .map(|(_, c)| *c)
                    .fold(f32::NEG_INFINITY, f32::max);
                assert!(
                    chosen >= best - 1e-5,
                    "epoch {epoch}: chose {neg} with criterion {chosen}, best {best}"
                );
                let top_score = memories[n]
                    .iter()
                    .map(|s| scorer.score(u, s.item))
                    .fold(f32::NEG_INFINITY, f32::max);
                if epoch < 2 {
                    // One row or none: std 0, the pick is the best current score.
                    assert!(!any_std);
                    assert_eq!(scorer.score(u, neg), top_score);
                } else {
                    checked_late += 1;
                    std_seen_late += usize::from(any_std);
                    std_decisive += usize::from(scorer.score(u, neg) < top_score);
                }
            }
        }
        previous = Some(
            (0..20u32)
                .map(|u| {
                    (
                        sampler.memory_indices(u).unwrap().to_vec(),
                        sampler.varset_items(u).unwrap().to_vec(),
                    )
                })
                .collect(),
        );
    }
    // From epoch 2 on every memory item has a history: the std term is always there (unlike
    // the memory-only mode at τ = 10), and with α·t/50 it changes some picks.
    assert_eq!(std_seen_late, checked_late, "a pair without any std");
    assert!(
        std_decisive >= 20,
        "the std term changed only {std_decisive} of {checked_late} picks"
    );
}

#[test]
fn srns_varset_entries_are_uniform_non_positives_redrawn_every_epoch() {
    // User 0 likes items 0, 3, 7 of 12; user 1 is never in a batch.
    let train = Interactions::from_pairs(2, 12, &[(0, 0), (0, 3), (0, 7), (1, 5)]);
    let scorer = TestScorer::random(2, 12, 4, 1, 8);
    let mut sampler = SrnsSampler::new(8, 8, 5.0, 50.0, 10.0);
    let mut counts = vec![0usize; 12];
    let mut previous: Option<Vec<ItemId>> = None;
    for epoch in 0..4 {
        let ctx = SampleContext {
            scorer: Some(&scorer),
            epoch,
            total_epochs: 4,
            ..SampleContext::new(&train)
        };
        sampler.start_epoch(&ctx).unwrap();
        sample(
            &mut sampler,
            &train,
            Some(&scorer),
            &[0],
            &[0],
            1,
            None,
            epoch,
            4,
            &mut SamplerRng::seed_from_u64(epoch as u64),
        );
        let varset = sampler.varset_items(0).unwrap().to_vec();
        for &j in &varset {
            counts[j as usize] += 1;
        }
        assert_ne!(
            previous.as_ref(),
            Some(&varset),
            "epoch {epoch}: same varset"
        );
        previous = Some(varset);
        assert!(sampler.memory_indices(0).unwrap().iter().all(|&m| m < 3000));
    }
    let mut expected = vec![1.0 / 9.0; 12];
    for j in [0, 3, 7] {
        expected[j] = 0.0;
    }
    let (stat, critical) = chi_square(&counts, &expected);
    assert!(stat < critical, "χ² {stat:.1} ≥ {critical:.1}: {counts:?}");
    // User 1's memory is still the initial one: S1 distinct indices.
    let mut initial = sampler.memory_indices(1).unwrap().to_vec();
    initial.sort_unstable();
    initial.dedup();
    assert_eq!(initial.len(), 8);
}

#[test]
fn srns_varset_draws_do_not_depend_on_the_thread_count() {
    let (n_users, n_items) = (150, 40);
    let train = random_split(n_users, n_items, 12, 2, 4);
    // Item-major order: many distinct users per batch, so several update chunks.
    let mut pairs: Vec<(UserId, ItemId)> = train.pairs().collect();
    pairs.sort_by_key(|&(u, i)| (i, u));
    let (users, positives): (Vec<UserId>, Vec<ItemId>) = pairs.into_iter().unzip();
    let run = || {
        let mut sampler = SrnsSampler::new(4, 2, 5.0, 1.0, 10.0).with_varset(16);
        let mut rng = SamplerRng::seed_from_u64(21);
        let mut out = Vec::new();
        for epoch in 0..4 {
            let scorer = drifting_scorer_sized(n_users, n_items, epoch);
            let ctx = SampleContext {
                scorer: Some(&scorer),
                epoch,
                total_epochs: 4,
                ..SampleContext::new(&train)
            };
            sampler.start_epoch(&ctx).unwrap();
            for (us, ps) in users.chunks(200).zip(positives.chunks(200)) {
                out.push(sample(
                    &mut sampler,
                    &train,
                    Some(&scorer),
                    us,
                    ps,
                    2,
                    None,
                    epoch,
                    4,
                    &mut rng,
                ));
            }
        }
        let state: Vec<_> = (0..n_users as UserId)
            .map(|u| {
                (
                    sampler.memory(u),
                    sampler.varset_items(u).map(<[_]>::to_vec),
                )
            })
            .collect();
        (out, state)
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(run);
    let two = pool(2).install(run);
    assert_eq!(one, two);
    // Not a trivially equal run: every user with a negative has a varset and a memory.
    assert!(one.1.iter().all(|(m, v)| m.is_some() && v.is_some()));
}

#[test]
fn srns_varset_memory_guard_and_missing_scorer() {
    let n_users = 10_000;
    let pairs: Vec<(UserId, ItemId)> = (0..n_users as u32).map(|u| (u, u % 10)).collect();
    let train = Interactions::from_pairs(n_users, 10, &pairs);
    let scorer = TestScorer::random(n_users, 10, 4, 1, 3);
    let ctx = SampleContext {
        scorer: Some(&scorer),
        ..SampleContext::new(&train)
    };
    // 10,000 users × 1,000,000 × 4 bytes = 40 GB.
    let config: SamplerConfig = "srns:varset=1000000".parse().unwrap();
    let mut sampler = config.try_build().unwrap();
    let err = sampler.start_epoch(&ctx).unwrap_err();
    match &err {
        SamplerError::MemoryLimit {
            sampler,
            needed_bytes,
            limit_bytes,
            ..
        } => {
            assert_eq!(*sampler, "srns");
            assert_eq!(*limit_bytes, SRNS_MEMORY_LIMIT);
            assert!(*needed_bytes >= 40_000_000_000, "{needed_bytes}");
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("lower `varset`") && msg.contains("varset=0"),
        "{msg}"
    );
    // The suggested size is the largest that fits.
    let fits: usize = msg
        .split("at most ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let probe = |v| SrnsSampler::new(8, 8, 5.0, 50.0, 10.0).with_varset(v);
    assert!(probe(fits).state_bytes(n_users, 10, 4) <= SRNS_MEMORY_LIMIT);
    assert!(probe(fits + 1).state_bytes(n_users, 10, 4) > SRNS_MEMORY_LIMIT);
    // Without start_epoch, the first batch reports it too (before allocating anything).
    let batch = PairBatch {
        users: &[0],
        positives: &[0],
    };
    let err = config
        .build()
        .sample_batch(
            &batch,
            1,
            &ctx,
            &mut SamplerRng::seed_from_u64(0),
            &mut Negatives::default(),
        )
        .unwrap_err();
    assert!(matches!(err, SamplerError::MemoryLimit { .. }), "{err}");
    // The memory-only mode has no such state.
    let mut memory_only = "srns:varset=0".parse::<SamplerConfig>().unwrap().build();
    memory_only.start_epoch(&ctx).unwrap();
    // Varset mode needs the scorer at start_epoch; memory-only does not.
    let no_scorer = SampleContext::new(&train);
    let err = "srns:varset=16"
        .parse::<SamplerConfig>()
        .unwrap()
        .build()
        .start_epoch(&no_scorer)
        .unwrap_err();
    assert!(
        matches!(err, SamplerError::MissingScorer { sampler: "srns" }),
        "{err}"
    );
    memory_only.start_epoch(&no_scorer).unwrap();
}

// ---------------------------------------------------------------------------------------------
// MixGCF

#[test]
fn mixgcf_picks_per_layer_the_argmax_of_the_mixed_candidates() {
    for pool_kind in [MixPool::Mean, MixPool::Concat] {
        let f = fixture(3);
        let (m, k, layers) = (7, 2, 3);
        let pool = f.pool(m * k, 3);
        let out = f.run(
            &mut MixGcfSampler::new(m, pool_kind),
            k,
            Some(&pool),
            0,
            1,
            8,
        );
        let Negatives::Mixed {
            k: kk,
            layers: ll,
            candidates,
            pos_weight,
        } = &out
        else {
            panic!("MixGCF returns mixed negatives")
        };
        assert_eq!((*kk, *ll), (k, layers));
        let mut weight_sum = 0.0;
        for b in 0..f.users.len() {
            let (u, i) = (f.users[b], f.positives[b]);
            for g in 0..k {
                let group = &pool.of(b)[g * m..(g + 1) * m];
                for l in 0..layers {
                    let idx = (b * k + g) * layers + l;
                    let a = pos_weight[idx];
                    assert!((0.0..1.0).contains(&a));
                    weight_sum += f64::from(a);
                    let q = match pool_kind {
                        MixPool::Mean => f.scorer.user_vec(u),
                        MixPool::Concat => f.scorer.user_layer(l, u),
                    };
                    let mixed_score = |c: ItemId| {
                        let e: Vec<f32> = f
                            .scorer
                            .item_layer(l, i)
                            .iter()
                            .zip(f.scorer.item_layer(l, c))
                            .map(|(p, x)| a * p + (1.0 - a) * x)
                            .collect();
                        dot(q, &e)
                    };
                    assert!(group.contains(&candidates[idx]));
                    assert!(!f.train.contains(u, candidates[idx]));
                    let best = group
                        .iter()
                        .map(|&c| mixed_score(c))
                        .fold(f32::NEG_INFINITY, f32::max);
                    assert!(
                        mixed_score(candidates[idx]) >= best - 1e-6,
                        "{pool_kind:?} pair {b} negative {g} layer {l}"
                    );
                }
            }
        }
        // The weights are U[0, 1): mean ≈ 0.5 over 2·3·pairs draws.
        let mean = weight_sum / (f.users.len() * k * layers) as f64;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
    }
}

#[test]
fn mixgcf_with_one_layer_chooses_like_dns() {
    let f = fixture(1);
    let (m, k) = (9, 2);
    let pool = f.pool(m * k, 5);
    let mix = f.run(
        &mut MixGcfSampler::new(m, MixPool::Mean),
        k,
        Some(&pool),
        0,
        1,
        1,
    );
    let dns = f.run(&mut DnsSampler::new(m), k, Some(&pool), 0, 1, 1);
    let Negatives::Mixed { candidates, .. } = &mix else {
        panic!("mixed")
    };
    assert_eq!(candidates.as_slice(), items(&dns));
}

// ---------------------------------------------------------------------------------------------
// DENS

/// DENS's per-layer selection score of candidate `c`, recomputed from the formulas of the
/// reference (`dise_negative_sampling`) with the sampler's gates.
fn dens_score(
    f: &Fixture,
    gates: &[f32],
    u: UserId,
    i: ItemId,
    c: ItemId,
    l: usize,
    dns_weight: f32,
) -> f32 {
    let d = f.scorer.user_layer(0, u).len();
    let lin = |g: DensGate, x: &[f32]| {
        let mut y = vec![0.0; d];
        gate_linear(gates, d, g, x, &mut y);
        y
    };
    let sig = |x: f32| 1.0 / (1.0 + (-x).exp());
    let (s, p, n) = (
        f.scorer.user_layer(l, u),
        f.scorer.item_layer(l, i),
        f.scorer.item_layer(l, c),
    );
    let (gi, gu) = (lin(DensGate::Item, p), lin(DensGate::User, s));
    let p_rel: Vec<f32> = (0..d).map(|j| p[j] * sig(gi[j] + gu[j])).collect();
    let (gn, gp) = (lin(DensGate::Neg, n), lin(DensGate::Pos, &p_rel));
    (0..d)
        .map(|j| s[j] * (dns_weight * n[j] - n[j] * sig(gn[j] + gp[j])))
        .sum()
}

#[test]
fn dens_picks_per_layer_the_argmax_of_its_gated_score_and_anneals_from_dns() {
    let f = fixture(3);
    let (m, k, layers, warmup) = (5, 2, 3, 4.0);
    let pool = f.pool(m * k, 13);
    for epoch in [0usize, 2, 4, 9] {
        let mut sampler = DensSampler::new(m, warmup, 0.3);
        let out = f.run(&mut sampler, k, Some(&pool), epoch, 10, 17);
        let gates = sampler.params().to_vec();
        assert_eq!(gates.len(), dens_params_len(6));
        let bound = 1.0 / 6f32.sqrt();
        assert!(gates.iter().all(|g| g.abs() <= bound), "U(−1/√d, 1/√d)");
        let Negatives::Mixed {
            k: kk,
            layers: ll,
            candidates,
            pos_weight,
        } = &out
        else {
            panic!("DENS returns per-layer negatives")
        };
        assert_eq!((*kk, *ll), (k, layers));
        assert!(pos_weight.iter().all(|&w| w == 0.0), "real candidates only");
        let dns_weight = (1.0 - (epoch as f32 / warmup as f32).min(1.0)).max(0.0);
        for b in 0..f.users.len() {
            let (u, i) = (f.users[b], f.positives[b]);
            for g in 0..k {
                let group = &pool.of(b)[g * m..(g + 1) * m];
                for l in 0..layers {
                    let chosen = candidates[(b * k + g) * layers + l];
                    assert!(group.contains(&chosen) && !f.train.contains(u, chosen));
                    let best = group
                        .iter()
                        .map(|&c| dens_score(&f, &gates, u, i, c, l, dns_weight))
                        .fold(f32::NEG_INFINITY, f32::max);
                    let got = dens_score(&f, &gates, u, i, chosen, l, dns_weight);
                    assert!(
                        got >= best - 1e-5,
                        "epoch {epoch} pair {b} negative {g} layer {l}: {got} < {best}"
                    );
                }
            }
        }
    }
}

#[test]
fn dens_trains_its_gates_with_adam_and_exposes_them_only_with_gamma() {
    let f = fixture(2);
    let mut with = DensSampler::new(4, 10.0, 0.3);
    let mut without = DensSampler::new(4, 10.0, 0.0);
    assert!(
        with.auxiliary().is_none(),
        "no gates before the first batch"
    );
    f.run(&mut with, 1, None, 0, 1, 3);
    f.run(&mut without, 1, None, 0, 1, 3);
    assert!(without.auxiliary().is_none(), "γ = 0: no auxiliary loss");
    let Some(Auxiliary::DensGates { dim, gates, gamma }) = with.auxiliary() else {
        panic!("γ > 0 exposes the gates")
    };
    assert_eq!((dim, gamma), (6, 0.3));
    let before = gates.to_vec();
    // Adam's first step moves every parameter by lr · sign(gradient).
    let grad: Vec<f32> = (0..before.len())
        .map(|x| if x % 3 == 0 { -2.0 } else { 0.5 })
        .collect();
    with.apply_auxiliary_gradient(&grad, 0.01);
    for ((b, a), g) in before.iter().zip(with.params()).zip(&grad) {
        assert!(
            (b - a - 0.01 * g.signum()).abs() < 1e-6,
            "{b} → {a} for {g}"
        );
    }
    // Same seed, same gates and picks.
    let mut again = DensSampler::new(4, 10.0, 0.3);
    f.run(&mut again, 1, None, 0, 1, 3);
    assert_eq!(again.params(), before.as_slice());
}
