//! # autosample-samplers
//!
//! Brief overview: a [`NegativeSampler`] draws negatives for a `(user, positive)` training pair
//! from the items the user has not interacted with in the training split. Samplers are built
//! from a [`SamplerConfig`] (parsed from a string such as `dns:candidates=32` or from JSON) and
//! may read the current model through the [`Scorer`] trait, which models implement, so that
//! this crate never depends on burn.
//!
//! Every sampler takes an explicit, seeded [`SamplerRng`] and an output buffer: no hidden
//! randomness, the same draws for the same seed, whatever the number of rayon threads.
//!
//! | sampler | config | needs scorer | output |
//! |---|---|---|---|
//! | RNS | `uniform` | no | items |
//! | PNS | `popularity` | no | items |
//! | DNS | `dns` | yes | items |
//! | DNS(M,N) | `dns_mn` | yes | items |
//! | CNS | `cns` | yes | items |
//! | AHNS | `ahns` | yes | items |
//! | SRNS | `srns` | yes (stateful) | items |
//! | MixGCF | `mixgcf` | yes | [`Negatives::Mixed`] |
//! | DENS | `dens` | yes (own gates, auxiliary loss) | [`Negatives::Mixed`] (weight 0) |
//!
//! The rules, defaults and sources are in each sampler's docs and in `docs/samplers/`.
#![deny(clippy::unwrap_used)]

mod ahns;
mod base;
mod cns;
pub mod config;
mod dens;
mod dns;
mod dns_mn;
mod engine;
mod error;
mod hard;
mod mixgcf;
mod popularity;
mod srns;
pub mod state;
mod uniform;

pub use ahns::AhnsSampler;
pub use base::{
    Auxiliary, CandidatePool, NegativeKind, NegativeSampler, Negatives, PairBatch, SampleContext,
    SamplerRng, Scorer, dot, nth_non_positive,
};
pub use cns::CnsSampler;
pub use config::SamplerConfig;
pub use dens::{DensGate, DensSampler, dens_params_len, gate_linear};
pub use dns::DnsSampler;
pub use dns_mn::DnsMnSampler;
pub use engine::sigmoid;
pub use error::{Result, SamplerError};
pub use mixgcf::{MixGcfSampler, MixPool};
pub use popularity::{AliasTable, PopularitySampler};
pub use srns::{DEFAULT_VARSET, HISTORY_EPOCHS, MemorySlot, SRNS_MEMORY_LIMIT, SrnsSampler};
pub use state::{
    StateReader, StateWriter, read_sampler_state, read_sampler_states, write_sampler_state,
    write_sampler_states,
};
pub use uniform::UniformSampler;
