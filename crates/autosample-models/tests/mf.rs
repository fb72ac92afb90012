//! MF training and checkpoints.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use autosample_models::checkpoint::{load_tables, save_tables};
use autosample_models::{AuxiliaryTerm, Mf, MfConfig, OptimizerConfig, TrainBatch};

#[test]
fn training_steps_lower_the_loss_on_a_fixed_batch() {
    let cfg = MfConfig {
        dim: 8,
        optimizer: OptimizerConfig::adam(0.05),
        ..MfConfig::default()
    };
    let mut mf = Mf::new(10, 20, cfg, 1).unwrap();
    let users = [0, 1, 2, 3, 4, 5];
    let positives = [1, 2, 3, 4, 5, 6];
    let negatives = [10, 11, 12, 13, 14, 15];
    let batch = TrainBatch {
        pair_weights: None,
        auxiliary: &[],
        users: &users,
        positives: &positives,
        negatives: &negatives,
        mixed: None,
    };
    let first = mf.train_step(&batch).unwrap().loss;
    let mut last = first;
    for _ in 0..50 {
        last = mf.train_step(&batch).unwrap().loss;
    }
    assert!(last < 0.5 * first, "loss {first} → {last}");
    assert_eq!(mf.steps(), 51);
    // Rows never touched keep their initial values.
    let fresh = Mf::new(10, 20, mf.config().clone(), 1).unwrap();
    assert_eq!(mf.user_table().row(9), fresh.user_table().row(9));
    assert_eq!(mf.item_table().row(19), fresh.item_table().row(19));
    assert_ne!(mf.item_table().row(1), fresh.item_table().row(1));
}

