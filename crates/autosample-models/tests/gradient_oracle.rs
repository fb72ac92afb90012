//! burn autodiff as the gradient oracle for the gathered-row BPR path.
//!
//! The training step differentiates the loss over the batch's *unique gathered rows*; here the
//! same loss is built over the *whole* tables and burn's dense gradient must agree row by row
//! (and be zero on rows the batch does not touch). A closed-form check pins the formula itself.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use autosample_models::bpr::{GatheredBatch, PairIndex, bpr_loss, loss_and_grads};
use autosample_models::{EmbeddingTable, training_device};
use burn::tensor::{Tensor, TensorData};

struct Case {
    users: Vec<u32>,
    positives: Vec<u32>,
    negatives: Vec<u32>,
}

fn dedup(ids: &[u32], unique: &mut Vec<u32>, out: &mut Vec<u32>) {
    for &id in ids {
        let pos = match unique.iter().position(|&u| u == id) {
            Some(p) => p,
            None => {
                unique.push(id);
                unique.len() - 1
            }
        };
        out.push(pos as u32);
    }
}

fn check(case: &Case, n_users: usize, n_items: usize, dim: usize, l2: f64) {
    let dev = training_device();
    let users_t = EmbeddingTable::normal(n_users, dim, 0.3, 11);
    let items_t = EmbeddingTable::normal(n_items, dim, 0.3, 12);

    // Oracle: dense leaves over the whole tables.
    let u_leaf = Tensor::<2>::from_data(
        TensorData::new(users_t.as_slice().to_vec(), [n_users, dim]),
        &dev,
    )
    .require_grad();
    let i_leaf = Tensor::<2>::from_data(
        TensorData::new(items_t.as_slice().to_vec(), [n_items, dim]),
        &dev,
    )
    .require_grad();
    let (bpr, reg) = bpr_loss(
        u_leaf.clone(),
        i_leaf.clone(),
        None,
        PairIndex::new(&case.users, &case.positives, &case.negatives, &dev),
        l2,
    );
    let loss = bpr + reg;
    let dense_loss: f32 = loss.clone().into_scalar::<f32>();
    let grads = loss.backward();
    let gu: Vec<f32> = u_leaf
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_into_vec()
        .unwrap();
    let gi: Vec<f32> = i_leaf
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_into_vec()
        .unwrap();

    // The path under test: unique gathered rows.
    let (mut uu, mut ui) = (Vec::new(), Vec::new());
    let (mut u_idx, mut p_idx, mut n_idx) = (Vec::new(), Vec::new(), Vec::new());
    dedup(&case.users, &mut uu, &mut u_idx);
    dedup(&case.positives, &mut ui, &mut p_idx);
    dedup(&case.negatives, &mut ui, &mut n_idx);
    let (mut urows, mut irows) = (Vec::new(), Vec::new());
    users_t.gather_into(&uu, &mut urows);
    items_t.gather_into(&ui, &mut irows);
    let got = loss_and_grads(
        &dev,
        &GatheredBatch {
            pair_weights: None,
            dim,
            user_rows: &urows,
            item_rows: &irows,
            users: &u_idx,
            positives: &p_idx,
            negatives: &n_idx,
            ego: None,
            synthetic: None,
        },
        l2,
        0,
    )
    .unwrap();

    assert!(
        (got.loss - dense_loss).abs() < 1e-5,
        "loss {} vs {}",
        got.loss,
        dense_loss
    );
    let tol = 1e-6;
    for r in 0..n_users {
        let dense = &gu[r * dim..(r + 1) * dim];
        match uu.iter().position(|&x| x as usize == r) {
            Some(c) => {
                for (a, b) in got.user_grads[c * dim..(c + 1) * dim].iter().zip(dense) {
                    assert!((a - b).abs() < tol, "user {r}: {a} vs {b}");
                }
            }
            None => assert!(
                dense.iter().all(|&x| x == 0.0),
                "untouched user {r} has a gradient"
            ),
        }
    }
    for r in 0..n_items {
        let dense = &gi[r * dim..(r + 1) * dim];
        match ui.iter().position(|&x| x as usize == r) {
            Some(c) => {
                for (a, b) in got.item_grads[c * dim..(c + 1) * dim].iter().zip(dense) {
                    assert!((a - b).abs() < tol, "item {r}: {a} vs {b}");
                }
            }
            None => assert!(
                dense.iter().all(|&x| x == 0.0),
                "untouched item {r} has a gradient"
            ),
        }
    }
}

