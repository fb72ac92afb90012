//! The K-pair BPR loss and its gradients in closed form, without building a burn graph.
//!
//! Computes exactly the function of [`crate::bpr::loss_and_grads`] (the tests use that burn
//! graph as the oracle). For pair `b` with user row `u`, positive `p`, negatives `n_1..n_K`,
//! `x_k = ⟨u, n_k⟩ − ⟨u, p⟩` and `ℓ_b = log(1 + Σ_k e^{x_k})`, so with
//! `w_k = e^{x_k} / (1 + Σ_j e^{x_j})`:
//!
//! ```text
//! ∂ℓ_b/∂u   = Σ_k w_k (n_k − p)
//! ∂ℓ_b/∂p   = −(Σ_k w_k) u
//! ∂ℓ_b/∂n_k = w_k u
//! ```
//!
//! each scaled by `1/B` for the batch mean; the L2 term `l2·Σ‖row‖²/(2B)` adds `l2·row/B` per
//! occurrence of a row in the batch (on the ego rows when given). A burn graph of a few dozen
//! small ops costs ~2.5 ms per 2,048-pair step on our CPU; this loop costs a fraction of that.

use crate::bpr::{GatheredBatch, LossAndGrads};
use crate::{ModelError, Result};

/// Loss and per-row gradients of a gathered batch, in closed form.
///
/// # Errors
/// [`ModelError::Diverged`] (with `step`) when the loss is not finite.
pub fn loss_and_grads(batch: &GatheredBatch<'_>, l2: f64, step: u64) -> Result<LossAndGrads> {
    let d = batch.dim;
    let b = batch.users.len();
    let k = match batch.synthetic {
        Some(sy) => sy.k,
        None => batch.negatives.len().checked_div(b).unwrap_or(0),
    };
    // Synthetic negatives are vectors of their own; item negatives are rows of `item_rows`.
    let mut synthetic_grads = batch.synthetic.map(|sy| vec![0.0f32; sy.rows.len()]);
    let mut user_grads = vec![0.0f32; batch.user_rows.len()];
    let mut item_grads = vec![0.0f32; batch.item_rows.len()];
    let inv_b = 1.0 / b.max(1) as f32;
    let mut bpr = 0.0f64;
    let mut x = vec![0.0f32; k];
    let mut w = vec![0.0f32; k];
    let row = |r: u32| r as usize * d..(r as usize + 1) * d;
    let weight = |pair: usize| batch.pair_weights.map_or(1.0, |c| c[pair]);
    for pair in 0..b {
        let c = weight(pair);
        let inv_b = c * inv_b;
        let (ur, pr) = (batch.users[pair], batch.positives[pair]);
        let u = &batch.user_rows[row(ur)];
        let p = &batch.item_rows[row(pr)];
        let neg_vec = |kk: usize| -> &[f32] {
            match batch.synthetic {
                Some(sy) => &sy.rows[(pair * k + kk) * d..(pair * k + kk + 1) * d],
                None => &batch.item_rows[row(batch.negatives[pair * k + kk])],
            }
        };
        let sp = dot(u, p);
        let mut m = 0.0f32; // max(0, max x): the log-sum-exp shift
        for (kk, xk) in x.iter_mut().enumerate() {
            *xk = dot(u, neg_vec(kk)) - sp;
            m = m.max(*xk);
        }
        let mut z = (-m).exp();
        for (wk, xk) in w.iter_mut().zip(&x) {
            *wk = (xk - m).exp();
            z += *wk;
        }
        bpr += (c * (m + z.ln())) as f64;
        let mut wsum = 0.0f32;
        for wk in &mut w {
            *wk /= z;
            wsum += *wk;
        }
        // ∂/∂u = Σ w_k n_k − (Σ w_k) p
        let gu = &mut user_grads[row(ur)];
        for (g, pv) in gu.iter_mut().zip(p) {
            *g -= wsum * pv * inv_b;
        }
        for (kk, &wk) in w.iter().enumerate() {
            for (g, v) in gu.iter_mut().zip(neg_vec(kk)) {
                *g += wk * v * inv_b;
            }
        }
        let gp = &mut item_grads[row(pr)];
        for (g, v) in gp.iter_mut().zip(u) {
            *g -= wsum * v * inv_b;
        }
        for (kk, &wk) in w.iter().enumerate() {
            let gn = match synthetic_grads.as_mut() {
                Some(sg) => &mut sg[(pair * k + kk) * d..(pair * k + kk + 1) * d],
                None => &mut item_grads[row(batch.negatives[pair * k + kk])],
            };
            for (g, v) in gn.iter_mut().zip(u) {
                *g += wk * v * inv_b;
            }
        }
    }
    let bpr = (bpr / b.max(1) as f64) as f32;

    // L2 over the batch's rows, repeats included.
    let (reg_users, reg_items) = match batch.ego {
        Some(e) => (e.user_rows, e.item_rows),
        None => (batch.user_rows, batch.item_rows),
    };
    let mut ego_user_grads = batch.ego.map(|_| vec![0.0f32; reg_users.len()]);
    let mut ego_item_grads = batch.ego.map(|_| vec![0.0f32; reg_items.len()]);
    let coef = (l2 as f32) * inv_b;
    let mut sq = 0.0f64;
    {
        let gu = ego_user_grads.as_mut().unwrap_or(&mut user_grads);
        for (pair, &r) in batch.users.iter().enumerate() {
            let c = weight(pair);
            let rr = row(r);
            sq += c as f64
                * reg_users[rr.clone()]
                    .iter()
                    .map(|v| (v * v) as f64)
                    .sum::<f64>();
            for (g, v) in gu[rr.clone()].iter_mut().zip(&reg_users[rr]) {
                *g += c * coef * v;
            }
        }
    }
    let mut synthetic_ego_grads = batch.synthetic.map(|sy| vec![0.0f32; sy.ego_rows.len()]);
    if let (Some(sy), Some(ge)) = (batch.synthetic, synthetic_ego_grads.as_mut()) {
        for (n, (gs, vs)) in ge.chunks_mut(d).zip(sy.ego_rows.chunks(d)).enumerate() {
            let c = weight(n / k.max(1));
            sq += c as f64 * vs.iter().map(|v| (v * v) as f64).sum::<f64>();
            for (g, v) in gs.iter_mut().zip(vs) {
                *g += c * coef * v;
            }
        }
    }
    {
        let gi = ego_item_grads.as_mut().unwrap_or(&mut item_grads);
        let positives = batch.positives.iter().enumerate().map(|(p, &r)| (p, r));
        let negatives = batch
            .negatives
            .iter()
            .enumerate()
            .map(|(n, &r)| (n / k.max(1), r));
        for (pair, r) in positives.chain(negatives) {
            let c = weight(pair);
            let rr = row(r);
            sq += c as f64
                * reg_items[rr.clone()]
                    .iter()
                    .map(|v| (v * v) as f64)
                    .sum::<f64>();
            for (g, v) in gi[rr.clone()].iter_mut().zip(&reg_items[rr]) {
                *g += c * coef * v;
            }
        }
    }
    let reg = (l2 * sq / 2.0 / b.max(1) as f64) as f32;
    let loss = bpr + reg;
    if !loss.is_finite() {
        return Err(ModelError::Diverged { value: loss, step });
    }
    let ego_grads = match (ego_user_grads, ego_item_grads) {
        (Some(u), Some(i)) => Some((u, i)),
        _ => None,
    };
    let synthetic_grads = match (synthetic_grads, synthetic_ego_grads) {
        (Some(r), Some(e)) => Some((r, e)),
        _ => None,
    };
    Ok(LossAndGrads {
        loss,
        bpr,
        reg,
        user_grads,
        item_grads,
        ego_grads,
        synthetic_grads,
    })
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
