//! `autosample train`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use autosample_data::Dataset;
use autosample_models::{LightGcnConfig, LossEngine, MfConfig, NgcfConfig, OptimizerConfig};
use autosample_samplers::SamplerConfig;
use autosample_train::{ModelConfig, Progress, RunDir, RunFiles, TrainConfig, train};
use serde::{Deserialize, Serialize};

use crate::args::{EngineArg, HyperArgs, ModelArg, OptimizerArg, TrainArgs};
use crate::data_source::DataSpec;
use crate::meta::{build_info, utc_stamp};

/// A run's `config.json`: everything needed to reproduce or re-evaluate it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// The training configuration, fully resolved.
    pub train: TrainConfig,
    /// The data and how it was read.
    pub data: DataSpec,
    /// Versions and commit of the binary that wrote it.
    pub build: serde_json::Value,
    /// Fingerprint of the dataset's splits, checked when the run is resumed or re-evaluated.
    #[serde(default)]
    pub dataset_fingerprint: Option<String>,
}

/// Facts about the dataset a run used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Name.
    pub name: String,
    /// Where it was read from.
    pub source: String,
    /// Fingerprint of the three splits.
    pub fingerprint: String,
    /// How the splits were made.
    pub provenance: autosample_data::SplitProvenance,
    /// Users.
    pub n_users: usize,
    /// Items.
    pub n_items: usize,
    /// Interactions per split.
    pub interactions: BTreeMap<String, usize>,
}

impl DatasetInfo {
    /// Describes `d`.
    pub fn of(d: &Dataset) -> Self {
        Self {
            name: d.name.clone(),
            source: d.source.clone(),
            fingerprint: d.fingerprint(),
            provenance: d.provenance.clone(),
            n_users: d.n_users(),
            n_items: d.n_items(),
            interactions: [
                ("train", d.train.nnz()),
                ("valid", d.valid.nnz()),
                ("test", d.test.nnz()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        }
    }
}

/// A run's `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Versions and commit.
    pub build: serde_json::Value,
    /// Root seed.
    pub seed: u64,
    /// The dataset.
    pub dataset: DatasetInfo,
    /// Model name.
    pub model: String,
    /// Sampler spec.
    pub sampler: String,
    /// Epoch whose parameters were kept (best validation).
    pub best_epoch: usize,
    /// Epochs run.
    pub epochs_run: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Validation metrics of the kept parameters.
    pub valid: BTreeMap<String, f64>,
    /// Test metrics of the kept parameters (test read once, at the end).
    pub test: BTreeMap<String, f64>,
    /// Users evaluated in test.
    pub test_users: usize,
    /// Timing.
    pub timing: Timing,
    /// Seconds since the Unix epoch when the run finished.
    pub finished_at_unix: u64,
}

/// Where the time went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    /// Sampling and model steps.
    pub train_seconds: f64,
    /// Validation evaluations.
    pub eval_seconds: f64,
    /// Loading or generating the data.
    pub data_seconds: f64,
    /// The whole command: the process that finished the run (a resumed run's earlier
    /// processes are in `train_seconds` and `eval_seconds`, not here).
    pub total_seconds: f64,
    /// Training triples processed.
    pub triplets: u64,
    /// Training triples per second (sampling included, evaluation excluded).
    pub triplets_per_sec: f64,
    /// Where the training seconds went.
    #[serde(default)]
    pub breakdown: autosample_train::TimeBreakdown,
}

