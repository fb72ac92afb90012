//! [`LightGcn`]: LightGCN (He et al., SIGIR 2020, arXiv 2002.02126).
//!
//! Ego embeddings `E⁽⁰⁾` of all users and items (one table, users first) are propagated over
//! the normalised adjacency, `E⁽ᵏ⁾ = Â E⁽ᵏ⁻¹⁾` for `k = 1..L`, and pooled by the layer mean
//! `E = (1/(L+1)) Σₖ E⁽ᵏ⁾` (eq. 8 with αₖ = 1/(L+1)); scores are `⟨e_u, e_i⟩` on the pooled
//! embeddings. The BPR loss is taken on the pooled rows of the batch, the L2 term on its ego
//! rows (as the official code's `regularizer / batch_size`).
//!
//! A step propagates forward with the hand CSR product ([`crate::graph`]), differentiates the
//! loss over the batch's gathered pooled rows with burn, scatters those row gradients into `G`
//! and pulls them back through the propagation: because `Â` is symmetric,
//! `∂L/∂E⁽⁰⁾ = (1/(L+1)) Σₖ Âᵏ G`, computed by Horner's rule (`acc ← Â·acc + G`, `L` times).
//! After `L` hops the gradient touches most rows, so the optimizer updates the whole table.
//!
//! Two products per step are cheaper than full ones, with the same result:
//! - forward, when no sampler scores the full table, the top layer and the layer mean are
//!   computed for the batch's rows only ([`LightGcn::refresh`] still computes everything
//!   for evaluation and hard-negative samplers);
//! - backward, the first hop's input `G` is non-zero on the batch's rows only, so it is
//!   scattered from them ([`NormalizedAdjacency::spmm_from_rows`]) when they hold under half
//!   of the graph's edges (gowalla: ~10 %; ml-1m batches cover most of it).
//!
//! Per step that is `2L − 2` full products plus two batch-sized ones instead of `2L`.

use autosample_data::{Interactions, ItemId, UserId};
use autosample_metrics::{DotScorer, RankingScorer};
use autosample_samplers::Scorer;
use burn::tensor::Device;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bpr::{EgoRows, GatheredBatch, LossEngine, SyntheticRows, compute};
use crate::dens_loss::AuxRow;
use crate::graph::NormalizedAdjacency;
use crate::mf::Dedup;
use crate::{
    EmbeddingTable, ModelError, OptimizerConfig, Result, RowSparseOptimizer, StepStats,
    StepTimings, TrainBatch,
};

/// Floats per parallel task of the pooling pass.
const POOL_BLOCK: usize = 64 * 1024;

/// LightGCN hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightGcnConfig {
    /// Embedding width (default 64).
    #[serde(default = "default_dim")]
    pub dim: usize,
    /// Propagation layers `L` (default 3, the paper's setting for its headline numbers).
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// Standard deviation of the N(0, σ²) initialisation (default 0.1, as the official code).
    #[serde(default = "default_init_std")]
    pub init_std: f32,
    /// L2 coefficient on the batch's ego embeddings (default 1e-4).
    #[serde(default = "default_l2")]
    pub l2: f64,
    /// Optimizer of the ego table (default Adam, lr 1e-3).
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
fn default_layers() -> usize {
    3
}
fn default_init_std() -> f32 {
    0.1
}
fn default_l2() -> f64 {
    1e-4
}

impl Default for LightGcnConfig {
    fn default() -> Self {
        Self {
            dim: default_dim(),
            layers: default_layers(),
            init_std: default_init_std(),
            l2: default_l2(),
            optimizer: OptimizerConfig::default(),
            engine: LossEngine::default(),
        }
    }
}

impl LightGcnConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        crate::mf::validate_embedding(self.dim, self.init_std, self.l2)?;
        self.optimizer.validate()
    }
}

