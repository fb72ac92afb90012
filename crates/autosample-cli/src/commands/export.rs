//! `autosample export` and `autosample recommend`: a model as files for serving.
//!
//! An export directory holds:
//! - `manifest.json`: schema version, model and sampler config, dataset name and fingerprint,
//!   the run's metrics, sizes, build;
//! - `embeddings.bpk` (burnpack; tables `users` and `items`) and `user_embeddings.npy`,
//!   `item_embeddings.npy` (float32, C order, `[n, d]`): the *scoring* vectors, so that
//!   `score(u, i) = ⟨user[u], item[i]⟩` for every model (the layer mean for LightGCN, the
//!   concatenation for NGCF), with no graph needed at serving time;
//! - `users.tsv`, `items.tsv`: `dense_id<TAB>original_id`, one line per id, in order;
//! - `seen.txt`: each user's training items (`user item item ...`, dense ids), excluded by
//!   `recommend`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use autosample_data::{IdMap, write_atomic};
use autosample_metrics::top_k;
use autosample_models::EmbeddingTable;
use autosample_models::checkpoint::{load_tables, save_tables};
use autosample_train::{RunFiles, TrainedModel};
use serde::{Deserialize, Serialize};

use crate::args::{ExportArgs, RecommendArgs};
use crate::commands::train::RunConfig;
use crate::data_source::DataSpec;
use crate::meta::build_info;

/// The export format version.
pub const EXPORT_SCHEMA: u32 = 1;

/// The validation metrics of a train run's summary or a search's outcome. Outcomes written
/// before they held `valid` (binaries before 2026-12-02) have them in their details: the
/// autosample retrain's, halving's final training's, or the chosen exhaustive candidate's.
fn recorded_valid(v: &serde_json::Value) -> serde_json::Value {
    if !v["valid"].is_null() {
        return v["valid"].clone();
    }
    let d = &v["details"];
    for key in ["retrained_valid", "final_valid"] {
        if !d[key].is_null() {
            return d[key].clone();
        }
    }
    d["candidates"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["sampler"] == v["chosen"]))
        .map_or(serde_json::Value::Null, |c| c["valid"].clone())
}

/// `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`EXPORT_SCHEMA`]).
    pub schema_version: u32,
    /// The model's configuration.
    pub model: serde_json::Value,
    /// The sampler it was trained with (with `final_sampler: mixture`, the argmax of the
    /// mixture's weights).
    pub sampler: String,
    /// `mixture` when the model trained on the candidates' weighted losses (`search --final
    /// mixture`), `argmax` otherwise.
    #[serde(default = "argmax")]
    pub final_sampler: String,
    /// Dataset name.
    pub dataset: String,
    /// Fingerprint of the dataset's splits.
    pub dataset_fingerprint: String,
    /// Users, items, and the width of the scoring vectors.
    pub n_users: usize,
    /// Items.
    pub n_items: usize,
    /// Width of the scoring vectors.
    pub dim: usize,
    /// Metrics recorded by the run or search (validation and test), if any.
    pub metrics: serde_json::Value,
    /// The exporting binary.
    pub build: serde_json::Value,
}

fn argmax() -> String {
    "argmax".to_owned()
}

