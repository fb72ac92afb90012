//! DENS's auxiliary loss in burn against a plain f64 implementation of the reference formula
//! (`create_bpr_loss` in Riwei-HEU/DENS), and its gradients against central finite differences.

#![allow(clippy::unwrap_used)]

use autosample_models::dens_loss::{DensInputs, LayerPooling, dens_auxiliary};
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
