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

use rseq_fuzz::divergences::REGISTRY;
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

/// Every oracle, with explained divergences kept apart (not strict).
fn explained_by(s: &Scenario) -> Vec<&'static str> {
    let opts = Options {
        describe_explained: false,
        ..Options::default()
    };
    let report = oracles::check(s, &opts).expect("check");
    report
        .explained
        .iter()
        .filter_map(|f| f.explained_by)
        .collect()
}

#[test]
#[cfg_attr(
    feature = "canary",
    ignore = "the canary model changes what the registry is asked to explain"
)]
fn every_registry_entry_is_the_first_match_for_a_committed_input() {
    let mut seen: Vec<&'static str> = Vec::new();
    let mut inputs = 0;
    for t in TARGETS {
        for f in files(&root().join("corpus").join(t.name)) {
            let data = std::fs::read(&f).expect("read corpus file");
            seen.extend(explained_by(&(t.decode)(&data)));
            inputs += 1;
        }
    }
    for dir in [
        "tests/scenarios",
        "docs/examples",
        "tests/registry_witnesses",
    ] {
        for f in files(&root().join(dir)) {
            if f.extension().is_some_and(|e| e == "json") {
                seen.extend(explained_by(&json_scenario(&f)));
                inputs += 1;
            }
        }
    }
    // The seeds alone are several hundred; fewer means a directory moved.
    assert!(inputs > 500, "only {inputs} committed inputs found");
    let never_first: Vec<&str> = REGISTRY
        .iter()
        .map(|d| d.id)
        .filter(|id| !seen.contains(id))
        .collect();
    assert!(
        never_first.is_empty(),
        "registry entries that explain no committed input as the first match \
         (add a witness to tests/registry_witnesses/, or narrow the entry that \
         shadows it):\n  {}",
        never_first.join("\n  ")
    );
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
