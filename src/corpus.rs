//! Corpus tools: decision-point coverage, seeding, minimization and merging.
//! Coverage here is the models' decision points per version, not edges of
//! one build: a corpus is good when it makes every kernel version take every
//! branch of its rseq code.

use crate::cli::{load_input, outln, target_named_by_directory};
use crate::runner;
use crate::seeds;
use crate::targets::TARGETS;
use crate::versions::VERSIONS;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A set of (version, decision point) pairs.
pub type Features = BTreeSet<(&'static str, &'static str)>;

/// A set of (version, decision, the decision the same run took next): the
/// decision transitions, which tell how many orders of the kernel's checks a
/// corpus exercises once it reaches every check. The first decision of a
/// run follows [`RUN_START`]. A measure only: fed to libFuzzer as coverage they
/// made it explore worse (docs/fuzzing.md, "Decision transitions").
pub type Transitions = BTreeSet<(&'static str, &'static str, &'static str)>;

/// What a run's first decision follows in [`Transitions`] (no decision
/// point is named without a `/`).
pub const RUN_START: &str = "start";

/// The decision points every run of the input reaches.
pub fn features_of(path: &Path, target: Option<&str>) -> Result<Features, String> {
    Ok(coverage_of(path, target)?.0)
}

/// The decision points and the decision transitions every run of the input
/// reaches.
pub fn coverage_of(path: &Path, target: Option<&str>) -> Result<(Features, Transitions), String> {
    let input = load_input(path, target)?;
    let lowered = input.scenario.lower();
    let mut points = Features::new();
    let mut transitions = Transitions::new();
    for (v, c) in input.scenario.runs()? {
        let run = runner::run(v, c, &lowered, false);
        let mut last = RUN_START;
        for d in run.trace.decisions() {
            points.insert((v.name, d));
            transitions.insert((v.name, last, d));
            last = d;
        }
    }
    Ok((points, transitions))
}

/// Regular input files directly in `dir`, sorted by name.
pub fn input_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // Engines' side files and notes (a README) are no inputs.
            !name.starts_with('.')
                && !name.ends_with(".dict")
                && !name.ends_with(".options")
                && !name.ends_with(".md")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// One version's row of `rseq-fuzz coverage`.
struct CoverageRow {
    version: &'static str,
    reached: usize,
    total: usize,
    transitions: usize,
    missing: Vec<&'static str>,
}

fn coverage_table(features: &Features, transitions: &Transitions) -> Vec<CoverageRow> {
    VERSIONS
        .iter()
        .map(|v| {
            let missing: Vec<_> = v
                .decisions
                .iter()
                .copied()
                .filter(|d| !features.contains(&(v.name, *d)))
                .collect();
            CoverageRow {
                version: v.name,
                reached: v.decisions.len() - missing.len(),
                total: v.decisions.len(),
                transitions: transitions.iter().filter(|t| t.0 == v.name).count(),
                missing,
            }
        })
        .collect()
}

/// `rseq-fuzz coverage DIR...`: the union over the directories, each read
/// as its own target's inputs (from the directory name) unless `target`.
pub fn cmd_coverage(dirs: &[PathBuf], target: Option<&str>, json: bool) -> Result<i32, String> {
    let mut files = Vec::new();
    for d in dirs {
        let found = input_files(d)?;
        // A scratch directory of fuzzer output is easily named after no
        // target; its inputs then decode as differential's, whatever target
        // made them, and the counts are of other scenarios. Say so.
        if target.is_none() && !found.is_empty() && target_named_by_directory(d).is_none() {
            eprintln!(
                "note: {} is named after no target: its binary inputs are read as {}'s (give --target)",
                d.display(),
                TARGETS[3].name
            );
        }
        files.extend(found);
    }
    let mut all = Features::new();
    let mut transitions = Transitions::new();
    for f in &files {
        let (p, t) = coverage_of(f, target)?;
        all.extend(p);
        transitions.extend(t);
    }
    let dir = dirs.first().map(|d| d.as_path()).unwrap_or(Path::new("."));
    let table = coverage_table(&all, &transitions);
    if json {
        let v: Vec<_> = table
            .iter()
            .map(|r| {
                serde_json::json!({
                    "version": r.version,
                    "reached": r.reached,
                    "total": r.total,
                    "transitions": r.transitions,
                    "never_reached": r.missing,
                })
            })
            .collect();
        crate::cli::print_json(&serde_json::json!({
            "files": files.len(),
            "versions": v,
            "transitions": transitions.len(),
        }));
    } else {
        outln!(
            "{} inputs in {} directories from {}",
            files.len(),
            dirs.len(),
            dir.display()
        );
        outln!(
            "{:<8} {:>8} {:>6} {:>12}",
            "version",
            "reached",
            "total",
            "transitions"
        );
        for r in &table {
            outln!(
                "{:<8} {:>8} {:>6} {:>12}",
                r.version,
                r.reached,
                r.total,
                r.transitions
            );
        }
        for r in &table {
            for m in &r.missing {
                outln!("never reached: {} {m}", r.version);
            }
        }
    }
    Ok(0)
}

/// `rseq-fuzz seed`: write every target's seed corpus.
pub fn cmd_seed(out: &Path) -> Result<i32, String> {
    for t in TARGETS {
        let dir = out.join(t.name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let seeds = seeds::for_target(t.name);
        for (name, bytes) in &seeds {
            let p = dir.join(name);
            std::fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        outln!("{}: {} seeds in {}", t.name, seeds.len(), dir.display());
    }
    Ok(0)
}

/// Greedy set cover: the smallest (by the usual greedy bound) subset of
/// `items` whose union of features equals the union of all.
pub fn minimize_set(items: &[(PathBuf, u64, Features)]) -> Vec<usize> {
    let mut uncovered: Features = items.iter().flat_map(|i| i.2.iter().copied()).collect();
    let mut keep = Vec::new();
    while !uncovered.is_empty() {
        let best = items
            .iter()
            .enumerate()
            .filter(|(i, _)| !keep.contains(i))
            .map(|(i, it)| (i, it.2.intersection(&uncovered).count(), it.1))
            .filter(|&(_, gain, _)| gain > 0)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(b.0.cmp(&a.0)));
        match best {
            Some((i, _, _)) => {
                for f in &items[i].2 {
                    uncovered.remove(f);
                }
                keep.push(i);
            }
            None => break,
        }
    }
    // Greedy can keep an input that later picks made redundant: drop those,
    // largest first, while the union stays the same.
    let mut order = keep.clone();
    order.sort_by(|&a, &b| items[b].1.cmp(&items[a].1).then(b.cmp(&a)));
    for i in order {
        let others: Features = keep
            .iter()
            .filter(|&&j| j != i)
            .flat_map(|&j| items[j].2.iter().copied())
            .collect();
        if items[i].2.iter().all(|f| others.contains(f)) {
            keep.retain(|&j| j != i);
        }
    }
    keep.sort();
    keep
}

/// `rseq-fuzz corpus minimize DIR [--out DIR]`.
pub fn cmd_minimize(
    dir: &Path,
    out: Option<&Path>,
    target: Option<&str>,
    json: bool,
) -> Result<i32, String> {
    let files = input_files(dir)?;
    let mut items = Vec::new();
    for f in &files {
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        items.push((f.clone(), size, features_of(f, target)?));
    }
    let before: Features = items.iter().flat_map(|i| i.2.iter().copied()).collect();
    let keep = minimize_set(&items);
    let after: Features = keep
        .iter()
        .flat_map(|&i| items[i].2.iter().copied())
        .collect();
    let bytes_before: u64 = items.iter().map(|i| i.1).sum();
    let bytes_after: u64 = keep.iter().map(|&i| items[i].1).sum();
    match out {
        Some(o) => {
            std::fs::create_dir_all(o)
                .map_err(|e| format!("cannot create {}: {e}", o.display()))?;
            for &i in &keep {
                let name = items[i].0.file_name().unwrap_or_default();
                std::fs::copy(&items[i].0, o.join(name))
                    .map_err(|e| format!("cannot copy: {e}"))?;
            }
        }
        None => {
            for (i, it) in items.iter().enumerate() {
                if !keep.contains(&i) {
                    std::fs::remove_file(&it.0)
                        .map_err(|e| format!("cannot remove {}: {e}", it.0.display()))?;
                }
            }
        }
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "before": {"files": items.len(), "bytes": bytes_before, "decision_points": before.len()},
                "after": {"files": keep.len(), "bytes": bytes_after, "decision_points": after.len()},
            })
        );
    } else {
        outln!(
            "before: {} files, {} bytes, {} decision points; after: {} files, {} bytes, {} decision points",
            items.len(),
            bytes_before,
            before.len(),
            keep.len(),
            bytes_after,
            after.len()
        );
    }
    if before != after {
        return Err("minimization lost coverage (a bug in rseq-fuzz)".to_string());
    }
    Ok(0)
}