/// Runs `autosample export`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let config_path = args.run.join(RunFiles::CONFIG);
    let text = std::fs::read_to_string(&config_path).with_context(|| {
        format!(
            "{}: cannot read; give a run or search directory",
            config_path.display()
        )
    })?;
    let config: RunConfig = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a run config", config_path.display()))?;
    let manifest_path = args.to.join("manifest.json");
    if manifest_path.exists() && !args.overwrite {
        bail!(
            "{}: already holds an export; pick another --to or pass --overwrite",
            args.to.display()
        );
    }
    if !args.overwrite
        && !manifest_path.exists()
        && std::fs::read_dir(&args.to).is_ok_and(|mut d| d.next().is_some())
    {
        bail!(
            "{}: holds files but no export; pick an empty or new directory for --to (or pass \
             --overwrite to write the export's files among them)",
            args.to.display()
        );
    }
    let dataset = DataSpec::from_args(&args.data, Some(&config.data))?.load()?;
    if let Some(fp) = &config.dataset_fingerprint
        && *fp != dataset.fingerprint()
    {
        bail!(
            "the data differs from the run's (fingerprint {} here, {fp} in {}): pass the same \
             --data and read flags as the run used",
            dataset.fingerprint(),
            config_path.display()
        );
    }
    let mut model = TrainedModel::load(&config.train.model, &args.run, &dataset.train)?;
    model.refresh();
    let view = model.sampler_view();
    let (nu, ni) = (dataset.train.n_users(), dataset.train.n_items());
    let dim = view.dim();
    let mut users = Vec::with_capacity(nu * dim);
    for u in 0..nu as u32 {
        users.extend_from_slice(view.user_vec(u));
    }
    let mut items = Vec::with_capacity(ni * dim);
    for i in 0..ni as u32 {
        items.extend_from_slice(view.item_vec(i));
    }
    std::fs::create_dir_all(&args.to).with_context(|| format!("creating {}", args.to.display()))?;
    // The manifest marks a complete export, so an earlier one's goes first: an overwrite
    // that fails halfway must not leave it vouching for a mix of old and new files.
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path)
            .with_context(|| format!("removing the earlier {}", manifest_path.display()))?;
    }
    let (users, items) = (
        EmbeddingTable::from_vec(nu, dim, users),
        EmbeddingTable::from_vec(ni, dim, items),
    );
    save_tables(&args.to.join("embeddings.bpk"), &users, &items)?;
    write_npy(&args.to.join("user_embeddings.npy"), &users)?;
    write_npy(&args.to.join("item_embeddings.npy"), &items)?;
    write_ids(&args.to.join("users.tsv"), &dataset.users, nu)?;
    write_ids(&args.to.join("items.tsv"), &dataset.items, ni)?;
    let mut seen = String::new();
    for u in 0..nu as u32 {
        seen.push_str(&u.to_string());
        for i in dataset.train.items(u) {
            seen.push(' ');
            seen.push_str(&i.to_string());
        }
        seen.push('\n');
    }
    write_atomic(&args.to.join("seen.txt"), seen.as_bytes())?;
    let read_json = |f: &str| {
        std::fs::read_to_string(args.run.join(f))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    };
    // A train run's summary, or a search's outcome (which also says how its model trained).
    let outcome = read_json("outcome.json");
    let metrics = read_json("summary.json")
        .or_else(|| outcome.clone())
        .map(|v| serde_json::json!({ "valid": recorded_valid(&v), "test": v["test"] }))
        .unwrap_or(serde_json::Value::Null);
    let final_sampler = outcome
        .as_ref()
        .map_or("argmax", |o| {
            crate::commands::inspect::final_sampler(&o["details"])
        })
        .to_owned();
    let manifest = Manifest {
        schema_version: EXPORT_SCHEMA,
        model: serde_json::to_value(&config.train.model)?,
        sampler: config.train.sampler.spec(),
        final_sampler,
        dataset: dataset.name.clone(),
        dataset_fingerprint: dataset.fingerprint(),
        n_users: nu,
        n_items: ni,
        dim,
        metrics,
        build: serde_json::to_value(build_info())?,
    };
    // The manifest last: a directory with one is complete.
    write_atomic(
        &manifest_path,
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    out!(
        "exported {} ({} users × {} items, dim {dim}) to {}",
        args.run.display(),
        nu,
        ni,
        args.to.display()
    );
    Ok(())
}

