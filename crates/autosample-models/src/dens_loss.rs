//! DENS's auxiliary disentangling loss (Lai et al., WSDM 2023), differentiated by burn.
//!
//! Given per pair `b` the per-layer rows (`L` layers of width `d`) of its user `s`, its
//! positive `p` and its `K` chosen negatives `n_k` (the layer-`l` row of negative `k` is the
//! layer-`l` row of the candidate DENS chose for that layer), and the four gates
//! ([`autosample_samplers::DensGate`], `y = x·W + b`):
//!
//! ```text
//! g_p = σ(item(p) + user(s))              p_r = p ⊙ g_p,   p_ir = p − p_r       (per layer)
//! g_n = σ(neg(n_k) + pos(p_r))            n_r = n_k ⊙ g_n, n_ir = n_k − n_r     (per layer)
//! u = pool(s); scores of pool(p_r), pool(p_ir), pool(n_r), pool(n_ir) against u:
//!     P_r, P_ir ∈ ℝ^B;  N_r, N_ir ∈ ℝ^{B×K}
//! L_aux = γ/4 · [ mean_b log(1 + e^{P_ir − P_r})
//!               + mean_b log(1 + Σ_k e^{N_r,k − N_ir,k})
//!               + mean_b log(1 + Σ_k e^{N_r,k − P_r})
//!               + mean_b log(1 + Σ_k e^{P_ir − N_ir,k}) ]
//! ```
//!
//! `pool` is the model's: the layer mean (MF, LightGCN) or the concatenation (NGCF). This is
//! `create_bpr_loss` of github.com/Riwei-HEU/DENS `DENS/modules/LightGCN.py` at commit
//! 4ae0ecd, for `ns == 'dens' and gamma > 0`. The loss is separate from the BPR loss (the
//! total is their sum), so either loss engine can carry it; its gradients come back per
//! pair and per layer, and each model routes them to its layer rows, as for MixGCF.

use autosample_samplers::{DensGate, dens_params_len};
use burn::tensor::{Device, Tensor, TensorData, activation};

use crate::{ModelError, Result};

/// How the model pools its layer rows into the scored vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerPooling {
    /// The layer mean (LightGCN; MF with its single layer).
    Mean,
    /// The concatenation (NGCF).
    Concat,
}

/// The inputs of the auxiliary loss, row-major.
#[derive(Debug, Clone, Copy)]
pub struct DensInputs<'a> {
    /// Width of one layer row.
    pub dim: usize,
    /// Layers per node.
    pub layers: usize,
    /// Negatives per pair.
    pub k: usize,
    /// Users' layer rows, `[B, L, d]`.
    pub user: &'a [f32],
    /// Positives' layer rows, `[B, L, d]`.
    pub pos: &'a [f32],
    /// Negatives' layer rows, `[B·K, L, d]` (pair-major).
    pub neg: &'a [f32],
    /// The gate vector, `4·(d² + d)`.
    pub gates: &'a [f32],
    /// γ.
    pub gamma: f32,
    /// The model's pooling.
    pub pooling: LayerPooling,
}

/// The loss and its gradient with respect to every input (same shapes as the inputs).
#[derive(Debug, Clone)]
pub struct DensGrads {
    /// `L_aux`.
    pub loss: f32,
    /// `∂L_aux/∂user`.
    pub user: Vec<f32>,
    /// `∂L_aux/∂pos`.
    pub pos: Vec<f32>,
    /// `∂L_aux/∂neg`.
    pub neg: Vec<f32>,
    /// `∂L_aux/∂gates`.
    pub gates: Vec<f32>,
}

/// `log(1 + Σ_k e^{x_k})` per row of `x: [B, K]`, stably (the shift is a constant for the
/// gradient and cancels exactly), as `[B, 1]`.
pub(crate) fn log1p_sum_exp(x: Tensor<2>) -> Tensor<2> {
    let m = x.clone().max_dim(1).clamp_min(0.0).detach();
    m.clone() + (m.clone().neg().exp() + (x - m).exp().sum_dim(1)).log()
}

