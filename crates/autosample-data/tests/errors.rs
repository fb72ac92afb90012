//! Malformed input is a `DataError` naming the file, the line, the problem and the fix — never a
//! panic.

use std::path::{Path, PathBuf};

use autosample_data::{DataError, LoadOptions, SplitStrategy, load_dataset};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn err(p: &str, opts: &LoadOptions) -> DataError {
    match load_dataset(&data(p), opts) {
        Ok(d) => panic!("{p} loaded ({} users), expected an error", d.n_users()),
        Err(e) => e,
    }
}

/// Asserts a parse error at `file:line` whose message contains every one of `needles`.
fn parse_error(p: &str, line: usize, needles: &[&str]) {
    let e = err(p, &LoadOptions::default());
    let shown = e.to_string();
    match &e {
        DataError::Parse { path, line: l, .. } => {
            assert_eq!(path, &data(p), "{shown}");
            assert_eq!(*l, line, "{shown}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let prefix = format!("{}:{line}: ", data(p).display());
    assert!(
        shown.starts_with(&prefix),
        "{shown:?} should start with {prefix:?}"
    );
    for n in needles {
        assert!(shown.contains(n), "{shown:?} should contain {n:?}");
    }
}

#[test]
fn bad_rating() {
    parse_error(
        "malformed/bad_rating.tsv",
        2,
        &[
            "expected a number (rating or weight) in column 3, found \"x\"",
            "--format",
        ],
    );
}

#[test]
fn too_few_fields() {
    parse_error(
        "malformed/one_field.csv",
        3,
        &["expected at least 2 fields", "found 1", "\"3\""],
    );
}

#[test]
fn too_many_fields_suggests_list_format() {
    parse_error(
        "malformed/too_many.tsv",
        2,
        &["at most 4 fields", "found 5", "--format list"],
    );
}

#[test]
fn too_many_fields_after_a_header_suggests_keeping_the_header() {
    let text = "uid items\n1 2 3 4 5 6\n2 3\n";
    let (dir, p, e) = err_in("interactions.txt", text, &LoadOptions::default());
    assert!(matches!(&e, DataError::Parse { line: 2, .. }), "{e:?}");
    assert!(
        e.to_string().contains("pass --format list --header true"),
        "{e}"
    );
    // The advice works: the header is skipped and line 2 is user 1 with five items.
    let opts = LoadOptions {
        format: autosample_data::FileFormat::List,
        header: Some(true),
        ..LoadOptions::default()
    };
    let d = load_dataset(&p, &opts).unwrap();
    assert_eq!(d.users.originals(), ["1", "2"]);
    assert_eq!(d.n_items(), 5);
    drop(dir);
}

#[test]
fn recbole_header_without_user_and_item() {
    parse_error(
        "malformed/bad_header.inter",
        1,
        &["user_id and item_id", "foo:token"],
    );
}

#[test]
fn recbole_short_row() {
    parse_error(
        "malformed/short_row.inter",
        3,
        &["expected at least 3 fields", "header"],
    );
}

#[test]
fn bad_timestamp() {
    parse_error(
        "malformed/bad_timestamp.csv",
        3,
        &["timestamp", "column 4", "\"yesterday\""],
    );
}

#[test]
fn empty_id() {
    parse_error("malformed/empty_id.csv", 3, &["empty item id in column 2"]);
}

/// Writes `files` (name, text) into a fresh temporary directory.
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("a fixture file");
    }
    dir
}

/// Writes `text` as `name` in a fresh temporary directory and returns the load error.
fn err_in(name: &str, text: &str, opts: &LoadOptions) -> (tempfile::TempDir, PathBuf, DataError) {
    let dir = dir_with(&[(name, text)]);
    let p = dir.path().join(name);
    let e = match load_dataset(&p, opts) {
        Ok(d) => panic!("{name} loaded ({} users), expected an error", d.n_users()),
        Err(e) => e,
    };
    (dir, p, e)
}

#[test]
fn leading_tab_is_an_empty_first_field_not_a_shift() {
    let text = "1\t10\t4\n\t11\t5\n2\t12\t3\n";
    let (_dir, p, e) = err_in("interactions.tsv", text, &LoadOptions::default());
    assert!(
        matches!(&e, DataError::Parse { path, line: 2, .. } if path == &p),
        "{e:?}"
    );
    assert!(e.to_string().contains("empty user id in column 1"), "{e}");
}

/// Asserts an [`DataError::EmptySplit`] for `file` whose message holds every one of `needles`.
fn empty_split(e: &DataError, file: &Path, needles: &[&str]) {
    assert!(
        matches!(e, DataError::EmptySplit { path, .. } if path == file),
        "{e:?}"
    );
    let shown = e.to_string();
    assert!(shown.starts_with(&file.display().to_string()), "{shown}");
    for n in needles {
        assert!(shown.contains(n), "{shown:?} should contain {n:?}");
    }
}

#[test]
fn a_test_file_that_copies_train_is_an_error_not_zero_metrics() {
    let train = "0 1\n1 2\n";
    for files in [
        vec![("train.txt", train), ("test.txt", train)],
        vec![
            ("train.txt", train),
            ("valid.txt", "0 3\n"),
            ("test.txt", "0 3\n1 2\n"),
        ],
    ] {
        let dir = dir_with(&files);
        let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
        empty_split(
            &e,
            &dir.path().join("test.txt"),
            &[
                "every pair of test.txt is already in train or valid",
                "the test split would be empty",
                "copy of the train file",
            ],
        );
    }
}

#[test]
fn a_given_valid_file_that_ends_up_empty_says_to_delete_it() {
    let train = "0 1\n1 2\n";
    let advice = "delete valid.txt (or move it out of the directory) so that validation is \
                  carved from train with --valid-fraction";
    for (valid, why) in [
        (train, "every pair of valid.txt is already in train"),
        ("", "valid.txt holds no interactions"),
        ("\n  \n", "valid.txt holds no interactions"),
    ] {
        let dir = dir_with(&[
            ("train.txt", train),
            ("valid.txt", valid),
            ("test.txt", "0 3\n"),
        ]);
        let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
        empty_split(
            &e,
            &dir.path().join("valid.txt"),
            &[why, "the validation split would be empty", advice],
        );
    }
}

#[test]
fn a_headerless_test_file_beside_a_reordered_train_header_must_get_the_header() {
    let train = "item_id,user_id\n10,1\n11,2\n";
    let dir = dir_with(&[("train.csv", train), ("test.csv", "\n12,1\n")]);
    let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
    let test = dir.path().join("test.csv");
    assert!(
        matches!(&e, DataError::Parse { path, line: 2, .. } if path == &test),
        "{e:?}"
    );
    for n in [
        "no header",
        "train.csv (\"item_id,user_id\")",
        "add that header as the first line of this file",
    ] {
        assert!(e.to_string().contains(n), "{e} should contain {n:?}");
    }
    // A valid file is held to the same rule (it is read before test).
    let dir = dir_with(&[
        ("train.csv", train),
        ("valid.csv", "13,2\n"),
        ("test.csv", "item_id,user_id\n12,1\n"),
    ]);
    let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, DataError::Parse { path, line: 1, .. } if path == &dir.path().join("valid.csv")),
        "{e:?}"
    );
}