/// A float32 `.npy` (format 1.0, C order, shape `[rows, dim]`).
fn write_npy(path: &Path, t: &EmbeddingTable) -> Result<()> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        t.rows(),
        t.dim()
    );
    // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple
    // of 64 and ended by a newline.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * t.as_slice().len());
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for x in t.as_slice() {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

fn write_ids(path: &Path, ids: &IdMap, n: usize) -> Result<()> {
    let mut out = Vec::new();
    for d in 0..n as u32 {
        let original = ids.original(d).unwrap_or("");
        writeln!(out, "{d}\t{original}")?;
    }
    write_atomic(path, &out).with_context(|| format!("writing {}", path.display()))
}

/// `original id → dense id` from an export's `users.tsv`/`items.tsv`, and the reverse list.
fn read_ids(path: &Path) -> Result<(std::collections::HashMap<String, u32>, Vec<String>)> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{}: cannot read; is this an export directory?",
            path.display()
        )
    })?;
    let mut map = std::collections::HashMap::new();
    let mut list = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((dense, original)) = line.split_once('\t') else {
            bail!(
                "{}:{}: expected `dense_id<TAB>original_id`",
                path.display(),
                n + 1
            );
        };
        let dense: u32 = dense
            .parse()
            .with_context(|| format!("{}:{}: bad dense id", path.display(), n + 1))?;
        if dense as usize != list.len() {
            bail!("{}:{}: ids must be listed in order", path.display(), n + 1);
        }
        map.insert(original.to_owned(), dense);
        list.push(original.to_owned());
    }
    Ok((map, list))
}

