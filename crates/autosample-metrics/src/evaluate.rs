//! [`evaluate`]: the chunked full-ranking evaluation loop and its report types.

use std::collections::BTreeMap;
use std::time::Instant;

use autosample_data::{Interactions, UserId};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::metrics::{Discounts, MetricValues, N_METRICS, user_metrics};
use crate::scorer::RankingScorer;
use crate::topk::TopK;

/// Metric names accepted by [`EvalReport::get`], [`MetricsAtK::get`] and [`PerUser::metric`],
/// in the order they appear in [`EvalReport::to_map`] for each `K`.
pub const METRIC_NAMES: [&str; N_METRICS] = ["recall", "ndcg", "precision", "hit", "mrr"];

/// Default number of users scored per matmul. Tuned with `examples/eval_speed.rs --sweep` on
/// gowalla shapes (29,858 users × 40,981 items × dim 64, 2 cores): idle, 32 → 1.97 s,
/// 64 → 1.60 s, 128 → 1.36 s, 256…2048 → 1.19–1.22 s (flat); under load 512 was the fastest.
/// Small chunks make `gemm` re-pack the item table too often; larger ones gain nothing and cost
/// memory. The score buffer is `chunk × n_items × 4` bytes (≈ 84 MB here), reused.
pub const DEFAULT_CHUNK_USERS: usize = 512;

/// Cap on the score buffer, in floats (256 MiB): the effective chunk is
/// `min(chunk_users, MAX_BUFFER_FLOATS / n_items)` (at least 1 user), so large catalogues do not
/// allocate gigabytes.
pub const MAX_BUFFER_FLOATS: usize = 64 << 20;

/// How to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalOptions {
    /// Cutoffs `K` (default `[20]`). Order and duplicates do not matter: the report lists each
    /// distinct `K` once, ascending. The top-K list is selected once at `max(ks)`; smaller
    /// cutoffs use its prefixes.
    pub ks: Vec<usize>,
    /// Users scored per [`RankingScorer::score_users`] call (default
    /// [`DEFAULT_CHUNK_USERS`]); the score buffer holds `chunk_users × n_items` floats, capped at
    /// [`MAX_BUFFER_FLOATS`]. Results do not depend on it.
    pub chunk_users: usize,
    /// Keep every evaluated user's metrics in [`EvalReport::per_user`] (for bootstrap noise
    /// estimates). Default `false`.
    pub keep_per_user: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            ks: vec![20],
            chunk_users: DEFAULT_CHUNK_USERS,
            keep_per_user: false,
        }
    }
}

impl EvalOptions {
    /// Default options with cutoffs `ks`.
    pub fn with_ks(ks: &[usize]) -> Self {
        Self {
            ks: ks.to_vec(),
            ..Self::default()
        }
    }
}

/// Averages over the evaluated users at one cutoff `K` (definitions in the [crate docs](crate)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricsAtK {
    /// The cutoff.
    pub k: usize,
    /// Mean Recall@K.
    pub recall: f64,
    /// Mean NDCG@K.
    pub ndcg: f64,
    /// Mean Precision@K.
    pub precision: f64,
    /// Mean Hit@K (hit ratio: fraction of users with at least one hit).
    pub hit: f64,
    /// Mean MRR@K (reciprocal rank of the first hit, 0 if none within K).
    pub mrr: f64,
}

impl MetricsAtK {
    /// The value of metric `name` (one of [`METRIC_NAMES`], or `"hr"` for `"hit"`).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "recall" => self.recall,
            "ndcg" => self.ndcg,
            "precision" => self.precision,
            "hit" | "hr" => self.hit,
            "mrr" => self.mrr,
            _ => return None,
        })
    }
}

/// Every evaluated user's metrics at one cutoff; `metric[r]` belongs to [`PerUser::users`]`[r]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerUserAtK {
    /// The cutoff.
    pub k: usize,
    /// Recall@K per user.
    pub recall: Vec<f64>,
    /// NDCG@K per user.
    pub ndcg: Vec<f64>,
    /// Precision@K per user.
    pub precision: Vec<f64>,
    /// Hit@K per user (0 or 1).
    pub hit: Vec<f64>,
    /// MRR@K per user.
    pub mrr: Vec<f64>,
}

impl PerUserAtK {
    /// The per-user values of metric `name` (one of [`METRIC_NAMES`], or `"hr"`).
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        Some(match name {
            "recall" => &self.recall,
            "ndcg" => &self.ndcg,
            "precision" => &self.precision,
            "hit" | "hr" => &self.hit,
            "mrr" => &self.mrr,
            _ => return None,
        })
    }
}

