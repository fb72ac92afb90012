//! burn autodiff as the oracle for LightGCN's hand propagation, forward and backward.
//!
//! On a tiny graph the whole model is rebuilt in burn with a *dense* `Â` (matmuls), the same
//! loss is differentiated with respect to the ego table, and one SGD step of the hand model
//! must move every ego row exactly by `−lr ·` that gradient.

#![allow(clippy::unwrap_used)]

use autosample_data::Interactions;
use autosample_models::bpr::{PairIndex, bpr_loss};
use autosample_models::graph::NormalizedAdjacency;
use autosample_models::{
    AuxiliaryTerm, EmbeddingTable, LightGcn, LightGcnConfig, OptimizerConfig, TrainBatch,
    training_device,
};
use autosample_samplers::Scorer;
use burn::tensor::{Tensor, TensorData};

#[test]
fn one_sgd_step_moves_ego_rows_by_the_autodiff_gradient() {
    let train = Interactions::from_pairs(
        4,
        5,
        &[
            (0, 0),
            (0, 1),
            (1, 1),
            (1, 2),
            (2, 3),
            (3, 0),
            (3, 4),
            (2, 2),
        ],
    );
    // The batch covers most of the graph: the first backward hop runs as the full product.
    assert_sgd_step_matches_oracle(&train, 2, &[0, 3, 1, 0], &[1, 4, 2, 0], &[2, 1, 0, 3]);
}

#[test]
fn a_small_batch_on_a_larger_graph_takes_the_scatter_hop_and_matches_the_oracle() {
    // 30 users × 40 items, each user with 4 items: one pair touches a few of 70 nodes, so the
    // first backward hop scatters from the batch rows only.
    let pairs: Vec<(u32, u32)> = (0..30u32)
        .flat_map(|u| (0..4u32).map(move |k| (u, (u * 7 + k * 11) % 40)))
        .collect();
    let train = Interactions::from_pairs(30, 40, &pairs);
    let adj = NormalizedAdjacency::from_interactions(&train);
    let batch_nodes = [5u32, 30 + 2, 30 + 17];
    assert!(2 * adj.degree_sum(&batch_nodes) < adj.nnz());
    assert_sgd_step_matches_oracle(&train, 3, &[5], &[2], &[17]);
}