/// `x·W + b` for `x: [N, d]` with gate `gate` of the flat `gates` leaf.
#[allow(clippy::single_range_in_vec_init)] // burn's slice takes one range per dimension
fn linear(gates: &Tensor<1>, dim: usize, gate: DensGate, x: Tensor<2>) -> Tensor<2> {
    let at = gate.offset(dim);
    let w = gates
        .clone()
        .slice([at..at + dim * dim])
        .reshape([dim, dim]);
    let b = gates
        .clone()
        .slice([at + dim * dim..at + dim * dim + dim])
        .reshape([1, dim]);
    let [n, _] = x.dims();
    x.matmul(w) + b.expand([n, dim])
}

/// `L_aux` as a burn graph over `user`, `pos`: `[B·L, d]`, `neg`: `[B·K·L, d]` (pair-major,
/// then layer) and the flat `gates`; `shape = [B, K, L, d]`. Public so that tests can build
/// the same loss over rows that come out of a dense propagation (the models' oracle).
pub fn dens_loss_graph(
    user: Tensor<2>,
    pos: Tensor<2>,
    neg: Tensor<2>,
    gates: Tensor<1>,
    shape: [usize; 4],
    pooling: LayerPooling,
    gamma: f32,
) -> Tensor<1> {
    let [b, k, l, d] = shape;
    // Per-layer gates.
    let gate_p = activation::sigmoid(
        linear(&gates, d, DensGate::Item, pos.clone())
            + linear(&gates, d, DensGate::User, user.clone()),
    );
    let pos_r = pos.clone() * gate_p; // [B·L, d]
    let pos_ir = pos.clone() - pos_r.clone();
    let pos_term = linear(&gates, d, DensGate::Pos, pos_r.clone()) // [B·L, d] → [B·K·L, d]
        .reshape([b, 1, l * d])
        .expand([b, k, l * d])
        .reshape([b * k * l, d]);
    let gate_n = activation::sigmoid(linear(&gates, d, DensGate::Neg, neg.clone()) + pos_term);
    let neg_r = neg.clone() * gate_n;
    let neg_ir = neg.clone() - neg_r.clone();

    // Pooling: [n·L, d] → [n, D'].
    let pool = |t: Tensor<2>, n: usize| -> Tensor<2> {
        match pooling {
            LayerPooling::Mean => t.reshape([n, l, d]).mean_dim(1).reshape([n, d]),
            LayerPooling::Concat => t.reshape([n, l * d]),
        }
    };
    let width = match pooling {
        LayerPooling::Mean => d,
        LayerPooling::Concat => l * d,
    };
    let u = pool(user.clone(), b); // [B, D']
    let u_k = u.clone().reshape([b, 1, width]).expand([b, k, width]); // [B, K, D']
    let score_pos = |t: Tensor<2>| (u.clone() * pool(t, b)).sum_dim(1); // [B, 1]
    let score_neg = |t: Tensor<2>| {
        (u_k.clone() * pool(t, b * k).reshape([b, k, width]))
            .sum_dim(2)
            .reshape([b, k])
    }; // [B, K]
    let (sp_r, sp_ir) = (score_pos(pos_r), score_pos(pos_ir));
    let (sn_r, sn_ir) = (score_neg(neg_r), score_neg(neg_ir));
    let t1 = log1p_sum_exp(sp_ir.clone() - sp_r.clone()).mean();
    let t2 = log1p_sum_exp(sn_r.clone() - sn_ir.clone()).mean();
    let t3 = log1p_sum_exp(sn_r - sp_r.expand([b, k])).mean();
    let t4 = log1p_sum_exp(sp_ir.expand([b, k]) - sn_ir).mean();
    (t1 + t2 + t3 + t4).mul_scalar(gamma as f64 / 4.0)
}

