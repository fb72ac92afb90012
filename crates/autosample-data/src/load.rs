//! [`load_dataset`]: a directory or a file on disk → a [`Dataset`].
//!
//! # Directory layouts, first that matches
//!
//! 1. **train + valid + test** files → read as given ([`SplitProvenance::Given`]). Recognised
//!    names (case-insensitive): `train.txt` `valid.txt` `test.txt`, the same with `.tsv`, `.csv`
//!    or `.inter` extension, `<name>.train.inter` `<name>.valid.inter` `<name>.test.inter`
//!    (RecBole benchmark files), `val.*` (and `<name>.val.inter`) for valid, and the
//!    LightGCN-PyTorch LastFM names `data1.txt` (train) and `test1.txt` (test).
//! 2. **train + test** only → valid is carved out of train per user with
//!    [`crate::split::carve_valid`] ([`LoadOptions::valid_fraction`], [`LoadOptions::seed`];
//!    every user keeps at least one train item) → [`SplitProvenance::CarvedValid`].
//! 3. **One interaction file**: a file path, or a directory without split files that holds
//!    exactly one of `u.data`, `ratings.dat`, `ratings.csv`, `<name>.inter`,
//!    `interactions.csv`/`.tsv`/`.txt` → split per user into train/valid/test
//!    ([`LoadOptions::split`]: random, or temporal by timestamp) →
//!    [`SplitProvenance::SplitSingleFile`]. See [`crate::split`] for the per-user sizes.
//! 4. Anything else is a [`DataError::Layout`] error that lists what was looked for and what
//!    was found. Other files (`user_list.txt`, `README`, `u.item` …) are ignored.
//!
//! The format of the train file (or of the single file) is detected (see [`crate::read`])
//! unless [`LoadOptions::format`] says otherwise, and the valid and test files are read in the
//! same format (their delimiter and header are still detected per file), so that a test file
//! whose shape alone would be ambiguous is read like its train file. A header-less valid or test
//! file beside a train file whose header names columns out of positional order is an error (see
//! [`crate::read`], header detection).
//!
//! # Ids
//!
//! Users and items get separate dense ids `0..n`. If every original id of a kind (all users, or
//! all items) is made of ASCII digits only, dense ids follow ascending numeric order (ties —
//! `7` and `007` — by text), so already dense 0-based data such as the LightGCN Gowalla split
//! keeps its ids exactly, and 1-based data is shifted down by one when it has no gaps. Otherwise
//! dense ids follow the order of first appearance while reading train, then valid, then test.
//! Users and items that appear only in valid or test still get ids; a user on a list line with
//! no items gets an id too (and no interactions). Rows dropped by the rating threshold give no
//! ids.
//!
//! # Cleaning
//!
//! A pair repeated within a split is kept once. A pair present in two splits is removed from the
//! later one (train before valid before test). Both are counted and logged as warnings.
//!
//! An empty train or test file is a [`DataError::Empty`]. A test file whose pairs are all in
//! train or valid, and a given valid file that is empty or whose pairs are all in train, are a
//! [`DataError::EmptySplit`] naming the file: an empty test split makes every test metric 0,
//! and training cannot early-stop on an empty valid split (the fix is to delete the valid file
//! so that validation is carved from train).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::read::{Interner, RawTable, file_label, read_table};
use crate::split::{carve_valid, random_split, temporal_split};
use crate::{Dataset, IdMap, Interactions, ItemId, SplitProvenance, UserId};

/// The format of the data files ([`LoadOptions::format`], `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Detect per file (see [`crate::read`] for the rules).
    #[default]
    Auto,
    /// LightGCN / NGCF lists: `user item item …`.
    List,
    /// Pairs or columns: `user item [rating [timestamp]]` (TSV, CSV or spaces).
    Pairs,
    /// RecBole atomic `.inter` file with a typed header.
    #[serde(rename = "recbole", alias = "recbole_inter", alias = "rec_bole_inter")]
    RecBoleInter,
    /// MovieLens `u.data` (tab) or `ratings.dat` (`::`): `user item rating timestamp`.
    #[serde(rename = "movielens")]
    MovieLens,
}

impl FileFormat {
    /// The names accepted by [`FromStr`], canonical first.
    pub const NAMES: &'static [&'static str] = &["auto", "list", "pairs", "recbole", "movielens"];
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Auto => "auto",
            FileFormat::List => "list",
            FileFormat::Pairs => "pairs",
            FileFormat::RecBoleInter => "recbole",
            FileFormat::MovieLens => "movielens",
        })
    }
}

