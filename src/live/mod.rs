//! Live-kernel conformance: run a case on the host kernel, in a child
//! process, and compare what happened with the model of the host's version.
//!
//! * [`case`]: what a case is ([`LiveCase`]: the descriptor fields relative
//!   to real anchors, the syscall site, the signature, the page states, the
//!   trigger) and how it resolves against the harness's real addresses.
//! * `host` (x86_64 Linux with glibc only): the child, its critical
//!   section in assembly, its signal handler, the page set-up.
//! * [`model`]: the same case as a [`Setup`] and driver events.
//! * [`suite`]: the built-in suite, one case per legacy rule, boundary and
//!   page state, each with what the spec (§3.5) says should happen.
//! * [`mod@slice`]: the time-slice extension's syscall ABI (registration
//!   flags, prctl, rseq_slice_yield), probed live and on the model.
//!
//! Elsewhere every entry point reports "unsupported: ...".

pub mod case;
#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
mod host;
pub mod model;
pub mod slice;
pub mod suite;

pub use case::{
    resolve, Addr, Anchor, Layout, LiveCase, PageKind, Place, PostCommit, Region, Resolved, Site,
    Trigger, SIG,
};

use crate::abi::Arch;
use crate::config::Config;
use crate::kernel::{Model, Setup};
use crate::mem::UserMem;
use crate::versions::{self, VersionEntry};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// What a case did, live or in a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The kernel moved the IP to `to` (and cleared rseq_cs).
    Aborted { to: u64 },
    /// The IP stayed; rseq_cs is 0 afterwards.
    Cleared,
    /// The IP stayed; rseq_cs still holds the value stored.
    Unchanged,
    /// The IP stayed; rseq_cs holds another non-zero value.
    Rewritten { rseq_cs: u64 },
    /// rseq code forced SIGSEGV: caught by the handler (`fatal == false`) or
    /// the task died of it.
    Killed { fatal: bool },
}

impl Outcome {
    /// A short description with addresses named after the layout.
    pub fn describe(&self, l: &Layout) -> String {
        match self {
            Outcome::Aborted { to } => format!("aborted({})", l.describe(*to)),
            Outcome::Cleared => "cleared".into(),
            Outcome::Unchanged => "unchanged".into(),
            Outcome::Rewritten { rseq_cs } => format!("rewritten({rseq_cs:#x})"),
            Outcome::Killed { fatal: true } => "killed(fatal)".into(),
            Outcome::Killed { fatal: false } => "killed(caught)".into(),
        }
    }
}

/// Why a live run gave no outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveError {
    /// The case cannot run here (a page the host does not have free, an
    /// abort IP the harness will not execute at).
    Skipped(String),
    /// Something disturbed the run (a stray preemption): run it again.
    Noise(String),
    /// The case did not end within the time bound, and its child was
    /// killed.
    TimedOut(String),
    /// The harness failed (a crash outside a trigger, a broken pipe).
    Harness(String),
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Skipped(s) => write!(f, "skipped: {s}"),
            LiveError::Noise(s) => write!(f, "noise: {s}"),
            LiveError::TimedOut(s) | LiveError::Harness(s) => write!(f, "harness error: {s}"),
        }
    }
}

/// The outcome from where execution resumed and what rseq_cs holds then;
/// used for the child and the model alike.
pub fn classify(res: &Resolved, resume_ip: u64, rseq_cs: u64) -> Outcome {
    if resume_ip != res.site_ip {
        Outcome::Aborted { to: resume_ip }
    } else if rseq_cs == 0 {
        Outcome::Cleared
    } else if rseq_cs == res.rseq_cs {
        Outcome::Unchanged
    } else {
        Outcome::Rewritten { rseq_cs }
    }
}

/// A case resolved against the harness, with the model's copy of the
/// child's memory.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub resolved: Resolved,
    pub mem: UserMem,
}

/// How many times a noisy live run is repeated.
pub const NOISE_RETRIES: u32 = 5;
/// How many times a live run that disagrees with the model is repeated.
pub const MISMATCH_RERUNS: u32 = 3;
/// How many times a live run that timed out is repeated. A machine that
/// stalls (a virtual machine's CPU starved by its host) times a case out
/// once: two of 30,000 random cases on the slice kernel under QEMU, with
/// another machine and a fuzzer beside it (2026-12-08), then agreed in 200
/// runs each without a timeout. A case that hangs the kernel times out
/// every time.
pub const TIMEOUT_RERUNS: u32 = 1;

