//! The AutoSample strategy (evidence rule) on synthetic data: its log is coherent, its costs
//! add up, it repeats for a seed, and the retrain reads the test split once.

#![allow(clippy::unwrap_used)]

mod common;

use autosample_search::{
    AutoSampleConfig, Event, FinalSampler, Retrain, SearchSpace, SelectorConfig, ValidationLoss,
    autosample,
};
use autosample_train::Progress;

/// The evidence rule with 1-epoch first branches and a small bootstrap, for quick tests.
fn quick_evidence(prune_level: f64, prune_from_round: usize) -> SelectorConfig {
    quick_evidence_stopping(prune_level, prune_from_round, false)
}

/// [`quick_evidence`], with `stop_past_peak` as given.
fn quick_evidence_stopping(
    prune_level: f64,
    prune_from_round: usize,
    stop_past_peak: bool,
) -> SelectorConfig {
    quick_evidence_with(prune_level, prune_from_round, stop_past_peak, false)
}

/// [`quick_evidence`], with `stop_past_peak` and `hold_in_warmup` as given.
fn quick_evidence_with(
    prune_level: f64,
    prune_from_round: usize,
    stop_past_peak: bool,
    hold_in_warmup: bool,
) -> SelectorConfig {
    SelectorConfig::Evidence {
        branch_epochs: 1,
        temperature: 0.005,
        prune_level,
        bootstrap: 200,
        prune_from_round,
        stop_past_peak,
        hold_in_warmup,
    }
}

