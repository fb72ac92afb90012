//! [`RankingScorer`]: the one thing a model must provide to be evaluated, and [`DotScorer`], the
//! inner-product implementation over embedding tables backed by the `gemm` crate.
//!
//! # Matrix-multiply kernel choice
//!
//! `gemm::gemm` dispatches at run time to AVX2/FMA or AVX-512 micro-kernels, which a safe Rust
//! kernel cannot do (calling a `#[target_feature]` function from code compiled for baseline
//! x86-64 needs `unsafe`), so a safe kernel is limited to SSE2 (4 lanes, no FMA). Measured with
//! `cargo run -p autosample-metrics --release --example eval_speed -- --compare-kernels` on the
//! development machine (2-core AMD EPYC with AVX-512), for a 1024-user chunk of gowalla
//! (1024 × 40,981 × 64), idle machine: `gemm` 0.027 s (196 GFLOP/s) against 0.168 s
//! (32 GFLOP/s) for a safe, register-blocked (4 users × 8 items), rayon-parallel kernel, i.e.
//! 6.1× slower (the same ratio under load), far outside the 1.5× budget. We therefore use
//! `gemm`, confined to the single private function `gemm_abt`, the only `unsafe` in this crate
//! (`#[allow(unsafe_code)]` on that function alone), whose `SAFETY` comment derives the memory
//! bounds from asserted slice lengths.

use autosample_data::UserId;

use crate::EvalError;

/// Anything that can score all items for a batch of users (models implement it).
///
/// Implementations must be deterministic for a given input (the evaluator calls them once per
/// user chunk; chunking must not change results beyond floating-point reassociation).
pub trait RankingScorer: Sync {
    /// Number of items scored per user (the width of each output row).
    fn n_items(&self) -> usize;

    /// Number of users the scorer knows, if it has a fixed user table; the evaluator checks it
    /// against the splits' user id space. Defaults to `None` (unchecked).
    fn n_users(&self) -> Option<usize> {
        None
    }

    /// Writes into `out[r * n_items + j]` the score of item `j` for user `users[r]`;
    /// `out.len() == users.len() * n_items`. Higher is better; every value is overwritten.
    fn score_users(&self, users: &[UserId], out: &mut [f32]);
}

/// Inner-product scorer over row-major `f32` tables (MF, LightGCN final embeddings):
/// `score(u, i) = ⟨U[u], I[i]⟩`, computed for a user batch as `U[users] · Iᵀ` with one
/// matmul.
#[derive(Debug, Clone, Copy)]
pub struct DotScorer<'a> {
    user_emb: &'a [f32],
    item_emb: &'a [f32],
    dim: usize,
}

impl<'a> DotScorer<'a> {
    /// Wraps a `n_users × dim` user table and a `n_items × dim` item table (row-major).
    ///
    /// # Errors
    /// [`EvalError::BadEmbeddingShape`] if `dim == 0` or a table's length is not a multiple
    /// of `dim`.
    pub fn new(user_emb: &'a [f32], item_emb: &'a [f32], dim: usize) -> Result<Self, EvalError> {
        for len in [user_emb.len(), item_emb.len()] {
            if dim == 0 || len % dim != 0 {
                return Err(EvalError::BadEmbeddingShape { len, dim });
            }
        }
        Ok(Self {
            user_emb,
            item_emb,
            dim,
        })
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows of the user table.
    pub fn n_user_rows(&self) -> usize {
        self.user_emb.len() / self.dim
    }
}

impl RankingScorer for DotScorer<'_> {
    fn n_items(&self) -> usize {
        self.item_emb.len() / self.dim
    }

    fn n_users(&self) -> Option<usize> {
        Some(self.n_user_rows())
    }

    /// # Panics
    /// If a user id is outside the user table or `out` has the wrong length.
    fn score_users(&self, users: &[UserId], out: &mut [f32]) {
        let (d, n) = (self.dim, self.n_items());
        assert_eq!(
            out.len(),
            users.len() * n,
            "output buffer has the wrong length"
        );
        // Gather the batch's user rows (a few hundred KiB at most: negligible next to the matmul).
        let mut lhs = Vec::with_capacity(users.len() * d);
        for &u in users {
            let u = u as usize;
            lhs.extend_from_slice(&self.user_emb[u * d..(u + 1) * d]);
        }
        gemm_abt(out, &lhs, self.item_emb, users.len(), n, d);
    }
}