#[test]
fn checkpoint_round_trips_and_rejects_other_shapes() {
    let mf = Mf::new(
        5,
        7,
        MfConfig {
            dim: 3,
            ..MfConfig::default()
        },
        9,
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("autosample-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("best.bpk");
    save_tables(&path, mf.user_table(), mf.item_table()).unwrap();
    let (u, i) = load_tables(&path, 5, 7, 3).unwrap();
    assert_eq!(&u, mf.user_table());
    assert_eq!(&i, mf.item_table());
    let err = load_tables(&path, 5, 8, 3).unwrap_err().to_string();
    assert!(err.contains("best.bpk"), "{err}");
    std::fs::write(dir.join("junk.bpk"), b"not a checkpoint").unwrap();
    assert!(load_tables(&dir.join("junk.bpk"), 5, 7, 3).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// MixGCF on MF: one SGD step with synthetic negatives a·e_pos + (1 − a)·e_cand must move the
/// tables by −lr × the gradient of the same loss built densely in burn (the oracle), for both
/// engines.
#[test]
fn mixed_negatives_step_matches_the_dense_burn_gradient() {
    assert_mixed_step_matches_dense_burn(false);
}

/// DENS on MF: one layer, real candidates (weight 0), and the auxiliary loss over the rows of
/// users, positives and candidates; gate gradient included.
#[test]
fn dens_step_with_its_auxiliary_loss_matches_the_dense_burn_gradient() {
    assert_mixed_step_matches_dense_burn(true);
}

fn assert_mixed_step_matches_dense_burn(dens: bool) {
    use autosample_models::bpr::{PairIndex, bpr_loss};
    use autosample_models::dens_loss::{LayerPooling, dens_loss_graph};
    use autosample_models::{EmbeddingTable, LossEngine, MixedNegatives, training_device};
    use autosample_samplers::{Auxiliary, dens_params_len};
    use burn::tensor::{Tensor, TensorData};

    let (nu, ni, d) = (4usize, 7usize, 3usize);
    let (lr, l2) = (0.1f64, 0.05f64);
    let users = [0u32, 2, 2, 3];
    let positives = [1u32, 4, 0, 6];
    let (k, candidates, weights) = (
        2usize,
        [2u32, 3, 5, 6, 1, 3, 0, 2],
        [0.1f32, 0.7, 0.5, 0.0, 0.9, 0.3, 0.25, 0.6],
    );
    let weights = if dens { [0.0f32; 8] } else { weights };
    let gamma = 0.3f32;
    let gates: Vec<f32> = (0..dens_params_len(d))
        .map(|x| ((x as f32) * 0.37).sin() * 0.7)
        .collect();
    let u0 = EmbeddingTable::normal(nu, d, 0.5, 31);
    let i0 = EmbeddingTable::normal(ni, d, 0.5, 32);

    // Oracle: dense leaves; negatives built from the item leaf by the same mixing.
    let dev = training_device();
    let ul = Tensor::<2>::from_data(TensorData::new(u0.as_slice().to_vec(), [nu, d]), &dev)
        .require_grad();
    let il = Tensor::<2>::from_data(TensorData::new(i0.as_slice().to_vec(), [ni, d]), &dev)
        .require_grad();
    let pos_of_neg: Vec<u32> = (0..candidates.len()).map(|n| positives[n / k]).collect();
    let idx = |v: &[u32]| autosample_models::bpr::index_tensor(v, &dev);
    let a = Tensor::<2>::from_data(
        TensorData::new(weights.to_vec(), [candidates.len(), 1]),
        &dev,
    );
    let mixed = il.clone().select(0, idx(&pos_of_neg)) * a.clone()
        + il.clone().select(0, idx(&candidates)) * (a.neg().add_scalar(1.0));
    let mut index = PairIndex::new(&users, &positives, &[], &dev);
    index.k = k;
    index.synthetic = Some((mixed.clone(), mixed));
    let (bpr, reg) = bpr_loss(ul.clone(), il.clone(), None, index, l2);
    let mut loss = bpr + reg;
    let gates_leaf =
        Tensor::<1>::from_data(TensorData::new(gates.clone(), [gates.len()]), &dev).require_grad();
    if dens {
        loss = loss
            + dens_loss_graph(
                ul.clone().select(0, idx(&users)),
                il.clone().select(0, idx(&positives)),
                il.clone().select(0, idx(&candidates)),
                gates_leaf.clone(),
                [users.len(), k, 1, d],
                LayerPooling::Mean,
                gamma,
            );
    }
    let want_loss: f32 = loss.clone().into_scalar::<f32>();
    let grads = loss.backward();
    let gu: Vec<f32> = ul.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
    let gi: Vec<f32> = il.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
    let want_gates: Vec<f32> = gates_leaf
        .grad(&grads)
        .map(|g| g.into_data().try_into_vec().unwrap())
        .unwrap_or_default();

    for engine in [LossEngine::Burn, LossEngine::Native] {
        let cfg = MfConfig {
            dim: d,
            l2,
            optimizer: OptimizerConfig::Sgd { lr },
            engine,
            ..MfConfig::default()
        };
        let mut mf = Mf::from_tables(cfg, u0.clone(), i0.clone());
        let dens_loss = Auxiliary::DensGates {
            dim: d,
            gates: &gates,
            gamma,
        };
        let aux_terms = AuxiliaryTerm::alone(dens.then_some(dens_loss), users.len());
        let stats = mf
            .train_step(&TrainBatch {
                pair_weights: None,
                auxiliary: &aux_terms,
                users: &users,
                positives: &positives,
                negatives: &[],
                mixed: Some(MixedNegatives {
                    k,
                    layers: 1,
                    candidates: &candidates,
                    pos_weight: &weights,
                }),
            })
            .unwrap();
        match mf.take_auxiliary_gradient().pop() {
            Some(got) => {
                assert!(dens);
                for (x, y) in got.iter().zip(&want_gates) {
                    assert!((x - y).abs() < 1e-6, "{engine:?}: gate gradient {x} vs {y}");
                }
            }
            None => assert!(!dens),
        }
        assert!(
            (stats.loss - want_loss).abs() < 1e-5,
            "{engine:?}: loss {} vs {want_loss}",
            stats.loss
        );
        for (before, after, g, what) in [
            (&u0, mf.user_table(), &gu, "user"),
            (&i0, mf.item_table(), &gi, "item"),
        ] {
            for (e, ((b, a), g)) in before
                .as_slice()
                .iter()
                .zip(after.as_slice())
                .zip(g)
                .enumerate()
            {
                let moved = b - a;
                assert!(
                    (moved - lr as f32 * g).abs() < 1e-6,
                    "{engine:?} {what} entry {e}: {moved} vs {}",
                    lr as f32 * g
                );
            }
        }
    }
}
