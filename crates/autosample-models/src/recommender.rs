//! [`Recommender`]: what every model offers the trainer, the samplers and the evaluator.
//!
//! A model scores (its [`Scorer`] view for samplers, its [`RankingScorer`] for full-ranking
//! evaluation), takes a training step (the loss gradient with respect to the batch's gathered
//! rows, propagated back to its parameters, then its optimizer's update), and saves and loads
//! its state. MF, LightGCN and NGCF implement it; the trainer holds any of them as
//! `dyn Recommender`.

use autosample_metrics::RankingScorer;
use autosample_samplers::Scorer;

use crate::{
    EmbeddingTable, LightGcn, Mf, Ngcf, Result, StepStats, StepTimings, TrainBatch, TrainingState,
};

/// A trainable recommender.
pub trait Recommender: Scorer + RankingScorer + Send {
    /// The model's name (`mf`, `lightgcn`, `ngcf`).
    fn name(&self) -> &'static str;

    /// Brings derived embeddings (graph propagation) up to date with the parameters; call
    /// before scoring. A no-op for MF.
    fn refresh(&mut self);

    /// One optimisation step on `batch`.
    ///
    /// # Errors
    /// A model error (e.g. a non-finite loss, which leaves the parameters unchanged).
    fn train_step(&mut self, batch: &TrainBatch<'_>) -> Result<StepStats>;

    /// The gradients of the last step's auxiliary terms with respect to their samplers'
    /// parameters ([`TrainBatch::auxiliary`]), one per term in order, once.
    fn take_auxiliary_gradient(&mut self) -> Vec<Vec<f32>>;

    /// The learning rate of the embedding optimizer.
    fn learning_rate(&self) -> f64;

    /// Parameters, optimizer state and counters.
    fn training_state(&self) -> TrainingState;

    /// Restores what [`Recommender::training_state`] returned.
    ///
    /// # Errors
    /// If the state does not fit the model (names or shapes).
    fn restore(&mut self, state: TrainingState) -> Result<()>;

    /// The trainable user and item tables (ego embeddings for graph models), for checkpoints.
    fn tables(&self) -> (EmbeddingTable, EmbeddingTable);

    /// Where the steps' time went, and the seconds of graph propagation.
    fn timings(&self) -> (StepTimings, f64);
}

/// The methods every model implements the same way: its inherent ones of the same name.
macro_rules! delegate_to_inherent {
    ($model:ident) => {
        fn train_step(&mut self, batch: &TrainBatch<'_>) -> Result<StepStats> {
            $model::train_step(self, batch)
        }
        fn take_auxiliary_gradient(&mut self) -> Vec<Vec<f32>> {
            $model::take_auxiliary_gradient(self)
        }
        fn learning_rate(&self) -> f64 {
            self.config().optimizer.lr()
        }
        fn training_state(&self) -> TrainingState {
            $model::training_state(self)
        }
        fn restore(&mut self, state: TrainingState) -> Result<()> {
            $model::restore(self, state)
        }
    };
}

impl Recommender for Mf {
    fn name(&self) -> &'static str {
        "mf"
    }
    fn refresh(&mut self) {}
    delegate_to_inherent!(Mf);
    fn tables(&self) -> (EmbeddingTable, EmbeddingTable) {
        (self.user_table().clone(), self.item_table().clone())
    }
    fn timings(&self) -> (StepTimings, f64) {
        (Mf::timings(self), 0.0)
    }
}

impl Recommender for LightGcn {
    fn name(&self) -> &'static str {
        "lightgcn"
    }
    fn refresh(&mut self) {
        LightGcn::refresh(self)
    }
    delegate_to_inherent!(LightGcn);
    fn tables(&self) -> (EmbeddingTable, EmbeddingTable) {
        self.split_tables()
    }
    fn timings(&self) -> (StepTimings, f64) {
        (LightGcn::timings(self), self.propagate_seconds())
    }
}

impl Recommender for Ngcf {
    fn name(&self) -> &'static str {
        "ngcf"
    }
    fn refresh(&mut self) {
        Ngcf::refresh(self)
    }
    delegate_to_inherent!(Ngcf);
    fn tables(&self) -> (EmbeddingTable, EmbeddingTable) {
        self.split_tables()
    }
    fn timings(&self) -> (StepTimings, f64) {
        (Ngcf::timings(self), self.propagate_seconds())
    }
}
