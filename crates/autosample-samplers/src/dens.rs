//! DENS (Lai et al., WSDM 2023, "Disentangled Negative Sampling for Collaborative Filtering").
//!
//! Four gates, each a `Linear(d, d)` with bias, split an item embedding into a *relevant*
//! factor (kept by the gate) and an *irrelevant* one (the rest). For a pair `(u, i)` and each
//! of its `K` negatives, `M` uniform non-positive candidates `c_1 … c_M` are drawn, and for
//! every layer `l` (`L` = [`crate::Scorer::n_layers`], per-layer rows of width `d`):
//!
//! ```text
//! g_p  = σ(W_item p⁽ˡ⁾ + W_user s⁽ˡ⁾)          p̃ = p⁽ˡ⁾ ⊙ g_p          (relevant factor of the positive)
//! g_m  = σ(W_neg c_m⁽ˡ⁾ + W_pos p̃)             c̃_m = c_m⁽ˡ⁾ ⊙ g_m      (relevant factor of candidate m)
//! sel_m = (1 − min(1, t / warmup)) · c_m⁽ˡ⁾ − c̃_m
//! m*_l = argmax_m ⟨s⁽ˡ⁾, sel_m⟩
//! ```
//!
//! with `s⁽ˡ⁾` the user's and `p⁽ˡ⁾` the positive's layer-`l` embedding and `t` the 0-based
//! epoch: early on the rule is DNS on the layer, and after `warmup` epochs it prefers the
//! candidate whose *irrelevant* factor scores highest. The negative is the per-layer stack
//! `[c_{m*_0}⁽⁰⁾, …, c_{m*_{L−1}}⁽ᴸ⁻¹⁾]` of real candidates, returned as [`Negatives::Mixed`]
//! with weight 0 on the positive: the models pool it like an item.
//!
//! The gates are this sampler's own parameters. With `γ > 0` they train through an auxiliary
//! loss that the model adds to its BPR loss ([`NegativeSampler::auxiliary`], built in the
//! models crate over the batch's per-layer rows): `γ/4 ×` four K-pair BPR terms that rank the
//! relevant factor of the positive above its irrelevant factor and above the relevant factor
//! of the negatives, and the irrelevant factor of the negatives above their relevant factor
//! and below the positive's irrelevant factor (`create_bpr_loss`). The model returns the gate
//! gradient and the trainer hands it back ([`NegativeSampler::apply_auxiliary_gradient`]),
//! where it takes an Adam step with the model's learning rate (the reference trains gates and
//! embeddings with one `torch.optim.Adam`). With `γ = 0` the gates keep their initial values,
//! as in the reference.
//!
//! Source: `dise_negative_sampling` and `create_bpr_loss` in github.com/Riwei-HEU/DENS,
//! `DENS/modules/LightGCN.py`, commit 4ae0ecd0d15155664c1e10134d7e5fe6e742e21e; defaults from
//! `DENS/utils/parser.py` (`n_negs = 6`, `warmup = 100`, `gamma = 0.3`). The gates are
//! `nn.Linear`s with PyTorch's default initialisation, weight and bias `U(−1/√d, 1/√d)` (the
//! reference Xavier-initialises the embeddings only). Differences: the reference's `alpha`
//! argument is unused by its selection rule and is not exposed; ties and NaN follow
//! `torch.max` (first maximum, first NaN).
//!
//! The gate vector and the Adam moments are saved with training checkpoints
//! ([`NegativeSampler::save_state`]): a resumed run continues them.
//!
//! Cost per batch: `B·L·3 + L·D` gate products of `d × d`, `D ≤ min(B·K·M, n_items)` the
//! batch's distinct candidates (the negative gate depends on the candidate alone).

use autosample_data::ItemId;
use rand::RngExt;
use rayon::prelude::*;

use crate::engine::{
    CHUNK_PAIRS, check_batch, chunk_rng, fill_candidates, require_scorer, sigmoid, usable_pool,
};
use crate::{
    Auxiliary, NegativeKind, NegativeSampler, Negatives, PairBatch, Result, SampleContext,
    SamplerError, SamplerRng, StateReader, StateWriter,
};

/// The four gates, in the order they are laid out in the parameter vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DensGate {
    /// Applied to the user's layer embedding (positive gate).
    User = 0,
    /// Applied to the positive's layer embedding (positive gate).
    Item = 1,
    /// Applied to the positive's relevant factor (negative gate).
    Pos = 2,
    /// Applied to a candidate's layer embedding (negative gate).
    Neg = 3,
}

