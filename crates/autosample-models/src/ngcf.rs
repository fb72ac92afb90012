//! [`Ngcf`]: Neural Graph Collaborative Filtering (Wang et al., SIGIR 2019, arXiv 1905.08108).
//!
//! # The model, as the reference code computes it
//!
//! Reference: NGCF-PyTorch, github.com/huangtinglin/NGCF-PyTorch at commit
//! `f4e7f6960cd8cd443d5537261d30b89cf52ed52d` (`NGCF/NGCF.py`, `NGCF/utility/load_data.py`,
//! `NGCF/utility/parser.py`, `README.md`), cross-checked against the authors' TensorFlow
//! original, github.com/xiangwang1223/neural_graph_collaborative_filtering at commit
//! `a718a4f2df7c3942ca0df6759926975762c61eed` (`NGCF/NGCF.py`, `NGCF/utility/load_data.py`).
//!
//! Ego embeddings `E⁽⁰⁾` of all users and items (one table here, users first). For
//! `l = 0..L−1`, with weights `W_gc⁽ˡ⁾, W_bi⁽ˡ⁾` (`d × d`) and biases `b_gc⁽ˡ⁾, b_bi⁽ˡ⁾`
//! (`1 × d`):
//!
//! ```text
//! S        = Â E⁽ˡ⁾                                          side embeddings
//! E⁽ˡ⁺¹⁾   = dropout_p( LeakyReLU₀.₂( S·W_gc + b_gc + (E⁽ˡ⁾ ⊙ S)·W_bi + b_bi ) )
//! N⁽ˡ⁺¹⁾   = E⁽ˡ⁺¹⁾ / max(‖E⁽ˡ⁺¹⁾‖_row, 1e-12)                  F.normalize(p=2, dim=1)
//! E*       = [E⁽⁰⁾ | N⁽¹⁾ | … | N⁽ᴸ⁾]                          width d·(L+1)
//! s(u, i)  = ⟨E*_u, E*_i⟩
//! ```
//!
//! - **Adjacency.** `Â = D̃⁻¹(A + I)`, the bipartite adjacency *with self-loops, row-normalised*
//!   by `D̃ = diag(deg + 1)` ([`NormalizedAdjacency::mean_with_self_loops`]). Both reference
//!   codes build `norm_adj_mat = mean_adj_single(adj_mat + sp.eye(...))` (PyTorch; the TF
//!   original calls the same function `normalized_adj_single`) and feed `norm_adj` to the model
//!   (PyTorch `main.py` always; TF with the default `--adj_type norm`). This is *not* the
//!   paper's `D^{-1/2} A D^{-1/2}` (eq. 8) nor LightGCN's matrix, and it is not symmetric, so
//!   the backward multiplies by the explicit transpose `Âᵀ`.
//! - **One LeakyReLU over the sum** (slope 0.2), as NGCF-PyTorch and the paper's eq. 7. The TF
//!   original applies LeakyReLU to the sum part and the bi part separately and adds them.
//! - **Message dropout** (`nn.Dropout(mess_dropout[k])`, drop probability, inverted scaling
//!   `1/(1−p)`) is applied to `E⁽ˡ⁺¹⁾` after the activation; the dropped `E⁽ˡ⁺¹⁾` both feeds the
//!   next layer and is normalised into the output.
//! - **Node dropout** in the reference code is an *edge* dropout on the stored entries of `Â`
//!   (`sparse_dropout`: every non-zero, self-loops included, kept with probability `1−p` and
//!   scaled by `1/(1−p)`), drawn once per forward and shared by all layers. Implemented here
//!   exactly so ([`NgcfConfig::node_dropout`]).
//! - **Loss.** BPR, `−mean log σ(s_ui − s_uj)` ([`crate::bpr`]'s K-pair form at K = 1), plus
//!   `decay · (‖U‖² + ‖P‖² + ‖N‖²) / 2 / batch_size`, where `U, P, N` are the batch's
//!   **final** rows `E*` (width `d·(L+1)`), not the ego rows: `create_bpr_loss` receives
//!   `u_g_embeddings, pos_i_g_embeddings, neg_i_g_embeddings` in both codes. The batch is
//!   therefore gathered with `ego: None`. Since each `N⁽ˡ⁾` row has unit norm, the L2 gradient
//!   reaching the normalised blocks vanishes through the normalisation, and the gradient
//!   equals that of an L2 on the ego rows; the loss *value* is larger by `decay·L·(2+K)/2`.
//! - **Initialisation.** Xavier-uniform for everything, as `nn.init.xavier_uniform_`: the user
//!   table `U(±√(6/(n_users+d)))`, the item table `U(±√(6/(n_items+d)))` (two separate
//!   tensors in the reference), `W` `U(±√(6/(2d)))`, and the biases too, `U(±√(6/(1+d)))`.
//! - **Optimizer.** One Adam over all parameters, lr `1e-4` (`parser.py` default and the
//!   README's Gowalla command; Amazon-book uses `5e-4`), no weight decay. Here the ego table
//!   and the weights each get a [`RowSparseOptimizer`] updated with `update_all`, i.e. dense
//!   Adam, the same arithmetic as torch's `Adam`.
//!
//! Two deliberate differences: dropout here is active in [`Ngcf::train_step`] only, and
//! [`Ngcf::refresh`] (scoring, evaluation, samplers) uses no dropout at all. The reference
//! evaluates with `drop_flag=False` (no node dropout) but its message dropout is a freshly
//! built `nn.Dropout` module, which is in training mode, so it is still active at test time.
//! And every dropout mask comes from a seeded ChaCha8 stream keyed by (seed, step, layer), so a
//! run is reproducible and resumable.
//!
//! # How a step is computed (the hybrid)
//!
//! Forward over the whole graph: per layer, `S = ÂE⁽ˡ⁾` by the hand CSR product
//! ([`crate::graph`]), then the dense part of the layer in burn autodiff with `E⁽ˡ⁾`, `S` and
//! the layer's four weights as leaves; the layer's graph (its outputs `E⁽ˡ⁺¹⁾` and `N⁽ˡ⁺¹⁾`) is
//! kept for the backward, so nothing is recomputed. The batch's rows of `E*` are gathered and
//! [`crate::bpr::compute`] gives the loss and `∂L/∂E*` on those rows. Backward layer by layer,
//! `l = L−1 … 0`: the scalar `Σ N⁽ˡ⁺¹⁾ ⊙ G_N + Σ E⁽ˡ⁺¹⁾ ⊙ G_E` (upstream gradients as
//! constants: `G_N` the batch's `∂L/∂E*` block `l+1`, `G_E` what layer `l+1` sent back) is
//! differentiated by one `backward()`, giving `∂/∂E⁽ˡ⁾` (direct), `∂/∂S` and the weight
//! gradients; then `∂/∂E⁽ˡ⁾ += Âᵀ ∂/∂S` by the hand product with the transpose (with the same
//! edge dropout). `∂L/∂E⁽⁰⁾` adds the batch's block-0 gradient.
//!
//! Cost: unlike LightGCN, every step runs the `d × d` matmuls of every layer over all
//! `n_users + n_items` nodes (forward, and two per weight in the backward), as the reference
//! does; that dense part, not the sparse product, dominates the step.

