//! The scenario format as docs/scenario-format.md documents it:
//! * every example in docs/examples loads, runs with every oracle holding,
//!   and survives JSON and binary round trips;
//! * every Step kind appears in some example;
//! * the binary form is canonical: `decode(encode(decode(b))) == decode(b)`;
//! * every complete scenario (and every single step) shown in the document
//!   parses;
//! * every CLI command meets garbage with exit code 2, a message that names
//!   the problem, and no panic; any byte string in a non-.json file is a
//!   valid binary input.

use rseq_fuzz::abi::Arch;
use rseq_fuzz::oracles::{self, Options};
use rseq_fuzz::scenario::{
    rendezvous_pick, run_for_selector, run_name, runs_for_arch, selector_for_run, RunSelect,
    Scenario, Step, MAX_STEPS,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rseq-fuzz");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn examples() -> Vec<(PathBuf, Scenario)> {
    let dir = root().join("docs/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("docs/examples exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "too few examples: {files:?}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("example is UTF-8");
            let s = Scenario::from_json(&text)
                .unwrap_or_else(|e| panic!("{} does not load: {e}", p.display()));
            (p, s)
        })
        .collect()
}

/// A fixed-seed xorshift64 generator (the test's, never a model's).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let n = (self.next() % (max_len as u64 + 1)) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------
// (a) the examples

/// What the binary form cannot hold, as docs/scenario-format.md lists it.
fn documented_binary_limits_hold(s: &Scenario) -> bool {
    let runs_ok = match &s.run {
        RunSelect::Set(_) => true,
        RunSelect::Only(names) => !names.is_empty() && names.len() <= 3,
    };
    let steps_ok = s.steps.iter().all(|st| match st {
        Step::SwitchIn { cpu, mm_cid } => *cpu <= 255 && *mm_cid <= 255,
        Step::Store { bytes, .. } => bytes.len() <= 16,
        _ => true,
    });
    let init_ok = s.init.iter().all(|i| match i {
        rseq_fuzz::scenario::Init::Bytes { bytes, .. } => bytes.len() <= 16,
        _ => true,
    });
    runs_ok && steps_ok && init_ok && s.cpu <= 255 && s.mm_cid <= 255
}

#[test]
fn examples_run_with_every_oracle_holding_and_round_trip() {
    for (p, s) in examples() {
        let name = p.display();
        let report =
            oracles::check(&s, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!report.runs.is_empty(), "{name} selects no run");
        for r in &report.runs {
            assert!(
                !r.observations.is_empty(),
                "{name}: {} never returned to user mode",
                r.name()
            );
        }
        assert!(
            report.findings.is_empty(),
            "{name}: {:#?}",
            report
                .findings
                .iter()
                .map(|f| f.panic_message())
                .collect::<Vec<_>>()
        );
        // JSON -> Scenario -> JSON: the same scenario and the same text.
        let json = s.to_json();
        let back = Scenario::from_json(&json).expect("written JSON parses");
        assert_eq!(back, s, "{name}: JSON round trip");
        assert_eq!(back.to_json(), json, "{name}: JSON text is stable");
        // JSON -> binary -> Scenario, where the binary form holds it.
        assert_eq!(
            s.encodable(),
            documented_binary_limits_hold(&s),
            "{name}: encodable() disagrees with the documented limits"
        );
        if s.encodable() {
            assert_eq!(
                Scenario::decode(&s.encode()),
                s,
                "{name}: binary round trip"
            );
        }
    }
}

