//! The evidence rule's rounds: each active candidate branches alone from the shared state, is
//! scored per validation user, and is pruned where its gap to the leader exceeds the noise.

use autosample_data::Dataset;
use autosample_metrics::{EvalOptions, evaluate};
use autosample_models::TrainingState;
use autosample_samplers::SamplerConfig;
use autosample_train::{
    Progress, Result, TrainConfig, TrainError, TrainOptions, TrainedModel, WarmStart, derive_seed,
    train_with,
};

use super::{EpochCounts, Event, Evidence};
use crate::Supernet;
use crate::selector::{bonferroni_z, bootstrap_se};

/// Per-user values of `monitor` on validation for `model`.
pub(super) fn per_user_valid(
    model: &mut TrainedModel,
    dataset: &Dataset,
    monitor: &str,
) -> Result<Vec<f64>> {
    model.refresh();
    let k = monitor
        .split_once('@')
        .and_then(|(_, k)| k.parse().ok())
        .ok_or_else(|| TrainError::Config(format!("monitor {monitor:?} has no @K")))?;
    let report = evaluate(
        model.scorer(),
        &dataset.valid,
        &[&dataset.train],
        &EvalOptions {
            ks: vec![k],
            keep_per_user: true,
            ..EvalOptions::default()
        },
    )?;
    report
        .per_user
        .as_ref()
        .and_then(|p| p.metric(monitor))
        .map(<[f64]>::to_vec)
        .ok_or_else(|| TrainError::Config(format!("unknown monitor {monitor:?}")))
}

/// The evidence round with the best leader so far, as `(round, leader's evidence, leader)`;
/// a later round wins a tie, as it would have replaced the kept branch.
pub(super) fn best_evidence_round(events: &[Event]) -> Option<(usize, f64, String)> {
    let mut best: Option<(usize, f64, String)> = None;
    for e in events {
        let Event::Round {
            round,
            branch_epochs,
            evidence,
            ..
        } = e
        else {
            continue;
        };
        // Step rules' rounds carry weights, not branch evidence.
        if *branch_epochs == 0 {
            continue;
        }
        let leader = evidence.iter().reduce(|a, b| {
            if b.value.total_cmp(&a.value).is_ge() {
                b
            } else {
                a
            }
        });
        if let Some(l) = leader
            && best
                .as_ref()
                .is_none_or(|(_, v, _)| l.value.total_cmp(v).is_ge())
        {
            best = Some((*round, l.value, l.sampler.clone()));
        }
    }
    best
}

/// What the evidence rule's branches train with.
pub(super) struct BranchContext<'a> {
    pub(super) dataset: &'a Dataset,
    pub(super) base: &'a TrainConfig,
    pub(super) candidates: &'a [SamplerConfig],
    /// The supernet: each branch continues its candidate's sampler state from it.
    pub(super) net: &'a Supernet,
    pub(super) progress: Progress,
    pub(super) counts: &'a mut EpochCounts,
    /// Supernet epochs so far: where the branches' sampler schedules start.
    pub(super) epoch: usize,
}

/// One round of the evidence rule.
pub(super) struct Assessed {
    pub(super) leader: usize,
    /// (candidate, mean validation metric of its branch).
    pub(super) values: Vec<(usize, f64)>,
    pub(super) evidence: Vec<Evidence>,
    pub(super) pruned: Vec<usize>,
    /// The leader's branch and its sampler's state, when the retrain is to continue it.
    pub(super) leader_state: Option<(TrainingState, Option<Vec<u8>>)>,
}

/// Branches every active candidate alone from `model`'s state for `h` epochs, scores them per
/// validation user and prunes where the paired lead exceeds the Bonferroni `z` (level
/// `prune_level` over the comparisons with the leader; `None`: a round that only weighs) in
/// bootstrap SEs; a candidate with
/// `held_until[i]` set (its warm-up ends after this round's branch) is never pruned.
#[allow(clippy::too_many_arguments)]
pub(super) fn evidence_round(
    ctx: &mut BranchContext<'_>,
    model: &TrainedModel,
    active: &[bool],
    round: usize,
    h: usize,
    prune_level: Option<f64>,
    bootstrap: usize,
    keep_leader_state: bool,
    held_until: &[Option<f64>],
) -> Result<Assessed> {
    let c = ctx.candidates.len();
    let snapshot = model.training_state();
    let mut per_user: Vec<(usize, Vec<f64>)> = Vec::new();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    // The running leader, (position in `per_user`, mean): the last candidate with the largest
    // mean under `total_cmp`. Its branch is kept when the retrain is to continue it.
    let mut best: Option<(usize, f64)> = None;
    let mut leader_state = None;
    for i in (0..c).filter(|&i| active[i]) {
        let cfg = TrainConfig {
            sampler: ctx.candidates[i].clone(),
            epochs: h,
            eval_every: h,
            patience: 0,
            seed: derive_seed(ctx.base.seed, "branch", (round * c + i) as u64),
            ..ctx.base.clone()
        };
        let options = TrainOptions {
            warm_start: Some(WarmStart {
                state: snapshot.clone(),
                keep_optimizer: true,
                start_competes: false,
            }),
            read_test: false,
            // The branch continues the shared run at its current epoch, its sampler as the
            // supernet left it (SRNS's memory and histories).
            schedule_offset: ctx.epoch,
            schedule_total: Some(ctx.base.epochs),
            sampler_state: ctx.net.sampler_state_of(i),
            return_sampler_state: keep_leader_state,
        };
        let mut out = train_with(ctx.dataset, &cfg, None, ctx.progress, &options).map_err(|e| {
            TrainError::Config(format!(
                "candidate `{}` (branch of round {round}): {e}",
                ctx.candidates[i].spec()
            ))
        })?;
        ctx.counts.branches += out.epochs_run;
        let vals = per_user_valid(&mut out.model, ctx.dataset, &ctx.base.monitor)?;
        let m = mean(&vals);
        if best.is_none_or(|(_, b)| m.total_cmp(&b).is_ge()) {
            best = Some((per_user.len(), m));
            if keep_leader_state {
                leader_state = Some((out.model.training_state(), out.sampler_state.take()));
            }
        }
        per_user.push((i, vals));
    }
    let (leader, lead_vals) = best
        .map(|(k, _)| (per_user[k].0, per_user[k].1.clone()))
        .ok_or_else(|| TrainError::Config("no active candidate".to_owned()))?;
    let prune_z = prune_level.map(|level| bonferroni_z(level, per_user.len()));
    let mut evidence = Vec::new();
    let mut pruned = Vec::new();
    for (i, vals) in &per_user {
        let diffs: Vec<f64> = lead_vals.iter().zip(vals).map(|(a, b)| a - b).collect();
        let lead = mean(&diffs);
        let se = bootstrap_se(
            &diffs,
            bootstrap,
            derive_seed(ctx.base.seed, "bootstrap", (round * c + i) as u64),
        );
        evidence.push(Evidence {
            sampler: ctx.candidates[*i].spec(),
            value: mean(vals),
            lead,
            lead_se: se,
            held_until: held_until[*i],
        });
        if *i != leader
            && held_until[*i].is_none()
            && se > 0.0
            && prune_z.is_some_and(|z| lead > z * se)
        {
            pruned.push(*i);
        }
    }
    Ok(Assessed {
        leader_state,
        leader,
        values: per_user.iter().map(|(i, v)| (*i, mean(v))).collect(),
        evidence,
        pruned,
    })
}