/// LightGCN with BPR training.
#[derive(Debug, Clone)]
pub struct LightGcn {
    config: LightGcnConfig,
    n_users: usize,
    n_items: usize,
    /// `E⁽⁰⁾`, `[n_users + n_items, dim]`, users first.
    ego: EmbeddingTable,
    adj: NormalizedAdjacency,
    /// `E⁽¹⁾..E⁽ᴸ⁾`, each `[n_nodes · dim]`.
    hops: Vec<Vec<f32>>,
    /// The layer mean.
    pooled: Vec<f32>,
    /// Whether `hops` and `pooled` reflect the current `ego`.
    fresh: bool,
    opt: RowSparseOptimizer,
    scratch: Vec<f32>,
    tmp: Vec<f32>,
    device: Device,
    user_dedup: Dedup,
    item_dedup: Dedup,
    step: u64,
    timings: StepTimings,
    propagate_seconds: f64,
    /// The last step's gradients of its auxiliary terms' sampler parameters, one per term.
    auxiliary_grad: Vec<Vec<f32>>,
}

impl LightGcn {
    /// A fresh model over the training graph, ego embeddings N(0, init_std²) from `seed`.
    pub fn new(train: &Interactions, config: LightGcnConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let n = train.n_users() + train.n_items();
        let ego = EmbeddingTable::normal(n, config.dim, config.init_std, seed);
        Ok(Self::from_ego(train, config, ego))
    }

    /// A model around existing ego embeddings (e.g. from a checkpoint), fresh optimizer state.
    ///
    /// # Panics
    /// If the table does not have `n_users + n_items` rows of width `config.dim`.
    pub fn from_ego(train: &Interactions, config: LightGcnConfig, ego: EmbeddingTable) -> Self {
        let (nu, ni) = (train.n_users(), train.n_items());
        assert!(
            ego.rows() == nu + ni && ego.dim() == config.dim,
            "ego table has the wrong shape"
        );
        let n = nu + ni;
        let d = config.dim;
        let opt = RowSparseOptimizer::new(config.optimizer.clone(), n, d);
        let mut model = Self {
            n_users: nu,
            n_items: ni,
            adj: NormalizedAdjacency::from_interactions(train),
            hops: vec![vec![0.0; n * d]; config.layers],
            pooled: vec![0.0; n * d],
            fresh: false,
            opt,
            scratch: vec![0.0; n * d],
            tmp: vec![0.0; n * d],
            device: crate::training_device(),
            user_dedup: Dedup::new(nu),
            item_dedup: Dedup::new(ni),
            step: 0,
            timings: StepTimings::default(),
            propagate_seconds: 0.0,
            auxiliary_grad: Vec::new(),
            config,
            ego,
        };
        model.refresh();
        model
    }

    /// The configuration.
    pub fn config(&self) -> &LightGcnConfig {
        &self.config
    }

    /// The ego table (users first, then items).
    pub fn ego(&self) -> &EmbeddingTable {
        &self.ego
    }

    /// The ego table split into (users, items) copies, for checkpoints.
    pub fn split_tables(&self) -> (EmbeddingTable, EmbeddingTable) {
        let d = self.config.dim;
        let s = self.ego.as_slice();
        (
            EmbeddingTable::from_vec(self.n_users, d, s[..self.n_users * d].to_vec()),
            EmbeddingTable::from_vec(self.n_items, d, s[self.n_users * d..].to_vec()),
        )
    }

    /// Where the training steps' time went so far (the sparse propagation is reported
    /// separately by [`LightGcn::propagate_seconds`]).
    pub fn timings(&self) -> StepTimings {
        self.timings
    }

    /// Seconds spent in the sparse propagation, forward and backward.
    pub fn propagate_seconds(&self) -> f64 {
        self.propagate_seconds
    }

    /// The gradients of the last step's auxiliary terms with respect to their samplers'
    /// parameters ([`TrainBatch::auxiliary`]), one per term in order, once.
    pub fn take_auxiliary_gradient(&mut self) -> Vec<Vec<f32>> {
        std::mem::take(&mut self.auxiliary_grad)
    }

    /// Training steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Recomputes the propagated and pooled embeddings from the current ego table, if stale.
    pub fn refresh(&mut self) {
        if self.fresh {
            return;
        }
        let t = std::time::Instant::now();
        let l = self.config.layers;
        self.propagate_hops(l);
        // The layer mean in one pass over all layers (same summation order as layer by layer).
        let scale = 1.0 / (l + 1) as f32;
        let (ego, hops) = (self.ego.as_slice(), &self.hops);
        self.pooled
            .par_chunks_mut(POOL_BLOCK)
            .enumerate()
            .for_each(|(blk, out)| {
                let off = blk * POOL_BLOCK;
                for (j, p) in out.iter_mut().enumerate() {
                    let mut acc = ego[off + j];
                    for hop in hops {
                        acc += hop[off + j];
                    }
                    *p = acc * scale;
                }
            });
        self.fresh = true;
        self.propagate_seconds += t.elapsed().as_secs_f64();
    }

