//! DENS's auxiliary loss and its gradients in closed form: the `--engine native` twin of
//! [`crate::dens_loss::dens_auxiliary`], whose burn graph is its oracle in the tests.
//!
//! Why: at DENS's sizes (a batch of 2048 pairs, `d = 64`) the burn graph spends much of its
//! time allocating and zeroing tensors; for MF it cost more than DENS's sampling. By hand, with
//! the four gate products (and their backward) by `gemm` like burn's, MF × lastfm trains 1.12×
//! faster with DENS (benchmarks/runs/2026-11-30-2cpu/sampler-ab-mf-dens-lastfm-lightgcn-native-aux);
//! plain loops instead of `gemm` were slower than burn (0.85×). MF × ml-1m (1.03×) and
//! LightGCN gain nothing measurable: the rest of the step dominates there.
//!
//! Notation of [`crate::dens_loss`]. Backward, from the scores down, with
//! `w(x)_k = e^{x_k} / (1 + Σ_j e^{x_j})` the derivative of `log(1 + Σ_k e^{x_k})` and
//! `s = γ / (4B)`:
//!
//! ```text
//! ∂/∂P_ir += s·w1 + s·Σ_k w4_k      ∂/∂P_r  −= s·w1 + s·Σ_k w3_k
//! ∂/∂N_r,k += s·(w2_k + w3_k)       ∂/∂N_ir,k −= s·(w2_k + w4_k)
//! pooled vectors: ∂pool(p_r) = ∂P_r·u, …;  ∂u = ∂P_r·pool(p_r) + ∂P_ir·pool(p_ir) + Σ_k …
//! n_ir = n − n_r, n_r = n ⊙ g_n:  ∂n_r ← ∂n_r − ∂n_ir;  ∂n = ∂n_ir + ∂n_r ⊙ g_n
//!                                  ∂a_n = ∂n_r ⊙ n ⊙ g_n(1 − g_n)
//! a_n = n·W_neg + b_neg + (p_r·W_pos + b_pos):  ∂p_r += Σ_k ∂a_n·W_posᵀ, gates by outer products
//! p_ir, p_r, a_p = p·W_item + b_item + s·W_user + b_user: the same pattern.
//! ```

use autosample_metrics::gemm_abt;
use autosample_samplers::{DensGate, dot, sigmoid};

use crate::dens_loss::{DensGrads, DensInputs, LayerPooling, check_inputs};
use crate::{ModelError, Result};

