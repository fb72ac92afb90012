//! Search-space files: the shipped ones parse to the intended candidates; every kind's initial
//! points and neighbours follow search-spaces/README.md; errors name the key and the fix.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use autosample_samplers::SamplerConfig;
use autosample_search::{MAX_INITIAL_CANDIDATES, SearchSpace};

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../search-spaces")
        .join(name)
}

fn specs(space: &SearchSpace) -> Vec<String> {
    space
        .initial_candidates()
        .iter()
        .map(SamplerConfig::spec)
        .collect()
}

fn parse(text: &str) -> Result<SearchSpace, String> {
    SearchSpace::parse(text, "t.json").map_err(|e| e.to_string())
}

fn space_of(samplers: &str) -> String {
    format!(r#"{{"version": 1, "samplers": {{"_type": "choice", "_value": [{samplers}]}}}}"#)
}

#[test]
fn every_shipped_space_parses() {
    let dir = shipped("");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let space = SearchSpace::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!space.initial_candidates().is_empty());
            n += 1;
        }
    }
    assert!(n >= 4, "tiny, default, mf, ngcf");
}

#[test]
fn the_default_space_is_the_sweep_of_the_sampler_benchmark() {
    // The same candidates as benchmarks/samplers/run_sweep.sh (LightGCN), so that the sweep is
    // the exhaustive ground truth of the selector benchmark.
    let space = SearchSpace::load(&shipped("default.json")).unwrap();
    let want: Vec<String> = [
        "uniform",
        "popularity:beta=0.75",
        "dns:candidates=8",
        "dns:candidates=32",
        "dns_mn:candidates=32,top=4",
        "cns:candidates=32",
        "ahns:candidates=32",
        "srns",
        "mixgcf:candidates=32",
        "dens",
    ]
    .iter()
    .map(|s| s.parse::<SamplerConfig>().unwrap().spec())
    .collect();
    assert_eq!(specs(&space), want);
    let mf = SearchSpace::load(&shipped("mf.json")).unwrap();
    assert_eq!(specs(&mf).len(), want.len() - 1);
    assert!(!specs(&mf).iter().any(|s| s.starts_with("mixgcf")));
    let ngcf = SearchSpace::load(&shipped("ngcf.json")).unwrap();
    assert!(specs(&ngcf).iter().any(|s| s.contains("pool=concat")));
    let tiny = SearchSpace::load(&shipped("tiny.json")).unwrap();
    assert_eq!(tiny.initial_candidates().len(), 3);
}

#[test]
fn each_kind_starts_where_the_readme_says() {
    let space = parse(&space_of(
        r#"
        {"_name": "rns"},
        {"_name": "dns", "candidates": {"_type": "randint", "_value": [4, 10]}},
        {"_name": "popularity", "beta": {"_type": "uniform", "_value": [0.25, 0.5]}},
        {"_name": "ahns", "candidates": {"_type": "qloguniform", "_value": [4, 64, 4]},
                          "beta": {"_type": "loguniform", "_value": [0.01, 1]}},
        {"_name": "cns", "candidates": {"_type": "quniform", "_value": [10, 40, 5]}},
        {"_name": "dns_mn", "candidates": 16, "top": {"_type": "choice", "_value": [1, 4, 16]}}"#,
    ))
    .unwrap();
    assert_eq!(
        specs(&space),
        [
            "uniform",
            // randint [4, 10): default 32 outside → ⌊(4 + 10 − 1)/2⌋ = 6.
            "dns:candidates=6",
            // uniform: default 0.75 outside → centre 0.375.
            "popularity:beta=0.375,smoothing=0",
            // qloguniform: default 32 inside; loguniform: default 0.1 inside.
            "ahns:candidates=32,alpha=1,beta=0.1,p=-2",
            // quniform: default 32 inside → round(32/5)·5 = 30.
            "cns:candidates=30",
            "dns_mn:candidates=16,top=1",
            "dns_mn:candidates=16,top=4",
            "dns_mn:candidates=16,top=16",
        ]
    );
    let of = |spec: &str| -> Vec<String> {
        space
            .neighbours(&spec.parse().unwrap())
            .iter()
            .map(SamplerConfig::spec)
            .collect()
    };
    assert_eq!(
        of("dns:candidates=6"),
        ["dns:candidates=5", "dns:candidates=7"]
    );
    assert_eq!(
        of("dns:candidates=9"),
        ["dns:candidates=8"],
        "randint's high is exclusive"
    );
    assert_eq!(
        of("dns_mn:candidates=16,top=4"),
        ["dns_mn:candidates=16,top=1", "dns_mn:candidates=16,top=16"]
    );
    assert_eq!(
        of("ahns:candidates=32,alpha=1,beta=0.1,p=-2"),
        [
            "ahns:candidates=32,alpha=1,beta=0.2,p=-2",
            "ahns:candidates=32,alpha=1,beta=0.05,p=-2",
            "ahns:candidates=64,alpha=1,beta=0.1,p=-2",
            "ahns:candidates=16,alpha=1,beta=0.1,p=-2",
        ]
    );
    assert_eq!(
        of("cns:candidates=40"),
        ["cns:candidates=35"],
        "clipped at high"
    );
    assert_eq!(
        of("popularity:beta=0.375,smoothing=0"),
        [
            "popularity:beta=0.4375,smoothing=0",
            "popularity:beta=0.3125,smoothing=0"
        ]
    );
    assert!(of("uniform").is_empty());
    assert!(of("srns").is_empty(), "not in the space");
}

