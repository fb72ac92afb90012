//! # autosample-models
//!
//! Brief overview: recommender models whose embedding tables live in plain `Vec<f32>`
//! ([`EmbeddingTable`]) and are updated by hand-written row-sparse optimizers
//! ([`RowSparseOptimizer`]), while the loss of each mini-batch is built and differentiated by
//! burn autodiff over the batch's *gathered unique rows* only ([`bpr`]). This "hybrid" keeps
//! burn for the part that changes (the loss) and avoids burn's dense embedding backward, whose
//! cost grows with the table size (5–30× slower at our sizes; see docs/decisions).
//!
//! - [`Mf`]: matrix factorisation scored by inner product, trained with BPR.
//! - [`Ngcf`]: NGCF (Wang et al., SIGIR 2019) as its reference code computes it.
//! - [`bpr`]: the K-pair BPR loss with LightGCN/MixGCF-style L2, over gathered rows.
//! - [`checkpoint`]: burnpack checkpoints of the tables with a JSON sidecar.
//!
//! Models implement [`autosample_metrics::RankingScorer`] (full ranking) and
//! [`autosample_samplers::Scorer`] (hard-negative samplers).
#![deny(clippy::unwrap_used)]

pub mod bpr;
pub mod bpr_native;
pub mod checkpoint;
pub mod dens_loss;
pub mod dens_native;
mod device;
mod error;
pub mod graph;
mod lightgcn;
mod mf;
mod ngcf;
mod optim;
mod recommender;
mod state;
mod table;

pub use bpr::LossEngine;
pub use device::{backend_name, training_device};
pub use error::{ModelError, Result};
pub use lightgcn::{LightGcn, LightGcnConfig};
pub use mf::{AuxiliaryTerm, Mf, MfConfig, MixedNegatives, StepStats, StepTimings, TrainBatch};
pub use ngcf::{
    LEAKY_RELU_SLOPE, Ngcf, NgcfConfig, NgcfDropoutMasks, NgcfLayerWeights, NgcfTimings,
};
pub use optim::{OptimizerConfig, RowSparseOptimizer};
pub use recommender::Recommender;
pub use state::TrainingState;
pub use table::EmbeddingTable;
