//! The training loop.

use std::time::Instant;

use autosample_data::{Dataset, Interactions, ItemId, UserId};
use autosample_metrics::{EvalOptions, EvalReport, RankingScorer, evaluate};
use autosample_models::{
    AuxiliaryTerm, EmbeddingTable, LightGcn, Mf, MixedNegatives, Ngcf, Recommender, StepStats,
    StepTimings, TrainBatch, TrainingState, checkpoint,
};
use autosample_samplers::{
    Negatives, PairBatch, SampleContext, SamplerRng, Scorer, read_sampler_state,
    write_sampler_state,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::config::parse_monitor;
use crate::{
    ModelConfig, Progress, Result, RunDir, RunFiles, TrainConfig, TrainError, derive_seed,
};

/// A trained model of any kind.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TrainedModel {
    /// Matrix factorisation.
    Mf(Box<Mf>),
    /// LightGCN.
    LightGcn(Box<LightGcn>),
    /// NGCF.
    Ngcf(Box<Ngcf>),
}

impl TrainedModel {
    /// A fresh model for the dataset's id space (graph models build their graph from `train`).
    pub fn new(config: &ModelConfig, train: &Interactions, seed: u64) -> Result<Self> {
        Ok(match config {
            ModelConfig::Mf(c) => TrainedModel::Mf(Box::new(Mf::new(
                train.n_users(),
                train.n_items(),
                c.clone(),
                seed,
            )?)),
            ModelConfig::LightGcn(c) => {
                TrainedModel::LightGcn(Box::new(LightGcn::new(train, c.clone(), seed)?))
            }
            ModelConfig::Ngcf(c) => {
                TrainedModel::Ngcf(Box::new(Ngcf::new(train, c.clone(), seed)?))
            }
        })
    }

    /// The model behind its [`Recommender`] interface.
    pub fn recommender(&self) -> &dyn Recommender {
        match self {
            TrainedModel::Mf(m) => m.as_ref(),
            TrainedModel::LightGcn(m) => m.as_ref(),
            TrainedModel::Ngcf(m) => m.as_ref(),
        }
    }

    /// The model behind its [`Recommender`] interface, mutably.
    pub fn recommender_mut(&mut self) -> &mut dyn Recommender {
        match self {
            TrainedModel::Mf(m) => m.as_mut(),
            TrainedModel::LightGcn(m) => m.as_mut(),
            TrainedModel::Ngcf(m) => m.as_mut(),
        }
    }

    /// Brings derived embeddings up to date with the parameters (graph propagation); call
    /// before sampling with the model or evaluating it. A no-op for MF.
    pub fn refresh(&mut self) {
        self.recommender_mut().refresh();
    }

    /// The model's full-ranking scorer (call [`TrainedModel::refresh`] first).
    pub fn scorer(&self) -> &dyn RankingScorer {
        self.recommender()
    }

    /// The model as hard-negative samplers see it (call [`TrainedModel::refresh`] first).
    pub fn sampler_view(&self) -> &dyn Scorer {
        self.recommender()
    }

    /// What a sampler that scores gets to see: the model, refreshed; `None` for one that does
    /// not score (it never pays for a propagation).
    fn scorer_for(&mut self, needs_scorer: bool) -> Option<&dyn Scorer> {
        needs_scorer.then(|| {
            self.refresh();
            self.sampler_view()
        })
    }

    /// The gradients of the last step's auxiliary terms with respect to their samplers'
    /// parameters, one per term in order, once (see [`TrainBatch::auxiliary`]).
    pub fn take_auxiliary_gradient(&mut self) -> Vec<Vec<f32>> {
        self.recommender_mut().take_auxiliary_gradient()
    }

    /// The learning rate of the model's embedding optimizer (sampler-owned parameters train
    /// with the same rate, as one optimizer would in the reference code).
    pub fn learning_rate(&self) -> f64 {
        self.recommender().learning_rate()
    }

    /// One optimisation step.
    pub fn train_step(&mut self, batch: &TrainBatch<'_>) -> Result<StepStats> {
        Ok(self.recommender_mut().train_step(batch)?)
    }