/// Runs `autosample recommend`.
pub fn recommend(args: &RecommendArgs) -> Result<()> {
    if args.k == 0 {
        bail!("-k 0: give the number of items to recommend, at least 1");
    }
    let dir = &args.model;
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "{}: cannot read; give a directory written by `autosample export`",
            manifest_path.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: not an export manifest", manifest_path.display()))?;
    if manifest.schema_version != EXPORT_SCHEMA {
        bail!(
            "{}: export schema {} is not the {EXPORT_SCHEMA} this binary reads; export again",
            manifest_path.display(),
            manifest.schema_version
        );
    }
    let (user_ids, user_names) = read_ids(&dir.join("users.tsv"))?;
    let (_, item_names) = read_ids(&dir.join("items.tsv"))?;
    // The tables, the id maps and seen.txt index one another: files from two exports, or a
    // hand-edited map, would send a lookup out of range.
    for (file, listed, expected, what) in [
        ("users.tsv", user_names.len(), manifest.n_users, "users"),
        ("items.tsv", item_names.len(), manifest.n_items, "items"),
    ] {
        if listed != expected {
            bail!(
                "{}: lists {listed} {what}, but manifest.json says {expected}: the export's files \
                 do not belong together; export again",
                dir.join(file).display()
            );
        }
    }
    let (users, items) = load_tables(
        &dir.join("embeddings.bpk"),
        manifest.n_users,
        manifest.n_items,
        manifest.dim,
    )?;
    let seen_path = dir.join("seen.txt");
    let seen_text = std::fs::read_to_string(&seen_path)
        .with_context(|| format!("{}: cannot read", seen_path.display()))?;
    let mut seen: Vec<Vec<u32>> = vec![Vec::new(); manifest.n_users];
    // Export writes one line per user, in order: fewer lines (a truncated copy) would let
    // training items through as recommendations.
    // Export writes one line per user, in user order: a missing or repeated line (a
    // truncated or edited copy) would let that user's training items through as
    // recommendations, and an item beyond the tables means another export's file.
    let body = seen_text.trim_end_matches(['\n', '\r']);
    let lines = if body.is_empty() {
        0
    } else {
        body.lines().count()
    };
    if lines != manifest.n_users {
        bail!(
            "{}: {lines} lines for the {} users of manifest.json (one line per user): the file \
             is truncated or from another export; export again",
            seen_path.display(),
            manifest.n_users
        );
    }
    for (n, line) in body.lines().enumerate() {
        let mut it = line.split_whitespace().map(str::parse::<u32>);
        let bad = || {
            format!(
                "{}:{}: expected `{n} item item ...` (user {n}'s training items, dense ids \
                 below {}): the file is damaged or from another export; export again",
                seen_path.display(),
                n + 1,
                manifest.n_items
            )
        };
        let u = it.next().transpose().ok().flatten().with_context(bad)? as usize;
        if u != n {
            bail!(bad());
        }
        let row = &mut seen[u];
        for i in it {
            let i = i
                .ok()
                .filter(|&i| (i as usize) < manifest.n_items)
                .with_context(bad)?;
            row.push(i);
        }
    }
    // Each wanted id with where it came from, for the error on an unknown one.
    let wanted: Vec<(String, String)> = match (&args.user, &args.users_file) {
        (Some(u), _) => vec![(u.clone(), "--user".to_owned())],
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("{}: cannot read", f.display()))?
            .lines()
            .enumerate()
            .map(|(n, l)| (l.trim(), n + 1))
            .filter(|(l, _)| !l.is_empty())
            .map(|(l, no)| (l.to_owned(), format!("{}:{no}", f.display())))
            .collect(),
        (None, None) => bail!("give --user ID or --users-file FILE"),
    };
    if wanted.is_empty() {
        bail!(
            "{}: lists no user id; give one id per line",
            args.users_file
                .as_deref()
                .unwrap_or(Path::new("--users-file"))
                .display()
        );
    }
    let mut results = Vec::new();
    let mut scores = vec![0.0f32; manifest.n_items];
    let mut top = Vec::new();
    for (original, from) in &wanted {
        let Some(&u) = user_ids.get(original) else {
            bail!(
                "{from}: unknown user {original:?}: not in the training data of this model ({} \
                 users, listed in {})",
                manifest.n_users,
                dir.join("users.tsv").display()
            );
        };
        let uv = users.row(u as usize);
        for (i, s) in scores.iter_mut().enumerate() {
            *s = uv.iter().zip(items.row(i)).map(|(a, b)| a * b).sum();
        }
        for &i in &seen[u as usize] {
            if let Some(s) = scores.get_mut(i as usize) {
                *s = f32::NEG_INFINITY;
            }
        }
        top_k(&scores, args.k, &mut top);
        let recs: Vec<(String, f32)> = top
            .iter()
            .map(|&i| (item_names[i as usize].clone(), scores[i as usize]))
            .collect();
        results.push((original.clone(), recs));
    }
    if args.json {
        let v: Vec<serde_json::Value> = results
            .iter()
            .map(|(u, recs)| {
                serde_json::json!({
                    "user": u,
                    "items": recs.iter().map(|(i, s)| serde_json::json!({"item": i, "score": s})).collect::<Vec<_>>(),
                })
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (u, recs) in &results {
            if recs.is_empty() {
                eprintln!("{u}: no items to recommend (the user has seen every item)");
            }
            for (rank, (i, s)) in recs.iter().enumerate() {
                out!("{u}\t{}\t{i}\t{s:.5}", rank + 1);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_metrics_of_older_outcomes_come_from_their_details() {
        let v = |o: serde_json::Value| recorded_valid(&o);
        let m = serde_json::json!({"recall@20": 0.5});
        assert_eq!(v(serde_json::json!({"valid": m})), m);
        assert_eq!(v(serde_json::json!({"details": {"retrained_valid": m}})), m);
        assert_eq!(v(serde_json::json!({"details": {"final_valid": m}})), m);
        let exhaustive = serde_json::json!({"chosen": "dns", "details": {"candidates": [
            {"sampler": "uniform", "valid": {"recall@20": 0.1}}, {"sampler": "dns", "valid": m}]}});
        assert_eq!(v(exhaustive), m);
        assert!(v(serde_json::json!({"details": {}})).is_null());
    }
}
