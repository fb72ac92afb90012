//! Training errors.

use std::path::PathBuf;

/// What can go wrong while training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A configuration value is impossible.
    #[error("invalid training config: {0}")]
    Config(String),
    /// The model failed (e.g. diverged).
    #[error(transparent)]
    Model(#[from] autosample_models::ModelError),
    /// Training diverged (a non-finite loss), with what caused it and what to do.
    #[error("{0}")]
    Diverged(String),
    /// The sampler failed.
    #[error(transparent)]
    Sampler(#[from] autosample_samplers::SamplerError),
    /// Evaluation failed.
    #[error(transparent)]
    Eval(#[from] autosample_metrics::EvalError),
    /// Reading or writing the run directory failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
    /// The dataset has nothing to train or evaluate on.
    #[error("dataset {name}: {message}")]
    Data {
        /// Dataset name.
        name: String,
        /// What is missing.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TrainError>;
