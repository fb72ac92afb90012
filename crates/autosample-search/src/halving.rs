//! Successive halving: from scratch, the second baseline of the search (issue 7, part 5); from
//! a short supernet warm-up, one of the selector rules (part 3).
//!
//! Every candidate starts from the same state ([`HalvingStart`]: the initialisation, or the
//! model after a few equal-weight supernet epochs) and trains `first_epochs`; the better
//! half on validation (rounded up) continues, each from its own state, for twice as many
//! epochs; and so on until one is left, which then trains on to early stopping. The test split
//! is read once, for that final model.

use std::path::Path;
use std::time::Instant;

use autosample_data::Dataset;
use autosample_models::TrainingState;
use autosample_samplers::{SamplerConfig, read_sampler_state, write_sampler_state};
use autosample_train::{
    Progress, Result, TrainConfig, TrainError, TrainOptions, TrainedModel, WarmStart, derive_seed,
    train_with,
};
use serde::{Deserialize, Serialize};

use crate::{SearchSpace, Supernet};

/// Where every candidate's copy starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HalvingStart {
    /// The same fresh initialisation (the baseline).
    Init,
    /// The model after `epochs` supernet epochs over every candidate with equal weights
    /// (optimizer state kept): a common *early* state (method reference §3.4).
    SupernetWarmup {
        /// Supernet epochs.
        epochs: usize,
    },
}

/// One rung of successive halving.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rung {
    /// Rung (0-based).
    pub rung: usize,
    /// Epochs each survivor trained in this rung.
    pub epochs: usize,
    /// Per survivor: spec and validation metric after the rung.
    pub values: Vec<(String, f64)>,
    /// Specs dropped after this rung.
    pub dropped: Vec<String>,
}

/// The result of successive halving.
#[derive(Debug, Clone, Serialize)]
pub struct HalvingOutcome {
    /// The last candidate standing.
    pub chosen: String,
    /// Every rung.
    pub rungs: Vec<Rung>,
    /// Where the copies started.
    pub start: HalvingStart,
    /// Supernet warm-up epochs (0 from the initialisation).
    pub warmup_epochs: usize,
    /// Epochs of the final training to early stopping.
    pub final_epochs: usize,
    /// Epochs over the warm-up, all rungs and the final training.
    pub total_epochs: usize,
    /// Validation metrics of the final model.
    pub valid: std::collections::BTreeMap<String, f64>,
    /// Test metrics of the final model: the only read of the test split.
    pub test: std::collections::BTreeMap<String, f64>,
    /// Seconds.
    pub seconds: f64,
    /// The final model.
    #[serde(skip)]
    pub model: Option<TrainedModel>,
}

/// The checkpoint [`successive_halving_in`] writes after every rung (the survivors' states
/// go to `halving-r<rung>-<k>.state` beside it).
pub const HALVING_CHECKPOINT: &str = "halving.json";

/// What a halving checkpoint holds: the rungs so far and which candidates survive, each with
/// its state in its own file.
#[derive(Serialize, Deserialize)]
struct Checkpoint {
    first_epochs: usize,
    start: HalvingStart,
    rung: usize,
    epochs: usize,
    rungs: Vec<Rung>,
    survivors: Vec<usize>,
    state_files: Vec<String>,
    /// Per survivor, the file of its sampler's state, if its sampler keeps one.
    #[serde(default)]
    sampler_files: Vec<Option<String>>,
    total_epochs: usize,
    warmup_epochs: usize,
    seconds: f64,
}

/// Runs successive halving over the initial candidates of `space`, rungs starting at
/// `first_epochs` and doubling; `base` gives everything else (its `epochs`, `eval_every` and
/// `patience` govern the final training).
///
/// # Errors
/// A training error, naming the candidate.
pub fn successive_halving(
    dataset: &Dataset,
    space: &SearchSpace,
    base: &TrainConfig,
    first_epochs: usize,
    start: HalvingStart,
    progress: Progress,
) -> Result<HalvingOutcome> {
    successive_halving_in(dataset, space, base, first_epochs, start, progress, None)
}