#[test]
fn gathered_rows_match_dense_autodiff_with_one_negative() {
    // Repeated users and items inside the batch, an item that is both a positive and a negative.
    let case = Case {
        users: vec![0, 3, 3, 5, 0, 2],
        positives: vec![1, 4, 7, 1, 9, 4],
        negatives: vec![2, 7, 8, 0, 4, 11],
    };
    check(&case, 7, 12, 5, 1e-2);
}

#[test]
fn gathered_rows_match_dense_autodiff_with_k_negatives() {
    let case = Case {
        users: vec![1, 4, 1],
        positives: vec![0, 3, 5],
        negatives: vec![2, 6, 9, 3, 3, 8, 0, 1, 6],
    };
    check(&case, 6, 10, 4, 1e-3);
}

#[test]
fn bpr_gradient_matches_the_closed_form() {
    // One pair (u, i, j), dim 2, l2 = 0.5, B = 1:
    // e_u = (1, 0), e_i = (0.5, 0.5), e_j = (-1, 2)
    // x = s_uj − s_ui = −1 − 0.5 = −1.5;  ℓ = softplus(x) = ln(1 + e^{−1.5}) = 0.201413
    // σ(x) = 0.182426
    // ∂ℓ/∂e_u = σ(x)(e_j − e_i) = 0.182426·(−1.5, 1.5) = (−0.273639, 0.273639)
    // ∂ℓ/∂e_i = −σ(x) e_u = (−0.182426, 0);  ∂ℓ/∂e_j = σ(x) e_u = (0.182426, 0)
    // reg = l2/2·(1 + 0.5 + 5) = 1.625; its gradient is l2·e: (0.5, 0), (0.25, 0.25), (−0.5, 1)
    let dev = training_device();
    let urows = [1.0f32, 0.0];
    let irows = [0.5f32, 0.5, -1.0, 2.0];
    let got = loss_and_grads(
        &dev,
        &GatheredBatch {
            pair_weights: None,
            dim: 2,
            user_rows: &urows,
            item_rows: &irows,
            users: &[0],
            positives: &[0],
            negatives: &[1],
            ego: None,
            synthetic: None,
        },
        0.5,
        0,
    )
    .unwrap();
    let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
    assert!(close(got.bpr, 0.201_413), "bpr {}", got.bpr);
    assert!(close(got.reg, 1.625), "reg {}", got.reg);
    let eu = [-0.273_639 + 0.5, 0.273_639];
    let ei = [-0.182_426 + 0.25, 0.25];
    let ej = [0.182_426 - 0.5, 1.0];
    for (a, b) in got.user_grads.iter().zip(eu) {
        assert!(close(*a, b), "user grad {a} vs {b}");
    }
    for (a, b) in got.item_grads.iter().zip(ei.iter().chain(&ej)) {
        assert!(close(*a, *b), "item grad {a} vs {b}");
    }
}

#[test]
fn non_finite_loss_is_reported_not_applied() {
    let dev = training_device();
    let urows = [f32::NAN, 0.0];
    let irows = [0.5f32, 0.5, -1.0, 2.0];
    let err = loss_and_grads(
        &dev,
        &GatheredBatch {
            pair_weights: None,
            dim: 2,
            user_rows: &urows,
            item_rows: &irows,
            users: &[0],
            positives: &[0],
            negatives: &[1],
            ego: None,
            synthetic: None,
        },
        0.5,
        7,
    )
    .unwrap_err();
    assert!(err.to_string().contains("step 7"), "{err}");
}

