//! The embedded default engine: `rseq-fuzz fuzz [--target T|all] [--time S]
//! [--jobs N]`, in the ordinary release binary, on stable Rust, with nothing
//! else installed (a C++ compiler builds libFuzzer once, through libfuzzer-sys).
//!
//! Why libFuzzer: it is a well-kept engine (mutators, dictionaries, corpus
//! reload between workers, minimization, crash files) that reads our
//! decision-coverage map as feedback through its extra-counters section; see
//! the `driver` module and docs/fuzzing.md for the alternatives that were measured.
//!
//! libFuzzer ends its process when a run is over, so this module is two
//! programs: the parent (this file) plans the run, starts one worker process
//! per job (`rseq-fuzz fuzz --worker ...`, i.e. itself), reads the workers'
//! output to draw a progress line, and at the end prints the summary:
//! executions, exec/s, decision coverage per kernel version (by replaying the
//! corpora in-process, so it does not depend on libFuzzer's internals), and
//! the findings with the command that explains each.
//!
//! Files: seeds are read from `--corpus DIR/<target>` (the committed corpus,
//! never written); inputs the run discovers go to `--work DIR/<target>/corpus`
//! (shared by the workers of a target, kept across runs); findings to
//! `--findings DIR/<target>/`; each worker's log to `--work DIR/<target>/`.

pub mod dict;
#[cfg(all(feature = "engine", target_os = "linux"))]
mod driver;
pub mod libfuzzer_log;

use crate::targets::{Target, TARGETS};
use crate::versions::{self, VERSIONS};
use libfuzzer_log::WorkerStatus;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `rseq-fuzz fuzz`.
#[derive(clap::Args, Debug, Clone)]
pub struct FuzzArgs {
    /// The target to fuzz (see `rseq-fuzz fuzz --list`), or `all`.
    #[arg(long, default_value = "all")]
    pub target: String,
    /// Total wall-clock seconds for the whole run (targets share it).
    #[arg(long, default_value_t = 60)]
    pub time: u64,
    /// Worker processes at once (one core each).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Seed corpus root: DIR/TARGET/ is read, never written.
    #[arg(long, default_value = "corpus")]
    pub corpus: PathBuf,
    /// Working directory: DIR/TARGET/corpus grows; worker logs.
    #[arg(long, default_value = "target/rseq-fuzz")]
    pub work: PathBuf,
    /// Where findings are saved, as DIR/TARGET/crash-SHA1.
    #[arg(long, default_value = "findings")]
    pub findings: PathBuf,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// List the targets and exit.
    #[arg(long)]
    pub list: bool,
    /// Internal: run one libFuzzer worker in this process.
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Extra libFuzzer flags after `--`, e.g. `-- -max_len=256 -seed=1`.
    #[arg(last = true, allow_hyphen_values = true)]
    pub libfuzzer: Vec<String>,
}

/// Find a target by name.
pub fn find_target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// One target's share of a round: its workers and their time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub target: &'static str,
    pub workers: usize,
    pub seconds: u64,
}