use autosample_data::{Interactions, ItemId, UserId};
use autosample_metrics::{DotScorer, RankingScorer};
use autosample_samplers::Scorer;
use burn::tensor::{Device, Tensor, TensorData, activation};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bpr::{GatheredBatch, LossEngine, SyntheticRows, compute};
use crate::dens_loss::AuxRow;
use crate::graph::NormalizedAdjacency;
use crate::mf::Dedup;
use crate::{
    EmbeddingTable, ModelError, OptimizerConfig, Result, RowSparseOptimizer, StepStats,
    StepTimings, TrainBatch,
};

/// Negative slope of the LeakyReLU (`nn.LeakyReLU(negative_slope=0.2)` in NGCF-PyTorch; the
/// README notes it was set to match TensorFlow's default).
pub const LEAKY_RELU_SLOPE: f64 = 0.2;

/// The floor of the row norm in the normalisation (`F.normalize`'s default `eps`).
const NORM_EPS: f64 = 1e-12;

/// Entries per parallel task when drawing dropout masks.
const MASK_BLOCK: usize = 1 << 16;

/// NGCF hyperparameters. Defaults are the reference's Gowalla command (NGCF-PyTorch
/// `README.md`: `--regs [1e-5] --embed_size 64 --layer_size [64,64,64] --lr 0.0001
/// --node_dropout [0.1] --mess_dropout [0.1,0.1,0.1]`, with `node_dropout_flag` at its default
/// 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NgcfConfig {
    /// Embedding width `d`, also the width of every layer (default 64: `--embed_size 64`,
    /// `--layer_size [64,64,64]`).
    #[serde(default = "default_dim")]
    pub dim: usize,
    /// Propagation layers `L` (default 3: `--layer_size [64,64,64]`). 0 gives MF on the ego
    /// table.
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// L2 coefficient `decay` on the batch's final rows, divided by the batch size (default
    /// 1e-5: `--regs [1e-5]`).
    #[serde(default = "default_l2")]
    pub l2: f64,
    /// Message dropout: drop probability of each entry of every layer's output during training
    /// (default 0.1: `--mess_dropout [0.1,0.1,0.1]`, used as `nn.Dropout(p)`). One value for
    /// all layers; 0 disables it.
    #[serde(default = "default_dropout")]
    pub message_dropout: f32,
    /// "Node" dropout: drop probability of each stored entry of `Â` during training (default
    /// 0.1: `--node_dropout [0.1]` with `node_dropout_flag` 1, NGCF-PyTorch's defaults; the TF
    /// original defaults the flag to 0). 0 disables it.
    #[serde(default = "default_dropout")]
    pub node_dropout: f32,
    /// Optimizer of the ego table and of the layer weights (default Adam, lr 1e-4:
    /// `--lr 0.0001`). Note that a config naming `{type = "adam"}` without `lr` gets
    /// [`OptimizerConfig`]'s own default rate, 1e-3.
    #[serde(default = "default_optimizer")]
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
fn default_l2() -> f64 {
    1e-5
}
fn default_dropout() -> f32 {
    0.1
}
fn default_optimizer() -> OptimizerConfig {
    OptimizerConfig::adam(1e-4)
}

impl Default for NgcfConfig {
    fn default() -> Self {
        Self {
            dim: default_dim(),
            layers: default_layers(),
            l2: default_l2(),
            message_dropout: default_dropout(),
            node_dropout: default_dropout(),
            optimizer: default_optimizer(),
            engine: LossEngine::default(),
        }
    }
}

