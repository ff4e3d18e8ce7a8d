//! Replay: every file of corpus/<target>/ runs through its target and every
//! oracle holds (no panic), on stable, in `cargo test`. corpus/ holds only
//! target directories and the generated dictionary.

use rseq_fuzz::targets::TARGETS;
use std::path::Path;

#[test]
#[cfg_attr(
    feature = "canary",
    ignore = "the canary model is meant to fail oracles"
)]
fn every_corpus_file_replays_without_an_oracle_failure() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut failures = Vec::new();
    let mut replayed = 0usize;
    for t in TARGETS {
        let dir = root.join(t.name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files.into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&f).expect("read corpus file");
            let run = t.run;
            if let Err(e) = std::panic::catch_unwind(move || run(&data)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: {msg}", f.display()));
            }
            replayed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_holds_only_targets_and_the_dictionary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for e in std::fs::read_dir(&root).expect("corpus/") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if p.is_dir() {
            assert!(
                TARGETS.iter().any(|t| t.name == name),
                "corpus/{name} is no target"
            );
        } else {
            assert!(
                name.ends_with(".dict"),
                "corpus/{name}: only dictionaries beside the target dirs"
            );
        }
    }
}