#[test]
fn a_quoted_comma_is_an_error_not_a_split_field() {
    // With named columns extra fields are ignored, so the cut would pass silently.
    let text = "user,item\nu0,\"Alpha\"\nu1,\"Book, The\"\n";
    let (_dir, p, e) = err_in("interactions.csv", text, &LoadOptions::default());
    assert!(
        matches!(&e, DataError::Parse { path, line: 3, .. } if path == &p),
        "{e:?}"
    );
    for n in [
        "column 2",
        "quoted commas are not supported",
        "remove the comma from the field, or save the file tab-separated",
    ] {
        assert!(e.to_string().contains(n), "{e} should contain {n:?}");
    }
}

#[test]
fn not_utf8() {
    parse_error("malformed/not_utf8.txt", 2, &["not UTF-8"]);
    // UTF-16 (a spreadsheet's "Unicode text") is named as such, with the conversion.
    parse_error(
        "malformed/utf16.txt",
        1,
        &["UTF-16", "iconv -f UTF-16 -t UTF-8"],
    );
}

#[test]
fn blank_file_is_empty() {
    let e = err("malformed/empty.txt", &LoadOptions::default());
    assert!(
        matches!(&e, DataError::Empty { path } if path == &data("malformed/empty.txt")),
        "{e}"
    );
    assert!(e.to_string().contains("no interactions found"), "{e}");
}

#[test]
fn unrecognised_directory_lists_what_was_looked_for_and_found() {
    let e = err("unrecognised", &LoadOptions::default());
    assert!(matches!(e, DataError::Layout { .. }), "{e:?}");
    let shown = e.to_string();
    for n in [
        "train.txt",
        "test.txt",
        "u.data",
        "ratings.dat",
        ".inter",
        "notes.md",
        "user_list.txt",
    ] {
        assert!(shown.contains(n), "{shown:?} should mention {n}");
    }
}

#[test]
fn empty_directory_is_a_layout_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::Layout { .. }), "{e:?}");
    assert!(e.to_string().contains("no files"), "{e}");
}

#[test]
fn train_without_test_is_a_layout_error() {
    let e = err("only_train", &LoadOptions::default());
    assert!(matches!(e, DataError::Layout { .. }), "{e:?}");
    assert!(e.to_string().contains("no test file"), "{e}");
}

#[test]
fn several_candidates_are_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("u.data"), "1\t2\t3\t4\n").unwrap();
    std::fs::write(dir.path().join("ratings.dat"), "1::2::3::4\n").unwrap();
    let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("several interaction files"), "{e}");
    std::fs::write(dir.path().join("train.txt"), "0 1\n").unwrap();
    std::fs::write(dir.path().join("train.tsv"), "0\t1\n").unwrap();
    std::fs::write(dir.path().join("test.txt"), "0 2\n").unwrap();
    let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("several train files (train.tsv, train.txt)"),
        "{e}"
    );
}

