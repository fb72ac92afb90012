//! [`EmbeddingTable`]: a row-major `rows × dim` table of `f32` in plain memory.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A row-major embedding table. Rows are users or items; updated in place by the optimizers.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingTable {
    rows: usize,
    dim: usize,
    data: Vec<f32>,
}

impl EmbeddingTable {
    /// A table of zeros.
    pub fn zeros(rows: usize, dim: usize) -> Self {
        Self {
            rows,
            dim,
            data: vec![0.0; rows * dim],
        }
    }

    /// A table with entries drawn from N(0, std²) by a seeded ChaCha8 RNG (Box–Muller, so the
    /// stream is fixed by the seed alone).
    pub fn normal(rows: usize, dim: usize, std: f32, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = Vec::with_capacity(rows * dim);
        while data.len() < rows * dim {
            let (a, b) = standard_normal_pair(&mut rng);
            data.push(a * std);
            if data.len() < rows * dim {
                data.push(b * std);
            }
        }
        Self { rows, dim, data }
    }

    /// Wraps existing row-major data.
    ///
    /// # Panics
    /// If `data.len() != rows * dim` (a programming error).
    pub fn from_vec(rows: usize, dim: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), rows * dim, "table data has the wrong length");
        Self { rows, dim, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `r`.
    #[inline]
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.dim..(r + 1) * self.dim]
    }

    /// Row `r`, mutable.
    #[inline]
    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        &mut self.data[r * self.dim..(r + 1) * self.dim]
    }

    /// All entries, row after row.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All entries, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Copies the listed rows, in order, into `out` (cleared first).
    pub fn gather_into(&self, rows: &[u32], out: &mut Vec<f32>) {
        out.clear();
        out.reserve(rows.len() * self.dim);
        for &r in rows {
            out.extend_from_slice(self.row(r as usize));
        }
    }

    /// Whether every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|x| x.is_finite())
    }
}

/// Two independent N(0, 1) draws (Box–Muller).
fn standard_normal_pair(rng: &mut ChaCha8Rng) -> (f32, f32) {
    use rand::RngExt;
    // u1 in (0, 1] so that ln(u1) is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let t = std::f64::consts::TAU * u2;
    ((r * t.cos()) as f32, (r * t.sin()) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_init_is_seeded_and_has_the_right_scale() {
        let a = EmbeddingTable::normal(100, 64, 0.1, 3);
        assert_eq!(a, EmbeddingTable::normal(100, 64, 0.1, 3));
        assert_ne!(a, EmbeddingTable::normal(100, 64, 0.1, 4));
        let n = a.as_slice().len() as f64;
        let mean = a.as_slice().iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = a
            .as_slice()
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var.sqrt() - 0.1).abs() < 0.005, "std {}", var.sqrt());
    }

    #[test]
    fn gather_copies_rows_in_order() {
        let t = EmbeddingTable::from_vec(3, 2, vec![0., 1., 2., 3., 4., 5.]);
        let mut out = Vec::new();
        t.gather_into(&[2, 0, 2], &mut out);
        assert_eq!(out, vec![4., 5., 0., 1., 4., 5.]);
    }
}