/// Checks that the inputs' lengths fit their declared shapes; returns the number of pairs `B`.
pub(crate) fn check_inputs(x: &DensInputs<'_>) -> Result<usize> {
    let (d, l, k) = (x.dim, x.layers, x.k);
    let row = l * d;
    if d == 0 || l == 0 || k == 0 || !x.user.len().is_multiple_of(row) {
        return Err(ModelError::Config(format!(
            "DENS auxiliary loss: {} user floats do not form rows of {l} layers × {d}",
            x.user.len()
        )));
    }
    let b = x.user.len() / row;
    if x.pos.len() != b * row || x.neg.len() != b * k * row {
        return Err(ModelError::Config(format!(
            "DENS auxiliary loss: {b} pairs need {} positive and {} negative floats, got {} and {}",
            b * row,
            b * k * row,
            x.pos.len(),
            x.neg.len()
        )));
    }
    if x.gates.len() != dens_params_len(d) {
        return Err(ModelError::Config(format!(
            "DENS auxiliary loss: the gate vector has {} floats, width {d} needs {}",
            x.gates.len(),
            dens_params_len(d)
        )));
    }
    Ok(b)
}

/// Builds `L_aux` on `device` (an autodiff device), runs backward and returns the loss and
/// the gradients.
///
/// # Errors
/// [`ModelError::Config`] if the shapes disagree, [`ModelError::Diverged`] if the loss is not
/// finite.
pub fn dens_auxiliary(device: &Device, x: &DensInputs<'_>, step: u64) -> Result<DensGrads> {
    let b = check_inputs(x)?;
    let (d, l, k) = (x.dim, x.layers, x.k);
    let leaf = |v: &[f32], shape: [usize; 2]| {
        Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), device).require_grad()
    };
    let user = leaf(x.user, [b * l, d]);
    let pos = leaf(x.pos, [b * l, d]);
    let neg = leaf(x.neg, [b * k * l, d]);
    let gates = Tensor::<1>::from_data(TensorData::new(x.gates.to_vec(), [x.gates.len()]), device)
        .require_grad();
    let loss = dens_loss_graph(
        user.clone(),
        pos.clone(),
        neg.clone(),
        gates.clone(),
        [b, k, l, d],
        x.pooling,
        x.gamma,
    );
    let value: f32 = loss.clone().into_scalar::<f32>();
    if !value.is_finite() {
        return Err(ModelError::Diverged { value, step });
    }
    let grads = loss.backward();
    let grad2 = |t: &Tensor<2>, len: usize| -> Vec<f32> {
        t.grad(&grads)
            .map(|g| {
                g.into_data()
                    .try_into_vec::<f32>()
                    .expect("leaves are f32 by construction")
            })
            .unwrap_or_else(|| vec![0.0; len])
    };
    let user_g = grad2(&user, x.user.len());
    let pos_g = grad2(&pos, x.pos.len());
    let neg_g = grad2(&neg, x.neg.len());
    let gates_g = gates
        .grad(&grads)
        .map(|g| {
            g.into_data()
                .try_into_vec::<f32>()
                .expect("leaves are f32 by construction")
        })
        .unwrap_or_else(|| vec![0.0; x.gates.len()]);
    Ok(DensGrads {
        loss: value,
        user: user_g,
        pos: pos_g,
        neg: neg_g,
        gates: gates_g,
    })
}

/// Which row a per-layer auxiliary gradient belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuxRow {
    /// The user of pair `b`.
    User(usize),
    /// The positive of pair `b`.
    Positive(usize),
    /// Negative `n` (pair `n / K`); at layer `l` its row is the candidate
    /// `candidates[n·L + l]` of the batch's [`crate::MixedNegatives`].
    Negative(usize),
}

/// One auxiliary term's loss, with its gradients ready to route.
#[derive(Debug, Clone)]
pub struct BatchAuxiliary {
    /// Loss and raw gradients (already weighted by the term's weight).
    pub grads: DensGrads,
    layers: usize,
    dim: usize,
    /// The term's first pair in the batch, and negatives per pair: row indices are the batch's.
    first_pair: usize,
    k: usize,
}

impl BatchAuxiliary {
    /// Calls `f(layer, row, gradient)` for every per-layer row gradient, rows numbered as in
    /// the whole batch.
    pub fn for_each_row(&self, mut f: impl FnMut(usize, AuxRow, &[f32])) {
        let (l, d) = (self.layers, self.dim);
        let row = l * d;
        for (kind, grads) in [
            (0, &self.grads.user),
            (1, &self.grads.pos),
            (2, &self.grads.neg),
        ] {
            for (r, rows) in grads.chunks(row).enumerate() {
                let which = match kind {
                    0 => AuxRow::User(self.first_pair + r),
                    1 => AuxRow::Positive(self.first_pair + r),
                    _ => AuxRow::Negative(self.first_pair * self.k + r),
                };
                for (layer, g) in rows.chunks(d).enumerate() {
                    f(layer, which, g);
                }
            }
        }
    }
}

