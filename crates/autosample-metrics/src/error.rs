//! [`EvalError`]: everything that can make [`crate::evaluate`] refuse to produce a report.

use autosample_data::UserId;

/// Why an evaluation could not be run or completed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// [`crate::EvalOptions::ks`] was empty.
    #[error("no cutoff K given: EvalOptions::ks is empty")]
    NoCutoffs,
    /// A cutoff `K` was 0.
    #[error("cutoff K must be at least 1, got 0")]
    ZeroCutoff,
    /// [`crate::EvalOptions::chunk_users`] was 0.
    #[error("chunk_users must be at least 1, got 0")]
    ZeroChunk,
    /// A split's item id space differs from the scorer's.
    #[error("item id space mismatch: {what} has {got} items but the scorer scores {expected}")]
    ItemSpaceMismatch {
        /// Which input disagreed (`"target"`, `"exclude[0]"`, …).
        what: String,
        /// The scorer's item count.
        expected: usize,
        /// The item count of `what`.
        got: usize,
    },
    /// A split's user id space differs from the target's (or from the scorer's, if it knows it).
    #[error("user id space mismatch: {what} has {got} users but {expected} were expected")]
    UserSpaceMismatch {
        /// Which input disagreed (`"exclude[1]"`, `"scorer"`, …).
        what: String,
        /// The target split's user count.
        expected: usize,
        /// The user count of `what`.
        got: usize,
    },
    /// The scorer produced NaN or ±infinity (typically a diverged model). `user` is the smallest
    /// evaluated user id whose score row contained one; `item` is the first such item of that row.
    #[error("non-finite score {value} for user {user}, item {item} (has the model diverged?)")]
    NonFiniteScore {
        /// The first user (in evaluation order, i.e. ascending id) with a non-finite score.
        user: UserId,
        /// The first item of that user's row with a non-finite score.
        item: u32,
        /// The offending value (NaN, `inf` or `-inf`).
        value: f32,
    },
    /// A [`crate::DotScorer`] was built from tables whose lengths do not fit the dimension.
    #[error("embedding table of {len} floats is not a whole number of rows of dim {dim}")]
    BadEmbeddingShape {
        /// Length of the offending table.
        len: usize,
        /// The declared embedding dimension.
        dim: usize,
    },
}