#[test]
fn missing_path_is_an_io_error() {
    let e = err("does/not/exist", &LoadOptions::default());
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    assert!(e.to_string().starts_with("cannot read "), "{e}");
    assert!(e.to_string().contains("does/not/exist"), "{e}");
}

#[test]
fn threshold_on_files_without_ratings() {
    let opts = LoadOptions {
        rating_threshold: Some(4.0),
        ..LoadOptions::default()
    };
    let e = err("lightgcn", &opts);
    assert!(matches!(e, DataError::Config { .. }), "{e:?}");
    assert!(
        e.to_string().contains("train.txt has no rating column"),
        "{e}"
    );
    let e = err("recbole_splits", &opts);
    assert!(
        e.to_string()
            .contains("tiny.train.inter has no rating column"),
        "{e}"
    );
    // Pairs with two columns.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("interactions.tsv");
    std::fs::write(&p, "1\t2\n").unwrap();
    let e = load_dataset(&p, &opts).unwrap_err();
    assert!(e.to_string().contains("has no rating column"), "{e}");
    // A row missing the rating when the first row has one.
    std::fs::write(&p, "1\t2\t5\n1\t3\n").unwrap();
    let e = load_dataset(&p, &opts).unwrap_err();
    assert!(matches!(e, DataError::Parse { line: 2, .. }), "{e:?}");
}

#[test]
fn an_empty_split_file_with_a_threshold_is_empty_not_ratingless() {
    let opts = LoadOptions {
        rating_threshold: Some(4.0),
        ..LoadOptions::default()
    };
    let train = "1\t10\t5\n2\t11\t4\n";
    let dir = dir_with(&[
        ("train.tsv", train),
        ("valid.tsv", ""),
        ("test.tsv", "1\t11\t5\n"),
    ]);
    let e = load_dataset(dir.path(), &opts).unwrap_err();
    empty_split(
        &e,
        &dir.path().join("valid.tsv"),
        &["valid.tsv holds no interactions", "delete valid.tsv"],
    );
    let dir = dir_with(&[("train.tsv", train), ("test.tsv", "\n \n")]);
    let e = load_dataset(dir.path(), &opts).unwrap_err();
    assert!(
        matches!(&e, DataError::Empty { path } if path == &dir.path().join("test.tsv")),
        "{e:?}"
    );
    // Every valid row below the threshold: the same advice, with the reason.
    let dir = dir_with(&[
        ("train.tsv", train),
        ("valid.tsv", "1\t12\t2\n"),
        ("test.tsv", "1\t11\t5\n"),
    ]);
    let e = load_dataset(dir.path(), &opts).unwrap_err();
    empty_split(
        &e,
        &dir.path().join("valid.tsv"),
        &[
            "every row of valid.tsv (1) is below --rating-threshold 4",
            "delete valid.tsv",
        ],
    );
}

#[test]
fn temporal_split_needs_timestamps() {
    let opts = LoadOptions {
        split: SplitStrategy::Temporal,
        ..LoadOptions::default()
    };
    let e = err("lastfm_like/data1.txt", &opts);
    assert!(matches!(e, DataError::Config { .. }), "{e:?}");
    assert!(e.to_string().contains("--split temporal"), "{e}");
}

#[test]
fn bad_options() {
    for opts in [
        LoadOptions {
            valid_fraction: 0.0,
            ..LoadOptions::default()
        },
        LoadOptions {
            test_fraction: 1.0,
            ..LoadOptions::default()
        },
        LoadOptions {
            valid_fraction: 0.6,
            test_fraction: 0.4,
            ..LoadOptions::default()
        },
        LoadOptions {
            rating_threshold: Some(f64::INFINITY),
            ..LoadOptions::default()
        },
    ] {
        let e = err("lightgcn", &opts);
        assert!(matches!(e, DataError::Config { .. }), "{e:?}");
        assert!(e.to_string().starts_with("invalid option: "), "{e}");
    }
}

#[test]
fn garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[u8]] = &[
        b"",
        b"\r\n\r\n",
        b",,,\n",
        b"\t\t\n1\t2\n",
        b"::\n",
        b"user_id:token\n",
        b"user,item,rating\n1,2,nan\n",
        b"1 2 inf\n1 3 4\n",
        b"\xef\xbb\xbf",
        b"a b c d e f\n\n\n\x00\x01 2\n",
        b"1,2,3,4,5,6\n",
        b"1::2\n",
    ];
    for (k, bytes) in cases.iter().enumerate() {
        for name in ["x.txt", "x.csv", "x.inter", "u.data"] {
            let p = dir.path().join(format!("{k}-{name}"));
            std::fs::write(&p, bytes).unwrap();
            for opts in [
                LoadOptions::default(),
                LoadOptions {
                    rating_threshold: Some(1.0),
                    ..LoadOptions::default()
                },
            ] {
                // Any outcome but a panic is fine; errors must name the file.
                if let Err(e) = load_dataset(&p, &opts) {
                    let shown = e.to_string();
                    assert!(
                        shown.contains(&p.display().to_string()) || shown.contains("x."),
                        "{shown}"
                    );
                }
            }
        }
    }
}