/// Builds and differentiates the batch's auxiliary terms ([`crate::TrainBatch::auxiliary`]),
/// in order. `layer_row(l, node)` is the model's layer-`l` row of graph node `node` (users
/// `0..n_users`, then items), as the step's forward pass saw it.
///
/// # Errors
/// [`ModelError::Config`] if the batch has an auxiliary loss without DENS's per-layer
/// negatives, with another layer count or width than the model's, or over pairs outside the
/// batch; [`ModelError::Diverged`] if a loss is not finite.
#[allow(clippy::too_many_arguments)]
pub fn batch_auxiliary<'r>(
    engine: crate::LossEngine,
    device: &Device,
    batch: &crate::TrainBatch<'_>,
    layers: usize,
    dim: usize,
    pooling: LayerPooling,
    n_users: usize,
    step: u64,
    layer_row: impl Fn(usize, usize) -> &'r [f32],
) -> Result<Vec<BatchAuxiliary>> {
    let mut out = Vec::with_capacity(batch.auxiliary.len());
    for term in batch.auxiliary {
        let autosample_samplers::Auxiliary::DensGates {
            dim: gate_dim,
            gates,
            gamma,
        } = term.loss
        else {
            return Err(ModelError::Config(
                "this model knows no such auxiliary loss".to_owned(),
            ));
        };
        let Some(mx) = batch.mixed.filter(|mx| mx.layers == layers) else {
            return Err(ModelError::Config(format!(
                "the DENS auxiliary loss needs per-layer negatives over the model's {layers} layers"
            )));
        };
        if gate_dim != dim {
            return Err(ModelError::Config(format!(
                "the DENS gates have width {gate_dim}, the model's layer rows {dim}"
            )));
        }
        let pairs = term.pairs.clone();
        if pairs.start > pairs.end || pairs.end > batch.users.len() {
            return Err(ModelError::Config(format!(
                "an auxiliary term covers pairs {pairs:?} of a batch of {}",
                batch.users.len()
            )));
        }
        let gather = |nodes: &mut dyn Iterator<Item = (usize, usize)>, out: &mut Vec<f32>| {
            for (l, node) in nodes {
                out.extend_from_slice(layer_row(l, node));
            }
        };
        let b = pairs.len();
        let per_pair = mx.k * layers;
        let candidates = &mx.candidates[pairs.start * per_pair..pairs.end * per_pair];
        let (mut user, mut pos, mut neg) = (
            Vec::with_capacity(b * layers * dim),
            Vec::with_capacity(b * layers * dim),
            Vec::with_capacity(candidates.len() * dim),
        );
        gather(
            &mut batch.users[pairs.clone()]
                .iter()
                .flat_map(|&u| (0..layers).map(move |l| (l, u as usize))),
            &mut user,
        );
        gather(
            &mut batch.positives[pairs.clone()]
                .iter()
                .flat_map(|&i| (0..layers).map(move |l| (l, n_users + i as usize))),
            &mut pos,
        );
        gather(
            &mut candidates
                .iter()
                .enumerate()
                .map(|(e, &c)| (e % layers, n_users + c as usize)),
            &mut neg,
        );
        // The loss is linear in γ, so the term's weight scales γ.
        let inputs = DensInputs {
            dim,
            layers,
            k: mx.k,
            user: &user,
            pos: &pos,
            neg: &neg,
            gates,
            gamma: gamma * term.weight,
            pooling,
        };
        let grads = match engine {
            crate::LossEngine::Burn => dens_auxiliary(device, &inputs, step)?,
            crate::LossEngine::Native => crate::dens_native::dens_auxiliary_native(&inputs, step)?,
        };
        out.push(BatchAuxiliary {
            grads,
            layers,
            dim,
            first_pair: pairs.start,
            k: mx.k,
        });
    }
    Ok(out)
}