/// FNV-1a, for content-addressed names that are the same on every run.
pub fn content_name(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Names engines give to files that are not inputs.
const NOT_INPUTS: &[&str] = &[
    "fuzzer_stats",
    "plot_data",
    "cmdline",
    "fuzz_bitmap",
    "README.txt",
    "HONGGFUZZ.REPORT.TXT",
    "target_hash",
    "fuzzer_setup",
];

fn collect_inputs(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if name.starts_with('.') || NOT_INPUTS.contains(&name.as_str()) {
            continue;
        }
        if p.is_dir() {
            // AFL++ keeps crashes and hangs beside the queue: those are
            // findings, not corpus; descend into everything else.
            if depth < 4 && !matches!(name.as_str(), "crashes" | "hangs") {
                collect_inputs(&p, depth + 1, out)?;
            }
        } else if p.is_file()
            && std::fs::metadata(&p)
                .map(|m| m.len() <= 1 << 20)
                .unwrap_or(false)
        {
            out.push(p);
        }
    }
    Ok(())
}

/// `rseq-fuzz corpus merge --into DIR DIRS...`.
pub fn cmd_merge(into: &Path, dirs: &[PathBuf]) -> Result<i32, String> {
    std::fs::create_dir_all(into).map_err(|e| format!("cannot create {}: {e}", into.display()))?;
    let mut seen = BTreeSet::new();
    for f in input_files(into)? {
        seen.insert(std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?);
    }
    let (mut added, mut dup) = (0, 0);
    for d in dirs {
        let mut files = Vec::new();
        collect_inputs(d, 0, &mut files)?;
        for f in files {
            let data =
                std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
            if seen.contains(&data) {
                dup += 1;
                continue;
            }
            let p = into.join(content_name(&data));
            std::fs::write(&p, &data).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            seen.insert(data);
            added += 1;
        }
    }
    outln!(
        "merged into {}: {added} new inputs, {dup} duplicates skipped",
        into.display()
    );
    Ok(0)
}

