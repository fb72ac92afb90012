//! [`Mf`]: matrix factorisation trained with BPR (Rendle et al., UAI 2009).
//!
//! `s(u, i) = ⟨e_u, e_i⟩` with `e_u`, `e_i` rows of two [`EmbeddingTable`]s. A training step
//! dedupes the batch's rows, gathers them, lets burn differentiate the loss over those rows only
//! ([`crate::bpr`]), and hands the row gradients to the row-sparse optimizer.

use autosample_data::{ItemId, UserId};
use autosample_metrics::{DotScorer, RankingScorer};
use autosample_samplers::Scorer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::bpr::{GatheredBatch, LossEngine, SyntheticRows, compute};
use crate::dens_loss::AuxRow;
use crate::{EmbeddingTable, ModelError, OptimizerConfig, Result, RowSparseOptimizer};

/// MF hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfConfig {
    /// Embedding width (default 64, the width of the NGCF/LightGCN comparisons).
    #[serde(default = "default_dim")]
    pub dim: usize,
    /// Standard deviation of the N(0, σ²) initialisation (default 0.1, as LightGCN's code).
    #[serde(default = "default_init_std")]
    pub init_std: f32,
    /// L2 coefficient of the batch regulariser (default 1e-4; see [`crate::bpr`]).
    #[serde(default = "default_l2")]
    pub l2: f64,
    /// Optimizer of both tables (default lazy Adam, lr 1e-3).
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// How the loss gradient is computed (default `burn`; `native` is the closed form, checked
    /// against burn in the tests).
    #[serde(default)]
    pub engine: LossEngine,
}

fn default_dim() -> usize {
    64
}
fn default_init_std() -> f32 {
    0.1
}
fn default_l2() -> f64 {
    1e-4
}

impl Default for MfConfig {
    fn default() -> Self {
        Self {
            dim: default_dim(),
            init_std: default_init_std(),
            l2: default_l2(),
            optimizer: OptimizerConfig::default(),
            engine: LossEngine::default(),
        }
    }
}

impl MfConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        validate_embedding(self.dim, self.init_std, self.l2)?;
        self.optimizer.validate()
    }
}

/// The checks every embedding model's config shares: a positive width, a positive finite
/// initialisation scale and a non-negative finite L2 coefficient.
pub(crate) fn validate_embedding(dim: usize, init_std: f32, l2: f64) -> Result<()> {
    if dim == 0 {
        return Err(ModelError::Config("dim must be at least 1".into()));
    }
    if !(init_std > 0.0 && init_std.is_finite()) {
        return Err(ModelError::Config(format!(
            "init_std must be a positive number, got {init_std}"
        )));
    }
    if !(l2 >= 0.0 && l2.is_finite()) {
        return Err(ModelError::Config(format!("l2 must be ≥ 0, got {l2}")));
    }
    Ok(())
}

/// One mini-batch of training triples in dense ids.
///
/// `negatives` holds `K` entries per pair, row-major: pair `b`'s negatives are
/// `negatives[b·K .. (b+1)·K]`.
#[derive(Debug, Clone, Copy)]
pub struct TrainBatch<'a> {
    /// Users, `[B]`.
    pub users: &'a [UserId],
    /// Positive items, `[B]`.
    pub positives: &'a [ItemId],
    /// Negative items, `[B·K]` (empty when `mixed` is set).
    pub negatives: &'a [ItemId],
    /// Synthetic negatives (MixGCF) instead of items.
    pub mixed: Option<MixedNegatives<'a>>,
    /// Samplers' auxiliary losses and their parameters (DENS with `γ > 0`), added to the BPR
    /// loss: one term for a sampler alone, one per such candidate in a supernet batch. Each
    /// term's parameter gradient is kept, in order, for
    /// [`crate::Mf::take_auxiliary_gradient`] (and the same method of the other models).
    pub auxiliary: &'a [AuxiliaryTerm<'a>],
    /// Per-pair loss weights (`[B]`; see [`crate::bpr::GatheredBatch::pair_weights`]), for the
    /// supernet's weighted sum over candidates; `None`: all 1.
    pub pair_weights: Option<&'a [f32]>,
}

