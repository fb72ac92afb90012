//! # autosample-train
//!
//! Brief overview: [`train`] runs one model with one sampler on a [`Dataset`]: shuffled
//! mini-batches of training pairs, `K` negatives per pair from the sampler, a model step per
//! batch, a full-ranking validation evaluation every `eval_every` epochs, early stopping on the
//! monitored validation metric, the best parameters kept, and the test split read exactly once
//! at the end. A [`RunDir`] records everything (resolved config, per-epoch JSONL, best
//! checkpoint, summary) with atomic writes.
//!
//! [`Dataset`]: autosample_data::Dataset
#![deny(clippy::unwrap_used)]

mod config;
mod error;
mod progress;
mod run_dir;
mod seeds;
mod trainer;

pub use config::{ModelConfig, TrainConfig};
pub use error::{Result, TrainError};
pub use progress::Progress;
pub use run_dir::{RunDir, RunFiles, remove_run_files, write_json_atomic};
pub use seeds::derive_seed;
pub use trainer::{
    EarlyStopping, EpochRecord, TimeBreakdown, TrainOptions, TrainOutcome, TrainedModel, WarmStart,
    evaluate_model, test_report, train, train_with, valid_report, validate,
};
