//! Every supported format and layout, read from the hand-made fixtures in `tests/data/`, with
//! hand-checked counts and ids.

use std::path::{Path, PathBuf};

use autosample_data::read::{Delimiter, ResolvedFormat, detect_format, read_file};
use autosample_data::{
    Dataset, FileFormat, Interactions, ItemId, LoadOptions, SplitProvenance, SplitStrategy,
    load_dataset,
};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn load(p: &str) -> Dataset {
    load_with(p, &LoadOptions::default())
}

fn load_with(p: &str, opts: &LoadOptions) -> Dataset {
    load_dataset(&data(p), opts).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn originals(map: &autosample_data::IdMap) -> Vec<&str> {
    map.originals().iter().map(String::as_str).collect()
}

fn sizes(d: &Dataset) -> (usize, usize, usize, usize, usize) {
    (
        d.n_users(),
        d.n_items(),
        d.train.nnz(),
        d.valid.nnz(),
        d.test.nnz(),
    )
}

fn assert_clean(d: &Dataset) {
    for s in [&d.train, &d.valid, &d.test] {
        assert_eq!((s.n_users(), s.n_items()), (d.users.len(), d.items.len()));
    }
    assert_eq!(d.train.overlap(&d.valid), 0);
    assert_eq!(d.train.overlap(&d.test), 0);
    assert_eq!(d.valid.overlap(&d.test), 0);
}

fn same_data(a: &Dataset, b: &Dataset) {
    assert_eq!(a.users, b.users);
    assert_eq!(a.items, b.items);
    assert_eq!((&a.train, &a.valid, &a.test), (&b.train, &b.valid, &b.test));
    assert_eq!(a.fingerprint(), b.fingerprint());
}

#[test]
fn lightgcn_lists_with_an_empty_user_and_carved_valid() {
    let d = load("lightgcn");
    assert_eq!(d.name, "lightgcn");
    assert_eq!(d.source, data("lightgcn").display().to_string());
    // Users 0..5 (3 has an empty list, 5 appears only in test); items 0..6 and 10.
    assert_eq!(originals(&d.users), ["0", "1", "2", "3", "4", "5"]);
    assert_eq!(
        originals(&d.items),
        ["0", "1", "2", "3", "4", "5", "6", "10"]
    );
    // 12 train pairs; user 4 (5 items) gives round(0.5) = 1 to valid, the others none.
    assert_eq!(sizes(&d), (6, 8, 11, 1, 8));
    assert_eq!(
        d.provenance,
        SplitProvenance::CarvedValid {
            valid_fraction: 0.1,
            seed: 2024
        }
    );
    assert_clean(&d);
    let all_train = d.train.union(&d.valid);
    assert_eq!(all_train.items(0), &[0, 1, 2, 3]);
    assert_eq!(all_train.items(4), &[0, 1, 3, 5, 6]);
    assert_eq!(d.valid.degree(4), 1);
    assert_eq!(d.train.degree(3) + d.valid.degree(3) + d.test.degree(3), 0);
    assert_eq!(d.test.items(2), &[1, 6, 7], "item \"10\" is dense 7");
    assert_eq!(d.test.items(5), &[3]);
    assert_eq!(d.train.degree(5), 0);
}

#[test]
fn carve_fraction_and_seed_are_honoured() {
    let opts = LoadOptions {
        valid_fraction: 0.25,
        ..LoadOptions::default()
    };
    let d = load_with("lightgcn", &opts);
    // Per user round(0.25 n) capped at n − 1: 4 → 1, 2 → 1, 1 → 0, 5 → 1.
    assert_eq!((d.train.nnz(), d.valid.nnz()), (9, 3));
    for u in [0, 1, 2, 4] {
        assert!(d.train.degree(u) >= 1);
    }
    let again = load_with("lightgcn", &opts);
    same_data(&d, &again);
    let other = load_with("lightgcn", &LoadOptions { seed: 1, ..opts });
    assert_eq!(other.train.union(&other.valid), d.train.union(&d.valid));
}

#[test]
fn crlf_and_blank_lines_read_like_lf() {
    let lf = load("lightgcn");
    let crlf_bytes = std::fs::read(data("crlf/train.txt")).unwrap();
    assert!(
        crlf_bytes.windows(2).any(|w| w == b"\r\n"),
        "fixture must really hold CRLF"
    );
    same_data(&lf, &load("crlf"));
    same_data(&lf, &load("blank"));
}

#[test]
fn tsv_with_header_string_ids_duplicates_and_cross_split_pairs() {
    let d = load("tsv_header");
    assert_eq!(d.provenance, SplitProvenance::Given);
    // First appearance: train, then valid, then test.
    assert_eq!(originals(&d.users), ["alice", "bob", "carol", "dave"]);
    assert_eq!(
        originals(&d.items),
        ["apple", "banana", "cherry", "date", "elder"]
    );
    // Train: 7 rows, one duplicate. Valid: bob-banana is in train, dropped. Test: bob-cherry
    // (train) and alice-cherry (valid) dropped.
    assert_eq!(sizes(&d), (4, 5, 6, 3, 2));
    assert_clean(&d);
    assert_eq!(d.valid.items(3), &[1], "dave appears only in valid");
    assert_eq!(d.test.items(0), &[3]);
    assert_eq!(d.test.items(2), &[4], "elder appears only in test");
}

#[test]
fn rating_threshold_keeps_rows_at_or_above_it_and_gives_ids_only_to_kept_rows() {
    let opts = LoadOptions {
        rating_threshold: Some(4.0),
        ..LoadOptions::default()
    };
    let d = load_with("tsv_header", &opts);
    assert_eq!(originals(&d.users), ["alice", "bob", "carol"]);
    assert_eq!(originals(&d.items), ["apple", "banana", "date", "cherry"]);
    assert_eq!(sizes(&d), (3, 4, 3, 2, 2));
    assert_eq!(
        d.test.items(1),
        &[3],
        "bob-cherry (4) kept: its train row (2) was dropped"
    );

    let raw = read_file(&data("tsv_header/train.tsv"), &opts).unwrap();
    assert_eq!((raw.records.len(), raw.below_threshold), (4, 3));
    assert!(
        raw.records
            .iter()
            .all(|r| r.rating.is_some_and(|x| x >= 4.0))
    );
}

#[test]
fn csv_single_file_with_timestamps_splits_by_time() {
    let d = load("csv");
    assert_eq!(
        d.provenance,
        SplitProvenance::SplitSingleFile {
            strategy: "temporal".into(),
            valid_fraction: 0.1,
            test_fraction: 0.2,
            seed: 2024
        }
    );
    // Integer ids sort numerically ("10" after "3"); items 1..10 → 0..9.
    assert_eq!(originals(&d.users), ["1", "2", "3", "10"]);
    assert_eq!(d.items.get("1"), Some(0));
    assert_eq!(d.items.get("10"), Some(9));
    assert_eq!(sizes(&d), (4, 10, 14, 2, 4));
    assert_clean(&d);
    // User "1": 10 rows → 7/1/2, the two latest (items 3 @900, 5 @1000) in test.
    assert_eq!(d.train.items(0), &[0, 1, 3, 5, 6, 7, 8]);
    assert_eq!(d.valid.items(0), &[9]);
    assert_eq!(d.test.items(0), &[2, 4]);
    // User "2": 5 rows → 3/1/1.
    assert_eq!(
        (d.train.items(1), d.valid.items(1), d.test.items(1)),
        (&[1, 3, 4][..], &[0][..], &[2][..])
    );
    // User "3": 3 rows → 2/0/1; user "10": 2 rows → 2/0/0.
    assert_eq!((d.train.items(2), d.test.items(2)), (&[6, 7][..], &[8][..]));
    assert_eq!(d.train.items(3), &[0, 1]);
    assert_eq!(d.test.degree(3), 0);
}

#[test]
fn random_split_is_seeded_and_keeps_the_sizes() {
    let opts = LoadOptions {
        split: SplitStrategy::Random,
        ..LoadOptions::default()
    };
    let a = load_with("csv", &opts);
    assert!(
        matches!(&a.provenance, SplitProvenance::SplitSingleFile { strategy, .. } if strategy == "random")
    );
    assert_eq!(sizes(&a), (4, 10, 14, 2, 4));
    same_data(&a, &load_with("csv", &opts));
    let all = |d: &Dataset| d.train.union(&d.valid).union(&d.test);
    let b = load_with(
        "csv",
        &LoadOptions {
            seed: 99,
            ..opts.clone()
        },
    );
    assert_eq!(all(&a), all(&b));
    // A different seed almost surely picks other test items for a 10-item user.
    let c = load_with("csv", &LoadOptions { seed: 5, ..opts });
    assert!(a.test != b.test || a.test != c.test);
}

#[test]
fn file_path_works_like_its_directory() {
    let by_dir = load("csv");
    let by_file = load("csv/interactions.csv");
    assert_eq!(by_file.name, "interactions");
    same_data(&by_dir, &by_file);
}

#[test]
fn recbole_inter_finds_columns_by_name() {
    assert_eq!(
        detect_format(&data("recbole/tiny.inter"), &LoadOptions::default()).unwrap(),
        ResolvedFormat::RecBoleInter {
            delimiter: Delimiter::Tab
        }
    );
    let d = load("recbole");
    assert_eq!(originals(&d.users), ["u1", "u2", "u3"]);
    assert_eq!(originals(&d.items), ["m1", "m2", "m3", "m4", "m5", "m6"]);
    // Temporal (timestamps in column 1): 4 → 3/0/1, 4 → 3/0/1, 3 → 2/0/1.
    assert_eq!(sizes(&d), (3, 6, 8, 0, 3));
    assert_eq!(
        (d.train.items(0), d.test.items(0)),
        (&[0, 1, 2][..], &[3][..])
    );
    assert_eq!(
        (d.train.items(1), d.test.items(1)),
        (&[0, 4, 5][..], &[1][..])
    );
    assert_eq!((d.train.items(2), d.test.items(2)), (&[2, 3][..], &[4][..]));

    let raw = read_file(&data("recbole/tiny.inter"), &LoadOptions::default()).unwrap();
    assert_eq!(raw.records.len(), 11);
    assert_eq!(raw.records[1].rating, Some(3.5));
    assert_eq!(raw.records[1].timestamp, Some(200.0));
    assert_eq!(
        (raw.records[1].user.as_str(), raw.records[1].item.as_str()),
        ("u1", "m2")
    );
}

#[test]
fn recbole_benchmark_split_files() {
    let d = load("recbole_splits");
    assert_eq!(d.provenance, SplitProvenance::Given);
    assert_eq!(sizes(&d), (3, 5, 7, 2, 3));
    assert_eq!(originals(&d.users), ["1", "2", "3"]);
    assert_clean(&d);
}

#[test]
fn movielens_100k_u_data() {
    let d = load("ml100k");
    assert_eq!(d.name, "ml100k");
    assert_eq!(originals(&d.users), ["1", "2", "3", "4", "5"]);
    assert_eq!(d.n_items(), 12);
    // 6 ratings per user → 4/1/1, by time: the 6th listed item in test, the 5th in valid.
    assert_eq!(sizes(&d), (5, 12, 20, 5, 5));
    assert_eq!((d.valid.items(0), d.test.items(0)), (&[4][..], &[5][..]));
    assert_eq!((d.valid.items(4), d.test.items(4)), (&[8][..], &[5][..]));
    assert_clean(&d);
}

#[test]
fn movielens_threshold() {
    let opts = LoadOptions {
        rating_threshold: Some(4.0),
        ..LoadOptions::default()
    };
    let d = load_with("ml100k", &opts);
    // 16 ratings ≥ 4; item 4 has none; per user 3,3,3,3,4 → 2/0/1 ×4 and 3/0/1.
    assert_eq!(sizes(&d), (5, 11, 11, 0, 5));
    assert_eq!(d.items.get("4"), None);
}

#[test]
fn movielens_1m_ratings_dat() {
    assert_eq!(
        detect_format(&data("ml1m/ratings.dat"), &LoadOptions::default()).unwrap(),
        ResolvedFormat::MovieLens {
            delimiter: Delimiter::DoubleColon,
            header: false
        }
    );
    let d = load("ml1m");
    // Users 1, 2, 3, 5 → 0..3; items 10, 20, …, 150 → 0..14.
    assert_eq!(originals(&d.users), ["1", "2", "3", "5"]);
    assert_eq!(d.items.get("150"), Some(14));
    // 8 → 5/1/2, 7 → 5/1/1, 7 → 5/1/1, 6 → 4/1/1.
    assert_eq!(sizes(&d), (4, 15, 19, 4, 5));
    // User "1" is written newest first: items 10 and 20 are its latest.
    assert_eq!(d.test.items(0), &[0, 1]);
    assert_eq!(d.valid.items(0), &[2]);
}

#[test]
fn lastfm_like_tab_floats_and_one_based_ids() {
    assert_eq!(
        detect_format(&data("lastfm_like/data1.txt"), &LoadOptions::default()).unwrap(),
        ResolvedFormat::Pairs {
            delimiter: Delimiter::Tab,
            header: false
        }
    );
    let d = load("lastfm_like");
    assert_eq!(originals(&d.users), ["1", "2", "3", "4"]);
    assert_eq!(originals(&d.items), ["1", "2", "3", "4", "5"]);
    assert_eq!(d.train.nnz() + d.valid.nnz(), 7);
    assert_eq!(d.test.nnz(), 4);
    assert!(matches!(d.provenance, SplitProvenance::CarvedValid { .. }));
    let raw = read_file(&data("lastfm_like/data1.txt"), &LoadOptions::default()).unwrap();
    assert_eq!(raw.records[3].rating, Some(124_660.0));

    let opts = LoadOptions {
        rating_threshold: Some(20.0),
        ..LoadOptions::default()
    };
    let d = load_with("lastfm_like", &opts);
    assert_eq!(originals(&d.users), ["1", "2", "3"]);
    assert_eq!(originals(&d.items), ["1", "2", "3", "5"]);
    assert_eq!((d.train.nnz() + d.valid.nnz(), d.test.nnz()), (5, 2));
}

#[test]
fn list_reader_reports_users_without_items() {
    let raw = read_file(&data("lightgcn/train.txt"), &LoadOptions::default()).unwrap();
    assert_eq!(raw.format, ResolvedFormat::List { header: false });
    assert_eq!(raw.records.len(), 12);
    assert_eq!(raw.users_without_items, ["3"]);
    assert!(
        raw.records
            .iter()
            .all(|r| r.rating.is_none() && r.timestamp.is_none())
    );
}

#[test]
fn forced_formats_apply_to_every_file() {
    // The LightGCN files read as lists whether detected or forced.
    let forced = LoadOptions {
        format: FileFormat::List,
        ..LoadOptions::default()
    };
    same_data(&load("lightgcn"), &load_with("lightgcn", &forced));
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write a test file");
    p
}

#[test]
fn named_header_columns_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "interactions.csv",
        "timestamp,extra,item_id,user_id\n5,x,A,1\n3,y,B,1\n4,z,A,2\n",
    );
    let raw = read_file(&p, &LoadOptions::default()).unwrap();
    let got: Vec<_> = raw
        .records
        .iter()
        .map(|r| (r.user.as_str(), r.item.as_str(), r.timestamp))
        .collect();
    assert_eq!(
        got,
        [
            ("1", "A", Some(5.0)),
            ("1", "B", Some(3.0)),
            ("2", "A", Some(4.0))
        ]
    );
}

