//! Conformance suite: every sampler config goes through the same checks.
//!
//! [`configs`] lists every sampler by name (from [`SamplerConfig::NAMES`], so a new sampler is
//! covered as soon as it parses) plus non-default variants. Each test loops over all of them
//! and names the failing spec.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

mod common;

use autosample_data::{Interactions, ItemId, UserId};
use autosample_samplers::{
    Auxiliary, CandidatePool, NegativeSampler, Negatives, PairBatch, SampleContext, SamplerConfig,
    SamplerError, SamplerRng,
};
use common::{TestScorer, all_pairs, random_split, run_sampler};
use rand::SeedableRng;

/// Every sampler with its defaults, plus variants that exercise other code paths.
fn configs() -> Vec<SamplerConfig> {
    let mut v: Vec<SamplerConfig> = SamplerConfig::NAMES
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    for spec in [
        "popularity:beta=1",
        "popularity:beta=0.75,smoothing=1",
        "dns:candidates=5",
        "dns_mn:candidates=8,top=8",
        "dns_mn:candidates=8,top=3",
        "cns:candidates=8",
        "ahns:candidates=8,alpha=0.5,beta=1,p=-3",
        "srns:s1=4,s2_div_s1=1,alpha=-1,warmup=0,temperature=0.5,varset=0",
        "srns:varset=0",
        "srns:varset=16",
        "srns:s1=4,s2_div_s1=2,alpha=-1,warmup=0,temperature=0.5,varset=16",
        "srns:s1=3,s2_div_s1=1,warmup=1,temperature=1,varset=4",
        "mixgcf:candidates=8,pool=concat",
        "dens:candidates=8,warmup=0,gamma=0",
        "dens:candidates=4,warmup=2",
    ] {
        v.push(spec.parse().unwrap());
    }
    v
}

const N_USERS: usize = 40;
const N_ITEMS: usize = 60;

fn setup() -> (Interactions, Vec<UserId>, Vec<ItemId>) {
    let train = random_split(N_USERS, N_ITEMS, 25, 4, 1);
    let (users, positives) = all_pairs(&train);
    assert!(users.len() > 2 * 64, "several parallel chunks per batch");
    (train, users, positives)
}

fn scorer(layers: usize) -> TestScorer {
    TestScorer::random(N_USERS, N_ITEMS, 8, layers, 100 + layers as u64)
}

/// Checks one batch's negatives against the batch and the split.
fn check_negatives(
    config: &SamplerConfig,
    negatives: &Negatives,
    users: &[UserId],
    k: usize,
    layers: usize,
    train: &Interactions,
) {
    let spec = config.spec();
    assert_eq!(negatives.kind(), config.kind(), "{spec}");
    assert_eq!(negatives.k(), k, "{spec}");
    let (ids, per_pair) = match negatives {
        Negatives::Items { items, .. } => (items.as_slice(), k),
        Negatives::Mixed {
            layers: l,
            candidates,
            pos_weight,
            ..
        } => {
            assert_eq!(*l, layers, "{spec}");
            assert_eq!(pos_weight.len(), users.len() * k * layers, "{spec}");
            assert!(
                pos_weight.iter().all(|a| (0.0..1.0).contains(a)),
                "{spec}: mixing weight outside [0, 1)"
            );
            (candidates.as_slice(), k * layers)
        }
    };
    assert_eq!(ids.len(), users.len() * per_pair, "{spec}: count");
    for (b, &user) in users.iter().enumerate() {
        for &j in &ids[b * per_pair..(b + 1) * per_pair] {
            assert!((j as usize) < N_ITEMS, "{spec}: id {j} out of range");
            assert!(
                !train.contains(user, j),
                "{spec}: positive {j} of user {user} returned as a negative"
            );
        }
    }
}

#[test]
fn negatives_are_in_range_non_positive_and_k_per_pair() {
    let (train, users, positives) = setup();
    for config in configs() {
        for layers in [1, 3] {
            let scorer = scorer(layers);
            for k in [1, 3] {
                for pool in [None, Some(96)] {
                    let mut sampler = config.try_build().unwrap();
                    assert_eq!(sampler.name(), config.name());
                    assert_eq!(sampler.kind(), config.kind());
                    assert_eq!(sampler.needs_scorer(), config.needs_scorer());
                    let out = run_sampler(
                        &mut *sampler,
                        &train,
                        Some(&scorer),
                        &users,
                        &positives,
                        150,
                        k,
                        pool,
                        2,
                        7,
                    )
                    .unwrap_or_else(|e| panic!("{}: {e}", config.spec()));
                    for (n, batch) in out.iter().enumerate() {
                        let start = (n % users.len().div_ceil(150)) * 150;
                        let end = (start + 150).min(users.len());
                        check_negatives(&config, batch, &users[start..end], k, layers, &train);
                    }
                }
            }
        }
    }
}