/// `dst = a · bᵀ` for row-major `a` (`m × k`), `b` (`n × k`) and `dst` (`m × n`). Public for
/// the models' small dense products (DENS's gates), which would otherwise need their own `unsafe`.
///
/// Runs `gemm` multi-threaded on the rayon pool when called from outside it, single-threaded
/// when called from a rayon worker (the caller is then already parallel).
///
/// # Panics
/// If a slice length disagrees with `m`, `n`, `k`.
#[allow(unsafe_code)]
pub fn gemm_abt(dst: &mut [f32], a: &[f32], b: &[f32], m: usize, n: usize, k: usize) {
    assert_eq!(Some(dst.len()), m.checked_mul(n), "dst is not m × n");
    assert_eq!(Some(a.len()), m.checked_mul(k), "a is not m × k");
    assert_eq!(Some(b.len()), n.checked_mul(k), "b is not n × k");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        dst.fill(0.0);
        return;
    }
    let parallelism = if rayon::current_thread_index().is_some() {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(0)
    };
    // Strides in elements (they fit in isize: each slice spans at most isize::MAX bytes).
    let (n_s, k_s) = (n as isize, k as isize);
    // SAFETY: gemm reads/writes exactly these elements, all in bounds by the asserts above:
    // - dst (m × n): element (i, j) at i * dst_rs + j * dst_cs = i*n + j ≤ (m-1)*n + n-1 < m*n
    //   = dst.len(); `dst` is a unique borrow, so nothing else aliases it.
    // - lhs = a (m × k): element (i, p) at i * lhs_rs + p * lhs_cs = i*k + p < m*k = a.len().
    // - rhs = bᵀ (k × n): element (p, j) at p * rhs_rs + j * rhs_cs = p + j*k < n*k = b.len().
    // `a` and `b` are shared borrows that do not overlap the unique `dst`. With
    // `read_dst = false` dst's prior contents are never read (alpha unused), and beta = 1 gives
    // dst = a·bᵀ. gemm does not retain the pointers after returning.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,   // dst_cs
            n_s, // dst_rs
            false,
            a.as_ptr(),
            1,   // lhs_cs
            k_s, // lhs_rs
            b.as_ptr(),
            k_s, // rhs_cs
            1,   // rhs_rs
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(len: usize, seed: &mut u64) -> Vec<f32> {
        (0..len)
            .map(|_| {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn dot_scorer_matches_naive_triple_loop() {
        let mut seed = 42u64;
        for &(nu, ni, d) in &[
            (7usize, 13usize, 5usize),
            (40, 150, 64),
            (3, 1, 1),
            (33, 70, 17),
        ] {
            let ue = table(nu * d, &mut seed);
            let ie = table(ni * d, &mut seed);
            let s = DotScorer::new(&ue, &ie, d).unwrap();
            assert_eq!((s.n_items(), s.n_users()), (ni, Some(nu)));
            // Unsorted, repeated user ids.
            let users: Vec<UserId> = (0..nu as u32).rev().chain([0, 0]).collect();
            let mut out = vec![f32::NAN; users.len() * ni];
            s.score_users(&users, &mut out);
            for (r, &u) in users.iter().enumerate() {
                for j in 0..ni {
                    let mut acc = 0.0f64;
                    for p in 0..d {
                        acc += ue[u as usize * d + p] as f64 * ie[j * d + p] as f64;
                    }
                    let got = out[r * ni + j] as f64;
                    assert!(
                        (got - acc).abs() < 1e-5,
                        "({nu},{ni},{d}) u{u} i{j}: {got} vs {acc}"
                    );
                }
            }
        }
    }

    #[test]
    fn gemm_inside_rayon_worker_is_also_correct() {
        let mut seed = 1u64;
        let (m, n, k) = (9, 31, 8);
        let a = table(m * k, &mut seed);
        let b = table(n * k, &mut seed);
        let mut outer = vec![0.0; m * n];
        gemm_abt(&mut outer, &a, &b, m, n, k);
        let inner = rayon::scope(|_| {
            let mut v = vec![0.0; m * n];
            gemm_abt(&mut v, &a, &b, m, n, k);
            v
        });
        for (x, y) in outer.iter().zip(&inner) {
            assert!((x - y).abs() < 1e-5);
        }
    }

    #[test]
    fn constructor_checks_shapes() {
        let t = [0.0f32; 6];
        assert!(DotScorer::new(&t, &t, 3).is_ok());
        assert_eq!(
            DotScorer::new(&t, &t[..5], 3).unwrap_err(),
            EvalError::BadEmbeddingShape { len: 5, dim: 3 }
        );
        assert!(DotScorer::new(&t, &t, 0).is_err());
        assert!(DotScorer::new(&t, &t, 4).is_err());
    }

    #[test]
    fn zero_dim_inner_product_is_zero() {
        let mut out = vec![1.0f32; 6];
        gemm_abt(&mut out, &[], &[], 2, 3, 0);
        assert!(out.iter().all(|&x| x == 0.0));
    }
}
