//! The BPR loss over gathered rows, differentiated by burn autodiff.
//!
//! For a batch of `B` training pairs `(u, i)` with `K` negatives `j_1..j_K` each:
//!
//! ```text
//! ℓ_b   = log(1 + Σ_k exp(s(u, j_k) − s(u, i)))          K-pair BPR (= softplus(s_uj − s_ui) at K = 1)
//! L_bpr = (1/B) Σ_b ℓ_b
//! L_reg = l2 · (‖U_b‖² + ‖I_b‖² + ‖J_b‖²) / 2 / B         over the batch's rows, repeats included
//! L     = L_bpr + L_reg
//! ```
//!
//! with `s(u, i) = ⟨e_u, e_i⟩`. This is the loss of the MixGCF/AHNS code (`create_bpr_loss` in
//! github.com/huangtinglin/MixGCF `modules/LightGCN.py`), whose L2 term follows LightGCN's
//! (`regularizer / batch_size` over the batch's ego embeddings).
//!
//! The graph is built over the *unique* rows of the batch only (leaves of shape
//! `[n_unique, dim]`); the pairs index into them. The returned gradients are per unique row,
//! ready for the row-sparse optimizers.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

/// A batch whose rows were gathered from the tables and deduplicated.
///
/// # Shapes
/// - `user_rows`: `[n_user_rows, dim]` row-major; `item_rows`: `[n_item_rows, dim]`.
/// - `users`, `positives`: `[B]` indices into `user_rows` / `item_rows`.
/// - `negatives`: `[B, K]` row-major indices into `item_rows` (`K = negatives.len() / B`).
#[derive(Debug, Clone, Copy)]
pub struct GatheredBatch<'a> {
    /// Embedding width.
    pub dim: usize,
    /// Unique user rows.
    pub user_rows: &'a [f32],
    /// Unique item rows (positives and negatives).
    pub item_rows: &'a [f32],
    /// Per pair: index of its user in `user_rows`.
    pub users: &'a [u32],
    /// Per pair: index of its positive in `item_rows`.
    pub positives: &'a [u32],
    /// Per pair, K entries: indices of its negatives in `item_rows`.
    pub negatives: &'a [u32],
    /// For graph models: the *ego* (layer-0) rows of the same users and items, on which the
    /// L2 term is taken (LightGCN regularises the ego embeddings, while scores use the
    /// propagated ones). `None` regularises `user_rows`/`item_rows` themselves (MF).
    pub ego: Option<EgoRows<'a>>,
    /// Synthetic negatives (MixGCF) given as vectors instead of item rows; `negatives` is then
    /// empty.
    pub synthetic: Option<SyntheticRows<'a>>,
    /// Per-pair weights `c_b` (`[B]`): the loss becomes
    /// `(1/B) Σ_b c_b·(ℓ_b + l2·(‖u_b‖² + ‖i_b‖² + Σ_k ‖j_bk‖²)/2)`, i.e. each pair's BPR and
    /// L2 terms scaled by its weight. The supernet's weighted sum over candidates is this over
    /// the candidates' copies of the batch (docs/decisions/0004). `None`: every weight 1.
    pub pair_weights: Option<&'a [f32]>,
}

/// Negatives given as vectors: the scored (pooled) vector of each of the `B·K` negatives, and
/// its layer-0 vector for the L2 term.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticRows<'a> {
    /// Negatives per pair.
    pub k: usize,
    /// `[B·K, dim]`, pair-major.
    pub rows: &'a [f32],
    /// `[B·K, dim]`: the layer-0 vectors regularised by L2.
    pub ego_rows: &'a [f32],
}

/// Layer-0 rows of a graph model's batch, in the same order as the scored rows.
#[derive(Debug, Clone, Copy)]
pub struct EgoRows<'a> {
    /// `[n_user_rows, dim]`.
    pub user_rows: &'a [f32],
    /// `[n_item_rows, dim]`.
    pub item_rows: &'a [f32],
}

/// Loss value and its gradient with respect to every gathered row.
#[derive(Debug, Clone)]
pub struct LossAndGrads {
    /// `L = L_bpr + L_reg`.
    pub loss: f32,
    /// The BPR part.
    pub bpr: f32,
    /// The L2 part.
    pub reg: f32,
    /// `∂L/∂user_rows`, `[n_user_rows, dim]`.
    pub user_grads: Vec<f32>,
    /// `∂L/∂item_rows`, `[n_item_rows, dim]`.
    pub item_grads: Vec<f32>,
    /// `∂L/∂ego.user_rows` and `∂L/∂ego.item_rows` when ego rows were given.
    pub ego_grads: Option<(Vec<f32>, Vec<f32>)>,
    /// `∂L/∂synthetic.rows` and `∂L/∂synthetic.ego_rows` for synthetic negatives.
    pub synthetic_grads: Option<(Vec<f32>, Vec<f32>)>,
}

