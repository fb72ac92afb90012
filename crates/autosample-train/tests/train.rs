//! The training loop on synthetic data: it learns, it is deterministic, it stops early.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use autosample_data::synthetic::{SyntheticConfig, generate};
use autosample_models::{MfConfig, OptimizerConfig};
use autosample_train::{ModelConfig, Progress, TrainConfig, train};

fn small() -> autosample_data::Dataset {
    let cfg = SyntheticConfig {
        n_users: 300,
        n_items: 200,
        mean_items_per_user: 20.0,
        min_items_per_user: 8,
        seed: 3,
        ..SyntheticConfig::default()
    };
    generate(&cfg).expect("valid synthetic config")
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        model: ModelConfig::Mf(MfConfig {
            dim: 16,
            optimizer: OptimizerConfig::adam(0.01),
            ..MfConfig::default()
        }),
        epochs,
        eval_every: 2,
        batch_size: 256,
        seed: 11,
        ..TrainConfig::default()
    }
}

#[test]
fn mf_uniform_learns_far_better_than_chance() {
    let data = small();
    let out = train(&data, &config(20), None, Progress::Quiet).unwrap();
    // A random ranking over ~180 rankable items has expected Recall@20 ≈ 20/180 ≈ 0.11; the
    // synthetic clusters and popularity make 0.2 easy for a model that learned anything.
    let recall = out.best_valid.get("recall@20").unwrap();
    assert!(recall > 0.2, "valid recall@20 {recall}");
    assert!(out.test.as_ref().unwrap().get("recall@20").unwrap() > 0.15);
    assert_eq!(out.history.len(), out.epochs_run);
    assert!(out.history.first().unwrap().loss > out.history.last().unwrap().loss);
    // The kept epoch is the evaluated one with the best validation metric.
    let best = out
        .history
        .iter()
        .filter_map(|r| r.valid.as_ref().map(|v| (r.epoch, v["recall@20"])))
        .max_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(b.0.cmp(&a.0)))
        .unwrap();
    assert_eq!(best.0, out.best_epoch);
}

#[test]
fn same_seed_same_result_other_seed_other_result() {
    let data = small();
    let a = train(&data, &config(4), None, Progress::Quiet).unwrap();
    let b = train(&data, &config(4), None, Progress::Quiet).unwrap();
    assert_eq!(
        a.test.as_ref().unwrap().to_map(),
        b.test.as_ref().unwrap().to_map()
    );
    assert_eq!(a.model.tables().0, b.model.tables().0);
    let c = train(
        &data,
        &TrainConfig {
            seed: 12,
            ..config(4)
        },
        None,
        Progress::Quiet,
    )
    .unwrap();
    assert_ne!(a.model.tables().0, c.model.tables().0);
}

#[test]
fn early_stopping_waits_exactly_patience_evaluations() {
    let data = small();
    // A learning rate this high overfits fast, so validation peaks early.
    let mut cfg = config(200);
    cfg.model = ModelConfig::Mf(MfConfig {
        dim: 16,
        optimizer: OptimizerConfig::adam(0.1),
        l2: 0.0,
        ..MfConfig::default()
    });
    cfg.eval_every = 1;
    cfg.patience = 3;
    let out = train(&data, &cfg, None, Progress::Quiet).unwrap();
    assert!(out.stopped_early, "ran all {} epochs", out.epochs_run);
    assert_eq!(out.epochs_run, out.best_epoch + 3);
}

#[test]
fn lightgcn_uniform_learns_and_restores_its_best_state() {
    use autosample_models::LightGcnConfig;
    let data = small();
    let cfg = TrainConfig {
        model: ModelConfig::LightGcn(LightGcnConfig {
            dim: 16,
            layers: 2,
            optimizer: OptimizerConfig::adam(0.01),
            ..LightGcnConfig::default()
        }),
        ..config(10)
    };
    let out = train(&data, &cfg, None, Progress::Quiet).unwrap();
    let recall = out.best_valid.get("recall@20").unwrap();
    assert!(recall > 0.2, "valid recall@20 {recall}");
    // Re-evaluating the restored model reproduces the kept validation report.
    let again =
        autosample_train::evaluate_model(out.model.scorer(), &data.valid, &[&data.train], &[20])
            .unwrap();
    assert_eq!(again.to_map(), out.best_valid.to_map());
    assert!(out.breakdown.propagation > 0.0);
}

