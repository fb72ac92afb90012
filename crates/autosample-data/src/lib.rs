//! # autosample-data
//!
//! Brief overview: files on disk become a [`Dataset`], three [`Interactions`] splits (CSR, items
//! sorted per user) over one dense id space kept in two [`IdMap`]s.
//!
//! - [`load_dataset`] reads a directory or a single file in any supported format (LightGCN
//!   lists, TSV/CSV/space pairs, RecBole `.inter`, MovieLens `u.data` / `ratings.dat`), remaps
//!   ids, and makes the missing splits (seeded, recorded in [`SplitProvenance`]).
//! - [`synthetic`] generates the embedded default dataset: power-law item popularity and latent
//!   user/item clusters, so that negative samplers genuinely differ on it.
//! - [`stats`] summarises a dataset (density, Gini of item popularity, per-split counts).
//! - [`read`] documents the file formats and their auto-detection, [`load`] the directory
//!   layouts and the id rule, [`split`] the per-user split rules. `docs/data-formats.md` at the
//!   workspace root summarises all of them.
//!
//! This crate does not depend on burn, so its tests run in milliseconds.
#![deny(clippy::unwrap_used)]

mod atomic;
mod dataset;
mod error;
mod ids;
mod interactions;
pub mod load;
pub mod read;
pub mod split;
pub mod stats;
pub mod synthetic;

pub use atomic::write_atomic;
pub use dataset::{Dataset, SplitProvenance};
pub use error::{DataError, Result};
pub use ids::IdMap;
pub use interactions::{Interactions, ItemId, UserId};
pub use load::{FileFormat, LoadOptions, SplitStrategy, load_dataset};
