//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// Find the best negative sampler for an implicit-feedback recommender, on your data and model.
#[derive(Debug, Parser)]
#[command(name = "autosample", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// No progress bars; only warnings and errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log detail (-v debug, -vv trace). AUTOSAMPLE_LOG=<filter> overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Worker threads for evaluation and sampling (default: all cores).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Records in the `search` and `train` arguments which flags the command line gave
    /// (`given`), as opposed to those clap filled in from a default: a flag that a command
    /// would not read (a training flag beside `--resume`, a halving flag on an autosample
    /// search) is refused rather than silently ignored.
    pub fn record_given_flags(&mut self, matches: &ArgMatches) {
        let command = Self::command();
        let given = |name: &str| match (
            command.find_subcommand(name),
            matches.subcommand_matches(name),
        ) {
            (Some(sub), Some(m)) => given_flags(sub, m),
            _ => Vec::new(),
        };
        match &mut self.command {
            Command::Search(args) => args.given = given("search"),
            Command::Train(args) => args.given = given("train"),
            _ => {}
        }
    }
}

/// The long names (`--lr`) of `command`'s flags that `matches` took from the command line.
fn given_flags(command: &clap::Command, matches: &ArgMatches) -> Vec<String> {
    command
        .get_arguments()
        .filter(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .filter_map(|a| a.get_long().map(|long| format!("--{long}")))
        .collect()
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one model with one sampler, early-stopped on validation; test read once at the end.
    Train(Box<TrainArgs>),
    /// Re-evaluate a finished run's best checkpoint on validation and test.
    Evaluate(EvaluateArgs),
    /// Inspect datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Check search-space files (search-spaces/README.md).
    #[command(subcommand)]
    Space(SpaceCommand),
    /// Summarise a search: the choice, the evidence, what was pruned and why, the metrics and
    /// the cost; also writes a self-contained report.html with plots into the search directory.
    Inspect(InspectArgs),
    /// Export a run's or a search's model for serving: manifest.json, embeddings (burnpack
    /// and .npy), id maps and the training items to exclude.
    Export(ExportArgs),
    /// Top-K items for known users of an exported model, excluding their training items.
    Recommend(RecommendArgs),
    /// Search a space of negative samplers for the best one on this data and model:
    /// `exhaustive` (every candidate trained alone; the ground-truth baseline, the default),
    /// `halving` or `autosample` (the supernet with a selector rule and a retrain).
    Search(Box<SearchArgs>),
}

/// How `search` explores the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyArg {
    /// Train every initial candidate alone to early stopping; keep the best on validation.
    Exhaustive,
    /// Successive halving from scratch (a baseline): all candidates train a few epochs, the
    /// better half continues with twice the epochs, until one is left, which trains on to
    /// early stopping.
    Halving,
    /// Supernet warm-up, rounds of per-candidate validation evidence with noise-aware
    /// pruning and evidence-weighted supernet epochs, then the winner retrained from the
    /// search's shared parameters to early stopping (hit rates and costs against exhaustive:
    /// docs/decisions/0005).
    Autosample,
}

/// How `search --strategy autosample` retrains its choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrainArg {
    /// From the search's parameters (optimizer reset).
    Warm,
    /// From the search's parameters with the optimizer state the supernet left (Adam's
    /// moments of the mixture's gradients).
    WarmKeep,
    /// From a fresh initialisation (the ablation).
    Scratch,
    /// Continue the leader's branch of the last evidence round (optimizer kept); the last
    /// round's supernet epochs are skipped. Evidence selector, argmax final.
    Branch,
}

/// The selector rule of `search --strategy autosample` (crates/autosample-search, selector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectorArg {
    /// Per round, each candidate continues alone from the shared state and is scored on
    /// validation; pruning only beyond bootstrap noise.
    Evidence,
    /// Textbook bi-level rule: α follows the one-step decrease of a uniform-negative
    /// validation BPR loss (the baseline the others must beat).
    AlignmentBpr,
    /// As alignment-bpr, with a full-softmax validation loss at temperature 0.1.
    AlignmentSoftmax,
    /// Negative control: α follows the training loss (drifts to the easiest sampler).
    TrainingLoss,
}