    /// `E⁽ᵏ⁾ = Â E⁽ᵏ⁻¹⁾` in full for `k = 1..=count`.
    fn propagate_hops(&mut self, count: usize) {
        let d = self.config.dim;
        for k in 0..count {
            let (before, rest) = self.hops.split_at_mut(k);
            let src: &[f32] = if k == 0 {
                self.ego.as_slice()
            } else {
                &before[k - 1]
            };
            self.adj.spmm(src, d, &mut rest[0]);
        }
    }

    /// What [`LightGcn::refresh`] computes, but the last layer and the layer mean for `nodes`
    /// only: all a step reads when no sampler scores the full table. Every hop below the top
    /// is still full (the top layer's rows depend on them), so this saves one full product of
    /// the `L` per step. The rows it writes are bitwise those of a full refresh (same kernel,
    /// same summation order); the others are stale, so the model stays marked not fresh.
    fn refresh_rows(&mut self, nodes: &[u32]) {
        let t = std::time::Instant::now();
        let d = self.config.dim;
        let l = self.config.layers;
        if l > 0 {
            self.propagate_hops(l - 1);
            let (below, top) = self.hops.split_at_mut(l - 1);
            let src: &[f32] = if l == 1 {
                self.ego.as_slice()
            } else {
                &below[l - 2]
            };
            let mut rows = vec![0.0f32; nodes.len() * d];
            self.adj.spmm_rows(src, d, nodes, &mut rows);
            for (row, &r) in rows.chunks(d).zip(nodes) {
                let r = r as usize;
                top[0][r * d..(r + 1) * d].copy_from_slice(row);
            }
        }
        let scale = 1.0 / (l + 1) as f32;
        for &r in nodes {
            let r = r as usize;
            for j in r * d..(r + 1) * d {
                let mut acc = self.ego.as_slice()[j];
                for hop in &self.hops {
                    acc += hop[j];
                }
                self.pooled[j] = acc * scale;
            }
        }
        self.propagate_seconds += t.elapsed().as_secs_f64();
    }

    fn pooled_row(&self, node: usize) -> &[f32] {
        let d = self.config.dim;
        &self.pooled[node * d..(node + 1) * d]
    }

