//! # autosample-search
//!
//! The AutoSample search over negative samplers. So far: [`SearchSpace`], the validated form
//! of a search-space file (`search-spaces/*.json`, NNI-style JSON), which lists the candidate
//! samplers and where each hyperparameter may move. The format is defined in
//! `search-spaces/README.md`.
#![deny(clippy::unwrap_used)]

mod space;

pub use space::{
    Domain, Family, MAX_INITIAL_CANDIDATES, SPACE_VERSION, SearchSpace, SpaceError, Value,
};
