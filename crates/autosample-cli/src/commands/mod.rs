//! The subcommands.

use anyhow::{Context, Result};

use crate::args::{Cli, Command, DataCommand, SpaceCommand};

mod data;
mod evaluate;
mod export;
mod flags;
mod inspect;
mod search;
mod space;
mod train;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("setting up the thread pool")?;
    }
    match cli.command {
        Command::Train(args) => train::run(&args, cli.quiet),
        Command::Evaluate(args) => evaluate::run(&args),
        Command::Data(DataCommand::Stats(args)) => data::stats(&args),
        Command::Space(SpaceCommand::Validate(args)) => space::validate(&args),
        Command::Search(args) => search::run(&args, cli.quiet),
        Command::Inspect(args) => inspect::run(&args),
        Command::Export(args) => export::export(&args),
        Command::Recommend(args) => export::recommend(&args),
    }
}