/// One sampler's auxiliary loss over a contiguous run of a batch's pairs.
///
/// A sampler trained alone covers the whole batch with weight 1. The supernet's batch holds
/// one copy of the pairs per candidate, so a DENS candidate's term covers its own copy, with
/// its candidate weight `w_k`: the total loss is then `Σ_k w_k (ℓ_k + aux_k)`, each
/// candidate's whole loss weighted as the supernet's contract says.
#[derive(Debug, Clone)]
pub struct AuxiliaryTerm<'a> {
    /// The loss and its parameters.
    pub loss: autosample_samplers::Auxiliary<'a>,
    /// The pairs it covers (indices into the batch's pairs).
    pub pairs: std::ops::Range<usize>,
    /// Its weight in the total loss.
    pub weight: f32,
}

impl<'a> AuxiliaryTerm<'a> {
    /// The terms of one sampler trained alone: its loss, if it has one, over the whole batch
    /// of `pairs` pairs with weight 1.
    pub fn alone(loss: Option<autosample_samplers::Auxiliary<'a>>, pairs: usize) -> Vec<Self> {
        loss.map(|loss| Self {
            loss,
            pairs: 0..pairs,
            weight: 1.0,
        })
        .into_iter()
        .collect()
    }
}

/// Synthetic negatives defined by mixing (MixGCF): for pair `b`, negative `k`, layer `l`, the
/// negative's layer-`l` embedding is `a·e_pos⁽ˡ⁾ + (1 − a)·e_cand⁽ˡ⁾` with
/// `a = pos_weight[(b·K + k)·layers + l]` and `cand = candidates[…same index…]`.
#[derive(Debug, Clone, Copy)]
pub struct MixedNegatives<'a> {
    /// Negatives per pair.
    pub k: usize,
    /// Layers per negative (the model's number of layers, including layer 0).
    pub layers: usize,
    /// The candidate of each (pair, negative, layer).
    pub candidates: &'a [ItemId],
    /// The positive's weight of each (pair, negative, layer).
    pub pos_weight: &'a [f32],
}

/// What one step reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Total loss.
    pub loss: f32,
    /// BPR part.
    pub bpr: f32,
    /// L2 part.
    pub reg: f32,
    /// The sampler's auxiliary loss (DENS), included in `loss`; 0 without one.
    #[serde(default)]
    pub auxiliary: f32,
}

/// Cumulative seconds spent in each part of [`Mf::train_step`], for "where does the time go"
/// reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StepTimings {
    /// Deduplicating ids and gathering rows.
    pub gather: f64,
    /// Building the loss graph in burn, forward and backward, reading the gradients.
    pub loss_graph: f64,
    /// The row-sparse optimizer updates.
    pub optimizer: f64,
}

/// Reusable buffers that map a batch's ids to unique rows without hashing.
#[derive(Debug, Clone)]
pub(crate) struct Dedup {
    /// `slot[id]` = compact index of `id` in the current batch, or `u32::MAX`.
    slot: Vec<u32>,
    pub(crate) unique: Vec<u32>,
}

impl Dedup {
    pub(crate) fn new(rows: usize) -> Self {
        Self {
            slot: vec![u32::MAX; rows],
            unique: Vec::new(),
        }
    }

    /// Compact indices of `ids` into `out`; the unique ids, in first-seen order, stay in
    /// `self.unique` until [`Dedup::reset`].
    pub(crate) fn map(&mut self, ids: &[u32], out: &mut Vec<u32>) {
        for &id in ids {
            let s = &mut self.slot[id as usize];
            if *s == u32::MAX {
                *s = self.unique.len() as u32;
                self.unique.push(id);
            }
            out.push(*s);
        }
    }