#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
type Inner = host::Harness;

/// Stand-in on hosts without the harness: it cannot be built.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu")))]
enum Inner {}

/// Run a slice probe on the host kernel ([`mod@slice`]).
#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
pub fn run_slice_probe(ops: &[slice::SliceOp]) -> Result<slice::ChildRun, String> {
    host::run_slice_probe(ops)
}

/// The architecture of this host, for the model ([`ModelChoice::for_arch`]).
#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
pub fn host_arch() -> Result<Arch, String> {
    Ok(host::host_arch())
}

/// Why this host has no live harness.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu")))]
fn unsupported_host() -> String {
    format!(
        "unsupported: the live harness needs x86_64 Linux with glibc (this is {} {})",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu")))]
pub fn run_slice_probe(_ops: &[slice::SliceOp]) -> Result<slice::ChildRun, String> {
    Err(unsupported_host())
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu")))]
pub fn host_arch() -> Result<Arch, String> {
    Err(unsupported_host())
}

/// The live harness of this process.
pub struct LiveHarness {
    inner: Inner,
}

#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
impl LiveHarness {
    /// Start the harness (a first child), or say why the host is unsupported.
    pub fn new() -> Result<LiveHarness, String> {
        Ok(LiveHarness {
            inner: host::Harness::new()?,
        })
    }

    pub fn layout(&self) -> &Layout {
        self.inner.layout()
    }

    /// Children forked so far (one per fatal case, plus the first).
    pub fn forks(&self) -> u64 {
        self.inner.forks
    }

    fn peek(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        self.inner.peek(addr, buf)
    }

    fn run_resolved(&mut self, res: &Resolved) -> Result<Outcome, LiveError> {
        self.inner.run(res)
    }

    /// Test hook: make the child hang in a case and return what the time
    /// bound made of it.
    #[doc(hidden)]
    pub fn stall_child_for_test(&mut self) -> Result<Outcome, LiveError> {
        let layout = self.layout().clone();
        let res = resolve(&LiveCase::default(), &layout).map_err(LiveError::Skipped)?;
        self.inner.stall(&res)
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu")))]
impl LiveHarness {
    /// Start the harness, or say why the host is unsupported.
    pub fn new() -> Result<LiveHarness, String> {
        Err(unsupported_host())
    }

    pub fn layout(&self) -> &Layout {
        match self.inner {}
    }

    pub fn forks(&self) -> u64 {
        match self.inner {}
    }

    fn peek(&mut self, _addr: u64, _buf: &mut [u8]) -> bool {
        match self.inner {}
    }

    fn run_resolved(&mut self, _res: &Resolved) -> Result<Outcome, LiveError> {
        match self.inner {}
    }

    #[doc(hidden)]
    pub fn stall_child_for_test(&mut self) -> Result<Outcome, LiveError> {
        match self.inner {}
    }
}

impl LiveHarness {
    /// Resolve a case and build the model's copy of the child's memory
    /// (reading the pages outside the arena from the child). Refuses a case
    /// that could make the child execute at an address the case chose.
    pub fn prepare(&mut self, case: &LiveCase) -> Result<Prepared, LiveError> {
        let layout = self.layout().clone();
        let resolved = resolve(case, &layout).map_err(LiveError::Skipped)?;
        let mem = model::model_memory(&layout, &resolved, &mut |a, b| self.peek(a, b));
        if let Some(ip) = model::unsafe_abort_target(&layout, &resolved, &mem) {
            return Err(LiveError::Skipped(format!(
                "nanosleep would return to {ip:#x}, outside the pads and the arena"
            )));
        }
        Ok(Prepared { resolved, mem })
    }

    /// Run a prepared case live, repeating noisy runs ([`NOISE_RETRIES`])
    /// and runs that timed out ([`TIMEOUT_RERUNS`]).
    pub fn run_prepared(&mut self, p: &Prepared) -> Result<Outcome, LiveError> {
        repeat_disturbed_runs(|| self.run_resolved(&p.resolved))
    }

    /// Prepare and run a case live.
    pub fn run_case(&mut self, case: &LiveCase) -> Result<Outcome, LiveError> {
        let p = self.prepare(case)?;
        self.run_prepared(&p)
    }
}

/// Run a live case with `run`, again after a noisy run (up to
/// [`NOISE_RETRIES`] times) or one that timed out (up to
/// [`TIMEOUT_RERUNS`] times); the last result stands.
pub fn repeat_disturbed_runs(
    mut run: impl FnMut() -> Result<Outcome, LiveError>,
) -> Result<Outcome, LiveError> {
    let (mut noisy, mut timed_out) = (0, 0);
    loop {
        match run() {
            Err(LiveError::Noise(_)) if noisy < NOISE_RETRIES => noisy += 1,
            Err(LiveError::TimedOut(_)) if timed_out < TIMEOUT_RERUNS => timed_out += 1,
            other => return other,
        }
    }
}

/// With glibc's registration off (GLIBC_TUNABLES=glibc.pthread.rseq=0),
/// the length (32 to 256) the harness registers its own area with; 32 when
/// unset. The model is registered with the same length.
pub const OWN_AREA_LEN_ENV: &str = "RSEQ_FUZZ_LIVE_AREA_LEN";

/// The length the harness registers its own area with, when libc did not
/// register one: [`OWN_AREA_LEN_ENV`], else 32. A length above 32 puts a
/// v7.1+ kernel's registration in the optimized V2 mode, which glibc's 32
/// never does.
pub fn own_area_len() -> Result<u32, String> {
    match std::env::var(OWN_AREA_LEN_ENV) {
        Err(_) => Ok(32),
        Ok(v) => match v.parse::<u32>() {
            Ok(len @ 32..=256) => Ok(len),
            _ => Err(format!(
                "{OWN_AREA_LEN_ENV}={v}: the harness registers 32 to 256 bytes"
            )),
        },
    }
}

/// The host kernel's release string (uname -r).
pub fn host_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The model that describes a kernel release: the legacy model up to 6.18,
/// then the matching later one.
pub fn model_name_for_release(release: &str) -> Option<&'static str> {
    let mut it = release.split(['.', '-', '+']);
    let major: u32 = it.next()?.parse().ok()?;
    let minor: u32 = it.next()?.parse().ok()?;
    Some(match (major, minor) {
        (0..=5, _) | (6, 0..=18) => "v6.18",
        (6, _) => "v6.19",
        (7, 0) => "v7.0",
        _ => "v7.1",
    })
}

/// The host kernel's configuration (/boot/config-RELEASE, else
/// /proc/config.gz), if it can be read. Read once.
fn host_kernel_config() -> Option<&'static str> {
    static CONFIG: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let release = host_release();
            std::fs::read_to_string(format!("/boot/config-{release}"))
                .ok()
                .or_else(|| {
                    std::process::Command::new("gzip")
                        .args(["-dc", "/proc/config.gz"])
                        .stderr(std::process::Stdio::null())
                        .output()
                        .ok()
                        .filter(|o| o.status.success() && !o.stdout.is_empty())
                        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                })
        })
        .as_deref()
}

/// Whether a kernel configuration sets `option=y`.
pub fn config_has(config: &str, option: &str) -> bool {
    config
        .lines()
        .any(|l| l.trim().strip_prefix(option) == Some("=y"))
}

/// The value of the last `rseq_debug=` on a kernel command line, read as
/// kernel/rseq.c rseq_setup_debug() reads it (kstrtobool(): y/t/1 or "on",
/// n/f/0 or "off"); None when absent or unreadable (the key keeps its
/// default).
pub fn cmdline_rseq_debug(cmdline: &str) -> Option<bool> {
    let value = cmdline
        .split_whitespace()
        .rev()
        .find_map(|w| w.strip_prefix("rseq_debug="))?;
    let b = value.as_bytes();
    match b.first()? {
        b'y' | b'Y' | b't' | b'T' | b'1' => Some(true),
        b'n' | b'N' | b'f' | b'F' | b'0' => Some(false),
        b'o' | b'O' => match b.get(1)? {
            b'n' | b'N' => Some(true),
            b'f' | b'F' => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the host kernel checks rseq in debug mode for the model `name`,
/// as far as can be read (false when nothing can): in legacy kernels
/// CONFIG_DEBUG_RSEQ; in the rework the `rseq_debug` static key, which
/// `rseq_debug=` on the command line sets, else its default
/// CONFIG_RSEQ_DEBUG_DEFAULT_ENABLE (which CONFIG_DEBUG_RSEQ selects).
pub fn host_debug_rseq(name: &str) -> bool {
    let config = host_kernel_config();
    if name == "v6.18" {
        return config.is_some_and(|c| config_has(c, "CONFIG_DEBUG_RSEQ"));
    }
    // Read once: the live_kernel fuzz target asks for every input.
    static CMDLINE: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();
    let from_cmdline = *CMDLINE.get_or_init(|| {
        cmdline_rseq_debug(&std::fs::read_to_string("/proc/cmdline").unwrap_or_default())
    });
    from_cmdline.unwrap_or_else(|| {
        config.is_some_and(|c| {
            config_has(c, "CONFIG_DEBUG_RSEQ") || config_has(c, "CONFIG_RSEQ_DEBUG_DEFAULT_ENABLE")
        })
    })
}

/// Whether the host kernel has the time-slice extension built in
/// (CONFIG_RSEQ_SLICE_EXTENSION, v7.0+), or None when its configuration
/// cannot be read.
pub fn host_slice_extension() -> Option<bool> {
    host_kernel_config().map(|c| config_has(c, "CONFIG_RSEQ_SLICE_EXTENSION"))
}

/// The registry name of the model of the host's release (the legacy model
/// for a release it cannot read).
pub fn host_model_name() -> &'static str {
    model_name_for_release(&host_release()).unwrap_or("v6.18")
}

/// The model a live comparison uses on this host.
pub struct ModelChoice {
    /// The registry name, e.g. "v6.18".
    pub name: String,
    pub entry: Option<&'static VersionEntry>,
    pub cfg: Config,
}

impl ModelChoice {
    /// The model of the host's version, configured like the host.
    pub fn host(layout: &Layout) -> ModelChoice {
        Self::named(layout, host_model_name())
    }

    /// The model `name` (a registry name), configured like the host: for a
    /// kernel whose release number does not tell its rseq code (a
    /// distribution kernel with the rework backported, a tree between
    /// releases).
    pub fn named(layout: &Layout, name: &str) -> ModelChoice {
        let arch = if layout.task_size == Arch::X86_64La57.task_size() {
            Arch::X86_64La57
        } else {
            Arch::X86_64
        };
        Self::for_arch(arch, name)
    }

    /// The model `name` for a host of architecture `arch`, configured like
    /// the host.
    pub fn for_arch(arch: Arch, name: &str) -> ModelChoice {
        let debug = host_debug_rseq(name);
        let slice = host_slice_extension();
        let entry = versions::find(name);
        // The build like the host's: its architecture and debug mode, and,
        // where the configuration says, whether the slice extension is built
        // in (its key is taken to be on, the default). Without the
        // configuration, the first build of that architecture and mode.
        let cfg = entry
            .and_then(|e| {
                let builds = (e.configs)();
                let like_host = |c: &&Config| c.arch == arch && c.debug == debug;
                slice
                    .and_then(|s| {
                        builds
                            .iter()
                            .filter(like_host)
                            .find(|c| c.slice_extension == s && (!s || c.slice_key))
                    })
                    .or_else(|| builds.iter().find(like_host))
                    .copied()
            })
            .unwrap_or_else(|| Config::native(arch, debug));
        ModelChoice {
            name: name.to_string(),
            entry,
            cfg,
        }
    }

    /// Why there is no model, if there is none.
    pub fn missing(&self) -> Option<String> {
        self.entry
            .is_none()
            .then(|| format!("model {} not registered", self.name))
    }
}

/// Builds a model machine (a registry entry, or a test's own version).
pub type ModelBuilder<'a> = &'a dyn Fn(Config, Setup) -> Box<dyn Model>;

/// How a case compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Agree,
    Disagree,
    /// Live ran; there is no model to compare with.
    NoModel,
    Skipped,
    /// The live harness or the model failed.
    Error,
}

/// One case's comparison.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    pub name: String,
    pub live: Result<Outcome, String>,
    pub model: Result<Outcome, String>,
    pub verdict: Verdict,
    /// Live re-runs after a first disagreement.
    pub reruns: u32,
    #[serde(skip)]
    pub live_time: Duration,
    #[serde(skip)]
    pub model_time: Duration,
}

/// Run one case live and through the model; re-run a disagreement before
/// believing it.
pub fn check_case(
    h: &mut LiveHarness,
    case: &LiveCase,
    model: Result<(ModelBuilder<'_>, Config), String>,
) -> CaseReport {
    let mut report = CaseReport {
        name: case.name.clone(),
        live: Err(String::new()),
        model: Err(String::new()),
        verdict: Verdict::Error,
        reruns: 0,
        live_time: Duration::ZERO,
        model_time: Duration::ZERO,
    };
    let p = match h.prepare(case) {
        Ok(p) => p,
        Err(e) => {
            report.verdict = match e {
                LiveError::Skipped(_) => Verdict::Skipped,
                _ => Verdict::Error,
            };
            report.live = Err(e.to_string());
            report.model = Err("not run".into());
            return report;
        }
    };
    let layout = h.layout().clone();
    report.model = match model {
        Ok((build, cfg)) => {
            let t = Instant::now();
            let r = model::model_outcome(build, cfg, &layout, &p.resolved, p.mem.clone());
            report.model_time = t.elapsed();
            r
        }
        Err(why) => Err(why),
    };
    let t = Instant::now();
    let mut live = h.run_prepared(&p);
    report.live_time = t.elapsed();
    if let (Ok(m), Ok(l)) = (&report.model, &live) {
        if m != l {
            for _ in 0..MISMATCH_RERUNS {
                report.reruns += 1;
                let again = h.run_prepared(&p);
                if again.as_ref() == Ok(m) {
                    live = again;
                    break;
                }
            }
        }
    }
    report.verdict = match (&live, &report.model) {
        (Err(LiveError::Skipped(_)), _) => Verdict::Skipped,
        (Err(_), _) => Verdict::Error,
        (Ok(l), Ok(m)) if l == m => Verdict::Agree,
        (Ok(_), Ok(_)) => Verdict::Disagree,
        (Ok(_), Err(why)) if why.contains("not registered") => Verdict::NoModel,
        (Ok(_), Err(_)) => Verdict::Error,
    };
    report.live = live.map_err(|e| e.to_string());
    report
}

/// The model of a [`ModelChoice`] as the argument [`check_case`] takes.
fn with_model<R>(
    choice: &ModelChoice,
    f: impl FnOnce(Result<(ModelBuilder<'_>, Config), String>) -> R,
) -> R {
    match choice.entry {
        Some(entry) => {
            let build = move |cfg: Config, setup: Setup| entry.machine(cfg, setup);
            f(Ok((&build, choice.cfg)))
        }
        None => f(Err(choice.missing().unwrap_or_default())),
    }
}

/// Totals of a run of cases.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub cases: usize,
    pub agree: usize,
    pub disagree: usize,
    pub no_model: usize,
    pub skipped: usize,
    pub errors: usize,
    /// Live runs that disagreed first and agreed on a re-run.
    pub noise: usize,
    pub live_fatal: usize,
    pub live_non_fatal: usize,
    pub live_seconds: f64,
    pub model_seconds: f64,
    pub live_fatal_per_s: f64,
    pub live_non_fatal_per_s: f64,
    pub model_per_s: f64,
    pub forks: u64,
}

fn per_s(n: usize, t: Duration) -> f64 {
    if t.is_zero() {
        0.0
    } else {
        n as f64 / t.as_secs_f64()
    }
}

/// The xorshift64 generator of the random live cases and slice probes: the
/// same seed makes the same cases on every host and every run.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// One element of a non-empty list.
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next_u64() % from.len() as u64) as usize]
    }
}

