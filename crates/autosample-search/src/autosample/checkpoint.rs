//! Checkpoints of an AutoSample search: what they hold, the files beside them, and the check
//! that a resume runs with the settings that wrote them.

use std::path::Path;

use autosample_models::TrainingState;
use autosample_samplers::write_sampler_states;
use autosample_train::{Result, TrainError, TrainedModel};
use serde::{Deserialize, Serialize};

use super::{AutoSampleConfig, EpochCounts, Event};
use crate::Supernet;
use crate::selector::StepRule;

/// The checkpoint file [`super::autosample_in`] writes in its directory.
pub const AUTOSAMPLE_CHECKPOINT: &str = "autosample.ckpt";

/// Beside the checkpoint, in files it names (one name per checkpoint, so that a checkpoint
/// never names a file of another round, whenever the process dies; older ones are removed once
/// the new checkpoint is written):
/// - `autosample-samplers-n<next_round>.state`: the candidates' sampler states (SRNS's memory),
///   so that a resumed search repeats an uninterrupted one;
/// - `autosample-branch-r<round>.state`, with [`super::Retrain::Branch`]: the leader's branch of that
///   round, so that a search interrupted after its last round can still continue it.
const SAMPLERS_PREFIX: &str = "autosample-samplers-n";
const BRANCH_PREFIX: &str = "autosample-branch-r";

fn branch_file(round: usize) -> String {
    format!("{BRANCH_PREFIX}{round}.state")
}

fn samplers_file(next_round: usize) -> String {
    format!("{SAMPLERS_PREFIX}{next_round}.state")
}

/// Removes an AutoSample search's checkpoint and the files beside it from `dir` (a search
/// started over in that directory).
pub fn remove_autosample_checkpoint(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(AUTOSAMPLE_CHECKPOINT));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if (name.starts_with(BRANCH_PREFIX) || name.starts_with(SAMPLERS_PREFIX))
            && name.ends_with(".state")
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// What a checkpoint holds besides the model's training state: everything the rounds to come
/// read. Supernet RNG streams, branch seeds and bootstrap seeds are derived from the root seed
/// and the epoch or round, so they need no saving.
#[derive(Serialize, Deserialize)]
pub(super) struct Checkpoint {
    /// The settings that wrote it (a resume with other settings is refused).
    pub(super) settings: serde_json::Value,
    pub(super) next_round: usize,
    pub(super) epoch: usize,
    pub(super) counts: EpochCounts,
    pub(super) events: Vec<Event>,
    /// Every candidate's spec, expansions included, in order.
    pub(super) candidates: Vec<String>,
    pub(super) active: Vec<bool>,
    pub(super) leader: usize,
    pub(super) rule: Option<StepRule>,
    /// Search seconds before the interruption.
    pub(super) seconds: f64,
    /// With [`Retrain::Branch`]: the leader's last branch, as (its file in the checkpoint's
    /// directory, the epoch it ended at).
    #[serde(default)]
    pub(super) branch: Option<(String, usize)>,
    /// The file holding the candidates' sampler states, if any keeps one.
    #[serde(default)]
    pub(super) sampler_states: Option<String>,
}