    pub(crate) fn reset(&mut self) {
        for &id in &self.unique {
            self.slot[id as usize] = u32::MAX;
        }
        self.unique.clear();
    }
}

/// Matrix factorisation with BPR training.
#[derive(Debug, Clone)]
pub struct Mf {
    config: MfConfig,
    users: EmbeddingTable,
    items: EmbeddingTable,
    user_opt: RowSparseOptimizer,
    item_opt: RowSparseOptimizer,
    device: Device,
    user_dedup: Dedup,
    item_dedup: Dedup,
    step: u64,
    timings: StepTimings,
    /// The last step's gradients of its auxiliary terms' sampler parameters, one per term.
    auxiliary_grad: Vec<Vec<f32>>,
}

impl Mf {
    /// A fresh model: both tables N(0, init_std²) from seeds derived from `seed`.
    pub fn new(n_users: usize, n_items: usize, config: MfConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let users = EmbeddingTable::normal(n_users, config.dim, config.init_std, seed);
        let items = EmbeddingTable::normal(
            n_items,
            config.dim,
            config.init_std,
            seed ^ 0x9e37_79b9_7f4a_7c15,
        );
        Ok(Self::from_tables(config, users, items))
    }

    /// A model around existing tables (e.g. loaded from a checkpoint), with fresh optimizer
    /// state.
    ///
    /// # Panics
    /// If the tables' widths differ from `config.dim` (a programming error).
    pub fn from_tables(config: MfConfig, users: EmbeddingTable, items: EmbeddingTable) -> Self {
        assert!(
            users.dim() == config.dim && items.dim() == config.dim,
            "table width ≠ dim"
        );
        let user_opt = RowSparseOptimizer::new(config.optimizer.clone(), users.rows(), config.dim);
        let item_opt = RowSparseOptimizer::new(config.optimizer.clone(), items.rows(), config.dim);
        Self {
            user_dedup: Dedup::new(users.rows()),
            item_dedup: Dedup::new(items.rows()),
            device: crate::training_device(),
            config,
            users,
            items,
            user_opt,
            item_opt,
            step: 0,
            timings: StepTimings::default(),
            auxiliary_grad: Vec::new(),
        }
    }

    /// The gradients of the last step's auxiliary terms with respect to their samplers'
    /// parameters ([`TrainBatch::auxiliary`]), one per term in order, once.
    pub fn take_auxiliary_gradient(&mut self) -> Vec<Vec<f32>> {
        std::mem::take(&mut self.auxiliary_grad)
    }

    /// The configuration.
    pub fn config(&self) -> &MfConfig {
        &self.config
    }

    /// User embeddings.
    pub fn user_table(&self) -> &EmbeddingTable {
        &self.users
    }

    /// Item embeddings.
    pub fn item_table(&self) -> &EmbeddingTable {
        &self.items
    }

    /// Training steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Where the training steps' time went so far.
    pub fn timings(&self) -> StepTimings {
        self.timings
    }