/// `n` cases for a kernel in a virtual machine, where no fuzzer runs: each
/// is a case of the built-in suite with a few of its fields (each with
/// probability 1/8) taken from a case the live_kernel fuzz target's decoder
/// makes of bytes from a deterministic stream seeded with `seed`. Wholly
/// random cases are nearly all kills (a random signature never matches);
/// mixing keeps most of a valid case and varies the rest.
pub fn random_cases(seed: u64, n: usize) -> Vec<LiveCase> {
    let base = suite::suite();
    let mut rng = XorShift::new(seed);
    let mut next = move || rng.next_u64();
    let mut cases = Vec::with_capacity(n);
    let mut tries = 0;
    while cases.len() < n && tries < 4 * n + 16 && !base.is_empty() {
        tries += 1;
        let data: Vec<u8> = (0..96).map(|_| next() as u8).collect();
        let mut u = arbitrary::Unstructured::new(&data);
        let Ok(other) = <LiveCase as arbitrary::Arbitrary>::arbitrary(&mut u) else {
            continue;
        };
        let mut case = base[(next() % base.len() as u64) as usize].case.clone();
        // Field i comes from `other` when bits 3i..3i+3 of the mask are 0.
        let mask = next();
        let mut bit = 0;
        macro_rules! mix {
            ($($field:ident),*) => {$(
                if (mask >> (3 * bit)) & 7 == 0 {
                    case.$field = other.$field;
                }
                bit += 1;
            )*};
        }
        mix!(
            site,
            trigger,
            rseq_cs,
            desc_at,
            version,
            flags,
            start_ip,
            post_commit,
            abort_ip,
            sig_at,
            sig_value,
            desc_pages,
            sig_pages,
            top_page,
            area_flags
        );
        let _ = bit; // the last increment
        case.name = format!("random_{seed}_{}", cases.len());
        cases.push(case);
    }
    cases
}