    /// The trainable user and item tables (what a checkpoint holds: ego embeddings for
    /// graph models).
    pub fn tables(&self) -> (EmbeddingTable, EmbeddingTable) {
        self.recommender().tables()
    }

    /// Loads the model of a finished or interrupted run: `best.state` (everything, written by
    /// [`train`]) when present, else the `best.bpk` embedding tables of MF and LightGCN. Graph
    /// models rebuild their graph from `train`.
    pub fn load(
        config: &ModelConfig,
        run_dir: &std::path::Path,
        train: &Interactions,
    ) -> Result<Self> {
        let state_path = run_dir.join(RunFiles::BEST_STATE);
        if state_path.exists() {
            let (state, _) = TrainingState::read(&state_path)?;
            let mut model = TrainedModel::new(config, train, 0)?;
            model.restore(state)?;
            return Ok(model);
        }
        let path = run_dir.join(RunFiles::BEST);
        let (nu, ni) = (train.n_users(), train.n_items());
        Ok(match config {
            ModelConfig::Mf(c) => {
                let (u, i) = checkpoint::load_tables(&path, nu, ni, c.dim)?;
                TrainedModel::Mf(Box::new(Mf::from_tables(c.clone(), u, i)))
            }
            ModelConfig::LightGcn(c) => {
                let (u, i) = checkpoint::load_tables(&path, nu, ni, c.dim)?;
                TrainedModel::LightGcn(Box::new(LightGcn::from_ego(
                    train,
                    c.clone(),
                    concat_tables(u, i),
                )))
            }
            ModelConfig::Ngcf(_) => {
                return Err(TrainError::Io {
                    path: state_path,
                    message: "missing: an NGCF run keeps its layer weights there".into(),
                });
            }
        })
    }

    /// Parameters and optimizer state, for resuming.
    pub fn training_state(&self) -> TrainingState {
        self.recommender().training_state()
    }

    /// Restores what [`TrainedModel::training_state`] returned.
    pub fn restore(&mut self, state: TrainingState) -> Result<()> {
        Ok(self.recommender_mut().restore(state)?)
    }

    fn timings(&self) -> (StepTimings, f64) {
        self.recommender().timings()
    }
}

/// Users' rows followed by items' rows, as graph models keep them.
fn concat_tables(users: EmbeddingTable, items: EmbeddingTable) -> EmbeddingTable {
    let d = users.dim();
    let rows = users.rows() + items.rows();
    let mut data = users.as_slice().to_vec();
    data.extend_from_slice(items.as_slice());
    EmbeddingTable::from_vec(rows, d, data)
}

/// One epoch of the run, as written to `metrics.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f64,
    /// Mean BPR part of the loss.
    pub bpr: f64,
    /// Mean L2 part of the loss.
    pub reg: f64,
    /// Seconds spent sampling and stepping this epoch.
    pub train_seconds: f64,
    /// Training triples (pair × negative) processed per second this epoch.
    pub triplets_per_sec: f64,
    /// Validation metrics, when this epoch was evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<std::collections::BTreeMap<String, f64>>,
    /// Seconds spent evaluating, when evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_seconds: Option<f64>,
    /// Whether this evaluation was the best so far (the checkpoint was saved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best: Option<bool>,
}

/// The loop's own state saved with the model's at every evaluation (`resume.bin`), so that an
/// interrupted run continues from its last evaluated epoch with the same result as an
/// uninterrupted one: every epoch's shuffle and sampler streams derive from (seed, epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResumeMeta {
    epoch: usize,
    best_epoch: usize,
    best_value: f64,
    best_report: EvalReport,
    since_best: usize,
    history: Vec<EpochRecord>,
    train_seconds: f64,
    eval_seconds: f64,
    sampling_seconds: f64,
    triplets: u64,
    /// The file in the run directory holding the sampler's state at `epoch`
    /// ([`NegativeSampler::save_state`]), for samplers that keep one.
    #[serde(default)]
    sampler_state: Option<String>,
    /// The model's step and propagation seconds up to `epoch` (the processes before this one
    /// included), so a resumed run's breakdown covers the whole run as its sampling does.
    /// Absent in states saved before it was kept: those resume with the later epochs' only.
    #[serde(default)]
    model_seconds: TimeBreakdown,
}

