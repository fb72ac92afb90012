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
    /// Builds the spec from the flags; `recorded` (a run's spec) supplies the data when
    /// `--data` is not given, and the read options for flags not given. Read flags apply to
    /// files only: with synthetic data (given, recorded or the default) they are an error
    /// rather than silently ignored.
    pub fn from_args(args: &DataArgs, recorded: Option<&DataSpec>) -> Result<DataSpec> {
        let recorded_load = match recorded {
            Some(DataSpec::Files { load, .. }) => Some(load),
            _ => None,
        };
        let (path, base) = match (&args.data, recorded) {
            (Some(d), _) => match synthetic_config(d)? {
                Some(config) => return synthetic(config, d, args),
                // Recorded absolute, so that `--resume`, `evaluate` and `export` (which read
                // the recorded path) work from any working directory.
                None => (
                    std::path::absolute(d).unwrap_or_else(|_| PathBuf::from(d)),
                    recorded_load.cloned().unwrap_or_default(),
                ),
            },
            (None, Some(DataSpec::Files { path, load })) => (path.clone(), load.clone()),
            (None, Some(DataSpec::Synthetic { config })) => {
                return synthetic(config.clone(), "synthetic (as the run recorded)", args);
            }
            (None, None) => {
                return synthetic(SyntheticConfig::default(), "synthetic (no --data)", args);
            }
        };
        Ok(DataSpec::Files {
            path,
            load: apply_read_flags(args, base),
        })
    }

    /// Reads or generates the dataset.
    pub fn load(&self) -> Result<Dataset> {
        match self {
            DataSpec::Synthetic { config } => {
                generate(config).context("generating the synthetic dataset")
            }
            DataSpec::Files { path, load } => {
                if let Err(e) = std::fs::metadata(path) {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        bail!(
                            "{}: no such file or directory; pass --data <dataset dir | file | \
                             synthetic>",
                            path.display()
                        );
                    }
                    bail!("{}: cannot read: {e}", path.display());
                }
                load_dataset(path, load).with_context(|| format!("loading {}", path.display()))
            }
        }
    }
}

/// The generator's config when `data` names it: exactly `synthetic` or `synthetic:<name>`.
/// Anything else, `synthetic-ml1m/` included, is a path.
fn synthetic_config(data: &str) -> Result<Option<SyntheticConfig>> {
    if data == "synthetic" {
        return Ok(Some(SyntheticConfig::default()));
    }
    match data.strip_prefix("synthetic:") {
        None => Ok(None),
        Some("tiny") => Ok(Some(SyntheticConfig::tiny())),
        Some(other) => bail!(
            "unknown synthetic dataset `synthetic:{other}`; use `synthetic` (the default) or \
             `synthetic:tiny` (a directory of that name needs a path such as ./{data})"
        ),
    }
}

/// The synthetic spec, refusing read flags: the generator makes its own split.
fn synthetic(config: SyntheticConfig, what: &str, args: &DataArgs) -> Result<DataSpec> {
    let given = read_flags_given(args);
    if !given.is_empty() {
        let verb = if given.len() == 1 { "applies" } else { "apply" };
        bail!(
            "{} only {verb} to data files, but the data is {what}, which makes its own split; \
             drop them, or pass --data <dataset dir | file>",
            given.join(", ")
        );
    }
    Ok(DataSpec::Synthetic { config })
}