impl DensGate {
    /// Floats per gate: a `d × d` weight then a `d` bias.
    pub fn len(dim: usize) -> usize {
        dim * dim + dim
    }

    /// Where this gate starts in the parameter vector of width `dim`. The weight is stored
    /// input-major, `W[i·d + j]` = input `i` to output `j`, so `y = x·W + b` (the transpose of
    /// `nn.Linear.weight`).
    pub fn offset(self, dim: usize) -> usize {
        self as usize * Self::len(dim)
    }

    /// (weight, bias) of this gate in `params`.
    pub fn split(self, params: &[f32], dim: usize) -> (&[f32], &[f32]) {
        let at = self.offset(dim);
        params[at..at + Self::len(dim)].split_at(dim * dim)
    }
}

/// Length of the whole gate vector for width `dim`.
pub fn dens_params_len(dim: usize) -> usize {
    4 * DensGate::len(dim)
}

/// `out = x·W + b` for one gate (`out` of length `d`).
#[inline]
pub fn gate_linear(params: &[f32], dim: usize, gate: DensGate, x: &[f32], out: &mut [f32]) {
    let (w, b) = gate.split(params, dim);
    out.copy_from_slice(b);
    for (xi, row) in x.iter().zip(w.chunks_exact(dim)) {
        for (o, wij) in out.iter_mut().zip(row) {
            *o += xi * wij;
        }
    }
}

/// DENS: gated selection over `M` candidates per layer, with trainable gates.
#[derive(Debug, Clone)]
pub struct DensSampler {
    candidates: usize,
    warmup: f64,
    gamma: f64,
    /// The gate vector (see [`DensGate`]), initialised on the first batch, when the width is
    /// known.
    params: Vec<f32>,
    dim: usize,
    adam_m: Vec<f32>,
    adam_v: Vec<f32>,
    adam_steps: u64,
}

/// Adam's `β₁`, `β₂`, `ε` for the gates (PyTorch defaults, as the reference's optimizer).
const ADAM: (f32, f32, f32) = (0.9, 0.999, 1e-8);

impl DensSampler {
    /// DENS over `candidates` (`M ≥ 1`) uniform candidates, a warm-up of `warmup` epochs and
    /// auxiliary-loss weight `gamma`.
    pub fn new(candidates: usize, warmup: f64, gamma: f64) -> Self {
        Self {
            candidates: candidates.max(1),
            warmup,
            gamma,
            params: Vec::new(),
            dim: 0,
            adam_m: Vec::new(),
            adam_v: Vec::new(),
            adam_steps: 0,
        }
    }

    /// The gate vector (empty before the first batch).
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Replaces the gate vector (tests, warm starts); resets the Adam moments.
    ///
    /// # Errors
    /// If its length is not [`dens_params_len`] of some width `d ≥ 1`.
    pub fn set_params(&mut self, dim: usize, params: Vec<f32>) -> Result<()> {
        if dim == 0 || params.len() != dens_params_len(dim) {
            return Err(SamplerError::InvalidContext {
                sampler: NAME,
                message: format!(
                    "gate vector of {} floats does not fit width {dim} ({} expected)",
                    params.len(),
                    dens_params_len(dim)
                ),
            });
        }
        self.dim = dim;
        self.params = params;
        self.adam_m = vec![0.0; self.params.len()];
        self.adam_v = vec![0.0; self.params.len()];
        self.adam_steps = 0;
        Ok(())
    }

    /// `(1 − min(1, t / warmup))`: the weight of the whole candidate embedding in `sel_m`.
    fn dns_weight(&self, epoch: usize) -> f32 {
        if self.warmup <= 0.0 {
            return 0.0;
        }
        (1.0 - (epoch as f64 / self.warmup).min(1.0)) as f32
    }

    /// Initialises the gates for width `dim` on first use: `U(−1/√d, 1/√d)` from `rng`.
    fn ensure_params(&mut self, dim: usize, rng: &mut SamplerRng) -> Result<()> {
        if self.dim == dim && !self.params.is_empty() {
            return Ok(());
        }
        if self.dim != 0 {
            return Err(SamplerError::InvalidContext {
                sampler: NAME,
                message: format!(
                    "the gates were built for width {}, but the model's layers have width {dim}",
                    self.dim
                ),
            });
        }
        let bound = 1.0 / (dim as f32).sqrt();
        let params = (0..dens_params_len(dim))
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        self.set_params(dim, params)
    }
}