#[test]
fn the_evidence_rule_runs_logs_its_decisions_and_repeats() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let settings = AutoSampleConfig {
        warmup_epochs: 2,
        round_epochs: 2,
        max_rounds: 2,
        selector: quick_evidence(0.05, 0),
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

fn last_round_weights(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Round { final_weights, .. } => Some(final_weights.clone()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn step_rules_learn_weights_log_them_and_repeat() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    for selector in [
        SelectorConfig::alignment(ValidationLoss::UniformBpr),
        SelectorConfig::alignment(ValidationLoss::Softmax { temperature: 0.1 }),
        SelectorConfig::training_loss(),
    ] {
        let settings = AutoSampleConfig {
            warmup_epochs: 1,
            round_epochs: 2,
            max_rounds: 2,
            selector: match selector {
                SelectorConfig::Alignment { validation, .. } => SelectorConfig::Alignment {
                    validation,
                    validation_pairs: 256,
                    probe_every: 2,
                    alpha_lr: 0.05,
                    tau: 1.0,
                    prune_below: 0.05,
                },
                other => other,
            },
            ..AutoSampleConfig::default()
        };
        let name = settings.selector.name();
        let out = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
        let mut rounds = 0;
        for e in &out.events {
            if let Event::Round {
                rule,
                branch_epochs,
                weights,
                final_weights,
                evidence,
                pruned,
                ..
            } = e
            {
                rounds += 1;
                assert_eq!(rule, name);
                assert_eq!(*branch_epochs, 0, "{name}: step rules train no branches");
                assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                assert!(
                    (final_weights.iter().sum::<f64>() - 1.0).abs() < 1e-9 || !pruned.is_empty()
                );
                assert!(
                    evidence.iter().all(|x| x.value.is_finite()),
                    "{name}: {evidence:?}"
                );
                assert_ne!(weights, final_weights, "{name}: α moved during the round");
            }
        }
        assert_eq!(rounds, 2, "{name}");
        assert_eq!(out.epochs.branches, 0);
        assert_eq!(out.epochs.supernet, 1 + 2 * 2);
        let again = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
        assert_eq!(again.chosen, out.chosen, "{name}");
        assert_eq!(again.test, out.test, "{name}");
    }
}

/// The training-loss control after a 1-epoch warm-up, rounds of 3 supernet epochs.
fn training_loss_control(alpha_lr: f64, max_rounds: usize, prune_below: f64) -> AutoSampleConfig {
    AutoSampleConfig {
        warmup_epochs: 1,
        round_epochs: 3,
        max_rounds,
        selector: SelectorConfig::TrainingLoss {
            alpha_lr,
            tau: 1.0,
            prune_below,
        },
        ..AutoSampleConfig::default()
    }
}

/// Step rules prune on the learned weights, not the floored ones: at the default floor (0.1)
/// every floored weight is at least 0.091/|A|, above the default threshold 0.05/|A|, so a rule
/// that pruned the floored weights would never prune. The training-loss control starves the
/// hard sampler fast enough to show it.
#[test]
fn step_rules_prune_at_the_default_floor() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let settings = training_loss_control(0.5, 2, 0.05);
    assert_eq!(settings.weight_floor, 0.1, "the default floor");
    let out = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    let mut pruned_any = false;
    for e in &out.events {
        if let Event::Round {
            weights,
            final_weights,
            pruned,
            ..
        } = e
        {
            // Active at the round's start (the event zeroes the weights of what it pruned).
            let n = weights.iter().filter(|w| **w > 0.0).count() as f64;
            // The floored weights the supernet trained with never fall below the threshold…
            assert!(
                final_weights
                    .iter()
                    .filter(|w| **w > 0.0)
                    .all(|w| *w >= 0.1 / n / 1.1 - 1e-12),
                "{final_weights:?}"
            );
            // …and yet the starved candidate is pruned.
            pruned_any |= pruned.iter().any(|p| p.starts_with("dns"));
        }
    }
    assert!(pruned_any, "the hard sampler is pruned: {:?}", out.events);
}

/// A step rule's update that meets a non-finite loss reports a divergence that names the
/// candidate, instead of turning the logits into NaN.
#[test]
fn a_step_rule_divergence_names_the_candidate() {
    use autosample_models::{MfConfig, OptimizerConfig};
    use autosample_train::ModelConfig;
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let mut base = common::quick_mf();
    base.model = ModelConfig::Mf(MfConfig {
        dim: 8,
        optimizer: OptimizerConfig::Sgd { lr: 1e30 },
        ..MfConfig::default()
    });
    let specs: Vec<String> = space
        .initial_candidates()
        .iter()
        .map(|c| c.spec())
        .collect();
    for selector in [
        SelectorConfig::training_loss(),
        SelectorConfig::alignment(ValidationLoss::UniformBpr),
    ] {
        let name = selector.name();
        let settings = AutoSampleConfig {
            warmup_epochs: 0,
            round_epochs: 2,
            max_rounds: 1,
            selector,
            ..AutoSampleConfig::default()
        };
        let err = autosample(&data, &space, &base, &settings, Progress::Quiet)
            .expect_err("an SGD step of 1e30 diverges")
            .to_string();
        assert!(err.contains("diverged"), "{name}: {err}");
        assert!(err.contains("non-finite loss from"), "{name}: {err}");
        assert!(
            specs.iter().any(|s| err.contains(s.as_str())),
            "{name}: {err}"
        );
        assert!(err.contains("lower the learning rate"), "{name}: {err}");
        if name == "training-loss" {
            // The rule's own update met the non-finite loss (it reads the losses before the
            // step), not the supernet step after it.
            assert!(err.contains("at selector step"), "{name}: {err}");
        }
    }
}

/// A search without rounds would choose by candidate order: refused before any training, as
/// is a plan so long that its branch lengths overflow.
#[test]
fn max_rounds_must_be_between_one_and_twenty() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    for rounds in [0, 21, 64] {
        let settings = AutoSampleConfig {
            max_rounds: rounds,
            ..AutoSampleConfig::default()
        };
        let err = autosample(&data, &space, &base, &settings, Progress::Quiet)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("max rounds") && err.contains("1..=20"),
            "{err}"
        );
    }
}

