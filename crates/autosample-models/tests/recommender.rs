//! The three models behind one `Recommender` interface: the same generic code trains them,
//! scores with them and round-trips their state.

#![allow(clippy::unwrap_used)]

use autosample_data::Interactions;
use autosample_models::{
    LightGcn, LightGcnConfig, Mf, MfConfig, Ngcf, NgcfConfig, OptimizerConfig, Recommender,
    TrainBatch,
};

fn exercise(model: &mut dyn Recommender, name: &str) {
    assert_eq!(model.name(), name);
    let users = [0u32, 1, 2, 3, 1];
    let positives = [0u32, 1, 2, 3, 4];
    let negatives = [5u32, 6, 5, 6, 0];
    let batch = TrainBatch {
        users: &users,
        positives: &positives,
        negatives: &negatives,
        mixed: None,
        auxiliary: &[],
        pair_weights: None,
    };
    let first = model.train_step(&batch).unwrap().loss;
    let mut last = first;
    for _ in 0..30 {
        last = model.train_step(&batch).unwrap().loss;
    }
    assert!(last < first, "{name}: loss {first} → {last}");
    assert!(model.take_auxiliary_gradient().is_empty());
    assert!(model.learning_rate() > 0.0);
    // Full ranking through the same object.
    model.refresh();
    let mut scores = vec![0.0f32; 2 * model.n_items()];
    model.score_users(&[0, 1], &mut scores);
    assert!(scores.iter().all(|s| s.is_finite()));
    // Sampler view: the positive now outscores the negative for a trained pair.
    assert!(model.score(0, 0) > model.score(0, 5), "{name}");
    // Pooling decomposes over layers (what scores a synthetic MixGCF negative).
    for (user, item) in [(0u32, 0u32), (1, 5), (3, 6)] {
        let parts: f32 = (0..model.n_layers())
            .map(|l| model.layer_score(user, l, model.item_layer(l, item)))
            .sum();
        let whole = model.score(user, item);
        assert!(
            (parts - whole).abs() <= 1e-4 * (1.0 + whole.abs()),
            "{name}: Σ layer scores {parts} ≠ score {whole}"
        );
    }
    // State round trip, derived embeddings included once refreshed.
    let state = model.training_state();
    let (u, i) = model.tables();
    let before = model.score(0, 5);
    model.train_step(&batch).unwrap();
    model.restore(state.clone()).unwrap();
    assert_eq!(model.training_state(), state);
    assert_eq!(model.tables(), (u, i));
    model.refresh();
    assert_eq!(model.score(0, 5), before, "{name}: refresh after restore");
}

#[test]
fn every_model_trains_scores_and_round_trips_through_the_trait() {
    let train = Interactions::from_pairs(
        4,
        7,
        &[(0, 0), (1, 1), (2, 2), (3, 3), (1, 4), (0, 2), (2, 0)],
    );
    let adam = OptimizerConfig::adam(0.05);
    let mut mf = Mf::new(
        4,
        7,
        MfConfig {
            dim: 8,
            optimizer: adam.clone(),
            ..MfConfig::default()
        },
        1,
    )
    .unwrap();
    exercise(&mut mf, "mf");
    let mut lightgcn = LightGcn::new(
        &train,
        LightGcnConfig {
            dim: 8,
            layers: 2,
            optimizer: adam.clone(),
            ..LightGcnConfig::default()
        },
        1,
    )
    .unwrap();
    exercise(&mut lightgcn, "lightgcn");
    let mut ngcf = Ngcf::new(
        &train,
        NgcfConfig {
            dim: 8,
            layers: 2,
            message_dropout: 0.0,
            node_dropout: 0.0,
            optimizer: adam,
            ..NgcfConfig::default()
        },
        1,
    )
    .unwrap();
    exercise(&mut ngcf, "ngcf");
}