/// The file name of the sampler state saved at evaluation `epoch`: one per evaluation, so that
/// `resume.bin` never names a state of another epoch, whenever the process dies.
fn sampler_state_file(epoch: usize) -> String {
    format!("sampler-e{epoch}.state")
}

/// The result of [`train`].
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The model with the best validation parameters restored.
    pub model: TrainedModel,
    /// Epoch (1-based) whose parameters were kept.
    pub best_epoch: usize,
    /// Validation report of the kept parameters.
    pub best_valid: EvalReport,
    /// Test report of the kept parameters (excluding train and valid positives); the only
    /// time the test split is read. `None` when [`TrainOptions::read_test`] was off.
    pub test: Option<EvalReport>,
    /// Epochs run.
    pub epochs_run: usize,
    /// Whether early stopping ended the run before `epochs`.
    pub stopped_early: bool,
    /// Seconds spent sampling and stepping.
    pub train_seconds: f64,
    /// Seconds spent in validation evaluations.
    pub eval_seconds: f64,
    /// Training triples processed.
    pub triplets: u64,
    /// Every epoch's record.
    pub history: Vec<EpochRecord>,
    /// Where the training time went.
    pub breakdown: TimeBreakdown,
    /// The monitored validation metric of a warm start's starting state ("epoch 0"); `None`
    /// for a fresh start.
    pub start_valid: Option<f64>,
    /// The sampler's state at the end ([`NegativeSampler::save_state`]), for a stage that
    /// continues this one; `None` for samplers that keep none and unless
    /// [`TrainOptions::return_sampler_state`] asked for it.
    pub sampler_state: Option<Vec<u8>>,
}

/// Where the training time went, in seconds over the whole run (every process of a resumed
/// one). `propagation` includes the graph refreshes before each validation, which
/// `train_seconds` does not count.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct TimeBreakdown {
    /// Filling batches and drawing their negatives.
    pub sampling: f64,
    /// Deduplicating the batch's ids and gathering rows.
    pub gather: f64,
    /// The burn loss graph: forward, backward, reading gradients.
    pub loss_graph: f64,
    /// Optimizer updates.
    pub optimizer: f64,
    /// Graph propagation, forward and backward (graph models; 0 for MF).
    #[serde(default)]
    pub propagation: f64,
}

impl TimeBreakdown {
    /// The model's share (everything but sampling) of `model` as timed in this process,
    /// added to `before`'s (the processes before a resume).
    fn model_part(model: &TrainedModel, before: &TimeBreakdown) -> TimeBreakdown {
        let (step, propagation) = model.timings();
        TimeBreakdown {
            sampling: 0.0,
            gather: before.gather + step.gather,
            loss_graph: before.loss_graph + step.loss_graph,
            optimizer: before.optimizer + step.optimizer,
            propagation: before.propagation + propagation,
        }
    }
}

impl TrainOutcome {
    /// Training triples per second over the whole run (sampling included, evaluation not).
    pub fn triplets_per_sec(&self) -> f64 {
        self.triplets as f64 / self.train_seconds.max(1e-9)
    }
}

/// Writes the best checkpoint (tables and full state, tagged with `epoch`) into `run`, if any.
fn save_best(
    run: Option<&mut RunDir>,
    model: &TrainedModel,
    state: &TrainingState,
    epoch: usize,
) -> Result<()> {
    if let Some(run) = run {
        let (u, i) = model.tables();
        checkpoint::save_tables(&run.file(RunFiles::BEST), &u, &i)?;
        state.write(
            &run.file(RunFiles::BEST_STATE),
            &serde_json::json!({ "epoch": epoch }),
        )?;
    }
    Ok(())
}

