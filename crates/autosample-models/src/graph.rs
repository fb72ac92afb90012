//! The symmetric normalised user–item adjacency of LightGCN/NGCF and its sparse product.
//!
//! Nodes are users `0..n_users` followed by items `n_users..n_users + n_items`. With `A` the
//! bipartite adjacency of the training interactions and `D` its degree matrix,
//! `Â = D^{-1/2} A D^{-1/2}` (LightGCN eq. 7; nodes of degree 0 get empty rows, as the
//! reference code's `d_inv[isinf] = 0`). `Â` is symmetric, so the backward of `X ↦ ÂX` is the
//! same product, which is why one hand-written CSR SpMM serves both directions (burn 0.22 has
//! no sparse tensors, and its gather/scatter route is 3–10× slower).
//!
//! NGCF's reference code propagates over a different matrix, the row-normalised adjacency with
//! self-loops `D̃⁻¹(A + I)` ([`NormalizedAdjacency::mean_with_self_loops`]). It is not
//! symmetric, so its backward uses the explicit transpose
//! ([`NormalizedAdjacency::transpose_with_map`]); per-step edge dropout reuses the sparsity
//! pattern with other values ([`NormalizedAdjacency::spmm_with_values`]).

use autosample_data::Interactions;
use rayon::prelude::*;

/// `Â` in CSR form over `n_users + n_items` nodes.
#[derive(Debug, Clone)]
pub struct NormalizedAdjacency {
    n_users: usize,
    n_nodes: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
    /// Whether this is LightGCN's `D^{-1/2} A D^{-1/2}` (symmetric, no self-loops), which
    /// [`NormalizedAdjacency::spmm_from_rows`] relies on.
    symmetric_bipartite: bool,
}

/// Rows per parallel task of [`NormalizedAdjacency::spmm`]: large enough to amortise task
/// overhead, small enough to balance skewed degrees over 2+ threads.
const ROWS_PER_TASK: usize = 512;

impl NormalizedAdjacency {
    /// Builds `Â` from the training interactions.
    pub fn from_interactions(train: &Interactions) -> Self {
        let (nu, ni) = (train.n_users(), train.n_items());
        let n = nu + ni;
        let item_deg = train.item_degrees();
        let mut deg = Vec::with_capacity(n);
        deg.extend((0..nu as u32).map(|u| train.degree(u) as f32));
        deg.extend(item_deg.iter().map(|&d| d as f32));
        let inv_sqrt: Vec<f32> = deg
            .iter()
            .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
            .collect();

        // Item rows list their users.
        let (item_ptr, item_users) = item_users(train);

        let mut indptr = Vec::with_capacity(n + 1);
        let mut indices = Vec::with_capacity(2 * train.nnz());
        let mut values = Vec::with_capacity(2 * train.nnz());
        indptr.push(0);
        for u in 0..nu {
            for &i in train.items(u as u32) {
                let c = nu + i as usize;
                indices.push(c as u32);
                values.push(inv_sqrt[u] * inv_sqrt[c]);
            }
            indptr.push(indices.len());
        }
        for i in 0..ni {
            let r = nu + i;
            for &u in &item_users[item_ptr[i]..item_ptr[i + 1]] {
                indices.push(u);
                values.push(inv_sqrt[r] * inv_sqrt[u as usize]);
            }
            indptr.push(indices.len());
        }
        Self {
            n_users: nu,
            n_nodes: n,
            indptr,
            indices,
            values,
            symmetric_bipartite: true,
        }
    }

    /// Number of nodes (users + items).
    pub fn n_nodes(&self) -> usize {
        self.n_nodes
    }

    /// Number of users (the first rows).
    pub fn n_users(&self) -> usize {
        self.n_users
    }

