//! The supernet step's objective, `Σ_k w_k ℓ_k`, checked through what one SGD step does:
//! weight 1 on one candidate is that candidate's own step; weight 0 removes a candidate; and
//! since an SGD step is linear in the gradient, the step under weights (a, 1 − a) is the
//! a-mix of the two single-candidate steps.

#![allow(clippy::unwrap_used)]

mod common;

use autosample_data::synthetic::{SyntheticConfig, generate};
use autosample_data::{Dataset, ItemId, UserId};
use autosample_models::{LightGcnConfig, MfConfig, OptimizerConfig};
use autosample_samplers::SamplerConfig;
use autosample_search::Supernet;
use autosample_train::{ModelConfig, TrainedModel};

fn data() -> Dataset {
    generate(&SyntheticConfig::tiny()).unwrap()
}

fn models() -> Vec<ModelConfig> {
    let sgd = OptimizerConfig::Sgd { lr: 0.5 };
    vec![
        ModelConfig::Mf(MfConfig {
            dim: 8,
            optimizer: sgd.clone(),
            ..MfConfig::default()
        }),
        ModelConfig::LightGcn(LightGcnConfig {
            dim: 8,
            layers: 2,
            optimizer: sgd,
            ..LightGcnConfig::default()
        }),
    ]
}

fn batch(data: &Dataset) -> (Vec<UserId>, Vec<ItemId>) {
    let mut users = Vec::new();
    let mut positives = Vec::new();
    for u in 0..data.train.n_users() as u32 {
        if let Some(&i) = data.train.items(u).first() {
            users.push(u);
            positives.push(i);
        }
        if users.len() == 64 {
            break;
        }
    }
    (users, positives)
}

/// The trainable tables after one supernet step from a fresh model.
fn after_step(
    model_cfg: &ModelConfig,
    data: &Dataset,
    candidates: &[&str],
    weights: &[f64],
    prune: Option<usize>,
) -> Vec<f32> {
    let configs: Vec<SamplerConfig> = candidates.iter().map(|s| s.parse().unwrap()).collect();
    let mut model = TrainedModel::new(model_cfg, &data.train, 7).unwrap();
    let mut net = Supernet::new(&configs, 11).unwrap();
    if let Some(i) = prune {
        net.deactivate(i);
    }
    net.start_epoch(&mut model, &data.train, 0, 1).unwrap();
    let (users, positives) = batch(data);
    let out = net
        .step(
            &mut model,
            &data.train,
            &users,
            &positives,
            1,
            weights,
            0,
            1,
        )
        .unwrap();
    assert!(out.stats.loss.is_finite());
    let (u, i) = model.tables();
    [u.as_slice(), i.as_slice()].concat()
}

fn initial(model_cfg: &ModelConfig, data: &Dataset) -> Vec<f32> {
    let model = TrainedModel::new(model_cfg, &data.train, 7).unwrap();
    let (u, i) = model.tables();
    [u.as_slice(), i.as_slice()].concat()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    for (e, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() < 2e-6, "{what}: entry {e}: {a} vs {b}");
    }
}

#[test]
fn weights_select_and_mix_the_candidates_steps() {
    let data = data();
    for cfg in models() {
        let name = cfg.name();
        let start = initial(&cfg, &data);
        let pair = ["uniform", "dns:candidates=4"];
        let only_uniform = after_step(&cfg, &data, &pair[..1], &[1.0], None);
        let only_dns = after_step(&cfg, &data, &pair[1..], &[1.0], None);
        // Weight 0, or pruning, removes a candidate; the other's draws do not change.
        assert_close(
            &after_step(&cfg, &data, &pair, &[1.0, 0.0], None),
            &only_uniform,
            &format!("{name}: weights (1, 0)"),
        );
        assert_close(
            &after_step(&cfg, &data, &pair, &[0.5, 0.5], Some(1)),
            &only_uniform,
            &format!("{name}: DNS pruned"),
        );
        assert_close(
            &after_step(&cfg, &data, &pair, &[0.0, 3.0], None),
            &only_dns,
            &format!("{name}: weights (0, 3) renormalised"),
        );
        // SGD is linear in the gradient: the (0.3, 0.7) step is the mix of the two steps.
        let mixed = after_step(&cfg, &data, &pair, &[0.3, 0.7], None);
        let want: Vec<f32> = start
            .iter()
            .zip(only_uniform.iter().zip(&only_dns))
            .map(|(s, (u, d))| s + 0.3 * (u - s) + 0.7 * (d - s))
            .collect();
        assert_close(&mixed, &want, &format!("{name}: weights (0.3, 0.7)"));
        assert!(
            mixed
                .iter()
                .zip(&only_uniform)
                .any(|(a, b)| (a - b).abs() > 1e-4),
            "{name}: the mix differs from uniform alone"
        );
    }
}

