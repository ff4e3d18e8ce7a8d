//! Minimizing the committed corpus keeps every version's decision coverage
//! exactly (issue 6), merging engine outputs drops duplicates, and coverage
//! counts each run's decision transitions in the order it took them.

use rseq_fuzz::corpus::{coverage_of, features_of, input_files, minimize_set, Features, RUN_START};
use rseq_fuzz::targets::TARGETS;
use std::path::PathBuf;

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

#[test]
fn minimizing_the_committed_corpus_preserves_decision_coverage_exactly() {
    for t in TARGETS {
        let files = input_files(&corpus(t.name)).expect("corpus dir");
        assert!(!files.is_empty(), "{} has no seeds", t.name);
        let items: Vec<(PathBuf, u64, Features)> = files
            .iter()
            .map(|f| {
                let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
                (
                    f.clone(),
                    size,
                    features_of(f, Some(t.name)).expect("features"),
                )
            })
            .collect();
        let before: Features = items.iter().flat_map(|i| i.2.iter().copied()).collect();
        let keep = minimize_set(&items);
        let after: Features = keep
            .iter()
            .flat_map(|&i| items[i].2.iter().copied())
            .collect();
        assert_eq!(before, after, "{}: minimization lost coverage", t.name);
        assert!(keep.len() <= items.len());
        // Every kept input adds something the others do not.
        for &k in &keep {
            let others: Features = keep
                .iter()
                .filter(|&&j| j != k)
                .flat_map(|&j| items[j].2.iter().copied())
                .collect();
            assert!(
                items[k].2.iter().any(|f| !others.contains(f)) || keep.len() == 1,
                "{}: {} is redundant",
                t.name,
                items[k].0.display()
            );
        }
    }
}

#[test]
fn the_cli_minimizes_and_merges_without_losing_or_duplicating() {
    let bin = env!("CARGO_BIN_EXE_rseq-fuzz");
    let tmp = std::env::temp_dir().join(format!("rseq-fuzz-cmin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let out = tmp.join("min").join("differential");
    let st = std::process::Command::new(bin)
        .args(["corpus", "minimize", "--json"])
        .arg(corpus("differential"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).expect("json");
    assert_eq!(
        v["before"]["decision_points"],
        v["after"]["decision_points"]
    );
    assert!(v["after"]["files"].as_u64() <= v["before"]["files"].as_u64());
    // Merging the minimized set and the full corpus twice adds each input once.
    let merged = tmp.join("merged");
    for _ in 0..2 {
        let st = std::process::Command::new(bin)
            .args(["corpus", "merge", "--into"])
            .arg(&merged)
            .arg(&out)
            .arg(corpus("differential"))
            .output()
            .expect("run");
        assert_eq!(st.status.code(), Some(0));
    }
    let n = input_files(&merged).expect("merged").len();
    assert_eq!(
        n,
        input_files(&corpus("differential")).expect("corpus").len()
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `coverage_of` counts the decision transitions of every run in the order
/// the run took them: in area_cow_then_abort the v6.18 models find the
/// descriptor valid, then the event mask set, then abort (its trace in
/// `rseq-fuzz explain`), and never in the other order. Every point reached
/// is the end of some transition, and each version's runs start somewhere.
#[test]
fn coverage_counts_each_runs_decision_transitions_in_order() {
    let seed = corpus("differential").join("area_cow_then_abort");
    let (points, transitions) = coverage_of(&seed, Some("differential")).expect("coverage");
    let has = |from: &str, to: &str| transitions.contains(&("v6.18", from, to));
    assert!(has(
        "rseq_get_rseq_cs/valid",
        "rseq_need_restart/event_mask_set"
    ));
    assert!(has(
        "rseq_need_restart/event_mask_set",
        "rseq_ip_fixup/abort"
    ));
    assert!(!has(
        "rseq_ip_fixup/abort",
        "rseq_need_restart/event_mask_set"
    ));
    assert!(!has(
        "rseq_need_restart/event_mask_set",
        "rseq_get_rseq_cs/valid"
    ));
    for &(v, d) in &points {
        assert!(
            transitions.iter().any(|t| t.0 == v && t.2 == d),
            "{v} {d} is reached but ends no transition"
        );
        assert!(
            transitions.iter().any(|t| t.0 == v && t.1 == RUN_START),
            "{v}: no run's first decision"
        );
    }
    for &(v, from, to) in &transitions {
        assert!(points.contains(&(v, to)));
        assert!(from == RUN_START || points.contains(&(v, from)));
    }
    // The CLI reports the same count, per version and in all.
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_rseq-fuzz"))
        .args(["coverage", "--json", "--target", "differential"])
        .arg(corpus("differential"))
        .output()
        .expect("run");
    assert_eq!(st.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).expect("json");
    let per_version: u64 = v["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|x| x["transitions"].as_u64().expect("count"))
        .sum();
    assert_eq!(Some(per_version), v["transitions"].as_u64());
    assert!(per_version >= transitions.len() as u64);
}