/// One SGD step of the hand model on `(users, positives, negatives)` must move every ego row
/// by `−lr ×` the gradient burn computes on the dense model.
fn assert_sgd_step_matches_oracle(
    train: &Interactions,
    layers: usize,
    users: &[u32],
    positives: &[u32],
    negatives: &[u32],
) {
    let (nu, ni, d) = (train.n_users(), train.n_items(), 3usize);
    let n = nu + ni;
    let lr = 0.1f64;
    let l2 = 0.05f64;
    let cfg = LightGcnConfig {
        dim: d,
        layers,
        l2,
        optimizer: OptimizerConfig::Sgd { lr },
        ..LightGcnConfig::default()
    };
    let ego0 = EmbeddingTable::normal(n, d, 0.5, 4);
    let mut model = LightGcn::from_ego(train, cfg, ego0.clone());

    // Oracle in burn: E = mean_k Â^k E0 with a dense Â; loss on pooled rows, L2 on ego rows.
    let dev = training_device();
    let adj = NormalizedAdjacency::from_interactions(train);
    let a = Tensor::<2>::from_data(TensorData::new(adj.to_dense(), [n, n]), &dev);
    let e0 = Tensor::<2>::from_data(TensorData::new(ego0.as_slice().to_vec(), [n, d]), &dev)
        .require_grad();
    let mut cur = e0.clone();
    let mut sum = e0.clone();
    for _ in 0..layers {
        cur = a.clone().matmul(cur);
        sum = sum + cur.clone();
    }
    let pooled = sum.div_scalar((layers + 1) as f64);
    let users_pooled = pooled.clone().slice([0..nu, 0..d]);
    let items_pooled = pooled.slice([nu..n, 0..d]);
    let ego_users = e0.clone().slice([0..nu, 0..d]);
    let ego_items = e0.clone().slice([nu..n, 0..d]);
    let (bpr, reg) = bpr_loss(
        users_pooled,
        items_pooled,
        Some((ego_users, ego_items)),
        PairIndex::new(users, positives, negatives, &dev),
        l2,
    );
    let loss = bpr + reg;
    let oracle_loss: f32 = loss.clone().into_scalar::<f32>();
    let grads = loss.backward();
    let g: Vec<f32> = e0.grad(&grads).unwrap().into_data().try_into_vec().unwrap();

    // Forward check: the hand pooled embeddings equal burn's.
    let pooled_burn: Vec<f32> = {
        let mut cur = Tensor::<2>::from_data(
            TensorData::new(ego0.as_slice().to_vec(), [n, d]),
            &dev.clone().without_autodiff(),
        );
        let a = a.clone().without_autodiff();
        let mut sum = cur.clone();
        for _ in 0..layers {
            cur = a.clone().matmul(cur);
            sum = sum + cur.clone();
        }
        sum.div_scalar((layers + 1) as f64)
            .into_data()
            .try_into_vec()
            .unwrap()
    };
    for u in 0..nu as u32 {
        for (x, y) in model.user_vec(u).iter().zip(&pooled_burn[u as usize * d..]) {
            assert!((x - y).abs() < 1e-6, "pooled user {u}: {x} vs {y}");
        }
    }

    let stats = model
        .train_step(&TrainBatch {
            pair_weights: None,
            auxiliary: &[],
            users,
            positives,
            negatives,
            mixed: None,
        })
        .unwrap();
    assert!(
        (stats.loss - oracle_loss).abs() < 1e-5,
        "{} vs {oracle_loss}",
        stats.loss
    );
    for r in 0..n {
        for j in 0..d {
            let moved = ego0.as_slice()[r * d + j] - model.ego().as_slice()[r * d + j];
            let want = lr as f32 * g[r * d + j];
            assert!(
                (moved - want).abs() < 1e-6,
                "row {r} col {j}: moved {moved}, want {want}"
            );
        }
    }
}

/// After a step the propagated tables are stale; the next step (with no sampler asking for
/// scores) refreshes only the batch's rows of the top layer. It must train exactly as a model
/// refreshed in full before every step.
#[test]
fn steps_on_stale_embeddings_match_steps_after_a_full_refresh() {
    let pairs: Vec<(u32, u32)> = (0..30u32)
        .flat_map(|u| (0..4u32).map(move |k| (u, (u * 7 + k * 11) % 40)))
        .collect();
    let train = Interactions::from_pairs(30, 40, &pairs);
    let cfg = LightGcnConfig {
        dim: 8,
        layers: 3,
        ..LightGcnConfig::default()
    };
    let mut lazy = LightGcn::new(&train, cfg.clone(), 11).unwrap();
    let mut eager = lazy.clone();
    let batches: [([u32; 2], [u32; 2], [u32; 4]); 3] = [
        ([0, 7], [0, 9], [5, 6, 7, 8]),
        ([7, 29], [9, 1], [30, 3, 2, 1]),
        ([3, 3], [21, 32], [0, 39, 38, 12]),
    ];
    for (users, positives, negatives) in &batches {
        let batch = TrainBatch {
            pair_weights: None,
            auxiliary: &[],
            users,
            positives,
            negatives,
            mixed: None,
        };
        eager.refresh();
        let a = lazy.train_step(&batch).unwrap();
        let b = eager.train_step(&batch).unwrap();
        assert_eq!(a.loss, b.loss);
        assert_eq!(lazy.ego().as_slice(), eager.ego().as_slice());
    }
}

/// MixGCF on LightGCN: per layer l the negative is a·E⁽ˡ⁾[pos] + (1 − a)·E⁽ˡ⁾[cand_l], pooled
/// by the layer mean and regularised by its layer-0 mix. One SGD step of the hand model (both
/// engines) must equal −lr × the gradient of that loss built densely in burn.
#[test]
fn mixed_negatives_step_matches_the_dense_burn_gradient() {
    assert_mixed_step_matches_dense_burn(false);
}