/// Evaluates `scorer` on `split`, excluding the positives in `exclude`.
pub fn evaluate_model(
    scorer: &dyn RankingScorer,
    split: &Interactions,
    exclude: &[&Interactions],
    ks: &[usize],
) -> Result<EvalReport> {
    let opts = EvalOptions {
        ks: ks.to_vec(),
        ..EvalOptions::default()
    };
    Ok(evaluate(scorer, split, exclude, &opts)?)
}

/// The model's validation report, training positives excluded: the one definition of
/// validation that early stopping, the searches' stages, the mixture retrain and `evaluate`
/// use.
///
/// # Errors
/// An evaluation error.
pub fn valid_report(
    model: &mut TrainedModel,
    dataset: &Dataset,
    ks: &[usize],
) -> Result<EvalReport> {
    model.refresh();
    evaluate_model(model.scorer(), &dataset.valid, &[&dataset.train], ks)
}

/// [`valid_report`] and its `monitor` value, what a training selects on.
///
/// # Errors
/// An evaluation error; [`TrainError::Config`] if `monitor` is not among the metrics at `ks`.
pub fn validate(
    model: &mut TrainedModel,
    dataset: &Dataset,
    ks: &[usize],
    monitor: &str,
) -> Result<(f64, EvalReport)> {
    let report = valid_report(model, dataset, ks)?;
    let value = report.get(monitor).ok_or_else(|| {
        TrainError::Config(format!(
            "monitor {monitor:?} is not among the computed metrics"
        ))
    })?;
    Ok((value, report))
}

/// The model's test report, training and validation positives excluded: a training's only
/// read of the test split, for the state it selected on validation.
///
/// # Errors
/// An evaluation error.
pub fn test_report(
    model: &mut TrainedModel,
    dataset: &Dataset,
    ks: &[usize],
) -> Result<EvalReport> {
    model.refresh();
    evaluate_model(
        model.scorer(),
        &dataset.test,
        &[&dataset.train, &dataset.valid],
        ks,
    )
}

/// Early stopping on a validation metric where higher is better: a training stops once
/// `patience` evaluations in a row have not beaten the best (never with patience 0).
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    patience: usize,
    best: Option<f64>,
    since_best: usize,
}

impl EarlyStopping {
    /// Nothing observed yet.
    pub fn new(patience: usize) -> Self {
        Self {
            patience,
            best: None,
            since_best: 0,
        }
    }

    /// Where a resumed training stood.
    pub fn resumed(patience: usize, best: f64, since_best: usize) -> Self {
        Self {
            patience,
            best: Some(best),
            since_best,
        }
    }

