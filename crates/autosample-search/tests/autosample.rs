//! The AutoSample strategy (evidence rule) on synthetic data: its log is coherent, its costs
//! add up, it repeats for a seed, and the retrain reads the test split once.

#![allow(clippy::unwrap_used)]

mod common;

use autosample_search::{AutoSampleConfig, Event, Retrain, autosample};
use autosample_train::Progress;

#[test]
fn the_evidence_rule_runs_logs_its_decisions_and_repeats() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let settings = AutoSampleConfig {
        warmup_epochs: 2,
        round_epochs: 2,
        branch_epochs: 1,
        max_rounds: 2,
        ..AutoSampleConfig::default()
    };
    let out = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    let specs: Vec<String> = space
        .initial_candidates()
        .iter()
        .map(|c| c.spec())
        .collect();
    assert!(specs.contains(&out.chosen));
    assert!(out.test.contains_key("recall@20"));
    assert!(matches!(
        out.events.first(),
        Some(Event::Warmup { epochs: 2, .. })
    ));
    let mut branch_epochs = 0;
    let mut rounds = 0;
    for e in &out.events {
        if let Event::Round {
            branch_epochs: h,
            evidence,
            weights,
            pruned,
            ..
        } = e
        {
            rounds += 1;
            branch_epochs += h * evidence.len();
            assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            for p in pruned {
                let i = specs.iter().position(|s| s == p).unwrap();
                assert_eq!(weights[i], 0.0, "a pruned candidate gets no weight");
            }
            let leader = evidence
                .iter()
                .map(|x| x.value)
                .fold(f64::NEG_INFINITY, f64::max);
            for x in evidence {
                assert!(
                    (leader - x.value - x.lead).abs() < 1e-9,
                    "lead = leader − value"
                );
            }
        }
    }
    assert!(rounds >= 1);
    assert_eq!(out.epochs.branches, branch_epochs);
    assert_eq!(out.epochs.supernet, 2 + 2 * rounds);
    match out.events.last() {
        Some(Event::Chosen {
            sampler,
            retrain: Retrain::Warm,
            retrain_epochs,
            ..
        }) => {
            assert_eq!(sampler, &out.chosen);
            assert_eq!(*retrain_epochs, out.epochs.retrain);
        }
        other => panic!("the last event is the choice, got {other:?}"),
    }
    let again = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    assert_eq!(again.chosen, out.chosen);
    assert_eq!(again.test, out.test);
}