/// The negative control: α that follows the training loss moves weight to the candidate with
/// the smallest loss, the easiest negatives (uniform), whichever trains best: the degenerate
/// solution a real selector must avoid (method reference §3.2).
#[test]
fn the_training_loss_control_drifts_to_the_easiest_sampler() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let settings = AutoSampleConfig {
        weight_floor: 0.0,
        ..training_loss_control(0.05, 1, 0.0)
    };
    let out = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    let specs: Vec<String> = space
        .initial_candidates()
        .iter()
        .map(|c| c.spec())
        .collect();
    let w = last_round_weights(&out.events);
    let uniform = specs.iter().position(|s| s == "uniform").unwrap();
    let dns = specs.iter().position(|s| s.starts_with("dns")).unwrap();
    assert_eq!(out.chosen, "uniform", "weights {w:?} over {specs:?}");
    // The two static samplers (near-equal losses on this data) share the weight; the hard one
    // is starved.
    assert!(
        w[dns] < 0.1 && w[uniform] > w[dns] * 5.0,
        "{w:?} over {specs:?}"
    );
    // Its evidence says why: DNS's negatives have the larger training loss.
    if let Some(Event::Round { evidence, .. }) = out.events.get(1) {
        let loss = |name: &str| {
            evidence
                .iter()
                .find(|e| e.sampler.starts_with(name))
                .unwrap()
                .value
        };
        assert!(loss("dns") > loss("uniform"));
    }
}

/// Expansion adds the leader's untried neighbours, which then take part; the epoch budget
/// ends the rounds and says so.
#[test]
fn expansion_adds_the_leaders_neighbours_and_the_budget_stops_the_rounds() {
    let data = common::small_data();
    let space = SearchSpace::parse(
        r#"{"version": 1, "samplers": {"_type": "choice", "_value": [
            {"_name": "uniform"},
            {"_name": "dns", "candidates": {"_type": "choice", "_value": [2, 4, 8]}}
        ]}}"#,
        "inline",
    )
    .unwrap();
    let base = common::quick_mf();
    let settings = AutoSampleConfig {
        warmup_epochs: 1,
        round_epochs: 1,
        max_rounds: 3,
        selector: SelectorConfig::training_loss(),
        weight_floor: 0.5,
        expand: true,
        ..AutoSampleConfig::default()
    };
    let out = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    let mut known: Vec<String> = space
        .initial_candidates()
        .iter()
        .map(|c| c.spec())
        .collect();
    let mut expansions = 0;
    for e in &out.events {
        match e {
            Event::Round { evidence, .. } => {
                for x in evidence {
                    assert!(known.contains(&x.sampler), "{} is a candidate", x.sampler);
                }
            }
            Event::Expanded { leader, added, .. } => {
                expansions += 1;
                let cfg: autosample_samplers::SamplerConfig = leader.parse().unwrap();
                for n in space.neighbours(&cfg) {
                    let spec = n.spec();
                    assert!(
                        known.contains(&spec) || added.contains(&spec),
                        "{spec} was neither tried nor added"
                    );
                }
                known.extend(added.iter().cloned());
            }
            _ => {}
        }
    }
    assert!(expansions >= 1);

    let budget = AutoSampleConfig {
        budget_epochs: Some(2),
        ..settings.clone()
    };
    let out = autosample(&data, &space, &base, &budget, Progress::Quiet).unwrap();
    assert!(
        out.events.iter().any(|e| matches!(
            e,
            Event::BudgetReached {
                rounds: 1,
                epochs: 2,
                ..
            }
        )),
        "{:?}",
        out.events
    );
    let too_small = AutoSampleConfig {
        budget_epochs: Some(1),
        ..settings
    };
    let err = autosample(&data, &space, &base, &too_small, Progress::Quiet).unwrap_err();
    assert!(
        err.to_string()
            .contains("nothing after the 1-epoch warm-up")
    );
}

