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

/// corpus/ is what `rseq-fuzz seed` writes, file for file. A seed is a
/// scenario encoded in its target's binary form, and some forms name a run
/// by its index among the architecture's runs: a new configuration shifts
/// them, and a committed file would then silently test another run than
/// the one its name promises. Run `rseq-fuzz seed` after such a change.
#[test]
fn committed_corpus_is_what_rseq_fuzz_seed_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for t in TARGETS {
        let seeds = rseq_fuzz::seeds::for_target(t.name);
        let mut committed: Vec<String> = std::fs::read_dir(root.join(t.name))
            .expect("corpus dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        committed.sort();
        let mut names: Vec<String> = seeds.iter().map(|(n, _)| n.to_string()).collect();
        names.sort();
        assert_eq!(committed, names, "corpus/{}: files vs seeds", t.name);
        for (name, bytes) in &seeds {
            let file = std::fs::read(root.join(t.name).join(name)).expect("seed file");
            assert!(
                file == *bytes,
                "corpus/{}/{name} differs from its seed: run `rseq-fuzz seed`",
                t.name
            );
        }
    }
}
