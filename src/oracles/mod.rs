//! The oracles. Each is its own module and names itself in every finding:
//!
//! * [`abi`] (a): classifies the program as conforming or lists the ABI rules it breaks.
//! * [`contract`] (b): what a conforming program is promised.
//! * [`security`] (c): what no program may ever get, on any version.
//! * [`liveness`] (d): the exit-to-user loop ends.
//! * [`fault`] (e): a resolvable fault never changes what user space sees.
//! * [`differential`] (f): versions agree except where a known divergence says why.
//!
//! A candidate finding that matches an entry of the known-divergence registry
//! ([`crate::divergences`]) is reported as explained, unless strict mode is on.

pub mod abi;
pub mod contract;
pub mod differential;
pub mod fault;
pub mod liveness;
pub mod security;

use crate::divergences::{self, Candidate};
use crate::kernel::Observation;
use crate::runner::{self, Run};
use crate::scenario::{Lowered, Scenario};
use serde::Serialize;

/// The environment variable that fuzz targets read for strict mode.
pub const STRICT_ENV: &str = "RSEQ_FUZZ_STRICT";
/// The environment variable that makes fuzz targets fail only on findings
/// of one oracle: an engine's crash minimizer (cargo fuzz tmin, afl-tmin)
/// then keeps the same oracle failure, not just any crash.
pub const ONLY_ORACLE_ENV: &str = "RSEQ_FUZZ_ONLY_ORACLE";

/// Which oracles to check, and how.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Registered divergences are findings too.
    pub strict: bool,
    pub contract: bool,
    pub security: bool,
    pub liveness: bool,
    pub fault_transparency: bool,
    pub differential: bool,
    /// Fail only on findings of this oracle (see [`ONLY_ORACLE_ENV`]).
    pub only_oracle: Option<&'static str>,
    /// Also name where the traces part for divergences the registry
    /// explains. The CLI shows it; the fuzz targets drop explained
    /// divergences unread, and aligning two traces is most of the cost of
    /// checking a cs_analysis input, so they turn it off.
    pub describe_explained: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            contract: true,
            security: true,
            liveness: true,
            fault_transparency: true,
            differential: true,
            only_oracle: None,
            describe_explained: true,
        }
    }
}

impl Options {
    /// Defaults, with strict mode from [`STRICT_ENV`] (set and not "0").
    pub fn from_env() -> Self {
        let strict = std::env::var(STRICT_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        // Read once per process by the targets, so leaking it is bounded.
        let only_oracle = std::env::var(ONLY_ORACLE_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| &*Box::leak(v.into_boxed_str()));
        Options {
            strict,
            only_oracle,
            ..Options::default()
        }
    }
}

/// A failed oracle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// "contract", "security", "liveness", "fault-transparency", "differential".
    pub oracle: &'static str,
    /// The runs involved (`version/config`; for differential: old then new).
    pub runs: Vec<String>,
    /// The scenario event index after which it was seen.
    pub step: usize,
    pub message: String,
    /// The first decision point where the two traces part (differential and
    /// fault-transparency), as "old-point | new-point".
    pub first_divergence: Option<String>,
    /// The known divergence that explains it (then it is not a finding
    /// unless strict).
    pub explained_by: Option<&'static str>,
    /// Later registry entries that would explain it too (filled in only
    /// with [`Options::describe_explained`]): an overlap to look at, since
    /// only the first entry's justification is shown as the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_matches: Vec<&'static str>,
}

impl Finding {
    /// A candidate finding of `oracle` on `runs`, seen after scenario event
    /// `step`; [`check_runs`] asks the registry about it and fills in the
    /// rest.
    pub fn new(oracle: &'static str, runs: Vec<String>, step: usize, message: String) -> Self {
        Finding {
            oracle,
            runs,
            step,
            message,
            first_divergence: None,
            explained_by: None,
            also_matches: Vec::new(),
        }
    }

    /// The panic message of a fuzz target: oracle, runs, step, divergence.
    pub fn panic_message(&self) -> String {
        let mut m = format!(
            "oracle {} failed: {} [runs: {}; step {}]",
            self.oracle,
            self.message,
            self.runs.join(" vs "),
            self.step
        );
        if let Some(d) = &self.first_divergence {
            m.push_str(&format!("; traces part at {d}"));
        }
        if let Some(id) = self.explained_by {
            m.push_str(&format!("; registered divergence {id}"));
        }
        m
    }
}

/// Everything checking a scenario produced.
#[derive(Debug)]
pub struct Report {
    pub lowered: Lowered,
    pub runs: Vec<Run>,
    /// Findings (in strict mode including registered ones).
    pub findings: Vec<Finding>,
    /// Candidate findings a registered divergence explains (not strict).
    pub explained: Vec<Finding>,
}

