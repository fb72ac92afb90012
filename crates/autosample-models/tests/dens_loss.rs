//! DENS's auxiliary loss in burn against a plain f64 implementation of the reference formula
//! (`create_bpr_loss` in Riwei-HEU/DENS), and its gradients against central finite differences;
//! the closed-form (native) loss and gradients against the burn graph.

#![allow(clippy::unwrap_used)]

use autosample_models::dens_loss::{DensGrads, DensInputs, LayerPooling, dens_auxiliary};
use autosample_models::dens_native::dens_auxiliary_native;
use autosample_models::training_device;
use autosample_samplers::dens_params_len;

const B: usize = 3;
const K: usize = 2;
const L: usize = 2;
const D: usize = 3;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `y = x·W + b` of gate `g` (User 0, Item 1, Pos 2, Neg 3).
fn lin(gates: &[f64], g: usize, x: &[f64]) -> Vec<f64> {
    let at = g * (D * D + D);
    (0..D)
        .map(|j| gates[at + D * D + j] + (0..D).map(|i| x[i] * gates[at + i * D + j]).sum::<f64>())
        .collect()
}

fn log1p_sum_exp(xs: &[f64]) -> f64 {
    (1.0 + xs.iter().map(|x| x.exp()).sum::<f64>()).ln()
}

/// The reference loss, written out loop by loop.
fn plain_loss(
    user: &[f64],
    pos: &[f64],
    neg: &[f64],
    gates: &[f64],
    concat: bool,
    gamma: f64,
) -> f64 {
    let row = |v: &[f64], r: usize, l: usize| v[(r * L + l) * D..(r * L + l + 1) * D].to_vec();
    let pool = |layers: &[Vec<f64>]| -> Vec<f64> {
        if concat {
            layers.concat()
        } else {
            (0..D)
                .map(|j| layers.iter().map(|x| x[j]).sum::<f64>() / L as f64)
                .collect()
        }
    };
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let (mut t1, mut t2, mut t3, mut t4) = (0.0, 0.0, 0.0, 0.0);
    for b in 0..B {
        let u_layers: Vec<Vec<f64>> = (0..L).map(|l| row(user, b, l)).collect();
        let u = pool(&u_layers);
        let mut p_r = Vec::new();
        let mut p_ir = Vec::new();
        for (l, ul) in u_layers.iter().enumerate() {
            let p = row(pos, b, l);
            let gi = lin(gates, 1, &p);
            let gu = lin(gates, 0, ul);
            let r: Vec<f64> = (0..D).map(|j| p[j] * sigmoid(gi[j] + gu[j])).collect();
            p_ir.push((0..D).map(|j| p[j] - r[j]).collect::<Vec<f64>>());
            p_r.push(r);
        }
        let (sp_r, sp_ir) = (dot(&u, &pool(&p_r)), dot(&u, &pool(&p_ir)));
        let mut sn_r = Vec::new();
        let mut sn_ir = Vec::new();
        for k in 0..K {
            let mut n_r = Vec::new();
            let mut n_ir = Vec::new();
            for (l, pr) in p_r.iter().enumerate() {
                let n = row(neg, b * K + k, l);
                let gn = lin(gates, 3, &n);
                let gp = lin(gates, 2, pr);
                let r: Vec<f64> = (0..D).map(|j| n[j] * sigmoid(gn[j] + gp[j])).collect();
                n_ir.push((0..D).map(|j| n[j] - r[j]).collect::<Vec<f64>>());
                n_r.push(r);
            }
            sn_r.push(dot(&u, &pool(&n_r)));
            sn_ir.push(dot(&u, &pool(&n_ir)));
        }
        t1 += log1p_sum_exp(&[sp_ir - sp_r]);
        t2 += log1p_sum_exp(
            &sn_r
                .iter()
                .zip(&sn_ir)
                .map(|(r, i)| r - i)
                .collect::<Vec<_>>(),
        );
        t3 += log1p_sum_exp(&sn_r.iter().map(|r| r - sp_r).collect::<Vec<_>>());
        t4 += log1p_sum_exp(&sn_ir.iter().map(|i| sp_ir - i).collect::<Vec<_>>());
    }
    gamma / 4.0 * (t1 + t2 + t3 + t4) / B as f64
}

fn values(n: usize, seed: f64) -> Vec<f32> {
    (0..n)
        .map(|x| ((x as f64 + seed) * 1.37).sin() as f32 * 0.8)
        .collect()
}

