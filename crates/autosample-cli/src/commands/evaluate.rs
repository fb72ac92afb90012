//! `autosample evaluate`

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use autosample_train::{RunFiles, TrainedModel, test_report, valid_report};
use serde::Serialize;

use super::train::{RunConfig, Summary};
use crate::args::{EvalSplitArg, EvaluateArgs};
use crate::data_source::DataSpec;

#[derive(Serialize)]
struct Evaluation {
    run: String,
    dataset: String,
    fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid: Option<BTreeMap<String, f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<BTreeMap<String, f64>>,
    valid_users: usize,
    test_users: usize,
    /// Seconds of full-ranking evaluation (the splits asked for; loading excluded).
    seconds: f64,
}

/// Runs `autosample evaluate`.
pub fn run(args: &EvaluateArgs) -> Result<()> {
    let config_path = args.run.join(RunFiles::CONFIG);
    let text = std::fs::read_to_string(&config_path).with_context(|| {
        format!(
            "{}: cannot read; is this a run directory?",
            config_path.display()
        )
    })?;
    let config: RunConfig = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a run config", config_path.display()))?;
    let spec = DataSpec::from_args(&args.data, Some(&config.data))?;
    let dataset = spec.load()?;

    // The split must be the one the model was selected on, or the numbers mean nothing: the
    // summary records the data's fingerprint, and so does the config of every run (and
    // search) since it was added, which covers a run killed before its summary.
    let summary_path = args.run.join(RunFiles::SUMMARY);
    let recorded = match std::fs::read_to_string(&summary_path) {
        Ok(text) => {
            let summary: Summary = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a run summary", summary_path.display()))?;
            Some((summary.dataset.fingerprint, &summary_path))
        }
        Err(_) => {
            if !args.run.join("outcome.json").exists() {
                tracing::warn!(
                    "{} is missing (unfinished run?); evaluating its best checkpoint",
                    summary_path.display()
                );
            }
            config
                .dataset_fingerprint
                .clone()
                .map(|fp| (fp, &config_path))
        }
    };
    match recorded {
        Some((fp, from)) if fp != dataset.fingerprint() => bail!(
            "the data differs from the run's (fingerprint {} here, {fp} in {}): different \
             files, read options or split seed. Pass the same --data and read flags as the run \
             used (recorded in {})",
            dataset.fingerprint(),
            from.display(),
            config_path.display()
        ),
        Some(_) => {}
        None => tracing::warn!(
            "{} records no data fingerprint (an older run); the data cannot be checked",
            config_path.display()
        ),
    }

    if !args.run.join(RunFiles::BEST_STATE).exists() && !args.run.join(RunFiles::BEST).exists() {
        bail!(
            "{}: no checkpoint; the run ended before its first evaluation",
            args.run.display()
        );
    }
    let mut model = TrainedModel::load(&config.train.model, &args.run, &dataset.train)?;
    let ks = args.ks.clone().unwrap_or_else(|| config.train.ks.clone());
    let started = std::time::Instant::now();
    let valid = match args.on {
        EvalSplitArg::Valid | EvalSplitArg::Both => Some(valid_report(&mut model, &dataset, &ks)?),
        EvalSplitArg::Test => None,
    };
    let test = match args.on {
        EvalSplitArg::Test | EvalSplitArg::Both => Some(test_report(&mut model, &dataset, &ks)?),
        EvalSplitArg::Valid => None,
    };
    let result = Evaluation {
        run: args.run.display().to_string(),
        dataset: dataset.name.clone(),
        fingerprint: dataset.fingerprint(),
        valid: valid.as_ref().map(|r| r.to_map()),
        test: test.as_ref().map(|r| r.to_map()),
        valid_users: valid.as_ref().map_or(0, |r| r.n_users),
        test_users: test.as_ref().map_or(0, |r| r.n_users),
        seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        out!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        out!("run   {}", result.run);
        out!(
            "data  {} (fingerprint {})",
            result.dataset,
            result.fingerprint
        );
        out!(
            "users valid {}, test {}; {:.2}s",
            result.valid_users,
            result.test_users,
            result.seconds
        );
        out!("{:<14} {:>10} {:>10}", "metric", "valid", "test");
        let names: Vec<&String> = result
            .valid
            .as_ref()
            .or(result.test.as_ref())
            .map_or(vec![], |m| m.keys().collect());
        let cell = |m: &Option<BTreeMap<String, f64>>, n: &String| {
            m.as_ref()
                .and_then(|m| m.get(n))
                .map_or("-".to_owned(), |v| format!("{v:.4}"))
        };
        for name in names {
            out!(
                "{name:<14} {:>10} {:>10}",
                cell(&result.valid, name),
                cell(&result.test, name)
            );
        }
    }
    Ok(())
}