/// `rseq-fuzz live [--cases FILE | --random SEED] [--count N] [--model V]`:
/// run the built-in suite (or the cases of a JSON file, or
/// [`random_cases`]) live and through the model of the host's version (or
/// V). Exit 0 when everything agrees (or there is nothing to compare
/// with), 1 on a disagreement that survives re-runs or a harness error, 2 on
/// bad input.
pub fn cli_live(
    cases_file: Option<&Path>,
    random_seed: Option<u64>,
    count: Option<usize>,
    model: Option<&str>,
    json: bool,
) -> i32 {
    if let Some(name) = model {
        if versions::find(name).is_none() {
            eprintln!("rseq-fuzz live: unknown model '{name}' (see `rseq-fuzz versions`)");
            return 2;
        }
    }
    if let Err(e) = own_area_len() {
        eprintln!("rseq-fuzz live: {e}");
        return 2;
    }
    let (cases, expects): (Vec<LiveCase>, Vec<Option<suite::Expect>>) =
        match (cases_file, random_seed) {
            (None, Some(seed)) => {
                let c = random_cases(seed, count.unwrap_or(1000));
                let n = c.len();
                (c, vec![None; n])
            }
            (Some(path), _) => match load_cases(path) {
                Ok(c) => {
                    let n = c.len();
                    (c, vec![None; n])
                }
                Err(e) => {
                    eprintln!("rseq-fuzz live: {e}");
                    return 2;
                }
            },
            (None, None) => suite::suite()
                .into_iter()
                .map(|s| (s.case, Some(s.expect)))
                .unzip(),
        };
    let mut h = match LiveHarness::new() {
        Ok(h) => h,
        Err(e) => {
            println!("{e}");
            return 0;
        }
    };
    let layout = h.layout().clone();
    let choice = match model {
        Some(name) => ModelChoice::named(&layout, name),
        None => ModelChoice::host(&layout),
    };
    let total = if cases.is_empty() {
        0
    } else {
        count.unwrap_or(cases.len())
    };
    if !json {
        println!(
            "host {} ({}), model {} [{}]{}",
            host_release(),
            if layout.task_size == Arch::X86_64La57.task_size() {
                "la57"
            } else {
                "4-level paging"
            },
            choice.name,
            choice.cfg,
            choice
                .missing()
                .map(|m| format!(": {m}, live outcomes only"))
                .unwrap_or_default()
        );
    }
    let mut sum = Summary::default();
    let mut live_fatal_t = Duration::ZERO;
    let mut live_nf_t = Duration::ZERO;
    let mut model_t = Duration::ZERO;
    let mut model_n = 0usize;
    let mut reports = Vec::new();
    for i in 0..total {
        let case = &cases[i % cases.len()];
        let r = with_model(&choice, |m| check_case(&mut h, case, m));
        sum.cases += 1;
        match r.verdict {
            Verdict::Agree => sum.agree += 1,
            Verdict::Disagree => sum.disagree += 1,
            Verdict::NoModel => sum.no_model += 1,
            Verdict::Skipped => sum.skipped += 1,
            Verdict::Error => sum.errors += 1,
        }
        if r.reruns > 0 && r.verdict == Verdict::Agree {
            sum.noise += 1;
        }
        match r.live {
            Ok(Outcome::Killed { fatal: true }) => {
                sum.live_fatal += 1;
                live_fatal_t += r.live_time;
            }
            Ok(_) => {
                sum.live_non_fatal += 1;
                live_nf_t += r.live_time;
            }
            Err(_) => {}
        }
        if r.model.is_ok() {
            model_n += 1;
            model_t += r.model_time;
        }
        let first_pass = i < cases.len();
        let expect = expects[i % cases.len()];
        let spec =
            expect.and_then(|e| resolve(case, &layout).ok().map(|res| e.outcome(case, &res)));
        if json {
            if first_pass || r.verdict == Verdict::Disagree {
                reports.push(serde_json::json!({
                    "case": case,
                    "report": r,
                    "spec": spec,
                }));
            }
        } else if first_pass || r.verdict == Verdict::Disagree {
            print_report(&layout, &r, spec);
        }
    }
    sum.live_seconds = (live_fatal_t + live_nf_t).as_secs_f64();
    sum.model_seconds = model_t.as_secs_f64();
    sum.live_fatal_per_s = per_s(sum.live_fatal, live_fatal_t);
    sum.live_non_fatal_per_s = per_s(sum.live_non_fatal, live_nf_t);
    sum.model_per_s = per_s(model_n, model_t);
    sum.forks = h.forks();
    if json {
        let doc = serde_json::json!({
            "host": host_release(),
            "model": choice.name,
            "config": choice.cfg.name(),
            "model_missing": choice.missing(),
            "cases": reports,
            "summary": sum,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!(
            "{} cases: {} agree, {} disagree, {} live only ({}), {} skipped, {} errors; {} re-run agreements (noise)",
            sum.cases,
            sum.agree,
            sum.disagree,
            sum.no_model,
            choice.missing().unwrap_or_else(|| "model present".into()),
            sum.skipped,
            sum.errors,
            sum.noise
        );
        println!(
            "live: {} non-fatal at {:.0}/s, {} fatal at {:.0}/s ({} forks); model: {:.0}/s",
            sum.live_non_fatal,
            sum.live_non_fatal_per_s,
            sum.live_fatal,
            sum.live_fatal_per_s,
            sum.forks,
            sum.model_per_s
        );
    }
    if sum.disagree > 0 || sum.errors > 0 {
        1
    } else {
        0
    }
}

fn print_report(l: &Layout, r: &CaseReport, spec: Option<Outcome>) {
    let show = |o: &Result<Outcome, String>| match o {
        Ok(o) => o.describe(l),
        Err(e) => e.clone(),
    };
    let tag = match r.verdict {
        Verdict::Agree => "agree",
        Verdict::Disagree => "DISAGREE",
        Verdict::NoModel => "live",
        Verdict::Skipped => "skip",
        Verdict::Error => "ERROR",
    };
    let spec_note = match (spec, &r.live) {
        (Some(s), Ok(live)) if s != *live => format!("  spec={} (differs)", s.describe(l)),
        _ => String::new(),
    };
    let model = match (&r.verdict, &r.model) {
        (Verdict::NoModel, _) => String::new(),
        (_, m) => format!("  model={}", show(m)),
    };
    let reruns = if r.reruns > 0 {
        format!("  ({} re-runs)", r.reruns)
    } else {
        String::new()
    };
    println!(
        "{tag:<9}{:<44} live={}{model}{spec_note}{reruns}",
        r.name,
        show(&r.live)
    );
}

/// Read a JSON list of cases.
pub fn load_cases(path: &Path) -> Result<Vec<LiveCase>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JSON list of live cases: {e}", path.display()))
}

thread_local! {
    static TARGET_HARNESS: std::cell::RefCell<Option<Result<LiveHarness, String>>> =
        const { std::cell::RefCell::new(None) };
}

/// The `live_kernel` fuzz target: decode a case, run it live and through the
/// model of the host's version, and panic on a disagreement that survives
/// re-runs. Does nothing on an unsupported host or without the model.
pub fn live_kernel_target(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(case) = <LiveCase as arbitrary::Arbitrary>::arbitrary(&mut u) else {
        return;
    };
    TARGET_HARNESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let h = slot.get_or_insert_with(LiveHarness::new);
        let Ok(h) = h else { return };
        let choice = ModelChoice::host(h.layout());
        if choice.entry.is_none() {
            return;
        }
        let r = with_model(&choice, |m| check_case(h, &case, m));
        if r.verdict == Verdict::Disagree {
            let l = h.layout();
            let show = |o: &Result<Outcome, String>| match o {
                Ok(o) => o.describe(l),
                Err(e) => e.clone(),
            };
            panic!(
                "oracle live-conformance failed: live {} but model {} {} [{}] after {} re-runs; case {}",
                show(&r.live),
                choice.name,
                show(&r.model),
                choice.cfg,
                r.reruns,
                serde_json::to_string(&case).unwrap_or_default()
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rseq_debug_is_read_as_kstrtobool() {
        for (cmdline, want) in [
            ("console=ttyS0 rseq_debug=1", Some(true)),
            ("rseq_debug=on quiet", Some(true)),
            ("rseq_debug=Yes", Some(true)),
            ("rseq_debug=1 rseq_debug=off", Some(false)),
            ("rseq_debug=0", Some(false)),
            ("rseq_debug=nope", Some(false)),
            ("rseq_debug=maybe", None),
            ("rseq_debug=", None),
            ("rseq_debug=o", None),
            ("xrseq_debug=1 quiet", None),
        ] {
            assert_eq!(cmdline_rseq_debug(cmdline), want, "{cmdline}");
        }
    }

    #[test]
    fn a_timed_out_run_is_repeated_once_and_a_noisy_one_five_times() {
        let runs = |results: Vec<Result<Outcome, LiveError>>| {
            let mut left = results.into_iter();
            let mut calls = 0;
            let last = repeat_disturbed_runs(|| {
                calls += 1;
                left.next().unwrap_or(Ok(Outcome::Unchanged))
            });
            (calls, last)
        };
        let timeout = || Err(LiveError::TimedOut("case timed out".into()));
        let noise = || Err(LiveError::Noise("stray preemption".into()));
        // A stall once: the second run stands.
        let (calls, last) = runs(vec![timeout()]);
        assert_eq!((calls, last.ok()), (2, Some(Outcome::Unchanged)));
        // A hang every time: reported after one repeat.
        let (calls, last) = runs(vec![timeout(), timeout(), timeout()]);
        assert_eq!(calls, 2);
        assert!(matches!(last, Err(LiveError::TimedOut(_))), "{last:?}");
        // Noise is repeated up to five times, apart from the timeouts.
        let (calls, last) = runs(vec![noise(), timeout(), noise(), noise()]);
        assert_eq!((calls, last.ok()), (5, Some(Outcome::Unchanged)));
        let (calls, last) = runs((0..7).map(|_| noise()).collect());
        assert_eq!(calls, 6);
        assert!(matches!(last, Err(LiveError::Noise(_))), "{last:?}");
        // Other errors and outcomes are final.
        let (calls, _) = runs(vec![Err(LiveError::Harness("broken pipe".into()))]);
        assert_eq!(calls, 1);
    }

    #[test]
    fn random_cases_are_deterministic_and_mostly_suite_cases() {
        let a = random_cases(7, 200);
        assert_eq!(a.len(), 200);
        assert_eq!(a, random_cases(7, 200), "same seed, same cases");
        assert_ne!(a, random_cases(8, 200));
        let names: std::collections::BTreeSet<_> = a.iter().map(|c| c.name.clone()).collect();
        assert_eq!(names.len(), a.len(), "unique names");
        // Each field comes from the suite case with probability 7/8: most
        // cases keep the suite's signature.
        let suite_sig = suite::suite()[0].case.sig_value;
        let kept = a.iter().filter(|c| c.sig_value == suite_sig).count();
        assert!(kept > 150, "{kept} of 200 keep the signature");
    }

    #[test]
    fn config_options_are_matched_whole() {
        let c = "# CONFIG_RSEQ_SLICE_EXTENSION is not set\nCONFIG_DEBUG_RSEQ_EXTRA=y\n  CONFIG_RSEQ=y\nCONFIG_X=m\n";
        assert!(config_has(c, "CONFIG_RSEQ"));
        assert!(!config_has(c, "CONFIG_RSEQ_SLICE_EXTENSION"));
        assert!(!config_has(c, "CONFIG_DEBUG_RSEQ"));
        assert!(!config_has(c, "CONFIG_X"), "a module is not built in");
    }

    #[test]
    fn releases_map_to_models() {
        assert_eq!(model_name_for_release("6.18.44-fc-v769"), Some("v6.18"));
        assert_eq!(model_name_for_release("6.1.0-18-amd64"), Some("v6.18"));
        assert_eq!(model_name_for_release("6.19.2"), Some("v6.19"));
        assert_eq!(model_name_for_release("7.0.0-rc3"), Some("v7.0"));
        assert_eq!(model_name_for_release("7.1"), Some("v7.1"));
        assert_eq!(model_name_for_release("garbage"), None);
    }
}