/// The closed-form engine must compute the burn graph's function: loss and every row gradient.
#[test]
fn native_engine_matches_the_burn_graph() {
    use autosample_models::bpr::EgoRows;
    use autosample_models::bpr_native;
    let dev = training_device();
    let d = 6;
    let urows = EmbeddingTable::normal(4, d, 0.4, 21);
    let irows = EmbeddingTable::normal(9, d, 0.4, 22);
    let eu = EmbeddingTable::normal(4, d, 0.4, 23);
    let ei = EmbeddingTable::normal(9, d, 0.4, 24);
    let users = [0u32, 1, 1, 3, 2];
    let positives = [0u32, 4, 2, 2, 8];
    for (k, negatives) in [
        (1usize, vec![1u32, 2, 5, 7, 0]),
        (3, (0..15).map(|x| x % 9).collect()),
    ] {
        for with_ego in [false, true] {
            let batch = GatheredBatch {
                pair_weights: None,
                dim: d,
                user_rows: urows.as_slice(),
                item_rows: irows.as_slice(),
                users: &users,
                positives: &positives,
                negatives: &negatives,
                ego: with_ego.then_some(EgoRows {
                    user_rows: eu.as_slice(),
                    item_rows: ei.as_slice(),
                }),
                synthetic: None,
            };
            let want = loss_and_grads(&dev, &batch, 0.03, 0).unwrap();
            let got = bpr_native::loss_and_grads(&batch, 0.03, 0).unwrap();
            let ctx = format!("k={k} ego={with_ego}");
            assert!(
                (want.loss - got.loss).abs() < 1e-5,
                "{ctx}: loss {} vs {}",
                want.loss,
                got.loss
            );
            assert!((want.reg - got.reg).abs() < 1e-6, "{ctx}: reg");
            let close = |a: &[f32], b: &[f32], what: &str| {
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-6, "{ctx}: {what}: {x} vs {y}");
                }
            };
            close(&want.user_grads, &got.user_grads, "user grads");
            close(&want.item_grads, &got.item_grads, "item grads");
            match (&want.ego_grads, &got.ego_grads) {
                (Some((a, b)), Some((c, e))) => {
                    close(a, c, "ego user grads");
                    close(b, e, "ego item grads");
                }
                (None, None) => {}
                _ => panic!("{ctx}: ego gradients present in one engine only"),
            }
        }
    }
}