/// Which observable fields of two observations differ. The kernel's own
/// record of the registration is not compared: user space cannot see it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ObsDiff {
    pub fate: bool,
    pub ip: bool,
    /// Byte offsets of the area that differ (all 0..len if one is unreadable).
    pub area: Vec<usize>,
    pub syscall_ret: bool,
    pub kills: bool,
    pub sigsegv_handled: bool,
    pub livelock: bool,
}

impl ObsDiff {
    pub fn between(a: &Observation, b: &Observation) -> ObsDiff {
        let area = match (&a.area, &b.area) {
            // Equal areas are the common case: one slice comparison (a
            // memcmp, which SanitizerCoverage does not trace) instead of a
            // traced comparison per byte.
            (Some(x), Some(y)) if x == y => Vec::new(),
            (Some(x), Some(y)) => (0..x.len().max(y.len()))
                .filter(|&i| x.get(i) != y.get(i))
                .collect(),
            (None, None) => Vec::new(),
            (x, y) => (0..x.as_ref().or(y.as_ref()).map_or(0, |v| v.len())).collect(),
        };
        ObsDiff {
            fate: a.fate != b.fate,
            ip: a.ip != b.ip,
            area,
            syscall_ret: a.syscall_ret != b.syscall_ret,
            kills: a.kills != b.kills,
            sigsegv_handled: a.sigsegv_handled != b.sigsegv_handled,
            livelock: a.livelock != b.livelock,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == ObsDiff::default()
    }

    /// Whether area bytes differ, and nothing else.
    pub fn only_area(&self) -> bool {
        !self.area.is_empty()
            && ObsDiff {
                area: Vec::new(),
                ..self.clone()
            }
            .is_empty()
    }

    /// Whether only area bytes in `ranges` differ.
    pub fn only_area_in(&self, ranges: &[std::ops::Range<usize>]) -> bool {
        self.only_area()
            && self
                .area
                .iter()
                .all(|o| ranges.iter().any(|r| r.contains(o)))
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.fate {
            parts.push("fate".to_string());
        }
        if self.ip {
            parts.push("ip".to_string());
        }
        if !self.area.is_empty() {
            parts.push(format!("struct rseq bytes {:?}", self.area));
        }
        if self.syscall_ret {
            parts.push("syscall return".to_string());
        }
        if self.kills {
            parts.push("kills".to_string());
        }
        if self.sigsegv_handled {
            parts.push("SIGSEGV handler".to_string());
        }
        if self.livelock {
            parts.push("livelock".to_string());
        }
        parts.join(", ")
    }
}

/// Run the scenario on every selected version and check every oracle.
pub fn check(scenario: &Scenario, opts: &Options) -> Result<Report, String> {
    check_runs(scenario, opts, scenario.runs()?)
}

/// Check the scenario on the given runs (tests pass test doubles here).
pub fn check_runs(
    scenario: &Scenario,
    opts: &Options,
    selected: Vec<(
        &'static crate::versions::VersionEntry,
        crate::config::Config,
    )>,
) -> Result<Report, String> {
    let lowered = scenario.lower();
    let runs: Vec<Run> = selected
        .iter()
        .map(|(v, c)| runner::run(v, *c, &lowered, false))
        .collect();
    let mut candidates: Vec<(Finding, Candidate)> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        if opts.contract {
            for f in contract::check(r, &lowered) {
                candidates.push((f.0, Candidate::single(i, f.1)));
            }
        }
        if opts.security {
            for f in security::check(r, &lowered) {
                candidates.push((f, Candidate::single(i, 0)));
            }
        }
        if opts.liveness {
            for f in liveness::check(r) {
                candidates.push((f, Candidate::single(i, 0)));
            }
        }
    }
    let mut references = Vec::new();
    // The run each reference was made for.
    let mut fault_references = Vec::new();
    if opts.fault_transparency && fault::has_resolvable_faults(scenario, &lowered) {
        for (i, (v, c)) in selected.iter().enumerate() {
            if !fault::reference_may_differ(&runs[i]) {
                continue;
            }
            references.push(runner::run(v, *c, &lowered, true));
            fault_references.push(i);
        }
    }
    // Ask the registry about a candidate: fill in what explains it, and
    // where the runs part when nothing does (or when asked to).
    let judge = |f: &mut Finding, cand: &Candidate| {
        let ctx = cand.bind(&runs, &references, &lowered, f);
        // The fuzz targets stop at the first entry; the CLI lists them all.
        let (explained_by, also_matches) = if opts.describe_explained {
            let mut all = divergences::matching(&ctx).map(|d| d.id);
            (all.next(), all.collect())
        } else {
            (divergences::explain(&ctx), Vec::new())
        };
        let first = if explained_by.is_none() || opts.strict || opts.describe_explained {
            ctx.first_divergence()
        } else {
            None
        };
        f.explained_by = explained_by;
        f.also_matches = also_matches;
        f.first_divergence = first;
    };
    let mut judged: Vec<Finding> = Vec::new();
    for (mut f, cand) in candidates {
        judge(&mut f, &cand);
        judged.push(f);
    }
    // A fault-free reference is compared with its run as the differential
    // oracle compares two releases, past explained differences alike.
    for (reference, &run) in fault_references.iter().enumerate() {
        let (mut from, mut carried) = (0, differential::CarriedBytes::default());
        while let Some((mut f, idx)) =
            fault::compare_from(&references[reference], &runs[run], from, &carried)
        {
            judge(
                &mut f,
                &Candidate::against_reference(run, reference, idx, carried),
            );
            let explained = f.explained_by.is_some();
            judged.push(f);
            match differential::carry_past(&references[reference], &runs[run], idx) {
                Some(c) if explained && !opts.strict => (from, carried) = (idx + 1, c),
                _ => break,
            }
        }
    }
    if opts.differential {
        for (old, new) in differential::pairs(&runs) {
            // Past a difference the registry explains, compare on, carrying
            // the area bytes it left different (differential::carry_past).
            let (mut from, mut carried) = (0, differential::CarriedBytes::default());
            while let Some((mut f, idx)) =
                differential::compare_from(&runs[old], &runs[new], from, &carried)
            {
                judge(&mut f, &Candidate::pair(old, new, idx, carried));
                let explained = f.explained_by.is_some();
                judged.push(f);
                match differential::carry_past(&runs[old], &runs[new], idx) {
                    Some(c) if explained && !opts.strict => (from, carried) = (idx + 1, c),
                    _ => break,
                }
            }
        }
    }
    let (explained, findings): (Vec<Finding>, Vec<Finding>) = judged
        .into_iter()
        .partition(|f| f.explained_by.is_some() && !opts.strict);
    Ok(Report {
        lowered,
        runs,
        findings,
        explained,
    })
}