    /// The best value observed so far.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Records an evaluation; `true` if it is the new best (the first always is; a NaN never
    /// beats a number).
    pub fn observe(&mut self, value: f64) -> bool {
        let improved = self.best.is_none_or(|b| value > b);
        if improved {
            self.best = Some(value);
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        improved
    }

    /// Evaluations since the best.
    pub fn since_best(&self) -> usize {
        self.since_best
    }

    /// Whether the patience has run out.
    pub fn exhausted(&self) -> bool {
        self.patience > 0 && self.since_best >= self.patience
    }
}

/// Trains `config.model` with `config.sampler` on `dataset`; see the crate docs for the
/// protocol. When `run` is given, per-epoch records and the best checkpoint are written there.
pub fn train(
    dataset: &Dataset,
    config: &TrainConfig,
    run: Option<&mut RunDir>,
    progress: Progress,
) -> Result<TrainOutcome> {
    train_with(dataset, config, run, progress, &TrainOptions::default())
}

/// Where a warm-started training begins: the parameters of an earlier stage (the search's),
/// with or without that stage's optimizer state.
#[derive(Debug, Clone)]
pub struct WarmStart {
    /// The earlier stage's [`TrainedModel::training_state`]; it must fit the model config and
    /// the data (same shapes), or training stops with an error naming the tensor.
    pub state: TrainingState,
    /// Keep the optimizer's moments and step counts (`true`), or start it fresh (`false`:
    /// [`TrainingState::with_fresh_optimizer`]).
    pub keep_optimizer: bool,
    /// The starting state competes as "epoch 0" in early stopping (`true`: a retrain never
    /// ends below where it began). `false` for a training whose *continuation* is being
    /// measured (an evidence branch, a halving rung): a continuation that got worse must
    /// report the worse value, not the start's.
    pub start_competes: bool,
}

/// Options of [`train_with`] beyond the config.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Start from these parameters instead of a fresh initialisation (ignored when resuming a
    /// run directory, whose own state wins).
    pub warm_start: Option<WarmStart>,
    /// Evaluate the test split at the end (default `true`). Branches that only compare
    /// candidates on validation turn it off, so that selection never computes test metrics.
    pub read_test: bool,
    /// Where the samplers' schedules stand at this training's first epoch: epochs the
    /// parameters have trained before it (a warm start's history). SRNS's and DENS's warm-ups
    /// and CNS's curriculum count from there, so that a continued training sees each sampler
    /// as it would be at that point of one full run.
    pub schedule_offset: usize,
    /// The length of run the schedules are defined over (CNS's curriculum); `None` is this
    /// training's own `epochs`. A short search stage passes the full run's length.
    pub schedule_total: Option<usize>,
    /// The sampler's state to start from ([`NegativeSampler::save_state`] of the stage this
    /// one continues: SRNS's memory and score histories), so that a continued training sees
    /// the sampler as one full run would; `None` starts it fresh.
    pub sampler_state: Option<Vec<u8>>,
    /// Serialise the sampler's state at the end into [`TrainOutcome::sampler_state`]. Only a
    /// stage that another continues asks (a halving rung, the evidence round's leader): SRNS's
    /// state is hundreds of MB on gowalla, a cost every other training would pay for nothing.
    pub return_sampler_state: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            warm_start: None,
            read_test: true,
            schedule_offset: 0,
            schedule_total: None,
            sampler_state: None,
            return_sampler_state: false,
        }
    }
}

/// The best evaluation of a training so far (its value is [`EarlyStopping::best`]).
struct BestEpoch {
    epoch: usize,
    report: EvalReport,
    state: TrainingState,
}