#[test]
fn the_auxiliary_loss_and_its_gradients_match_the_reference_formula() {
    let user = values(B * L * D, 0.1);
    let pos = values(B * L * D, 7.3);
    let neg = values(B * K * L * D, 3.9);
    let gates = values(dens_params_len(D), 11.0);
    let gamma = 0.3f32;
    for (pooling, concat) in [(LayerPooling::Mean, false), (LayerPooling::Concat, true)] {
        let got = dens_auxiliary(
            &training_device(),
            &DensInputs {
                dim: D,
                layers: L,
                k: K,
                user: &user,
                pos: &pos,
                neg: &neg,
                gates: &gates,
                gamma,
                pooling,
            },
            0,
        )
        .unwrap();
        let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        let mut args = [f64s(&user), f64s(&pos), f64s(&neg), f64s(&gates)];
        let eval = |a: &[Vec<f64>; 4]| plain_loss(&a[0], &a[1], &a[2], &a[3], concat, gamma as f64);
        let want = eval(&args);
        assert!(
            (got.loss as f64 - want).abs() < 1e-5 * want.abs().max(1.0),
            "{pooling:?}: loss {} vs {want}",
            got.loss
        );
        let burn_grads = [&got.user, &got.pos, &got.neg, &got.gates];
        let h = 1e-5;
        for (which, grads) in burn_grads.iter().enumerate() {
            for e in 0..grads.len() {
                let x = args[which][e];
                args[which][e] = x + h;
                let up = eval(&args);
                args[which][e] = x - h;
                let down = eval(&args);
                args[which][e] = x;
                let fd = (up - down) / (2.0 * h);
                assert!(
                    (grads[e] as f64 - fd).abs() < 1e-4,
                    "{pooling:?}: input {which} entry {e}: burn {} vs finite difference {fd}",
                    grads[e]
                );
            }
        }
    }
}

/// Largest |a − b| over the largest |b| (1e-3 at least, so near-zero gradients are not divided by ~0).
fn relative_gap(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn the_native_auxiliary_loss_matches_the_burn_graph() {
    // The reference test's shape, then the shapes the models use: MF (one layer, K = 1), a
    // 3-layer LightGCN with K = 2, and a width that is not a multiple of eight.
    for (b, k, l, d) in [(B, K, L, D), (64, 1, 1, 16), (32, 2, 4, 8), (16, 3, 2, 13)] {
        for pooling in [LayerPooling::Mean, LayerPooling::Concat] {
            let user = values(b * l * d, 0.1);
            let pos = values(b * l * d, 7.3);
            let neg = values(b * k * l * d, 3.9);
            let gates: Vec<f32> = values(dens_params_len(d), 11.0)
                .iter()
                .map(|g| g / (d as f32).sqrt())
                .collect();
            let inputs = DensInputs {
                dim: d,
                layers: l,
                k,
                user: &user,
                pos: &pos,
                neg: &neg,
                gates: &gates,
                gamma: 0.3,
                pooling,
            };
            let want: DensGrads = dens_auxiliary(&training_device(), &inputs, 0).unwrap();
            let got = dens_auxiliary_native(&inputs, 0).unwrap();
            let case = format!("B {b}, K {k}, L {l}, d {d}, {pooling:?}");
            assert!(
                (got.loss - want.loss).abs() <= 1e-5 * want.loss.abs().max(1.0),
                "{case}: loss {} vs burn {}",
                got.loss,
                want.loss
            );
            for (name, g, w) in [
                ("user", &got.user, &want.user),
                ("pos", &got.pos, &want.pos),
                ("neg", &got.neg, &want.neg),
                ("gates", &got.gates, &want.gates),
            ] {
                let gap = relative_gap(g, w);
                assert!(gap < 1e-4, "{case}: ∂{name} differs from burn's by {gap}");
            }
        }
    }
}

#[test]
fn the_native_auxiliary_loss_rejects_bad_shapes_and_reports_divergence() {
    let (user, pos, neg) = (values(2 * D, 0.1), values(2 * D, 0.2), values(2 * D, 0.3));
    let gates = values(dens_params_len(D), 1.0);
    let short = DensInputs {
        dim: D,
        layers: 1,
        k: 2,
        user: &user,
        pos: &pos,
        neg: &neg, // two pairs with K = 2 need four negative rows
        gates: &gates,
        gamma: 0.3,
        pooling: LayerPooling::Mean,
    };
    let err = dens_auxiliary_native(&short, 0).unwrap_err().to_string();
    assert!(err.contains("negative floats"), "{err}");
    let huge: Vec<f32> = user.iter().map(|_| f32::MAX).collect();
    let diverging = DensInputs {
        k: 1,
        user: &huge,
        pos: &huge,
        neg: &huge,
        ..short
    };
    assert!(matches!(
        dens_auxiliary_native(&diverging, 7),
        Err(autosample_models::ModelError::Diverged { step: 7, .. })
    ));
}
