//! The embedded engine end to end: `rseq-fuzz fuzz` starts libFuzzer workers
//! from the ordinary binary, they execute the targets guided by the
//! decision-coverage map, and the summary reports what they did. With the
//! `canary` feature, the broken model must be found and saved as a finding.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rseq-fuzz-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(dir: &Path, target: &str, secs: u64, jobs: usize) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_rseq-fuzz"))
        .args(["fuzz", "--json", "--target", target])
        .args(["--time", &secs.to_string(), "--jobs", &jobs.to_string()])
        // The committed seed corpus (read, never written).
        .arg("--corpus")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))
        .arg("--work")
        .arg(dir.join("work"))
        .arg("--findings")
        .arg(dir.join("findings"))
        .output()
        .expect("run rseq-fuzz fuzz");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "summary is not JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

#[test]
#[cfg_attr(feature = "canary", ignore = "the canary makes every run a finding")]
fn every_target_runs_and_reports_well_formed_findings() {
    let dir = scratch("all");
    let (code, json) = run(&dir, "all", 2, 4);
    let targets = json["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), rseq_fuzz::targets::TARGETS.len());
    for t in targets {
        assert!(t["executions"].as_u64().unwrap_or(0) > 0, "{t}");
        // Whether two seconds of fuzzing find something is the CI smoke
        // runs' question (they fail on any finding); here every finding must
        // be a well-formed oracle failure with a command that explains it.
        for f in t["findings"].as_array().expect("findings") {
            let msg = f["message"].as_str().unwrap_or("");
            assert!(msg.starts_with("oracle "), "{f}");
            assert!(
                f["explain"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("rseq-fuzz explain "),
                "{f}"
            );
        }
        assert!(
            t["corpus_after"].as_u64() >= t["corpus_before"].as_u64(),
            "{t}"
        );
    }
    let found = targets
        .iter()
        .any(|t| !t["findings"].as_array().is_none_or(|f| f.is_empty()));
    assert_eq!(code, if found { 1 } else { 0 });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_target_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_rseq-fuzz"))
        .args(["fuzz", "--target", "no_such_target", "--time", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
#[cfg_attr(not(feature = "canary"), ignore = "needs --features canary")]
fn canary_is_found_and_saved() {
    let dir = scratch("canary");
    let (code, json) = run(&dir, "cs_analysis", 60, 1);
    assert_eq!(code, 1, "{json}");
    let findings = json["targets"][0]["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    let f = &findings[0];
    assert!(
        f["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("oracle security failed:"),
        "{f}"
    );
    let file = PathBuf::from(f["file"].as_str().unwrap_or(""));
    assert!(file.is_file(), "{}", file.display());
    assert!(file.starts_with(dir.join("findings").join("cs_analysis")));
    let _ = std::fs::remove_dir_all(&dir);
}