/// Per-user metrics of one evaluation: the column for `"metric@K"` averages to the report's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerUser {
    /// The evaluated users, ascending (every user with at least one target item).
    pub users: Vec<UserId>,
    /// One entry per cutoff, in the order of [`EvalReport::at`].
    pub at: Vec<PerUserAtK>,
}

impl PerUser {
    /// The per-user column of `"metric@K"` (e.g. `"ndcg@20"`), aligned with [`PerUser::users`].
    pub fn metric(&self, name: &str) -> Option<&[f64]> {
        let (metric, k) = parse_name(name)?;
        self.at.iter().find(|a| a.k == k)?.get(metric)
    }
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Number of evaluated users (users with at least one target item). When 0, every average
    /// is reported as 0.
    pub n_users: usize,
    /// Averages per cutoff, ascending `K`.
    pub at: Vec<MetricsAtK>,
    /// Per-user values, if [`EvalOptions::keep_per_user`] was set.
    pub per_user: Option<PerUser>,
    /// Wall-clock seconds of the whole evaluation.
    pub seconds: f64,
    /// Of which: seconds inside [`RankingScorer::score_users`] (the matmuls).
    pub scoring_seconds: f64,
    /// Of which: seconds of the per-user pass (finiteness check, exclusion, top-K, metrics).
    pub ranking_seconds: f64,
}

impl EvalReport {
    /// The value named `"metric@K"`, e.g. `"recall@20"`, `"ndcg@20"`, `"precision@10"`,
    /// `"hit@20"` (alias `"hr@20"`), `"mrr@20"`; `None` for an unknown metric or a `K` not
    /// evaluated.
    pub fn get(&self, name: &str) -> Option<f64> {
        let (metric, k) = parse_name(name)?;
        self.at.iter().find(|a| a.k == k)?.get(metric)
    }

    /// All averages keyed `"metric@K"` (five metrics per cutoff).
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut map = BTreeMap::new();
        for a in &self.at {
            for name in METRIC_NAMES {
                if let Some(v) = a.get(name) {
                    map.insert(format!("{name}@{}", a.k), v);
                }
            }
        }
        map
    }
}

/// Splits `"ndcg@20"` into `("ndcg", 20)`.
fn parse_name(name: &str) -> Option<(&str, usize)> {
    let (metric, k) = name.trim().split_once('@')?;
    Some((metric.trim(), k.trim().parse().ok()?))
}

