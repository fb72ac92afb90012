//! End-to-end tests of the `autosample` binary on tiny fixtures.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autosample"));
    c.env("AUTOSAMPLE_LOG", "warn");
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autosample-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn train_then_evaluate_on_the_tiny_fixture() {
    let out = scratch("train");
    let data = fixture("tiny");
    let o = run(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "mf",
        "--sampler",
        "uniform",
        "--dim",
        "8",
        "--lr",
        "0.05",
        "--epochs",
        "6",
        "--eval-every",
        "2",
        "--batch-size",
        "32",
        "--ks",
        "5,10",
        "--monitor",
        "recall@10",
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    let summary = json(&o);
    for f in ["config.json", "metrics.jsonl", "best.bpk", "summary.json"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let lines = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 6, "one record per epoch");
    assert_eq!(summary["epochs_run"], 6);
    assert_eq!(summary["seed"], 2024);
    assert!(summary["build"]["commit"].is_string());
    assert!(summary["dataset"]["provenance"]["kind"] == "carved_valid");
    let test_recall = summary["test"]["recall@10"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&test_recall));

    // Re-evaluating the best checkpoint reproduces the recorded numbers.
    let o = run(&["evaluate", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "evaluate failed: {}", stderr(&o));
    let ev = json(&o);
    for split in ["valid", "test"] {
        for m in ["recall@10", "ndcg@5"] {
            let a = ev[split][m].as_f64().unwrap();
            let b = summary[split][m].as_f64().unwrap();
            assert!((a - b).abs() < 1e-9, "{split} {m}: {a} vs {b}");
        }
    }
    let o = run(&["evaluate", out.to_str().unwrap(), "--on", "test", "--json"]);
    assert!(o.status.success());
    assert!(json(&o).get("valid").is_none());

    // An existing run is never clobbered without --overwrite.
    let before = std::fs::read(out.join("summary.json")).unwrap();
    let o = run(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn same_seed_gives_the_same_run() {
    let data = fixture("tiny");
    let go = |name: &str| {
        let out = scratch(name);
        let o = run(&[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--dim",
            "4",
            "--epochs",
            "3",
            "--eval-every",
            "1",
            "--batch-size",
            "16",
            "--seed",
            "7",
            "--out",
            out.to_str().unwrap(),
            "--json",
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let s = json(&o);
        std::fs::remove_dir_all(&out).unwrap();
        (
            s["valid"].clone(),
            s["test"].clone(),
            s["dataset"]["fingerprint"].clone(),
        )
    };
    assert_eq!(go("seed-a"), go("seed-b"));
}

#[test]
fn synthetic_data_and_stats() {
    let out = scratch("synth");
    let o = run(&[
        "train",
        "--data",
        "synthetic:tiny",
        "--epochs",
        "2",
        "--eval-every",
        "1",
        "--dim",
        "8",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("recall@20"));
    std::fs::remove_dir_all(&out).unwrap();

    let o = run(&[
        "data",
        "stats",
        "--data",
        fixture("tiny").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stats = json(&o);
    assert!(stats.to_string().contains("gini"), "{stats}");
    let o = run(&["data", "stats", "--data", fixture("tiny").to_str().unwrap()]);
    assert!(o.status.success());
}

#[test]
fn bad_input_exits_2_with_a_useful_message() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "train".into(),
                "--data".into(),
                "/no/such/dir".into(),
                "--quiet".into(),
            ],
            "/no/such/dir",
        ),
        (
            vec![
                "train".into(),
                "--data".into(),
                fixture("tiny").display().to_string(),
                "--sampler".into(),
                "bogus".into(),
            ],
            "unknown sampler",
        ),
        (
            vec![
                "train".into(),
                "--data".into(),
                fixture("malformed").display().to_string(),
                "--quiet".into(),
            ],
            "train.txt:2",
        ),
        (
            vec!["train".into(), "--no-such-flag".into()],
            "--no-such-flag",
        ),
        (
            vec![
                "train".into(),
                "--lr=-1".into(),
                "--data".into(),
                "synthetic:tiny".into(),
            ],
            "lr must be a positive",
        ),
        (
            vec!["evaluate".into(), "/no/such/run".into()],
            "run directory",
        ),
    ];
    for (args, needle) in cases {
        let o = bin().args(&args).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?} should exit 2; stderr: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains(needle),
            "{args:?}: stderr lacks {needle:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn evaluate_refuses_different_data() {
    let out = scratch("fingerprint");
    let o = run(&[
        "train",
        "--data",
        "synthetic:tiny",
        "--epochs",
        "1",
        "--dim",
        "4",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "evaluate",
        out.to_str().unwrap(),
        "--data",
        fixture("tiny").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("fingerprint") || stderr(&o).contains("does not fit"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&out).unwrap();

    // A run killed before its summary is checked too (its config.json records the
    // fingerprint): another split seed gives the same shapes but another test split, whose
    // items the model may have trained on.
    let file = scratch("fingerprint-interactions.tsv");
    let mut text = String::new();
    for u in 0..30 {
        for j in 0..8 {
            text.push_str(&format!("u{u}\ti{}\n", (u * 7 + j * 3) % 40));
        }
    }
    std::fs::write(&file, text).unwrap();
    let cut = scratch("fingerprint-cut");
    let o = bin()
        .args([
            "train",
            "--data",
            file.to_str().unwrap(),
            "--epochs",
            "4",
            "--eval-every",
            "1",
            "--dim",
            "4",
            "--out",
            cut.to_str().unwrap(),
            "--quiet",
        ])
        .env("AUTOSAMPLE_TEST_ABORT_AFTER_EPOCH", "2")
        .output()
        .unwrap();
    assert!(!o.status.success() && !cut.join("summary.json").exists());
    let evaluate = |seed: &str| {
        run(&[
            "evaluate",
            cut.to_str().unwrap(),
            "--data",
            file.to_str().unwrap(),
            "--split-seed",
            seed,
        ])
    };
    let o = evaluate("99");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("fingerprint"), "{}", stderr(&o));
    let default_seed = evaluate("2024");
    assert!(default_seed.status.success(), "{}", stderr(&default_seed));
    std::fs::remove_dir_all(&cut).unwrap();
}

#[test]
fn lightgcn_trains_and_reevaluates() {
    let out = scratch("lightgcn");
    let data = fixture("tiny");
    let o = run(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "lightgcn",
        "--layers",
        "2",
        "--dim",
        "8",
        "--lr",
        "0.05",
        "--epochs",
        "4",
        "--eval-every",
        "2",
        "--batch-size",
        "32",
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    let summary = json(&o);
    assert_eq!(summary["model"], "lightgcn");
    let o = run(&["evaluate", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ev = json(&o);
    let (a, b) = (
        ev["test"]["recall@20"].as_f64().unwrap(),
        summary["test"]["recall@20"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    let o = run(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "mf",
        "--layers",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--layers"));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_aborted_run_resumes_to_the_same_outcome() {
    let data = fixture("tiny");
    // The stateful samplers too: SRNS's memory and DENS's trained gates are saved with the
    // run's state.
    for (model, sampler) in [
        ("mf", "uniform"),
        ("lightgcn", "uniform"),
        ("ngcf", "uniform"),
        ("mf", "srns:s1=4,warmup=1,varset=16"),
        ("lightgcn", "dens:candidates=4,warmup=1"),
    ] {
        let name = format!("{model}-{}", &sampler[..4]);
        let args = |out: &Path| -> Vec<String> {
            [
                "train",
                "--data",
                data.to_str().unwrap(),
                "--model",
                model,
                "--sampler",
                sampler,
                "--dim",
                "8",
                "--lr",
                "0.05",
                "--epochs",
                "8",
                "--eval-every",
                "2",
                "--batch-size",
                "16",
                "--out",
                out.to_str().unwrap(),
                "--json",
                "--quiet",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let whole = scratch(&format!("whole-{name}"));
        let o = bin().args(args(&whole)).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let expected = json(&o);

        // Die right after the state of epoch 4 was saved, as a `kill -9` would.
        let cut = scratch(&format!("cut-{name}"));
        let o = bin()
            .args(args(&cut))
            .env("AUTOSAMPLE_TEST_ABORT_AFTER_EPOCH", "4")
            .output()
            .unwrap();
        assert!(!o.status.success(), "the aborted run should not succeed");
        assert!(!cut.join("summary.json").exists());
        // The model's seconds up to the cut are saved with the state, so the resumed run's
        // breakdown covers both processes (not the second one's alone).
        let before = resume_meta(&cut.join("resume.bin"))["model_seconds"]["loss_graph"]
            .as_f64()
            .expect("resume.bin keeps the model's seconds");
        let o = run(&[
            "train",
            "--resume",
            cut.to_str().unwrap(),
            "--json",
            "--quiet",
        ]);
        assert!(o.status.success(), "resume failed: {}", stderr(&o));
        let resumed = json(&o);
        let after = resumed["timing"]["breakdown"]["loss_graph"]
            .as_f64()
            .unwrap();
        assert!(
            before > 0.0 && after >= before,
            "{name}: {after} s after resume, {before} s saved"
        );
        for key in ["valid", "test", "best_epoch", "epochs_run"] {
            assert_eq!(
                resumed[key], expected[key],
                "{name}: {key} differs after resume"
            );
        }
        let lines = std::fs::read_to_string(cut.join("metrics.jsonl")).unwrap();
        assert_eq!(
            lines.lines().count(),
            8,
            "one record per epoch after resuming"
        );
        std::fs::remove_dir_all(&whole).unwrap();
        std::fs::remove_dir_all(&cut).unwrap();
    }
    // Nothing to resume is a clear error.
    let o = run(&["train", "--resume", "/no/such/run"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A relative `--data` is recorded absolute, so a run resumes (and evaluates) from another
/// working directory.
#[test]
fn a_relative_data_path_resumes_from_another_directory() {
    let out = scratch("relative-data");
    let o = bin()
        .current_dir(fixture("tiny").parent().unwrap())
        .args([
            "train",
            "--data",
            "tiny",
            "--epochs",
            "4",
            "--eval-every",
            "2",
            "--dim",
            "4",
            "--out",
        ])
        .arg(&out)
        .arg("--quiet")
        .env("AUTOSAMPLE_TEST_ABORT_AFTER_EPOCH", "2")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the aborted run should not succeed");
    let o = bin()
        .current_dir(std::env::temp_dir())
        .args(["train", "--resume"])
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(&out).unwrap();
}

/// A search never lands silently on a training run's directory, and an overwrite in either
/// direction removes the other kind's files (else `train --resume` or `inspect` read them).
#[test]
fn search_and_train_do_not_mix_in_one_directory() {
    let tiny_space =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/tiny.json");
    let dir = scratch("mixed-dir");
    let train = |extra: &[&str]| {
        let mut a = vec![
            "train",
            "--data",
            "synthetic:tiny",
            "--epochs",
            "2",
            "--eval-every",
            "1",
        ];
        a.extend_from_slice(&["--dim", "4", "--quiet", "--out", dir.to_str().unwrap()]);
        a.extend_from_slice(extra);
        run(&a)
    };
    let search = |extra: &[&str]| {
        let mut a = vec![
            "search",
            "--data",
            "synthetic:tiny",
            "--epochs",
            "2",
            "--eval-every",
            "1",
        ];
        a.extend_from_slice(&[
            "--dim",
            "4",
            "--quiet",
            "--space",
            tiny_space.to_str().unwrap(),
        ]);
        a.extend_from_slice(&["--out", dir.to_str().unwrap()]);
        a.extend_from_slice(extra);
        run(&a)
    };
    let o = train(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = search(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holds a training run"),
        "{}",
        stderr(&o)
    );
    assert!(dir.join("summary.json").exists(), "the run is untouched");
    let o = search(&["--overwrite"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for stale in ["summary.json", "resume.bin"] {
        assert!(
            !dir.join(stale).exists(),
            "the run's {stale} survived the search"
        );
    }
    let o = train(&["--overwrite"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for stale in ["outcome.json", "search.json", "events.jsonl"] {
        assert!(
            !dir.join(stale).exists(),
            "the search's {stale} survived the run"
        );
    }
    let o = run(&["inspect", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("a training run, not a search"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Output into a closed pipe (`autosample ... | head`) ends quietly instead of panicking.
#[test]
fn a_closed_stdout_ends_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let tiny = fixture("tiny");
    let o = bin()
        .args(["data", "stats", "--data", tiny.to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// The JSON metadata of a training state file (`resume.bin`): after the magic line, a
/// little-endian u64 length and the header `{"meta": ..., ...}`.
fn resume_meta(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap();
    let rest = bytes
        .strip_prefix(b"AUTOSAMPLE-STATE 1\n".as_slice())
        .unwrap();
    let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&rest[8..8 + len]).unwrap();
    header["meta"].clone()
}

/// A run killed after the epoch that stopped it early (during the final test evaluation, or
/// a finished run resumed by mistake) resumes to the uninterrupted result: it does not train
/// past its stop.
#[test]
fn a_run_killed_at_its_early_stop_resumes_to_the_same_result() {
    let data = fixture("tiny");
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--data",
            data.to_str().unwrap(),
            "--dim",
            "8",
            "--lr",
            "0.05",
            "--epochs",
            "200",
            "--eval-every",
            "1",
            "--patience",
            "1",
            "--batch-size",
            "16",
            "--out",
            out.to_str().unwrap(),
            "--json",
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let whole = scratch("stop-whole");
    let o = bin().args(args(&whole)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = json(&o);
    let stop = expected["epochs_run"].as_u64().unwrap();
    assert!(stop < 200, "the fixture run should stop early (ran {stop})");

    let cut = scratch("stop-cut");
    let o = bin()
        .args(args(&cut))
        .env("AUTOSAMPLE_TEST_ABORT_AFTER_EPOCH", stop.to_string())
        .output()
        .unwrap();
    assert!(!o.status.success(), "the aborted run should not succeed");
    for dir in [&cut, &whole] {
        let o = run(&[
            "train",
            "--resume",
            dir.to_str().unwrap(),
            "--json",
            "--quiet",
        ]);
        assert!(o.status.success(), "resume failed: {}", stderr(&o));
        let resumed = json(&o);
        for key in ["valid", "test", "best_epoch", "epochs_run", "stopped_early"] {
            assert_eq!(
                resumed[key],
                expected[key],
                "{}: {key} differs",
                dir.display()
            );
        }
        let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert_eq!(lines.lines().count() as u64, stop, "no epoch past the stop");
    }
    std::fs::remove_dir_all(&whole).unwrap();
    std::fs::remove_dir_all(&cut).unwrap();
}

/// `--config` gives the model and the sampler too: a flag left out keeps the file's value.
#[test]
fn a_config_file_keeps_its_model_and_sampler_unless_a_flag_overrides() {
    let data = fixture("tiny");
    let first = scratch("config-source");
    let o = run(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "lightgcn",
        "--sampler",
        "dns:candidates=4",
        "--dim",
        "8",
        "--epochs",
        "1",
        "--out",
        first.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(first.join("config.json")).unwrap()).unwrap();
    let config = scratch("train-config.json");
    std::fs::write(&config, recorded["train"].to_string()).unwrap();
    let train_with = |extra: &[&str], name: &str| -> serde_json::Value {
        let out = scratch(name);
        let mut a = vec![
            "train",
            "--data",
            data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ];
        a.extend_from_slice(extra);
        let o = run(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        std::fs::remove_dir_all(&out).unwrap();
        v["train"].clone()
    };
    let kept = train_with(&[], "config-kept");
    assert_eq!(kept["model"], recorded["train"]["model"]);
    assert_eq!(kept["sampler"], recorded["train"]["sampler"]);
    let overridden = train_with(&["--model", "mf", "--sampler", "uniform"], "config-flags");
    assert_eq!(overridden["model"]["type"], "mf");
    assert_eq!(overridden["sampler"]["type"], "uniform");
    std::fs::remove_dir_all(&first).unwrap();
}

#[test]
fn space_validate_lists_candidates_and_rejects_a_bad_file_with_exit_2() {
    let spaces = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces");
    let tiny = spaces.join("tiny.json");
    let out = run(&["space", "validate", tiny.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let specs: Vec<&str> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sampler"].as_str().unwrap())
        .collect();
    assert_eq!(
        specs,
        [
            "uniform",
            "popularity:beta=0.75,smoothing=0",
            "dns:candidates=8"
        ]
    );

    let bad = scratch("bad-space.json");
    std::fs::write(
        &bad,
        r#"{"version": 1, "samplers": {"_type": "choice", "_value": [{"_name": "dns", "top": 2}]}}"#,
    )
    .unwrap();
    let out = run(&["space", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bad-space.json")
            && err.contains("samplers._value[0].top: `dns` has no `top`"),
        "{err}"
    );
}

#[test]
fn exhaustive_search_writes_an_outcome_and_refuses_to_overwrite() {
    let spaces = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces");
    let tiny = spaces.join("tiny.json");
    let out = scratch("search");
    let args = [
        "search",
        "--data",
        "synthetic:tiny",
        "--space",
        tiny.to_str().unwrap(),
        "--epochs",
        "4",
        "--eval-every",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--json",
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("outcome.json")).unwrap()).unwrap();
    assert_eq!(v, written, "stdout is outcome.json");
    assert_eq!(v["strategy"], "exhaustive");
    let candidates = v["details"]["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 3);
    let chosen = v["chosen"].as_str().unwrap();
    let best = candidates
        .iter()
        .map(|c| c["monitor_value"].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    let chosen_value = candidates.iter().find(|c| c["sampler"] == chosen).unwrap()["monitor_value"]
        .as_f64()
        .unwrap();
    assert_eq!(chosen_value, best);
    assert!(v["test"]["recall@20"].is_number());
    // The validation metrics selected on are the chosen candidate's, as a run summary's.
    let chosen_valid = &candidates.iter().find(|c| c["sampler"] == chosen).unwrap()["valid"];
    assert_eq!(&v["valid"], chosen_valid);
    assert_eq!(v["total_epochs"], 12);
    assert!(v["build"]["commit"].is_string() && v["seed"].is_number());

    let again = run(&args);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already holds a search"));
    // The chosen model is kept like a run's best: evaluate reproduces the search's test.
    let e = run(&["evaluate", out.to_str().unwrap(), "--on", "test", "--json"]);
    assert!(e.status.success(), "{}", stderr(&e));
    assert!(!stderr(&e).contains("missing"), "{}", stderr(&e));
    assert_eq!(json(&e)["test"]["recall@20"], v["test"]["recall@20"]);
    // An export of a search carries the metrics it was selected on and tested with.
    let exported = scratch("search-export");
    let o = run(&[
        "export",
        out.to_str().unwrap(),
        "--to",
        exported.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(exported.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["metrics"]["valid"], v["valid"]);
    assert_eq!(manifest["metrics"]["test"], v["test"]);
    assert_eq!(manifest["sampler"], v["chosen"]);
    assert_eq!(manifest["final_sampler"], "argmax");

    // The experimental AutoSample strategy: same outcome file, its decisions in `details`.
    let out2 = scratch("search-autosample");
    let o = run(&[
        "search",
        "--data",
        "synthetic:tiny",
        "--space",
        tiny.to_str().unwrap(),
        "--strategy",
        "autosample",
        "--epochs",
        "4",
        "--eval-every",
        "2",
        "--out",
        out2.to_str().unwrap(),
        "--quiet",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["strategy"], "autosample");
    let events = v["details"]["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["event"], "warmup");
    assert_eq!(events.last().unwrap()["event"], "chosen");
    assert_eq!(events.last().unwrap()["sampler"], v["chosen"]);
    assert_eq!(
        events.last().unwrap()["retrain"],
        "warm",
        "the default retrain starts from the search's shared parameters"
    );
    let log = std::fs::read_to_string(out2.join("events.jsonl")).unwrap();
    let logged: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(&logged, events, "events.jsonl holds the same decisions");
    assert!(v["test"]["recall@20"].is_number());
    assert_eq!(
        v["valid"], v["details"]["retrained_valid"],
        "the retrained model's validation"
    );
    assert!(v["valid"]["recall@20"].is_number());

    // Another selector rule, and halving from a supernet warm-up, through the same command.
    let out3 = scratch("search-alignment");
    let common = [
        "search",
        "--data",
        "synthetic:tiny",
        "--space",
        tiny.to_str().unwrap(),
        "--epochs",
        "4",
        "--eval-every",
        "2",
        "--warmup-epochs",
        "1",
        "--quiet",
        "--json",
    ];
    let mut a = common.to_vec();
    a.extend([
        "--strategy",
        "autosample",
        "--selector",
        "alignment-bpr",
        "--final",
        "mixture",
        "--max-rounds",
        "2",
        "--out",
        out3.to_str().unwrap(),
    ]);
    let o = run(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["details"]["settings"]["selector"]["rule"], "alignment");
    assert_eq!(v["details"]["settings"]["final_sampler"], "mixture");
    assert_eq!(v["details"]["settings"]["max_rounds"], 2);
    let rounds = v["details"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "round")
        .count();
    assert!((1..=2).contains(&rounds), "{rounds} rounds");
    let chosen_event = v["details"]["events"].as_array().unwrap().last().unwrap();
    assert_eq!(chosen_event["final_sampler"], "mixture");
    assert_eq!(chosen_event["retrain"], "warm", "no branch to continue");
    assert!(!chosen_event["final_weights"].as_array().unwrap().is_empty());
    // The mixture's model is kept like any search's: evaluate reproduces its test.
    let e = run(&["evaluate", out3.to_str().unwrap(), "--on", "test", "--json"]);
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(json(&e)["test"]["recall@20"], v["test"]["recall@20"]);
    // ...and says it is a mixture wherever the choice is shown, not only in events.jsonl.
    let i = run(&["inspect", out3.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&i.stdout);
    assert!(text.contains("final sampler: the mixture"));
    assert!(!text.contains("NaN"), "{text}");
    let mixture = text
        .lines()
        .find(|l| l.starts_with("final sampler: the mixture"))
        .unwrap();
    assert!(
        mixture.contains("dns:candidates=8 0.") && !mixture.contains("NaN"),
        "every mixture weight is shown by name: {mixture}"
    );
    let i = run(&["inspect", out3.to_str().unwrap(), "--json"]);
    let inspected = json(&i);
    assert_eq!(inspected["final_sampler"], "mixture");
    // The mixture retrain's epochs count once per candidate it trained.
    let trained = chosen_event["final_weights"].as_array().unwrap().len() as u64;
    let retrain = v["details"]["epochs"]["retrain"].as_u64().unwrap();
    let supernet_and_branches = inspected["work_epochs"].as_u64().unwrap() - retrain * trained;
    assert!(trained >= 1 && supernet_and_branches > 0, "{inspected}");
    assert!(
        inspected["exhaustive_estimate"]["basis"]
            .as_str()
            .unwrap()
            .contains("mixture retrain")
            || trained == 1
    );
    let mixed_export = scratch("mixture-export");
    let o = run(&[
        "export",
        out3.to_str().unwrap(),
        "--to",
        mixed_export.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(mixed_export.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["final_sampler"], "mixture");
    let round = &v["details"]["events"][1];
    assert_eq!(round["rule"], "alignment-bpr");
    assert!(round["final_weights"].is_array());
    let inspected = run(&["inspect", out3.to_str().unwrap()]);
    assert!(inspected.status.success(), "{}", stderr(&inspected));
    assert!(String::from_utf8_lossy(&inspected.stdout).contains("alignment-bpr"));

    let out4 = scratch("search-halving-warmup");
    let mut h = common.to_vec();
    h.extend([
        "--strategy",
        "halving",
        "--halving-start",
        "warmup",
        "--first-epochs",
        "1",
        "--out",
        out4.to_str().unwrap(),
    ]);
    let o = run(&h);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["details"]["start"]["kind"], "supernet_warmup");
    assert_eq!(v["details"]["warmup_epochs"], 1);

    let mut f = common.to_vec();
    let out5 = scratch("search-bad-floor");
    f.extend([
        "--strategy",
        "autosample",
        "--weight-floor",
        "3",
        "--out",
        out5.to_str().unwrap(),
    ]);
    let bad = run(&f);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("weight floor 3 is outside [0, 1]"),
        "{}",
        stderr(&bad)
    );
    let mut p = common.to_vec();
    let out6 = scratch("search-bad-prune-level");
    p.extend([
        "--strategy",
        "autosample",
        "--prune-level",
        "2",
        "--out",
        out6.to_str().unwrap(),
    ]);
    let bad = run(&p);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("prune_level must be in (0, 1)"),
        "{}",
        stderr(&bad)
    );

    let bad = run(&[
        "search",
        "--data",
        "synthetic:tiny",
        "--space",
        "/nonexistent.json",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("/nonexistent.json: file: cannot read it"));
}

/// Reads a float32 C-order `.npy` as written by `export`: (shape, values).
fn read_npy(path: &Path) -> ((usize, usize), Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "header padded to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"));
    let shape = header.split("'shape': (").nth(1).unwrap();
    let dims: Vec<usize> = shape
        .split(')')
        .next()
        .unwrap()
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let values: Vec<f32> = bytes[10 + hlen..]
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(values.len(), dims[0] * dims[1]);
    ((dims[0], dims[1]), values)
}

#[test]
fn export_then_recommend_serves_top_k_without_training_items() {
    let run_dir = scratch("export-run");
    let o = run(&[
        "train",
        "--data",
        fixture("tiny").to_str().unwrap(),
        "--epochs",
        "4",
        "--eval-every",
        "2",
        "--out",
        run_dir.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let export = scratch("export-model");
    let o = run(&[
        "export",
        run_dir.to_str().unwrap(),
        "--to",
        export.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = run(&[
        "export",
        run_dir.to_str().unwrap(),
        "--to",
        export.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already holds an export"));

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["schema_version"], 1);
    assert_eq!(manifest["sampler"], "uniform");
    assert!(manifest["metrics"]["test"]["recall@20"].is_number());
    let ((nu, d), users) = read_npy(&export.join("user_embeddings.npy"));
    let ((ni, d2), items) = read_npy(&export.join("item_embeddings.npy"));
    assert_eq!(
        (nu, ni, d),
        (
            manifest["n_users"].as_u64().unwrap() as usize,
            manifest["n_items"].as_u64().unwrap() as usize,
            d2
        )
    );
    let ids = std::fs::read_to_string(export.join("users.tsv")).unwrap();
    let (dense, original) = ids.lines().next().unwrap().split_once('\t').unwrap();
    let dense: usize = dense.parse().unwrap();
    let item_ids: Vec<String> = std::fs::read_to_string(export.join("items.tsv"))
        .unwrap()
        .lines()
        .map(|l| l.split_once('\t').unwrap().1.to_owned())
        .collect();
    let seen: Vec<usize> = std::fs::read_to_string(export.join("seen.txt"))
        .unwrap()
        .lines()
        .nth(dense)
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();

    let o = run(&[
        "recommend",
        export.to_str().unwrap(),
        "--user",
        original,
        "-k",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = json(&o)[0]["items"].as_array().unwrap().clone();
    assert_eq!(recs.len(), 3.min(ni - seen.len()));
    // The best unseen items by ⟨user, item⟩ from the .npy files, in order.
    let score = |i: usize| -> f32 {
        (0..d)
            .map(|j| users[dense * d + j] * items[i * d + j])
            .sum()
    };
    let mut want: Vec<usize> = (0..ni).filter(|i| !seen.contains(i)).collect();
    want.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
    for (r, w) in recs.iter().zip(&want) {
        assert_eq!(r["item"].as_str().unwrap(), item_ids[*w]);
        assert!((r["score"].as_f64().unwrap() as f32 - score(*w)).abs() < 1e-5);
    }

    let o = run(&[
        "recommend",
        export.to_str().unwrap(),
        "--user",
        "no-such-user",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown user \"no-such-user\""),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "recommend",
        export.to_str().unwrap(),
        "--user",
        original,
        "-k",
        "0",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "-k 0 is an error, not an empty list"
    );
    // From a users file, the unknown id's file and line are named (blank lines count).
    let wanted = scratch("wanted-users.txt");
    std::fs::write(&wanted, format!("{original}\n\nno-such-user\n")).unwrap();
    let o = run(&[
        "recommend",
        export.to_str().unwrap(),
        "--users-file",
        wanted.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "{}:3: unknown user \"no-such-user\"",
            wanted.display()
        )),
        "{}",
        stderr(&o)
    );

    // A --to that holds other files but no export is refused without --overwrite.
    let other = scratch("export-other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let o = run(&[
        "export",
        run_dir.to_str().unwrap(),
        "--to",
        other.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holds files but no export"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_dir(&other).unwrap().count(),
        1,
        "nothing written"
    );
    // An overwrite that fails halfway leaves no manifest vouching for a mix of old and new
    // files (here items.tsv cannot be replaced: a directory holds its name).
    let copy = scratch("export-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in std::fs::read_dir(&export).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::remove_file(copy.join("items.tsv")).unwrap();
    std::fs::create_dir_all(copy.join("items.tsv").join("blocker")).unwrap();
    let o = run(&[
        "export",
        run_dir.to_str().unwrap(),
        "--to",
        copy.to_str().unwrap(),
        "--overwrite",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        !copy.join("manifest.json").exists(),
        "a stale manifest survived"
    );
    let o = run(&["recommend", copy.to_str().unwrap(), "--user", original]);
    assert_eq!(o.status.code(), Some(2), "a broken export is not served");

    // A truncated seen.txt would let training items through: an error naming the file.
    let seen = std::fs::read_to_string(export.join("seen.txt")).unwrap();
    let cut_seen = scratch("export-cut-seen");
    std::fs::create_dir_all(&cut_seen).unwrap();
    for f in std::fs::read_dir(&export).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, cut_seen.join(f.file_name().unwrap())).unwrap();
    }
    let first_lines: String = seen
        .lines()
        .take(nu - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(cut_seen.join("seen.txt"), first_lines).unwrap();
    let o = run(&["recommend", cut_seen.to_str().unwrap(), "--user", original]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("seen.txt") && stderr(&o).contains("truncated"),
        "{}",
        stderr(&o)
    );
    // So is a line out of place (user 0's line twice, user 1's gone), while a trailing blank
    // line is harmless.
    let lines: Vec<&str> = seen.lines().collect();
    let swapped: String = std::iter::once(lines[0])
        .chain(std::iter::once(lines[0]))
        .chain(lines[2..].iter().copied())
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(cut_seen.join("seen.txt"), swapped).unwrap();
    let o = run(&["recommend", cut_seen.to_str().unwrap(), "--user", original]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("seen.txt:2: expected `1 item"),
        "{}",
        stderr(&o)
    );
    std::fs::write(cut_seen.join("seen.txt"), format!("{seen}\n\n")).unwrap();
    let o = run(&["recommend", cut_seen.to_str().unwrap(), "--user", original]);
    assert!(o.status.success(), "{}", stderr(&o));

    // An id map that does not match the tables (a hand-edited or mixed export) is an error
    // naming the file, not an out-of-range panic.
    let mut users_tsv = std::fs::read_to_string(export.join("users.tsv")).unwrap();
    users_tsv.push_str(&format!("{nu}\textra-user\n"));
    std::fs::write(export.join("users.tsv"), users_tsv).unwrap();
    let o = run(&[
        "recommend",
        export.to_str().unwrap(),
        "--user",
        "extra-user",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("users.tsv: lists") && stderr(&o).contains("export again"),
        "{}",
        stderr(&o)
    );
}

/// `inspect` summarises a search and writes report.html; headless Chromium (Debian's
/// chromium, installed by .ci/run) loads the report and its DOM holds one bar per candidate.
#[test]
fn inspect_summarises_a_search_and_its_report_renders_in_chromium() {
    let spaces = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces");
    let out = scratch("inspect");
    let o = run(&[
        "search",
        "--data",
        "synthetic:tiny",
        "--space",
        spaces.join("tiny.json").to_str().unwrap(),
        "--epochs",
        "2",
        "--eval-every",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("chosen: ")
            && text.contains("candidates (3 trained alone")
            && text.contains("exhaustive search: the baseline"),
        "{text}"
    );
    let report = out.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("<rect class=\"bar").count(), 3);

    let Some(dom) = chromium_dom(&report, "inspect-chromium-profile") else {
        return;
    };
    assert_eq!(
        dom.matches("<rect class=\"bar").count(),
        3,
        "the rendered DOM holds the chart's bars: {dom}"
    );
    assert!(dom.contains("<svg"), "{dom}");

    // An AutoSample search: the weights over the rounds (one line per candidate) and the
    // retrain's validation curve are drawn too.
    let out = scratch("inspect-autosample");
    let o = bin()
        .args(quick_search_args(
            &spaces.join("tiny.json"),
            "autosample",
            &out,
            &[],
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The cost against an exhaustive estimate: 3 candidates, each as long as the chosen
    // model trained.
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("× the work") && text.contains("estimated as 3 candidates ×"),
        "{text}"
    );
    let o = run(&["inspect", out.to_str().unwrap(), "--json"]);
    let v = json(&o);
    let estimate = &v["exhaustive_estimate"];
    assert_eq!(estimate["candidates"], 3);
    assert_eq!(
        estimate["epochs"].as_u64().unwrap(),
        3 * estimate["epochs_per_candidate"].as_u64().unwrap()
    );
    assert!(
        v["work_epochs"].as_u64().unwrap() > v["total_epochs"].as_u64().unwrap(),
        "a supernet epoch counts once per candidate it trains"
    );
    let decisions = v["decisions"].as_array().unwrap();
    assert_eq!(decisions[0]["event"], "warmup");
    assert!(
        decisions
            .iter()
            .any(|e| e["event"] == "round" && e["evidence"].is_array())
    );
    assert_eq!(decisions.last().unwrap()["event"], "chosen");
    assert!(v["valid"]["recall@20"].is_f64());
    let report = out.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("class=\"cost\""), "{html}");
    assert_eq!(
        html.matches("<polyline class=\"line").count(),
        3 + 1,
        "{html}"
    );
    assert!(
        html.contains("Candidate weights over the rounds") && html.contains("Retrain: validation")
    );
    let Some(dom) = chromium_dom(&report, "inspect-chromium-profile-2") else {
        return;
    };
    assert_eq!(dom.matches("<polyline class=\"line").count(), 4, "{dom}");
}

/// The DOM of `report` as headless Chromium renders it, or `None` (with a note) where
/// Debian's chromium is absent (.ci/run installs it).
fn chromium_dom(report: &Path, profile: &str) -> Option<String> {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("skipping the Chromium check: /usr/bin/chromium is absent (.ci/run installs it)");
        return None;
    }
    let profile = scratch(profile);
    let dom = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &format!("file://{}", report.display()),
        ])
        .output()
        .expect("chromium runs");
    Some(String::from_utf8_lossy(&dom.stdout).into_owned())
}

/// A search killed mid-candidate (`abort`, like kill -9, right after a saved state) continues
/// with `search --resume` and ends with the outcome of an uninterrupted search.
#[test]
fn an_interrupted_search_resumes_to_the_same_outcome() {
    let spaces = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces");
    let tiny = spaces.join("tiny.json");
    let args = |out: &Path| quick_search_args(&tiny, "exhaustive", out, &[]);
    let whole = scratch("search-whole");
    let o = bin().args(args(&whole)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let want = json(&o);

    let cut = scratch("search-cut");
    let o = bin()
        .args(args(&cut))
        .env("AUTOSAMPLE_TEST_ABORT_AFTER_EPOCH", "2")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the hook kills the first candidate");
    assert!(!cut.join("outcome.json").exists());
    let o = run(&[
        "search",
        "--resume",
        cut.to_str().unwrap(),
        "--quiet",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = json(&o);
    assert_eq!(got["chosen"], want["chosen"]);
    assert_eq!(got["test"], want["test"]);
    let values = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["details"]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["valid"].clone())
            .collect()
    };
    assert_eq!(values(&got), values(&want));
    let again = run(&["search", "--resume", cut.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("finished already"));
}

/// `search --resume` on data other than the search's (files edited, or a relative path read
/// from another directory) is refused: it would end elsewhere than the uninterrupted search.
#[test]
fn a_resume_on_changed_data_is_refused() {
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/tiny.json");
    let data = scratch("resume-data");
    std::fs::create_dir_all(&data).unwrap();
    for f in ["train.txt", "test.txt"] {
        std::fs::copy(fixture("tiny").join(f), data.join(f)).unwrap();
    }
    let cut = scratch("resume-changed");
    let mut args = quick_search_args(&tiny, "exhaustive", &cut, &[]);
    args[2] = data.to_str().unwrap().to_owned(); // --data <copy of the fixture>
    let o = bin()
        .args(&args)
        .env("AUTOSAMPLE_TEST_ABORT_AFTER_EPOCH", "2")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the hook kills the first candidate");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cut.join("search.json")).unwrap()).unwrap();
    assert!(plan["data_fingerprint"].is_string(), "{plan}");
    // One interaction fewer: the first user's last training item.
    let train = std::fs::read_to_string(data.join("train.txt")).unwrap();
    let mut lines: Vec<String> = train.lines().map(str::to_owned).collect();
    let cut_at = lines[0].rfind(' ').unwrap();
    lines[0].truncate(cut_at);
    std::fs::write(data.join("train.txt"), lines.join("\n") + "\n").unwrap();
    let o = run(&["search", "--resume", cut.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the data differs from the search's"),
        "{}",
        stderr(&o)
    );
}

/// Settings the strategy cannot run are refused before anything is written: the output
/// directory stays free for the corrected command.
#[test]
fn bad_autosample_settings_write_nothing() {
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/tiny.json");
    let out = scratch("bad-settings");
    for extra in [["--max-rounds", "0"], ["--weight-floor", "2"]] {
        let o = bin()
            .args(quick_search_args(&tiny, "autosample", &out, &extra))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(if extra[0] == "--max-rounds" {
                "max rounds 0 (--max-rounds) is outside 1..=20"
            } else {
                "weight floor 2"
            }),
            "{}",
            stderr(&o)
        );
        assert!(!out.join("search.json").exists(), "{extra:?}");
    }
}

#[test]
fn halving_search_drops_half_per_rung_and_inspect_charts_each_rung() {
    let spaces = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces");
    let out = scratch("search-halving");
    let o = run(&[
        "search",
        "--data",
        "synthetic:tiny",
        "--space",
        spaces.join("tiny.json").to_str().unwrap(),
        "--strategy",
        "halving",
        "--first-epochs",
        "2",
        "--epochs",
        "4",
        "--eval-every",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["strategy"], "halving");
    let rungs = v["details"]["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 2, "3 → 2 → 1");
    assert_eq!(rungs[0]["dropped"].as_array().unwrap().len(), 1);
    assert_eq!(rungs[1]["values"][0][0], v["chosen"]);
    let o = run(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<rect class=\"bar").count(), 3 + 2);
}

/// AutoSample and halving searches killed right after a round's (rung's) checkpoint resume to
/// the outcome of an uninterrupted run; so do a `--retrain branch` search killed after its
/// last round, which resumes straight into continuing the saved branch, and one killed right
/// after its rounds stopped past the peak, which resumes into the best round's branch.
#[test]
fn interrupted_autosample_and_halving_searches_resume_to_the_same_outcome() {
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/tiny.json");
    // SRNS keeps a memory across supernet epochs: the checkpoint must carry it.
    let stateful = scratch("stateful-space").join("space.json");
    std::fs::create_dir_all(stateful.parent().unwrap()).unwrap();
    std::fs::write(
        &stateful,
        r#"{"version": 1, "samplers": {"_type": "choice", "_value": [
            {"_name": "srns", "s1": 2, "warmup": 1, "varset": 16},
            {"_name": "srns", "s1": 4, "warmup": 1, "varset": 16},
            {"_name": "dns", "candidates": 8}]}}"#,
    )
    .unwrap();
    // Only SRNS candidates: whichever leads, its branch has a memory to hand on.
    let srns_only = stateful.with_file_name("srns-only.json");
    std::fs::write(
        &srns_only,
        r#"{"version": 1, "samplers": {"_type": "choice", "_value": [
            {"_name": "srns", "s1": 2, "warmup": 1, "varset": 16},
            {"_name": "srns", "s1": 4, "warmup": 1, "varset": 16}]}}"#,
    )
    .unwrap();
    let branch: &[&str] = &["--retrain", "branch", "--max-rounds", "2"];
    let no_prune: &[&str] = &["--prune-from-round", "9", "--max-rounds", "2"];
    // The kill comes right after the stopping round (3 on this fixture), and the resume goes
    // straight to the retrain.
    let past_peak = [PAST_PEAK_FIXTURE, &["--stop-past-peak"]].concat();
    for (name, strategy, space, extra, abort_after, log) in [
        ("autosample", "autosample", &tiny, &[][..], "0", "events"),
        ("halving", "halving", &tiny, &[][..], "0", "rungs"),
        ("branch", "autosample", &tiny, branch, "1", "events"),
        ("srns", "autosample", &stateful, no_prune, "0", "events"),
        ("halving-srns", "halving", &stateful, &[][..], "0", "rungs"),
        (
            "branch-srns",
            "autosample",
            &srns_only,
            branch,
            "1",
            "events",
        ),
        (
            "past-peak",
            "autosample",
            &tiny,
            &past_peak[..],
            "3",
            "events",
        ),
    ] {
        let args = |out: &Path| quick_search_args(space, strategy, out, extra);
        let whole = scratch(&format!("{name}-whole"));
        let o = bin().args(args(&whole)).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let want = json(&o);
        if name == "past-peak" {
            assert_eq!(
                past_peak_rounds(&want),
                [3],
                "the kill comes after the stopping round"
            );
        }

        let cut = scratch(&format!("{name}-cut"));
        let o = bin()
            .args(args(&cut))
            .env("AUTOSAMPLE_TEST_ABORT_AFTER_ROUND", abort_after)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{name}: the hook kills the search");
        assert!(!cut.join("outcome.json").exists());
        if name == "halving-srns" {
            // The rung's SRNS copies hand their memories on to the next rung.
            let ck: serde_json::Value =
                serde_json::from_slice(&std::fs::read(cut.join("halving.json")).unwrap()).unwrap();
            let files = ck["sampler_files"].as_array().unwrap();
            let kept_srns = ck["survivors"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i.as_u64().unwrap() < 2)
                .count();
            assert_eq!(
                files.iter().filter(|f| f.is_string()).count(),
                kept_srns,
                "{ck}"
            );
            assert!(kept_srns > 0, "{ck}");
        }
        if name == "branch-srns" {
            // The leader's branch hands its SRNS memory on to the retrain that continues it.
            let states =
                autosample_samplers::read_sampler_states(&cut.join("autosample-samplers-n2.state"))
                    .unwrap();
            assert!(
                states.iter().any(|(key, _)| key == "@leader-branch"),
                "{:?}",
                states.iter().map(|(k, _)| k).collect::<Vec<_>>()
            );
        }
        // What the killed process had spent, by the checkpoint (halving's is JSON).
        let earlier = std::fs::read(cut.join("halving.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|ck| ck["seconds"].as_f64())
            .unwrap_or(0.0);
        let o = run(&[
            "search",
            "--resume",
            cut.to_str().unwrap(),
            "--quiet",
            "--json",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let got = json(&o);
        // The search's seconds count the killed process too, not only the one that resumed.
        let (total, process) = (
            got["search_seconds"].as_f64().unwrap(),
            got["process_seconds"].as_f64().unwrap(),
        );
        assert!(
            total >= process && total >= earlier,
            "{name}: {total} {process} {earlier}"
        );
        assert_eq!(got["chosen"], want["chosen"], "{name}");
        assert_eq!(got["test"], want["test"], "{name}");
        assert_eq!(got["details"][log], want["details"][log], "{name}");
        assert_eq!(got["total_epochs"], want["total_epochs"], "{name}");
        if name == "past-peak" {
            let o = run(&["inspect", cut.to_str().unwrap()]);
            assert!(o.status.success(), "{}", stderr(&o));
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("past the peak, rounds stop"), "{text}");
        }
    }
}

/// `--stop-past-peak` is on by default for the evidence rule; `--stop-past-peak false` runs
/// every round.
#[test]
fn the_evidence_rule_stops_past_the_peak_unless_told_not_to() {
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/tiny.json");
    let search = |name: &str, extra: &[&str]| {
        let out = scratch(name);
        let extra = [PAST_PEAK_FIXTURE, extra].concat();
        let o = bin()
            .args(quick_search_args(&tiny, "autosample", &out, &extra))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v = json(&o);
        (
            past_peak_rounds(&v),
            v["details"]["settings"]["selector"]["stop_past_peak"].clone(),
        )
    };
    assert_eq!(
        search("peak-default", &[]),
        (vec![3], serde_json::json!(true))
    );
    assert_eq!(
        search("peak-off", &["--stop-past-peak", "false"]),
        (vec![], serde_json::json!(false))
    );
}

/// `--hold-warmup` reaches the evidence rule (on by default; `--hold-warmup false` turns it
/// off): a candidate still in its warm-up is marked held in the log, the setting is recorded,
/// and `inspect` says until when.
#[test]
fn hold_warmup_marks_candidates_in_their_warmup() {
    let space = scratch("hold-space").join("space.json");
    std::fs::create_dir_all(space.parent().unwrap()).unwrap();
    std::fs::write(
        &space,
        r#"{"version": 1, "samplers": {"_type": "choice", "_value": [
            {"_name": "dns", "candidates": 8},
            {"_name": "srns", "s1": 2, "warmup": 20, "varset": 16}]}}"#,
    )
    .unwrap();
    // A warm-up of 20 epochs ends within the rounds' horizon (1 + 5·5 supernet epochs and a
    // last branch cut to the 4-epoch training), so it holds the candidate.
    let search = |name: &str, extra: &[&str]| {
        let out = scratch(name);
        let o = bin()
            .args(quick_search_args(&space, "autosample", &out, extra))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v = json(&o);
        let held: Vec<serde_json::Value> = v["details"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "round")
            .flat_map(|e| e["evidence"].as_array().unwrap().clone())
            .filter_map(|x| x.get("held_until").cloned())
            .collect();
        let setting = v["details"]["settings"]["selector"]["hold_in_warmup"].clone();
        (out, held, setting)
    };
    let (_, held, setting) = search("hold-off", &["--hold-warmup", "false"]);
    assert!(held.is_empty());
    assert_eq!(setting, serde_json::json!(false));
    let (out, held, setting) = search("hold-default", &[]);
    assert!(
        !held.is_empty() && held.iter().all(|h| h == 20.0),
        "{held:?}"
    );
    assert_eq!(setting, serde_json::json!(true));
    let o = run(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("(held: its warm-up ends at epoch 20)"),
        "{text}"
    );
}

/// Flags under which, on `synthetic:tiny` with `search-spaces/tiny.json`, the evidence rule's
/// leader scores lower in round 3 than in round 2: the rounds stop there past the peak.
/// Trainings of 16 epochs, so that branches of up to 16 epochs (rounds 0-3) are not cut to
/// one training's length.
const PAST_PEAK_FIXTURE: &[&str] = &[
    "--retrain",
    "branch",
    "--max-rounds",
    "5",
    "--prune-from-round",
    "9",
    "--epochs",
    "16",
];

/// The arguments of a quick `search` of `synthetic:tiny` (autosample: 1 warm-up epoch;
/// halving: first rungs of 1 epoch; 4-epoch trainings, unless `extra` gives `--epochs`,
/// evaluated every 2), its outcome printed as JSON, then `extra`. Each strategy gets only the
/// flags it reads: the others are refused.
fn quick_search_args(space: &Path, strategy: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let own: &[&str] = match strategy {
        "autosample" => &["--warmup-epochs", "1"],
        "halving" => &["--first-epochs", "1"],
        _ => &[],
    };
    let epochs: &[&str] = if extra.contains(&"--epochs") {
        &[]
    } else {
        &["--epochs", "4"]
    };
    [
        "search",
        "--data",
        "synthetic:tiny",
        "--space",
        space.to_str().unwrap(),
        "--strategy",
        strategy,
        "--eval-every",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--json",
    ]
    .iter()
    .chain(epochs)
    .chain(own)
    .chain(extra)
    .map(|s| s.to_string())
    .collect()
}

/// Flags a command would not read are refused with exit 2, naming the flag and where it
/// applies, before anything is written; so are `--expand` where it can add nothing and a
/// `--dim` whose tables cannot fit in memory.
#[test]
fn flags_a_command_would_not_read_are_refused() {
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/tiny.json");
    let out = scratch("unread-flags");
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "exhaustive",
            &["--max-rounds", "3"],
            "--max-rounds applies only to --strategy autosample, and this search is `exhaustive`",
        ),
        (
            "autosample",
            &["--first-epochs", "2"],
            "--first-epochs applies only to --strategy halving",
        ),
        (
            "halving",
            &["--warmup-epochs", "2"],
            "--warmup-epochs applies only to --strategy autosample and to halving with \
             --halving-start warmup",
        ),
        (
            "autosample",
            &["--selector", "alignment-bpr", "--prune-level", "0.1"],
            "--prune-level applies only to --selector evidence, and this search's selector is \
             `alignment-bpr`",
        ),
        (
            "autosample",
            &["--max-candidates", "4"],
            "--max-candidates applies only with --expand",
        ),
        ("autosample", &["--expand"], "no candidate of"),
        (
            "exhaustive",
            &["--dim", "4000000000"],
            "GiB of memory: lower --dim",
        ),
    ];
    for (strategy, extra, want) in cases {
        let o = bin()
            .args(quick_search_args(&tiny, strategy, &out, extra))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{extra:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("  "), "{extra:?}: {}", stderr(&o));
        assert!(!out.exists(), "{extra:?}: nothing is written");
    }
    // --halving-start warmup reads --warmup-epochs.
    let o = bin()
        .args(quick_search_args(
            &tiny,
            "halving",
            &out,
            &["--halving-start", "warmup", "--warmup-epochs", "1"],
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    // --resume reads its settings from the run: a flag beside it would not be read.
    for (command, recorded) in [("search", "search.json"), ("train", "config.json")] {
        let o = run(&[
            command,
            "--resume",
            out.to_str().unwrap(),
            "--lr",
            "0.1",
            "--epochs",
            "3",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("would not read --lr, --epochs: drop them") && e.contains(recorded),
            "{e}"
        );
    }
    let o = run(&[
        "search",
        "--resume",
        out.to_str().unwrap(),
        "--quiet",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has finished already"),
        "{}",
        stderr(&o)
    );
}

/// The rounds at which a search's outcome says its rounds stopped past the peak.
fn past_peak_rounds(outcome: &serde_json::Value) -> Vec<u64> {
    outcome["details"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "past_peak")
        .filter_map(|e| e["round"].as_u64())
        .collect()
}

/// `--retrain warm-keep` reaches the search and its record.
#[test]
fn the_warm_keep_retrain_is_an_option() {
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/tiny.json");
    let out = scratch("warm-keep");
    let o = bin()
        .args(quick_search_args(
            &tiny,
            "autosample",
            &out,
            &["--retrain", "warm-keep", "--max-rounds", "1"],
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["details"]["settings"]["retrain"], "warm_keep");
    let o = run(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("retrain (\"warm_keep\")"));
}
