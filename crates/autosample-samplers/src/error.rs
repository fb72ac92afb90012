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
    /// Popularity sampling: every item the user has not interacted with has weight 0 (training
    /// degree 0 and no smoothing), so the popularity distribution over its negatives is empty.
    #[error(
        "sampler `{sampler}`: user {user} has no non-positive item with a positive popularity \
         weight (every item it has not interacted with has training degree 0); add smoothing so \
         that unseen items get a weight, e.g. `popularity:beta=0.75,smoothing=1`"
    )]
    UserHasNoWeightedNegatives {
        /// The sampler's name.
        sampler: &'static str,
        /// The dense user id.
        user: UserId,
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
    /// A sampler's state would exceed its memory limit for this training split (SRNS varset
    /// mode: `4·n_users·varset` bytes and more). The message names the option to lower.
    #[error("sampler `{sampler}`: {message}")]
    MemoryLimit {
        /// The sampler's name.
        sampler: &'static str,
        /// Bytes the state would need.
        needed_bytes: u64,
        /// The limit, in bytes.
        limit_bytes: u64,
        /// What to change.
        message: String,
    },
    /// The call itself is inconsistent: batch and context do not fit together (a user id out of
    /// range, a candidate pool of the wrong size or holding a positive, more negatives per pair
    /// than the sampler can give, ...). A programming error in the caller, reported instead of
    /// a panic.
    #[error("sampler `{sampler}`: {message}")]
    InvalidContext {
        /// The sampler's name.
        sampler: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A saved sampler state (a checkpoint's) that cannot be restored: another sampler's,
    /// another format version's, or damaged. Start the run over, or remove the checkpoint.
    #[error("sampler `{sampler}`: cannot restore its saved state: {message}")]
    InvalidState {
        /// The sampler's name.
        sampler: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, SamplerError>;