impl NgcfConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if self.dim == 0 {
            return Err(ModelError::Config("dim must be at least 1".into()));
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(ModelError::Config(format!(
                "l2 must be ≥ 0, got {}",
                self.l2
            )));
        }
        for (name, p) in [
            ("message_dropout", self.message_dropout),
            ("node_dropout", self.node_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(ModelError::Config(format!(
                    "{name} must lie in [0, 1), got {p}"
                )));
            }
        }
        self.optimizer.validate()
    }

    /// Width of the final representation `E*`: `dim · (layers + 1)`.
    pub fn final_dim(&self) -> usize {
        self.dim * (self.layers + 1)
    }

    /// Rows of the weight table ([`Ngcf::weights`]): `layers · (2·dim + 2)`.
    pub fn weight_rows(&self) -> usize {
        self.layers * (2 * self.dim + 2)
    }
}

/// One layer's parameters, views into [`Ngcf::weights`]. Matrices are row-major
/// `[d_in, d_out]` (both `d`), multiplied on the right: `S·W_gc`, as the reference's
/// `torch.matmul(side_embeddings, W_gc)`.
#[derive(Debug, Clone, Copy)]
pub struct NgcfLayerWeights<'a> {
    /// `W_gc`, `[d, d]`.
    pub w_gc: &'a [f32],
    /// `b_gc`, `[1, d]`.
    pub b_gc: &'a [f32],
    /// `W_bi`, `[d, d]`.
    pub w_bi: &'a [f32],
    /// `b_bi`, `[1, d]`.
    pub b_bi: &'a [f32],
}

/// Cumulative seconds of the propagation, forward (training and [`Ngcf::refresh`]) and
/// backward, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NgcfTimings {
    /// The hand CSR products with `Â` and `Âᵀ`.
    pub spmm: f64,
    /// Drawing dropout masks.
    pub masks: f64,
    /// The layers' dense part in burn, forward (including the copies in and out of burn).
    pub dense_forward: f64,
    /// The layers' dense part in burn, backward.
    pub dense_backward: f64,
}

/// The dropout masks of one training step, as [`Ngcf::train_step`] draws them at that step
/// (for tests and audits). Entries are `0` (dropped) or `1/(1−p)` (kept, rescaled).
#[derive(Debug, Clone, PartialEq)]
pub struct NgcfDropoutMasks {
    /// Per stored entry of `Â`, in its CSR order ([`NormalizedAdjacency::values`]); `None`
    /// without node dropout.
    pub edges: Option<Vec<f32>>,
    /// Per layer, `[n_nodes, dim]` row-major; `None` without message dropout.
    pub messages: Vec<Option<Vec<f32>>>,
}

/// NGCF with BPR training.
#[derive(Debug, Clone)]
pub struct Ngcf {
    config: NgcfConfig,
    n_users: usize,
    n_items: usize,
    /// `E⁽⁰⁾`, `[n_users + n_items, dim]`, users first.
    ego: EmbeddingTable,
    /// Per layer `l`, rows `l·(2d+2) ..`: `W_gc` (d rows), `b_gc`, `W_bi` (d rows), `b_bi`.
    weights: EmbeddingTable,
    /// `Â = D̃⁻¹(A + I)`.
    adj: NormalizedAdjacency,
    /// `Âᵀ`, and for each of its entries the index of the same entry of `adj`.
    adj_t: NormalizedAdjacency,
    adj_t_map: Vec<u32>,
    /// `E*` without dropout, `[n_nodes, dim·(L+1)]`.
    final_emb: Vec<f32>,
    /// Whether `final_emb` reflects the current parameters.
    fresh: bool,
    opt: RowSparseOptimizer,
    weight_opt: RowSparseOptimizer,
    /// Autodiff device of the layer and loss graphs.
    device: Device,
    /// Plain device of the no-grad forward in [`Ngcf::refresh`].
    plain: Device,
    /// Key of the dropout masks' ChaCha8 streams.
    dropout_seed: u64,
    user_dedup: Dedup,
    item_dedup: Dedup,
    step: u64,
    /// The last step's gradients of its auxiliary terms' sampler parameters, one per term.
    auxiliary_grad: Vec<Vec<f32>>,
    timings: StepTimings,
    propagate_seconds: f64,
    breakdown: NgcfTimings,
}

/// A layer's parameters as burn tensors.
struct LayerParams {
    w_gc: Tensor<2>,
    b_gc: Tensor<2>,
    w_bi: Tensor<2>,
    b_bi: Tensor<2>,
}

/// What a training forward keeps of one layer for its backward.
struct Tape {
    h: Tensor<2>,
    s: Tensor<2>,
    params: LayerParams,
    e_out: Tensor<2>,
    n_out: Tensor<2>,
}