/// Writes the checkpoint `ck` into `dir` (if there is one): first the files it names (the
/// candidates' sampler states; the leader's `branch` of round `.2`, if that is the round just
/// finished), then the checkpoint with `model`'s training state (atomically), then the removal
/// of the files the previous checkpoint named.
pub(super) fn write_search_checkpoint(
    dir: Option<&Path>,
    model: &TrainedModel,
    mut ck: Checkpoint,
    net: &Supernet,
    branch: Option<&LeaderBranch>,
) -> Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    let n = ck.next_round;
    let mut states = net.sampler_states();
    if let Some(sampler) = branch.and_then(|b| b.sampler.clone()) {
        states.push((BRANCH_SAMPLER_KEY.to_owned(), sampler));
    }
    if !states.is_empty() {
        let file = samplers_file(n);
        write_sampler_states(&dir.join(&file), &states)?;
        ck.sampler_states = Some(file);
    }
    let new_branch = branch.is_some_and(|b| b.round + 1 == n);
    if let Some(b) = branch {
        let file = branch_file(b.round);
        if new_branch {
            b.state
                .write(&dir.join(&file), &serde_json::json!({ "epoch": b.epoch }))?;
        }
        ck.branch = Some((file, b.epoch));
    }
    let meta =
        serde_json::to_value(&ck).map_err(|e| TrainError::Config(format!("checkpoint: {e}")))?;
    model
        .training_state()
        .write(&dir.join(AUTOSAMPLE_CHECKPOINT), &meta)?;
    if let Some(previous) = n.checked_sub(1) {
        let _ = std::fs::remove_file(dir.join(samplers_file(previous)));
        if new_branch && let Some(r) = previous.checked_sub(1) {
            let _ = std::fs::remove_file(dir.join(branch_file(r)));
        }
    }
    Ok(())
}

/// Reads a checkpoint and checks that it was written with `settings`.
pub(super) fn load_checkpoint(
    path: &Path,
    settings: &serde_json::Value,
) -> Result<(TrainingState, Checkpoint)> {
    let (state, meta) = TrainingState::read(path)?;
    let ck: Checkpoint = serde_json::from_value(meta).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        message: format!("not an AutoSample checkpoint ({e}); remove it to start over"),
    })?;
    if !same_settings(&ck.settings, settings) {
        return Err(TrainError::Io {
            path: path.to_path_buf(),
            message: "written by a search with other settings; resume with the recorded \
                      settings or remove it to start over"
                .to_owned(),
        });
    }
    // Indexes into the candidate list: a damaged or hand-edited checkpoint is an error here,
    // not an out-of-range panic later.
    if ck.leader >= ck.candidates.len().max(1) || ck.active.len() != ck.candidates.len() {
        return Err(TrainError::Io {
            path: path.to_path_buf(),
            message: format!(
                "inconsistent checkpoint (leader {}, {} activity flags, {} candidates); remove \
                 it to start over",
                ck.leader,
                ck.active.len(),
                ck.candidates.len()
            ),
        });
    }
    Ok((state, ck))
}

/// Whether a checkpoint's recorded settings are `current`. The recorded ones are read through
/// the current config type, so that a setting added since the checkpoint was written compares
/// at its default, which is what the older search ran with.
pub(super) fn same_settings(recorded: &serde_json::Value, current: &serde_json::Value) -> bool {
    serde_json::from_value::<AutoSampleConfig>(recorded.clone())
        .ok()
        .and_then(|c| serde_json::to_value(c).ok())
        .is_some_and(|r| &r == current)
}

/// The leader's branch of an evidence round, kept for `Retrain::Branch`.
pub(super) struct LeaderBranch {
    pub(super) state: TrainingState,
    /// Its sampler's state at the end of the branch, if the sampler keeps one.
    pub(super) sampler: Option<Vec<u8>>,
    /// The epoch the branch ended at.
    pub(super) epoch: usize,
    pub(super) round: usize,
}

/// The key of the leader branch's sampler state in the checkpoint's sampler-state file (not a
/// sampler spec, so it cannot clash with a candidate's).
pub(super) const BRANCH_SAMPLER_KEY: &str = "@leader-branch";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_from_before_a_new_setting_resumes_at_its_default() {
        let current = serde_json::to_value(AutoSampleConfig::default()).unwrap();
        let mut older = current.clone();
        let removed = older["selector"]
            .as_object_mut()
            .unwrap()
            .remove("prune_from_round");
        assert_eq!(removed, Some(serde_json::json!(0)));
        assert!(same_settings(&older, &current));

        let mut other = current.clone();
        other["max_rounds"] = serde_json::json!(3);
        assert!(!same_settings(&other, &current));
        assert!(!same_settings(&serde_json::json!("junk"), &current));
    }
}