#[test]
fn examples_pass_through_the_cli_and_convert_both_ways() {
    let tmp = tmpdir("convert");
    let files: Vec<PathBuf> = examples().into_iter().map(|e| e.0).collect();
    let out = Command::new(BIN).arg("run").args(&files).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "rseq-fuzz run docs/examples/*.json: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("every oracle holds").count(), files.len());
    let mut refused = 0;
    for (p, s) in examples() {
        let bin = tmp.join(p.file_stem().unwrap()).with_extension("bin");
        let to_bin = cli(&[
            "convert",
            p.to_str().unwrap(),
            "--to",
            "bin",
            "--out",
            bin.to_str().unwrap(),
        ]);
        if !s.encodable() {
            assert_eq!(to_bin.0, Some(2), "{}: convert --to bin", p.display());
            assert!(to_bin.2.contains("cannot hold"), "{}", to_bin.2);
            refused += 1;
            continue;
        }
        assert_eq!(to_bin.0, Some(0), "{}: {}", p.display(), to_bin.2);
        let to_json = cli(&[
            "convert",
            bin.to_str().unwrap(),
            "--target",
            "differential",
            "--to",
            "json",
        ]);
        assert_eq!(to_json.0, Some(0), "{}", to_json.2);
        let back = Scenario::from_json(&to_json.1).expect("convert writes a scenario");
        assert_eq!(back, s, "{}: json -> bin -> json", p.display());
    }
    // The slice-extension example selects four runs, which the binary form
    // cannot hold (the document shows that refusal).
    assert!(refused >= 1, "no example shows convert --to bin refusing");
}

// ---------------------------------------------------------------------------
// (b) every Step kind in some example

/// Every Step kind, by its JSON tag. `kind_index` matches exhaustively, so a
/// new Step kind does not compile until it is listed here, and this test
/// then fails until an example uses it.
const KINDS: [&str; 32] = [
    "rseq",
    "getpid",
    "sigreturn",
    "fork",
    "execve",
    "membarrier",
    "prctl_slice",
    "slice_yield",
    "interrupt",
    "switch_out",
    "switch_in",
    "signal",
    "membarrier_ipi",
    "slice_timer",
    "need_resched",
    "exit_to_user",
    "set_rseq_cs",
    "write_desc",
    "store32",
    "store",
    "set_ip",
    "set_handler",
    "mmap",
    "munmap",
    "mprotect",
    "madvise_dontneed",
    "reclaim",
    "exception",
    "task_work",
    "kvm_run",
    "guest_entry",
    "slice_expires_in_kernel",
];

fn kind_index(s: &Step) -> usize {
    match s {
        Step::Rseq { .. } => 0,
        Step::Getpid => 1,
        Step::Sigreturn => 2,
        Step::Fork { .. } => 3,
        Step::Execve { .. } => 4,
        Step::Membarrier { .. } => 5,
        Step::PrctlSlice { .. } => 6,
        Step::SliceYield => 7,
        Step::Interrupt => 8,
        Step::SwitchOut => 9,
        Step::SwitchIn { .. } => 10,
        Step::Signal { .. } => 11,
        Step::MembarrierIpi => 12,
        Step::SliceTimer => 13,
        Step::NeedResched => 14,
        Step::ExitToUser => 15,
        Step::SetRseqCs { .. } => 16,
        Step::WriteDesc { .. } => 17,
        Step::Store32 { .. } => 18,
        Step::Store { .. } => 19,
        Step::SetIp { .. } => 20,
        Step::SetHandler { .. } => 21,
        Step::Mmap { .. } => 22,
        Step::Munmap { .. } => 23,
        Step::Mprotect { .. } => 24,
        Step::MadviseDontneed { .. } => 25,
        Step::Reclaim { .. } => 26,
        Step::Exception => 27,
        Step::TaskWork => 28,
        Step::KvmRun => 29,
        Step::GuestEntry => 30,
        Step::SliceExpiresInKernel => 31,
    }
}

#[test]
fn every_step_kind_appears_in_an_example() {
    let mut seen = [false; KINDS.len()];
    for (_, s) in examples() {
        for st in &s.steps {
            let k = kind_index(st);
            seen[k] = true;
            // The table's names are the JSON tags.
            let v = serde_json::to_value(st).unwrap();
            assert_eq!(v["step"], KINDS[k], "KINDS[{k}] is not the tag of {st:?}");
        }
    }
    let missing: Vec<_> = KINDS
        .iter()
        .zip(seen)
        .filter(|(_, s)| !s)
        .map(|(k, _)| *k)
        .collect();
    assert!(missing.is_empty(), "step kinds in no example: {missing:?}");
}

// ---------------------------------------------------------------------------
// (c) the binary form is canonical