/// The dense part of layer `l`: `(E⁽ˡ⁺¹⁾, N⁽ˡ⁺¹⁾)` from `E⁽ˡ⁾ = h` and `S = s`.
fn layer_forward(
    h: Tensor<2>,
    s: Tensor<2>,
    p: &LayerParams,
    mask: Option<Tensor<2>>,
) -> (Tensor<2>, Tensor<2>) {
    let sum = s.clone().matmul(p.w_gc.clone()) + p.b_gc.clone();
    let bi = (h * s).matmul(p.w_bi.clone()) + p.b_bi.clone();
    let mut e = activation::leaky_relu(sum + bi, LEAKY_RELU_SLOPE);
    if let Some(m) = mask {
        e = e * m;
    }
    // max(‖e‖, eps) = √max(‖e‖², eps²): same value and, below eps, the same zero gradient
    // of the clamp as torch, without √'s infinite slope at 0 for an all-zero row.
    let norm = e
        .clone()
        .square()
        .sum_dim(1)
        .clamp_min(NORM_EPS * NORM_EPS)
        .sqrt();
    let n = e.clone() / norm;
    (e, n)
}

fn tensor(data: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(data, [rows, cols]), device)
}

fn to_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("layer tensors are f32 by construction")
}

fn grad_vec(leaf: &Tensor<2>, grads: &burn::tensor::Gradients, len: usize) -> Vec<f32> {
    match leaf.grad(grads) {
        Some(g) => to_vec(g),
        None => vec![0.0; len],
    }
}

/// `len` dropout factors (`0` with probability `p`, else `1/(1−p)`) from the ChaCha8 stream
/// `stream` under `seed`. Entry `k` uses the stream's `k`-th 32-bit word (kept iff the word
/// is ≥ `p·2³²`), so the mask does not depend on how the work is split across threads.
fn dropout_mask(seed: u64, stream: u64, len: usize, p: f32) -> Vec<f32> {
    let scale = 1.0 / (1.0 - p);
    let threshold = (p as f64 * 4_294_967_296.0) as u64;
    let mut base = ChaCha8Rng::seed_from_u64(seed);
    base.set_stream(stream);
    let mut out = vec![0.0f32; len];
    out.par_chunks_mut(MASK_BLOCK)
        .enumerate()
        .for_each(|(block, chunk)| {
            let mut rng = base.clone();
            rng.set_word_pos((block * MASK_BLOCK) as u128);
            for o in chunk {
                *o = if rng.next_u32() as u64 >= threshold {
                    scale
                } else {
                    0.0
                };
            }
        });
    out
}

/// Fills `out` with `rows × cols` draws of `U(−b, b)`, `b = √(6/(rows + cols))`: torch's
/// `xavier_uniform_` on a `[rows, cols]` tensor (gain 1).
fn xavier_uniform(rng: &mut ChaCha8Rng, rows: usize, cols: usize, out: &mut Vec<f32>) {
    let bound = (6.0 / (rows + cols) as f64).sqrt();
    for _ in 0..rows * cols {
        let u: f64 = rng.random::<f64>();
        out.push((bound * (2.0 * u - 1.0)) as f32);
    }
}

impl Ngcf {
    /// A fresh model over the training graph, every parameter Xavier-uniform from `seed`
    /// (users, items, then per layer `W_gc, b_gc, W_bi, b_bi`, the reference's order). The
    /// dropout masks are keyed by `seed` too.
    pub fn new(train: &Interactions, config: NgcfConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let (nu, ni, d) = (train.n_users(), train.n_items(), config.dim);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ego = Vec::with_capacity((nu + ni) * d);
        xavier_uniform(&mut rng, nu, d, &mut ego);
        xavier_uniform(&mut rng, ni, d, &mut ego);
        let mut w = Vec::with_capacity(config.weight_rows() * d);
        for _ in 0..config.layers {
            xavier_uniform(&mut rng, d, d, &mut w);
            xavier_uniform(&mut rng, 1, d, &mut w);
            xavier_uniform(&mut rng, d, d, &mut w);
            xavier_uniform(&mut rng, 1, d, &mut w);
        }
        let ego = EmbeddingTable::from_vec(nu + ni, d, ego);
        let weights = EmbeddingTable::from_vec(config.weight_rows(), d, w);
        Self::from_parts(train, config, ego, weights, seed)
    }

    /// A model around existing parameters (e.g. from a checkpoint), with fresh optimizer
    /// state; `seed` keys the dropout masks.
    ///
    /// # Errors
    /// [`ModelError::Config`] if the config is invalid, `ego` is not
    /// `[n_users + n_items, dim]`, or `weights` is not
    /// `[`[`NgcfConfig::weight_rows`]`, dim]`.
    pub fn from_parts(
        train: &Interactions,
        config: NgcfConfig,
        ego: EmbeddingTable,
        weights: EmbeddingTable,
        seed: u64,
    ) -> Result<Self> {
        config.validate()?;
        let (nu, ni, d) = (train.n_users(), train.n_items(), config.dim);
        let n = nu + ni;
        if ego.rows() != n || ego.dim() != d {
            return Err(ModelError::Config(format!(
                "ego table is {}×{}, expected {n}×{d}",
                ego.rows(),
                ego.dim()
            )));
        }
        if weights.rows() != config.weight_rows() || weights.dim() != d {
            return Err(ModelError::Config(format!(
                "weight table is {}×{}, expected {}×{d}",
                weights.rows(),
                weights.dim(),
                config.weight_rows()
            )));
        }
        let adj = NormalizedAdjacency::mean_with_self_loops(train);
        let (adj_t, adj_t_map) = adj.transpose_with_map();
        let device = crate::training_device();
        let mut model = Self {
            n_users: nu,
            n_items: ni,
            adj,
            adj_t,
            adj_t_map,
            final_emb: vec![0.0; n * config.final_dim()],
            fresh: false,
            opt: RowSparseOptimizer::new(config.optimizer.clone(), n, d),
            weight_opt: RowSparseOptimizer::new(config.optimizer.clone(), weights.rows(), d),
            plain: device.clone().without_autodiff(),
            device,
            dropout_seed: seed ^ 0xd1b5_4a32_d192_ed03,
            user_dedup: Dedup::new(nu),
            item_dedup: Dedup::new(ni),
            step: 0,
            auxiliary_grad: Vec::new(),
            timings: StepTimings::default(),
            propagate_seconds: 0.0,
            breakdown: NgcfTimings::default(),
            config,
            ego,
            weights,
        };
        model.refresh();
        Ok(model)
    }