/// The read flags that were given, by name.
fn read_flags_given(args: &DataArgs) -> Vec<&'static str> {
    [
        ("--format", args.format.is_some()),
        ("--header", args.header.is_some()),
        ("--rating-threshold", args.rating_threshold.is_some()),
        ("--valid-fraction", args.valid_fraction.is_some()),
        ("--test-fraction", args.test_fraction.is_some()),
        ("--split", args.split.is_some()),
        ("--split-seed", args.split_seed.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect()
}

/// `load` with the read flags that were given applied over it.
fn apply_read_flags(args: &DataArgs, mut load: LoadOptions) -> LoadOptions {
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
    load
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command, DataCommand};

    /// The data flags of `autosample data stats <flags>`.
    fn args(flags: &[&str]) -> DataArgs {
        let argv = ["autosample", "data", "stats"].iter().chain(flags);
        let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        let Command::Data(DataCommand::Stats(stats)) = cli.command else {
            panic!("parsed as another command");
        };
        stats.data
    }

    fn spec(flags: &[&str], recorded: Option<&DataSpec>) -> Result<DataSpec> {
        DataSpec::from_args(&args(flags), recorded)
    }

    fn files(path: &str, load: LoadOptions) -> DataSpec {
        DataSpec::Files {
            path: PathBuf::from(path),
            load,
        }
    }

    #[test]
    fn only_exact_synthetic_names_are_the_generator() {
        for data in ["synthetic", "synthetic:tiny"] {
            let s = spec(&["--data", data], None).unwrap();
            assert!(matches!(s, DataSpec::Synthetic { .. }), "{data}: {s:?}");
        }
        for data in ["synthetic-ml1m", "synthetic/", "synthetics"] {
            match spec(&["--data", data], None).unwrap() {
                DataSpec::Files { path, .. } => {
                    assert_eq!(path, std::path::absolute(data).unwrap())
                }
                other => panic!("{data}: {other:?}"),
            }
        }
        let e = spec(&["--data", "synthetic:huge"], None).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown synthetic dataset `synthetic:huge`"),
            "{e}"
        );
    }

    #[test]
    fn read_flags_with_synthetic_data_are_errors() {
        let recorded = DataSpec::Synthetic {
            config: SyntheticConfig::tiny(),
        };
        for (flags, recorded, needle) in [
            (
                &["--data", "synthetic:tiny", "--split-seed", "3"][..],
                None,
                "--split-seed only applies to data files, but the data is synthetic:tiny",
            ),
            (
                &["--format", "list", "--valid-fraction", "0.2"][..],
                None,
                "--format, --valid-fraction only apply to data files, but the data is synthetic \
                 (no --data)",
            ),
            (
                &["--rating-threshold", "4"][..],
                Some(&recorded),
                "--rating-threshold only applies to data files",
            ),
        ] {
            let e = spec(flags, recorded).unwrap_err();
            assert!(e.to_string().contains(needle), "{flags:?}: {e}");
            assert!(e.to_string().contains("--data <dataset dir | file>"), "{e}");
        }
        // Without read flags synthetic data is fine, recorded or not.
        assert!(matches!(
            spec(&[], Some(&recorded)).unwrap(),
            DataSpec::Synthetic { config } if config == SyntheticConfig::tiny()
        ));
    }

    #[test]
    fn read_flags_without_data_apply_over_the_recorded_files() {
        let load = LoadOptions {
            valid_fraction: 0.3,
            ..LoadOptions::default()
        };
        let recorded = files("runs-data/ml", load.clone());
        match spec(&["--split-seed", "7"], Some(&recorded)).unwrap() {
            DataSpec::Files { path, load: got } => {
                assert_eq!(path, PathBuf::from("runs-data/ml"));
                assert_eq!(got.seed, 7, "the flag applies");
                assert_eq!(got.valid_fraction, 0.3, "the recorded options stay");
            }
            other => panic!("{other:?}"),
        }
        match spec(&[], Some(&recorded)).unwrap() {
            DataSpec::Files { load: got, .. } => assert_eq!(got, load),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreadable_path_is_not_called_missing() {
        let error = |path: &str| match files(path, LoadOptions::default()).load() {
            Ok(_) => panic!("{path} loaded"),
            Err(e) => e.to_string(),
        };
        let missing = concat!(env!("CARGO_MANIFEST_DIR"), "/no-such-dataset");
        let e = error(missing);
        assert!(e.contains("no such file or directory"), "{e}");
        // Under a regular file: the lookup fails with "not a directory", not "not found".
        let under_file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml/data");
        let e = error(under_file);
        assert!(e.contains("cannot read"), "{e}");
        assert!(!e.contains("no such file"), "{e}");
    }
}
