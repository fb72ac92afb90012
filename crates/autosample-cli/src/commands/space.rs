//! `autosample space validate`

use anyhow::Result;
use autosample_samplers::SamplerConfig;
use autosample_search::SearchSpace;

use crate::args::SpaceValidateArgs;

/// Validates a search space and prints its initial candidates with their neighbours.
pub fn validate(args: &SpaceValidateArgs) -> Result<()> {
    let space = SearchSpace::load(&args.file)?;
    let rows: Vec<(String, Vec<String>)> = space
        .initial_candidates()
        .iter()
        .map(|c| {
            (
                c.spec(),
                space
                    .neighbours(c)
                    .iter()
                    .map(SamplerConfig::spec)
                    .collect(),
            )
        })
        .collect();
    if args.json {
        let candidates: Vec<serde_json::Value> = rows
            .iter()
            .map(|(spec, near)| serde_json::json!({"sampler": spec, "neighbours": near}))
            .collect();
        let out = serde_json::json!({
            "file": args.file.display().to_string(),
            "valid": true,
            "candidates": candidates,
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        out!(
            "{}: valid, {} initial candidates",
            args.file.display(),
            rows.len()
        );
        for (spec, near) in rows {
            if near.is_empty() {
                out!("  {spec}");
            } else {
                out!("  {spec}    (expands to: {})", near.join(", "));
            }
        }
    }
    Ok(())
}