/// Check and panic with the first finding's message (for fuzz targets).
pub fn assert_holds(scenario: &Scenario, opts: &Options) {
    if let Ok(report) = check(scenario, opts) {
        let wanted = |f: &&Finding| opts.only_oracle.is_none_or(|o| o == f.oracle);
        if let Some(f) = report.findings.iter().find(wanted) {
            fail(f);
        }
    }
}

// Crash identity. Fuzzing infrastructure groups crashes by the stack they
// abort from: ClusterFuzz by the top frames below the panic machinery,
// honggfuzz by the top seven frames of the aborting thread, and honggfuzz
// keeps one input per group. Every oracle failure used to panic from
// assert_holds, so all of them were one crash. Each oracle now panics from a
// function of its own, and [`abort_for_failing_oracle`] aborts from one.

thread_local! {
    /// The oracle whose failure is panicking on this thread.
    static FAILING_ORACLE: std::cell::Cell<Option<&'static str>> =
        const { std::cell::Cell::new(None) };
}

macro_rules! crash_sites {
    ($($oracle:literal => $panic_fn:ident, $abort_fn:ident;)*) => {
        /// Panic with the finding's message, from its oracle's own function.
        pub fn fail(finding: &Finding) -> ! {
            let message = finding.panic_message();
            FAILING_ORACLE.with(|o| o.set(Some(finding.oracle)));
            match finding.oracle {
                $($oracle => $panic_fn(message),)*
                _ => unnamed_oracle_failed(message),
            }
        }

        /// Abort the process from a function of the oracle whose failure is
        /// panicking on this thread (for a panic hook; see
        /// [`crate::targets::separate_crashes_by_oracle`]). Any other panic
        /// aborts from here.
        pub fn abort_for_failing_oracle() -> ! {
            match FAILING_ORACLE.with(|o| o.take()) {
                $(Some($oracle) => $abort_fn(),)*
                _ => std::process::abort(),
            }
        }

        // Each function names its oracle in a constant of its own, so that
        // LLVM's function merging cannot fold them into one crash site.
        $(
            #[cold]
            #[inline(never)]
            fn $panic_fn(message: String) -> ! {
                std::hint::black_box($oracle);
                panic!("{message}")
            }

            #[cold]
            #[inline(never)]
            fn $abort_fn() -> ! {
                std::hint::black_box($oracle);
                std::process::abort()
            }
        )*
    };
}

crash_sites! {
    "contract" => contract_oracle_failed, abort_contract_oracle;
    "security" => security_oracle_failed, abort_security_oracle;
    "liveness" => liveness_oracle_failed, abort_liveness_oracle;
    "fault-transparency" => fault_transparency_oracle_failed, abort_fault_transparency_oracle;
    "differential" => differential_oracle_failed, abort_differential_oracle;
}

#[cold]
#[inline(never)]
fn unnamed_oracle_failed(message: String) -> ! {
    panic!("{message}");
}