/// `L_aux` and its gradients, in closed form. Same contract as
/// [`crate::dens_loss::dens_auxiliary`].
///
/// # Errors
/// [`ModelError::Config`] if the shapes disagree, [`ModelError::Diverged`] if the loss is not
/// finite.
pub fn dens_auxiliary_native(x: &DensInputs<'_>, step: u64) -> Result<DensGrads> {
    let b = check_inputs(x)?;
    let (d, l, k) = (x.dim, x.layers, x.k);
    let gates = x.gates;
    let shape = Pooling {
        layers: l,
        dim: d,
        kind: x.pooling,
    };

    // Forward: the positive's gate and parts.
    let mut gate_p = vec![0.0f32; b * l * d];
    let mut tmp = vec![0.0f32; b * l * d];
    gate_forward(gates, d, DensGate::Item, x.pos, &mut gate_p);
    gate_forward(gates, d, DensGate::User, x.user, &mut tmp);
    for (g, t) in gate_p.iter_mut().zip(&tmp) {
        *g = sigmoid(*g + t);
    }
    let pos_r: Vec<f32> = x.pos.iter().zip(&gate_p).map(|(p, g)| p * g).collect();
    let pos_ir: Vec<f32> = x.pos.iter().zip(&pos_r).map(|(p, r)| p - r).collect();
    // The negatives' gate: a_n = n·W_neg + b_neg + (p_r·W_pos + b_pos) of the same pair and layer.
    let mut pos_term = tmp;
    gate_forward(gates, d, DensGate::Pos, &pos_r, &mut pos_term);
    let mut gate_n = vec![0.0f32; b * k * l * d];
    gate_forward(gates, d, DensGate::Neg, x.neg, &mut gate_n);
    for (n, rows) in gate_n.chunks_exact_mut(l * d).enumerate() {
        let pair = n / k;
        for (g, t) in rows
            .iter_mut()
            .zip(&pos_term[pair * l * d..(pair + 1) * l * d])
        {
            *g = sigmoid(*g + t);
        }
    }
    let neg_r: Vec<f32> = x.neg.iter().zip(&gate_n).map(|(n, g)| n * g).collect();
    let neg_ir: Vec<f32> = x.neg.iter().zip(&neg_r).map(|(n, r)| n - r).collect();

    // Pooled vectors and scores.
    let width = shape.width();
    let u = shape.pool(x.user);
    let (p_r, p_ir) = (shape.pool(&pos_r), shape.pool(&pos_ir));
    let (n_r, n_ir) = (shape.pool(&neg_r), shape.pool(&neg_ir));
    // Scores of pooled rows `v` (`per_pair` of them per pair) against their pair's user.
    let scores = |v: &[f32], per_pair: usize| -> Vec<f32> {
        (0..v.len() / width)
            .map(|n| dot(row(&u, n / per_pair, width), row(v, n, width)))
            .collect()
    };
    let (sp_r, sp_ir) = (scores(&p_r, 1), scores(&p_ir, 1));
    let (sn_r, sn_ir) = (scores(&n_r, k), scores(&n_ir, k));

    // The four terms and the loss's gradient w.r.t. each score.
    let s = x.gamma / (4.0 * b as f32);
    let (mut g_sp_r, mut g_sp_ir) = (vec![0.0f32; b], vec![0.0f32; b]);
    let (mut g_sn_r, mut g_sn_ir) = (vec![0.0f32; b * k], vec![0.0f32; b * k]);
    let mut total = 0.0f64;
    let mut xs = vec![0.0f32; k];
    let mut w = vec![0.0f32; k];
    for i in 0..b {
        let ks = i * k..(i + 1) * k;
        // t1 = log(1 + e^{P_ir − P_r})
        let x1 = [sp_ir[i] - sp_r[i]];
        let mut w1 = [0.0f32];
        total += f64::from(log1p_sum_exp(&x1, &mut w1));
        g_sp_ir[i] += s * w1[0];
        g_sp_r[i] -= s * w1[0];
        // t2 = log(1 + Σ_k e^{N_r,k − N_ir,k})
        for (x, (r, ir)) in xs
            .iter_mut()
            .zip(sn_r[ks.clone()].iter().zip(&sn_ir[ks.clone()]))
        {
            *x = r - ir;
        }
        total += f64::from(log1p_sum_exp(&xs, &mut w));
        for (j, &wk) in w.iter().enumerate() {
            g_sn_r[i * k + j] += s * wk;
            g_sn_ir[i * k + j] -= s * wk;
        }
        // t3 = log(1 + Σ_k e^{N_r,k − P_r})
        for (x, r) in xs.iter_mut().zip(&sn_r[ks.clone()]) {
            *x = r - sp_r[i];
        }
        total += f64::from(log1p_sum_exp(&xs, &mut w));
        for (j, &wk) in w.iter().enumerate() {
            g_sn_r[i * k + j] += s * wk;
            g_sp_r[i] -= s * wk;
        }
        // t4 = log(1 + Σ_k e^{P_ir − N_ir,k})
        for (x, ir) in xs.iter_mut().zip(&sn_ir[ks]) {
            *x = sp_ir[i] - ir;
        }
        total += f64::from(log1p_sum_exp(&xs, &mut w));
        for (j, &wk) in w.iter().enumerate() {
            g_sp_ir[i] += s * wk;
            g_sn_ir[i * k + j] -= s * wk;
        }
    }
    let loss = (f64::from(x.gamma) / 4.0 * total / b as f64) as f32;
    if !loss.is_finite() {
        return Err(ModelError::Diverged { value: loss, step });
    }

    // Back to the pooled vectors: ∂pool(t) = ∂score·u; ∂u collects every score's other side.
    let mut g_u = vec![0.0f32; b * width];
    let scaled = |g: &[f32], per_pair: usize, other: &[f32], g_u: &mut [f32]| -> Vec<f32> {
        let mut out = vec![0.0f32; g.len() * width];
        for (n, &gn) in g.iter().enumerate() {
            let pair = n / per_pair;
            let (ur, orow) = (row(&u, pair, width), row(other, n, width));
            for j in 0..width {
                out[n * width + j] = gn * ur[j];
                g_u[pair * width + j] += gn * orow[j];
            }
        }
        out
    };
    let g_p_r = scaled(&g_sp_r, 1, &p_r, &mut g_u);
    let g_p_ir = scaled(&g_sp_ir, 1, &p_ir, &mut g_u);
    let g_n_r = scaled(&g_sn_r, k, &n_r, &mut g_u);
    let g_n_ir = scaled(&g_sn_ir, k, &n_ir, &mut g_u);

    let mut grad_gates = vec![0.0f32; gates.len()];
    let mut grad_user = vec![0.0f32; x.user.len()];
    shape.unpool_add(&g_u, 1.0, &mut grad_user);

    // Negatives: n_r = n ⊙ g_n, n_ir = n − n_r.
    let mut d_neg_r = vec![0.0f32; x.neg.len()];
    shape.unpool_add(&g_n_r, 1.0, &mut d_neg_r);
    shape.unpool_add(&g_n_ir, -1.0, &mut d_neg_r);
    let mut grad_neg = vec![0.0f32; x.neg.len()];
    shape.unpool_add(&g_n_ir, 1.0, &mut grad_neg);
    let d_a_n = gated_backward(x.neg, &gate_n, &d_neg_r, &mut grad_neg);
    gate_backward(
        gates,
        d,
        DensGate::Neg,
        x.neg,
        &d_a_n,
        &mut grad_neg,
        &mut grad_gates,
    );
    // The positive term of a_n is shared by the pair's K negatives: its gradient is their sum.
    let mut d_pos_term = vec![0.0f32; b * l * d];
    for (n, rows) in d_a_n.chunks_exact(l * d).enumerate() {
        let pair = n / k;
        for (acc, g) in d_pos_term[pair * l * d..(pair + 1) * l * d]
            .iter_mut()
            .zip(rows)
        {
            *acc += g;
        }
    }

    // Positives: p_r feeds the scores, p_ir and the negatives' gate.
    let mut d_pos_r = vec![0.0f32; x.pos.len()];
    shape.unpool_add(&g_p_r, 1.0, &mut d_pos_r);
    shape.unpool_add(&g_p_ir, -1.0, &mut d_pos_r);
    gate_backward(
        gates,
        d,
        DensGate::Pos,
        &pos_r,
        &d_pos_term,
        &mut d_pos_r,
        &mut grad_gates,
    );
    let mut grad_pos = vec![0.0f32; x.pos.len()];
    shape.unpool_add(&g_p_ir, 1.0, &mut grad_pos);
    let d_a_p = gated_backward(x.pos, &gate_p, &d_pos_r, &mut grad_pos);
    gate_backward(
        gates,
        d,
        DensGate::Item,
        x.pos,
        &d_a_p,
        &mut grad_pos,
        &mut grad_gates,
    );
    gate_backward(
        gates,
        d,
        DensGate::User,
        x.user,
        &d_a_p,
        &mut grad_user,
        &mut grad_gates,
    );

    Ok(DensGrads {
        loss,
        user: grad_user,
        pos: grad_pos,
        neg: grad_neg,
        gates: grad_gates,
    })
}

