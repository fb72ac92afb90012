//! `autosample data stats`

use anyhow::Result;
use autosample_data::stats::dataset_stats;

use crate::args::StatsArgs;
use crate::data_source::DataSpec;

/// Prints the dataset's statistics.
pub fn stats(args: &StatsArgs) -> Result<()> {
    let spec = DataSpec::from_args(&args.data, None)?;
    let dataset = spec.load()?;
    let stats = dataset_stats(&dataset);
    if args.json {
        out!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        out!("{} ({})", dataset.name, dataset.source);
        out!("{stats}");
    }
    Ok(())
}
