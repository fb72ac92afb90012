//! Row-sparse ("lazy") optimizers over [`EmbeddingTable`]s.
//!
//! A mini-batch touches a few thousand rows of tables with tens of thousands; updating only
//! those rows is what makes training cost independent of the table size. Adam here is *lazy*
//! Adam (as torch `SparseAdam` and TF `LazyAdam`): the moments of a row move only when the row
//! gets a gradient, and bias correction uses the optimizer's global step count. Dense Adam (what
//! most papers run through torch on dense embeddings) also decays untouched rows' moments; the two
//! differ slightly, which matters when comparing against published numbers.

use serde::{Deserialize, Serialize};

use crate::{EmbeddingTable, ModelError, Result};

/// Optimizer of the embedding tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Lazy Adam (Kingma & Ba 2015, row-sparse).
    Adam {
        /// Learning rate (default 1e-3, as in the LightGCN/MixGCF code).
        #[serde(default = "default_adam_lr")]
        lr: f64,
        /// First-moment decay (default 0.9).
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Second-moment decay (default 0.999).
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// Denominator epsilon (default 1e-8).
        #[serde(default = "default_eps")]
        eps: f64,
    },
    /// Plain SGD on the touched rows: `w ← w − lr·g`.
    Sgd {
        /// Learning rate. The loss is a batch mean, so per-row gradients are ~1/batch of a
        /// per-example gradient: SGD needs a much larger rate than Adam (e.g. 0.1–1).
        lr: f64,
    },
}

fn default_adam_lr() -> f64 {
    1e-3
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adam {
            lr: default_adam_lr(),
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
        }
    }
}

impl OptimizerConfig {
    /// Adam with the given learning rate and default betas.
    pub fn adam(lr: f64) -> Self {
        OptimizerConfig::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Adam { lr, .. } | OptimizerConfig::Sgd { lr } => *lr,
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::Config(m));
        match *self {
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                if !(lr > 0.0 && lr.is_finite()) {
                    return bad(format!("adam lr must be a positive number, got {lr}"));
                }
                if !(0.0..1.0).contains(&beta1) || !(0.0..1.0).contains(&beta2) {
                    return bad(format!(
                        "adam betas must lie in [0, 1), got {beta1}, {beta2}"
                    ));
                }
                if eps.is_nan() || eps <= 0.0 {
                    return bad(format!("adam eps must be positive, got {eps}"));
                }
            }
            OptimizerConfig::Sgd { lr } => {
                if !(lr > 0.0 && lr.is_finite()) {
                    return bad(format!("sgd lr must be a positive number, got {lr}"));
                }
            }
        }
        Ok(())
    }
}

/// One Adam update's constants. Folding the bias corrections into the step size and epsilon
/// gives exactly `w −= lr · m̂ / (√v̂ + eps)` with `m̂ = m/(1−β1ᵗ)`, `v̂ = v/(1−β2ᵗ)`.
#[derive(Debug, Clone, Copy)]
struct AdamStep {
    step_size: f32,
    eps_hat: f32,
    b1: f32,
    b2: f32,
}

impl AdamStep {
    fn new(lr: f64, beta1: f64, beta2: f64, eps: f64, t: u64) -> Self {
        let t = t as i32;
        let bc1 = 1.0 - beta1.powi(t);
        let bc2 = 1.0 - beta2.powi(t);
        Self {
            step_size: (lr * bc2.sqrt() / bc1) as f32,
            eps_hat: (eps * bc2.sqrt()) as f32,
            b1: beta1 as f32,
            b2: beta2 as f32,
        }
    }

    /// Updates the moments and the weights of one slice of a table.
    #[inline]
    fn apply(&self, w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        for j in 0..w.len() {
            let gj = g[j];
            m[j] = self.b1 * m[j] + (1.0 - self.b1) * gj;
            v[j] = self.b2 * v[j] + (1.0 - self.b2) * gj * gj;
            w[j] -= self.step_size * m[j] / (v[j].sqrt() + self.eps_hat);
        }
    }
}

/// The optimizer state of one table.
#[derive(Debug, Clone)]
pub struct RowSparseOptimizer {
    config: OptimizerConfig,
    dim: usize,
    /// Adam first moments, `rows × dim` (empty for SGD).
    m: Vec<f32>,
    /// Adam second moments, `rows × dim` (empty for SGD).
    v: Vec<f32>,
    step: u64,
}