    /// One optimisation step on a batch.
    ///
    /// # Errors
    /// [`ModelError::Diverged`] if the loss is NaN/inf; the tables are then left unchanged.
    ///
    /// # Panics
    /// If `negatives.len()` is not a multiple of `users.len()`, or the slices' lengths differ
    /// (a programming error in the caller).
    pub fn train_step(&mut self, batch: &TrainBatch<'_>) -> Result<StepStats> {
        let b = batch.users.len();
        assert_eq!(
            b,
            batch.positives.len(),
            "users and positives differ in length"
        );
        assert!(
            b > 0 && batch.negatives.len().is_multiple_of(b),
            "negatives must be K per pair"
        );
        if let Some(mx) = batch.mixed.filter(|mx| mx.layers != 1) {
            return Err(ModelError::Config(format!(
                "MF has one layer, but the synthetic negatives mix {} layers",
                mx.layers
            )));
        }
        let d = self.config.dim;
        let t0 = std::time::Instant::now();

        let mut u_idx = Vec::with_capacity(b);
        let mut p_idx = Vec::with_capacity(b);
        let mut n_idx = Vec::with_capacity(batch.negatives.len());
        let mut c_idx = Vec::new();
        self.user_dedup.map(batch.users, &mut u_idx);
        self.item_dedup.map(batch.positives, &mut p_idx);
        self.item_dedup.map(batch.negatives, &mut n_idx);
        if let Some(mx) = batch.mixed {
            self.item_dedup.map(mx.candidates, &mut c_idx);
        }

        let mut user_rows = Vec::new();
        let mut item_rows = Vec::new();
        self.users
            .gather_into(&self.user_dedup.unique, &mut user_rows);
        self.items
            .gather_into(&self.item_dedup.unique, &mut item_rows);

        // MixGCF on MF: each negative is a·e_pos + (1 − a)·e_cand (one layer, so the scored
        // vector is also the regularised layer-0 vector).
        let mixed_rows: Option<Vec<f32>> = batch.mixed.map(|mx| {
            let mut rows = Vec::with_capacity(mx.candidates.len() * d);
            for (n, (&c, &a)) in c_idx.iter().zip(mx.pos_weight).enumerate() {
                let pos = p_idx[n / mx.k] as usize;
                let (pr, cr) = (
                    &item_rows[pos * d..(pos + 1) * d],
                    &item_rows[c as usize * d..(c as usize + 1) * d],
                );
                rows.extend(pr.iter().zip(cr).map(|(p, c)| a * p + (1.0 - a) * c));
            }
            rows
        });
        let gathered = GatheredBatch {
            pair_weights: batch.pair_weights,
            dim: d,
            user_rows: &user_rows,
            item_rows: &item_rows,
            users: &u_idx,
            positives: &p_idx,
            negatives: &n_idx,
            ego: None,
            synthetic: match (&mixed_rows, batch.mixed) {
                (Some(rows), Some(mx)) => Some(SyntheticRows {
                    k: mx.k,
                    rows,
                    ego_rows: rows,
                }),
                _ => None,
            },
        };
        let t1 = std::time::Instant::now();
        let result = compute(
            self.config.engine,
            &self.device,
            &gathered,
            self.config.l2,
            self.step,
        );
        // DENS's auxiliary loss over the (single) layer rows.
        let aux = match &result {
            Ok(_) => {
                let (nu, users, items) = (self.users.rows(), &self.users, &self.items);
                crate::dens_loss::batch_auxiliary(
                    self.config.engine,
                    &self.device,
                    batch,
                    1,
                    d,
                    crate::dens_loss::LayerPooling::Mean,
                    nu,
                    self.step,
                    |_, node| {
                        if node < nu {
                            users.row(node)
                        } else {
                            items.row(node - nu)
                        }
                    },
                )
            }
            Err(_) => Ok(Vec::new()),
        };
        let t2 = std::time::Instant::now();
        self.timings.gather += (t1 - t0).as_secs_f64();
        self.timings.loss_graph += (t2 - t1).as_secs_f64();
        let out = match (result, aux) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(mut lg), Ok(aux)) => {
                let mut aux_loss = 0.0;
                // A term exists only with per-layer negatives (batch_auxiliary checks).
                for aux in &aux {
                    aux.for_each_row(|_, row, g| {
                        let (grads, r) = match row {
                            AuxRow::User(b) => (&mut lg.user_grads, u_idx[b] as usize),
                            AuxRow::Positive(b) => (&mut lg.item_grads, p_idx[b] as usize),
                            AuxRow::Negative(n) => (&mut lg.item_grads, c_idx[n] as usize),
                        };
                        for (a, x) in grads[r * d..(r + 1) * d].iter_mut().zip(g) {
                            *a += x;
                        }
                    });
                    debug_assert!(
                        batch
                            .mixed
                            .is_some_and(|mx| c_idx.len() == mx.candidates.len())
                    );
                    aux_loss += aux.grads.loss;
                }
                self.auxiliary_grad = aux.into_iter().map(|a| a.grads.gates).collect();
                // Synthetic negatives pass their gradient on to the rows they were mixed from.
                if let (Some(mx), Some((gr, ge))) = (batch.mixed, &lg.synthetic_grads) {
                    for (n, (&c, &a)) in c_idx.iter().zip(mx.pos_weight).enumerate() {
                        let pos = p_idx[n / mx.k] as usize;
                        for j in 0..d {
                            let g = gr[n * d + j] + ge[n * d + j];
                            lg.item_grads[pos * d + j] += a * g;
                            lg.item_grads[c as usize * d + j] += (1.0 - a) * g;
                        }
                    }
                }
                // The two tables are disjoint: update them on two threads.
                let (users, items) = (&mut self.users, &mut self.items);
                let (user_opt, item_opt) = (&mut self.user_opt, &mut self.item_opt);
                let (uu, iu) = (&self.user_dedup.unique, &self.item_dedup.unique);
                rayon::join(
                    || user_opt.update(users, uu, &lg.user_grads),
                    || item_opt.update(items, iu, &lg.item_grads),
                );
                self.timings.optimizer += t2.elapsed().as_secs_f64();
                self.step += 1;
                Ok(StepStats {
                    loss: lg.loss + aux_loss,
                    bpr: lg.bpr,
                    reg: lg.reg,
                    auxiliary: aux_loss,
                })
            }
        };
        self.user_dedup.reset();
        self.item_dedup.reset();
        out
    }

    /// Parameters, optimizer moments and counters, for resuming training.
    pub fn training_state(&self) -> crate::TrainingState {
        let mut s = crate::TrainingState::default();
        s.tensors
            .push(("users".into(), self.users.as_slice().to_vec()));
        s.tensors
            .push(("items".into(), self.items.as_slice().to_vec()));
        self.user_opt.save_state("user_opt", &mut s);
        self.item_opt.save_state("item_opt", &mut s);
        s.counters.insert("step".into(), self.step);
        s
    }

    /// Restores what [`Mf::training_state`] returned.
    pub fn restore(&mut self, mut s: crate::TrainingState) -> Result<()> {
        let (u, i) = (self.users.as_slice().len(), self.items.as_slice().len());
        self.users
            .as_mut_slice()
            .copy_from_slice(&s.take("users", u)?);
        self.items
            .as_mut_slice()
            .copy_from_slice(&s.take("items", i)?);
        self.user_opt.load_state("user_opt", &mut s)?;
        self.item_opt.load_state("item_opt", &mut s)?;
        self.step = s.counter("step");
        Ok(())
    }

    /// Full-ranking scorer over the current tables.
    pub fn ranking_scorer(&self) -> DotScorer<'_> {
        DotScorer::new(
            self.users.as_slice(),
            self.items.as_slice(),
            self.config.dim,
        )
        .expect("MF tables share their width by construction")
    }
}

impl Scorer for Mf {
    fn dim(&self) -> usize {
        self.config.dim
    }

    fn user_layer(&self, _layer: usize, user: UserId) -> &[f32] {
        self.users.row(user as usize)
    }

    fn item_layer(&self, _layer: usize, item: ItemId) -> &[f32] {
        self.items.row(item as usize)
    }

    fn user_vec(&self, user: UserId) -> &[f32] {
        self.users.row(user as usize)
    }

    fn item_vec(&self, item: ItemId) -> &[f32] {
        self.items.row(item as usize)
    }
}

impl RankingScorer for Mf {
    fn n_items(&self) -> usize {
        self.items.rows()
    }

    fn n_users(&self) -> Option<usize> {
        Some(self.users.rows())
    }

    fn score_users(&self, users: &[UserId], out: &mut [f32]) {
        self.ranking_scorer().score_users(users, out)
    }
}
