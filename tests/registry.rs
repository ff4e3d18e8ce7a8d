//! The known-divergence registry is first-match: a candidate finding is
//! explained by the first entry whose predicate holds, and that entry's
//! justification is the reason triage shows. An entry that is never the
//! first match for anything is dead weight at best, and at worst its
//! predicate is broader than its justification and hides behind another
//! entry until it explains the wrong thing. These tests hold every entry to
//! a witness: a committed input for which it is the first match.
//!
//! Most entries have their witnesses among the seeds (corpus/), the
//! regression scenarios (tests/scenarios/) and the documented examples
//! (docs/examples/). An entry none of those reach has a witness of its own
//! in tests/registry_witnesses/, named after the entry.

use rseq_fuzz::divergences::{RegistryUse, REGISTRY};
use rseq_fuzz::oracles::{self, Options};
use rseq_fuzz::scenario::Scenario;
use rseq_fuzz::targets::TARGETS;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The files of a directory, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn json_scenario(path: &Path) -> Scenario {
    let text = std::fs::read_to_string(path).expect("read scenario");
    Scenario::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every oracle, with explained divergences kept apart (not strict) and the
/// later matching entries listed.
fn explained(s: &Scenario) -> Vec<oracles::Finding> {
    oracles::check(s, &Options::default())
        .expect("check")
        .explained
}

#[test]
#[cfg_attr(
    feature = "canary",
    ignore = "the canary model changes what the registry is asked to explain"
)]
fn every_registry_entry_is_the_first_match_for_a_committed_input() {
    let mut usage = RegistryUse::default();
    for t in TARGETS {
        for f in files(&root().join("corpus").join(t.name)) {
            let data = std::fs::read(&f).expect("read corpus file");
            usage.add(&explained(&(t.decode)(&data)));
        }
    }
    for dir in [
        "tests/scenarios",
        "docs/examples",
        "tests/registry_witnesses",
    ] {
        for f in files(&root().join(dir)) {
            if f.extension().is_some_and(|e| e == "json") {
                usage.add(&explained(&json_scenario(&f)));
            }
        }
    }
    // The seeds alone are several hundred; fewer means a directory moved.
    assert!(
        usage.inputs > 500,
        "only {} committed inputs found",
        usage.inputs
    );
    assert!(
        usage.never_first().is_empty(),
        "registry entries that explain no committed input as the first match \
         (add a witness to tests/registry_witnesses/, or narrow the entry that \
         shadows it; `rseq-fuzz registry corpus/* tests/scenarios` shows the \
         overlaps):\n  {}",
        usage.never_first().join("\n  ")
    );
    // Overlaps are listed and counted consistently.
    let behind: usize = usage.entries.iter().map(|e| e.also).sum();
    let listed: usize = usage.overlaps.iter().map(|o| o.2).sum();
    assert_eq!(behind, listed);
    assert!(usage.overlapping <= usage.explained && usage.overlapping <= behind);
}

#[test]
fn registry_use_counts_first_and_later_matches() {
    let finding = |first: &'static str, also: Vec<&'static str>| oracles::Finding {
        oracle: "differential",
        runs: Vec::new(),
        step: 0,
        message: String::new(),
        first_divergence: None,
        explained_by: Some(first),
        also_matches: also,
    };
    let (a, b, c) = (REGISTRY[0].id, REGISTRY[1].id, REGISTRY[2].id);
    let mut usage = RegistryUse::default();
    usage.add(&[finding(a, vec![b, c]), finding(a, vec![c])]);
    usage.add(&[finding(b, Vec::new())]);
    usage.finish();
    assert_eq!(
        (usage.inputs, usage.explained, usage.overlapping),
        (2, 3, 2)
    );
    let count = |id: &str| {
        let e = usage.entries.iter().find(|e| e.id == id).expect("entry");
        (e.first, e.also)
    };
    assert_eq!(count(a), (2, 0));
    assert_eq!(count(b), (1, 1));
    assert_eq!(count(c), (0, 2));
    assert_eq!(usage.overlaps[0], (a, c, 2), "most frequent first");
    assert!(usage.never_first().contains(&c) && !usage.never_first().contains(&a));
}

#[test]
#[cfg_attr(
    feature = "canary",
    ignore = "the canary model changes what the registry is asked to explain"
)]
fn each_witness_is_explained_by_the_entry_it_is_named_after() {
    let dir = root().join("tests/registry_witnesses");
    let mut witnesses = 0;
    for f in files(&dir) {
        if f.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let id = f.file_stem().and_then(|s| s.to_str()).expect("file name");
        assert!(
            REGISTRY.iter().any(|d| d.id == id),
            "{}: no registry entry {id}",
            f.display()
        );
        let s = json_scenario(&f);
        let report = oracles::check(&s, &Options::default()).expect("check");
        assert!(
            report.findings.is_empty(),
            "{id}: the witness has findings: {:#?}",
            report.findings
        );
        assert!(
            report.explained.iter().any(|x| x.explained_by == Some(id)),
            "{id}: its witness is explained only by {:?}",
            report
                .explained
                .iter()
                .filter_map(|x| x.explained_by)
                .collect::<Vec<_>>()
        );
        witnesses += 1;
    }
    assert!(witnesses > 0, "no witnesses in {}", dir.display());
}

#[test]
fn registry_ids_are_unique() {
    let mut ids: Vec<&str> = REGISTRY.iter().map(|d| d.id).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "a registry id is used twice");
}

#[test]
#[cfg_attr(
    feature = "canary",
    ignore = "the canary model changes what the registry is asked to explain"
)]
fn registry_command_counts_the_witnesses_and_rejects_bad_paths() {
    use std::process::Command;
    let bin = env!("CARGO_BIN_EXE_rseq-fuzz");
    let out = Command::new(bin)
        .arg("registry")
        .arg(root().join("tests/registry_witnesses"))
        .output()
        .expect("run rseq-fuzz registry");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("4 inputs,"), "{text}");
    // Each witness's entry is counted as a first match.
    for f in files(&root().join("tests/registry_witnesses")) {
        if f.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let id = f.file_stem().and_then(|s| s.to_str()).expect("name");
        let line = text
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{text}"));
        let first: usize = line
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("count");
        assert!(first > 0, "{line}");
    }
    let bad = Command::new(bin)
        .args(["registry", "/nonexistent/rseq-fuzz-input"])
        .output()
        .expect("run rseq-fuzz registry");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot read"));
}