/// `--final mixture`: the final model trains through the supernet with the last weights fixed.
#[test]
fn the_mixture_final_keeps_the_last_weights_and_reads_test_once() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let settings = AutoSampleConfig {
        warmup_epochs: 1,
        round_epochs: 1,
        max_rounds: 1,
        selector: SelectorConfig::training_loss(),
        final_sampler: FinalSampler::Mixture,
        ..AutoSampleConfig::default()
    };
    let out = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    let last = last_round_weights(&out.events);
    match out.events.last() {
        Some(Event::Chosen {
            final_sampler: FinalSampler::Mixture,
            final_weights,
            retrain_epochs,
            ..
        }) => {
            assert_eq!(final_weights.len(), 3);
            let sum: f64 = final_weights.iter().map(|(_, w)| w).sum();
            assert!((sum - 1.0).abs() < 1e-9);
            for ((_, w), l) in final_weights.iter().zip(&last) {
                assert_eq!(w, l, "the retrain uses the last round's weights");
            }
            assert!(*retrain_epochs >= 1 && *retrain_epochs <= base.epochs);
        }
        other => panic!("{other:?}"),
    }
    assert!(out.test.contains_key("recall@20") && out.valid.contains_key("recall@20"));
    let again = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    assert_eq!(again.test, out.test);
}

/// The round-0 event of a search: its evidence values and what it pruned.
fn round_zero(events: &[Event]) -> (Vec<f64>, Vec<String>) {
    events
        .iter()
        .find_map(|e| match e {
            Event::Round {
                round: 0,
                evidence,
                pruned,
                ..
            } => Some((evidence.iter().map(|x| x.value).collect(), pruned.clone())),
            _ => None,
        })
        .unwrap()
}

#[test]
fn rounds_before_prune_from_round_weigh_but_never_prune() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    // A loose level, so that round 0 prunes when it is allowed to.
    let run = |prune_from_round| {
        let settings = AutoSampleConfig {
            warmup_epochs: 2,
            round_epochs: 1,
            max_rounds: 1,
            selector: quick_evidence(0.9, prune_from_round),
            ..AutoSampleConfig::default()
        };
        autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap()
    };
    let (evidence, pruned) = round_zero(&run(0).events);
    assert!(!pruned.is_empty(), "the loose level prunes in round 0");
    let (held_evidence, held_pruned) = round_zero(&run(1).events);
    assert!(held_pruned.is_empty(), "round 0 < prune_from_round 1");
    assert_eq!(
        held_evidence, evidence,
        "the same branches, only the prune differs"
    );
}

#[test]
fn the_branch_retrain_continues_the_leaders_last_branch() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let settings = AutoSampleConfig {
        warmup_epochs: 2,
        round_epochs: 2,
        max_rounds: 2,
        selector: quick_evidence(0.05, 2),
        retrain: Retrain::Branch,
        ..AutoSampleConfig::default()
    };
    let out = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    let rounds: Vec<&Event> = out
        .events
        .iter()
        .filter(|e| matches!(e, Event::Round { .. }))
        .collect();
    assert_eq!(
        rounds.len(),
        2,
        "no prune before round 2, so both rounds run"
    );
    // The last round's supernet epochs are skipped: nothing after the choice reads them.
    assert_eq!(out.epochs.supernet, 2 + 2);
    let Some(Event::Round { evidence, .. }) = rounds.last() else {
        unreachable!()
    };
    let best = evidence
        .iter()
        .max_by(|a, b| a.value.total_cmp(&b.value))
        .unwrap();
    assert_eq!(best.sampler, out.chosen);
    // The retrain starts where the leader's branch ended: its epoch-0 validation is the
    // evidence the branch was chosen on.
    let (e0, v0) = out.retrain_curve[0];
    assert_eq!(e0, 0);
    assert!(
        (v0 - best.value).abs() < 1e-9,
        "retrain start {v0} vs branch evidence {}",
        best.value
    );
    assert!(matches!(
        out.events.last(),
        Some(Event::Chosen {
            retrain: Retrain::Branch,
            ..
        })
    ));

    // It needs the evidence rule and the argmax final.
    for bad in [
        AutoSampleConfig {
            selector: SelectorConfig::alignment(ValidationLoss::UniformBpr),
            ..settings.clone()
        },
        AutoSampleConfig {
            final_sampler: FinalSampler::Mixture,
            ..settings.clone()
        },
    ] {
        let err = autosample(&data, &space, &base, &bad, Progress::Quiet)
            .err()
            .unwrap();
        assert!(err.to_string().contains("retrain `branch`"), "{err}");
    }
}