/// What the final model of `search --strategy autosample` trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalArg {
    /// The chosen sampler alone.
    Argmax,
    /// The supernet with the search's last weights held fixed.
    Mixture,
}

/// Where `search --strategy halving` starts every candidate's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HalvingStartArg {
    /// The same fresh initialisation (the baseline).
    Init,
    /// The model after --warmup-epochs equal-weight supernet epochs.
    Warmup,
}

/// `autosample search`
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
    /// The search space (search-spaces/README.md), e.g. search-spaces/default.json.
    #[arg(long, value_name = "FILE", required_unless_present = "resume")]
    pub space: Option<PathBuf>,
    /// Continue an interrupted search (any strategy) with the settings and data recorded in
    /// its search.json (other search, training and data flags are refused: they would not be
    /// read): an exhaustive search keeps its finished
    /// candidates, halving and autosample continue from their last rung or round, and the
    /// outcome is the same as an uninterrupted search's.
    #[arg(long, value_name = "SEARCH_DIR", conflicts_with_all = ["out", "overwrite", "space"])]
    pub resume: Option<PathBuf>,
    /// How to search.
    #[arg(long, value_enum, default_value = "exhaustive")]
    pub strategy: StrategyArg,
    /// How `autosample` retrains its choice. `warm` tested the same as or above `branch` on
    /// every pair of the selector benchmark (docs/decisions/0005).
    #[arg(long, value_enum, default_value = "warm")]
    pub retrain: RetrainArg,
    /// Epochs of the first rung of `halving` (doubling per rung).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub first_epochs: usize,
    /// The rule that moves the weights and prunes in `autosample`.
    #[arg(long, value_enum, default_value = "evidence")]
    pub selector: SelectorArg,
    /// Floor on each active candidate's weight in `autosample`, as a fraction of 1/|active|
    /// (0 = none): early evidence cannot silence a candidate for good.
    #[arg(long, value_name = "F", default_value_t = 0.1)]
    pub weight_floor: f64,
    /// Equal-weight supernet epochs before the first `autosample` round, and before
    /// `halving --halving-start warmup`.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub warmup_epochs: usize,
    /// What the final `autosample` model trains with: the chosen sampler, or the mixture of
    /// the candidates with the last round's weights (config.json then names the leader the
    /// rounds chose: after a past-peak stop, the best round's, which may not be the mixture's
    /// largest weight).
    #[arg(long = "final", value_enum, default_value = "argmax")]
    pub final_sampler: FinalArg,
    /// `autosample`: at most this many rounds (the evidence rule's branches double each
    /// round: 2, 4, 8, 16, 32, 64 epochs). 6 is the setting with the best selector record.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub max_rounds: usize,
    /// `autosample --selector evidence`: family-wise level of a round's prunes (Bonferroni over
    /// the comparisons with the leader); larger prunes sooner and costs less.
    #[arg(long, value_name = "P", default_value_t = 0.05)]
    pub prune_level: f64,
    /// `autosample --selector evidence`: the first round that may prune (0 = every round).
    /// Earlier rounds only weigh, so that a candidate that starts slowly (a warm-up, a
    /// curriculum) is not dropped on short-branch evidence.
    #[arg(long, value_name = "R", default_value_t = 0)]
    pub prune_from_round: usize,
    /// `autosample --selector evidence`: end the rounds at the first round whose leader scores
    /// below an earlier round's best leader (the shared state is past its peak, as on data
    /// where training peaks within a few tens of epochs); the best round's leader is chosen
    /// and, with `--retrain branch`, its branch is continued. On by default (decision 0005);
    /// `--stop-past-peak false` runs every round.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        default_value_t = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub stop_past_peak: bool,
    /// `autosample --selector evidence`: never prune a candidate whose own warm-up (SRNS's
    /// variance ramp, DENS's gate ramp) ends after the round's branch but before the last
    /// planned branch does, since until then its branch measures the ramp, not the sampler.
    /// On by default (decision 0005); `--hold-warmup false` prunes on any round's evidence.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        default_value_t = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub hold_warmup: bool,
    /// `autosample`: supernet epochs per round.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub round_epochs: usize,
    /// `autosample`: after each round, add the leader's neighbouring hyperparameters in the
    /// space as new candidates (up to --max-candidates in all).
    #[arg(long)]
    pub expand: bool,
    /// Cap on the candidates of an expanding `autosample` search.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub max_candidates: usize,
    /// `autosample`: end the rounds once the search has used this many epochs (supernet and
    /// branches); the retrain follows.
    #[arg(long, value_name = "N")]
    pub budget_epochs: Option<usize>,
    /// `autosample`: end the rounds once the search has run this many seconds.
    #[arg(long, value_name = "S")]
    pub budget_seconds: Option<f64>,
    /// Where `halving` starts every candidate's copy.
    #[arg(long, value_enum, default_value = "init")]
    pub halving_start: HalvingStartArg,
    /// Run directory (default: runs/search-<data>-<model>-<UTC time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace an existing search in --out.
    #[arg(long)]
    pub overwrite: bool,
    /// The model and its training (each candidate trains with these).
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The flags given on the command line ([`Cli::record_given_flags`]).
    #[arg(skip)]
    pub given: Vec<String>,
}

