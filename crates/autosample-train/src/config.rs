//! [`TrainConfig`]: everything that determines a training run, saved with it.

use autosample_models::{LightGcnConfig, MfConfig, NgcfConfig};
use autosample_samplers::SamplerConfig;
use serde::{Deserialize, Serialize};

use crate::{Result, TrainError};

/// The model and its hyperparameters. The `type` tag is the `--model` name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelConfig {
    /// Matrix factorisation (BPR-MF).
    Mf(MfConfig),
    /// LightGCN.
    #[serde(rename = "lightgcn")]
    LightGcn(LightGcnConfig),
    /// NGCF.
    Ngcf(NgcfConfig),
}

impl ModelConfig {
    /// The `--model` name.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Mf(_) => "mf",
            ModelConfig::LightGcn(_) => "lightgcn",
            ModelConfig::Ngcf(_) => "ngcf",
        }
    }

    /// A lower bound on the bytes a model of this config holds for `rows` users and items:
    /// its f32 tables with their gradients and Adam's two moments (four copies), and for the
    /// graph models the propagated embeddings of every layer, kept for the backward pass, with
    /// their gradients (two copies a layer); NGCF's layer weights (`2·dim + 2` by `dim` a
    /// layer) with their gradients and moments too. It lets a command refuse a `--dim` that
    /// cannot fit before anything is allocated; the samplers' and the evaluation's memory come
    /// on top. Saturates rather than overflows.
    pub fn memory_lower_bound(&self, rows: usize) -> u128 {
        let (dim, layers, weights) = match self {
            ModelConfig::Mf(c) => (c.dim, 0, false),
            ModelConfig::LightGcn(c) => (c.dim, c.layers, false),
            ModelConfig::Ngcf(c) => (c.dim, c.layers, true),
        };
        let (dim, layers) = (dim as u128, layers as u128);
        let table = (rows as u128).saturating_mul(dim).saturating_mul(4);
        let copies = layers.saturating_mul(2).saturating_add(4);
        let layer_weights = if weights {
            // W1, W2 (dim × dim) and their biases, per layer: (2·dim + 2)·dim floats.
            dim.saturating_mul(2)
                .saturating_add(2)
                .saturating_mul(dim)
                .saturating_mul(layers)
                .saturating_mul(4 * 4)
        } else {
            0
        };
        table.saturating_mul(copies).saturating_add(layer_weights)
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Mf(MfConfig::default())
    }
}

/// A training run's configuration. Defaults follow the LightGCN/MixGCF code where they agree
/// (batch 2048, Adam 1e-3, L2 1e-4, one negative per positive), with evaluation every 5 epochs
/// and a patience of 10 evaluations as in MixGCF's early stopping — on validation, not test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Model and its hyperparameters.
    #[serde(default)]
    pub model: ModelConfig,
    /// Negative sampler (default uniform).
    #[serde(default = "default_sampler")]
    pub sampler: SamplerConfig,
    /// Negatives per positive, K (default 1; K > 1 uses the K-pair BPR loss).
    #[serde(default = "one")]
    pub negatives: usize,
    /// Training pairs per mini-batch (default 2048).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Maximum number of epochs (default 1000; early stopping usually ends sooner).
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Evaluate on validation every this many epochs (default 5).
    #[serde(default = "default_eval_every")]
    pub eval_every: usize,
    /// Stop after this many evaluations without improvement (default 10; 0 disables early
    /// stopping).
    #[serde(default = "default_patience")]
    pub patience: usize,
    /// Cut-offs K of the ranking metrics (default `[20]`).
    #[serde(default = "default_ks")]
    pub ks: Vec<usize>,
    /// Validation metric that selects the best epoch (default `recall@20`).
    #[serde(default = "default_monitor")]
    pub monitor: String,
    /// Root seed of the run: initialisation, shuffles and sampling derive from it.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_sampler() -> SamplerConfig {
    SamplerConfig::Uniform
}
fn one() -> usize {
    1
}
fn default_batch() -> usize {
    2048
}
fn default_epochs() -> usize {
    1000
}
fn default_eval_every() -> usize {
    5
}
fn default_patience() -> usize {
    10
}
fn default_ks() -> Vec<usize> {
    vec![20]
}
fn default_monitor() -> String {
    "recall@20".to_owned()
}
fn default_seed() -> u64 {
    2024
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            sampler: default_sampler(),
            negatives: one(),
            batch_size: default_batch(),
            epochs: default_epochs(),
            eval_every: default_eval_every(),
            patience: default_patience(),
            ks: default_ks(),
            monitor: default_monitor(),
            seed: default_seed(),
        }
    }
}

