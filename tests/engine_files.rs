//! Every target in `rseq_fuzz::targets::TARGETS` has its thin entry file for
//! each engine (cargo-fuzz, AFL++, honggfuzz), each file calls that target
//! (after the hook that separates crashes by oracle) and nothing else, and no
//! engine has a file for a target that does not exist.

use rseq_fuzz::targets::TARGETS;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// (directory, file that is allowed without a target)
const ENGINES: [(&str, &[&str]); 3] = [
    (
        "fuzz/fuzz_targets",
        &[
            "bench_empty",
            "bench_cs_decode",
            "bench_cs_one_run",
            "bench_linked_noop",
            "live_kernel",
        ],
    ),
    ("fuzz-afl/src/bin", &[]),
    ("fuzz-hfuzz/src/bin", &[]),
];

#[test]
fn every_target_has_an_entry_per_engine() {
    for (dir, _) in ENGINES {
        for t in TARGETS {
            let text = read(&format!("{dir}/{}.rs", t.name));
            let call = format!("rseq_fuzz::targets::{}(data)", t.name);
            assert!(
                text.contains(&call),
                "{dir}/{}.rs does not call {call}",
                t.name
            );
            // Every engine's crashes must be told apart by oracle
            // (honggfuzz keeps one input per crash stack).
            assert!(
                text.contains("rseq_fuzz::targets::separate_crashes_by_oracle();"),
                "{dir}/{}.rs does not give each oracle's failures a crash identity",
                t.name
            );
            let code_lines = text
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
                .count();
            assert!(
                code_lines <= 8,
                "{dir}/{}.rs is not a thin entry file",
                t.name
            );
        }
    }
}

#[test]
fn no_engine_has_a_stray_entry() {
    for (dir, extra) in ENGINES {
        for entry in std::fs::read_dir(root().join(dir)).expect(dir) {
            let path = entry.expect("dir entry").path();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            assert!(
                TARGETS.iter().any(|t| t.name == stem) || extra.contains(&stem),
                "{dir}/{stem}.rs is no target of rseq_fuzz::targets::TARGETS"
            );
        }
    }
}

#[test]
fn cargo_fuzz_manifest_declares_every_target() {
    let manifest = read("fuzz/Cargo.toml");
    for t in TARGETS {
        let decl = format!("name = \"{0}\"\npath = \"fuzz_targets/{0}.rs\"", t.name);
        assert!(
            manifest.contains(&decl),
            "fuzz/Cargo.toml lacks [[bin]] {}",
            t.name
        );
    }
}

#[test]
fn engine_crates_keep_overflow_checks_and_the_canary() {
    for manifest in [
        "fuzz/Cargo.toml",
        "fuzz-afl/Cargo.toml",
        "fuzz-hfuzz/Cargo.toml",
    ] {
        let text = read(manifest);
        assert!(text.contains("overflow-checks = true"), "{manifest}");
        assert!(
            text.contains("canary = [\"rseq-fuzz/canary\"]"),
            "{manifest}"
        );
        assert!(text.contains("default-features = false"), "{manifest}");
    }
}

#[test]
fn live_kernel_target_is_thin_and_kept_out_of_oss_fuzz() {
    let text = read("fuzz/fuzz_targets/live_kernel.rs");
    assert!(text.contains("rseq_fuzz::live::live_kernel_target(data)"));
    let manifest = read("fuzz/Cargo.toml");
    assert!(manifest.contains("name = \"live_kernel\"\npath = \"fuzz_targets/live_kernel.rs\""));
    for script in ["oss-fuzz/build.sh", "oss-fuzz/check"] {
        assert!(
            read(script).contains("-e '^live_kernel$'"),
            "{script} does not leave live_kernel out of the OSS-Fuzz targets"
        );
    }
}