#[test]
fn errors_name_the_key_and_the_fix() {
    let cases: [(&str, &str); 13] = [
        ("{", "t.json: line 1, column 1: not valid JSON"),
        (r#"{"samplers": 1}"#, "version: missing; add \"version\": 1"),
        (
            r#"{"version": 2, "samplers": 1}"#,
            "this build reads version 1",
        ),
        (
            r#"{"version": 1, "sampler": {}}"#,
            "sampler: unknown key; a search space has `version`, `samplers`",
        ),
        (
            &space_of(r#"{"_name": "bogus"}"#),
            "samplers._value[0]._name: unknown sampler `bogus`; known: uniform",
        ),
        (
            &space_of(r#"{"_name": "dns", "candidate": 3}"#),
            "samplers._value[0].candidate: `dns` has no `candidate`; its keys: candidates",
        ),
        (
            &space_of(r#"{"_name": "dns", "candidates": 0}"#),
            "samplers._value[0]: candidate `dns:candidates=0`: `candidates` must be between 1",
        ),
        (
            &space_of(r#"{"_name": "dns", "candidates": {"_type": "normal", "_value": [1, 2]}}"#),
            "samplers._value[0].candidates._type: unknown kind `normal`; use choice, randint",
        ),
        (
            &space_of(r#"{"_name": "dns", "candidates": {"_type": "uniform", "_value": [9, 3]}}"#),
            "samplers._value[0].candidates._value: low must be below high",
        ),
        (
            &space_of(r#"{"_name": "dns", "candidates": {"_type": "choice", "_value": [8, 8]}}"#),
            "samplers._value[0].candidates._value[1]: 8 is listed twice",
        ),
        (
            &space_of(
                r#"{"_name": "dns", "candidates": {"_type": "randint", "_value": [40, 1e19]}}"#,
            ),
            "samplers._value[0].candidates._value: `randint` bounds must lie within ±2^53",
        ),
        (
            &space_of(r#"{"_name": "uniform"}, {"_name": "rns"}"#),
            "samplers._value[1]: candidate `uniform` appears twice",
        ),
        (
            &space_of(r#"{"_name": "uniform", "beta": 1}"#),
            "`uniform` takes no hyperparameters",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).unwrap_err();
        assert!(err.contains(want), "{text}\n→ {err}\nwanted: {want}");
    }
    let too_many = space_of(&format!(
        r#"{{"_name": "dns", "candidates": {{"_type": "randint", "_value": [1, 2]}}}},
           {{"_name": "dns_mn", "candidates": 200, "top": {{"_type": "choice", "_value": [{}]}}}}"#,
        (1..=MAX_INITIAL_CANDIDATES)
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    ));
    let err = parse(&too_many).unwrap_err();
    assert!(err.contains("more than 64 candidates"), "{err}");
    let err = SearchSpace::load(&shipped("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.json: file: cannot read it"), "{err}");
}