impl RowSparseOptimizer {
    /// Fresh state for a `rows × dim` table.
    pub fn new(config: OptimizerConfig, rows: usize, dim: usize) -> Self {
        let n = match config {
            OptimizerConfig::Adam { .. } => rows * dim,
            OptimizerConfig::Sgd { .. } => 0,
        };
        Self {
            config,
            dim,
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Saves the moments and the step count into `state` under `prefix`.
    pub fn save_state(&self, prefix: &str, state: &mut crate::TrainingState) {
        state.tensors.push((format!("{prefix}.m"), self.m.clone()));
        state.tensors.push((format!("{prefix}.v"), self.v.clone()));
        state.counters.insert(format!("{prefix}.step"), self.step);
    }

    /// Restores what [`RowSparseOptimizer::save_state`] saved.
    pub fn load_state(&mut self, prefix: &str, state: &mut crate::TrainingState) -> Result<()> {
        self.m = state.take(&format!("{prefix}.m"), self.m.len())?;
        self.v = state.take(&format!("{prefix}.v"), self.v.len())?;
        self.step = state.counter(&format!("{prefix}.step"));
        Ok(())
    }

    /// Applies one update: `grads` holds one gradient row per entry of `rows` (row-major,
    /// `rows.len() × dim`). `rows` must be unique (the caller dedupes the batch).
    ///
    /// # Panics
    /// If `grads.len() != rows.len() * dim` (a programming error).
    pub fn update(&mut self, table: &mut EmbeddingTable, rows: &[u32], grads: &[f32]) {
        assert_eq!(
            grads.len(),
            rows.len() * self.dim,
            "gradient rows do not match"
        );
        self.step += 1;
        let d = self.dim;
        match self.config {
            OptimizerConfig::Sgd { lr } => {
                let lr = lr as f32;
                for (k, &r) in rows.iter().enumerate() {
                    let w = table.row_mut(r as usize);
                    for (wj, gj) in w.iter_mut().zip(&grads[k * d..(k + 1) * d]) {
                        *wj -= lr * gj;
                    }
                }
            }
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let step = AdamStep::new(lr, beta1, beta2, eps, self.step);
                for (k, &r) in rows.iter().enumerate() {
                    let off = r as usize * d;
                    step.apply(
                        table.row_mut(r as usize),
                        &mut self.m[off..off + d],
                        &mut self.v[off..off + d],
                        &grads[k * d..(k + 1) * d],
                    );
                }
            }
        }
    }
}

impl RowSparseOptimizer {
    /// Applies one update to *every* row (`grads` is `rows × dim`), in parallel over row
    /// blocks: graph models' gradients reach most rows after a few propagation hops.
    ///
    /// # Panics
    /// If `grads` does not cover the whole table (a programming error).
    pub fn update_all(&mut self, table: &mut EmbeddingTable, grads: &[f32]) {
        use rayon::prelude::*;
        assert_eq!(
            grads.len(),
            table.as_slice().len(),
            "gradient does not cover the table"
        );
        self.step += 1;
        const BLOCK: usize = 4096;
        match self.config {
            OptimizerConfig::Sgd { lr } => {
                let lr = lr as f32;
                table
                    .as_mut_slice()
                    .par_chunks_mut(BLOCK)
                    .zip(grads.par_chunks(BLOCK))
                    .for_each(|(w, g)| {
                        for (wj, gj) in w.iter_mut().zip(g) {
                            *wj -= lr * gj;
                        }
                    });
            }
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let step = AdamStep::new(lr, beta1, beta2, eps, self.step);
                table
                    .as_mut_slice()
                    .par_chunks_mut(BLOCK)
                    .zip(self.m.par_chunks_mut(BLOCK))
                    .zip(self.v.par_chunks_mut(BLOCK))
                    .zip(grads.par_chunks(BLOCK))
                    .for_each(|(((w, m), v), g)| step.apply(w, m, v, g));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_first_step_moves_each_touched_entry_by_lr_times_sign() {
        // At t = 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g).
        let mut table = EmbeddingTable::from_vec(3, 2, vec![0.0; 6]);
        let mut opt = RowSparseOptimizer::new(OptimizerConfig::adam(0.01), 3, 2);
        opt.update(&mut table, &[2, 0], &[0.5, -2.0, 1e-3, 3.0]);
        let expect = [-0.01, -0.01, 0.0, 0.0, -0.01, 0.01];
        for (a, b) in table.as_slice().iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn adam_matches_the_textbook_recursion_over_steps() {
        // Two steps on one scalar, g1 = 1, g2 = −1, lr = 0.1, β = (0.9, 0.999), eps = 1e-8:
        // t1: m = 0.1, v = 0.001, m̂ = 1, v̂ = 1 → w = −0.1
        // t2: m = 0.09 − 0.1 = −0.01, v = 0.000999 + 0.001 = 0.001999,
        //     m̂ = −0.01/0.19, v̂ = 0.001999/0.001999 = 1 → w = −0.1 + 0.1·0.0526316 = −0.0947368
        let mut table = EmbeddingTable::from_vec(1, 1, vec![0.0]);
        let mut opt = RowSparseOptimizer::new(OptimizerConfig::adam(0.1), 1, 1);
        opt.update(&mut table, &[0], &[1.0]);
        assert!((table.as_slice()[0] + 0.1).abs() < 1e-6);
        opt.update(&mut table, &[0], &[-1.0]);
        assert!(
            (table.as_slice()[0] + 0.094_736_8).abs() < 1e-5,
            "{}",
            table.as_slice()[0]
        );
    }

    #[test]
    fn update_all_equals_update_over_every_row() {
        let grads: Vec<f32> = (0..5000 * 3).map(|k| ((k as f32) * 0.01).sin()).collect();
        let init = EmbeddingTable::normal(5000, 3, 0.1, 1);
        for cfg in [
            OptimizerConfig::adam(0.01),
            OptimizerConfig::Sgd { lr: 0.3 },
        ] {
            let (mut a, mut b) = (init.clone(), init.clone());
            let mut oa = RowSparseOptimizer::new(cfg.clone(), 5000, 3);
            let mut ob = RowSparseOptimizer::new(cfg, 5000, 3);
            let rows: Vec<u32> = (0..5000).collect();
            for _ in 0..3 {
                oa.update(&mut a, &rows, &grads);
                ob.update_all(&mut b, &grads);
            }
            assert_eq!(a, b);
        }
    }

    #[test]
    fn sgd_and_validation() {
        let mut table = EmbeddingTable::from_vec(2, 1, vec![1.0, 1.0]);
        let mut opt = RowSparseOptimizer::new(OptimizerConfig::Sgd { lr: 0.5 }, 2, 1);
        opt.update(&mut table, &[1], &[2.0]);
        assert_eq!(table.as_slice(), &[1.0, 0.0]);
        assert!(OptimizerConfig::Sgd { lr: -1.0 }.validate().is_err());
        assert!(OptimizerConfig::adam(1e-3).validate().is_ok());
    }
}
