//! Checks against the real benchmark datasets in `shared/data` (read-only, licensed, never
//! copied into the repository). Ignored by default; run with
//! `cargo test -p autosample-data --release -- --ignored`. The data is found at
//! `$AUTOSAMPLE_DATA_DIR` or `<CARGO_MANIFEST_DIR>/../../../shared/data`; when absent, each test
//! prints a skip message and passes.

use std::path::PathBuf;
use std::time::Instant;

use autosample_data::stats::dataset_stats;
use autosample_data::{Dataset, LoadOptions, SplitProvenance, load_dataset};

const IGNORE: &str = "needs ../shared/data; run by benchmarks";

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AUTOSAMPLE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    dir.is_dir().then_some(dir)
}

/// Loads `name`, or prints why not and returns `None`.
fn load(name: &str) -> Option<(Dataset, f64)> {
    let Some(dir) = data_dir() else {
        eprintln!(
            "skipping {name}: no data directory (set AUTOSAMPLE_DATA_DIR or put the data in \
             ../shared/data); reason for ignore: {IGNORE}"
        );
        return None;
    };
    let path = dir.join(name);
    if !path.is_dir() {
        eprintln!("skipping {name}: {} does not exist", path.display());
        return None;
    }
    let started = Instant::now();
    let d = load_dataset(&path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: loaded in {:.0} ms\n{}\n",
        secs * 1e3,
        dataset_stats(&d)
    );
    Some((d, secs))
}

fn check_clean(d: &Dataset) {
    assert_eq!(d.train.overlap(&d.valid), 0);
    assert_eq!(d.train.overlap(&d.test), 0);
    assert_eq!(d.valid.overlap(&d.test), 0);
}

#[test]
#[ignore = "needs ../shared/data; run by benchmarks"]
fn gowalla() {
    let Some((d, secs)) = load("gowalla") else {
        return;
    };
    assert_eq!((d.n_users(), d.n_items()), (29_858, 40_981));
    assert_eq!(d.train.nnz() + d.valid.nnz(), 810_128);
    assert_eq!(d.test.nnz(), 217_242);
    assert!(matches!(d.provenance, SplitProvenance::CarvedValid { .. }));
    // Already dense 0-based ids keep their values.
    for k in [0u32, 1, 17, 29_857] {
        assert_eq!(d.users.original(k), Some(k.to_string().as_str()));
    }
    assert_eq!(d.items.original(40_980), Some("40980"));
    for u in 0..d.n_users() as u32 {
        assert!(d.train.degree(u) >= 1);
    }
    check_clean(&d);
    if !cfg!(debug_assertions) {
        assert!(secs < 1.0, "gowalla took {secs:.2} s to load");
    }
}

#[test]
#[ignore = "needs ../shared/data; run by benchmarks"]
fn yelp2018() {
    let Some((d, _)) = load("yelp2018") else {
        return;
    };
    assert_eq!((d.n_users(), d.n_items()), (31_668, 38_048));
    assert_eq!(d.train.nnz() + d.valid.nnz() + d.test.nnz(), 1_561_406);
    check_clean(&d);
}

#[test]
#[ignore = "needs ../shared/data; run by benchmarks"]
fn ml_1m_diffrec_clean() {
    let Some((d, _)) = load("ml-1m-diffrec-clean") else {
        return;
    };
    assert_eq!(d.provenance, SplitProvenance::Given);
    assert_eq!((d.n_users(), d.n_items()), (5_949, 2_810));
    assert_eq!(
        (d.train.nnz(), d.valid.nnz(), d.test.nnz()),
        (403_277, 110_722, 57_532)
    );
    check_clean(&d);
}

#[test]
#[ignore = "needs ../shared/data; run by benchmarks"]
fn lastfm_lightgcn() {
    let Some((d, _)) = load("lastfm-lightgcn") else {
        return;
    };
    assert_eq!(d.train.nnz() + d.valid.nnz(), 42_135);
    assert_eq!(d.test.nnz(), 10_533);
    // 1,880 users with interactions (of the 1..1892 id space), 4,489 items; 1-based ids.
    assert_eq!((d.n_users(), d.n_items()), (1_880, 4_489));
    assert_eq!(d.users.original(0), Some("1"));
    // Against the given train file (train ∪ carved valid): 2 test users and 13 test items are
    // not in it.
    let given_train = d.train.union(&d.valid);
    let cold_users = (0..d.n_users() as u32)
        .filter(|&u| d.test.degree(u) > 0 && given_train.degree(u) == 0)
        .count();
    let train_deg = given_train.item_degrees();
    let test_deg = d.test.item_degrees();
    let cold_items = train_deg
        .iter()
        .zip(&test_deg)
        .filter(|&(&a, &b)| b > 0 && a == 0)
        .count();
    assert_eq!((cold_users, cold_items), (2, 13));
    check_clean(&d);
}

#[test]
#[ignore = "needs ../shared/data; run by benchmarks"]
fn ml_100k() {
    let Some((d, _)) = load("ml-100k") else {
        return;
    };
    assert_eq!((d.n_users(), d.n_items()), (943, 1_682));
    assert_eq!(d.train.nnz() + d.valid.nnz() + d.test.nnz(), 100_000);
    assert!(
        matches!(&d.provenance, SplitProvenance::SplitSingleFile { strategy, .. } if strategy == "temporal")
    );
    check_clean(&d);
}