/// [`train`], optionally warm-started and without the final test evaluation.
///
/// # Errors
/// As [`train`]; and [`TrainError::Model`] if the warm-start state does not fit the model.
pub fn train_with(
    dataset: &Dataset,
    config: &TrainConfig,
    mut run: Option<&mut RunDir>,
    progress: Progress,
    options: &TrainOptions,
) -> Result<TrainOutcome> {
    config.validate()?;
    let (metric, _) = parse_monitor(&config.monitor)?;
    let _ = metric;
    let train_split = &dataset.train;
    let pairs: Vec<(UserId, ItemId)> = train_split.pairs().collect();
    if pairs.is_empty() {
        return Err(TrainError::Data {
            name: dataset.name.clone(),
            message: "the training split has no interactions".into(),
        });
    }
    if dataset.valid.nnz() == 0 {
        return Err(TrainError::Data {
            name: dataset.name.clone(),
            message: "the validation split is empty, so early stopping has nothing to select on; \
                      give a valid file or a positive --valid-fraction"
                .into(),
        });
    }

    let mut model = TrainedModel::new(
        &config.model,
        train_split,
        derive_seed(config.seed, "init", 0),
    )?;
    let resuming = run.as_deref().is_some_and(|r| r.is_resuming());
    if let (Some(ws), false) = (&options.warm_start, resuming) {
        let state = if ws.keep_optimizer {
            ws.state.clone()
        } else {
            ws.state.clone().with_fresh_optimizer()
        };
        model.restore(state)?;
    }
    let mut sampler = config.sampler.build();
    if let Some(state) = &options.sampler_state {
        sampler.load_state(state)?;
    }
    let k = config.negatives;
    let n_batches = pairs.len().div_ceil(config.batch_size);
    tracing::info!(
        model = config.model.name(),
        sampler = %config.sampler.spec(),
        pairs = pairs.len(),
        batches = n_batches,
        "training"
    );

    // Named by model and sampler: a search runs many trainings (candidates, branches, rungs,
    // the retrain), and a bar named by the model alone would not say which one is running.
    let bar = progress.bar(
        config.epochs as u64,
        &format!("{} {}", config.model.name(), config.sampler.spec()),
    );
    // Each epoch shuffles the canonical pair order afresh, so that epoch e's batches depend on
    // (seed, e) alone; a resumed run then replays exactly what an uninterrupted one would.
    let mut order = pairs.clone();
    let mut users = Vec::with_capacity(config.batch_size);
    let mut positives = Vec::with_capacity(config.batch_size);
    let mut negatives = Negatives::default();
    let mut history = Vec::new();
    // The best evaluation's epoch, report and state; its value is `stopping.best()`.
    let mut best: Option<BestEpoch> = None;
    let mut stopping = EarlyStopping::new(config.patience);
    let (mut train_seconds, mut eval_seconds, mut triplets) = (0.0, 0.0, 0u64);
    let mut stopped_early = false;
    let mut epochs_run = 0;
    let mut sampling_seconds = 0.0;
    let mut first_epoch = 1;
    let mut model_seconds_before = TimeBreakdown::default();
    let mut start_valid = None;
    let mut saved_sampler_state: Option<String> = None;
    if options
        .warm_start
        .as_ref()
        .is_some_and(|w| w.start_competes)
        && !resuming
    {
        // The starting state is a candidate of its own ("epoch 0"): if no epoch beats it on
        // validation, the model keeps it, so a warm start never ends below where it began
        // (a retrain that only overfits, a curriculum that restarts easy).
        let t = Instant::now();
        let (value, report) = validate(&mut model, dataset, &config.ks, &config.monitor)?;
        eval_seconds += t.elapsed().as_secs_f64();
        stopping.observe(value);
        let state = model.training_state();
        save_best(run.as_deref_mut(), &model, &state, 0)?;
        tracing::info!(valid = value, "warm start: {} = {value:.5}", config.monitor);
        start_valid = Some(value);
        best = Some(BestEpoch {
            epoch: 0,
            report,
            state,
        });
    }
    if let Some(run) = run.as_deref_mut().filter(|r| r.is_resuming()) {
        let path = run.file(RunFiles::STATE);
        let (state, meta) = TrainingState::read(&path)?;
        let meta: ResumeMeta = serde_json::from_value(meta).map_err(|e| TrainError::Io {
            path: path.clone(),
            message: format!("unreadable resume metadata ({e}); start the run again"),
        })?;
        model.restore(state)?;
        let (best_state, _) = TrainingState::read(&run.file(RunFiles::BEST_STATE))?;
        best = Some(BestEpoch {
            epoch: meta.best_epoch,
            report: meta.best_report,
            state: best_state,
        });
        stopping = EarlyStopping::resumed(config.patience, meta.best_value, meta.since_best);
        train_seconds = meta.train_seconds;
        eval_seconds = meta.eval_seconds;
        sampling_seconds = meta.sampling_seconds;
        triplets = meta.triplets;
        epochs_run = meta.epoch;
        first_epoch = meta.epoch + 1;
        run.rewrite_metrics(&meta.history)?;
        history = meta.history;
        tracing::info!(epoch = meta.epoch, "resuming after the last saved epoch");
        match &meta.sampler_state {
            Some(name) => {
                let bytes = read_sampler_state(&run.file(name), &config.sampler.spec())?;
                sampler.load_state(&bytes)?;
            }
            None if sampler.keeps_state() => tracing::warn!(
                sampler = %config.sampler.spec(),
                "this run was saved without its sampler's state (an older version); the state \
                 is rebuilt, so the resumed run will not be identical to an uninterrupted one"
            ),
            None => {}
        }
        saved_sampler_state = meta.sampler_state;
        model_seconds_before = meta.model_seconds;
        if stopping.exhausted() {
            // The last saved epoch was the one that stopped the run (a kill during the final
            // test evaluation, or a resume of a finished run): training is over, and another
            // epoch would give a result the uninterrupted run never had.
            stopped_early = meta.epoch < config.epochs;
            first_epoch = config.epochs + 1;
            tracing::info!(
                epoch = meta.epoch,
                "the run had stopped early at its last epoch"
            );
        }
    }
    let abort_after: Option<usize> = std::env::var("AUTOSAMPLE_TEST_ABORT_AFTER_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok());

    bar.set_position(first_epoch as u64 - 1);
    for epoch in first_epoch..=config.epochs {
        let started = Instant::now();
        let mut shuffle_rng =
            SamplerRng::seed_from_u64(derive_seed(config.seed, "shuffle", epoch as u64));
        order.copy_from_slice(&pairs);
        order.shuffle(&mut shuffle_rng);
        let mut rng = SamplerRng::seed_from_u64(derive_seed(config.seed, "sampler", epoch as u64));
        let (mut loss_sum, mut bpr_sum, mut reg_sum) = (0.0f64, 0.0f64, 0.0f64);
        {
            // Samplers that score (SRNS records score histories here) see the current model.
            let ctx = SampleContext {
                train: train_split,
                scorer: model.scorer_for(sampler.needs_scorer()),
                epoch: options.schedule_offset + epoch - 1,
                total_epochs: options.schedule_total.unwrap_or(config.epochs),
                pool: None,
            };
            sampler.start_epoch(&ctx)?;
        }
        for chunk in order.chunks(config.batch_size) {
            let sampling_started = Instant::now();
            users.clear();
            positives.clear();
            for &(u, i) in chunk {
                users.push(u);
                positives.push(i);
            }
            {
                let ctx = SampleContext {
                    train: train_split,
                    scorer: model.scorer_for(sampler.needs_scorer()),
                    epoch: options.schedule_offset + epoch - 1,
                    total_epochs: options.schedule_total.unwrap_or(config.epochs),
                    pool: None,
                };
                let pairs = PairBatch {
                    users: &users,
                    positives: &positives,
                };
                sampler.sample_batch(&pairs, k, &ctx, &mut rng, &mut negatives)?;
            }
            sampling_seconds += sampling_started.elapsed().as_secs_f64();
            let auxiliary = AuxiliaryTerm::alone(sampler.auxiliary(), users.len());
            let batch = match &negatives {
                Negatives::Items { items, .. } => TrainBatch {
                    pair_weights: None,
                    auxiliary: &auxiliary,
                    users: &users,
                    positives: &positives,
                    negatives: items,
                    mixed: None,
                },
                Negatives::Mixed {
                    k,
                    layers,
                    candidates,
                    pos_weight,
                } => TrainBatch {
                    pair_weights: None,
                    auxiliary: &auxiliary,
                    users: &users,
                    positives: &positives,
                    negatives: &[],
                    mixed: Some(MixedNegatives {
                        k: *k,
                        layers: *layers,
                        candidates,
                        pos_weight,
                    }),
                },
            };
            let stats = model.train_step(&batch)?;
            for grad in model.take_auxiliary_gradient() {
                sampler.apply_auxiliary_gradient(&grad, model.learning_rate());
            }
            let w = chunk.len() as f64;
            loss_sum += stats.loss as f64 * w;
            bpr_sum += stats.bpr as f64 * w;
            reg_sum += stats.reg as f64 * w;
        }
        let n = order.len() as f64;
        let secs = started.elapsed().as_secs_f64();
        train_seconds += secs;
        let epoch_triplets = (order.len() * k) as u64;
        triplets += epoch_triplets;
        epochs_run = epoch;
        let mut record = EpochRecord {
            epoch,
            loss: loss_sum / n,
            bpr: bpr_sum / n,
            reg: reg_sum / n,
            train_seconds: secs,
            triplets_per_sec: epoch_triplets as f64 / secs.max(1e-9),
            valid: None,
            eval_seconds: None,
            best: None,
        };

        let evaluate_now = epoch % config.eval_every == 0 || epoch == config.epochs;
        let mut stop = false;
        if evaluate_now {
            let t = Instant::now();
            let (value, report) = validate(&mut model, dataset, &config.ks, &config.monitor)?;
            let es = t.elapsed().as_secs_f64();
            eval_seconds += es;
            let improved = stopping.observe(value);
            if improved {
                let state = model.training_state();
                save_best(run.as_deref_mut(), &model, &state, epoch)?;
                best = Some(BestEpoch {
                    epoch,
                    report: report.clone(),
                    state,
                });
            }
            tracing::info!(
                epoch,
                loss = record.loss,
                valid = value,
                best = improved,
                "{} = {value:.5}",
                config.monitor
            );
            bar.set_message(format!(
                "loss {:.4}  valid {} {value:.4}  best {:.4}",
                record.loss,
                config.monitor,
                stopping.best().unwrap_or(f64::NAN)
            ));
            record.valid = Some(report.to_map());
            record.eval_seconds = Some(es);
            record.best = Some(improved);
            stop = stopping.exhausted();
        } else {
            bar.set_message(format!("loss {:.4}", record.loss));
        }
        bar.inc(1);
        if let Some(run) = run.as_deref_mut() {
            run.append_metrics(&record)?;
        }
        history.push(record);
        if let (true, Some(run)) = (evaluate_now, run.as_deref_mut()) {
            let (Some(best), Some(best_value)) = (&best, stopping.best()) else {
                unreachable!("an evaluation just ran, so a best exists")
            };
            let sampler_state = match sampler.save_state() {
                Some(bytes) => {
                    let name = sampler_state_file(epoch);
                    write_sampler_state(&run.file(&name), &config.sampler.spec(), &bytes)?;
                    Some(name)
                }
                None => None,
            };
            let meta = ResumeMeta {
                epoch,
                best_epoch: best.epoch,
                best_value,
                best_report: best.report.clone(),
                since_best: stopping.since_best(),
                history: history.clone(),
                train_seconds,
                eval_seconds,
                sampling_seconds,
                triplets,
                sampler_state: sampler_state.clone(),
                model_seconds: TimeBreakdown::model_part(&model, &model_seconds_before),
            };
            let meta = serde_json::to_value(&meta).map_err(|e| TrainError::Io {
                path: run.file(RunFiles::STATE),
                message: e.to_string(),
            })?;
            model
                .training_state()
                .write(&run.file(RunFiles::STATE), &meta)?;
            // resume.bin now names the new sampler state; the previous one is not needed.
            if let Some(old) = saved_sampler_state
                .take()
                .filter(|o| Some(o) != sampler_state.as_ref())
            {
                let _ = std::fs::remove_file(run.file(&old));
            }
            saved_sampler_state = sampler_state;
            // Test hook: die like `kill -9` right after a state was saved.
            if abort_after == Some(epoch) {
                std::process::abort();
            }
        }
        if stop {
            stopped_early = epoch < config.epochs;
            tracing::info!(epoch, patience = config.patience, "early stopping");
            break;
        }
    }
    bar.finish_and_clear();

    let breakdown = TimeBreakdown {
        sampling: sampling_seconds,
        ..TimeBreakdown::model_part(&model, &model_seconds_before)
    };
    let BestEpoch {
        epoch: best_epoch,
        report: best_valid,
        state: best_state,
    } = best.expect("the last epoch is always evaluated, so a best exists");
    model.restore(best_state)?;
    let test = if options.read_test {
        Some(test_report(&mut model, dataset, &config.ks)?)
    } else {
        model.refresh();
        None
    };
    Ok(TrainOutcome {
        model,
        best_epoch,
        best_valid,
        test,
        epochs_run,
        stopped_early,
        train_seconds,
        eval_seconds,
        triplets,
        history,
        breakdown,
        start_valid,
        sampler_state: if options.return_sampler_state {
            sampler.save_state()
        } else {
            None
        },
    })
}
