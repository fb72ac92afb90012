//! Successive halving: rungs halve the field (rounded up) on validation, the budget doubles,
//! the last candidate trains on, and the run repeats for a seed.

#![allow(clippy::unwrap_used)]

mod common;

use autosample_search::{HalvingStart, successive_halving};
use autosample_train::Progress;

#[test]
fn halving_keeps_the_better_half_and_doubles_the_budget() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let out =
        successive_halving(&data, &space, &base, 2, HalvingStart::Init, Progress::Quiet).unwrap();
    // 3 candidates → 2 → 1.
    assert_eq!(out.rungs.len(), 2);
    assert_eq!((out.rungs[0].epochs, out.rungs[1].epochs), (2, 4));
    assert_eq!(out.rungs[0].values.len(), 3);
    assert_eq!(out.rungs[0].dropped.len(), 1);
    assert_eq!(out.rungs[1].values.len(), 2);
    for r in &out.rungs {
        // Values are sorted best first, and the dropped are the worst.
        assert!(r.values.windows(2).all(|w| w[0].1 >= w[1].1));
        let kept = r.values.len() - r.dropped.len();
        for (spec, _) in &r.values[kept..] {
            assert!(r.dropped.contains(spec));
        }
    }
    assert_eq!(out.chosen, out.rungs[1].values[0].0);
    assert_eq!(out.total_epochs, 3 * 2 + 2 * 4 + out.final_epochs);
    assert!(out.test.contains_key("recall@20"));
    let again =
        successive_halving(&data, &space, &base, 2, HalvingStart::Init, Progress::Quiet).unwrap();
    assert_eq!(again.chosen, out.chosen);
    assert_eq!(again.test, out.test);
}

#[test]
fn halving_from_a_supernet_warmup_counts_it_and_repeats() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let start = HalvingStart::SupernetWarmup { epochs: 2 };
    let out = successive_halving(&data, &space, &base, 2, start, Progress::Quiet).unwrap();
    assert_eq!(out.warmup_epochs, 2);
    assert_eq!(out.start, start);
    assert_eq!(out.total_epochs, 2 + 3 * 2 + 2 * 4 + out.final_epochs);
    let scratch =
        successive_halving(&data, &space, &base, 2, HalvingStart::Init, Progress::Quiet).unwrap();
    assert_ne!(
        out.rungs[0].values, scratch.rungs[0].values,
        "the copies start elsewhere"
    );
    let again = successive_halving(&data, &space, &base, 2, start, Progress::Quiet).unwrap();
    assert_eq!(again.chosen, out.chosen);
    assert_eq!(again.test, out.test);
}

#[test]
fn rungs_and_the_final_training_stop_at_one_training() {
    // --epochs 5 and first rungs of 2: rung 1 would train 4 more epochs, 6 in all; it trains
    // 3, and the winner, which has trained a whole training, trains one epoch more to be
    // evaluated.
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = autosample_train::TrainConfig {
        epochs: 5,
        ..common::quick_mf()
    };
    let out =
        successive_halving(&data, &space, &base, 2, HalvingStart::Init, Progress::Quiet).unwrap();
    assert_eq!(out.rungs.len(), 2);
    assert_eq!((out.rungs[0].epochs, out.rungs[1].epochs), (2, 3));
    assert_eq!(out.final_epochs, 1);
    assert_eq!(out.total_epochs, 3 * 2 + 2 * 3 + 1);
    // A space larger than the epochs allow stops halving once the copies have trained
    // --epochs: 2 epochs, then 0 left, so the best of the first rung wins.
    let short = autosample_train::TrainConfig {
        epochs: 2,
        ..common::quick_mf()
    };
    let out = successive_halving(
        &data,
        &space,
        &short,
        2,
        HalvingStart::Init,
        Progress::Quiet,
    )
    .unwrap();
    assert_eq!(out.rungs.len(), 1);
    assert_eq!(out.chosen, out.rungs[0].values[0].0);
    assert_eq!(out.total_epochs, 3 * 2 + out.final_epochs);
}