/// Which implementation computes the loss and its row gradients. Both compute the same
/// function; the tests hold the native one to the burn graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossEngine {
    /// burn autodiff over the gathered rows: the reference, and the only engine for losses
    /// without a closed form in this crate.
    #[default]
    Burn,
    /// The closed-form K-pair BPR gradient ([`crate::bpr_native`]): several times faster.
    Native,
}

impl std::str::FromStr for LossEngine {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "burn" => Ok(LossEngine::Burn),
            "native" => Ok(LossEngine::Native),
            other => Err(format!("unknown loss engine {other:?}; use burn or native")),
        }
    }
}

/// Loss and row gradients by the chosen engine.
///
/// # Errors
/// [`ModelError::Diverged`] when the loss is not finite.
pub fn compute(
    engine: LossEngine,
    device: &Device,
    batch: &GatheredBatch<'_>,
    l2: f64,
    step: u64,
) -> Result<LossAndGrads> {
    if let Some(c) = batch.pair_weights
        && c.len() != batch.users.len()
    {
        return Err(ModelError::Config(format!(
            "{} pair weights for a batch of {} pairs",
            c.len(),
            batch.users.len()
        )));
    }
    match engine {
        LossEngine::Burn => loss_and_grads(device, batch, l2, step),
        LossEngine::Native => crate::bpr_native::loss_and_grads(batch, l2, step),
    }
}

/// The batch's pairs as index tensors into the leaves.
#[derive(Debug, Clone)]
pub struct PairIndex {
    /// `[B]` rows of the user leaf.
    pub users: Tensor<1, Int>,
    /// `[B]` rows of the item leaf.
    pub positives: Tensor<1, Int>,
    /// `[B·K]` rows of the item leaf.
    pub negatives: Tensor<1, Int>,
    /// Negatives per pair.
    pub k: usize,
    /// Synthetic negatives as leaves `([B·K, d] scored vectors, [B·K, d] layer-0 vectors)`;
    /// when set, `negatives` is ignored.
    pub synthetic: Option<(Tensor<2>, Tensor<2>)>,
    /// Per-pair weights `[B, 1]` (see [`GatheredBatch::pair_weights`]); `None`: all 1.
    pub weights: Option<Tensor<2>>,
}

impl PairIndex {
    /// Index tensors on `device` from plain indices.
    pub fn new(users: &[u32], positives: &[u32], negatives: &[u32], device: &Device) -> Self {
        let k = negatives.len().checked_div(users.len()).unwrap_or(0);
        Self {
            users: index_tensor(users, device),
            positives: index_tensor(positives, device),
            negatives: index_tensor(negatives, device),
            k,
            synthetic: None,
            weights: None,
        }
    }
}

/// The loss tensors built from user and item leaves (any rows; the indices pick from them).
///
/// Public so that tests can build the same loss over *whole* tables and use burn's dense
/// gradient as the oracle for the gathered-row path.
///
/// # Shapes
/// - `user_leaf`: `[n_u, d]`, `item_leaf`: `[n_i, d]`
/// - `users`, `positives`: `[B]`; `negatives`: `[B·K]`
/// - returns `(L_bpr, L_reg)`, each `[1]`
pub fn bpr_loss(
    user_leaf: Tensor<2>,
    item_leaf: Tensor<2>,
    ego: Option<(Tensor<2>, Tensor<2>)>,
    index: PairIndex,
    l2: f64,
) -> (Tensor<1>, Tensor<1>) {
    let PairIndex {
        users,
        positives,
        negatives,
        k,
        synthetic,
        weights,
    } = index;
    let [b] = users.dims();
    let [_, d] = user_leaf.dims();
    let (reg_u, reg_i) = match ego {
        Some((eu, ei)) => (eu, ei),
        None => (user_leaf.clone(), item_leaf.clone()),
    };
    // Σ of squares over rows `[m, d]`, each row's term scaled by its pair's weight if any.
    let weighted_sq = |rows: Tensor<2>, per_pair: usize| -> Tensor<1> {
        match &weights {
            None => rows.square().sum(),
            Some(c) => {
                let m = rows.dims()[0];
                let c = c.clone().expand([b, per_pair]).reshape([m, 1]);
                (rows.square().sum_dim(1) * c).sum()
            }
        }
    };
    let (n, neg_sq) = match synthetic {
        Some((rows, ego_rows)) => (rows.reshape([b, k, d]), weighted_sq(ego_rows, k)),
        None => (
            item_leaf
                .clone()
                .select(0, negatives.clone())
                .reshape([b, k, d]),
            weighted_sq(reg_i.clone().select(0, negatives), k),
        ),
    }; // n: [B, K, d]
    let reg_sq = weighted_sq(reg_u.select(0, users.clone()), 1)
        + weighted_sq(reg_i.select(0, positives.clone()), 1)
        + neg_sq;
    let u = user_leaf.select(0, users); // [B, d]
    let p = item_leaf.select(0, positives); // [B, d]
    let pos = (u.clone() * p.clone()).sum_dim(1); // [B, 1]
    let neg = (u.clone().unsqueeze_dim::<3>(1) * n.clone())
        .sum_dim(2)
        .reshape([b, k]); // [B, K]
    // log(1 + Σ exp(s_neg − s_pos)), computed stably.
    let lse = crate::dens_loss::log1p_sum_exp(neg - pos); // [B, 1]
    let bpr = match weights {
        None => lse.mean(),
        Some(c) => (lse * c).mean(),
    };
    let reg = reg_sq.mul_scalar(l2 / 2.0 / b as f64);
    (bpr, reg)
}