#[test]
fn k_zero_and_empty_batches_give_empty_output() {
    let (train, users, positives) = setup();
    let scorer = scorer(3);
    for config in configs() {
        let mut sampler = config.try_build().unwrap();
        let out = run_sampler(
            &mut *sampler,
            &train,
            Some(&scorer),
            &users,
            &positives,
            150,
            0,
            None,
            1,
            7,
        )
        .unwrap();
        assert!(out.iter().all(|n| n.k() == 0), "{}", config.spec());
        let mut out = Negatives::default();
        let ctx = SampleContext {
            scorer: Some(&scorer),
            ..SampleContext::new(&train)
        };
        let empty = PairBatch {
            users: &[],
            positives: &[],
        };
        sampler
            .sample_batch(&empty, 2, &ctx, &mut SamplerRng::seed_from_u64(0), &mut out)
            .unwrap();
        assert_eq!(out.kind(), config.kind());
        match &out {
            Negatives::Items { items, .. } => assert!(items.is_empty()),
            Negatives::Mixed { candidates, .. } => assert!(candidates.is_empty()),
        }
    }
}

fn draws(config: &SamplerConfig, scorer: &TestScorer, seed: u64) -> Vec<Negatives> {
    let (train, users, positives) = setup();
    let mut sampler = config.try_build().unwrap();
    run_sampler(
        &mut *sampler,
        &train,
        Some(scorer),
        &users,
        &positives,
        150,
        2,
        None,
        2,
        seed,
    )
    .unwrap()
}

#[test]
fn same_seed_same_draws_different_seed_different_draws() {
    for layers in [1, 3] {
        let scorer = scorer(layers);
        for config in configs() {
            let a = draws(&config, &scorer, 7);
            assert_eq!(a, draws(&config, &scorer, 7), "{}", config.spec());
            assert_ne!(a, draws(&config, &scorer, 8), "{}", config.spec());
        }
    }
}

#[test]
fn draws_do_not_depend_on_the_thread_count() {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let (one, two, three) = (pool(1), pool(2), pool(3));
    for layers in [1, 3] {
        let scorer = scorer(layers);
        for config in configs() {
            let a = one.install(|| draws(&config, &scorer, 11));
            let b = two.install(|| draws(&config, &scorer, 11));
            let c = three.install(|| draws(&config, &scorer, 11));
            assert_eq!(a, b, "{}: 1 vs 2 threads", config.spec());
            assert_eq!(a, c, "{}: 1 vs 3 threads", config.spec());
        }
    }
}