/// As [`successive_halving`], checkpointing into `dir` after every rung and continuing from
/// the checkpoint found there (the same outcome as an uninterrupted run: the survivors' model
/// and sampler states are saved).
///
/// # Errors
/// As [`successive_halving`]; a checkpoint that cannot be read or was written with other
/// settings.
#[allow(clippy::too_many_arguments)]
pub fn successive_halving_in(
    dataset: &Dataset,
    space: &SearchSpace,
    base: &TrainConfig,
    first_epochs: usize,
    start: HalvingStart,
    progress: Progress,
    dir: Option<&Path>,
) -> Result<HalvingOutcome> {
    let started = Instant::now();
    let candidates = space.initial_candidates();
    let ckpt = dir.map(|d| d.join(HALVING_CHECKPOINT));
    if let Some(path) = ckpt.as_deref().filter(|p| p.exists()) {
        let (ck, survivors) = load_checkpoint(path, candidates, first_epochs, start)?;
        return run_rungs(
            dataset,
            candidates,
            base,
            progress,
            dir,
            Resume {
                survivors,
                rungs: ck.rungs,
                total_epochs: ck.total_epochs,
                epochs: ck.epochs,
                rung: ck.rung,
                warmup_epochs: ck.warmup_epochs,
                first_epochs,
                start,
                earlier_seconds: ck.seconds,
                started,
            },
        );
    }
    let (common, sampler_states, warmup_epochs) = match start {
        HalvingStart::Init => (None, vec![None; candidates.len()], 0),
        HalvingStart::SupernetWarmup { epochs } => {
            let mut net = Supernet::new(candidates, derive_seed(base.seed, "halving-warmup", 0))?;
            let mut model = TrainedModel::new(
                &base.model,
                &dataset.train,
                derive_seed(base.seed, "init", 0),
            )?;
            net.warm_up(
                &mut model,
                &dataset.train,
                base.batch_size,
                base.negatives,
                epochs,
                base.epochs,
            )?;
            // Each copy continues its candidate's sampler as the warm-up left it.
            let states = (0..candidates.len())
                .map(|i| net.sampler_state_of(i))
                .collect();
            (Some(model.training_state()), states, epochs)
        }
    };
    run_rungs(
        dataset,
        candidates,
        base,
        progress,
        dir,
        Resume {
            survivors: sampler_states
                .into_iter()
                .enumerate()
                .map(|(i, sampler)| (i, common.clone(), sampler))
                .collect(),
            rungs: Vec::new(),
            total_epochs: warmup_epochs,
            epochs: first_epochs.max(1),
            rung: 0,
            warmup_epochs,
            first_epochs,
            start,
            earlier_seconds: 0.0,
            started,
        },
    )
}

/// A candidate still in the running, with its model state (none before its first rung from
/// the initialisation) and its sampler's state (for samplers that keep one).
type Survivor = (usize, Option<TrainingState>, Option<Vec<u8>>);

/// Where the rungs start from: the beginning, or a checkpoint.
struct Resume {
    survivors: Vec<Survivor>,
    rungs: Vec<Rung>,
    total_epochs: usize,
    epochs: usize,
    rung: usize,
    warmup_epochs: usize,
    first_epochs: usize,
    start: HalvingStart,
    earlier_seconds: f64,
    started: Instant,
}

