//! Resolving `--data` and the read flags into a recorded [`DataSpec`], and loading it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use autosample_data::synthetic::{SyntheticConfig, generate};
use autosample_data::{Dataset, FileFormat, LoadOptions, SplitStrategy, load_dataset};
use serde::{Deserialize, Serialize};

use crate::args::{DataArgs, FormatArg, SplitArg};

/// Where a run's data came from, recorded in its config.json so the run can be re-evaluated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataSpec {
    /// The embedded synthetic generator.
    Synthetic {
        /// The generator's configuration (including its seed).
        config: SyntheticConfig,
    },
    /// Files on disk.
    Files {
        /// The directory or file as given.
        path: PathBuf,
        /// How they were read and split.
        load: LoadOptions,
    },
}

impl DataSpec {
    /// Builds the spec from the flags; `recorded` supplies defaults (from a run) for flags not
    /// given.
    pub fn from_args(args: &DataArgs, recorded: Option<&DataSpec>) -> Result<DataSpec> {
        let data = match (&args.data, recorded) {
            (Some(d), _) => d.clone(),
            (None, Some(spec)) => return Ok(spec.clone()),
            (None, None) => "synthetic".to_owned(),
        };
        if let Some(rest) = data.strip_prefix("synthetic") {
            let config = match rest {
                "" => SyntheticConfig::default(),
                ":tiny" => SyntheticConfig::tiny(),
                other => bail!(
                    "unknown synthetic dataset `synthetic{other}`; use `synthetic` (the default) \
                     or `synthetic:tiny`"
                ),
            };
            return Ok(DataSpec::Synthetic { config });
        }
        let mut load = match recorded {
            Some(DataSpec::Files { load, .. }) => load.clone(),
            _ => LoadOptions::default(),
        };
        if let Some(f) = args.format {
            load.format = match f {
                FormatArg::Auto => FileFormat::Auto,
                FormatArg::List => FileFormat::List,
                FormatArg::Pairs => FileFormat::Pairs,
                FormatArg::Recbole => FileFormat::RecBoleInter,
                FormatArg::Movielens => FileFormat::MovieLens,
            };
        }
        if args.header.is_some() {
            load.header = args.header;
        }
        if args.rating_threshold.is_some() {
            load.rating_threshold = args.rating_threshold;
        }
        if let Some(v) = args.valid_fraction {
            load.valid_fraction = v;
        }
        if let Some(v) = args.test_fraction {
            load.test_fraction = v;
        }
        if let Some(s) = args.split {
            load.split = match s {
                SplitArg::Auto => SplitStrategy::Auto,
                SplitArg::Random => SplitStrategy::Random,
                SplitArg::Temporal => SplitStrategy::Temporal,
            };
        }
        if let Some(seed) = args.split_seed {
            load.seed = seed;
        }
        Ok(DataSpec::Files {
            path: PathBuf::from(data),
            load,
        })
    }

    /// Reads or generates the dataset.
    pub fn load(&self) -> Result<Dataset> {
        match self {
            DataSpec::Synthetic { config } => {
                generate(config).context("generating the synthetic dataset")
            }
            DataSpec::Files { path, load } => {
                if !path.exists() {
                    bail!(
                        "{}: no such file or directory; pass --data <dataset dir | file | synthetic>",
                        path.display()
                    );
                }
                load_dataset(path, load).with_context(|| format!("loading {}", path.display()))
            }
        }
    }
}
