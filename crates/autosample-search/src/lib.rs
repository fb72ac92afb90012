//! # autosample-search
//!
//! The AutoSample search over negative samplers. So far:
//! - [`SearchSpace`], the validated form of a search-space file (`search-spaces/*.json`,
//!   NNI-style JSON), which lists the candidate samplers and where each hyperparameter may
//!   move. The format is defined in `search-spaces/README.md`.
//! - [`Supernet`], one training step whose loss is the weighted sum of the candidates' losses
//!   (docs/decisions/0004-supernet-step.md).
//! - [`SelectorConfig`], the rules that move the candidates' weights and prune (evidence,
//!   gradient alignment, the training-loss control), and [`autosample`], the strategy that
//!   runs one of them: warm-up, rounds, choice, warm-started retrain.
//! - The baselines [`exhaustive`] and [`successive_halving`].
#![deny(clippy::unwrap_used)]

mod autosample;
mod exhaustive;
mod halving;
mod mixture;
mod selector;
mod space;
mod supernet;

pub use autosample::{
    AUTOSAMPLE_CHECKPOINT, AutoSampleConfig, AutoSampleOutcome, EpochCounts, Event, Evidence,
    FinalSampler, Retrain, autosample, autosample_in, branch_epochs_per_candidate,
    remove_autosample_checkpoint,
};
pub use exhaustive::{CandidateRun, ExhaustiveOutcome, exhaustive};
pub use halving::{
    HALVING_CHECKPOINT, HalvingOutcome, HalvingStart, Rung, successive_halving,
    successive_halving_in,
};
pub use mixture::{MixtureRetrain, retrain_mixture};
pub use selector::{
    AlphaAdam, SelectorConfig, ValidationLoss, ValidationSample, bonferroni_z, bootstrap_se,
    floored_softmax, normal_cdf, normal_quantile_upper, softmax_chain,
};
pub use space::{
    Domain, Family, MAX_INITIAL_CANDIDATES, SPACE_VERSION, SearchSpace, SpaceError, Value,
};
pub use supernet::{Supernet, SupernetEpoch, SupernetStep};