fn run_rungs(
    dataset: &Dataset,
    candidates: &[SamplerConfig],
    base: &TrainConfig,
    progress: Progress,
    dir: Option<&Path>,
    from: Resume,
) -> Result<HalvingOutcome> {
    let Resume {
        mut survivors,
        mut rungs,
        mut total_epochs,
        mut epochs,
        mut rung,
        warmup_epochs,
        first_epochs,
        start,
        earlier_seconds,
        started,
    } = from;
    let elapsed = || earlier_seconds + started.elapsed().as_secs_f64();
    let first = first_epochs.max(1);
    while survivors.len() > 1 {
        let trained = trained_before_rung(first, rung, base.epochs);
        let length = rung_length(first, rung, base.epochs);
        if length == 0 {
            // Every survivor has trained a whole training (--epochs) since the common start:
            // more rungs would train past it. The best of the last rung wins (survivors are
            // kept best first).
            break;
        }
        let mut scored: Vec<(usize, f64, TrainingState, Option<Vec<u8>>)> = Vec::new();
        for (i, state, sampler_state) in survivors.drain(..) {
            let cfg = TrainConfig {
                sampler: candidates[i].clone(),
                epochs: length,
                eval_every: length,
                patience: 0,
                seed: derive_seed(base.seed, "halving", rung as u64),
                ..base.clone()
            };
            let options = TrainOptions {
                warm_start: state.map(|state| WarmStart {
                    state,
                    keep_optimizer: true,
                    start_competes: false,
                }),
                read_test: false,
                // Each copy continues its own run: the warm-up and earlier rungs came first.
                schedule_offset: warmup_epochs + trained,
                schedule_total: Some(base.epochs),
                sampler_state,
                return_sampler_state: true,
            };
            let out = train_with(dataset, &cfg, None, progress, &options).map_err(|e| {
                TrainError::Config(format!("candidate `{}`: {e}", candidates[i].spec()))
            })?;
            total_epochs += out.epochs_run;
            let value = out.best_valid.get(&base.monitor).unwrap_or(f64::NAN);
            scored.push((i, value, out.model.training_state(), out.sampler_state));
        }
        // Best first; ties keep space order.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let keep = scored.len().div_ceil(2);
        let values = scored
            .iter()
            .map(|(i, v, _, _)| (candidates[*i].spec(), *v))
            .collect();
        let dropped = scored[keep..]
            .iter()
            .map(|(i, _, _, _)| candidates[*i].spec())
            .collect();
        rungs.push(Rung {
            rung,
            epochs: length,
            values,
            dropped,
        });
        survivors = scored
            .into_iter()
            .take(keep)
            .map(|(i, _, s, sampler)| (i, Some(s), sampler))
            .collect();
        epochs = epochs.saturating_mul(2);
        rung += 1;
        if let Some(dir) = dir {
            write_checkpoint(
                dir,
                candidates,
                &survivors,
                Checkpoint {
                    first_epochs,
                    start,
                    rung,
                    epochs,
                    rungs: rungs.clone(),
                    survivors: survivors.iter().map(|(i, _, _)| *i).collect(),
                    state_files: Vec::new(),
                    sampler_files: Vec::new(),
                    total_epochs,
                    warmup_epochs,
                    seconds: elapsed(),
                },
            )?;
        }
        if std::env::var("AUTOSAMPLE_TEST_ABORT_AFTER_ROUND")
            .ok()
            .as_deref()
            == Some((rung - 1).to_string().as_str())
        {
            // Test hook: die like a killed process right after the rung's checkpoint.
            std::process::abort();
        }
    }
    if survivors.is_empty() {
        return Err(TrainError::Config(
            "the search space has no candidate".to_owned(),
        ));
    }
    let (winner, state, sampler_state) = survivors.swap_remove(0);
    // The winner trains on to early stopping, but not past a whole training (--epochs) since
    // the common start; at least one epoch, so that its final model is evaluated as any is.
    let trained = trained_before_rung(first, rung, base.epochs);
    let cfg = TrainConfig {
        sampler: candidates[winner].clone(),
        seed: derive_seed(base.seed, "halving", rung as u64),
        epochs: base.epochs.saturating_sub(trained).max(1),
        ..base.clone()
    };
    let options = TrainOptions {
        warm_start: state.map(|state| WarmStart {
            state,
            keep_optimizer: true,
            start_competes: true,
        }),
        read_test: true,
        schedule_offset: warmup_epochs + trained,
        schedule_total: Some(base.epochs),
        sampler_state,
        return_sampler_state: false,
    };
    let out = train_with(dataset, &cfg, None, progress, &options)?;
    total_epochs += out.epochs_run;
    let test = out.test.as_ref().map(|t| t.to_map()).ok_or_else(|| {
        TrainError::Config("the final training did not read the test split".to_owned())
    })?;
    Ok(HalvingOutcome {
        chosen: candidates[winner].spec(),
        rungs,
        start,
        warmup_epochs,
        final_epochs: out.epochs_run,
        total_epochs,
        valid: out.best_valid.to_map(),
        test,
        seconds: elapsed(),
        model: Some(out.model),
    })
}

/// Epochs rung `rung` trains each survivor: `first · 2^rung`, less whatever would take a copy
/// past `max_epochs` (the training's `--epochs`) since the common start; 0 once a copy has
/// trained that long. Without the cap the rungs of a large space outlast a whole training.
fn rung_length(first: usize, rung: usize, max_epochs: usize) -> usize {
    doubled(first, rung)
        .min(max_epochs.saturating_sub(trained_before_rung(first, rung, max_epochs)))
}