    /// One optimisation step on a batch (propagating first if the embeddings are stale).
    ///
    /// # Errors
    /// [`ModelError::Diverged`] if the loss is NaN/inf; the parameters are then unchanged.
    ///
    /// # Panics
    /// If the batch's slices disagree in length (a programming error in the caller).
    pub fn train_step(&mut self, batch: &TrainBatch<'_>) -> Result<StepStats> {
        if let Some(mx) = batch.mixed.filter(|mx| mx.layers != self.config.layers + 1) {
            return Err(ModelError::Config(format!(
                "LightGCN with {} layers has {} layer embeddings, but the synthetic negatives mix \
                 {}",
                self.config.layers,
                self.config.layers + 1,
                mx.layers
            )));
        }
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
        let d = self.config.dim;
        let nu = self.n_users;

        let mut u_idx = Vec::with_capacity(b);
        let mut p_idx = Vec::with_capacity(b);
        let mut n_idx = Vec::with_capacity(batch.negatives.len());
        self.user_dedup.map(batch.users, &mut u_idx);
        self.item_dedup.map(batch.positives, &mut p_idx);
        self.item_dedup.map(batch.negatives, &mut n_idx);
        let mut c_idx = Vec::new();
        if let Some(mx) = batch.mixed {
            self.item_dedup.map(mx.candidates, &mut c_idx);
        }
        let users: Vec<u32> = self.user_dedup.unique.clone();
        let items: Vec<u32> = self.item_dedup.unique.clone();
        self.user_dedup.reset();
        self.item_dedup.reset();
        // The batch's graph nodes, users then items: the rows the loss reads and the rows its
        // gradient `G` lives on (compact buffers below are in this order).
        let nodes: Vec<u32> = users
            .iter()
            .copied()
            .chain(items.iter().map(|&i| nu as u32 + i))
            .collect();
        if !self.fresh {
            // Mixed negatives read every layer of their candidates; and when the batch's rows
            // hold most of the graph's edges (small dense data such as ml-1m), the row subset
            // costs as much as the full product, in a worse memory order.
            if batch.mixed.is_some() || 2 * self.adj.degree_sum(&nodes) >= self.adj.nnz() {
                self.refresh();
            } else {
                self.refresh_rows(&nodes);
            }
        }
        let t0 = std::time::Instant::now();

        let mut user_rows = Vec::with_capacity(users.len() * d);
        let mut ego_user_rows = Vec::with_capacity(users.len() * d);
        for &u in &users {
            user_rows.extend_from_slice(self.pooled_row(u as usize));
            ego_user_rows.extend_from_slice(self.ego.row(u as usize));
        }
        let mut item_rows = Vec::with_capacity(items.len() * d);
        let mut ego_item_rows = Vec::with_capacity(items.len() * d);
        for &i in &items {
            item_rows.extend_from_slice(self.pooled_row(nu + i as usize));
            ego_item_rows.extend_from_slice(self.ego.row(nu + i as usize));
        }
        // MixGCF: negative n's layer-l embedding is a·e_pos⁽ˡ⁾ + (1 − a)·e_cand⁽ˡ⁾; it is
        // scored by its layer mean and regularised by its layer-0 (ego) mix.
        let layers = self.config.layers + 1;
        let inv_layers = 1.0 / layers as f32;
        let mixed_rows: Option<(Vec<f32>, Vec<f32>)> = batch.mixed.map(|mx| {
            let n_neg = mx.candidates.len() / layers;
            let mut rows = vec![0.0f32; n_neg * d];
            let mut ego_rows = vec![0.0f32; n_neg * d];
            for n in 0..n_neg {
                let pos = nu + batch.positives[n / mx.k] as usize;
                for l in 0..layers {
                    let a = mx.pos_weight[n * layers + l];
                    let cand = nu + mx.candidates[n * layers + l] as usize;
                    let (pr, cr) = (self.node_layer(l, pos), self.node_layer(l, cand));
                    let row = &mut rows[n * d..(n + 1) * d];
                    for j in 0..d {
                        row[j] += inv_layers * (a * pr[j] + (1.0 - a) * cr[j]);
                    }
                    if l == 0 {
                        let e = &mut ego_rows[n * d..(n + 1) * d];
                        for j in 0..d {
                            e[j] = a * pr[j] + (1.0 - a) * cr[j];
                        }
                    }
                }
            }
            (rows, ego_rows)
        });
        let gathered = GatheredBatch {
            pair_weights: batch.pair_weights,
            dim: d,
            user_rows: &user_rows,
            item_rows: &item_rows,
            users: &u_idx,
            positives: &p_idx,
            negatives: &n_idx,
            ego: Some(EgoRows {
                user_rows: &ego_user_rows,
                item_rows: &ego_item_rows,
            }),
            synthetic: match (&mixed_rows, batch.mixed) {
                (Some((rows, ego_rows)), Some(mx)) => Some(SyntheticRows {
                    k: mx.k,
                    rows,
                    ego_rows,
                }),
                _ => None,
            },
        };
        let t1 = std::time::Instant::now();
        let lg = compute(
            self.config.engine,
            &self.device,
            &gathered,
            self.config.l2,
            self.step,
        )?;
        let aux = crate::dens_loss::batch_auxiliary(
            self.config.engine,
            &self.device,
            batch,
            layers,
            d,
            crate::dens_loss::LayerPooling::Mean,
            nu,
            self.step,
            |l, node| self.node_layer(l, node),
        )?;
        let t2 = std::time::Instant::now();
        self.timings.gather += (t1 - t0).as_secs_f64();
        self.timings.loss_graph += (t2 - t1).as_secs_f64();

        // G: the gradient w.r.t. the pooled embeddings, non-zero on the batch's rows only, kept
        // compactly in `nodes` order and already divided by L + 1 (the layer mean).
        let scale = 1.0 / (self.config.layers + 1) as f32;
        let g_rows: Vec<f32> = lg
            .user_grads
            .iter()
            .chain(&lg.item_grads)
            .map(|g| g * scale)
            .collect();
        debug_assert_eq!(g_rows.len(), nodes.len() * d);
        // ∂L/∂E⁽⁰⁾ = Σₗ Âˡ Gₗ with Gₗ = G/(L+1) + (layer-l gradients of mixed negatives),
        // by Horner from the top layer: acc ← Gᴸ; acc ← Â·acc + Gₗ for l = L−1..0.
        // Gₗ per layer, compact: G/(L+1) plus what reaches layer l directly. A mixed
        // negative's pooled gradient flows to the positive with weight a/(L+1) and to the
        // layer's candidate with (1 − a)/(L+1); DENS's auxiliary loss has per-layer gradients
        // of the user, the positive and each layer's candidate. All are rows of `nodes`.
        let mut layer_g: Vec<Vec<f32>> = vec![g_rows; layers];
        let first_item = users.len();
        if let (Some(mx), Some((gr, _))) = (batch.mixed, &lg.synthetic_grads) {
            debug_assert_eq!(gr.len(), mx.candidates.len() / layers * d);
            for n in 0..mx.candidates.len() / layers {
                let pos = first_item + p_idx[n / mx.k] as usize;
                let g = &gr[n * d..(n + 1) * d];
                for (l, lg_l) in layer_g.iter_mut().enumerate() {
                    let a = mx.pos_weight[n * layers + l];
                    let cand = first_item + c_idx[n * layers + l] as usize;
                    add_scaled(&mut lg_l[pos * d..(pos + 1) * d], a * scale, g);
                    add_scaled(&mut lg_l[cand * d..(cand + 1) * d], (1.0 - a) * scale, g);
                }
            }
        }
        for aux in &aux {
            aux.for_each_row(|l, row, g| {
                let r = match row {
                    AuxRow::User(b) => u_idx[b] as usize,
                    AuxRow::Positive(b) => first_item + p_idx[b] as usize,
                    AuxRow::Negative(n) => first_item + c_idx[n * layers + l] as usize,
                };
                add_scaled(&mut layer_g[l][r * d..(r + 1) * d], 1.0, g);
            });
        }
        // Adds `Gₗ` to the dense `acc` (rows `nodes[k]`).
        let add_layer_gradient = |acc: &mut [f32], l: usize| {
            for (g, &r) in layer_g[l].chunks(d).zip(&nodes) {
                let r = r as usize;
                add_scaled(&mut acc[r * d..(r + 1) * d], 1.0, g);
            }
        };
        let tp = std::time::Instant::now();
        let mut acc = std::mem::take(&mut self.scratch);
        let mut tmp = std::mem::take(&mut self.tmp);
        let top_layer = self.config.layers;
        let top = &layer_g[top_layer];
        if top_layer == 0 {
            acc.fill(0.0);
            for (k, row) in top.chunks(d).enumerate() {
                let r = nodes[k] as usize;
                acc[r * d..(r + 1) * d].copy_from_slice(row);
            }
        } else {
            // The first hop's input is non-zero on the batch's rows only: scatter just those,
            // unless they cover most of the graph (small dense data such as ml-1m), where the
            // balanced gather product over a zero-padded input is faster.
            if 2 * self.adj.degree_sum(&nodes) < self.adj.nnz() {
                self.adj.spmm_from_rows(&nodes, top, d, &mut acc);
            } else {
                tmp.fill(0.0);
                for (row, &r) in top.chunks(d).zip(&nodes) {
                    let r = r as usize;
                    tmp[r * d..(r + 1) * d].copy_from_slice(row);
                }
                self.adj.spmm(&tmp, d, &mut acc);
            }
            add_layer_gradient(&mut acc, top_layer - 1);
            for l in (0..top_layer - 1).rev() {
                self.adj.spmm(&acc, d, &mut tmp);
                std::mem::swap(&mut acc, &mut tmp);
                add_layer_gradient(&mut acc, l);
            }
        }
        self.propagate_seconds += tp.elapsed().as_secs_f64();
        // The mixed negatives' L2 term acts on their layer-0 mix, i.e. on ego rows directly.
        if let (Some(mx), Some((_, ge))) = (batch.mixed, &lg.synthetic_grads) {
            for n in 0..mx.candidates.len() / layers {
                let pos = nu + batch.positives[n / mx.k] as usize;
                let a = mx.pos_weight[n * layers];
                let cand = nu + mx.candidates[n * layers] as usize;
                for j in 0..d {
                    acc[pos * d + j] += a * ge[n * d + j];
                    acc[cand * d + j] += (1.0 - a) * ge[n * d + j];
                }
            }
        }
        // The L2 term's gradient lives on the ego rows directly.
        if let Some((gu, gi)) = &lg.ego_grads {
            for (k, &u) in users.iter().enumerate() {
                let r = u as usize;
                for (a, g) in acc[r * d..(r + 1) * d]
                    .iter_mut()
                    .zip(&gu[k * d..(k + 1) * d])
                {
                    *a += g;
                }
            }
            for (k, &i) in items.iter().enumerate() {
                let r = nu + i as usize;
                for (a, g) in acc[r * d..(r + 1) * d]
                    .iter_mut()
                    .zip(&gi[k * d..(k + 1) * d])
                {
                    *a += g;
                }
            }
        }
        let to = std::time::Instant::now();
        self.opt.update_all(&mut self.ego, &acc);
        self.timings.optimizer += to.elapsed().as_secs_f64();
        self.scratch = acc;
        self.tmp = tmp;
        self.fresh = false;
        self.step += 1;
        let aux_loss = aux.iter().map(|a| a.grads.loss).sum();
        self.auxiliary_grad = aux.into_iter().map(|a| a.grads.gates).collect();
        Ok(StepStats {
            loss: lg.loss + aux_loss,
            bpr: lg.bpr,
            reg: lg.reg,
            auxiliary: aux_loss,
        })
    }