/// `autosample space …`
#[derive(Debug, Subcommand)]
pub enum SpaceCommand {
    /// Parse and validate a search space; print the candidates it starts from and where each
    /// may expand.
    Validate(SpaceValidateArgs),
}

/// `autosample space validate`
#[derive(Debug, Args)]
pub struct SpaceValidateArgs {
    /// The search-space JSON file.
    pub file: std::path::PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `autosample data …`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Users, items, interactions, density, popularity skew (Gini) and per-split counts.
    Stats(StatsArgs),
}

/// Where the data comes from and how to read it.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// A dataset directory, a single interaction file, `synthetic` (the embedded default) or
    /// `synthetic:tiny`; only these two exact names are the generator, anything else is a path.
    /// The read flags below apply to files only and are an error with synthetic data.
    #[arg(long, value_name = "DIR|FILE|synthetic")]
    pub data: Option<String>,
    /// File format (default: detected per file; see docs/data-formats.md).
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<FormatArg>,
    /// Whether the files start with a header line (default: detected).
    #[arg(long, value_name = "BOOL")]
    pub header: Option<bool>,
    /// Keep only interactions with rating ≥ this (explicit data such as MovieLens).
    #[arg(long, value_name = "R")]
    pub rating_threshold: Option<f64>,
    /// Fraction of each user's train items carved out as validation when no valid file exists.
    #[arg(long, value_name = "F")]
    pub valid_fraction: Option<f64>,
    /// Fraction of each user's interactions held out as test when a single file is split.
    #[arg(long, value_name = "F")]
    pub test_fraction: Option<f64>,
    /// How a single interaction file is split.
    #[arg(long, value_enum)]
    pub split: Option<SplitArg>,
    /// Seed of the split (default 2024). Recorded in the run.
    #[arg(long, value_name = "SEED")]
    pub split_seed: Option<u64>,
}

/// `--format` values, with the aliases `FileFormat::from_str` accepts (docs/data-formats.md
/// advertises them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Detect per file.
    Auto,
    /// LightGCN/NGCF lists: `user item item ...`.
    #[value(alias = "lightgcn", alias = "ngcf")]
    List,
    /// Pairs/columns: `user item [rating [timestamp]]`, TSV/CSV/space.
    #[value(alias = "tsv", alias = "csv", alias = "columns")]
    Pairs,
    /// RecBole atomic `.inter` files.
    #[value(
        alias = "inter",
        alias = "recbole_inter",
        alias = "recbole-inter",
        alias = "rec_bole_inter",
        alias = "rec-bole-inter"
    )]
    Recbole,
    /// MovieLens `u.data` / `ratings.dat`.
    #[value(alias = "ml", alias = "movie_lens", alias = "movie-lens")]
    Movielens,
}