/// With `stop_past_peak`, the rounds end at the first round whose leader scores below an
/// earlier round's best leader; that leader is chosen, and the branch retrain continues its
/// branch. The rounds before are those of a search without the stop.
#[test]
fn the_rounds_stop_past_the_peak_and_the_best_rounds_leader_is_retrained() {
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let continuing = AutoSampleConfig {
        warmup_epochs: 2,
        round_epochs: 6,
        max_rounds: 5,
        selector: quick_evidence(0.05, 99),
        retrain: Retrain::Branch,
        ..AutoSampleConfig::default()
    };
    let stopping = AutoSampleConfig {
        selector: quick_evidence_stopping(0.05, 99, true),
        ..continuing.clone()
    };
    let out = autosample(&data, &space, &base, &stopping, Progress::Quiet).unwrap();
    let stop = out
        .events
        .iter()
        .position(|e| matches!(e, Event::PastPeak { .. }))
        .expect("this fixture overtrains within five rounds");
    let Event::PastPeak {
        round,
        value,
        best_round,
        best_value,
        leader,
    } = &out.events[stop]
    else {
        unreachable!()
    };
    assert!(value < best_value && best_round < round);
    assert_eq!(leader, &out.chosen);
    assert!(matches!(out.events[stop - 1], Event::Round { round: r, .. } if r == *round));
    assert!(matches!(out.events[stop + 1], Event::Chosen { .. }));
    assert_eq!(
        out.events.len(),
        stop + 2,
        "nothing but the choice after the stop"
    );
    let (e0, v0) = out.retrain_curve[0];
    assert_eq!(e0, 0);
    assert!(
        (v0 - best_value).abs() < 1e-9,
        "the retrain continues the best round's branch: {v0} vs {best_value}"
    );

    let full = autosample(&data, &space, &base, &continuing, Progress::Quiet).unwrap();
    let json = |e: &[Event]| serde_json::to_string(e).unwrap();
    assert_eq!(
        json(&full.events[..stop]),
        json(&out.events[..stop]),
        "the rounds up to the stop are those of a search without it"
    );
    assert!(
        full.events
            .iter()
            .filter(|e| matches!(e, Event::Round { .. }))
            .count()
            > round + 1,
        "without the stop, the rounds go on"
    );
}