#[test]
fn every_item_sampler_and_mixgcf_take_part() {
    let data = data();
    let cfg = &models()[1];
    let specs = [
        "uniform",
        "popularity",
        "dns:candidates=4",
        "dns_mn:candidates=4,top=2",
        "cns:candidates=4",
        "ahns:candidates=4",
        "srns:s1=4,s2_div_s1=2,warmup=0",
        "mixgcf:candidates=4",
        "dens:candidates=4",
    ];
    let weights = vec![1.0; specs.len()];
    let after = after_step(cfg, &data, &specs, &weights, None);
    assert!(after.iter().all(|x| x.is_finite()));
}

#[test]
fn bad_weights_and_duplicate_candidates_are_errors() {
    let data = data();
    let cfg = &models()[0];
    let configs: Vec<SamplerConfig> = ["uniform", "dns"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let mut model = TrainedModel::new(cfg, &data.train, 7).unwrap();
    let mut net = Supernet::new(&configs, 1).unwrap();
    net.start_epoch(&mut model, &data.train, 0, 1).unwrap();
    let (users, positives) = batch(&data);
    for (weights, want) in [
        (vec![1.0], "1 weights for 2 candidates"),
        (vec![1.0, -1.0], "finite and ≥ 0"),
        (vec![0.0, 0.0], "sum to 0"),
    ] {
        let err = net
            .step(
                &mut model,
                &data.train,
                &users,
                &positives,
                1,
                &weights,
                0,
                1,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
    let dup: Vec<SamplerConfig> = ["uniform", "rns"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let err = Supernet::new(&dup, 1).err().unwrap().to_string();
    assert!(err.contains("listed twice"), "{err}");
}

/// Epochs through the supernet train the model (validation recall rises well above the
/// initial model's) and are deterministic for a seed.
#[test]
fn supernet_epochs_learn_and_repeat_for_a_seed() {
    use autosample_train::evaluate_model;
    let data = common::small_data();
    let cfg = ModelConfig::Mf(MfConfig {
        dim: 16,
        optimizer: OptimizerConfig::adam(0.01),
        ..MfConfig::default()
    });
    let configs: Vec<SamplerConfig> = ["uniform", "dns:candidates=4"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let recall = |model: &mut TrainedModel| {
        model.refresh();
        evaluate_model(model.scorer(), &data.valid, &[&data.train], &[20])
            .unwrap()
            .get("recall@20")
            .unwrap()
    };
    let run = || {
        let mut model = TrainedModel::new(&cfg, &data.train, 3).unwrap();
        let before = recall(&mut model);
        let mut net = Supernet::new(&configs, 9).unwrap();
        let mut losses = Vec::new();
        for epoch in 0..8 {
            let e = net
                .train_epoch(&mut model, &data.train, 128, 1, &[0.5, 0.5], epoch, 8)
                .unwrap();
            losses.push(e.loss);
        }
        let after = recall(&mut model);
        (before, after, losses, model.training_state())
    };
    let (before, after, losses, state) = run();
    assert!(after > before + 0.05, "recall {before} → {after}");
    assert!(
        losses.last().unwrap() < losses.first().unwrap(),
        "{losses:?}"
    );
    let (_, _, losses2, state2) = run();
    assert_eq!(losses, losses2);
    assert_eq!(state, state2);
}

/// The per-candidate losses the selectors read equal the loss the model's own engine computes
/// for a step on that candidate alone (item negatives and MixGCF's synthetic ones).
#[test]
fn candidate_losses_equal_the_models_own_bpr_loss() {
    let data = data();
    let (users, positives) = batch(&data);
    for cfg in models() {
        // MixGCF mixes hops, so it takes part with the graph model only.
        let third = match cfg {
            ModelConfig::LightGcn(_) => "mixgcf:candidates=4",
            _ => "popularity",
        };
        let candidates: Vec<SamplerConfig> = ["uniform", "dns:candidates=4", third]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let mut model = TrainedModel::new(&cfg, &data.train, 11).unwrap();
        // A few steps first, so that scores are not all near 0.
        let mut net = Supernet::new(&candidates, 5).unwrap();
        net.start_epoch(&mut model, &data.train, 0, 1).unwrap();
        for _ in 0..3 {
            net.step(
                &mut model,
                &data.train,
                &users,
                &positives,
                2,
                &[1.0; 3],
                0,
                1,
            )
            .unwrap();
        }
        net.sample(&mut model, &data.train, &users, &positives, 2, 0, 1)
            .unwrap();
        model.refresh();
        let losses = net.candidate_losses(model.sampler_view(), &users, &positives);
        let state = model.training_state();
        for (i, loss) in losses.iter().enumerate() {
            let stats = net
                .train_candidate(&mut model, &users, &positives, 2, i)
                .unwrap();
            let got = loss.unwrap();
            assert!(
                (got - stats.bpr as f64).abs() < 1e-4 * (1.0 + got.abs()),
                "{} candidate {i}: {got} vs the engine's {}",
                model.recommender().name(),
                stats.bpr
            );
            model.restore(state.clone()).unwrap();
        }
        net.deactivate(1);
        assert!(net.candidate_losses(model.sampler_view(), &users, &positives)[1].is_none());
    }
}

/// A diverging supernet step names the candidates whose losses went non-finite.
#[test]
fn a_diverging_step_names_the_candidate() {
    let data = data();
    let cfg = ModelConfig::Mf(MfConfig {
        dim: 8,
        optimizer: OptimizerConfig::Sgd { lr: 1e30 },
        ..MfConfig::default()
    });
    let mut model = TrainedModel::new(&cfg, &data.train, 1).unwrap();
    let candidates: Vec<SamplerConfig> = ["uniform", "dns:candidates=4"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let mut net = Supernet::new(&candidates, 2).unwrap();
    let mut err = None;
    for epoch in 0..5 {
        if let Err(e) = net.train_epoch(&mut model, &data.train, 64, 1, &[1.0, 1.0], epoch, 5) {
            err = Some(e.to_string());
            break;
        }
    }
    let err = err.expect("an SGD step of 1e30 diverges");
    assert!(err.contains("the supernet step diverged"), "{err}");
    assert!(err.contains("per-candidate losses: uniform"), "{err}");
    assert!(err.contains("lower the learning rate"), "{err}");
}

/// What [`step_watching`] saw: the trainable tables after the step, the step's auxiliary loss,
/// and the watched candidate's sampler state before and after it (`None` if it keeps none).
struct Watched {
    tables: Vec<f32>,
    auxiliary: f32,
    state_before: Option<Vec<u8>>,
    state_after: Option<Vec<u8>>,
}

/// One supernet step from a fresh model, watching candidate `watch`'s sampler state.
fn step_watching(
    model_cfg: &ModelConfig,
    data: &Dataset,
    candidates: &[&str],
    weights: &[f64],
    watch: usize,
) -> Watched {
    let configs: Vec<SamplerConfig> = candidates.iter().map(|s| s.parse().unwrap()).collect();
    let mut model = TrainedModel::new(model_cfg, &data.train, 7).unwrap();
    let mut net = Supernet::new(&configs, 11).unwrap();
    net.start_epoch(&mut model, &data.train, 0, 1).unwrap();
    let (users, positives) = batch(data);
    // `step` in two parts, to see the state between the draw (DENS makes its gates at its
    // first draw) and the training step.
    net.sample(&mut model, &data.train, &users, &positives, 1, 0, 1)
        .unwrap();
    let state_before = net.sampler_state_of(watch);
    let effective = net.effective_weights(weights).unwrap();
    let stats = net
        .train_sampled(&mut model, &users, &positives, 1, &effective)
        .unwrap();
    // A probe (the alignment selector's one-step look-ahead) must not move the gates.
    let probed = net.sampler_state_of(watch);
    let state = model.training_state();
    net.train_candidate(&mut model, &users, &positives, 1, watch)
        .unwrap();
    model.restore(state).unwrap();
    assert_eq!(
        net.sampler_state_of(watch),
        probed,
        "a probe moved a sampler's state"
    );
    let (u, i) = model.tables();
    Watched {
        tables: [u.as_slice(), i.as_slice()].concat(),
        auxiliary: stats.auxiliary,
        state_before,
        state_after: probed,
    }
}

/// A DENS candidate adds its auxiliary loss over its own copy of the pairs, weighted like its
/// BPR loss (so the step under weights (a, 1 − a) is still the a-mix of the two steps), and
/// its gates train in the supernet; a probe step leaves them as they were.
#[test]
fn a_dens_candidate_adds_its_weighted_auxiliary_loss_and_trains_its_gates() {
    let data = data();
    for cfg in models() {
        let name = cfg.name();
        let start = initial(&cfg, &data);
        let pair = ["uniform", "dens"];
        let uniform = step_watching(&cfg, &data, &pair[..1], &[1.0], 0);
        assert_eq!(
            uniform.auxiliary, 0.0,
            "{name}: uniform has no auxiliary loss"
        );
        let dens = step_watching(&cfg, &data, &pair[1..], &[1.0], 0);
        assert!(
            dens.auxiliary > 0.0,
            "{name}: DENS's auxiliary loss takes part"
        );
        assert!(dens.state_before.is_some(), "{name}: DENS keeps its gates");
        assert_ne!(
            dens.state_before, dens.state_after,
            "{name}: DENS's gates train in the supernet"
        );
        let mixed = step_watching(&cfg, &data, &pair, &[0.3, 0.7], 1);
        assert!(
            (mixed.auxiliary - 0.7 * dens.auxiliary).abs() < 1e-6,
            "{name}: auxiliary loss {} vs 0.7 × {}",
            mixed.auxiliary,
            dens.auxiliary
        );
        assert_ne!(
            mixed.state_before, mixed.state_after,
            "{name}: gates, mixed"
        );
        let want: Vec<f32> = start
            .iter()
            .zip(uniform.tables.iter().zip(&dens.tables))
            .map(|(s, (u, d))| s + 0.3 * (u - s) + 0.7 * (d - s))
            .collect();
        assert_close(&mixed.tables, &want, &format!("{name}: weights (0.3, 0.7)"));
    }
}