/// The backward of `r = x ⊙ g`, `g = σ(a)`, given `∂r` (with what flows back through
/// `x − r` already in it): adds `∂r ⊙ g` to `grad_x` and returns `∂a = ∂r ⊙ x ⊙ g(1 − g)`.
fn gated_backward(x: &[f32], gate: &[f32], d_r: &[f32], grad_x: &mut [f32]) -> Vec<f32> {
    let mut d_a = vec![0.0f32; x.len()];
    for e in 0..x.len() {
        let g = gate[e];
        grad_x[e] += d_r[e] * g;
        d_a[e] = d_r[e] * x[e] * g * (1.0 - g);
    }
    d_a
}

/// How layer rows `[n, L, d]` pool into scored vectors `[n, width]`.
struct Pooling {
    layers: usize,
    dim: usize,
    kind: LayerPooling,
}

impl Pooling {
    fn width(&self) -> usize {
        match self.kind {
            LayerPooling::Mean => self.dim,
            LayerPooling::Concat => self.layers * self.dim,
        }
    }

    fn pool(&self, rows: &[f32]) -> Vec<f32> {
        let (l, d) = (self.layers, self.dim);
        match self.kind {
            // `[n, L, d]` read as `[n, L·d]` is the concatenation already.
            LayerPooling::Concat => rows.to_vec(),
            LayerPooling::Mean => rows
                .chunks_exact(l * d)
                .flat_map(|node| {
                    (0..d).map(move |j| {
                        (0..l).map(|layer| node[layer * d + j]).sum::<f32>() / l as f32
                    })
                })
                .collect(),
        }
    }

