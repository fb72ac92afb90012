//! # autosample-metrics
//!
//! Full-ranking evaluation of implicit-feedback recommenders: every item is scored for every
//! evaluated user, the user's known positives are excluded, and Recall/NDCG/Precision/Hit/MRR
//! are computed at one or more cutoffs `K`.
//!
//! - [`RankingScorer`] is what a model implements (score all items for a batch of users);
//!   [`DotScorer`] does it for inner-product models (MF, LightGCN) with one matmul per chunk.
//! - [`evaluate`] runs the protocol and returns an [`EvalReport`] (averages per `K`, optional
//!   per-user values for bootstrap noise estimates, timings).
//! - [`top_k`] / [`TopK`] are the hand-written top-K selection it uses.
//!
//! ```
//! use autosample_data::Interactions;
//! use autosample_metrics::{DotScorer, EvalOptions, evaluate};
//!
//! // 2 users × 3 items, dim 2.
//! let user_emb = [1.0, 0.0, /* user 1 */ 0.0, 1.0];
//! let item_emb = [1.0, 0.0, /* item 1 */ 0.5, 0.5, /* item 2 */ 0.0, 1.0];
//! let scorer = DotScorer::new(&user_emb, &item_emb, 2)?;
//! let train = Interactions::from_pairs(2, 3, &[(0, 0), (1, 2)]);
//! let test = Interactions::from_pairs(2, 3, &[(0, 1), (1, 0)]);
//! let report = evaluate(&scorer, &test, &[&train], &EvalOptions::with_ks(&[1, 2]))?;
//! // User 0 scores (1, 0.5, 0); item 0 is training → ranked (1, 2): test item 1 at rank 1.
//! // User 1 scores (0, 0.5, 1); item 2 is training → ranked (1, 0): test item 0 at rank 2.
//! assert_eq!(report.get("recall@1"), Some(0.5));
//! assert_eq!(report.get("recall@2"), Some(1.0));
//! assert_eq!(report.get("mrr@2"), Some(0.75));
//! let ndcg2 = (1.0 + 1.0 / 3f64.log2()) / 2.0;
//! assert!((report.get("ndcg@2").unwrap() - ndcg2).abs() < 1e-12);
//! # Ok::<(), autosample_metrics::EvalError>(())
//! ```
//!
//! ## Protocol
//!
//! The LightGCN / NGCF / MixGCF full-ranking protocol. Every user with at least one item in the
//! target split is evaluated. All items are ranked by score except the user's items in each
//! `exclude` split (training positives; plus validation positives when scoring test), which
//! never appear in the top-K. Ties are broken towards the lower item id. With `T_u` the user's
//! target items, `rel_r = 1[r-th ranked item ∈ T_u]` and `hits = |topK ∩ T_u|`:
//!
//! - `Recall@K = hits / |T_u|`
//! - `Precision@K = hits / K`
//! - `Hit@K = 1[hits > 0]`
//! - `MRR@K = 1 / (1-based rank of the first hit)`, 0 if no hit within `K`
//! - `NDCG@K = DCG / IDCG`, `DCG = Σ_{r=1..K} rel_r / log2(r + 1)`,
//!   `IDCG = Σ_{r=1..min(K, |T_u|)} 1 / log2(r + 1)`
//!
//! and each reported value is the mean over evaluated users. References: LightGCN (He et al.,
//! SIGIR 2020, [arXiv:2002.02126](https://arxiv.org/abs/2002.02126)) and its code
//! (`utils.getLabel`, `RecallPrecision_ATk`, `NDCGatK_r`), MixGCF (`utils/evaluate.py`,
//! `utils/metrics.py`). The top-K is selected once at `max(ks)`; smaller `K` use its prefixes.
//! If fewer than `K` items are rankable the list is simply shorter (precision still divides by
//! `K`).
//!
//! ## Performance
//!
//! Users are processed in chunks: one multi-threaded `gemm` matmul per chunk into a reused score
//! buffer, then a rayon-parallel pass over the chunk's users: a single read of each score row
//! that fuses the non-finite check with a streaming top-K (vectorised block rejection test;
//! excluded items are skipped by binary search when they would enter the top-K, so the row is
//! never written), then the metrics. See
//! `examples/eval_speed.rs` for the benchmark on gowalla-sized tables and the
//! [`scorer`] module for why `gemm` (and its one `unsafe` call) was chosen.

mod error;
mod evaluate;
mod metrics;
pub mod scorer;
pub mod topk;

pub use error::EvalError;
pub use evaluate::{
    DEFAULT_CHUNK_USERS, EvalOptions, EvalReport, MAX_BUFFER_FLOATS, METRIC_NAMES, MetricsAtK,
    PerUser, PerUserAtK, evaluate,
};
pub use scorer::{DotScorer, RankingScorer, gemm_abt};
pub use topk::{TopK, top_k};