#[test]
fn a_user_with_every_item_gets_user_has_no_negatives() {
    // User 0: two items; user 1: all five.
    let train = Interactions::from_pairs(
        2,
        5,
        &[(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4)],
    );
    let scorer = TestScorer::random(2, 5, 4, 3, 5);
    let batch = PairBatch {
        users: &[0, 1, 0],
        positives: &[0, 3, 1],
    };
    for config in configs() {
        let mut sampler = config.try_build().unwrap();
        let ctx = SampleContext {
            scorer: Some(&scorer),
            ..SampleContext::new(&train)
        };
        sampler.start_epoch(&ctx).unwrap();
        let mut out = Negatives::default();
        let err = sampler
            .sample_batch(&batch, 1, &ctx, &mut SamplerRng::seed_from_u64(1), &mut out)
            .unwrap_err();
        assert!(
            matches!(
                err,
                SamplerError::UserHasNoNegatives {
                    user: 1,
                    n_items: 5
                }
            ),
            "{}: {err}",
            config.spec()
        );
        // With a pool present (which cannot be drawn for user 1 either) the same error.
        let ok = PairBatch {
            users: &[0],
            positives: &[0],
        };
        let pool = CandidatePool::draw(&ok, 96, &train, &mut SamplerRng::seed_from_u64(2)).unwrap();
        let ctx = SampleContext {
            pool: Some(&pool),
            ..ctx
        };
        sampler
            .sample_batch(&ok, 1, &ctx, &mut SamplerRng::seed_from_u64(1), &mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", config.spec()));
    }
}

#[test]
fn scoring_samplers_without_a_scorer_get_missing_scorer() {
    let (train, users, positives) = setup();
    for config in configs() {
        let mut sampler = config.try_build().unwrap();
        let result = run_sampler(
            &mut *sampler,
            &train,
            None,
            &users,
            &positives,
            150,
            1,
            None,
            1,
            3,
        );
        if config.needs_scorer() {
            match result {
                Err(SamplerError::MissingScorer { sampler }) => {
                    assert_eq!(sampler, config.name())
                }
                other => panic!("{}: expected MissingScorer, got {other:?}", config.spec()),
            }
        } else {
            result.unwrap_or_else(|e| panic!("{}: {e}", config.spec()));
        }
    }
}

#[test]
fn spec_and_json_round_trip() {
    for config in configs() {
        let spec = config.spec();
        assert_eq!(spec.parse::<SamplerConfig>().unwrap(), config, "{spec}");
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<SamplerConfig>(&json).unwrap(),
            config,
            "{json}"
        );
        let tag = serde_json::from_str::<serde_json::Value>(&json).unwrap()["type"].clone();
        assert_eq!(tag, config.name(), "{json}");
        config.validate().unwrap();
        // Every config also deserializes from its bare type tag, with the defaults.
        let bare: SamplerConfig =
            serde_json::from_str(&format!(r#"{{"type":"{}"}}"#, config.name())).unwrap();
        assert_eq!(bare, config.name().parse().unwrap());
    }
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_naming_the_key() {
    for name in SamplerConfig::NAMES {
        let err = format!("{name}:bogus=1")
            .parse::<SamplerConfig>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("`bogus`"), "{name}: {err}");
        let err =
            serde_json::from_str::<SamplerConfig>(&format!(r#"{{"type":"{name}","bogus":1}}"#))
                .unwrap_err()
                .to_string();
        assert!(err.contains("bogus"), "{name}: {err}");
    }
    for (spec, key) in [
        ("dns:candidates=0", "candidates"),
        ("dns:candidates=abc", "candidates"),
        ("dns:candidates=-3", "candidates"),
        ("cns:candidates=1000000", "candidates"),
        ("dns_mn:candidates=4,top=5", "top"),
        ("dns_mn:top=0", "top"),
        ("popularity:beta=-1", "beta"),
        ("popularity:beta=nan", "beta"),
        ("popularity:smoothing=-0.5", "smoothing"),
        ("popularity:smoothing=x", "smoothing"),
        ("ahns:p=1.5", "p"),
        ("ahns:alpha=inf", "alpha"),
        ("ahns:beta=", "beta"),
        ("srns:s1=0", "s1"),
        ("srns:s2_div_s1=0", "s2_div_s1"),
        ("srns:temperature=0", "temperature"),
        ("srns:warmup=-1", "warmup"),
        ("srns:alpha=nan", "alpha"),
        ("srns:varset=8", "varset"),
        ("srns:varset=-1", "varset"),
        ("srns:varset=x", "varset"),
        ("srns:s1=20,varset=20", "varset"),
        ("srns:varset=2000000", "varset"),
        ("mixgcf:pool=sum", "pool"),
        ("mixgcf:candidates=0", "candidates"),
        ("dns:candidates=3,candidates=4", "candidates"),
        ("dns:candidates", "candidates"),
    ] {
        let err = spec.parse::<SamplerConfig>().unwrap_err();
        assert!(
            matches!(err, SamplerError::InvalidSpec { .. }),
            "{spec}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{key}")), "{spec}: {msg}");
    }
    let err = "nope:candidates=3"
        .parse::<SamplerConfig>()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown sampler `nope`") && err.contains("mixgcf"),
        "{err}"
    );
    // JSON: wrong type, and a valid-typed but invalid value caught by validate().
    assert!(serde_json::from_str::<SamplerConfig>(r#"{"type":"dns","candidates":"x"}"#).is_err());
    let c: SamplerConfig = serde_json::from_str(r#"{"type":"srns","temperature":0}"#).unwrap();
    let msg = c.validate().unwrap_err().to_string();
    assert!(msg.contains("`temperature`"), "{msg}");
}

#[test]
fn a_bad_candidate_pool_is_reported_not_used() {
    let (train, users, positives) = setup();
    let scorer = scorer(3);
    let batch = PairBatch {
        users: &users[..10],
        positives: &positives[..10],
    };
    // A pool holding the pair's own positive.
    let mut pool =
        CandidatePool::draw(&batch, 64, &train, &mut SamplerRng::seed_from_u64(1)).unwrap();
    pool.items[0] = positives[0];
    for config in configs().into_iter().filter(|c| {
        matches!(
            c.name(),
            "dns" | "dns_mn" | "cns" | "ahns" | "mixgcf" | "dens"
        )
    }) {
        let mut sampler = config.try_build().unwrap();
        let ctx = SampleContext {
            scorer: Some(&scorer),
            pool: Some(&pool),
            ..SampleContext::new(&train)
        };
        let mut out = Negatives::default();
        let err = sampler
            .sample_batch(&batch, 1, &ctx, &mut SamplerRng::seed_from_u64(1), &mut out)
            .unwrap_err();
        assert!(
            matches!(err, SamplerError::InvalidContext { .. }),
            "{}: {err}",
            config.spec()
        );
    }
}

/// Epochs `epochs` of `sampler` as a training run would drive them: the scorer of epoch `e` is
/// its own random table (the model moves), each epoch's RNG is derived from `e` alone (as the
/// trainer's are), and after every batch a fixed gradient moves any auxiliary parameters
/// (DENS's gates), so that every kind of state changes.
fn run_epochs(
    sampler: &mut dyn NegativeSampler,
    layers: usize,
    epochs: std::ops::Range<usize>,
) -> Vec<Negatives> {
    let (train, users, positives) = setup();
    let mut out = Vec::new();
    for epoch in epochs {
        let scorer = TestScorer::random(N_USERS, N_ITEMS, 8, layers, 500 + epoch as u64);
        let ctx = SampleContext {
            train: &train,
            scorer: Some(&scorer),
            epoch,
            total_epochs: 6,
            pool: None,
        };
        sampler.start_epoch(&ctx).unwrap();
        let mut rng = SamplerRng::seed_from_u64(900 + epoch as u64);
        for (us, ps) in users.chunks(150).zip(positives.chunks(150)) {
            let batch = PairBatch {
                users: us,
                positives: ps,
            };
            let mut negatives = Negatives::default();
            sampler
                .sample_batch(&batch, 2, &ctx, &mut rng, &mut negatives)
                .unwrap();
            let aux_len = match sampler.auxiliary() {
                Some(Auxiliary::DensGates { gates, .. }) => gates.len(),
                _ => 0,
            };
            if aux_len > 0 {
                let grad: Vec<f32> = (0..aux_len).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
                sampler.apply_auxiliary_gradient(&grad, 0.01);
            }
            out.push(negatives);
        }
    }
    out
}

#[test]
fn a_saved_state_resumes_to_the_draws_of_an_uninterrupted_run() {
    for layers in [1, 3] {
        for config in configs() {
            let spec = config.spec();
            let mut whole = config.try_build().unwrap();
            let mut want = run_epochs(&mut *whole, layers, 0..4);

            let mut first = config.try_build().unwrap();
            let head = run_epochs(&mut *first, layers, 0..2);
            let tail = want.split_off(head.len());
            let state = first.save_state();
            assert_eq!(
                state.is_some(),
                first.keeps_state(),
                "{spec}: a stateful sampler has a state after two epochs, a stateless one none"
            );
            let mut resumed = config.try_build().unwrap();
            if let Some(s) = &state {
                resumed.load_state(s).unwrap();
            }
            assert_eq!(run_epochs(&mut *resumed, layers, 2..4), tail, "{spec}");

            // The check means something: without the state the draws differ (SRNS's memory,
            // trained DENS gates).
            if spec.starts_with("srns") || first.auxiliary().is_some() {
                let mut fresh = config.try_build().unwrap();
                assert_ne!(run_epochs(&mut *fresh, layers, 2..4), tail, "{spec}");
            }
        }
    }
}

#[test]
fn a_state_for_another_sampler_or_setting_or_cut_short_is_refused() {
    let build = |spec: &str| spec.parse::<SamplerConfig>().unwrap().try_build().unwrap();
    let mut srns = build("srns:varset=16");
    run_epochs(&mut *srns, 1, 0..2);
    let state = srns.save_state().unwrap();
    let refused = |spec: &str, bytes: &[u8]| {
        let err = build(spec).load_state(bytes).err().unwrap();
        assert!(
            matches!(err, SamplerError::InvalidState { .. }),
            "{spec}: {err}"
        );
        err.to_string()
    };
    assert!(refused("dens", &state).contains("belongs to sampler `srns`"));
    assert!(refused("srns:varset=0", &state).contains("does not fit"));
    assert!(refused("srns:varset=32", &state).contains("does not fit"));
    assert!(refused("srns:varset=16", &state[..state.len() / 2]).contains("cut short"));
    assert!(refused("uniform", &state).contains("keeps no state"));
}