/// Full-ranking evaluation of `scorer` on the `target` split.
///
/// Every user with at least one item in `target` is evaluated (ascending id). Each such user's
/// scores over all `scorer.n_items()` items are computed (in chunks of
/// [`EvalOptions::chunk_users`] users, one [`RankingScorer::score_users`] call per chunk), the
/// user's items in every `exclude` split are removed from the ranking (skipped by the top-K
/// selection, so they never enter it; pass the training split, plus the validation split when
/// scoring test), the top `max(ks)` items are selected (descending score, ties to the lower
/// item id) and the metrics of the [crate docs](crate) are computed for each `K` from prefixes
/// of that list, then averaged over the evaluated users. Users are processed in parallel
/// (rayon) within a chunk; the result does not depend on the chunk size or the thread count.
///
/// # Errors
/// - [`EvalError::NoCutoffs`] / [`EvalError::ZeroCutoff`] / [`EvalError::ZeroChunk`] for bad
///   options;
/// - [`EvalError::ItemSpaceMismatch`] if `target` or an `exclude` split has a different item
///   count from the scorer; [`EvalError::UserSpaceMismatch`] if an `exclude` split (or the
///   scorer, when [`RankingScorer::n_users`] is known) has a different user count from `target`;
/// - [`EvalError::NonFiniteScore`] if a score of an evaluated user is NaN or infinite, naming
///   the smallest such user id (checked before exclusion, so even excluded items count).
pub fn evaluate(
    scorer: &dyn RankingScorer,
    target: &Interactions,
    exclude: &[&Interactions],
    opts: &EvalOptions,
) -> Result<EvalReport, EvalError> {
    let start = Instant::now();
    let ks = validate(scorer, target, exclude, opts)?;
    let n_items = scorer.n_items();
    let nk = ks.len();
    // No list is longer than the item count, so neither are the ranking buffers: a cut-off
    // of any size (a user's `--ks 1000000000`) costs no more than K = n_items.
    let k_max = ks[nk - 1].min(n_items);
    let disc = Discounts::new(k_max);
    let users = target.active_users();

    // vals[r * nk + j]: metrics of users[r] at ks[j].
    let mut vals = vec![MetricValues::default(); users.len() * nk];
    let chunk = opts
        .chunk_users
        .min(MAX_BUFFER_FLOATS / n_items.max(1))
        .min(users.len())
        .max(1);
    let mut buf = if users.is_empty() {
        Vec::new()
    } else {
        vec![0.0f32; chunk * n_items]
    };
    let (mut scoring, mut ranking) = (0.0f64, 0.0f64);

    for (cu, slots) in users.chunks(chunk).zip(vals.chunks_mut(chunk * nk)) {
        let t = Instant::now();
        scorer.score_users(cu, &mut buf[..cu.len() * n_items]);
        scoring += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let rows = &buf[..cu.len() * n_items];
        let bad = rows
            .par_chunks(n_items.max(1))
            .zip(slots.par_chunks_mut(nk))
            .zip(cu.par_iter())
            .map_init(
                || (TopK::with_capacity(k_max), Vec::with_capacity(k_max)),
                |(sel, ranked), ((row, slot), &u)| {
                    let is_excluded =
                        |i: u32| exclude.iter().any(|x| x.items(u).binary_search(&i).is_ok());
                    match sel.select_checked(row, k_max, is_excluded, ranked) {
                        Ok(()) => {
                            user_metrics(ranked, target.items(u), &ks, &disc, slot);
                            None
                        }
                        Err(j) => Some((u, j)),
                    }
                },
            )
            .flatten()
            .min_by_key(|&(u, _)| u);
        ranking += t.elapsed().as_secs_f64();
        if let Some((user, j)) = bad {
            let r = cu.partition_point(|&v| v < user);
            let value = buf[r * n_items + j];
            return Err(EvalError::NonFiniteScore {
                user,
                item: j as u32,
                value,
            });
        }
    }

    // Average in user order (deterministic, independent of chunking and threads).
    let n = users.len();
    let at = ks
        .iter()
        .enumerate()
        .map(|(j, &k)| {
            let mut s = MetricValues::default();
            for v in vals.iter().skip(j).step_by(nk) {
                s.recall += v.recall;
                s.ndcg += v.ndcg;
                s.precision += v.precision;
                s.hit += v.hit;
                s.mrr += v.mrr;
            }
            let d = if n == 0 { 1.0 } else { n as f64 };
            MetricsAtK {
                k,
                recall: s.recall / d,
                ndcg: s.ndcg / d,
                precision: s.precision / d,
                hit: s.hit / d,
                mrr: s.mrr / d,
            }
        })
        .collect();

    let per_user = opts.keep_per_user.then(|| PerUser {
        at: ks
            .iter()
            .enumerate()
            .map(|(j, &k)| {
                let col = |f: fn(&MetricValues) -> f64| -> Vec<f64> {
                    vals.iter().skip(j).step_by(nk).map(f).collect()
                };
                PerUserAtK {
                    k,
                    recall: col(|v| v.recall),
                    ndcg: col(|v| v.ndcg),
                    precision: col(|v| v.precision),
                    hit: col(|v| v.hit),
                    mrr: col(|v| v.mrr),
                }
            })
            .collect(),
        users,
    });

    Ok(EvalReport {
        n_users: n,
        at,
        per_user,
        seconds: start.elapsed().as_secs_f64(),
        scoring_seconds: scoring,
        ranking_seconds: ranking,
    })
}

/// Checks options and id spaces; returns the distinct cutoffs, ascending.
fn validate(
    scorer: &dyn RankingScorer,
    target: &Interactions,
    exclude: &[&Interactions],
    opts: &EvalOptions,
) -> Result<Vec<usize>, EvalError> {
    if opts.ks.is_empty() {
        return Err(EvalError::NoCutoffs);
    }
    if opts.ks.contains(&0) {
        return Err(EvalError::ZeroCutoff);
    }
    if opts.chunk_users == 0 {
        return Err(EvalError::ZeroChunk);
    }
    let n_items = scorer.n_items();
    let n_users = target.n_users();
    let splits = std::iter::once(("target".to_string(), target)).chain(
        exclude
            .iter()
            .enumerate()
            .map(|(i, x)| (format!("exclude[{i}]"), *x)),
    );
    for (what, x) in splits {
        if x.n_items() != n_items {
            return Err(EvalError::ItemSpaceMismatch {
                what,
                expected: n_items,
                got: x.n_items(),
            });
        }
        if x.n_users() != n_users {
            return Err(EvalError::UserSpaceMismatch {
                what,
                expected: n_users,
                got: x.n_users(),
            });
        }
    }
    if let Some(s) = scorer.n_users()
        && s != n_users
    {
        return Err(EvalError::UserSpaceMismatch {
            what: "scorer".to_string(),
            expected: n_users,
            got: s,
        });
    }
    let mut ks = opts.ks.clone();
    ks.sort_unstable();
    ks.dedup();
    Ok(ks)
}
