//! The `rseq-fuzz` command line. Exit codes: 0 when every oracle holds, 1 on a
//! finding, 2 on bad input or usage (with a message, never a panic).

use crate::corpus;
use crate::oracles::{self, Options, Report};
use crate::scenario::Scenario;
use crate::targets::{self, Target};
use crate::trace::{function_of, TraceEvent};
use crate::versions::{self, VERSIONS};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

/// `println!` that keeps going when standard output is closed (`rseq-fuzz
/// run ... | head`): the reader stopped reading, which is no reason to panic
/// or to change the exit code, which still tells whether an oracle failed.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use outln;

/// Print `value` as pretty JSON on standard output (`--json`), through
/// [`outln!`].
pub(crate) fn print_json(value: &impl serde::Serialize) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

#[derive(Parser, Debug)]
#[command(
    name = "rseq-fuzz",
    version,
    about = "Differential fuzzing of Linux rseq models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every modelled kernel version and its configurations.
    Versions {
        #[arg(long)]
        json: bool,
    },
    /// List decision points, one a line, with the kernel function of each.
    Decisions {
        /// Only this version.
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run inputs (binary fuzz inputs or JSON scenarios) and check every oracle.
    Run {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Read binary inputs as this target's (default: from the directory name, else differential).
        #[arg(long)]
        target: Option<String>,
        /// Only runs of this version.
        #[arg(long)]
        version: Option<String>,
        /// Only runs of this configuration (e.g. x86_64+ge+gie+tifb).
        #[arg(long)]
        config: Option<String>,
        /// Registered divergences are findings too (also RSEQ_FUZZ_STRICT=1).
        #[arg(long)]
        strict: bool,
        #[arg(long)]
        json: bool,
    },
    /// Explain an input: the scenario in words, each version's trace, the first divergence.
    Explain {
        file: PathBuf,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        strict: bool,
    },
    /// Convert an input between the binary and the JSON form.
    Convert {
        file: PathBuf,
        #[arg(long, value_parser = ["json", "bin"])]
        to: String,
        #[arg(long)]
        target: Option<String>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Decision-point coverage per version that corpus directories reach (their union).
    Coverage {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The known-divergence registry: its entries, or, given inputs (files
    /// or directories), how often each entry is the first match and how
    /// often it matches behind another.
    Registry {
        paths: Vec<PathBuf>,
        /// Read binary inputs as this target's (default: from the directory name, else differential).
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write the seed corpora (corpus/TARGET/) from the named seed scenarios.
    Seed {
        #[arg(long, default_value = "corpus")]
        out: PathBuf,
    },
    /// Corpus maintenance.
    Corpus {
        #[command(subcommand)]
        action: CorpusAction,
    },
    /// Fuzz in-process with the embedded libFuzzer engine (no other tools).
    Fuzz(crate::engine::FuzzArgs),
    /// Print (or write) the fuzzing dictionary generated from the ABI constants.
    Dict {
        /// Write to this file instead of stdout (e.g. corpus/rseq.dict).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run cases on the host kernel and compare each with the model of the
    /// host's version (the built-in suite, or a JSON list of live cases).
    Live {
        /// A JSON list of live cases instead of the built-in suite.
        #[arg(long)]
        cases: Option<PathBuf>,
        /// Cases decoded as the live_kernel fuzz target decodes its inputs,
        /// from bytes made from this seed (--count of them, default 1000),
        /// instead of the built-in suite.
        #[arg(long, conflicts_with = "cases")]
        random: Option<u64>,
        /// Run this many cases (cycling through the list).
        #[arg(long)]
        count: Option<usize>,
        /// Compare with this model (e.g. v6.19) instead of the one the
        /// host's release number names: a kernel with the rework backported.
        #[arg(long)]
        model: Option<String>,
        /// Run the time-slice extension probes (registration flags,
        /// prctl(PR_RSEQ_SLICE_EXTENSION), rseq_slice_yield) instead of the
        /// critical-section cases.
        /// With --random SEED, N random probes (--count, default 1000).
        #[arg(long, conflicts_with = "cases")]
        slice: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum CorpusAction {
    /// Keep a small set of inputs that preserves the decision-point coverage
    /// of every version.
    Minimize {
        dir: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Minimize a finding in kernel terms (whole steps, page overrides and
    /// memory items), keeping the same oracle failure on the same runs.
    Tmin {
        file: PathBuf,
        /// Write the minimized JSON scenario here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        strict: bool,
    },
    /// Merge engine output directories (libFuzzer corpus, AFL++ queue,
    /// honggfuzz workspace) into a corpus directory without duplicates.
    Merge {
        #[arg(long)]
        into: PathBuf,
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

/// Parse the process arguments and run; returns the exit code.
pub fn main() -> i32 {
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            code
        }
    }
}

pub fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Versions { json } => Ok(cmd_versions(json)),
        Command::Decisions { version, json } => cmd_decisions(version.as_deref(), json),
        Command::Run {
            files,
            target,
            version,
            config,
            strict,
            json,
        } => cmd_run(
            &files,
            target.as_deref(),
            version.as_deref(),
            config.as_deref(),
            strict,
            json,
        ),
        Command::Explain {
            file,
            target,
            version,
            strict,
        } => cmd_explain(&file, target.as_deref(), version.as_deref(), strict),
        Command::Convert {
            file,
            to,
            target,
            out,
        } => cmd_convert(&file, &to, target.as_deref(), out.as_deref()),
        Command::Coverage { dirs, target, json } => {
            corpus::cmd_coverage(&dirs, target.as_deref(), json)
        }
        Command::Registry {
            paths,
            target,
            json,
        } => cmd_registry(&paths, target.as_deref(), json),
        Command::Seed { out } => corpus::cmd_seed(&out),
        Command::Corpus { action } => match action {
            CorpusAction::Minimize {
                dir,
                out,
                target,
                json,
            } => corpus::cmd_minimize(&dir, out.as_deref(), target.as_deref(), json),
            CorpusAction::Merge { into, dirs } => corpus::cmd_merge(&into, &dirs),
            CorpusAction::Tmin {
                file,
                out,
                target,
                strict,
            } => corpus::cmd_tmin(&file, out.as_deref(), target.as_deref(), strict),
        },
        Command::Live {
            random,
            count,
            model,
            slice: true,
            json,
            ..
        } => Ok(crate::live::slice::cli_slice(
            random,
            count,
            model.as_deref(),
            json,
        )),
        Command::Live {
            cases,
            random,
            count,
            model,
            slice: false,
            json,
        } => Ok(crate::live::cli_live(
            cases.as_deref(),
            random,
            count,
            model.as_deref(),
            json,
        )),
        Command::Fuzz(args) => Ok(crate::engine::cli_fuzz(&args)),
        Command::Dict { out } => Ok(crate::engine::cli_dict(out.as_deref())),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("rseq-fuzz: {msg}");
            2
        }
    }
}

fn cmd_versions(json: bool) -> i32 {
    if json {
        let list: Vec<_> = VERSIONS
            .iter()
            .map(|v| {
                serde_json::json!({
                    "name": v.name,
                    "description": v.description,
                    "configs": (v.configs)().iter().map(|c| c.name()).collect::<Vec<_>>(),
                    "decision_points": v.decisions.len(),
                })
            })
            .collect();
        print_json(&list);
    } else {
        for v in VERSIONS {
            outln!(
                "{}  {}  ({} decision points)",
                v.name,
                v.description,
                v.decisions.len()
            );
            for c in (v.configs)() {
                outln!("    {}", c.name());
            }
        }
    }
    0
}

fn cmd_decisions(version: Option<&str>, json: bool) -> Result<i32, String> {
    let selected: Vec<_> = match version {
        Some(name) => vec![versions::find(name)
            .ok_or_else(|| format!("unknown version '{name}' (see `rseq-fuzz versions`)"))?],
        None => VERSIONS.iter().collect(),
    };
    if json {
        let list: Vec<_> = selected
            .iter()
            .flat_map(|v| {
                v.decisions.iter().map(move |d| {
                    serde_json::json!({"version": v.name, "point": d, "function": function_of(d)})
                })
            })
            .collect();
        print_json(&list);
    } else {
        for v in selected {
            for d in v.decisions {
                outln!("{}\t{}\t{}", v.name, d, function_of(d));
            }
        }
    }
    Ok(0)
}

/// Largest input file the tools read.
const MAX_INPUT: u64 = 1 << 20;

/// An input file read as a scenario, with the target whose oracles apply.
pub struct Input {
    pub scenario: Scenario,
    pub target: &'static Target,
    pub json: bool,
}

/// The target named, or the one the file's directory is named after, or differential.
pub fn target_for(path: &Path, name: Option<&str>) -> Result<&'static Target, String> {
    if let Some(n) = name {
        return targets::find(n).ok_or_else(|| {
            let names: Vec<_> = targets::TARGETS.iter().map(|t| t.name).collect();
            format!("unknown target '{n}' (targets: {})", names.join(", "))
        });
    }
    Ok(path
        .parent()
        .and_then(target_named_by_directory)
        .unwrap_or(&targets::TARGETS[3]))
}

/// The target that `dir`, or a directory above it, is named after.
pub fn target_named_by_directory(dir: &Path) -> Option<&'static Target> {
    dir.ancestors()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
        .find_map(targets::find)
}

/// Read a binary input or a JSON scenario.
pub fn load_input(path: &Path, target: Option<&str>) -> Result<Input, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.is_dir() {
        return Err(format!(
            "{} is a directory, not an input file",
            path.display()
        ));
    }
    if meta.len() > MAX_INPUT {
        return Err(format!(
            "{} is {} bytes; inputs are at most {MAX_INPUT} bytes",
            path.display(),
            meta.len()
        ));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let target = target_for(path, target)?;
    // JSON when the file says so by its name, or reads as a JSON object;
    // anything else is a binary input (any byte string is one). A file not
    // named .json that only looks like a JSON object but is no scenario is a
    // binary input too: a fuzzer's crash file can be `{}`, and it must replay.
    let trimmed = data.trim_ascii();
    let named_json = path.extension().is_some_and(|e| e == "json");
    let looks_json = named_json
        || (trimmed.first() == Some(&b'{')
            && trimmed.last() == Some(&b'}')
            && std::str::from_utf8(trimmed).is_ok());
    if looks_json {
        let parsed = std::str::from_utf8(&data)
            .map_err(|_| "looks like JSON but is not UTF-8".to_string())
            .and_then(Scenario::from_json);
        match parsed {
            Ok(scenario) => {
                scenario
                    .runs()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                return Ok(Input {
                    scenario,
                    target,
                    json: true,
                });
            }
            Err(e) if named_json => return Err(format!("{}: {e}", path.display())),
            Err(e) => eprintln!(
                "rseq-fuzz: note: {}: not a JSON scenario ({e}); reading it as a binary input",
                path.display()
            ),
        }
    }
    Ok(Input {
        scenario: (target.decode)(&data),
        target,
        json: false,
    })
}

fn filter_runs(
    s: &mut Scenario,
    version: Option<&str>,
    config: Option<&str>,
) -> Result<(), String> {
    if version.is_none() && config.is_none() {
        return Ok(());
    }
    if let Some(v) = version {
        versions::find(v).ok_or_else(|| format!("unknown version '{v}'"))?;
    }
    if let Some(c) = config {
        crate::config::Config::parse(c)?;
    }
    let names: Vec<String> = s
        .runs()?
        .into_iter()
        .filter(|(v, c)| {
            version.is_none_or(|n| v.name == n) && config.is_none_or(|n| c.name() == n)
        })
        .map(|(v, c)| crate::scenario::run_name(v, &c))
        .collect();
    if names.is_empty() {
        return Err("no run of the scenario matches --version/--config".to_string());
    }
    s.run = crate::scenario::RunSelect::Only(names);
    Ok(())
}

/// The target's oracles, for `run` and `explain`: unlike the fuzz targets,
/// these describe explained divergences too (where the traces part, and
/// which other registry entries match).
fn options_for(target: &Target, strict: bool) -> Options {
    let mut o = (target.options)();
    o.strict |= strict;
    o.describe_explained = true;
    o
}

fn cmd_run(
    files: &[PathBuf],
    target: Option<&str>,
    version: Option<&str>,
    config: Option<&str>,
    strict: bool,
    json: bool,
) -> Result<i32, String> {
    let mut any_finding = false;
    let mut out = Vec::new();
    for f in files {
        let mut input = load_input(f, target)?;
        filter_runs(&mut input.scenario, version, config)?;
        let report = oracles::check(&input.scenario, &options_for(input.target, strict))?;
        any_finding |= !report.findings.is_empty();
        if json {
            out.push(report_json(f, &report));
        } else {
            print_report(f, &report);
        }
    }
    if json {
        print_json(&out);
    }
    Ok(if any_finding { 1 } else { 0 })
}

fn report_json(f: &Path, r: &Report) -> serde_json::Value {
    serde_json::json!({
        "file": f.display().to_string(),
        "runs": r.runs.iter().map(|run| serde_json::json!({
            "run": run.name(),
            "observations": run.observations,
            "violations": run.violations,
        })).collect::<Vec<_>>(),
        "findings": r.findings,
        "explained": r.explained,
    })
}

fn print_report(f: &Path, r: &Report) {
    outln!("== {}", f.display());
    for run in &r.runs {
        let last = run.observations.last();
        let conform = if run.violations.is_empty() {
            "conforming".to_string()
        } else {
            let rules: Vec<_> = run.violations.iter().map(|v| v.rule).collect();
            format!("breaks {}", rules.join(", "))
        };
        match last {
            Some(o) => outln!(
                "  {:<40} returns {:>2}  last: ip {:#x} {:?} kills {:?}  ({conform})",
                run.name(),
                run.observations.len(),
                o.ip,
                o.fate,
                o.kills
            ),
            None => outln!(
                "  {:<40} never returned to user mode ({conform})",
                run.name()
            ),
        }
    }
    for f in &r.explained {
        outln!(
            "  explained: {} [{}{}]",
            f.panic_message(),
            f.explained_by.unwrap_or(""),
            also_matches(f)
        );
    }
    for f in &r.findings {
        outln!("  FINDING: {}", f.panic_message());
    }
    if r.findings.is_empty() {
        outln!("  every oracle holds");
    }
}

fn cmd_explain(
    file: &Path,
    target: Option<&str>,
    version: Option<&str>,
    strict: bool,
) -> Result<i32, String> {
    let mut input = load_input(file, target)?;
    filter_runs(&mut input.scenario, version, None)?;
    let s = &input.scenario;
    outln!(
        "Scenario ({} input, target {}):",
        if input.json { "JSON" } else { "binary" },
        input.target.name
    );
    outln!(
        "  architecture {}, TASK_SIZE {:#x}, RSEQ_SIG {:#x}",
        s.arch.name(),
        s.arch.task_size(),
        s.arch.rseq_sig()
    );
    let l = &s.layout;
    outln!(
        "  layout: code {:#x}, struct rseq at {:#x}, descriptor at {:#x}, section [{:#x}, +{:#x}), abort_ip {:#x}, handler {:#x}",
        l.code, l.area, l.desc, l.cs_start, l.cs_len, l.abort_ip, l.handler
    );
    let report = oracles::check(s, &options_for(input.target, strict))?;
    let lowered = &report.lowered;
    for (p, st) in lowered.setup.mem.pages() {
        outln!("  page {p:#x}: {st:?}");
    }
    outln!("Events:");
    for (i, e) in lowered.events.iter().enumerate() {
        let tag = if i < lowered.prologue {
            " (registration)"
        } else {
            ""
        };
        outln!("  [{i}] {}{tag}", crate::kernel::event_label(e));
    }
    for run in &report.runs {
        outln!("\n== {} ==", run.name());
        for e in &run.trace.events {
            match e {
                TraceEvent::Step { index } => outln!(
                    "  [{index}] {}",
                    lowered
                        .events
                        .get(*index)
                        .map(crate::kernel::event_label)
                        .unwrap_or_default()
                ),
                TraceEvent::Decision { point } => {
                    outln!("      decide {point}   ({})", function_of(point))
                }
                TraceEvent::Access {
                    function,
                    addr,
                    width,
                    kind,
                    value,
                    result,
                } => outln!(
                    "      {function}: {} {width} bytes at {addr:#x}{} -> {}",
                    if *kind == crate::mem::AccessKind::Read {
                        "read"
                    } else {
                        "write"
                    },
                    value.map(|v| format!(" = {v:#x}")).unwrap_or_default(),
                    match result {
                        Ok(()) => "ok".to_string(),
                        Err(e) => format!("{e:?}"),
                    }
                ),
                TraceEvent::IpSet { ip, reason } => outln!("      user IP := {ip:#x} ({reason})"),
                TraceEvent::Kill { path } => outln!("      KILL {path:?}"),
                TraceEvent::SignalFrame { sig, saved_ip } => {
                    outln!("      signal {sig} frame saves ip {saved_ip:#x}, handler entered")
                }
                TraceEvent::Death { sig } => outln!("      task dies of signal {sig}"),
                TraceEvent::SignalMerged { sig } => {
                    outln!("      signal {sig} already pending: the forced one merges with it")
                }
                TraceEvent::WorkLoopBound { function } => outln!(
                    "      {function}() still has work after {} passes: livelock",
                    crate::kernel::EXIT_LOOP_BOUND
                ),
            }
        }
        for (k, o) in run.observations.iter().enumerate() {
            outln!(
                "  return {k} after event {}: ip {:#x}, {:?}, ret {:?}, kills {:?}, area {}",
                o.step,
                o.ip,
                o.fate,
                o.syscall_ret,
                o.kills,
                o.area.as_ref().map_or("unreadable".to_string(), |a| hex(a))
            );
        }
        for v in &run.violations {
            outln!("  ABI: event {} breaks {}: {}", v.step, v.rule, v.detail);
        }
    }
    outln!();
    for f in &report.explained {
        outln!(
            "explained divergence: {} [{}]",
            f.panic_message(),
            f.explained_by.unwrap_or("")
        );
        if let Some(d) = crate::divergences::REGISTRY
            .iter()
            .find(|d| Some(d.id) == f.explained_by)
        {
            outln!("  {:?}: {}", d.category, d.justification);
        }
        if !f.also_matches.is_empty() {
            outln!(
                "  also matched by (later in the registry): {}",
                f.also_matches.join(", ")
            );
        }
    }
    for f in &report.findings {
        outln!("FINDING: {}", f.panic_message());
    }
    if report.findings.is_empty() {
        outln!("every oracle holds");
        Ok(0)
    } else {
        Ok(1)
    }
}

fn cmd_registry(paths: &[PathBuf], target: Option<&str>, json: bool) -> Result<i32, String> {
    use crate::divergences::{RegistryUse, REGISTRY};
    if paths.is_empty() {
        if json {
            let list: Vec<_> = REGISTRY
                .iter()
                .map(|d| {
                    serde_json::json!({"id": d.id, "oracle": d.oracle, "from": d.from, "to": d.to,
                        "category": d.category, "justification": d.justification})
                })
                .collect();
            print_json(&list);
        } else {
            for d in REGISTRY {
                let versions = if d.from.is_empty() {
                    d.to.to_string()
                } else {
                    format!("{} -> {}", d.from, d.to)
                };
                outln!("{}  [{}; {}; {:?}]", d.id, d.oracle, versions, d.category);
                outln!("    {}", d.justification);
            }
        }
        return Ok(0);
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            files.extend(corpus::input_files(p)?);
        } else {
            files.push(p.clone());
        }
    }
    let mut usage = RegistryUse::default();
    for f in &files {
        let input = load_input(f, target)?;
        let report = oracles::check(&input.scenario, &options_for(input.target, false))?;
        usage.add(&report.explained);
    }
    usage.finish();
    if json {
        print_json(&usage);
        return Ok(0);
    }
    outln!(
        "{} inputs, {} explained candidates, {} of them matched by more than one entry",
        usage.inputs,
        usage.explained,
        usage.overlapping
    );
    outln!("{:>7} {:>7}  entry", "first", "behind");
    for e in &usage.entries {
        outln!("{:>7} {:>7}  {}", e.first, e.also, e.id);
    }
    for id in usage.never_first() {
        outln!("never the first match: {id}");
    }
    for (first, later, n) in &usage.overlaps {
        outln!("overlap: {n} x {first}, then {later}");
    }
    Ok(0)
}

/// "; also matches X, Y" for a candidate later registry entries explain
/// too, else "".
fn also_matches(f: &crate::oracles::Finding) -> String {
    if f.also_matches.is_empty() {
        String::new()
    } else {
        format!("; also matches {}", f.also_matches.join(", "))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join("")
}

fn cmd_convert(
    file: &Path,
    to: &str,
    target: Option<&str>,
    out: Option<&Path>,
) -> Result<i32, String> {
    let input = load_input(file, target)?;
    let bytes = match to {
        "json" => {
            let mut t = input.scenario.to_json();
            t.push('\n');
            t.into_bytes()
        }
        _ => {
            if !input.scenario.encodable() {
                return Err(format!(
                    "{}: the binary form cannot hold this scenario exactly (more than 3 selected runs, a cpu or mm_cid above 255, or more than 16 bytes in one store or init item)",
                    file.display()
                ));
            }
            input.scenario.encode()
        }
    };
    match out {
        Some(p) => {
            std::fs::write(p, &bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))?
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| format!("cannot write to standard output: {e}"))?;
        }
    }
    Ok(0)
}