#[test]
fn space_separated_pairs_with_ratings_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    // A user repeats → pairs; the duplicate (1, 2) is kept once.
    write(dir.path(), "train.txt", "1 2 5\n1 3 4\n2 2 1\n1 2 3\n");
    write(dir.path(), "test.txt", "1 4 5\n2 3 2\n");
    let d = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(d.train.nnz() + d.valid.nnz(), 3);
    assert_eq!(d.test.nnz(), 2);
    let opts = LoadOptions {
        rating_threshold: Some(4.0),
        ..LoadOptions::default()
    };
    let d = load_dataset(dir.path(), &opts).unwrap();
    assert_eq!((d.train.nnz() + d.valid.nnz(), d.test.nnz()), (2, 1));
}

#[test]
fn test_pairs_already_in_train_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train.txt", "0 0 1 2\n1 1 2\n");
    write(dir.path(), "valid.txt", "0 3\n1 1\n");
    write(dir.path(), "test.txt", "0 0 3 4\n1 2 4\n");
    let d = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(d.provenance, SplitProvenance::Given);
    assert_eq!(d.valid.items(1), &[] as &[ItemId]);
    assert_eq!(d.test.items(0), &[4]);
    assert_eq!(d.test.items(1), &[4]);
    assert_eq!(
        d.train,
        Interactions::from_pairs(2, 5, &[(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)])
    );
}