    /// Number of stored entries (twice the training interactions).
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// `out = Â · x` for row-major `x`, `out` of shape `[n_nodes, dim]`, parallel over row
    /// blocks.
    ///
    /// # Panics
    /// If the slices do not have `n_nodes · dim` entries (a programming error).
    pub fn spmm(&self, x: &[f32], dim: usize, out: &mut [f32]) {
        assert_eq!(x.len(), self.n_nodes * dim, "x has the wrong shape");
        assert_eq!(out.len(), self.n_nodes * dim, "out has the wrong shape");
        let arch = pulp::Arch::new();
        out.par_chunks_mut(ROWS_PER_TASK * dim)
            .enumerate()
            .for_each(|(block, chunk)| {
                let first = block * ROWS_PER_TASK;
                arch.dispatch(|| {
                    for (k, row_out) in chunk.chunks_mut(dim).enumerate() {
                        self.accumulate_row(first + k, x, dim, row_out);
                    }
                });
            });
    }

    /// Rows `rows` of `Â · x`, written compactly: `out[k]` is row `rows[k]` of the product.
    /// What a forward hop costs when only a batch's rows of it are read (the last LightGCN
    /// layer when no sampler scores the full table).
    ///
    /// # Panics
    /// If `x` does not have `n_nodes · dim` entries, `out` not `rows.len() · dim`, or a row
    /// is out of range (a programming error).
    pub fn spmm_rows(&self, x: &[f32], dim: usize, rows: &[u32], out: &mut [f32]) {
        assert_eq!(x.len(), self.n_nodes * dim, "x has the wrong shape");
        assert_eq!(out.len(), rows.len() * dim, "out has the wrong shape");
        let arch = pulp::Arch::new();
        out.par_chunks_mut(ROWS_PER_TASK * dim)
            .zip(rows.par_chunks(ROWS_PER_TASK))
            .for_each(|(chunk, rows)| {
                arch.dispatch(|| {
                    for (row_out, &r) in chunk.chunks_mut(dim).zip(rows) {
                        self.accumulate_row(r as usize, x, dim, row_out);
                    }
                });
            });
    }

    /// Stored entries in the given rows: the cost of [`NormalizedAdjacency::spmm_rows`] and
    /// [`NormalizedAdjacency::spmm_from_rows`] over them, against [`NormalizedAdjacency::nnz`]
    /// for a full product.
    pub fn degree_sum(&self, rows: &[u32]) -> usize {
        rows.iter()
            .map(|&r| self.indptr[r as usize + 1] - self.indptr[r as usize])
            .sum()
    }

    /// `out = Â · x` for an `x` that is zero outside the rows `rows`, given compactly
    /// (`x_rows[k]` is row `rows[k]`): the first backward hop, whose input is the loss gradient
    /// on a batch's rows only. It scatters each given row to its neighbours instead of
    /// gathering over every row, so it costs the degrees of `rows`, not `nnz`. This uses
    /// `Â = Âᵀ` and the bipartite layout (user rows reach only items and item rows only users,
    /// so the two halves scatter in parallel without conflict): it holds for
    /// [`NormalizedAdjacency::from_interactions`] only, which the assertion checks.
    ///
    /// # Panics
    /// On a matrix from [`NormalizedAdjacency::mean_with_self_loops`], or on wrong shapes.
    pub fn spmm_from_rows(&self, rows: &[u32], x_rows: &[f32], dim: usize, out: &mut [f32]) {
        assert!(
            self.symmetric_bipartite,
            "spmm_from_rows needs the symmetric bipartite matrix"
        );
        assert_eq!(x_rows.len(), rows.len() * dim, "x_rows has the wrong shape");
        assert_eq!(out.len(), self.n_nodes * dim, "out has the wrong shape");
        out.par_chunks_mut(ROWS_PER_TASK * dim)
            .for_each(|chunk| chunk.fill(0.0));
        let nu = self.n_users;
        let (user_out, item_out) = out.split_at_mut(nu * dim);
        // User rows write item rows and item rows write user rows: two disjoint halves.
        let arch = pulp::Arch::new();
        rayon::join(
            || arch.dispatch(|| self.scatter_rows(rows, x_rows, dim, item_out, nu, true)),
            || arch.dispatch(|| self.scatter_rows(rows, x_rows, dim, user_out, 0, false)),
        );
    }