/// DENS on LightGCN: per-layer real candidates (weight 0 on the positive) plus the auxiliary
/// loss over the per-layer rows of users, positives and candidates. The hand model routes the
/// auxiliary gradients per layer through the propagation; the oracle differentiates the whole
/// loss through a dense propagation. The gate gradient must match too.
#[test]
fn dens_step_with_its_auxiliary_loss_matches_the_dense_burn_gradient() {
    assert_mixed_step_matches_dense_burn(true);
}

fn assert_mixed_step_matches_dense_burn(dens: bool) {
    use autosample_models::bpr::index_tensor;
    use autosample_models::dens_loss::{LayerPooling, dens_loss_graph};
    use autosample_models::{LossEngine, MixedNegatives};
    use autosample_samplers::{Auxiliary, dens_params_len};
    let train = Interactions::from_pairs(
        4,
        5,
        &[
            (0, 0),
            (0, 1),
            (1, 1),
            (1, 2),
            (2, 3),
            (3, 0),
            (3, 4),
            (2, 2),
        ],
    );
    let (nu, ni, d, hops) = (4usize, 5usize, 3usize, 2usize);
    let (n, layers) = (nu + ni, hops + 1);
    let (lr, l2) = (0.1f64, 0.05f64);
    let ego0 = EmbeddingTable::normal(n, d, 0.5, 9);
    let users = [0u32, 3, 1];
    let positives = [1u32, 4, 2];
    let k = 2;
    // (pair, negative, layer)-major candidates and positive weights.
    let candidates: Vec<u32> = (0..users.len() * k * layers)
        .map(|x| ((x * 3 + 1) % ni) as u32)
        .collect();
    let weights: Vec<f32> = (0..candidates.len())
        .map(|x| {
            if dens {
                0.0
            } else {
                ((x * 7) % 10) as f32 / 10.0
            }
        })
        .collect();
    let gamma = 0.3f32;
    let gates: Vec<f32> = (0..dens_params_len(d))
        .map(|x| ((x as f32) * 0.73).sin() * 0.6)
        .collect();

    let dev = training_device();
    let adj = NormalizedAdjacency::from_interactions(&train);
    let a = Tensor::<2>::from_data(TensorData::new(adj.to_dense(), [n, n]), &dev);
    let e0 = Tensor::<2>::from_data(TensorData::new(ego0.as_slice().to_vec(), [n, d]), &dev)
        .require_grad();
    let mut per_layer = vec![e0.clone()];
    for _ in 0..hops {
        let next = a.clone().matmul(per_layer.last().unwrap().clone());
        per_layer.push(next);
    }
    let pooled = per_layer
        .iter()
        .skip(1)
        .fold(e0.clone(), |acc, t| acc + t.clone())
        .div_scalar(layers as f64);
    let n_neg = users.len() * k;
    let mut mixed_pooled: Option<Tensor<2>> = None;
    let mut mixed_ego: Option<Tensor<2>> = None;
    for (l, el) in per_layer.iter().enumerate() {
        let pos_nodes: Vec<u32> = (0..n_neg).map(|m| (nu as u32) + positives[m / k]).collect();
        let cand_nodes: Vec<u32> = (0..n_neg)
            .map(|m| (nu as u32) + candidates[m * layers + l])
            .collect();
        let w: Vec<f32> = (0..n_neg).map(|m| weights[m * layers + l]).collect();
        let wt = Tensor::<2>::from_data(TensorData::new(w, [n_neg, 1]), &dev);
        let mix = el.clone().select(0, index_tensor(&pos_nodes, &dev)) * wt.clone()
            + el.clone().select(0, index_tensor(&cand_nodes, &dev)) * wt.neg().add_scalar(1.0);
        if l == 0 {
            mixed_ego = Some(mix.clone());
        }
        mixed_pooled = Some(match mixed_pooled {
            None => mix,
            Some(acc) => acc + mix,
        });
    }
    let mixed_pooled = mixed_pooled.unwrap().div_scalar(layers as f64);
    let mut index = PairIndex::new(&users, &positives, &[], &dev);
    index.k = k;
    index.synthetic = Some((mixed_pooled, mixed_ego.unwrap()));
    let (bpr, reg) = bpr_loss(
        pooled.clone().slice([0..nu, 0..d]),
        pooled.slice([nu..n, 0..d]),
        Some((
            e0.clone().slice([0..nu, 0..d]),
            e0.clone().slice([nu..n, 0..d]),
        )),
        index,
        l2,
    );
    let mut loss = bpr + reg;
    let gates_leaf =
        Tensor::<1>::from_data(TensorData::new(gates.clone(), [gates.len()]), &dev).require_grad();
    if dens {
        // [rows · L, d], row-major then layer, as the models gather them.
        let per_layer_rows = |nodes: &dyn Fn(usize, usize) -> u32, rows: usize| {
            let layer_rows: Vec<Tensor<2>> = (0..layers)
                .map(|l| {
                    let idx: Vec<u32> = (0..rows).map(|r| nodes(r, l)).collect();
                    per_layer[l].clone().select(0, index_tensor(&idx, &dev))
                })
                .collect();
            Tensor::stack::<3>(layer_rows, 1).reshape([rows * layers, d])
        };
        let b = users.len();
        let u = per_layer_rows(&|r, _| users[r], b);
        let p = per_layer_rows(&|r, _| nu as u32 + positives[r], b);
        let ng = per_layer_rows(&|r, l| nu as u32 + candidates[r * layers + l], b * k);
        loss = loss
            + dens_loss_graph(
                u,
                p,
                ng,
                gates_leaf.clone(),
                [b, k, layers, d],
                LayerPooling::Mean,
                gamma,
            );
    }
    let want_loss: f32 = loss.clone().into_scalar::<f32>();
    let grads = loss.backward();
    let g: Vec<f32> = e0.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
    let want_gate_grad: Option<Vec<f32>> = dens.then(|| {
        gates_leaf
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec()
            .unwrap()
    });

    for engine in [LossEngine::Burn, LossEngine::Native] {
        let cfg = LightGcnConfig {
            dim: d,
            layers: hops,
            l2,
            optimizer: OptimizerConfig::Sgd { lr },
            engine,
            ..LightGcnConfig::default()
        };
        let mut model = LightGcn::from_ego(&train, cfg, ego0.clone());
        let dens_loss = Auxiliary::DensGates {
            dim: d,
            gates: &gates,
            gamma,
        };
        let aux_terms = AuxiliaryTerm::alone(dens.then_some(dens_loss), users.len());
        let stats = model
            .train_step(&TrainBatch {
                pair_weights: None,
                auxiliary: &aux_terms,
                users: &users,
                positives: &positives,
                negatives: &[],
                mixed: Some(MixedNegatives {
                    k,
                    layers,
                    candidates: &candidates,
                    pos_weight: &weights,
                }),
            })
            .unwrap();
        let got_gate_grad = model.take_auxiliary_gradient().pop();
        assert_eq!(got_gate_grad.is_some(), dens);
        if let (Some(got), Some(want)) = (&got_gate_grad, &want_gate_grad) {
            for (x, y) in got.iter().zip(want) {
                assert!((x - y).abs() < 1e-6, "gate gradient {x} vs {y}");
            }
            assert!(
                want.iter().any(|g| g.abs() > 1e-4),
                "the gates get a gradient"
            );
        }
        assert!(
            (stats.loss - want_loss).abs() < 1e-5,
            "{engine:?}: {} vs {want_loss}",
            stats.loss
        );
        for (e, ((b, after), ge)) in ego0
            .as_slice()
            .iter()
            .zip(model.ego().as_slice())
            .zip(&g)
            .enumerate()
        {
            let moved = b - after;
            let want = lr as f32 * ge;
            assert!(
                (moved - want).abs() < 1e-6,
                "{engine:?} entry {e}: moved {moved}, want {want}"
            );
        }
    }
}