/// The distinct items of `drawn` in order of first appearance, and each item's position in
/// that list (`u32::MAX` for items not drawn), over a catalogue of `n_items`.
fn distinct_items(drawn: &[ItemId], n_items: usize) -> (Vec<ItemId>, Vec<u32>) {
    let mut slot = vec![u32::MAX; n_items];
    let mut distinct = Vec::new();
    for &item in drawn {
        let s = &mut slot[item as usize];
        if *s == u32::MAX {
            *s = distinct.len() as u32;
            distinct.push(item);
        }
    }
    (distinct, slot)
}

/// Per-worker reusable buffers.
#[derive(Default)]
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    pos_term: Vec<f32>,
}

const NAME: &str = "dens";

impl NegativeSampler for DensSampler {
    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_scorer(&self) -> bool {
        true
    }

    fn kind(&self) -> NegativeKind {
        NegativeKind::Mixed
    }

    fn keeps_state(&self) -> bool {
        true
    }

    /// The gates and their Adam moments and step count, once the gates exist.
    fn save_state(&self) -> Option<Vec<u8>> {
        if self.params.is_empty() {
            return None;
        }
        let mut w = StateWriter::new(NAME);
        w.usize(self.dim);
        w.f32s(&self.params);
        w.f32s(&self.adam_m);
        w.f32s(&self.adam_v);
        w.u64(self.adam_steps);
        Some(w.finish())
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        let mut r = StateReader::new(state, NAME)?;
        let dim = r.usize()?;
        let (params, adam_m, adam_v) = (r.f32s()?, r.f32s()?, r.f32s()?);
        let adam_steps = r.u64()?;
        r.finish()?;
        let n = dens_params_len(dim);
        if dim == 0 || params.len() != n || adam_m.len() != n || adam_v.len() != n {
            return Err(SamplerError::InvalidState {
                sampler: NAME,
                message: format!("gates of width {dim} do not have {n} values"),
            });
        }
        (
            self.dim,
            self.params,
            self.adam_m,
            self.adam_v,
            self.adam_steps,
        ) = (dim, params, adam_m, adam_v, adam_steps);
        Ok(())
    }

