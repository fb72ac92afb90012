//! Model errors.

use std::path::PathBuf;

/// What can go wrong in a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A configuration value is impossible.
    #[error("invalid model config: {0}")]
    Config(String),
    /// The loss became NaN or infinite.
    #[error(
        "training diverged: the loss became {value} at step {step}; lower the learning rate or \
         the initialisation scale"
    )]
    Diverged {
        /// The offending loss value.
        value: f32,
        /// Global step at which it happened.
        step: u64,
    },
    /// Reading or writing a checkpoint failed.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint path.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