/// `--split` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SplitArg {
    /// Temporal when every row has a timestamp, else random.
    Auto,
    /// Random per user.
    Random,
    /// By timestamp per user: the latest interactions go to test.
    Temporal,
}

/// Models.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModelArg {
    /// Matrix factorisation (BPR-MF).
    Mf,
    /// LightGCN (layer-mean propagation over the normalised user–item graph).
    Lightgcn,
    /// NGCF (graph convolution with weight matrices, LeakyReLU and dropout).
    Ngcf,
}

/// Loss engines.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EngineArg {
    /// burn autodiff over the batch's gathered rows.
    Burn,
    /// The closed-form BPR gradient.
    Native,
}

/// Optimizers.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OptimizerArg {
    /// Row-sparse (lazy) Adam.
    Adam,
    /// Row-sparse SGD.
    Sgd,
}

/// `autosample train`
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
    /// The negative sampler, as `name` or `name:key=value,...`: uniform, popularity[:beta=0.75],
    /// dns[:candidates=32], dns_mn[:candidates=32,top=1], cns[:candidates=32],
    /// ahns[:candidates=32,alpha=1,beta=0.1,p=-2], srns[:s1=8,...], mixgcf[:candidates=64],
    /// dens[:candidates=6,warmup=100,gamma=0.3]
    /// (docs/samplers/). Default: the `--config` file's sampler, else uniform.
    #[arg(long, value_name = "SPEC")]
    pub sampler: Option<String>,
    /// Run directory (default: runs/<data>-<model>-<sampler>-<UTC time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace an existing run in --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Continue an interrupted run from its last evaluated epoch, with the configuration and
    /// data recorded in it (other training and data flags are refused: they would not be
    /// read). Ends with the same result as an
    /// uninterrupted run with the same seed.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["out", "overwrite", "config"])]
    pub resume: Option<PathBuf>,
    /// The model and its training.
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The flags given on the command line ([`Cli::record_given_flags`]).
    #[arg(skip)]
    pub given: Vec<String>,
}