    /// `out[c − offset] += Â[r, c] · x_rows[k]` for every given row `r = rows[k]` on the
    /// chosen side (users if `from_users`, else items) and each of its neighbours `c`.
    #[inline(always)]
    fn scatter_rows(
        &self,
        rows: &[u32],
        x_rows: &[f32],
        dim: usize,
        out: &mut [f32],
        offset: usize,
        from_users: bool,
    ) {
        for (k, &r) in rows.iter().enumerate() {
            let r = r as usize;
            if (r < self.n_users) != from_users {
                continue;
            }
            let src = &x_rows[k * dim..(k + 1) * dim];
            for e in self.indptr[r]..self.indptr[r + 1] {
                let w = self.values[e];
                let c = self.indices[e] as usize - offset;
                for (o, s) in out[c * dim..(c + 1) * dim].iter_mut().zip(src) {
                    *o += w * s;
                }
            }
        }
    }

    /// `row_out = Â[r, :] · x` (overwrites `row_out`).
    #[inline(always)]
    fn accumulate_row(&self, r: usize, x: &[f32], dim: usize, row_out: &mut [f32]) {
        let (lo, hi) = (self.indptr[r], self.indptr[r + 1]);
        weighted_row_sum(&self.indices[lo..hi], &self.values[lo..hi], x, dim, row_out);
    }

    /// NGCF's propagation matrix `D̃⁻¹(A + I)`: the bipartite adjacency plus self-loops,
    /// row-normalised by `D̃ = diag(deg + 1)`, so `Â[v, w] = 1/(deg(v) + 1)` for `w` a
    /// neighbour of `v` or `v` itself. This is `norm_adj` of the NGCF reference code
    /// (`mean_adj_single(adj_mat + sp.eye(...))` in NGCF-PyTorch `NGCF/utility/load_data.py`,
    /// `normalized_adj_single(adj_mat + sp.eye(...))` in the TensorFlow original), which both
    /// pass to the model. Every row has its self-loop, so isolated nodes keep their own
    /// embedding (`Â[v, v] = 1`). Not symmetric: see [`NormalizedAdjacency::transpose_with_map`].
    pub fn mean_with_self_loops(train: &Interactions) -> Self {
        let (nu, ni) = (train.n_users(), train.n_items());
        let n = nu + ni;
        let item_deg = train.item_degrees();
        let mut inv = Vec::with_capacity(n);
        inv.extend((0..nu as u32).map(|u| 1.0 / (train.degree(u) as f32 + 1.0)));
        inv.extend(item_deg.iter().map(|&d| 1.0 / (d as f32 + 1.0)));

        let (item_ptr, item_users) = item_users(train);

        // Row r: its self-loop first, then its neighbours (users before items overall).
        let mut indptr = Vec::with_capacity(n + 1);
        let mut indices = Vec::with_capacity(2 * train.nnz() + n);
        let mut values = Vec::with_capacity(2 * train.nnz() + n);
        indptr.push(0);
        for (u, &w) in inv[..nu].iter().enumerate() {
            indices.push(u as u32);
            values.push(w);
            for &i in train.items(u as u32) {
                indices.push((nu + i as usize) as u32);
                values.push(w);
            }
            indptr.push(indices.len());
        }
        for i in 0..ni {
            let r = nu + i;
            indices.push(r as u32);
            values.push(inv[r]);
            for &u in &item_users[item_ptr[i]..item_ptr[i + 1]] {
                indices.push(u);
                values.push(inv[r]);
            }
            indptr.push(indices.len());
        }
        Self {
            n_users: nu,
            n_nodes: n,
            indptr,
            indices,
            values,
            symmetric_bipartite: false,
        }
    }