#[test]
fn binary_form_is_canonical_for_random_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut with_steps = 0;
    let mut kinds = [false; KINDS.len()];
    for i in 0..3000 {
        // Mostly short inputs, some long enough to hit the step limit.
        let b = rng.bytes(if i % 10 == 0 { 600 } else { 160 });
        let s = Scenario::decode(&b);
        let e = s.encode();
        assert_eq!(
            Scenario::decode(&e),
            s,
            "decode(encode(decode(b))) for {b:02x?}"
        );
        assert_eq!(Scenario::decode(&e).encode(), e, "encode is canonical");
        assert!(s.encodable());
        assert!(s.steps.len() <= MAX_STEPS);
        // The JSON form holds every decoded scenario too.
        let back = Scenario::from_json(&s.to_json()).expect("decoded scenarios are valid JSON");
        assert_eq!(back, s, "JSON round trip of decode({b:02x?})");
        with_steps += usize::from(!s.steps.is_empty());
        for st in &s.steps {
            kinds[kind_index(st)] = true;
        }
    }
    assert!(
        with_steps > 1000,
        "random inputs rarely had steps: {with_steps}"
    );
    // Random bytes reach every step kind.
    assert!(kinds.iter().all(|&k| k), "kinds never decoded: {kinds:?}");
    // Decoding is total on the edges as well.
    for b in [&[][..], &[0xff; 4096][..], &[0; 4096][..]] {
        let s = Scenario::decode(b);
        assert_eq!(Scenario::decode(&s.encode()), s);
    }
}

// ---------------------------------------------------------------------------
// (d) the document's snippets

