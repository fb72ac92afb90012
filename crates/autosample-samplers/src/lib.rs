//! # autosample-samplers
//!
//! Brief overview: a [`NegativeSampler`] draws negatives for a `(user, positive)` training pair
//! from the items the user has not interacted with in the training split. Samplers are built
//! from a [`SamplerConfig`] (parsed from a string such as `uniform` or from JSON) and may read
//! the current model through the [`Scorer`] trait, which models implement, so that this crate
//! never depends on burn.
//!
//! Every sampler takes an explicit, seeded [`SamplerRng`] and an output buffer: no hidden state,
//! no allocation per call, the same draws for the same seed.
#![deny(clippy::unwrap_used)]

mod base;
mod config;
mod error;
mod uniform;

pub use base::{
    CandidatePool, NegativeKind, NegativeSampler, Negatives, PairBatch, SampleContext, SamplerRng,
    Scorer, dot, nth_non_positive,
};
pub use config::SamplerConfig;
pub use error::{Result, SamplerError};
pub use uniform::UniformSampler;