/// The model and how it trains: shared by `train` and `search`.
#[derive(Debug, Clone, Args)]
pub struct HyperArgs {
    /// The model. Default: the `--config` file's model, else mf.
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// A training config JSON (the `train` object of a run's config.json); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Embedding width.
    #[arg(long)]
    pub dim: Option<usize>,
    /// Propagation layers of graph models (LightGCN default 3).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Optimizer of the embedding tables.
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Learning rate.
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// How the loss gradient is computed: `burn` (autodiff over the gathered rows, the
    /// reference) or `native` (the closed form, checked against burn; faster).
    #[arg(long, value_enum)]
    pub engine: Option<EngineArg>,
    /// L2 coefficient.
    #[arg(long, allow_negative_numbers = true)]
    pub l2: Option<f64>,
    /// Standard deviation of the initial embeddings.
    #[arg(long, allow_negative_numbers = true)]
    pub init_std: Option<f32>,
    /// Training pairs per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Maximum epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Evaluate on validation every N epochs.
    #[arg(long, value_name = "N")]
    pub eval_every: Option<usize>,
    /// Early-stopping patience in evaluations (0 = off).
    #[arg(long, value_name = "N")]
    pub patience: Option<usize>,
    /// Negatives per positive (K-pair BPR when > 1).
    #[arg(long, value_name = "K")]
    pub negatives: Option<usize>,
    /// Metric cut-offs, comma-separated (e.g. 20,50).
    #[arg(long, value_delimiter = ',', value_name = "K,...")]
    pub ks: Option<Vec<usize>>,
    /// Validation metric for early stopping (e.g. recall@20, ndcg@20).
    #[arg(long)]
    pub monitor: Option<String>,
    /// Root seed of the run.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `autosample evaluate`
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A run directory written by `autosample train`.
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The data (default: as recorded in the run's config.json); read options likewise, read
    /// flags applying over them.
    #[command(flatten)]
    pub data: DataArgs,
    /// Metric cut-offs (default: the run's).
    #[arg(long, value_delimiter = ',', value_name = "K,...")]
    pub ks: Option<Vec<usize>>,
    /// Which split(s) to score: valid, test or both.
    #[arg(long = "on", value_enum, default_value = "both", value_name = "SPLIT")]
    pub on: EvalSplitArg,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `autosample inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A directory written by `autosample search`.
    #[arg(value_name = "SEARCH_DIR")]
    pub run: PathBuf,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `autosample export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A run directory (`train`) or a search directory (`search`).
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The export directory to write (created; must not hold an export unless --overwrite).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Replace an existing export.
    #[arg(long)]
    pub overwrite: bool,
    /// The data (default: as recorded in the run's config.json); read options likewise, read
    /// flags applying over them.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `autosample recommend`
#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// A directory written by `autosample export`.
    #[arg(value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// A user, by the id used in the data files.
    #[arg(long, value_name = "ID", required_unless_present = "users_file")]
    pub user: Option<String>,
    /// A file of user ids, one per line.
    #[arg(long, value_name = "FILE", conflicts_with = "user")]
    pub users_file: Option<PathBuf>,
    /// How many items per user.
    #[arg(short, long, default_value_t = 20)]
    pub k: usize,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `evaluate --on` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EvalSplitArg {
    /// Validation only (excluding training positives).
    Valid,
    /// Test only (excluding training and validation positives).
    Test,
    /// Both.
    Both,
}

/// `autosample data stats`
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `--lr -0.1` reaches the value checks (which say what is wrong) instead of clap's
    /// "unexpected argument '-0'".
    #[test]
    fn negative_rates_parse_as_values() {
        let cli = Cli::try_parse_from(["autosample", "train", "--lr", "-0.1", "--l2", "-1"])
            .unwrap_or_else(|e| panic!("{e}"));
        let Command::Train(train) = cli.command else {
            panic!("parsed as another command");
        };
        assert_eq!((train.hyper.lr, train.hyper.l2), (Some(-0.1), Some(-1.0)));
    }

    fn format_of(value: &str) -> Option<FormatArg> {
        let cli = Cli::try_parse_from(["autosample", "data", "stats", "--format", value])
            .unwrap_or_else(|e| panic!("--format {value}: {e}"));
        let Command::Data(DataCommand::Stats(stats)) = cli.command else {
            panic!("parsed as another command");
        };
        stats.data.format
    }

    #[test]
    fn format_accepts_the_aliases_of_the_data_docs() {
        for (value, want) in [
            ("list", FormatArg::List),
            ("lightgcn", FormatArg::List),
            ("LightGCN", FormatArg::List),
            ("ngcf", FormatArg::List),
            ("tsv", FormatArg::Pairs),
            ("csv", FormatArg::Pairs),
            ("columns", FormatArg::Pairs),
            ("inter", FormatArg::Recbole),
            ("recbole-inter", FormatArg::Recbole),
            ("ml", FormatArg::Movielens),
            ("movie_lens", FormatArg::Movielens),
            ("auto", FormatArg::Auto),
        ] {
            assert_eq!(format_of(value), Some(want), "--format {value}");
            let lib: autosample_data::FileFormat = value.parse().unwrap();
            assert_eq!(
                lib.to_string(),
                format!("{want:?}").to_lowercase(),
                "{value}"
            );
        }
        assert!(
            Cli::try_parse_from(["autosample", "data", "stats", "--format", "parquet"]).is_err()
        );
    }
}
