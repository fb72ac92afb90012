//! Exhaustive search: each candidate's run is the same as training it alone; the winner is
//! the best on validation; the test split is read for the winner only.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use autosample_data::synthetic::{SyntheticConfig, generate};
use autosample_models::{MfConfig, OptimizerConfig};
use autosample_search::{SearchSpace, exhaustive};
use autosample_train::{ModelConfig, Progress, TrainConfig, train};

#[test]
fn exhaustive_search_trains_each_candidate_alone_and_picks_the_best_on_validation() {
    let data = generate(&SyntheticConfig {
        n_users: 200,
        n_items: 150,
        mean_items_per_user: 15.0,
        min_items_per_user: 6,
        seed: 5,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let space = SearchSpace::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/tiny.json"),
    )
    .unwrap();
    let base = TrainConfig {
        model: ModelConfig::Mf(MfConfig {
            dim: 8,
            optimizer: OptimizerConfig::adam(0.01),
            ..MfConfig::default()
        }),
        epochs: 6,
        eval_every: 2,
        batch_size: 256,
        seed: 3,
        ..TrainConfig::default()
    };
    let out = exhaustive(&data, &space, &base, Progress::Quiet).unwrap();
    assert_eq!(out.candidates.len(), 3);
    let best = out
        .candidates
        .iter()
        .max_by(|a, b| a.monitor_value.total_cmp(&b.monitor_value))
        .unwrap();
    assert_eq!(out.chosen, best.sampler);
    assert!(out.test.contains_key("recall@20"));
    assert_eq!(
        out.total_epochs,
        out.candidates.iter().map(|c| c.epochs_run).sum::<usize>()
    );
    // The same as training the winner alone.
    let alone = train(
        &data,
        &TrainConfig {
            sampler: out.chosen.parse().unwrap(),
            ..base
        },
        None,
        Progress::Quiet,
    )
    .unwrap();
    assert_eq!(alone.best_valid.to_map(), best.valid);
    assert_eq!(alone.test.unwrap().to_map(), out.test);
}