/// The training config of the flags: `--config` (if any) overridden by each flag given,
/// `sampler` included (`None`: the config's sampler, uniform without one). A flag left out
/// keeps the config's value, the model and the sampler too.
pub fn resolve_config(args: &HyperArgs, sampler: Option<&str>) -> Result<TrainConfig> {
    let mut cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<TrainConfig>(&text).with_context(|| {
                format!(
                    "{}: not a valid training config (the `train` object of a run's config.json; \
                     unknown keys are rejected)",
                    path.display()
                )
            })?
        }
        None => TrainConfig::default(),
    };
    // A --model flag replaces the config's model only when it names another one, so that the
    // file's settings of that model (dim, layers, ...) are kept.
    match (args.model, &cfg.model) {
        (None, _)
        | (Some(ModelArg::Mf), ModelConfig::Mf(_))
        | (Some(ModelArg::Lightgcn), ModelConfig::LightGcn(_))
        | (Some(ModelArg::Ngcf), ModelConfig::Ngcf(_)) => {}
        (Some(ModelArg::Mf), _) => cfg.model = ModelConfig::Mf(MfConfig::default()),
        (Some(ModelArg::Lightgcn), _) => {
            cfg.model = ModelConfig::LightGcn(LightGcnConfig::default())
        }
        (Some(ModelArg::Ngcf), _) => cfg.model = ModelConfig::Ngcf(NgcfConfig::default()),
    }
    if let (ModelConfig::Ngcf(_), Some(_)) = (&cfg.model, args.init_std) {
        bail!("--init-std does not apply to ngcf, which initialises with Xavier-uniform");
    }
    let mut ngcf_init_std = 0.0f32;
    // The hyperparameters every embedding model shares.
    let (dim, init_std, l2, optimizer, engine) = match &mut cfg.model {
        ModelConfig::Mf(c) => (
            &mut c.dim,
            &mut c.init_std,
            &mut c.l2,
            &mut c.optimizer,
            &mut c.engine,
        ),
        ModelConfig::LightGcn(c) => (
            &mut c.dim,
            &mut c.init_std,
            &mut c.l2,
            &mut c.optimizer,
            &mut c.engine,
        ),
        ModelConfig::Ngcf(c) => (
            &mut c.dim,
            &mut ngcf_init_std,
            &mut c.l2,
            &mut c.optimizer,
            &mut c.engine,
        ),
        _ => bail!("unsupported model"),
    };
    if let Some(e) = args.engine {
        *engine = match e {
            EngineArg::Burn => LossEngine::Burn,
            EngineArg::Native => LossEngine::Native,
        };
    }
    if let Some(d) = args.dim {
        *dim = d;
    }
    if let Some(s) = args.init_std {
        *init_std = s;
    }
    if let Some(v) = args.l2 {
        *l2 = v;
    }
    match (args.optimizer, args.lr) {
        (Some(OptimizerArg::Sgd), lr) => {
            *optimizer = OptimizerConfig::Sgd {
                lr: lr.unwrap_or(0.5),
            };
        }
        (Some(OptimizerArg::Adam), lr) => {
            *optimizer = OptimizerConfig::adam(lr.unwrap_or(1e-3));
        }
        (None, Some(lr)) => match optimizer {
            OptimizerConfig::Adam { lr: l, .. } | OptimizerConfig::Sgd { lr: l } => *l = lr,
        },
        (None, None) => {}
    }
    match (&mut cfg.model, args.layers) {
        (ModelConfig::LightGcn(c), Some(l)) => c.layers = l,
        (ModelConfig::Ngcf(c), Some(l)) => c.layers = l,
        (_, Some(_)) => bail!("--layers applies to graph models (lightgcn, ngcf) only"),
        _ => {}
    }
    if let Some(sampler) = sampler {
        cfg.sampler = sampler
            .parse::<SamplerConfig>()
            .with_context(|| format!("--sampler {sampler:?}"))?;
    }
    macro_rules! set {
        ($($field:ident),*) => {$( if let Some(v) = args.$field.clone() { cfg.$field = v; } )*};
    }
    set!(
        batch_size, epochs, eval_every, patience, negatives, ks, monitor, seed
    );
    cfg.validate()
        .context("checking the training configuration")?;
    Ok(cfg)
}

/// Refuses a model that cannot fit in this machine's memory (a `--dim` typed with an extra
/// digit would otherwise end in an allocation failure, which aborts without a message), from
/// [`ModelConfig::memory_lower_bound`] against `MemTotal` in /proc/meminfo. Where that cannot
/// be read (not Linux), nothing is checked.
///
/// # Errors
/// The estimate, the machine's memory and the fix.
pub fn check_model_fits(cfg: &TrainConfig, dataset: &Dataset) -> Result<()> {
    let Some(total) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| mem_total_bytes(&m))
    else {
        return Ok(());
    };
    let need = cfg
        .model
        .memory_lower_bound(dataset.n_users() + dataset.n_items());
    if need > total {
        let gib = |b: u128| b as f64 / f64::from(1u32 << 30);
        bail!(
            "the model needs at least {:.1} GiB for its tables and their optimizer state ({} users \
             and items × dim {}), more than this machine's {:.1} GiB of memory: lower --dim (or \
             --layers)",
            gib(need),
            dataset.n_users() + dataset.n_items(),
            model_dim(&cfg.model),
            gib(total)
        );
    }
    Ok(())
}

/// The embedding width of a model config.
fn model_dim(model: &ModelConfig) -> usize {
    match model {
        ModelConfig::Mf(c) => c.dim,
        ModelConfig::LightGcn(c) => c.dim,
        ModelConfig::Ngcf(c) => c.dim,
        _ => 0,
    }
}