    /// The transpose `Âᵀ` in CSR form, and for each of its stored entries the position of the
    /// same entry in `self`'s CSR order (so per-entry values of `Â`, e.g. a dropout mask, can be
    /// carried over to `Âᵀ`: `values_t[e] = values[map[e]]`).
    pub fn transpose_with_map(&self) -> (Self, Vec<u32>) {
        let n = self.n_nodes;
        let nnz = self.indices.len();
        let mut indptr = vec![0usize; n + 1];
        for &c in &self.indices {
            indptr[c as usize + 1] += 1;
        }
        for r in 0..n {
            indptr[r + 1] += indptr[r];
        }
        let mut fill = indptr.clone();
        let mut indices = vec![0u32; nnz];
        let mut values = vec![0.0f32; nnz];
        let mut map = vec![0u32; nnz];
        for r in 0..n {
            for e in self.indptr[r]..self.indptr[r + 1] {
                let c = self.indices[e] as usize;
                let t = fill[c];
                fill[c] += 1;
                indices[t] = r as u32;
                values[t] = self.values[e];
                map[t] = e as u32;
            }
        }
        (
            Self {
                n_users: self.n_users,
                n_nodes: n,
                indptr,
                indices,
                values,
                symmetric_bipartite: false,
            },
            map,
        )
    }

    /// The stored values, in CSR order (`nnz` entries).
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// `out = Â' · x`, where `Â'` has this matrix's sparsity pattern and the entries `values`
    /// (in CSR order) instead of the stored ones: the product for a per-step edge dropout.
    ///
    /// # Panics
    /// If `values` does not have `nnz` entries or the slices do not have `n_nodes · dim`
    /// entries (a programming error).
    pub fn spmm_with_values(&self, values: &[f32], x: &[f32], dim: usize, out: &mut [f32]) {
        assert_eq!(
            values.len(),
            self.indices.len(),
            "values have the wrong length"
        );
        assert_eq!(x.len(), self.n_nodes * dim, "x has the wrong shape");
        assert_eq!(out.len(), self.n_nodes * dim, "out has the wrong shape");
        out.par_chunks_mut(ROWS_PER_TASK * dim)
            .enumerate()
            .for_each(|(block, chunk)| {
                let first = block * ROWS_PER_TASK;
                for (k, row_out) in chunk.chunks_mut(dim).enumerate() {
                    let r = first + k;
                    row_out.fill(0.0);
                    let (lo, hi) = (self.indptr[r], self.indptr[r + 1]);
                    for (&c, &w) in self.indices[lo..hi].iter().zip(&values[lo..hi]) {
                        if w == 0.0 {
                            continue;
                        }
                        let c = c as usize;
                        let src = &x[c * dim..(c + 1) * dim];
                        for (o, s) in row_out.iter_mut().zip(src) {
                            *o += w * s;
                        }
                    }
                }
            });
    }

    /// The dense matrix (row-major `n_nodes × n_nodes`), for tests on tiny graphs.
    pub fn to_dense(&self) -> Vec<f32> {
        let n = self.n_nodes;
        let mut m = vec![0.0; n * n];
        for r in 0..n {
            for e in self.indptr[r]..self.indptr[r + 1] {
                m[r * n + self.indices[e] as usize] = self.values[e];
            }
        }
        m
    }
}