impl TrainConfig {
    /// Checks every value; the message says which field and how to fix it.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(TrainError::Config(m.to_owned()));
        if self.negatives == 0 {
            return bad("negatives must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1");
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.eval_every == 0 {
            return bad("eval_every must be at least 1");
        }
        if self.ks.is_empty() || self.ks.contains(&0) {
            return bad("ks must be a non-empty list of positive cut-offs, e.g. [20]");
        }
        if let Some(k) = self
            .ks
            .iter()
            .enumerate()
            .find_map(|(n, k)| self.ks[..n].contains(k).then_some(k))
        {
            return Err(TrainError::Config(format!(
                "ks lists {k} twice ({:?}); give each cut-off once",
                self.ks
            )));
        }
        let (name, k) = parse_monitor(&self.monitor)?;
        if !self.ks.contains(&k) {
            return Err(TrainError::Config(format!(
                "monitor {:?} needs k = {k} among ks {:?}; add it to ks",
                self.monitor, self.ks
            )));
        }
        let _ = name;
        self.sampler.validate()?;
        match &self.model {
            ModelConfig::Mf(mf) => mf.validate()?,
            ModelConfig::LightGcn(c) => c.validate()?,
            ModelConfig::Ngcf(c) => c.validate()?,
        }
        Ok(())
    }
}

/// Splits `recall@20` into `("recall", 20)`.
pub(crate) fn parse_monitor(monitor: &str) -> Result<(&str, usize)> {
    let err = || {
        TrainError::Config(format!(
            "monitor {monitor:?} is not of the form <metric>@<k> with metric one of recall, ndcg, \
             precision, hit, mrr (e.g. recall@20)"
        ))
    };
    let (name, k) = monitor.split_once('@').ok_or_else(err)?;
    if !["recall", "ndcg", "precision", "hit", "mrr"].contains(&name) {
        return Err(err());
    }
    let k: usize = k.parse().map_err(|_| err())?;
    Ok((name, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_validate() {
        let c = TrainConfig::default();
        c.validate().unwrap();
        let json = serde_json::to_string_pretty(&c).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), c);
        // Partial JSON takes defaults; unknown keys are rejected.
        let p: TrainConfig = serde_json::from_str(r#"{"epochs": 3}"#).unwrap();
        assert_eq!(p.epochs, 3);
        assert!(serde_json::from_str::<TrainConfig>(r#"{"epoch": 3}"#).is_err());
    }

    #[test]
    fn rejects_bad_values_with_a_reason() {
        let mut c = TrainConfig {
            monitor: "recall@50".into(),
            ..TrainConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("add it to ks")
        );
        c.monitor = "auc@20".into();
        assert!(c.validate().is_err());
        c = TrainConfig {
            batch_size: 0,
            ..TrainConfig::default()
        };
        assert!(c.validate().is_err());
        c = TrainConfig {
            ks: vec![20, 50, 20],
            ..TrainConfig::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            TrainError::Config("ks lists 20 twice ([20, 50, 20]); give each cut-off once".into())
                .to_string()
        );
    }

    #[test]
    fn the_memory_bound_counts_tables_optimizer_state_and_layers() {
        // 10 rows × dim 8 × 4 bytes = 320 bytes a table; MF keeps 4 copies, a 3-layer graph
        // model 4 + 2·3.
        let mf = ModelConfig::Mf(MfConfig {
            dim: 8,
            ..MfConfig::default()
        });
        assert_eq!(mf.memory_lower_bound(10), 320 * 4);
        let lightgcn = ModelConfig::LightGcn(LightGcnConfig {
            dim: 8,
            layers: 3,
            ..LightGcnConfig::default()
        });
        assert_eq!(lightgcn.memory_lower_bound(10), 320 * 10);
        // NGCF adds (2·8 + 2)·8 weights a layer, 4 bytes, 4 copies.
        let ngcf = ModelConfig::Ngcf(NgcfConfig {
            dim: 8,
            layers: 3,
            ..NgcfConfig::default()
        });
        assert_eq!(ngcf.memory_lower_bound(10), 320 * 10 + 3 * 18 * 8 * 16);
        let huge = ModelConfig::LightGcn(LightGcnConfig {
            dim: usize::MAX,
            layers: usize::MAX,
            ..LightGcnConfig::default()
        });
        assert_eq!(huge.memory_lower_bound(usize::MAX), u128::MAX);
    }
}