    fn auxiliary(&self) -> Option<Auxiliary<'_>> {
        (self.gamma > 0.0 && !self.params.is_empty()).then_some(Auxiliary::DensGates {
            dim: self.dim,
            gates: &self.params,
            gamma: self.gamma as f32,
        })
    }

    fn apply_auxiliary_gradient(&mut self, grad: &[f32], lr: f64) {
        assert_eq!(
            grad.len(),
            self.params.len(),
            "gate gradient has the wrong length"
        );
        let (b1, b2, eps) = ADAM;
        self.adam_steps += 1;
        let t = self.adam_steps as i32;
        let c1 = 1.0 - b1.powi(t);
        let c2 = 1.0 - b2.powi(t);
        let lr = lr as f32;
        for (((p, m), v), &g) in self
            .params
            .iter_mut()
            .zip(&mut self.adam_m)
            .zip(&mut self.adam_v)
            .zip(grad)
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
        }
    }

    fn sample_batch(
        &mut self,
        batch: &PairBatch<'_>,
        k: usize,
        ctx: &SampleContext<'_>,
        rng: &mut SamplerRng,
        out: &mut Negatives,
    ) -> Result<()> {
        let scorer = require_scorer(ctx, NAME)?;
        check_batch(batch, ctx.train, NAME)?;
        let layers = scorer.n_layers();
        let (candidates, weights) = out.reset_mixed(k, layers);
        if k == 0 || batch.is_empty() || layers == 0 {
            return Ok(());
        }
        let dim = scorer.user_layer(0, batch.users[0]).len();
        self.ensure_params(dim, rng)?;
        let m = self.candidates;
        let need = m * k;
        let pool = usable_pool(ctx, batch, need, NAME)?;
        let seed: u64 = rng.random();
        let train = ctx.train;
        let params = &self.params;
        let dns_weight = self.dns_weight(ctx.epoch);
        let per_pair = k * layers;
        let n_pairs = batch.len();
        // Pass 1: every pair's `K·M` candidates, each chunk of pairs from its own RNG stream.
        let mut drawn: Vec<ItemId> = vec![0; n_pairs * need];
        drawn
            .par_chunks_mut(CHUNK_PAIRS * need)
            .enumerate()
            .for_each_init(Vec::new, |buf, (c, chunk)| {
                let mut rng = chunk_rng(seed, c as u64);
                for (j, out) in chunk.chunks_mut(need).enumerate() {
                    let b = c * CHUNK_PAIRS + j;
                    fill_candidates(pool, b, need, batch.users[b], train, &mut rng, buf);
                    out.copy_from_slice(buf);
                }
            });
        // Pass 2: the negative gate's pre-activation `W_neg c + b_neg` depends on the candidate
        // and the layer alone, and a batch draws the same items many times (`B·K·M` draws over
        // the catalogue): compute it once per distinct candidate and layer. The same products
        // in the same order as per draw, so the picks are unchanged.
        let (distinct, slot) = distinct_items(&drawn, train.n_items());
        let nd = distinct.len();
        let mut neg_gate = vec![0.0f32; layers * nd * dim];
        neg_gate
            .par_chunks_mut(dim)
            .enumerate()
            .for_each(|(r, row)| {
                let (l, item) = (r / nd, distinct[r % nd]);
                gate_linear(params, dim, DensGate::Neg, scorer.item_layer(l, item), row);
            });
        // Pass 3: per pair and layer, the positive's gates and each candidate's selection score.
        candidates.resize(n_pairs * per_pair, 0);
        weights.clear();
        weights.resize(n_pairs * per_pair, 0.0);
        candidates
            .par_chunks_mut(CHUNK_PAIRS * per_pair)
            .enumerate()
            .for_each_init(Scratch::default, |s, (c, cand_chunk)| {
                s.a.resize(dim, 0.0);
                s.b.resize(dim, 0.0);
                s.pos_term.resize(dim, 0.0);
                for (j, pair_cands) in cand_chunk.chunks_mut(per_pair).enumerate() {
                    let b = c * CHUNK_PAIRS + j;
                    let (user, positive) = (batch.users[b], batch.positives[b]);
                    let pair_drawn = &drawn[b * need..(b + 1) * need];
                    for l in 0..layers {
                        let su = scorer.user_layer(l, user);
                        let p = scorer.item_layer(l, positive);
                        // p̃ = p ⊙ σ(item(p) + user(s)); pos_term = pos(p̃).
                        gate_linear(params, dim, DensGate::Item, p, &mut s.a);
                        gate_linear(params, dim, DensGate::User, su, &mut s.b);
                        for ((a, bb), pj) in s.a.iter_mut().zip(&s.b).zip(p) {
                            *a = pj * sigmoid(*a + bb);
                        }
                        gate_linear(params, dim, DensGate::Pos, &s.a, &mut s.pos_term);
                        for g in 0..k {
                            let group = &pair_drawn[g * m..(g + 1) * m];
                            let mut best = 0;
                            let mut best_score = f32::NEG_INFINITY;
                            for (idx, &cand) in group.iter().enumerate() {
                                let e = scorer.item_layer(l, cand);
                                let r = (l * nd + slot[cand as usize] as usize) * dim;
                                let gn = &neg_gate[r..r + dim];
                                let mut score = 0.0f32;
                                for (((x, gn), pt), sj) in e.iter().zip(gn).zip(&s.pos_term).zip(su)
                                {
                                    let gated = x * sigmoid(gn + pt);
                                    score += sj * (dns_weight * x - gated);
                                }
                                // torch.max: the first NaN wins, else the first maximum.
                                if score.is_nan() {
                                    best = idx;
                                    break;
                                }
                                if idx == 0 || score > best_score {
                                    (best, best_score) = (idx, score);
                                }
                            }
                            pair_cands[g * layers + l] = group[best];
                        }
                    }
                }
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{DensSampler, distinct_items};

    #[test]
    fn the_warmup_weight_ramps_to_zero_and_a_zero_warmup_is_zero_at_once() {
        // 1 − min(1, t/warmup), t the 0-based epoch (the reference's cur_epoch / warmup).
        let d = DensSampler::new(6, 100.0, 0.3);
        assert_eq!(d.dns_weight(0), 1.0);
        assert_eq!(d.dns_weight(25), 0.75);
        assert_eq!(d.dns_weight(100), 0.0);
        assert_eq!(d.dns_weight(400), 0.0);
        // warmup = 0, where the reference divides by zero: the irrelevant factor alone.
        assert_eq!(DensSampler::new(6, 0.0, 0.3).dns_weight(0), 0.0);
    }

    #[test]
    fn distinct_items_keep_first_appearance_order() {
        let (distinct, slot) = distinct_items(&[3, 1, 3, 0, 1, 3], 5);
        assert_eq!(distinct, [3, 1, 0]);
        assert_eq!(slot, [2, 1, u32::MAX, 0, u32::MAX]);
        let (none, slot) = distinct_items(&[], 2);
        assert!(none.is_empty());
        assert_eq!(slot, [u32::MAX; 2]);
    }
}