/// Whether `f` is the same failure as `want`: the same oracle on the same runs.
fn same_failure(f: &crate::oracles::Finding, want: &crate::oracles::Finding) -> bool {
    f.oracle == want.oracle && f.runs == want.runs
}

/// Shrink a scenario while it still fails with the same oracle on the same
/// runs: drop steps, page overrides and initial-memory items one at a time,
/// to a fixed point. Deterministic; at most a few hundred checks.
pub fn minimize_finding(
    s: &crate::scenario::Scenario,
    opts: &crate::oracles::Options,
) -> Result<Option<(crate::scenario::Scenario, crate::oracles::Finding)>, String> {
    let report = crate::oracles::check(s, opts)?;
    let Some(want) = report.findings.first().cloned() else {
        return Ok(None);
    };
    let fails = |c: &crate::scenario::Scenario| {
        crate::oracles::check(c, opts)
            .map(|r| r.findings.iter().any(|f| same_failure(f, &want)))
            .unwrap_or(false)
    };
    let mut best = s.clone();
    loop {
        let before = (best.steps.len(), best.pages.len(), best.init.len());
        for i in (0..best.steps.len()).rev() {
            let mut c = best.clone();
            c.steps.remove(i);
            if fails(&c) {
                best = c;
            }
        }
        for i in (0..best.pages.len()).rev() {
            let mut c = best.clone();
            c.pages.remove(i);
            if fails(&c) {
                best = c;
            }
        }
        for i in (0..best.init.len()).rev() {
            let mut c = best.clone();
            c.init.remove(i);
            if fails(&c) {
                best = c;
            }
        }
        if (best.steps.len(), best.pages.len(), best.init.len()) == before {
            break;
        }
    }
    let finding = crate::oracles::check(&best, opts)?
        .findings
        .into_iter()
        .find(|f| same_failure(f, &want))
        .unwrap_or(want);
    Ok(Some((best, finding)))
}

/// `rseq-fuzz corpus tmin FILE [--out F]`: minimize a finding in kernel terms
/// (whole steps), keeping the same oracle failure; writes the JSON scenario.
pub fn cmd_tmin(
    file: &Path,
    out: Option<&Path>,
    target: Option<&str>,
    strict: bool,
) -> Result<i32, String> {
    let input = load_input(file, target)?;
    let mut opts = (input.target.options)();
    opts.strict |= strict;
    match minimize_finding(&input.scenario, &opts)? {
        None => {
            crate::cli::outln!(
                "{}: every oracle holds; nothing to minimize",
                file.display()
            );
            Ok(0)
        }
        Some((small, f)) => {
            let json = small.to_json() + "\n";
            match out {
                Some(p) => std::fs::write(p, &json)
                    .map_err(|e| format!("cannot write {}: {e}", p.display()))?,
                None => {
                    use std::io::Write as _;
                    let _ = std::io::stdout().lock().write_all(json.as_bytes());
                }
            }
            eprintln!(
                "minimized {} -> {} steps, {} -> {} page overrides, {} -> {} init items; still: {}",
                input.scenario.steps.len(),
                small.steps.len(),
                input.scenario.pages.len(),
                small.pages.len(),
                input.scenario.init.len(),
                small.init.len(),
                f.panic_message()
            );
            Ok(1)
        }
    }
}