/// One epoch of every model with every sampler on the tiny synthetic fixture: it runs, the loss
/// is finite, the restored best model scores.
#[test]
fn one_epoch_smoke_every_model_with_every_sampler() {
    use autosample_models::{LightGcnConfig, NgcfConfig};
    use autosample_samplers::SamplerConfig;
    let data = generate(&SyntheticConfig::tiny()).expect("tiny config is valid");
    let models = [
        ModelConfig::Mf(MfConfig {
            dim: 8,
            ..MfConfig::default()
        }),
        ModelConfig::LightGcn(LightGcnConfig {
            dim: 8,
            layers: 2,
            ..LightGcnConfig::default()
        }),
        ModelConfig::Ngcf(NgcfConfig {
            dim: 8,
            layers: 2,
            ..NgcfConfig::default()
        }),
    ];
    // Small candidate counts keep the debug-build test fast; SRNS without warm-up exercises its
    // variance term from the first epoch. MixGCF's synthetic negatives are checked separately.
    let samplers: Vec<SamplerConfig> = [
        "uniform",
        "popularity",
        "dns:candidates=4",
        "dns_mn:candidates=4,top=2",
        "cns:candidates=4",
        "ahns:candidates=4",
        "srns:s1=4,s2_div_s1=2,warmup=0",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(
        samplers.len() + 2,
        SamplerConfig::NAMES.len(),
        "a sampler is missing here"
    );
    for model in &models {
        for sampler in &samplers {
            let cfg = TrainConfig {
                model: model.clone(),
                sampler: sampler.clone(),
                epochs: 1,
                batch_size: 64,
                ..TrainConfig::default()
            };
            let out = train(&data, &cfg, None, Progress::Quiet)
                .unwrap_or_else(|e| panic!("{} × {}: {e}", model.name(), sampler.spec()));
            assert!(
                out.history[0].loss.is_finite(),
                "{} × {}",
                model.name(),
                sampler.spec()
            );
            assert!(out.test.as_ref().unwrap().get("recall@20").is_some());
        }
        // MixGCF's synthetic negatives, with the pooling each model's reference uses.
        let spec = match model {
            ModelConfig::Ngcf(_) => "mixgcf:candidates=4,pool=concat",
            _ => "mixgcf:candidates=4",
        };
        let cfg = TrainConfig {
            model: model.clone(),
            sampler: spec.parse().unwrap(),
            epochs: 1,
            batch_size: 64,
            ..TrainConfig::default()
        };
        let out = train(&data, &cfg, None, Progress::Quiet)
            .unwrap_or_else(|e| panic!("{} × {spec}: {e}", model.name()));
        assert!(out.history[0].loss.is_finite());
        // DENS: per-layer real negatives, gates trained through the auxiliary loss.
        let cfg_dens = TrainConfig {
            sampler: "dens:candidates=4,warmup=1".parse().unwrap(),
            ..cfg.clone()
        };
        let out = train(&data, &cfg_dens, None, Progress::Quiet)
            .unwrap_or_else(|e| panic!("{} × dens: {e}", model.name()));
        assert!(out.history[0].loss.is_finite());
        if let ModelConfig::Ngcf(_) = model {
            let cfg = TrainConfig {
                sampler: "mixgcf:candidates=4".parse().unwrap(),
                ..cfg
            };
            let err = train(&data, &cfg, None, Progress::Quiet)
                .unwrap_err()
                .to_string();
            assert!(err.contains("pool=concat"), "{err}");
        }
    }
}

/// A warm start resumes from the given parameters: its first validation is that of the
/// trained model, far above a fresh start's; `read_test: false` leaves the test split unread;
/// the optimizer's state is kept or reset as asked; a state of another shape is an error.
#[test]
fn warm_start_begins_from_the_given_parameters() {
    use autosample_train::{TrainOptions, WarmStart, train_with};
    let data = small();
    let trained = train(&data, &config(20), None, Progress::Quiet).unwrap();
    let state = trained.model.training_state();
    let first_valid =
        |out: &autosample_train::TrainOutcome| out.history[0].valid.as_ref().unwrap()["recall@20"];
    let one_epoch = TrainConfig {
        eval_every: 1,
        ..config(1)
    };
    let cold = train(&data, &one_epoch, None, Progress::Quiet).unwrap();
    let mut results = Vec::new();
    for keep_optimizer in [true, false] {
        let options = TrainOptions {
            warm_start: Some(WarmStart {
                state: state.clone(),
                keep_optimizer,
                start_competes: true,
            }),
            read_test: false,
            ..TrainOptions::default()
        };
        let warm = train_with(&data, &one_epoch, None, Progress::Quiet, &options).unwrap();
        assert!(warm.test.is_none(), "the test split is not read");
        assert!(
            first_valid(&warm) > first_valid(&cold) + 0.05,
            "warm {} vs cold {}",
            first_valid(&warm),
            first_valid(&cold)
        );
        results.push(warm.model.training_state());
    }
    assert_ne!(
        results[0], results[1],
        "keeping or resetting Adam's moments differs"
    );

    // The wrong shape: a state of a wider model.
    let wide = TrainConfig {
        model: ModelConfig::Mf(MfConfig {
            dim: 32,
            optimizer: OptimizerConfig::adam(0.01),
            ..MfConfig::default()
        }),
        ..config(1)
    };
    let options = TrainOptions {
        warm_start: Some(WarmStart {
            state,
            keep_optimizer: true,
            start_competes: true,
        }),
        read_test: true,
        ..TrainOptions::default()
    };
    let err = train_with(&data, &wide, None, Progress::Quiet, &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("users") && err.contains("expected"), "{err}");
}

/// A warm start is its own "epoch 0": when every later epoch is worse on validation (here a
/// learning rate that wrecks the model), the outcome keeps the starting parameters.
#[test]
fn a_warm_start_that_only_gets_worse_keeps_its_start() {
    use autosample_train::{TrainOptions, WarmStart, train_with};
    let data = small();
    let trained = train(&data, &config(20), None, Progress::Quiet).unwrap();
    let start = trained.model.tables();
    let wreck = TrainConfig {
        model: ModelConfig::Mf(MfConfig {
            dim: 16,
            optimizer: OptimizerConfig::adam(5.0),
            ..MfConfig::default()
        }),
        eval_every: 1,
        patience: 2,
        ..config(6)
    };
    let options = TrainOptions {
        warm_start: Some(WarmStart {
            state: trained.model.training_state(),
            keep_optimizer: false,
            start_competes: true,
        }),
        read_test: true,
        ..TrainOptions::default()
    };
    let out = train_with(&data, &wreck, None, Progress::Quiet, &options).unwrap();
    assert_eq!(out.best_epoch, 0, "no epoch beat the start");
    assert_eq!(
        out.model.tables(),
        start,
        "the starting parameters are kept"
    );
    assert!(
        out.epochs_run >= 2 && out.epochs_run <= 3,
        "patience 2 after epoch 0"
    );
    assert!(
        (out.best_valid.get("recall@20").unwrap() - trained.best_valid.get("recall@20").unwrap())
            .abs()
            < 1e-12
    );

    // A measured continuation (an evidence branch, a halving rung) reports what it reached,
    // however bad: the start does not compete.
    let measured = TrainOptions {
        warm_start: Some(WarmStart {
            state: trained.model.training_state(),
            keep_optimizer: false,
            start_competes: false,
        }),
        read_test: false,
        ..TrainOptions::default()
    };
    let out = train_with(&data, &wreck, None, Progress::Quiet, &measured).unwrap();
    assert!(out.best_epoch >= 1, "an epoch of the continuation is kept");
    assert!(out.start_valid.is_none(), "the start is not evaluated");
    assert_ne!(out.model.tables(), start);
    assert!(
        out.best_valid.get("recall@20").unwrap()
            < trained.best_valid.get("recall@20").unwrap() - 0.01,
        "the wrecked continuation's value, not the start's"
    );
}

/// The sampler schedule can start mid-run: CNS's curriculum at epoch 900 of 1000 is not its
/// start, so the same one-epoch training differs; offset 0 over the run's own length is the
/// default.
#[test]
fn schedule_offset_and_total_reach_the_samplers() {
    use autosample_train::{TrainOptions, train_with};
    let data = small();
    let cfg = TrainConfig {
        sampler: "cns:candidates=16".parse().unwrap(),
        ..config(1)
    };
    let run = |offset: usize, total: Option<usize>| {
        let options = TrainOptions {
            read_test: false,
            schedule_offset: offset,
            schedule_total: total,
            ..TrainOptions::default()
        };
        train_with(&data, &cfg, None, Progress::Quiet, &options)
            .unwrap()
            .model
            .tables()
    };
    let default = run(0, None);
    assert_eq!(
        run(0, Some(1)),
        default,
        "offset 0 over the run's own length"
    );
    assert_ne!(run(900, Some(1000)), default, "the curriculum starts late");
}

/// A continued training can take the sampler's state from the stage it continues (SRNS's
/// memory), and hands its own on when asked; a sampler that keeps none has none to hand on,
/// and a training nobody continues serialises nothing.
#[test]
fn a_continuation_takes_and_hands_on_the_samplers_state() {
    use autosample_train::{TrainOptions, WarmStart, train_with};
    let data = small();
    let srns = TrainConfig {
        sampler: "srns:s1=4,warmup=1,varset=16".parse().unwrap(),
        ..config(2)
    };
    let handing_on = TrainOptions {
        return_sampler_state: true,
        ..TrainOptions::default()
    };
    let first = train_with(&data, &srns, None, Progress::Quiet, &handing_on).unwrap();
    let state = first.sampler_state.clone();
    assert!(state.is_some(), "SRNS hands on its memory");
    let unasked = train(&data, &srns, None, Progress::Quiet).unwrap();
    assert!(unasked.sampler_state.is_none(), "not asked, not serialised");
    let continued = |sampler_state: Option<Vec<u8>>| {
        let options = TrainOptions {
            warm_start: Some(WarmStart {
                state: first.model.training_state(),
                keep_optimizer: true,
                start_competes: false,
            }),
            read_test: false,
            schedule_offset: 2,
            sampler_state,
            ..TrainOptions::default()
        };
        let cfg = TrainConfig {
            eval_every: 1,
            ..srns.clone()
        };
        train_with(
            &data,
            &TrainConfig { epochs: 1, ..cfg },
            None,
            Progress::Quiet,
            &options,
        )
        .unwrap()
        .model
        .tables()
    };
    let with_memory = continued(state.clone());
    assert_eq!(with_memory, continued(state), "deterministic");
    assert_ne!(with_memory, continued(None), "the memory changes the draws");

    let uniform = train_with(&data, &config(1), None, Progress::Quiet, &handing_on).unwrap();
    assert!(uniform.sampler_state.is_none());
}

/// Early stopping counts evaluations since the best, strictly better only; a NaN never beats a
/// number; patience 0 never stops; a resumed stopper goes on where it stood.
#[test]
fn early_stopping_counts_evaluations_without_gain() {
    use autosample_train::EarlyStopping;
    let mut s = EarlyStopping::new(2);
    assert!(s.observe(0.1), "the first is the best");
    assert!(!s.observe(0.1), "a tie is no gain");
    assert!(!s.exhausted());
    assert!(!s.observe(f64::NAN));
    assert!(s.exhausted(), "two evaluations without gain");
    assert!(s.observe(0.2));
    assert_eq!(s.since_best(), 0);
    assert!(!s.exhausted());

    let mut never = EarlyStopping::new(0);
    never.observe(1.0);
    for _ in 0..10 {
        never.observe(0.0);
    }
    assert!(!never.exhausted());

    let mut resumed = EarlyStopping::resumed(3, 0.5, 2);
    assert!(!resumed.observe(0.4));
    assert!(resumed.exhausted());
    assert!(EarlyStopping::resumed(3, 0.5, 2).observe(0.6));
}