/// `MemTotal` of a /proc/meminfo text, in bytes.
fn mem_total_bytes(meminfo: &str) -> Option<u128> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs `autosample train`.
pub fn run(args: &TrainArgs, quiet: bool) -> Result<()> {
    let started = Instant::now();
    let resumed: Option<RunConfig> = match &args.resume {
        Some(dir) => {
            super::flags::refuse_beside_resume(
                &args.given,
                &["--resume", "--json"],
                dir,
                RunFiles::CONFIG,
            )?;
            let path = dir.join(RunFiles::CONFIG);
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("{}: cannot read; is this a run directory?", path.display())
            })?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{}: not a run config", path.display()))?,
            )
        }
        None => None,
    };
    let (cfg, spec) = match &resumed {
        Some(rc) => (rc.train.clone(), rc.data.clone()),
        None => (
            resolve_config(&args.hyper, args.sampler.as_deref())?,
            DataSpec::from_args(&args.data, None)?,
        ),
    };
    let t = Instant::now();
    let dataset = spec.load()?;
    let data_seconds = t.elapsed().as_secs_f64();
    check_model_fits(&cfg, &dataset)?;
    tracing::info!(
        dataset = %dataset.name,
        users = dataset.n_users(),
        items = dataset.n_items(),
        train = dataset.train.nnz(),
        valid = dataset.valid.nnz(),
        test = dataset.test.nnz(),
        "data ready in {data_seconds:.2}s"
    );

    let build = serde_json::to_value(build_info())?;
    let (out, mut run_dir) = match (&args.resume, &resumed) {
        (Some(dir), Some(rc)) => {
            if let Some(fp) = rc
                .dataset_fingerprint
                .as_ref()
                .filter(|fp| **fp != dataset.fingerprint())
            {
                bail!(
                    "{}: the data now reads differently from when the run started (fingerprint \
                     {} vs {}); the run cannot be resumed on other data",
                    dir.display(),
                    dataset.fingerprint(),
                    fp
                );
            }
            (dir.clone(), RunDir::resume(dir)?)
        }
        _ => {
            let out = args.out.clone().unwrap_or_else(|| {
                let (_, stamp) = utc_stamp();
                PathBuf::from("runs").join(format!(
                    "{}-{}-{}-{stamp}",
                    dataset.name,
                    cfg.model.name(),
                    cfg.sampler.spec().replace([':', ',', '='], "_")
                ))
            });
            if args.overwrite {
                // A search replaced by this run must not be inspected or resumed in its place.
                crate::commands::search::remove_search_files(&out);
            }
            let run_dir = RunDir::create(&out, args.overwrite)?;
            run_dir.write_json(
                RunFiles::CONFIG,
                &RunConfig {
                    train: cfg.clone(),
                    data: spec,
                    build: build.clone(),
                    dataset_fingerprint: Some(dataset.fingerprint()),
                },
            )?;
            (out, run_dir)
        }
    };

    let progress = if quiet {
        Progress::Quiet
    } else {
        Progress::Bar
    };
    let outcome = train(&dataset, &cfg, Some(&mut run_dir), progress)
        .with_context(|| format!("training (run directory {})", out.display()))?;

    let summary = Summary {
        build,
        seed: cfg.seed,
        dataset: DatasetInfo::of(&dataset),
        model: cfg.model.name().to_owned(),
        sampler: cfg.sampler.spec(),
        best_epoch: outcome.best_epoch,
        epochs_run: outcome.epochs_run,
        stopped_early: outcome.stopped_early,
        valid: outcome.best_valid.to_map(),
        test: outcome
            .test
            .as_ref()
            .map(|t| t.to_map())
            .unwrap_or_default(),
        test_users: outcome.test.as_ref().map_or(0, |t| t.n_users),
        timing: Timing {
            train_seconds: outcome.train_seconds,
            eval_seconds: outcome.eval_seconds,
            data_seconds,
            total_seconds: started.elapsed().as_secs_f64(),
            triplets: outcome.triplets,
            triplets_per_sec: outcome.triplets_per_sec(),
            breakdown: outcome.breakdown,
        },
        finished_at_unix: utc_stamp().0,
    };
    run_dir.write_json(RunFiles::SUMMARY, &summary)?;

    if args.json {
        out!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary, &out);
    }
    Ok(())
}

fn print_summary(s: &Summary, out: &std::path::Path) {
    out!("run        {}", out.display());
    out!(
        "data       {} ({} users, {} items; fingerprint {})",
        s.dataset.name,
        s.dataset.n_users,
        s.dataset.n_items,
        s.dataset.fingerprint
    );
    out!(
        "model      {} with sampler {} (seed {})",
        s.model,
        s.sampler,
        s.seed
    );
    out!(
        "epochs     {} run, best {}{}",
        s.epochs_run,
        s.best_epoch,
        if s.stopped_early {
            " (early stopped)"
        } else {
            ""
        }
    );
    out!(
        "speed      {:.0} triplets/s; train {:.1}s, eval {:.1}s, total {:.1}s",
        s.timing.triplets_per_sec,
        s.timing.train_seconds,
        s.timing.eval_seconds,
        s.timing.total_seconds
    );
    out!("{:<14} {:>10} {:>10}", "metric", "valid", "test");
    for (name, v) in &s.valid {
        let t = s.test.get(name).copied().unwrap_or(f64::NAN);
        out!("{name:<14} {v:>10.4} {t:>10.4}");
    }
}