/// With `hold_in_warmup`, a candidate whose own warm-up ends after the round's branch is
/// exempt from pruning and its evidence says until when; the branches are those of a search
/// without the hold, and once the warm-up has ended the candidate can be pruned again.
#[test]
fn candidates_in_their_warmup_are_held_from_pruning() {
    let data = common::small_data();
    let space = SearchSpace::parse(
        r#"{"version": 1, "samplers": {"_type": "choice", "_value": [
            {"_name": "uniform"},
            {"_name": "dns", "candidates": 8},
            {"_name": "srns", "s1": 2, "warmup": 5, "varset": 16},
            {"_name": "dens", "candidates": 4, "warmup": 4},
            {"_name": "dens", "candidates": 3, "warmup": 50}]}}"#,
        "warmup-space",
    )
    .unwrap();
    let base = common::quick_mf();
    let run = |hold_in_warmup| {
        let settings = AutoSampleConfig {
            warmup_epochs: 2,
            round_epochs: 1,
            max_rounds: 2,
            // A loose level, so that rounds prune when they are allowed to.
            selector: quick_evidence_with(0.9, 0, false, hold_in_warmup),
            ..AutoSampleConfig::default()
        };
        autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap()
    };
    // Per round: (spec, evidence, held until) of each candidate, and the pruned specs.
    type Round = (Vec<(String, f64, Option<f64>)>, Vec<String>);
    let rounds = |out: &autosample_search::AutoSampleOutcome| -> Vec<Round> {
        out.events
            .iter()
            .filter_map(|e| match e {
                Event::Round {
                    evidence, pruned, ..
                } => Some((
                    evidence
                        .iter()
                        .map(|x| (x.sampler.clone(), x.value, x.held_until))
                        .collect(),
                    pruned.clone(),
                )),
                _ => None,
            })
            .collect()
    };
    let srns = "srns:s1=2,s2_div_s1=8,alpha=5,warmup=5,temperature=10,varset=16";
    let dens = "dens:candidates=4,warmup=4,gamma=0.3";
    let dens_long = "dens:candidates=3,warmup=50,gamma=0.3";
    let free = rounds(&run(false));
    assert!(free[0].1.contains(&srns.to_owned()) && free[0].1.contains(&dens.to_owned()));
    assert!(free.iter().flat_map(|r| &r.0).all(|(_, _, h)| h.is_none()));

    let held = rounds(&run(true));
    assert_eq!(held.len(), 2, "{held:?}");
    // Round 0 (epochs 2 to 3): both short warm-ups run on, so only uniform goes.
    assert_eq!(held[0].1, ["uniform"]);
    let values = |r: &[(String, f64, Option<f64>)]| -> Vec<(String, f64)> {
        r.iter().map(|(s, v, _)| (s.clone(), *v)).collect()
    };
    assert_eq!(values(&held[0].0), values(&free[0].0), "the same branches");
    let held_until = |round: usize, spec: &str| {
        held[round]
            .0
            .iter()
            .find(|(s, _, _)| s == spec)
            .and_then(|x| x.2)
    };
    assert_eq!(held_until(0, srns), Some(5.0));
    assert_eq!(held_until(0, dens), Some(4.0));
    // The rounds' horizon is epoch 5 (2 warm-up + 1 round + a 2-epoch last branch): a 50-epoch
    // warm-up would never be seen to end, so it holds nothing.
    assert_eq!(held_until(0, dens_long), None);
    // Round 1 (epochs 3 to 5): both short warm-ups have ended, so they can be pruned again.
    assert!(held[1].0.iter().all(|(_, _, h)| h.is_none()), "{held:?}");
    assert!(held[1].1.contains(&dens.to_owned()), "{held:?}");
}

#[test]
fn branches_never_outlast_one_training() {
    // With --epochs 3 the doubling branches (1, 2, 4, 8) are cut to one training's length: a
    // longer branch would cost more than training the candidate outright.
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = autosample_train::TrainConfig {
        epochs: 3,
        ..common::quick_mf()
    };
    let settings = AutoSampleConfig {
        warmup_epochs: 1,
        round_epochs: 1,
        max_rounds: 4,
        selector: quick_evidence(0.05, 10),
        ..AutoSampleConfig::default()
    };
    let out = autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap();
    let lengths: Vec<usize> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Round { branch_epochs, .. } => Some(*branch_epochs),
            _ => None,
        })
        .collect();
    assert_eq!(lengths, [1, 2, 3, 3]);
    assert_eq!(
        autosample_search::branch_epochs_per_candidate(&settings, base.epochs),
        1 + 2 + 3 + 3
    );
}

#[test]
fn the_warm_retrain_can_keep_the_supernets_optimizer_state() {
    // Both start from the same shared parameters (the same first validation point); keeping
    // Adam's moments of the mixture's gradients changes the steps that follow.
    let data = common::small_data();
    let space = common::shipped_space("tiny.json");
    let base = common::quick_mf();
    let run = |retrain| {
        let settings = AutoSampleConfig {
            warmup_epochs: 2,
            round_epochs: 2,
            max_rounds: 2,
            retrain,
            selector: quick_evidence(0.05, 0),
            ..AutoSampleConfig::default()
        };
        autosample(&data, &space, &base, &settings, Progress::Quiet).unwrap()
    };
    let (fresh, kept) = (run(Retrain::Warm), run(Retrain::WarmKeep));
    assert_eq!(fresh.chosen, kept.chosen, "the rounds are the same");
    assert_eq!(fresh.retrain_curve[0], kept.retrain_curve[0]);
    assert_ne!(fresh.retrain_curve, kept.retrain_curve);
    assert!(matches!(
        kept.events.last(),
        Some(Event::Chosen {
            retrain: Retrain::WarmKeep,
            ..
        })
    ));
}