/// Epochs each survivor entering rung `rung` has trained since the common start: the sum of
/// the earlier rungs' [`rung_length`] (`first · (2^rung − 1)` while no rung is capped).
fn trained_before_rung(first: usize, rung: usize, max_epochs: usize) -> usize {
    (0..rung).fold(0, |trained: usize, r| {
        trained + doubled(first, r).min(max_epochs.saturating_sub(trained))
    })
}

/// `first · 2^rung`, saturating.
fn doubled(first: usize, rung: usize) -> usize {
    u32::try_from(rung)
        .ok()
        .and_then(|r| first.checked_mul(1usize.checked_shl(r)?))
        .unwrap_or(usize::MAX)
}

/// The file of survivor `k`'s model (`"state"`) or sampler (`"sampler"`) state after `rung`.
fn rung_file(rung: usize, k: usize, kind: &str) -> String {
    format!("halving-r{rung}-{k}.{kind}")
}

/// Writes the survivors' states (named by rung), then the checkpoint that lists them (the
/// commit point), then removes the previous rung's state files.
fn write_checkpoint(
    dir: &Path,
    candidates: &[SamplerConfig],
    survivors: &[Survivor],
    mut ck: Checkpoint,
) -> Result<()> {
    let io = |path: &Path, e: String| TrainError::Io {
        path: path.to_path_buf(),
        message: e,
    };
    for (k, (i, state, sampler)) in survivors.iter().enumerate() {
        let name = rung_file(ck.rung, k, "state");
        if let Some(state) = state {
            state.write(&dir.join(&name), &serde_json::Value::Null)?;
        }
        ck.state_files.push(name);
        let sampler_file = match sampler {
            Some(bytes) => {
                let name = rung_file(ck.rung, k, "sampler");
                write_sampler_state(&dir.join(&name), &candidates[*i].spec(), bytes)?;
                Some(name)
            }
            None => None,
        };
        ck.sampler_files.push(sampler_file);
    }
    let path = dir.join(HALVING_CHECKPOINT);
    let text = serde_json::to_vec_pretty(&ck).map_err(|e| io(&path, e.to_string()))?;
    autosample_data::write_atomic(&path, &text)
        .map_err(|e| io(&path, format!("could not write: {e}")))?;
    if ck.rung > 0 {
        for k in 0.. {
            let old = dir.join(rung_file(ck.rung - 1, k, "state"));
            let _ = std::fs::remove_file(dir.join(rung_file(ck.rung - 1, k, "sampler")));
            if std::fs::remove_file(&old).is_err() {
                break;
            }
        }
    }
    Ok(())
}

/// Reads a checkpoint and the survivors' states; refuses one written with other settings.
fn load_checkpoint(
    path: &Path,
    candidates: &[SamplerConfig],
    first_epochs: usize,
    start: HalvingStart,
) -> Result<(Checkpoint, Vec<Survivor>)> {
    let bad = |m: String| TrainError::Io {
        path: path.to_path_buf(),
        message: m,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("could not read: {e}")))?;
    let ck: Checkpoint = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "not a halving checkpoint ({e}); remove it to start over"
        ))
    })?;
    if ck.first_epochs != first_epochs || ck.start != start {
        return Err(bad(
            "written by a search with other settings; resume with the recorded settings or \
             remove it to start over"
                .to_owned(),
        ));
    }
    if let Some(i) = ck.survivors.iter().find(|&&i| i >= candidates.len()) {
        return Err(bad(format!(
            "names candidate {i} of a space with {}; remove it to start over",
            candidates.len()
        )));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut survivors = Vec::new();
    for (k, (i, name)) in ck.survivors.iter().zip(&ck.state_files).enumerate() {
        let (state, _) = TrainingState::read(&dir.join(name))?;
        let sampler = match ck.sampler_files.get(k).cloned().flatten() {
            Some(file) => Some(read_sampler_state(&dir.join(file), &candidates[*i].spec())?),
            None => None,
        };
        survivors.push((*i, Some(state), sampler));
    }
    Ok((ck, survivors))
}