/// Split `jobs` workers and `time` seconds over `targets`: with at least as
/// many jobs as targets, one round in which every target gets its share of the
/// jobs; otherwise rounds of `jobs` targets, one worker each, sharing the time.
pub fn plan(targets: &[&'static str], jobs: usize, time: u64) -> Vec<Vec<Slot>> {
    let jobs = jobs.max(1);
    let n = targets.len();
    if n == 0 {
        return Vec::new();
    }
    if jobs >= n {
        let round = targets
            .iter()
            .enumerate()
            .map(|(i, t)| Slot {
                target: t,
                workers: jobs / n + usize::from(i < jobs % n),
                seconds: time.max(1),
            })
            .collect();
        return vec![round];
    }
    let rounds = n.div_ceil(jobs);
    let seconds = (time / rounds as u64).max(1);
    targets
        .chunks(jobs)
        .map(|chunk| {
            chunk
                .iter()
                .map(|t| Slot {
                    target: t,
                    workers: 1,
                    seconds,
                })
                .collect()
        })
        .collect()
}

/// Files (not directories) directly in `dir`, sorted by name.
pub fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Decision coverage of one version: points reached / all its points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionCoverage {
    pub version: &'static str,
    pub reached: usize,
    pub points: usize,
}

/// Replay every file of `dirs` through its target in this process and read
/// the decision-coverage map: which decision points of each version the
/// inputs reach. Inputs that fail an oracle are counted, not fatal.
pub fn replay_coverage(inputs: &[(&'static Target, PathBuf)]) -> (Vec<VersionCoverage>, usize) {
    crate::coverage::reset();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = 0;
    for (t, path) in inputs {
        if let Ok(data) = std::fs::read(path) {
            let run = t.run;
            if std::panic::catch_unwind(move || run(&data)).is_err() {
                failed += 1;
            }
        }
    }
    std::panic::set_hook(hook);
    let map = crate::coverage::snapshot();
    let cov = VERSIONS
        .iter()
        .map(|v| {
            let base = versions::coverage_base(v.name);
            let reached = (0..v.decisions.len())
                .filter(|i| map.get(base + i).copied().unwrap_or(0) != 0)
                .count();
            VersionCoverage {
                version: v.name,
                reached,
                points: v.decisions.len(),
            }
        })
        .collect();
    (cov, failed)
}

/// What the run found out about one target.
#[derive(Clone, Debug, Default)]
struct TargetResult {
    name: &'static str,
    workers: usize,
    seconds: u64,
    execs: u64,
    exec_per_sec: u64,
    rss_mb: u64,
    corpus_before: usize,
    corpus_after: usize,
    findings: Vec<(String, String)>,
    /// Inputs libFuzzer saved as slow units (reported, not findings).
    slow_units: Vec<String>,
    /// Workers that stopped with an error that is not a finding.
    failures: Vec<String>,
}

struct Worker {
    target: &'static str,
    log: PathBuf,
    child: Child,
    status: Arc<Mutex<WorkerStatus>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

fn human(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

fn seed_dir(args: &FuzzArgs, t: &str) -> PathBuf {
    args.corpus.join(t)
}

fn work_corpus(args: &FuzzArgs, t: &str) -> PathBuf {
    args.work.join(t).join("corpus")
}

/// `rseq-fuzz fuzz`: returns the exit code (0 nothing found, 1 findings, 2
/// usage or setup error, or a worker that failed without a finding).
pub fn cli_fuzz(args: &FuzzArgs) -> i32 {
    if args.list {
        for t in TARGETS {
            println!("{:<14} {}", t.name, t.description);
        }
        return 0;
    }
    let targets: Vec<&'static Target> = if args.target == "all" {
        TARGETS.iter().collect()
    } else {
        match find_target(&args.target) {
            Some(t) => vec![t],
            None => {
                eprintln!(
                    "rseq-fuzz: unknown target '{}' (one of: all, {})",
                    args.target,
                    TARGETS
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return 2;
            }
        }
    };
    if args.worker {
        return run_worker(targets.first().copied(), &args.libfuzzer);
    }
    run_parent(args, &targets)
}

#[cfg(all(feature = "engine", target_os = "linux"))]
fn run_worker(target: Option<&'static Target>, lf: &[String]) -> i32 {
    match target {
        Some(t) => driver::run_worker(t, lf),
        None => 2,
    }
}

#[cfg(not(all(feature = "engine", target_os = "linux")))]
fn run_worker(_target: Option<&'static Target>, _lf: &[String]) -> i32 {
    eprintln!("rseq-fuzz: this binary was built without the `engine` feature (Linux only)");
    2
}

#[cfg(all(feature = "engine", target_os = "linux"))]
fn engine_available() -> bool {
    true
}

#[cfg(not(all(feature = "engine", target_os = "linux")))]
fn engine_available() -> bool {
    false
}

fn ignore_sigint() {
    #[cfg(all(feature = "engine", target_os = "linux"))]
    driver::parent_ignore_sigint();
}

fn spawn_worker(
    args: &FuzzArgs,
    exe: &Path,
    slot: &Slot,
    index: usize,
    dict: &Path,
) -> std::io::Result<Worker> {
    let t = slot.target;
    let work = work_corpus(args, t);
    let findings = args.findings.join(t);
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(&findings)?;
    let mut lf: Vec<String> = vec![
        format!("-max_total_time={}", slot.seconds),
        "-print_final_stats=1".into(),
        "-timeout=10".into(),
        format!("-artifact_prefix={}/", findings.display()),
        format!("-dict={}", dict.display()),
    ];
    lf.extend(args.libfuzzer.iter().cloned());
    lf.push(work.display().to_string());
    let seeds = seed_dir(args, t);
    if seeds.is_dir() {
        lf.push(seeds.display().to_string());
    }
    let log_path = args.work.join(t).join(format!("worker-{index}.log"));
    let mut log = std::fs::File::create(&log_path)?;
    let _ = writeln!(
        log,
        "# {} fuzz --worker --target {t} -- {}",
        exe.display(),
        lf.join(" ")
    );
    let mut child = Command::new(exe)
        .args(["fuzz", "--worker", "--target", t, "--"])
        .args(&lf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let status = Arc::new(Mutex::new(WorkerStatus::default()));
    let reader = child.stderr.take().map(|stderr| {
        let status = Arc::clone(&status);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if let Ok(mut s) = status.lock() {
                    s.update(&line);
                }
            }
        })
    });
    Ok(Worker {
        target: t,
        log: log_path,
        child,
        status,
        reader,
    })
}

fn run_parent(args: &FuzzArgs, targets: &[&'static Target]) -> i32 {
    if !engine_available() {
        eprintln!(
            "rseq-fuzz: this binary was built without the `engine` feature; \
             rebuild with default features (cargo run --release -- fuzz)"
        );
        return 2;
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rseq-fuzz: cannot find this program's path: {e}");
            return 2;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.work) {
        eprintln!("rseq-fuzz: cannot create {}: {e}", args.work.display());
        return 2;
    }
    let dict = args.work.join("rseq.dict");
    if let Err(e) = std::fs::write(&dict, dict::generate()) {
        eprintln!("rseq-fuzz: cannot write {}: {e}", dict.display());
        return 2;
    }
    ignore_sigint();

    let names: Vec<&'static str> = targets.iter().map(|t| t.name).collect();
    let rounds = plan(&names, args.jobs, args.time);
    let mut results: Vec<TargetResult> = names
        .iter()
        .map(|n| TargetResult {
            name: n,
            corpus_before: corpus_files(&seed_dir(args, n)).len()
                + corpus_files(&work_corpus(args, n)).len(),
            ..TargetResult::default()
        })
        .collect();
    let tty = std::io::stderr().is_terminal();
    let start = Instant::now();
    let total = args.time.max(1);
    eprintln!(
        "rseq-fuzz fuzz: {} target(s), {} s, {} job(s); libFuzzer in-process, guided by decision coverage; logs in {}",
        names.len(),
        total,
        args.jobs.max(1),
        args.work.display()
    );
    let mut interrupted = false;
    for round in &rounds {
        if interrupted {
            break;
        }
        let mut workers: Vec<Worker> = Vec::new();
        for slot in round {
            for i in 0..slot.workers {
                match spawn_worker(args, &exe, slot, i, &dict) {
                    Ok(w) => workers.push(w),
                    Err(e) => {
                        eprintln!("rseq-fuzz: cannot start a worker for {}: {e}", slot.target)
                    }
                }
            }
            if let Some(r) = results.iter_mut().find(|r| r.name == slot.target) {
                r.workers = slot.workers;
                r.seconds = slot.seconds;
            }
        }
        let round_secs = round.iter().map(|s| s.seconds).max().unwrap_or(1);
        let round_start = Instant::now();
        let deadline = Duration::from_secs(round_secs + 30);
        let mut last_plain = Instant::now();
        loop {
            let mut running = 0;
            for w in workers.iter_mut() {
                if matches!(w.child.try_wait(), Ok(None)) {
                    running += 1;
                    if round_start.elapsed() > deadline {
                        let _ = w.child.kill();
                    }
                }
            }
            let line = progress_line(&workers, start.elapsed().as_secs(), total, running);
            if tty {
                eprint!("\r\x1b[K{line}");
            } else if last_plain.elapsed() >= Duration::from_secs(10) || running == 0 {
                eprintln!("{line}");
                last_plain = Instant::now();
            }
            if running == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        if tty {
            eprintln!();
        }
        for mut w in workers {
            let exit = w.child.wait();
            if let Some(r) = w.reader.take() {
                let _ = r.join();
            }
            let s = w.status.lock().map(|s| s.clone()).unwrap_or_default();
            interrupted |= s.interrupted;
            let failed = match &exit {
                Ok(st) => !st.success() && s.artifacts.is_empty() && !s.interrupted,
                Err(_) => true,
            };
            if let Some(r) = results.iter_mut().find(|r| r.name == w.target) {
                if failed {
                    let how = exit
                        .map(|st| st.to_string())
                        .unwrap_or_else(|e| e.to_string());
                    r.failures
                        .push(format!("worker {how}; see {}", w.log.display()));
                }
                r.slow_units.extend(s.slow_units.iter().cloned());
                r.execs += s.execs;
                r.exec_per_sec += s.exec_per_sec;
                r.rss_mb = r.rss_mb.max(s.rss_mb);
                for (i, a) in s.artifacts.iter().enumerate() {
                    let msg = s
                        .messages
                        .get(i)
                        .or(s.messages.last())
                        .cloned()
                        .unwrap_or_else(|| {
                            "crash without an oracle message (see the worker log)".into()
                        });
                    r.findings.push((a.clone(), msg));
                }
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();

    // Coverage per version: replay the seed corpora, then seeds + grown corpora.
    let mut seeds: Vec<(&'static Target, PathBuf)> = Vec::new();
    let mut grown: Vec<(&'static Target, PathBuf)> = Vec::new();
    for t in targets {
        seeds.extend(
            corpus_files(&seed_dir(args, t.name))
                .into_iter()
                .map(|p| (*t, p)),
        );
        grown.extend(
            corpus_files(&work_corpus(args, t.name))
                .into_iter()
                .map(|p| (*t, p)),
        );
    }
    for r in results.iter_mut() {
        r.corpus_after = corpus_files(&seed_dir(args, r.name)).len()
            + corpus_files(&work_corpus(args, r.name)).len();
    }
    let (cov_before, _) = replay_coverage(&seeds);
    let all: Vec<_> = seeds.iter().chain(grown.iter()).cloned().collect();
    let (cov_after, replay_failed) = replay_coverage(&all);

    let findings: usize = results.iter().map(|r| r.findings.len()).sum();
    let failures: usize = results.iter().map(|r| r.failures.len()).sum();
    if args.json {
        print_json(&results, &cov_before, &cov_after, elapsed, interrupted);
    } else {
        print_summary(
            args,
            &results,
            &cov_before,
            &cov_after,
            elapsed,
            interrupted,
            replay_failed,
        );
    }
    if findings > 0 {
        1
    } else if failures > 0 {
        2
    } else {
        0
    }
}

fn progress_line(workers: &[Worker], elapsed: u64, total: u64, running: usize) -> String {
    let mut execs = 0u64;
    let mut rate = 0u64;
    let mut corpus = 0u64;
    let mut features = 0u64;
    let mut found = 0usize;
    for w in workers {
        if let Ok(s) = w.status.lock() {
            execs += s.execs;
            rate += s.exec_per_sec;
            corpus += s.corpus;
            features = features.max(s.features);
            found += s.artifacts.len().max(s.messages.len());
        }
    }
    let mut names: Vec<&str> = workers.iter().map(|w| w.target).collect();
    names.dedup();
    format!(
        "[{elapsed:>4}s/{total}s] {} | {running} worker(s) | execs {} ({}/s) | corpus {corpus} | features {features} | findings {found}",
        names.join(","),
        human(execs),
        human(rate),
    )
}

fn print_summary(
    args: &FuzzArgs,
    results: &[TargetResult],
    before: &[VersionCoverage],
    after: &[VersionCoverage],
    elapsed: f64,
    interrupted: bool,
    replay_failed: usize,
) {
    println!();
    println!(
        "rseq-fuzz fuzz: {:.0} s{}",
        elapsed,
        if interrupted { " (interrupted)" } else { "" }
    );
    println!(
        "{:<14} {:>7} {:>5} {:>12} {:>10} {:>8} {:>16} {:>9}",
        "target", "workers", "secs", "executions", "exec/s", "rss MB", "corpus", "findings"
    );
    let mut total_execs = 0;
    for r in results {
        total_execs += r.execs;
        println!(
            "{:<14} {:>7} {:>5} {:>12} {:>10} {:>8} {:>16} {:>9}",
            r.name,
            r.workers,
            r.seconds,
            r.execs,
            r.exec_per_sec,
            r.rss_mb,
            format!("{} -> {}", r.corpus_before, r.corpus_after),
            r.findings.len()
        );
    }
    println!("total executions: {total_execs}");
    if after.is_empty() {
        println!("decision coverage: no kernel versions registered");
    } else {
        println!("decision coverage per version (seed corpus -> after this run):");
        for (b, a) in before.iter().zip(after) {
            println!(
                "  {:<8} {:>4} -> {:>4} of {:>4} decision points",
                a.version, b.reached, a.reached, a.points
            );
        }
    }
    for r in results {
        for f in &r.failures {
            println!("error: {}: {f}", r.name);
        }
    }
    if replay_failed > 0 {
        println!("warning: {replay_failed} corpus input(s) failed an oracle on replay");
    }
    for r in results {
        for f in &r.slow_units {
            println!(
                "note: {}: one run of {f} took longer than -report_slow_units (10 s unless set): \
                 a slow input or a stalled machine, not a finding; time it with: rseq-fuzz run --target {} {f}",
                r.name, r.name
            );
        }
    }
    let all: Vec<_> = results.iter().flat_map(|r| r.findings.iter()).collect();
    if all.is_empty() {
        println!("findings: none");
    } else {
        println!(
            "findings: {} (saved under {}/)",
            all.len(),
            args.findings.display()
        );
        for (file, msg) in all {
            println!("  {file}");
            println!("    {msg}");
            println!("    explain: rseq-fuzz explain {file}");
        }
    }
}

fn print_json(
    results: &[TargetResult],
    before: &[VersionCoverage],
    after: &[VersionCoverage],
    elapsed: f64,
    interrupted: bool,
) {
    let targets: Vec<_> = results
        .iter()
        .map(|r| {
            serde_json::json!({
                "target": r.name,
                "workers": r.workers,
                "seconds": r.seconds,
                "executions": r.execs,
                "exec_per_sec": r.exec_per_sec,
                "peak_rss_mb": r.rss_mb,
                "corpus_before": r.corpus_before,
                "corpus_after": r.corpus_after,
                "worker_failures": r.failures,
                "slow_units": r.slow_units,
                "findings": r.findings.iter().map(|(f, m)| serde_json::json!({
                    "file": f, "message": m, "explain": format!("rseq-fuzz explain {f}"),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let coverage: Vec<_> = before
        .iter()
        .zip(after)
        .map(|(b, a)| {
            serde_json::json!({"version": a.version, "points": a.points, "seed": b.reached, "after": a.reached})
        })
        .collect();
    let doc = serde_json::json!({
        "engine": "libfuzzer-embedded",
        "seconds": elapsed,
        "interrupted": interrupted,
        "targets": targets,
        "coverage": coverage,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}

/// `rseq-fuzz dict [--out FILE]`: print or write the dictionary.
pub fn cli_dict(out: Option<&Path>) -> i32 {
    let text = dict::generate();
    match out {
        None => {
            print!("{text}");
            0
        }
        Some(p) => match std::fs::write(p, text) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("rseq-fuzz: cannot write {}: {e}", p.display());
                2
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_spreads_jobs_over_targets() {
        let t = ["a", "b", "c", "d"];
        let one = plan(&t, 1, 60);
        assert_eq!(one.len(), 4);
        assert!(one
            .iter()
            .all(|r| r.len() == 1 && r[0].seconds == 15 && r[0].workers == 1));
        let two = plan(&t, 2, 60);
        assert_eq!(two.len(), 2);
        assert_eq!(two[1][1].target, "d");
        assert_eq!(two[0][0].seconds, 30);
        let six = plan(&t, 6, 10);
        assert_eq!(six.len(), 1);
        let w: Vec<usize> = six[0].iter().map(|s| s.workers).collect();
        assert_eq!(w, vec![2, 2, 1, 1]);
        assert!(six[0].iter().all(|s| s.seconds == 10));
        let single = plan(&["a"], 0, 0);
        assert_eq!(
            single,
            vec![vec![Slot {
                target: "a",
                workers: 1,
                seconds: 1
            }]]
        );
        assert!(plan(&[], 4, 10).is_empty());
    }

    #[test]
    fn every_target_is_found_by_name() {
        for t in TARGETS {
            assert!(std::ptr::eq(find_target(t.name).expect(t.name), t));
        }
        assert!(find_target("all").is_none());
    }

    #[test]
    fn human_counts() {
        assert_eq!(human(999), "999");
        assert_eq!(human(12_345), "12.3k");
        assert_eq!(human(12_345_678), "12.3M");
    }
}
