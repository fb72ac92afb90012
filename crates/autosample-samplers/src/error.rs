//! Sampler errors.

use autosample_data::UserId;

/// What can go wrong while configuring or running a sampler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// The user has interacted with every item, so no negative exists.
    #[error(
        "user {user} has interacted with all {n_items} items in the training split, so no negative \
         item exists for it; drop such users from the data (or add items)"
    )]
    UserHasNoNegatives {
        /// The dense user id.
        user: UserId,
        /// Number of items.
        n_items: usize,
    },
    /// A sampler that scores candidates was called without the model.
    #[error("sampler `{sampler}` scores candidates with the model, but no scorer was given")]
    MissingScorer {
        /// The sampler's name.
        sampler: &'static str,
    },
    /// A sampler spec or config could not be understood.
    #[error("invalid sampler spec {spec:?}: {message}")]
    InvalidSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, SamplerError>;