/// `out = Σₑ values[e] · x[indices[e]]` over rows of width `dim` (overwrites `out`): the
/// inner loop of every sparse product here.
///
/// The row is summed in register-sized blocks of 64 (then 16) columns held in a local array,
/// so the accumulator stays in SIMD registers across the edges instead of being loaded and
/// stored per edge. Callers run it inside `pulp::Arch::dispatch`, which compiles it for
/// AVX2 where the CPU has it (safe runtime dispatch). Each output element is still the same
/// left-to-right sequence of separate multiplies and adds (no FMA contraction), so results
/// are bitwise the same on every CPU and SIMD level.
#[inline(always)]
fn weighted_row_sum(indices: &[u32], values: &[f32], x: &[f32], dim: usize, out: &mut [f32]) {
    #[inline(always)]
    fn block<const B: usize>(
        indices: &[u32],
        values: &[f32],
        x: &[f32],
        dim: usize,
        start: usize,
        out: &mut [f32],
    ) {
        let mut acc = [0.0f32; B];
        for (e, (&c, &w)) in indices.iter().zip(values).enumerate() {
            if let Some(&next) = indices.get(e + PREFETCH_AHEAD) {
                let p = x[next as usize * dim + start..].as_ptr();
                for line in 0..B / 16 {
                    prefetch(p.wrapping_add(line * 16));
                }
            }
            let base = c as usize * dim + start;
            let src = &x[base..base + B];
            for j in 0..B {
                acc[j] += w * src[j];
            }
        }
        out[start..start + B].copy_from_slice(&acc);
    }
    let mut start = 0;
    while start + 64 <= dim {
        block::<64>(indices, values, x, dim, start, out);
        start += 64;
    }
    while start + 16 <= dim {
        block::<16>(indices, values, x, dim, start, out);
        start += 16;
    }
    if start < dim {
        let tail = &mut out[start..dim];
        tail.fill(0.0);
        for (&c, &w) in indices.iter().zip(values) {
            let base = c as usize * dim;
            for (o, s) in tail.iter_mut().zip(&x[base + start..base + dim]) {
                *o += w * s;
            }
        }
    }
}

/// Edges ahead whose source row the row kernel prefetches. 12 was measured slower (0.93× per
/// LightGCN epoch on gowalla, Intel Xeon VM: benchmarks/runs/2026-11-30-2cpu/lightgcn-epoch-prefetch12).
const PREFETCH_AHEAD: usize = 4;

/// Asks the CPU to bring the cache line at `p` into L1 ahead of use: the rows a sparse product
/// reads are random, so the hardware prefetcher cannot guess them.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and reads nothing into the program,
    // whatever the address; SSE, which provides it, is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The transpose of the user→item CSR: `item_users[item_ptr[i]..item_ptr[i + 1]]` are the