impl FromStr for FileFormat {
    type Err = DataError;

    /// Accepts `auto`, `list` (also `lightgcn`), `pairs` (also `tsv`, `csv`, `columns`),
    /// `recbole` (also `inter`), `movielens` (also `ml`), case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "auto" => Ok(FileFormat::Auto),
            "list" | "lightgcn" | "ngcf" => Ok(FileFormat::List),
            "pairs" | "tsv" | "csv" | "columns" => Ok(FileFormat::Pairs),
            "recbole" | "inter" | "recbole_inter" | "rec_bole_inter" => {
                Ok(FileFormat::RecBoleInter)
            }
            "movielens" | "ml" | "movie_lens" => Ok(FileFormat::MovieLens),
            _ => Err(DataError::config(format!(
                "unknown data format {s:?}; use one of: auto (detect per file), list (LightGCN \
                 `user item item ...`), pairs (`user item [rating [timestamp]]`, TSV/CSV/spaces), \
                 recbole (RecBole .inter), movielens (u.data / ratings.dat)"
            ))),
        }
    }
}

/// How a single interaction file is split ([`LoadOptions::split`], `--split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitStrategy {
    /// Temporal when every row has a timestamp, else random.
    #[default]
    Auto,
    /// Per user, at random (seeded).
    Random,
    /// Per user, by timestamp: oldest to train, newest to test.
    Temporal,
}

impl fmt::Display for SplitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SplitStrategy::Auto => "auto",
            SplitStrategy::Random => "random",
            SplitStrategy::Temporal => "temporal",
        })
    }
}

impl FromStr for SplitStrategy {
    type Err = DataError;

    /// Accepts `auto`, `random`, `temporal` (also `time`), case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(SplitStrategy::Auto),
            "random" => Ok(SplitStrategy::Random),
            "temporal" | "time" => Ok(SplitStrategy::Temporal),
            _ => Err(DataError::config(format!(
                "unknown split strategy {s:?}; use auto (temporal when every row has a \
                 timestamp), random, or temporal"
            ))),
        }
    }
}

/// How to read and split a dataset. Every field has a default; in a config file, unknown keys
/// are an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadOptions {
    /// Format of the data files; `auto` detects it per file.
    pub format: FileFormat,
    /// Whether the first line of each pairs/MovieLens file is a header: `None` detects it from
    /// known column names, `Some(true)`/`Some(false)` forces it.
    pub header: Option<bool>,
    /// Keep only rows whose rating is at least this (explicit data → implicit positives); an
    /// error for files without a rating column.
    pub rating_threshold: Option<f64>,
    /// Fraction of each user's interactions put in valid when valid must be made (carved from
    /// train, or split from a single file); in (0, 1). Default 0.1.
    pub valid_fraction: f64,
    /// Fraction of each user's interactions put in test when splitting a single file; in (0, 1).
    /// Default 0.2.
    pub test_fraction: f64,
    /// How a single interaction file is split (random or temporal). Default auto.
    pub split: SplitStrategy,
    /// Seed of every random choice made while loading (carve-out, random split, tie-breaks).
    /// Default 2024.
    pub seed: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            format: FileFormat::Auto,
            header: None,
            rating_threshold: None,
            valid_fraction: 0.1,
            test_fraction: 0.2,
            split: SplitStrategy::Auto,
            seed: 2024,
        }
    }
}

