//! Times LightGCN's sparse products on a dataset's training graph: the full product, the
//! batch-rows product and the scatter product from batch rows, each averaged over repeats.
//!
//! `cargo run --release -p autosample-models --example propagation_bench -- <data dir> [reps]`
//!
//! Used by `benchmarks/speed/lightgcn_epoch.sh`'s notes to see where an epoch goes; the epoch
//! time itself is recorded from the CLI.

use std::path::PathBuf;
use std::time::Instant;

use autosample_data::{LoadOptions, load_dataset};
use autosample_models::graph::NormalizedAdjacency;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .ok_or("usage: propagation_bench <data dir> [reps]")?,
    );
    let reps: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(50);
    let data = load_dataset(&path, &LoadOptions::default())?;
    let adj = NormalizedAdjacency::from_interactions(&data.train);
    let (n, dim) = (adj.n_nodes(), 64);
    let x: Vec<f32> = (0..n * dim)
        .map(|k| ((k % 977) as f32 * 0.01).sin())
        .collect();
    let mut out = vec![0.0f32; n * dim];
    // A batch-like row set: 2048 users and 4096 items spread over the id range.
    let nu = adj.n_users();
    let rows: Vec<u32> = (0..2048)
        .map(|k| (k * 7919 % nu) as u32)
        .chain((0..4096).map(|k| (nu + k * 104_729 % (n - nu)) as u32))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut part = vec![0.0f32; rows.len() * dim];
    let x_rows = vec![0.5f32; rows.len() * dim];

    let time = |label: &str, f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        println!("{label:<28} {ms:8.3} ms");
    };
    println!(
        "{}: {} nodes, {} nnz, dim {dim}, {} batch rows, {} threads",
        path.display(),
        n,
        adj.nnz(),
        rows.len(),
        rayon::current_num_threads()
    );
    time("spmm (full)", &mut || adj.spmm(&x, dim, &mut out));
    time("spmm_rows (batch rows)", &mut || {
        adj.spmm_rows(&x, dim, &rows, &mut part)
    });
    time("spmm_from_rows (scatter)", &mut || {
        adj.spmm_from_rows(&rows, &x_rows, dim, &mut out)
    });
    Ok(())
}