/// users of item `i`, ascending.
fn item_users(train: &Interactions) -> (Vec<usize>, Vec<u32>) {
    let ni = train.n_items();
    let mut item_ptr = vec![0usize; ni + 1];
    for &i in train.indices() {
        item_ptr[i as usize + 1] += 1;
    }
    for i in 0..ni {
        item_ptr[i + 1] += item_ptr[i];
    }
    let mut fill = item_ptr.clone();
    let mut users = vec![0u32; train.nnz()];
    for u in 0..train.n_users() as u32 {
        for &i in train.items(u) {
            users[fill[i as usize]] = u;
            fill[i as usize] += 1;
        }
    }
    (item_ptr, users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_matches_the_hand_computed_matrix() {
        // Users 0,1; items 0,1,2. u0–i0, u0–i1, u1–i1. Degrees: u0 2, u1 1, i0 1, i1 2, i2 0.
        // Â[u0, i0] = 1/√(2·1), Â[u0, i1] = 1/√(2·2) = 0.5, Â[u1, i1] = 1/√(1·2); i2 is isolated.
        let train = Interactions::from_pairs(2, 3, &[(0, 0), (0, 1), (1, 1)]);
        let a = NormalizedAdjacency::from_interactions(&train);
        let d = a.to_dense();
        let n = 5;
        let at = |r: usize, c: usize| d[r * n + c];
        let s = std::f32::consts::FRAC_1_SQRT_2;
        assert!((at(0, 2) - s).abs() < 1e-7 && (at(2, 0) - s).abs() < 1e-7);
        assert!((at(0, 3) - 0.5).abs() < 1e-7 && (at(3, 0) - 0.5).abs() < 1e-7);
        assert!((at(1, 3) - s).abs() < 1e-7 && (at(3, 1) - s).abs() < 1e-7);
        assert_eq!(a.nnz(), 6);
        assert!(
            (0..n).all(|c| at(4, c) == 0.0),
            "isolated item has an empty row"
        );
        // Symmetric.
        for r in 0..n {
            for c in 0..n {
                assert_eq!(at(r, c), at(c, r));
            }
        }
    }

    #[test]
    fn spmm_matches_the_dense_product() {
        let train = Interactions::from_pairs(3, 4, &[(0, 0), (0, 3), (1, 1), (2, 1), (2, 2)]);
        let a = NormalizedAdjacency::from_interactions(&train);
        let n = a.n_nodes();
        let d = a.to_dense();
        // Every path of the row kernel: tail only, a 64-wide block, 64 + 16, 64 + 16 + tail.
        for dim in [3, 64, 80, 83] {
            let x: Vec<f32> = (0..n * dim).map(|k| (k as f32 * 0.37).sin()).collect();
            let mut out = vec![0.0; n * dim];
            a.spmm(&x, dim, &mut out);
            for r in 0..n {
                for j in 0..dim {
                    let want: f32 = (0..n).map(|c| d[r * n + c] * x[c * dim + j]).sum();
                    assert!(
                        (out[r * dim + j] - want).abs() < 1e-6,
                        "dim {dim} [{r}, {j}]"
                    );
                }
            }
        }
    }

    #[test]
    fn row_subset_and_sparse_input_products_match_the_full_product() {
        // Every path of the row kernel: the tail loop alone (3), one 64-wide block (64), a
        // 64-wide block then a 16-wide one (80), and both plus a tail (83).
        for dim in [3, 64, 80, 83] {
            row_subset_and_sparse_input_products_match_at(dim);
        }
    }

    fn row_subset_and_sparse_input_products_match_at(dim: usize) {
        let train = Interactions::from_pairs(
            4,
            5,
            &[(0, 0), (0, 3), (1, 1), (2, 1), (2, 2), (3, 4), (3, 0)],
        );
        let a = NormalizedAdjacency::from_interactions(&train);
        let n = a.n_nodes();
        let x: Vec<f32> = (0..n * dim).map(|k| (k as f32 * 0.61).cos()).collect();
        let mut full = vec![0.0; n * dim];
        a.spmm(&x, dim, &mut full);

        // Rows out of order, users and items mixed.
        let rows = [7u32, 0, 5, 2];
        let mut part = vec![f32::NAN; rows.len() * dim];
        a.spmm_rows(&x, dim, &rows, &mut part);
        for (k, &r) in rows.iter().enumerate() {
            let r = r as usize;
            assert_eq!(&part[k * dim..(k + 1) * dim], &full[r * dim..(r + 1) * dim]);
        }

        // x zero outside `rows`: the scatter form equals the gather form on the masked input.
        let mut masked = vec![0.0; n * dim];
        let mut x_rows = Vec::new();
        for &r in &rows {
            let r = r as usize;
            masked[r * dim..(r + 1) * dim].copy_from_slice(&x[r * dim..(r + 1) * dim]);
            x_rows.extend_from_slice(&x[r * dim..(r + 1) * dim]);
        }
        let mut want = vec![0.0; n * dim];
        a.spmm(&masked, dim, &mut want);
        let mut got = vec![f32::NAN; n * dim];
        a.spmm_from_rows(&rows, &x_rows, dim, &mut got);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    #[should_panic(expected = "symmetric bipartite")]
    fn the_scatter_product_refuses_the_self_loop_matrix() {
        let train = Interactions::from_pairs(2, 2, &[(0, 0), (1, 1)]);
        let a = NormalizedAdjacency::mean_with_self_loops(&train);
        let mut out = vec![0.0; 4];
        a.spmm_from_rows(&[0], &[1.0], 1, &mut out);
    }
}
