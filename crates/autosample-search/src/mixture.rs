//! `--final mixture`: the final model trains through the supernet with the search's last
//! weights held fixed, instead of with the argmax sampler alone (issue 7, part 6). The
//! benchmark measures it against the argmax retrain.

use std::collections::BTreeMap;

use autosample_data::Dataset;
use autosample_models::TrainingState;
use autosample_train::{EarlyStopping, Result, TrainConfig, TrainedModel, test_report, validate};

use crate::Supernet;

/// What the mixture retrain produced.
pub struct MixtureRetrain {
    /// The model at its best validation epoch.
    pub model: TrainedModel,
    /// Epochs run.
    pub epochs_run: usize,
    /// Best epoch (1-based, 0 if no evaluation improved on the start).
    pub best_epoch: usize,
    /// Validation metrics at the best epoch.
    pub valid: BTreeMap<String, f64>,
    /// Test metrics of the best model: the only read of the test split.
    pub test: BTreeMap<String, f64>,
    /// (epoch, monitored metric) at every evaluation, epoch 0 being the start.
    pub curve: Vec<(usize, f64)>,
}

/// Trains `model` through `net` with `weights` fixed, evaluating on validation every
/// `base.eval_every` epochs and stopping after `base.patience` evaluations without gain (or at
/// `base.epochs`); the best state is kept, and the test split is read once for it. Epoch
/// indices continue from `first_epoch` so that samplers with schedules see the search's time.
///
/// # Errors
/// A training or evaluation error; [`TrainError::Config`] for an unknown monitor.
pub fn retrain_mixture(
    dataset: &Dataset,
    net: &mut Supernet,
    mut model: TrainedModel,
    weights: &[f64],
    base: &TrainConfig,
    first_epoch: usize,
) -> Result<MixtureRetrain> {
    let every = base.eval_every.max(1);
    let total = base.epochs;
    let mut stopping = EarlyStopping::new(base.patience);
    let (start_value, mut best_valid) = validate(&mut model, dataset, &base.ks, &base.monitor)?;
    stopping.observe(start_value);
    let mut curve = vec![(0, start_value)];
    let mut best_state: TrainingState = model.training_state();
    let mut best_epoch = 0;
    let mut epochs_run = 0;
    for e in 0..base.epochs {
        net.train_epoch(
            &mut model,
            &dataset.train,
            base.batch_size,
            base.negatives,
            weights,
            first_epoch + e,
            total,
        )?;
        epochs_run += 1;
        if (e + 1) % every == 0 || e + 1 == base.epochs {
            let (value, valid) = validate(&mut model, dataset, &base.ks, &base.monitor)?;
            curve.push((e + 1, value));
            if stopping.observe(value) {
                best_valid = valid;
                best_state = model.training_state();
                best_epoch = e + 1;
            } else if stopping.exhausted() {
                break;
            }
        }
    }
    model.restore(best_state)?;
    let test = test_report(&mut model, dataset, &base.ks)?.to_map();
    let best_valid = best_valid.to_map();
    Ok(MixtureRetrain {
        model,
        epochs_run,
        best_epoch,
        valid: best_valid,
        test,
        curve,
    })
}
