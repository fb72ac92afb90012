//! Fixtures shared by the search tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use autosample_data::Dataset;
use autosample_data::synthetic::{SyntheticConfig, generate};
use autosample_models::{MfConfig, OptimizerConfig};
use autosample_search::SearchSpace;
use autosample_train::{ModelConfig, TrainConfig};

/// 200 users × 150 items of synthetic data: big enough for samplers to differ, fast in debug.
pub fn small_data() -> Dataset {
    generate(&SyntheticConfig {
        n_users: 200,
        n_items: 150,
        mean_items_per_user: 15.0,
        min_items_per_user: 6,
        seed: 5,
        ..SyntheticConfig::default()
    })
    .unwrap()
}

/// A shipped search space, by file name.
pub fn shipped_space(name: &str) -> SearchSpace {
    SearchSpace::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../search-spaces")
            .join(name),
    )
    .unwrap()
}

/// MF, dim 8, Adam 0.01, 6 epochs evaluated every 2: each candidate trains in well under a
/// second.
pub fn quick_mf() -> TrainConfig {
    TrainConfig {
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
    }
}