/// Builds the loss over the gathered rows on `device` (an autodiff device), runs backward and
/// returns the loss and the per-row gradients.
///
/// # Errors
/// [`ModelError::Diverged`] (with `step`) when the loss is not finite; the tables are not
/// touched by this function either way.
pub fn loss_and_grads(
    device: &Device,
    batch: &GatheredBatch<'_>,
    l2: f64,
    step: u64,
) -> Result<LossAndGrads> {
    let d = batch.dim;
    let n_u = batch.user_rows.len() / d;
    let n_i = batch.item_rows.len() / d;
    let user_leaf =
        Tensor::<2>::from_data(TensorData::new(batch.user_rows.to_vec(), [n_u, d]), device)
            .require_grad();
    let item_leaf =
        Tensor::<2>::from_data(TensorData::new(batch.item_rows.to_vec(), [n_i, d]), device)
            .require_grad();
    let ego_leaves = batch.ego.map(|e| {
        (
            Tensor::<2>::from_data(TensorData::new(e.user_rows.to_vec(), [n_u, d]), device)
                .require_grad(),
            Tensor::<2>::from_data(TensorData::new(e.item_rows.to_vec(), [n_i, d]), device)
                .require_grad(),
        )
    });
    let mut index = PairIndex::new(batch.users, batch.positives, batch.negatives, device);
    let synthetic_leaves = batch.synthetic.map(|sy| {
        let n = sy.rows.len() / d;
        (
            Tensor::<2>::from_data(TensorData::new(sy.rows.to_vec(), [n, d]), device)
                .require_grad(),
            Tensor::<2>::from_data(TensorData::new(sy.ego_rows.to_vec(), [n, d]), device)
                .require_grad(),
        )
    });
    if let Some(sy) = batch.synthetic {
        index.k = sy.k;
        index.synthetic = synthetic_leaves.clone();
    }
    index.weights = batch
        .pair_weights
        .map(|c| Tensor::<2>::from_data(TensorData::new(c.to_vec(), [c.len(), 1]), device));
    let (bpr, reg) = bpr_loss(
        user_leaf.clone(),
        item_leaf.clone(),
        ego_leaves.clone(),
        index,
        l2,
    );
    let bpr_v = scalar(&bpr);
    let reg_v = scalar(&reg);
    let loss = bpr + reg;
    let loss_v = bpr_v + reg_v;
    if !loss_v.is_finite() {
        return Err(ModelError::Diverged {
            value: loss_v,
            step,
        });
    }
    let grads = loss.backward();
    let user_grads = grad_vec(&user_leaf, &grads, n_u * d);
    let item_grads = grad_vec(&item_leaf, &grads, n_i * d);
    let ego_grads = ego_leaves.map(|(eu, ei)| {
        (
            grad_vec(&eu, &grads, n_u * d),
            grad_vec(&ei, &grads, n_i * d),
        )
    });
    let synthetic_grads = synthetic_leaves.map(|(r, e)| {
        let len = r.dims()[0] * d;
        (grad_vec(&r, &grads, len), grad_vec(&e, &grads, len))
    });
    Ok(LossAndGrads {
        loss: loss_v,
        bpr: bpr_v,
        reg: reg_v,
        user_grads,
        item_grads,
        ego_grads,
        synthetic_grads,
    })
}

/// `[n]` int tensor of indices.
pub fn index_tensor(idx: &[u32], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = idx.iter().map(|&x| x as i64).collect();
    Tensor::<1, Int>::from_data(TensorData::new(v, [idx.len()]), device)
}

fn scalar(t: &Tensor<1>) -> f32 {
    t.clone().into_scalar::<f32>()
}

/// The gradient of a leaf as a flat vector (zeros if the leaf took no part in the loss).
fn grad_vec(leaf: &Tensor<2>, grads: &burn::tensor::Gradients, len: usize) -> Vec<f32> {
    match leaf.grad(grads) {
        Some(g) => g
            .into_data()
            .try_into_vec::<f32>()
            .expect("leaves are f32 by construction"),
        None => vec![0.0; len],
    }
}