    /// Parameters, optimizer moments and counters, for resuming training.
    pub fn training_state(&self) -> crate::TrainingState {
        let mut s = crate::TrainingState::default();
        s.tensors.push(("ego".into(), self.ego.as_slice().to_vec()));
        self.opt.save_state("opt", &mut s);
        s.counters.insert("step".into(), self.step);
        s
    }

    /// Restores what [`LightGcn::training_state`] returned.
    pub fn restore(&mut self, mut s: crate::TrainingState) -> Result<()> {
        let n = self.ego.as_slice().len();
        self.ego.as_mut_slice().copy_from_slice(&s.take("ego", n)?);
        self.opt.load_state("opt", &mut s)?;
        self.step = s.counter("step");
        self.fresh = false;
        self.refresh();
        Ok(())
    }

    /// Full-ranking scorer over the pooled embeddings.
    ///
    /// # Panics
    /// If the embeddings are stale: call [`LightGcn::refresh`] after training steps.
    pub fn ranking_scorer(&self) -> DotScorer<'_> {
        assert!(self.fresh, "call refresh() before scoring");
        let d = self.config.dim;
        let (u, i) = self.pooled.split_at(self.n_users * d);
        DotScorer::new(u, i, d).expect("pooled tables share their width by construction")
    }

    fn node_layer(&self, layer: usize, node: usize) -> &[f32] {
        let d = self.config.dim;
        if layer == 0 {
            self.ego.row(node)
        } else {
            &self.hops[layer - 1][node * d..(node + 1) * d]
        }
    }
}

impl Scorer for LightGcn {
    fn dim(&self) -> usize {
        self.config.dim
    }

    fn n_layers(&self) -> usize {
        self.config.layers + 1
    }

    fn user_layer(&self, layer: usize, user: UserId) -> &[f32] {
        self.node_layer(layer, user as usize)
    }

    fn item_layer(&self, layer: usize, item: ItemId) -> &[f32] {
        self.node_layer(layer, self.n_users + item as usize)
    }

    fn user_vec(&self, user: UserId) -> &[f32] {
        self.pooled_row(user as usize)
    }

    fn item_vec(&self, item: ItemId) -> &[f32] {
        self.pooled_row(self.n_users + item as usize)
    }
}

impl RankingScorer for LightGcn {
    fn n_items(&self) -> usize {
        self.n_items
    }

    fn n_users(&self) -> Option<usize> {
        Some(self.n_users)
    }

    fn score_users(&self, users: &[UserId], out: &mut [f32]) {
        self.ranking_scorer().score_users(users, out)
    }
}

/// `acc += w · g`, elementwise.
fn add_scaled(acc: &mut [f32], w: f32, g: &[f32]) {
    for (a, x) in acc.iter_mut().zip(g) {
        *a += w * x;
    }
}