impl LoadOptions {
    /// Checks the option values.
    ///
    /// # Errors
    /// [`DataError::Config`] for a fraction outside (0, 1), fractions summing to 1 or more, or a
    /// non-finite rating threshold.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("valid", self.valid_fraction), ("test", self.test_fraction)] {
            if !(v > 0.0 && v < 1.0) {
                return Err(DataError::config(format!(
                    "--{name}-fraction must be strictly between 0 and 1, got {v}"
                )));
            }
        }
        if self.valid_fraction + self.test_fraction >= 1.0 {
            return Err(DataError::config(format!(
                "--valid-fraction ({}) + --test-fraction ({}) must be below 1 so that train keeps \
                 some interactions",
                self.valid_fraction, self.test_fraction
            )));
        }
        if let Some(t) = self.rating_threshold
            && !t.is_finite()
        {
            return Err(DataError::config(format!(
                "--rating-threshold must be a finite number, got {t}"
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Layout discovery.

/// What a directory (or path) holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    Splits {
        train: PathBuf,
        valid: Option<PathBuf>,
        test: PathBuf,
    },
    Single(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Train,
    Valid,
    Test,
    Single,
}

const SPLIT_EXTS: &[&str] = &["txt", "tsv", "csv", "inter"];

/// The role of a file name in a dataset directory, if it has one.
fn role_of(name: &str) -> Option<Role> {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "data1.txt" => return Some(Role::Train),
        "test1.txt" => return Some(Role::Test),
        "u.data" | "ratings.dat" | "ratings.csv" => return Some(Role::Single),
        _ => {}
    }
    let (stem, ext) = lower.rsplit_once('.')?;
    if !SPLIT_EXTS.contains(&ext) {
        return None;
    }
    // `<name>.train.inter` → the last dotted part of the stem.
    let last = if ext == "inter" {
        stem.rsplit('.').next().unwrap_or(stem)
    } else {
        stem
    };
    match last {
        "train" => Some(Role::Train),
        "valid" | "val" | "validation" => Some(Role::Valid),
        "test" => Some(Role::Test),
        "interactions" if ext != "inter" => Some(Role::Single),
        _ if ext == "inter" && !stem.contains('.') => Some(Role::Single),
        _ => None,
    }
}

const LOOKED_FOR: &str = "train.txt + test.txt (+ valid.txt), the same with .tsv, .csv or \
    .inter, <name>.train.inter + <name>.test.inter (+ <name>.valid.inter), data1.txt + test1.txt, \
    or one interaction file: u.data, ratings.dat, ratings.csv, <name>.inter, interactions.csv/.tsv/.txt";

fn find_layout(dir: &Path) -> Result<Layout> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut found: Vec<String> = Vec::new();
    let mut by_role: [Vec<PathBuf>; 4] = Default::default();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_file() {
            continue;
        }
        if let Some(role) = role_of(&name) {
            by_role[role as usize].push(path);
        }
        found.push(name);
    }
    found.sort();
    for v in &mut by_role {
        v.sort();
    }
    let names = |v: &[PathBuf]| {
        v.iter()
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found_list = if found.is_empty() {
        "no files".to_owned()
    } else {
        found.join(", ")
    };
    let [train, valid, test, single] = by_role;
    for (role, files) in [("train", &train), ("valid", &valid), ("test", &test)] {
        if files.len() > 1 {
            return Err(DataError::layout(
                dir,
                format!(
                    "found several {role} files ({}); keep one, or pass the files' directory \
                     with only one of them",
                    names(files)
                ),
            ));
        }
    }
    match (train.first(), test.first()) {
        (Some(tr), Some(te)) => {
            return Ok(Layout::Splits {
                train: tr.clone(),
                valid: valid.first().cloned(),
                test: te.clone(),
            });
        }
        (Some(tr), None) => {
            return Err(DataError::layout(
                dir,
                format!(
                    "found a train file ({}) but no test file; add test.txt (or test.tsv, \
                     test.csv, <name>.test.inter, test1.txt), or pass a single interaction file \
                     to have it split. Files here: {found_list}",
                    names(std::slice::from_ref(tr))
                ),
            ));
        }
        (None, Some(te)) => {
            return Err(DataError::layout(
                dir,
                format!(
                    "found a test file ({}) but no train file; add train.txt (or train.tsv, \
                     train.csv, <name>.train.inter, data1.txt). Files here: {found_list}",
                    names(std::slice::from_ref(te))
                ),
            ));
        }
        (None, None) => {}
    }
    match single.as_slice() {
        [one] => Ok(Layout::Single(one.clone())),
        [] => Err(DataError::layout(
            dir,
            format!(
                "no data files recognised; looked for {LOOKED_FOR}. Files here: {found_list}. \
                 Rename the files, or pass the path of the interaction file itself"
            ),
        )),
        several => Err(DataError::layout(
            dir,
            format!(
                "found several interaction files ({}); pass the path of the one to use",
                names(several)
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Ids.

/// Symbol → dense id for one kind (see the module docs for the rule), and the [`IdMap`].
fn dense_ids(interner: &Interner) -> (Vec<u32>, IdMap) {
    let names = interner.names();
    let all_digits = names
        .iter()
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    if all_digits {
        let key = |s: u32| {
            let n: &str = &names[s as usize];
            let stripped = n.trim_start_matches('0');
            (stripped.len(), stripped, n)
        };
        order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
    }
    let mut dense = vec![0u32; names.len()];
    let mut map = IdMap::new();
    for (d, &s) in order.iter().enumerate() {
        dense[s as usize] = d as u32;
        map.get_or_insert(&names[s as usize]);
    }
    (dense, map)
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// Loads a dataset from a directory or a single interaction file (see the module docs for the
/// layouts, [`crate::read`] for the formats, [`crate::split`] for the split rules).
///
/// # Errors
/// [`DataError::Config`] for bad options, [`DataError::Io`] for unreadable paths,
/// [`DataError::Layout`] for a directory we cannot interpret, [`DataError::Parse`] for a
/// malformed line, [`DataError::Empty`] for a split without interactions.
pub fn load_dataset(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    opts.validate()?;
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    let layout = if meta.is_dir() {
        find_layout(path)?
    } else {
        Layout::Single(path.to_path_buf())
    };
    let name = dataset_name(path, meta.is_dir());
    let source = path.display().to_string();
    let started = std::time::Instant::now();
    let mut users = Interner::default();
    let mut items = Interner::default();
    let dataset = match layout {
        Layout::Splits { train, valid, test } => {
            if opts.split != SplitStrategy::Auto {
                tracing::warn!(
                    "--split {} is ignored: {} has its own train/test files",
                    opts.split,
                    path.display()
                );
            }
            let train_t = read_table(&train, opts, None, &mut users, &mut items)?;
            // The train file's format applies to the other files (header still per file), and
            // so do the columns its header names out of positional order.
            let same = LoadOptions {
                format: train_t.format.file_format(),
                ..opts.clone()
            };
            let named = train_t.named_header.as_ref();
            let valid_t = valid
                .as_deref()
                .map(|v| read_table(v, &same, named, &mut users, &mut items));
            let valid_t = valid_t.transpose()?;
            let test_t = read_table(&test, &same, named, &mut users, &mut items)?;
            for t in [&train_t, &test_t] {
                if t.len() == 0 {
                    return Err(DataError::Empty {
                        path: t.path.clone(),
                    });
                }
            }
            let (user_ids, user_map) = dense_ids(&users);
            let (item_ids, item_map) = dense_ids(&items);
            let (nu, ni) = (user_map.len(), item_map.len());
            let to_pairs = |t: &RawTable| -> Vec<(UserId, ItemId)> {
                t.users
                    .iter()
                    .zip(&t.items)
                    .map(|(&u, &i)| (user_ids[u as usize], item_ids[i as usize]))
                    .collect()
            };
            let train_x = dedupe(&train_t.path, nu, ni, &to_pairs(&train_t));
            let (train_x, valid_x, provenance) = match &valid_t {
                Some(vt) => {
                    let v = dedupe(&vt.path, nu, ni, &to_pairs(vt));
                    let v = remove_seen(&vt.path, v, &[&train_x]);
                    if v.nnz() == 0 {
                        return Err(empty_split(vt, opts, Role::Valid));
                    }
                    (train_x, v, SplitProvenance::Given)
                }
                None => {
                    let (t, v) = carve_valid(&train_x, opts.valid_fraction, opts.seed);
                    let prov = SplitProvenance::CarvedValid {
                        valid_fraction: opts.valid_fraction,
                        seed: opts.seed,
                    };
                    (t, v, prov)
                }
            };
            let test_x = dedupe(&test_t.path, nu, ni, &to_pairs(&test_t));
            // Carving moved train pairs to valid; both are "earlier" than test.
            let test_x = remove_seen(&test_t.path, test_x, &[&train_x, &valid_x]);
            if test_x.nnz() == 0 {
                return Err(empty_split(&test_t, opts, Role::Test));
            }
            Dataset {
                name,
                source,
                users: user_map,
                items: item_map,
                train: train_x,
                valid: valid_x,
                test: test_x,
                provenance,
            }
        }
        Layout::Single(file) => {
            let table = read_table(&file, opts, None, &mut users, &mut items)?;
            if table.len() == 0 {
                return Err(DataError::Empty { path: file });
            }
            let (user_ids, user_map) = dense_ids(&users);
            let (item_ids, item_map) = dense_ids(&items);
            let (nu, ni) = (user_map.len(), item_map.len());
            let temporal = match opts.split {
                SplitStrategy::Random => false,
                SplitStrategy::Auto => table.all_timestamped(),
                SplitStrategy::Temporal => {
                    if !table.all_timestamped() {
                        return Err(DataError::config(format!(
                            "--split temporal needs a timestamp on every row, but {} ({}) has \
                             rows without one; use --split random",
                            file.display(),
                            table.format
                        )));
                    }
                    true
                }
            };
            let pairs: Vec<(UserId, ItemId)> = table
                .users
                .iter()
                .zip(&table.items)
                .map(|(&u, &i)| (user_ids[u as usize], item_ids[i as usize]))
                .collect();
            let unique = Interactions::from_pairs(nu, ni, &pairs).nnz();
            if unique < pairs.len() {
                tracing::warn!(
                    file = %file.display(),
                    "{} duplicate user-item rows kept once (the first)",
                    pairs.len() - unique
                );
            }
            let (vf, tf, seed) = (opts.valid_fraction, opts.test_fraction, opts.seed);
            let splits = if temporal {
                let records: Vec<(UserId, ItemId, f64)> = pairs
                    .iter()
                    .enumerate()
                    .map(|(k, &(u, i))| (u, i, table.timestamp(k).unwrap_or(0.0)))
                    .collect();
                temporal_split(nu, ni, &records, vf, tf, seed)
            } else {
                random_split(nu, ni, &pairs, vf, tf, seed)
            };
            Dataset {
                name,
                source,
                users: user_map,
                items: item_map,
                train: splits.train,
                valid: splits.valid,
                test: splits.test,
                provenance: SplitProvenance::SplitSingleFile {
                    strategy: if temporal { "temporal" } else { "random" }.to_owned(),
                    valid_fraction: vf,
                    test_fraction: tf,
                    seed,
                },
            }
        }
    };
    if dataset.train.nnz() == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    tracing::info!(
        dataset = %dataset.name,
        users = dataset.n_users(),
        items = dataset.n_items(),
        train = dataset.train.nnz(),
        valid = dataset.valid.nnz(),
        test = dataset.test.nnz(),
        ms = started.elapsed().as_millis() as u64,
        "loaded dataset"
    );
    Ok(dataset)
}

/// The dataset's short name: the directory's name, or the file's stem.
fn dataset_name(path: &Path, is_dir: bool) -> String {
    let own = if is_dir {
        path.file_name()
    } else {
        path.file_stem()
    };
    let own = own
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n != "." && n != "..");
    own.or_else(|| {
        let abs = std::fs::canonicalize(path).ok()?;
        let n = if is_dir {
            abs.file_name()
        } else {
            abs.file_stem()
        };
        n.map(|n| n.to_string_lossy().into_owned())
    })
    .unwrap_or_else(|| "dataset".to_owned())
}

/// CSR of one split, warning about repeated pairs.
fn dedupe(file: &Path, nu: usize, ni: usize, pairs: &[(UserId, ItemId)]) -> Interactions {
    let x = Interactions::from_pairs(nu, ni, pairs);
    if x.nnz() < pairs.len() {
        tracing::warn!(
            file = %file.display(),
            "{} duplicate user-item pairs kept once",
            pairs.len() - x.nnz()
        );
    }
    x
}

/// The error for a given valid or test file whose split is empty once read and cleaned. An
/// error rather than a warning: training cannot early-stop on an empty valid split (and would
/// then advise a positive --valid-fraction, which a given valid file overrides), and an empty
/// test split makes every test metric 0.
fn empty_split(file: &RawTable, opts: &LoadOptions, role: Role) -> DataError {
    let name = file_label(&file.path);
    let (split, earlier) = match role {
        Role::Valid => ("validation", "train"),
        _ => ("test", "train or valid"),
    };
    let why = if file.len() > 0 {
        format!("every pair of {name} is already in {earlier}")
    } else if file.below_threshold > 0 {
        format!(
            "every row of {name} ({}) is below --rating-threshold {}",
            file.below_threshold,
            opts.rating_threshold.unwrap_or(f64::NAN)
        )
    } else {
        format!("{name} holds no interactions (it is empty, or every line is blank or a header)")
    };
    let fix = match role {
        Role::Valid => format!(
            "delete {name} (or move it out of the directory) so that validation is carved from \
             train with --valid-fraction, or give the real validation pairs"
        ),
        _ => format!("give the held-out test pairs (is {name} a copy of the train file?)"),
    };
    DataError::EmptySplit {
        path: file.path.clone(),
        message: format!("{why}, so the {split} split would be empty; {fix}"),
    }
}

/// `split` without the pairs already in an earlier split, warning with the count.
fn remove_seen(file: &Path, split: Interactions, earlier: &[&Interactions]) -> Interactions {
    let kept: Vec<(UserId, ItemId)> = split
        .pairs()
        .filter(|&(u, i)| !earlier.iter().any(|e| e.contains(u, i)))
        .collect();
    if kept.len() == split.nnz() {
        return split;
    }
    tracing::warn!(
        file = %file.display(),
        "{} user-item pairs also in an earlier split (train before valid before test) removed \
         from this one",
        split.nnz() - kept.len()
    );
    Interactions::from_pairs(split.n_users(), split.n_items(), &kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_of_file_names() {
        assert_eq!(role_of("train.txt"), Some(Role::Train));
        assert_eq!(role_of("Train.TSV"), Some(Role::Train));
        assert_eq!(role_of("val.csv"), Some(Role::Valid));
        assert_eq!(role_of("ml-1m.valid.inter"), Some(Role::Valid));
        assert_eq!(role_of("ml-1m.test.inter"), Some(Role::Test));
        assert_eq!(role_of("ml-1m.inter"), Some(Role::Single));
        assert_eq!(role_of("data1.txt"), Some(Role::Train));
        assert_eq!(role_of("test1.txt"), Some(Role::Test));
        assert_eq!(role_of("u.data"), Some(Role::Single));
        assert_eq!(role_of("interactions.csv"), Some(Role::Single));
        assert_eq!(role_of("user_list.txt"), None);
        assert_eq!(role_of("u.item"), None);
        assert_eq!(role_of("README"), None);
        assert_eq!(role_of("ml-1m.user"), None);
    }

    #[test]
    fn formats_parse_from_cli_names() {
        assert_eq!(
            "LightGCN".parse::<FileFormat>().ok(),
            Some(FileFormat::List)
        );
        assert_eq!(
            "recbole".parse::<FileFormat>().ok(),
            Some(FileFormat::RecBoleInter)
        );
        assert_eq!("csv".parse::<FileFormat>().ok(), Some(FileFormat::Pairs));
        let err = "parquet".parse::<FileFormat>().unwrap_err().to_string();
        assert!(err.contains("unknown data format \"parquet\""), "{err}");
        assert!(err.contains("list") && err.contains("movielens"), "{err}");
        for name in FileFormat::NAMES {
            let f: FileFormat = name.parse().unwrap();
            assert_eq!(&f.to_string(), name);
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{name}\""));
        }
        assert_eq!(
            "time".parse::<SplitStrategy>().ok(),
            Some(SplitStrategy::Temporal)
        );
        assert!("sometimes".parse::<SplitStrategy>().is_err());
    }

    #[test]
    fn options_validate_and_deserialize_strictly() {
        assert!(LoadOptions::default().validate().is_ok());
        let bad = LoadOptions {
            valid_fraction: 1.5,
            ..LoadOptions::default()
        };
        let msg = bad.validate().unwrap_err().to_string();
        assert!(
            msg.contains("--valid-fraction") && msg.contains("1.5"),
            "{msg}"
        );
        let bad = LoadOptions {
            valid_fraction: 0.5,
            test_fraction: 0.5,
            ..LoadOptions::default()
        };
        assert!(matches!(bad.validate(), Err(DataError::Config { .. })));
        let bad = LoadOptions {
            test_fraction: f64::NAN,
            ..LoadOptions::default()
        };
        assert!(bad.validate().is_err());
        let o: LoadOptions =
            serde_json::from_str(r#"{"format":"list","seed":3,"split":"temporal"}"#).unwrap();
        assert_eq!(o.format, FileFormat::List);
        assert_eq!(o.split, SplitStrategy::Temporal);
        assert_eq!(o.valid_fraction, 0.1);
        assert!(serde_json::from_str::<LoadOptions>(r#"{"sed":3}"#).is_err());
    }

    #[test]
    fn numeric_ids_sort_numerically_and_strings_keep_first_appearance() {
        let mut n = Interner::default();
        for t in ["10", "2", "007", "7", "123456789012345678901234567890"] {
            n.intern(t);
        }
        let (dense, map) = dense_ids(&n);
        assert_eq!(
            map.originals(),
            &["2", "007", "7", "10", "123456789012345678901234567890"]
        );
        assert_eq!(dense, vec![3, 0, 1, 2, 4]);
        let mut s = Interner::default();
        for t in ["b", "10", "a"] {
            s.intern(t);
        }
        let (_, map) = dense_ids(&s);
        assert_eq!(map.originals(), &["b", "10", "a"]);
    }
}