/// Pair weights: with integer weights `c_b`, the weighted loss of B pairs equals `B'/B` times
/// the plain loss of the batch where pair b appears `c_b` times (`B' = Σ c_b`), and so do all
/// gradients; weight 0 drops a pair. Both engines, item and synthetic negatives, with and
/// without ego rows.
#[test]
fn pair_weights_equal_repeating_pairs() {
    use autosample_models::bpr::{EgoRows, SyntheticRows};
    use autosample_models::bpr_native;
    let dev = training_device();
    let d = 5;
    let urows = EmbeddingTable::normal(4, d, 0.4, 31);
    let irows = EmbeddingTable::normal(9, d, 0.4, 32);
    let eu = EmbeddingTable::normal(4, d, 0.4, 33);
    let ei = EmbeddingTable::normal(9, d, 0.4, 34);
    let syn = EmbeddingTable::normal(8, d, 0.4, 35);
    let syn_ego = EmbeddingTable::normal(8, d, 0.4, 36);
    let (users, positives) = ([0u32, 1, 3, 2], [0u32, 4, 2, 8]);
    let k = 2;
    let negatives: Vec<u32> = (0..8).map(|x| (x * 5 + 1) % 9).collect();
    let weights = [2.0f32, 1.0, 0.0, 3.0];
    // The repeated batch.
    let reps: Vec<usize> = (0..4)
        .flat_map(|b| std::iter::repeat_n(b, weights[b] as usize))
        .collect();
    let rep = |v: &[u32], per: usize| -> Vec<u32> {
        reps.iter()
            .flat_map(|&b| v[b * per..(b + 1) * per].to_vec())
            .collect()
    };
    let rep_rows = |t: &EmbeddingTable| -> Vec<f32> {
        reps.iter()
            .flat_map(|&b| t.as_slice()[b * k * d..(b + 1) * k * d].to_vec())
            .collect()
    };
    let (ru, rp, rn) = (rep(&users, 1), rep(&positives, 1), rep(&negatives, k));
    let (rs, rse) = (rep_rows(&syn), rep_rows(&syn_ego));
    let scale = reps.len() as f32 / 4.0;
    for synthetic in [false, true] {
        for with_ego in [false, true] {
            let ego = with_ego.then_some(EgoRows {
                user_rows: eu.as_slice(),
                item_rows: ei.as_slice(),
            });
            let weighted = GatheredBatch {
                pair_weights: Some(&weights),
                dim: d,
                user_rows: urows.as_slice(),
                item_rows: irows.as_slice(),
                users: &users,
                positives: &positives,
                negatives: if synthetic { &[] } else { &negatives },
                ego,
                synthetic: synthetic.then_some(SyntheticRows {
                    k,
                    rows: syn.as_slice(),
                    ego_rows: syn_ego.as_slice(),
                }),
            };
            let repeated = GatheredBatch {
                pair_weights: None,
                users: &ru,
                positives: &rp,
                negatives: if synthetic { &[] } else { &rn },
                synthetic: synthetic.then_some(SyntheticRows {
                    k,
                    rows: &rs,
                    ego_rows: &rse,
                }),
                ..weighted
            };
            let want = bpr_native::loss_and_grads(&repeated, 0.07, 0).unwrap();
            for (engine, got) in [
                ("burn", loss_and_grads(&dev, &weighted, 0.07, 0).unwrap()),
                (
                    "native",
                    bpr_native::loss_and_grads(&weighted, 0.07, 0).unwrap(),
                ),
            ] {
                let ctx = format!("{engine} synthetic={synthetic} ego={with_ego}");
                let close = |a: f32, b: f32| (a - b).abs() < 1e-5 * (1.0 + b.abs());
                assert!(close(got.bpr, scale * want.bpr), "{ctx}: bpr");
                assert!(close(got.reg, scale * want.reg), "{ctx}: reg");
                let pairs = [
                    (&got.user_grads, &want.user_grads),
                    (&got.item_grads, &want.item_grads),
                ];
                for (g, w) in pairs {
                    for (a, b) in g.iter().zip(w.iter()) {
                        assert!(
                            close(*a, scale * b),
                            "{ctx}: row gradient {a} vs {}",
                            scale * b
                        );
                    }
                }
                if let (Some((gu, gi)), Some((wu, wi))) = (&got.ego_grads, &want.ego_grads) {
                    for (a, b) in gu.iter().chain(gi).zip(wu.iter().chain(wi)) {
                        assert!(close(*a, scale * b), "{ctx}: ego gradient");
                    }
                }
                if let (Some((gr, ge)), Some((wr, we))) =
                    (&got.synthetic_grads, &want.synthetic_grads)
                {
                    // Synthetic rows are per pair: compare pair b's with its first copy.
                    for (b, &c) in weights.iter().enumerate() {
                        let first = reps.iter().position(|&r| r == b);
                        for j in 0..k * d {
                            let (a, e) = (gr[b * k * d + j], ge[b * k * d + j]);
                            match first {
                                Some(f) => {
                                    let per_copy = c; // c copies, each with its gradient
                                    assert!(
                                        close(a, scale * per_copy * wr[f * k * d + j]),
                                        "{ctx}"
                                    );
                                    assert!(
                                        close(e, scale * per_copy * we[f * k * d + j]),
                                        "{ctx}"
                                    );
                                }
                                None => assert!(a == 0.0 && e == 0.0, "{ctx}: weight 0"),
                            }
                        }
                    }
                }
            }
        }
    }
}