fn json_blocks(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in md.lines() {
        match (&mut cur, line.trim_start()) {
            (None, l) if l.starts_with("```json") => cur = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => out.extend(cur.take()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    assert!(cur.is_none(), "unterminated ```json block");
    out
}

#[test]
fn every_scenario_in_the_document_parses() {
    let md = std::fs::read_to_string(root().join("docs/scenario-format.md")).unwrap();
    let blocks = json_blocks(&md);
    let (mut scenarios, mut steps) = (0, 0);
    for b in &blocks {
        if b.contains("\"steps\"") {
            let s = Scenario::from_json(b).unwrap_or_else(|e| panic!("{e} in\n{b}"));
            s.runs().unwrap_or_else(|e| panic!("{e} in\n{b}"));
            scenarios += 1;
        } else if let Ok(v) = serde_json::from_str::<serde_json::Value>(b) {
            // A lone step ({"step": ...}) must be a valid step.
            if v.get("step").is_some() {
                serde_json::from_value::<Step>(v).unwrap_or_else(|e| panic!("{e} in\n{b}"));
                steps += 1;
            }
        }
    }
    assert!(scenarios >= 5, "only {scenarios} complete scenarios");
    // One snippet per step kind at least.
    assert!(steps >= KINDS.len(), "only {steps} step snippets");
}

// ---------------------------------------------------------------------------
// (e) garbage on the command line

fn tmpdir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("scenario_format")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// (exit code, stdout, stderr)
fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().expect("binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn expect_usage_error(args: &[&str], needle: &str) {
    let (code, _, err) = cli(args);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(code, Some(2), "{args:?}: exit code; stderr: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: stderr does not name the problem ({needle:?}): {err}"
    );
}

#[test]
fn garbage_input_gets_exit_code_2_and_a_message() {
    let d = tmpdir("garbage");
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let example =
        std::fs::read_to_string(root().join("docs/examples/01-preempted-in-cs-aborts.json"))
            .unwrap();
    let write = |n: &str, b: &[u8]| std::fs::write(d.join(n), b).unwrap();
    write("notjson.json", b"this is not JSON");
    write("truncated.json", &example.as_bytes()[..example.len() / 2]);
    write(
        "nonutf8.json",
        b"{\"arch\": \"x86_64\xff\xfe\", \"steps\": []}",
    );
    write(
        "unknown-step.json",
        br#"{"arch":"x86_64","steps":[{"step":"warp"}]}"#,
    );
    write(
        "unknown-field.json",
        br#"{"arch":"x86_64","steps":[],"colour":1}"#,
    );
    write("unknown-arch.json", br#"{"arch":"pdp11","steps":[]}"#);
    write(
        "extra-key.json",
        br#"{"arch":"x86_64","steps":[{"step":"getpid","cpu":1}]}"#,
    );
    write(
        "misspelt-delta.json",
        br#"{"arch":"x86_64","steps":[{"step":"set_ip","ip":{"anchor":"cs_start","delat":4}}]}"#,
    );
    write(
        "misspelt-layout.json",
        br#"{"arch":"x86_64","layout":{"aera":0},"steps":[]}"#,
    );
    write("negative.json", br#"{"arch":"x86_64","ip":-1,"steps":[]}"#);
    write(
        "unknown-run.json",
        br#"{"arch":"x86_64","run":["v9.9/x86_64"],"steps":[]}"#,
    );
    write(
        "bad-run.json",
        br#"{"arch":"x86_64","run":"some","steps":[]}"#,
    );
    write(
        "empty-run.json",
        br#"{"arch":"x86_64","run":[],"steps":[]}"#,
    );
    let many = format!(
        r#"{{"arch":"x86_64","steps":[{}]}}"#,
        vec![r#"{"step":"getpid"}"#; MAX_STEPS + 1].join(",")
    );
    write("too-many-steps.json", many.as_bytes());
    let mut big = example.clone().into_bytes();
    big.resize((1 << 20) + 1, b' ');
    write("big.json", &big);
    write("big.bin", &vec![7u8; (1 << 20) + 1]);
    std::fs::create_dir_all(d.join("a-directory.json")).unwrap();
    write("good.json", example.as_bytes());

    let files: [(&str, &str); 18] = [
        ("notjson.json", "malformed scenario JSON"),
        ("extra-key.json", "unknown field `cpu` in steps[0]"),
        ("misspelt-delta.json", "unknown field `delat`"),
        ("misspelt-layout.json", "unknown field `aera`"),
        ("negative.json", "invalid type: integer `-1`"),
        ("truncated.json", "EOF while parsing"),
        ("nonutf8.json", "not UTF-8"),
        ("unknown-step.json", "unknown variant `warp`"),
        ("unknown-field.json", "unknown field `colour`"),
        ("unknown-arch.json", "unknown variant `pdp11`"),
        ("unknown-run.json", "unknown run 'v9.9/x86_64'"),
        ("bad-run.json", "\"all\", \"native\" or a list"),
        ("empty-run.json", "selects no run"),
        ("too-many-steps.json", "at most 64"),
        ("big.json", "inputs are at most"),
        ("big.bin", "inputs are at most"),
        ("a-directory.json", "is a directory"),
        ("missing.json", "No such file"),
    ];
    for (f, needle) in files {
        let f = p(f);
        expect_usage_error(&["run", &f], needle);
        expect_usage_error(&["explain", &f], needle);
        expect_usage_error(&["convert", &f, "--to", "json"], needle);
        expect_usage_error(&["convert", &f, "--to", "bin"], needle);
        // A corpus directory holding the file (coverage and minimize read
        // every input; a directory inside is skipped, not an error).
        if f.ends_with("a-directory.json") || f.ends_with("missing.json") {
            continue;
        }
        let c = tmpdir("garbage-corpus");
        std::fs::copy(&f, c.join(Path::new(&f).file_name().unwrap())).unwrap();
        let c = c.to_str().unwrap();
        expect_usage_error(&["coverage", c], needle);
        expect_usage_error(&["corpus", "minimize", c, "--out", &p("minimized")], needle);
    }
    // Directories that are not.
    let missing = p("no-such-dir");
    let file = p("good.json");
    for dir in [&missing, &file] {
        let needle = "cannot read directory";
        expect_usage_error(&["coverage", dir], needle);
        expect_usage_error(&["corpus", "minimize", dir, "--out", &p("m")], needle);
        expect_usage_error(&["corpus", "merge", "--into", &p("merged"), dir], needle);
    }
    expect_usage_error(
        &["corpus", "merge", "--into", &file, d.to_str().unwrap()],
        "cannot create",
    );
    // Unknown names.
    let good = p("good.json");
    let targets = "unknown target 'bogus'";
    expect_usage_error(
        &["decisions", "--version", "bogus"],
        "unknown version 'bogus'",
    );
    expect_usage_error(&["run", "--target", "bogus", &good], targets);
    expect_usage_error(
        &["run", "--version", "bogus", &good],
        "unknown version 'bogus'",
    );
    expect_usage_error(&["run", "--config", "bogus", &good], "'bogus'");
    expect_usage_error(
        &["run", "--config", "arm64+gie", &good],
        "no run of the scenario matches",
    );
    expect_usage_error(
        &["explain", "--version", "bogus", &good],
        "unknown version 'bogus'",
    );
    expect_usage_error(&["explain", "--target", "bogus", &good], targets);
    expect_usage_error(
        &["convert", "--target", "bogus", &good, "--to", "json"],
        targets,
    );
    expect_usage_error(&["convert", &good, "--to", "xml"], "invalid value 'xml'");
    let corpus = tmpdir("good-corpus");
    std::fs::copy(&good, corpus.join("good.json")).unwrap();
    let corpus = corpus.to_str().unwrap();
    expect_usage_error(&["coverage", "--target", "bogus", corpus], targets);
    expect_usage_error(
        &[
            "corpus",
            "minimize",
            "--target",
            "bogus",
            corpus,
            "--out",
            &p("m2"),
        ],
        targets,
    );
    // The good file itself is fine everywhere.
    for args in [
        vec!["run", good.as_str()],
        vec!["explain", good.as_str()],
        vec!["coverage", corpus],
    ] {
        let (code, _, err) = cli(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
}

#[test]
fn any_bytes_in_a_non_json_file_are_a_valid_input() {
    let d = tmpdir("bytes");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut inputs: Vec<Vec<u8>> = (0..12).map(|_| rng.bytes(200)).collect();
    // Byte strings that look like JSON objects are binary inputs here too.
    inputs.push(b"{}".to_vec());
    inputs.push(b"{\"arch\": 3}".to_vec());
    inputs.push(b"{\xff\xfe\x00}".to_vec());
    inputs.push(Vec::new());
    for (i, b) in inputs.iter().enumerate() {
        let f = d.join(format!("input-{i:02}"));
        std::fs::write(&f, b).unwrap();
        let f = f.to_str().unwrap();
        for args in [
            vec!["run", f],
            vec!["run", "--target", "cs_analysis", f],
            vec!["run", "--target", "exit_to_user", f],
            vec!["run", "--target", "registration", f],
            vec!["explain", f],
            vec!["convert", f, "--to", "json"],
            vec!["convert", f, "--to", "bin"],
        ] {
            let (code, _, err) = cli(&args);
            assert!(
                !err.contains("panicked"),
                "{args:?} on {b:02x?} panicked: {err}"
            );
            assert!(
                matches!(code, Some(0) | Some(1)),
                "{args:?} on {b:02x?}: exit {code:?}: {err}"
            );
        }
        // Converting a binary input to JSON gives the scenario it decodes to.
        let (_, json, _) = cli(&["convert", f, "--target", "differential", "--to", "json"]);
        assert_eq!(Scenario::from_json(&json).unwrap(), Scenario::decode(b));
    }
    let d = d.to_str().unwrap();
    for args in [
        vec!["coverage", d],
        vec!["corpus", "minimize", d, "--out", &format!("{d}-min")],
        vec!["corpus", "merge", "--into", &format!("{d}-merged"), d],
    ] {
        let (code, _, err) = cli(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
}

#[test]
fn a_closed_standard_output_is_no_panic() {
    // `rseq-fuzz explain ... | head -1`: the reader goes away early.
    let ex = root().join("docs/examples/02-migrated-in-cs-arm64.json");
    for args in [
        vec!["explain", ex.to_str().unwrap()],
        vec!["run", "--json", ex.to_str().unwrap()],
        vec!["decisions"],
    ] {
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

// The binary form's run selector (`run_for_selector`): saved inputs must keep
// their runs when the registry grows.

fn arch_run_names(arch: Arch) -> Vec<String> {
    runs_for_arch(arch)
        .iter()
        .map(|(v, c)| run_name(v, c))
        .collect()
}

#[test]
fn every_run_is_picked_by_some_selector_and_its_selector_picks_it() {
    for arch in Arch::ALL {
        let names = arch_run_names(arch);
        assert!(!names.is_empty() && names.len() <= 256, "{arch:?}");
        let mut wins = vec![0u32; names.len()];
        for s in 0..=255u8 {
            let (v, c) = run_for_selector(arch, s);
            let name = run_name(v, &c);
            wins[names.iter().position(|n| *n == name).unwrap()] += 1;
        }
        for (name, &w) in names.iter().zip(&wins) {
            // A run that no byte selects could never be fuzzed alone.
            assert!(w > 0, "{arch:?}: no selector picks {name}");
            let s = selector_for_run(arch, name).expect("a selector");
            let (v, c) = run_for_selector(arch, s);
            assert_eq!(run_name(v, &c), *name);
        }
    }
    assert_eq!(selector_for_run(Arch::X86_64, "v0.0/none"), None);
}

#[test]
fn adding_a_run_moves_only_the_selectors_it_wins_and_order_does_not_matter() {
    for arch in Arch::ALL {
        let names = arch_run_names(arch);
        let mut grown = names.clone();
        grown.insert(names.len() / 2, "v9.9/a-build-added-later".to_string());
        let mut moved = 0;
        for s in 0..=255u8 {
            let before = &names[rendezvous_pick(&names, s)];
            let after = &grown[rendezvous_pick(&grown, s)];
            if before != after {
                assert_eq!(after, "v9.9/a-build-added-later", "{arch:?} selector {s}");
                moved += 1;
            }
        }
        // Some selectors go to the new run: about 256/(N+1) of them, where
        // an index into the list moved nearly all.
        let fair = 256 / (names.len() + 1);
        assert!(
            moved > 0 && moved <= 2 * fair,
            "{arch:?}: {moved} selectors moved, about {fair} expected"
        );
        let mut reversed = names.clone();
        reversed.reverse();
        for s in 0..=255u8 {
            assert_eq!(
                names[rendezvous_pick(&names, s)],
                reversed[rendezvous_pick(&reversed, s)]
            );
        }
    }
}

#[test]
fn cs_analysis_inputs_reach_every_architecture() {
    // Every architecture has its own TASK_SIZE or signature, so the section
    // analysis must meet each; the first two bytes choose it.
    let mut seen = Vec::new();
    for head in 0..=255u8 {
        for placement in [0u8, 1, 8, 9] {
            let s = rseq_fuzz::targets::decode_cs_analysis(&[head, placement]);
            if !seen.contains(&s.arch) {
                seen.push(s.arch);
            }
        }
    }
    for arch in Arch::ALL {
        assert!(seen.contains(&arch), "no cs_analysis input is {arch:?}");
    }
}

#[test]
fn coverage_says_when_a_directory_names_no_target() {
    // The same exit_to_user seeds in a directory named after no target and
    // in one named exit_to_user.
    let unnamed = tmpdir("fuzzer-output");
    let named = tmpdir("named").join("exit_to_user");
    std::fs::create_dir_all(&named).unwrap();
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/exit_to_user");
    let mut files: Vec<PathBuf> = std::fs::read_dir(seeds)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files.iter().take(40) {
        let name = f.file_name().unwrap();
        std::fs::copy(f, unnamed.join(name)).unwrap();
        std::fs::copy(f, named.join(name)).unwrap();
    }
    let (unnamed, named) = (unnamed.to_str().unwrap(), named.to_str().unwrap());
    let table = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with('v'))
            .map(str::to_string)
            .collect()
    };
    // Named after no target: read as differential's, with a note that says so.
    let (code, guessed, err) = cli(&["coverage", unnamed]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("named after no target") && err.contains("differential"),
        "no note: {err}"
    );
    // With --target, or from a directory named after the target: no note,
    // and the same counts either way.
    let (code, given, err) = cli(&["coverage", "--target", "exit_to_user", unnamed]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("note"), "{err}");
    let (code, from_name, err) = cli(&["coverage", named]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("note"), "{err}");
    assert!(!table(&given).is_empty());
    assert_eq!(table(&given), table(&from_name));
    // Read as another target's, the same files reach other decision points.
    assert_ne!(table(&guessed), table(&given));
}