    /// `out += sign · ∂rows`, given `∂pooled`.
    fn unpool_add(&self, pooled: &[f32], sign: f32, out: &mut [f32]) {
        let (l, d) = (self.layers, self.dim);
        match self.kind {
            LayerPooling::Concat => {
                for (o, g) in out.iter_mut().zip(pooled) {
                    *o += sign * g;
                }
            }
            LayerPooling::Mean => {
                let scale = sign / l as f32;
                for (node, g) in out.chunks_exact_mut(l * d).zip(pooled.chunks_exact(d)) {
                    for layer in node.chunks_exact_mut(d) {
                        for (o, gj) in layer.iter_mut().zip(g) {
                            *o += scale * gj;
                        }
                    }
                }
            }
        }
    }
}

/// Row `r` of a row-major matrix of rows of `width`.
fn row(v: &[f32], r: usize, width: usize) -> &[f32] {
    &v[r * width..(r + 1) * width]
}

/// The `cols × rows` transpose of the row-major `rows × cols` matrix `m`.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; m.len()];
    for (r, row) in m.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

/// `out[r] = x[r]·W + b` for every row `r` of width `d`, with the gate's `W` and `b`; the
/// product by `gemm` (as burn's, which is several times faster than plain loops here).
fn gate_forward(gates: &[f32], d: usize, gate: DensGate, x: &[f32], out: &mut [f32]) {
    let at = gate.offset(d);
    let (w, bias) = gates[at..at + d * d + d].split_at(d * d);
    gemm_abt(out, x, &transpose(w, d, d), x.len() / d, d, d);
    for row in out.chunks_exact_mut(d) {
        for (y, b) in row.iter_mut().zip(bias) {
            *y += b;
        }
    }
}

/// The backward of [`gate_forward`] given `∂y`: `∂x += ∂y·Wᵀ`, `∂W += xᵀ·∂y`, `∂b += Σ_r ∂y`.
fn gate_backward(
    gates: &[f32],
    d: usize,
    gate: DensGate,
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    grad_gates: &mut [f32],
) {
    let at = gate.offset(d);
    let n = x.len() / d;
    let w = &gates[at..at + d * d];
    let mut tmp = vec![0.0f32; n * d];
    gemm_abt(&mut tmp, dy, w, n, d, d);
    for (g, t) in dx.iter_mut().zip(&tmp) {
        *g += t;
    }
    let mut outer = vec![0.0f32; d * d];
    gemm_abt(
        &mut outer,
        &transpose(x, n, d),
        &transpose(dy, n, d),
        d,
        d,
        n,
    );
    let (dw, db) = grad_gates[at..at + d * d + d].split_at_mut(d * d);
    for (g, o) in dw.iter_mut().zip(&outer) {
        *g += o;
    }
    for row in dy.chunks_exact(d) {
        for (g, v) in db.iter_mut().zip(row) {
            *g += v;
        }
    }
}

/// `log(1 + Σ_k e^{x_k})`, shifted for stability, and its gradient `w_k` in `w`.
fn log1p_sum_exp(xs: &[f32], w: &mut [f32]) -> f32 {
    let m = xs.iter().fold(0.0f32, |m, &x| m.max(x));
    let base = (-m).exp();
    let mut sum = base;
    for (wk, &x) in w.iter_mut().zip(xs) {
        *wk = (x - m).exp();
        sum += *wk;
    }
    for wk in w.iter_mut() {
        *wk /= sum;
    }
    m + sum.ln()
}
