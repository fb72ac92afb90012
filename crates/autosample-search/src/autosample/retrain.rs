//! The retrain of the choice: the argmax alone (warm, from scratch, or continuing its branch)
//! or the fixed mixture.

use std::collections::BTreeMap;

use autosample_data::Dataset;
use autosample_samplers::SamplerConfig;
use autosample_train::{
    Progress, Result, TrainConfig, TrainError, TrainOptions, TrainedModel, WarmStart, derive_seed,
    train_with,
};

use super::Retrain;
use super::checkpoint::LeaderBranch;
use crate::Supernet;
use crate::mixture::retrain_mixture;

/// Where the rounds left the search: what the retrain starts from.
pub(super) struct SearchEnd<'a> {
    /// The shared (supernet) state.
    pub(super) model: TrainedModel,
    pub(super) net: Supernet,
    pub(super) candidates: &'a [SamplerConfig],
    pub(super) leader: usize,
    /// The kept evidence branch (`Retrain::Branch`).
    pub(super) leader_branch: Option<LeaderBranch>,
    /// Supernet epochs run: where the retrain's sampler schedules continue.
    pub(super) epoch: usize,
    /// The last round's final weights, per candidate.
    pub(super) last_weights: Vec<f64>,
}

/// The retrained final model.
pub(super) struct Retrained {
    pub(super) model: TrainedModel,
    pub(super) valid: BTreeMap<String, f64>,
    pub(super) test: BTreeMap<String, f64>,
    pub(super) epochs: usize,
    pub(super) best_epoch: usize,
    /// The mixture's weights per active candidate (empty for the argmax).
    pub(super) final_weights: Vec<(String, f64)>,
    /// (epoch, monitored metric) at every evaluation, epoch 0 being the start.
    pub(super) curve: Vec<(usize, f64)>,
}

/// Retrains the leader alone to early stopping: warm from the shared state (fresh optimizer,
/// or the supernet's kept), from scratch, or continuing its kept branch (optimizer kept). A warm retrain continues the
/// leader's sampler state as the supernet left it, a branch retrain as its branch left it.
pub(super) fn retrain_argmax(
    dataset: &Dataset,
    base: &TrainConfig,
    retrain: Retrain,
    progress: Progress,
    end: SearchEnd<'_>,
) -> Result<Retrained> {
    let (warm_start, schedule_offset, sampler_state) = match retrain {
        Retrain::Warm | Retrain::WarmKeep => (
            Some(WarmStart {
                state: end.model.training_state(),
                keep_optimizer: retrain == Retrain::WarmKeep,
                start_competes: true,
            }),
            end.epoch,
            end.net.sampler_state_of(end.leader),
        ),
        Retrain::Scratch => (None, 0, None),
        Retrain::Branch => {
            let b = end.leader_branch.ok_or_else(|| {
                TrainError::Config("retrain `branch`: the search ran no evidence round".to_owned())
            })?;
            (
                Some(WarmStart {
                    state: b.state,
                    keep_optimizer: true,
                    start_competes: true,
                }),
                b.epoch,
                b.sampler,
            )
        }
    };
    let options = TrainOptions {
        warm_start,
        read_test: true,
        schedule_offset,
        schedule_total: None,
        sampler_state,
        return_sampler_state: false,
    };
    let cfg = TrainConfig {
        sampler: end.candidates[end.leader].clone(),
        ..base.clone()
    };
    let out = train_with(dataset, &cfg, None, progress, &options)?;
    let test =
        out.test.as_ref().map(|t| t.to_map()).ok_or_else(|| {
            TrainError::Config("the retrain did not read the test split".to_owned())
        })?;
    let curve = out
        .start_valid
        .map(|v| (0, v))
        .into_iter()
        .chain(out.history.iter().filter_map(|r| {
            let v = r.valid.as_ref()?.get(&base.monitor)?;
            Some((r.epoch, *v))
        }))
        .collect();
    Ok(Retrained {
        valid: out.best_valid.to_map(),
        model: out.model,
        test,
        epochs: out.epochs_run,
        best_epoch: out.best_epoch,
        final_weights: Vec::new(),
        curve,
    })
}

/// Retrains through the supernet with the last round's weights held fixed (`--final
/// mixture`), warm from the shared state (fresh optimizer, or the supernet's kept) or from
/// scratch.
pub(super) fn retrain_fixed_mixture(
    dataset: &Dataset,
    base: &TrainConfig,
    retrain: Retrain,
    end: SearchEnd<'_>,
) -> Result<Retrained> {
    let SearchEnd {
        mut model,
        mut net,
        candidates,
        epoch,
        last_weights,
        ..
    } = end;
    let start = match retrain {
        Retrain::Warm => {
            let state = model.training_state().with_fresh_optimizer();
            model.restore(state)?;
            model
        }
        Retrain::WarmKeep => model,
        Retrain::Scratch => TrainedModel::new(
            &base.model,
            &dataset.train,
            derive_seed(base.seed, "init", 0),
        )?,
        Retrain::Branch => {
            return Err(TrainError::Config(
                "retrain `branch` does not apply to the mixture final".to_owned(),
            ));
        }
    };
    let out = retrain_mixture(dataset, &mut net, start, &last_weights, base, epoch)?;
    let final_weights = (0..candidates.len())
        .filter(|&i| net.is_active(i))
        .map(|i| (candidates[i].spec(), last_weights[i]))
        .collect();
    Ok(Retrained {
        model: out.model,
        valid: out.valid,
        test: out.test,
        epochs: out.epochs_run,
        best_epoch: out.best_epoch,
        final_weights,
        curve: out.curve,
    })
}
