//! MF training and checkpoints.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use autosample_models::checkpoint::{load_tables, save_tables};
use autosample_models::{Mf, MfConfig, OptimizerConfig, TrainBatch};

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
        users: &users,
        positives: &positives,
        negatives: &negatives,
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
