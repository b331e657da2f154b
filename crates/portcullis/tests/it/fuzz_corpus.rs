//! Every fuzz target's seed corpus (`fuzz/corpus/<target>/`) and every crash the fuzzer
//! found (`fuzz/regressions/<target>/`) replayed through the same entry points the fuzz
//! targets call (`portcullis::fuzzing`), in the normal test run on stable: none may panic.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// `(target, file)` for every file under `dir/<target>/`; a folder naming no target fails.
fn inputs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let target = entry.file_name().to_string_lossy().into_owned();
        assert!(
            portcullis::fuzzing::target(&target).is_some(),
            "{}: no fuzz target named '{target}'",
            entry.path().display()
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(entry.path())
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (target.clone(), f)));
    }
    out
}

fn replay(target: &str, file: &Path) -> Result<(), String> {
    let data = std::fs::read(file).unwrap();
    let run = portcullis::fuzzing::target(target).unwrap();
    std::panic::catch_unwind(|| run(&data))
        .map_err(|_| format!("{target}: {} panics", file.display()))
}

#[test]
fn every_target_has_a_seed_corpus() {
    let corpus = inputs(&fuzz_dir().join("corpus"));
    for (name, _) in portcullis::fuzzing::TARGETS {
        assert!(
            corpus.iter().any(|(t, _)| t == name),
            "fuzz/corpus/{name}/ has no seed"
        );
        // The cargo-fuzz target of the same name exists, and calls the same entry point.
        let src = std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs")))
            .unwrap_or_else(|_| panic!("fuzz/fuzz_targets/{name}.rs is missing"));
        assert!(src.contains(&format!("portcullis::fuzzing::{name}(data)")));
    }
}

#[test]
fn corpus_and_regressions_replay_without_panic() {
    let mut files = inputs(&fuzz_dir().join("corpus"));
    files.extend(inputs(&fuzz_dir().join("regressions")));
    assert!(files.len() >= portcullis::fuzzing::TARGETS.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|(t, f)| replay(t, f).err())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_fixture_realm_builds() {
    // Every request-shaped target runs against it: without it they would test nothing.
    let snap = portcullis::fuzzing::fixture_realm().expect("the fuzz fixture realm imports");
    assert!(snap.index.client(&snap.rep, "app").is_some());
    assert!(!snap.keys.is_empty() && !snap.hmac_keys.is_empty());
}
