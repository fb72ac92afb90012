//! Exhaustive search: each candidate's run is the same as training it alone; the winner is
//! the best on validation; the test split is read for the winner only.

#![allow(clippy::unwrap_used)]

mod common;

use autosample_search::exhaustive;
use autosample_train::{Progress, TrainConfig, train};

#[test]
fn exhaustive_search_trains_each_candidate_alone_and_picks_the_best_on_validation() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let out = exhaustive(&data, &space, &base, Progress::Quiet, None).unwrap();
    assert_eq!(out.candidates.len(), 3);
    let best = out
        .candidates
        .iter()
        .max_by(|a, b| a.monitor_value.total_cmp(&b.monitor_value))
        .unwrap();
    assert_eq!(out.chosen, best.sampler);
    assert!(out.test.contains_key("recall@20"));
    assert_eq!(
        out.total_epochs,
        out.candidates.iter().map(|c| c.epochs_run).sum::<usize>()
    );
    // The same as training the winner alone.
    let alone = train(
        &data,
        &TrainConfig {
            sampler: out.chosen.parse().unwrap(),
            ..base
        },
        None,
        Progress::Quiet,
    )
    .unwrap();
    assert_eq!(alone.best_valid.to_map(), best.valid);
    assert_eq!(alone.test.unwrap().to_map(), out.test);
}