#[test]
fn val_and_bom_and_quoted_csv() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "train.csv",
        "\u{feff}user,item\n\"a\",\"x\"\nb,y\na,y\n",
    );
    write(dir.path(), "val.csv", "user,item\nb,x\n");
    write(dir.path(), "test.csv", "user,item\na,z\n");
    let d = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(d.provenance, SplitProvenance::Given);
    assert_eq!(originals(&d.users), ["a", "b"]);
    assert_eq!(originals(&d.items), ["x", "y", "z"]);
    assert_eq!(sizes(&d), (2, 3, 3, 1, 1));
}

#[test]
fn split_files_with_headers_read_by_name_and_positional_headers_need_none_beside() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    // Every file with the reordered header: columns by name in each.
    write("train.csv", "item_id,user_id\n10,1\n11,2\n");
    write("test.csv", "item_id,user_id\n12,1\n");
    let d = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(originals(&d.users), ["1", "2"]);
    assert_eq!(originals(&d.items), ["10", "11", "12"]);
    assert_eq!(d.test.items(0), &[2], "user 1 holds item 12 in test");
    // A header in positional order: a header-less test file beside it reads the same.
    write("train.csv", "user_id,item_id,rating\n1,10,5\n2,11,4\n");
    write("test.csv", "1,12,3\n");
    let d = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(originals(&d.users), ["1", "2"]);
    assert_eq!(d.test.items(0), &[2]);
}