    /// The configuration.
    pub fn config(&self) -> &NgcfConfig {
        &self.config
    }

    /// The ego table `E⁽⁰⁾` (users first, then items).
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

    /// All layer weights as one `[`[`NgcfConfig::weight_rows`]`, dim]` table, for checkpoints:
    /// layer `l` owns rows `l·(2d+2) .. (l+1)·(2d+2)`, holding `W_gc` (d rows), `b_gc` (1),
    /// `W_bi` (d), `b_bi` (1). [`Ngcf::from_parts`] takes the same layout.
    pub fn weights(&self) -> &EmbeddingTable {
        &self.weights
    }

    /// Layer `l`'s weights.
    ///
    /// # Panics
    /// If `l ≥ layers`.
    pub fn layer_weights(&self, l: usize) -> NgcfLayerWeights<'_> {
        assert!(l < self.config.layers, "layer {l} out of range");
        let d = self.config.dim;
        let base = l * (2 * d + 2) * d;
        let w = &self.weights.as_slice()[base..base + (2 * d + 2) * d];
        NgcfLayerWeights {
            w_gc: &w[..d * d],
            b_gc: &w[d * d..d * d + d],
            w_bi: &w[d * d + d..2 * d * d + d],
            b_bi: &w[2 * d * d + d..],
        }
    }

    /// The propagation matrix `Â = D̃⁻¹(A + I)`.
    pub fn adjacency(&self) -> &NormalizedAdjacency {
        &self.adj
    }

    /// Where the training steps' time went so far: `gather` (dedup, gathering the batch's final
    /// rows, scattering their gradients), `loss_graph` (the BPR loss and its row gradients
    /// only) and `optimizer`. The propagation, forward and backward, is reported by
    /// [`Ngcf::propagate_seconds`] and [`Ngcf::propagation_timings`].
    pub fn timings(&self) -> StepTimings {
        self.timings
    }

    /// Seconds spent propagating over the graph (sparse products, dropout masks and the
    /// layers' dense part in burn), forward and backward, in training and in
    /// [`Ngcf::refresh`].
    pub fn propagate_seconds(&self) -> f64 {
        self.propagate_seconds
    }

    /// [`Ngcf::propagate_seconds`] by part.
    pub fn propagation_timings(&self) -> NgcfTimings {
        self.breakdown
    }

    /// Training steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// The gradients of the last step's auxiliary terms with respect to their samplers'
    /// parameters ([`TrainBatch::auxiliary`]), one per term in order, once.
    pub fn take_auxiliary_gradient(&mut self) -> Vec<Vec<f32>> {
        std::mem::take(&mut self.auxiliary_grad)
    }

    fn layer_params(&self, l: usize, device: &Device, leaves: bool) -> LayerParams {
        let d = self.config.dim;
        let lw = self.layer_weights(l);
        let t = |v: &[f32], rows: usize| {
            let t = tensor(v.to_vec(), rows, d, device);
            if leaves { t.require_grad() } else { t }
        };
        LayerParams {
            w_gc: t(lw.w_gc, d),
            b_gc: t(lw.b_gc, 1),
            w_bi: t(lw.w_bi, d),
            b_bi: t(lw.b_bi, 1),
        }
    }

    /// The dropout masks [`Ngcf::train_step`] uses at global step `step`.
    pub fn dropout_masks(&self, step: u64) -> NgcfDropoutMasks {
        let streams = self.config.layers as u64 + 1;
        let edges = (self.config.node_dropout > 0.0).then(|| {
            dropout_mask(
                self.dropout_seed,
                step * streams,
                self.adj.nnz(),
                self.config.node_dropout,
            )
        });
        let len = (self.n_users + self.n_items) * self.config.dim;
        let messages = (0..self.config.layers)
            .map(|l| {
                (self.config.message_dropout > 0.0).then(|| {
                    dropout_mask(
                        self.dropout_seed,
                        step * streams + 1 + l as u64,
                        len,
                        self.config.message_dropout,
                    )
                })
            })
            .collect();
        NgcfDropoutMasks { edges, messages }
    }

    /// Recomputes the final representation `E*` from the current parameters, without
    /// dropout, if stale.
    pub fn refresh(&mut self) {
        if self.fresh {
            return;
        }
        let t = std::time::Instant::now();
        let d = self.config.dim;
        let fd = self.config.final_dim();
        let n = self.n_users + self.n_items;
        self.final_emb
            .par_chunks_mut(fd)
            .zip(self.ego.as_slice().par_chunks(d))
            .for_each(|(f, e)| f[..d].copy_from_slice(e));
        let mut h = self.ego.as_slice().to_vec();
        for l in 0..self.config.layers {
            let ts = std::time::Instant::now();
            let mut s = vec![0.0f32; n * d];
            self.adj.spmm(&h, d, &mut s);
            let td = std::time::Instant::now();
            self.breakdown.spmm += (td - ts).as_secs_f64();
            let params = self.layer_params(l, &self.plain, false);
            let (e, nrm) = layer_forward(
                tensor(h, n, d, &self.plain),
                tensor(s, n, d, &self.plain),
                &params,
                None,
            );
            h = to_vec(e);
            let nrm = to_vec(nrm);
            self.final_emb
                .par_chunks_mut(fd)
                .zip(nrm.par_chunks(d))
                .for_each(|(f, x)| f[(l + 1) * d..(l + 2) * d].copy_from_slice(x));
            self.breakdown.dense_forward += td.elapsed().as_secs_f64();
        }
        self.fresh = true;
        self.propagate_seconds += t.elapsed().as_secs_f64();
    }

    fn final_row(&self, node: usize) -> &[f32] {
        let fd = self.config.final_dim();
        &self.final_emb[node * fd..(node + 1) * fd]
    }

    /// One optimisation step on a batch: a full forward with dropout, the BPR loss on the
    /// batch's final rows, the backward through every layer, and Adam (or SGD) on the ego
    /// table and the weights. Leaves the scoring embeddings stale: call [`Ngcf::refresh`]
    /// before scoring.
    ///
    /// # Errors
    /// [`ModelError::Diverged`] if the loss is NaN/inf; the parameters are then unchanged.
    ///
    /// # Panics
    /// If the batch's slices disagree in length (a programming error in the caller).
    pub fn train_step(&mut self, batch: &TrainBatch<'_>) -> Result<StepStats> {
        if let Some(mx) = batch.mixed.filter(|mx| mx.layers != self.config.layers + 1) {
            return Err(ModelError::Config(format!(
                "NGCF with {} layers has {} embedding blocks, but the synthetic negatives mix {}",
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
        let layers = self.config.layers;
        let fd = self.config.final_dim();
        let nu = self.n_users;
        let n = nu + self.n_items;
        let t_prop = std::time::Instant::now();

        // Dropout masks of this step, and Â / Âᵀ with the edge dropout applied.
        let tm = std::time::Instant::now();
        let masks = self.dropout_masks(self.step);
        let (fwd_vals, bwd_vals) = match &masks.edges {
            Some(m) => {
                let f: Vec<f32> = self
                    .adj
                    .values()
                    .iter()
                    .zip(m)
                    .map(|(v, k)| v * k)
                    .collect();
                let t: Vec<f32> = self.adj_t_map.iter().map(|&e| f[e as usize]).collect();
                (Some(f), Some(t))
            }
            None => (None, None),
        };
        self.breakdown.masks += tm.elapsed().as_secs_f64();
        let spmm =
            |a: &NormalizedAdjacency, vals: &Option<Vec<f32>>, x: &[f32], out: &mut [f32]| {
                match vals {
                    Some(v) => a.spmm_with_values(v, x, d, out),
                    None => a.spmm(x, d, out),
                }
            };

        // Forward, keeping each layer's burn graph.
        let mut tapes: Vec<Tape> = Vec::with_capacity(layers);
        let mut normed: Vec<Vec<f32>> = Vec::with_capacity(layers);
        let mut h = self.ego.as_slice().to_vec();
        for (l, mask) in masks.messages.into_iter().enumerate() {
            let ts = std::time::Instant::now();
            let mut s = vec![0.0f32; n * d];
            spmm(&self.adj, &fwd_vals, &h, &mut s);
            let td = std::time::Instant::now();
            self.breakdown.spmm += (td - ts).as_secs_f64();
            let h_leaf = tensor(h, n, d, &self.device).require_grad();
            let s_leaf = tensor(s, n, d, &self.device).require_grad();
            let params = self.layer_params(l, &self.device, true);
            let mask = mask.map(|m| tensor(m, n, d, &self.device));
            let (e_out, n_out) = layer_forward(h_leaf.clone(), s_leaf.clone(), &params, mask);
            h = to_vec(e_out.clone());
            normed.push(to_vec(n_out.clone()));
            tapes.push(Tape {
                h: h_leaf,
                s: s_leaf,
                params,
                e_out,
                n_out,
            });
            self.breakdown.dense_forward += td.elapsed().as_secs_f64();
        }
        drop(h);
        let forward_seconds = t_prop.elapsed().as_secs_f64();

        // Gather the batch's final rows [E⁽⁰⁾ | N⁽¹⁾ | … | N⁽ᴸ⁾].
        let t0 = std::time::Instant::now();
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
        let gather = |nodes: &mut dyn Iterator<Item = usize>| {
            let mut rows = Vec::new();
            for r in nodes {
                rows.extend_from_slice(self.ego.row(r));
                for nl in &normed {
                    rows.extend_from_slice(&nl[r * d..(r + 1) * d]);
                }
            }
            rows
        };
        let user_rows = gather(&mut users.iter().map(|&u| u as usize));
        let item_rows = gather(&mut items.iter().map(|&i| nu + i as usize));
        // MixGCF with NGCF (pool = concat): block l of a synthetic negative is
        // a·B⁽ˡ⁾[pos] + (1 − a)·B⁽ˡ⁾[cand_l], B⁽⁰⁾ = E⁽⁰⁾ and B⁽ˡ⁾ = N⁽ˡ⁾; like every final row here it
        // is also what the L2 term regularises.
        let blocks = layers + 1;
        let block_row = |block: usize, node: usize| -> &[f32] {
            if block == 0 {
                self.ego.row(node)
            } else {
                &normed[block - 1][node * d..(node + 1) * d]
            }
        };
        let mixed_rows: Option<Vec<f32>> = batch.mixed.map(|mx| {
            let n_neg = mx.candidates.len() / blocks;
            let mut rows = Vec::with_capacity(n_neg * fd);
            for m in 0..n_neg {
                let pos = nu + batch.positives[m / mx.k] as usize;
                for l in 0..blocks {
                    let a = mx.pos_weight[m * blocks + l];
                    let cand = nu + mx.candidates[m * blocks + l] as usize;
                    let (pr, cr) = (block_row(l, pos), block_row(l, cand));
                    rows.extend(pr.iter().zip(cr).map(|(p, c)| a * p + (1.0 - a) * c));
                }
            }
            rows
        });
        // The reference regularises the final rows themselves: `ego: None`.
        let gathered = GatheredBatch {
            pair_weights: batch.pair_weights,
            dim: fd,
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
        let lg = compute(
            self.config.engine,
            &self.device,
            &gathered,
            self.config.l2,
            self.step,
        );
        // DENS's auxiliary loss over the blocks as this step's forward pass computed them
        // (with its dropout), pooled by concatenation like the scores.
        let aux = match &lg {
            Ok(_) => crate::dens_loss::batch_auxiliary(
                self.config.engine,
                &self.device,
                batch,
                blocks,
                d,
                crate::dens_loss::LayerPooling::Concat,
                nu,
                self.step,
                block_row,
            ),
            Err(_) => Ok(Vec::new()),
        };
        let t2 = std::time::Instant::now();
        self.timings.gather += (t1 - t0).as_secs_f64();
        self.timings.loss_graph += (t2 - t1).as_secs_f64();
        self.propagate_seconds += forward_seconds;
        let lg = lg?;
        let aux = aux?;

        // Scatter ∂L/∂E* block `k` of the batch's rows into a dense [n, d] buffer.
        let scatter = |block: usize, out: &mut [f32]| {
            for (k, &u) in users.iter().enumerate() {
                let r = u as usize;
                let g = &lg.user_grads[k * fd + block * d..k * fd + (block + 1) * d];
                for (o, x) in out[r * d..(r + 1) * d].iter_mut().zip(g) {
                    *o += x;
                }
            }
            for (k, &i) in items.iter().enumerate() {
                let r = nu + i as usize;
                let g = &lg.item_grads[k * fd + block * d..k * fd + (block + 1) * d];
                for (o, x) in out[r * d..(r + 1) * d].iter_mut().zip(g) {
                    *o += x;
                }
            }
            // DENS's auxiliary loss: per-block gradients of users, positives and candidates.
            // A term exists only with per-layer negatives (batch_auxiliary checks).
            if let Some(mx) = batch.mixed {
                for aux in &aux {
                    aux.for_each_row(|l, row, g| {
                        if l != block {
                            return;
                        }
                        let r = match row {
                            AuxRow::User(b) => batch.users[b] as usize,
                            AuxRow::Positive(b) => nu + batch.positives[b] as usize,
                            AuxRow::Negative(m) => nu + mx.candidates[m * blocks + l] as usize,
                        };
                        for (o, x) in out[r * d..(r + 1) * d].iter_mut().zip(g) {
                            *o += x;
                        }
                    });
                }
            }
            // Synthetic negatives hand their block gradient to the rows they were mixed from.
            if let (Some(mx), Some((gr, ge))) = (batch.mixed, &lg.synthetic_grads) {
                for m in 0..mx.candidates.len() / blocks {
                    let pos = nu + batch.positives[m / mx.k] as usize;
                    let a = mx.pos_weight[m * blocks + block];
                    let cand = nu + mx.candidates[m * blocks + block] as usize;
                    let off = m * fd + block * d;
                    for j in 0..d {
                        let g = gr[off + j] + ge[off + j];
                        out[pos * d + j] += a * g;
                        out[cand * d + j] += (1.0 - a) * g;
                    }
                }
            }
        };
        let mut g_ego = vec![0.0f32; n * d];
        scatter(0, &mut g_ego);
        self.timings.gather += t2.elapsed().as_secs_f64();

        // Backward, layer by layer.
        let t_back = std::time::Instant::now();
        let mut g_weights = vec![0.0f32; self.weights.as_slice().len()];
        let mut upstream_e: Option<Vec<f32>> = None;
        for l in (0..layers).rev() {
            let tb = std::time::Instant::now();
            let tape = tapes.pop().expect("one tape per layer");
            let mut g_n = vec![0.0f32; n * d];
            scatter(l + 1, &mut g_n);
            let mut scalar = (tape.n_out * tensor(g_n, n, d, &self.device)).sum();
            if let Some(g_e) = upstream_e.take() {
                scalar = scalar + (tape.e_out * tensor(g_e, n, d, &self.device)).sum();
            }
            let grads = scalar.backward();
            let mut g_h = grad_vec(&tape.h, &grads, n * d);
            let g_s = grad_vec(&tape.s, &grads, n * d);
            let base = l * (2 * d + 2) * d;
            let gw = &mut g_weights[base..base + (2 * d + 2) * d];
            let p = &tape.params;
            gw[..d * d].copy_from_slice(&grad_vec(&p.w_gc, &grads, d * d));
            gw[d * d..d * d + d].copy_from_slice(&grad_vec(&p.b_gc, &grads, d));
            gw[d * d + d..2 * d * d + d].copy_from_slice(&grad_vec(&p.w_bi, &grads, d * d));
            gw[2 * d * d + d..].copy_from_slice(&grad_vec(&p.b_bi, &grads, d));
            drop(grads);
            let ts = std::time::Instant::now();
            self.breakdown.dense_backward += (ts - tb).as_secs_f64();
            // ∂L/∂E⁽ˡ⁾ += Âᵀ ∂L/∂S
            let mut through = vec![0.0f32; n * d];
            spmm(&self.adj_t, &bwd_vals, &g_s, &mut through);
            g_h.par_iter_mut()
                .zip(through.par_iter())
                .for_each(|(a, t)| *a += t);
            self.breakdown.spmm += ts.elapsed().as_secs_f64();
            if l == 0 {
                g_ego
                    .par_iter_mut()
                    .zip(g_h.par_iter())
                    .for_each(|(a, g)| *a += g);
            } else {
                upstream_e = Some(g_h);
            }
        }
        self.propagate_seconds += t_back.elapsed().as_secs_f64();

        let to = std::time::Instant::now();
        self.opt.update_all(&mut self.ego, &g_ego);
        self.weight_opt.update_all(&mut self.weights, &g_weights);
        self.timings.optimizer += to.elapsed().as_secs_f64();
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

    /// Parameters (ego table and weights), both optimizers' moments and the counters (step,
    /// dropout key), for resuming training exactly.
    pub fn training_state(&self) -> crate::TrainingState {
        let mut s = crate::TrainingState::default();
        s.tensors.push(("ego".into(), self.ego.as_slice().to_vec()));
        s.tensors
            .push(("weights".into(), self.weights.as_slice().to_vec()));
        self.opt.save_state("opt", &mut s);
        self.weight_opt.save_state("weight_opt", &mut s);
        s.counters.insert("step".into(), self.step);
        s.counters.insert("dropout_seed".into(), self.dropout_seed);
        s
    }

    /// Restores what [`Ngcf::training_state`] returned.
    ///
    /// # Errors
    /// [`ModelError::Config`] if a tensor is missing or has the wrong size (the data or the
    /// model changed).
    pub fn restore(&mut self, mut s: crate::TrainingState) -> Result<()> {
        // Everything is read and checked before the model changes.
        let ego = s.take("ego", self.ego.as_slice().len())?;
        let weights = s.take("weights", self.weights.as_slice().len())?;
        let mut opt = self.opt.clone();
        opt.load_state("opt", &mut s)?;
        let mut weight_opt = self.weight_opt.clone();
        weight_opt.load_state("weight_opt", &mut s)?;
        self.opt = opt;
        self.weight_opt = weight_opt;
        self.ego.as_mut_slice().copy_from_slice(&ego);
        self.weights.as_mut_slice().copy_from_slice(&weights);
        self.step = s.counter("step");
        if let Some(&k) = s.counters.get("dropout_seed") {
            self.dropout_seed = k;
        }
        self.fresh = false;
        self.refresh();
        Ok(())
    }

    /// Full-ranking scorer over the final representation `E*` (width `dim·(L+1)`).
    ///
    /// # Panics
    /// If the embeddings are stale: call [`Ngcf::refresh`] after training steps.
    pub fn ranking_scorer(&self) -> DotScorer<'_> {
        assert!(self.fresh, "call refresh() before scoring");
        let (u, i) = self
            .final_emb
            .split_at(self.n_users * self.config.final_dim());
        DotScorer::new(u, i, self.config.final_dim())
            .expect("final tables share their width by construction")
    }

    fn node_layer(&self, layer: usize, node: usize) -> &[f32] {
        let d = self.config.dim;
        &self.final_row(node)[layer * d..(layer + 1) * d]
    }
}

/// Samplers' view. Note the two widths: [`Scorer::dim`], `user_vec` and `item_vec` are the
/// final representation `E*`, width `dim·(L+1)`, whose inner products are the scores; the
/// per-layer rows `user_layer(l, ·)` / `item_layer(l, ·)` have width `dim`: layer 0 is the ego
/// embedding, layer `l ≥ 1` the *normalised* `N⁽ˡ⁾`, i.e. the `l`-th `dim`-wide block of `E*`
/// (so concatenating the layers gives `user_vec`; their sum or mean would not).
impl Scorer for Ngcf {
    fn dim(&self) -> usize {
        self.config.final_dim()
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
        self.final_row(user as usize)
    }

    fn item_vec(&self, item: ItemId) -> &[f32] {
        self.final_row(self.n_users + item as usize)
    }

    /// Concatenation pooling: layer `l`'s block of the final representation.
    fn layer_score(&self, user: UserId, layer: usize, v: &[f32]) -> f32 {
        autosample_samplers::dot(self.user_layer(layer, user), v)
    }
}

impl RankingScorer for Ngcf {
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
