//! Runs a lowered scenario on one version and configuration, step by step,
//! while the ABI classifier watches the program and the window facts the
//! oracles need are collected (how the task entered the kernel, whether it
//! was inside a critical section then, what happened before it returned).

use crate::config::Config;
use crate::kernel::{Event, Mode, Model, Observation, Syscall, NR_CPUS};
use crate::oracles::abi::{AbiChecker, CsAtEntry, Violation};
use crate::scenario::Lowered;
use crate::trace::{Trace, TraceEvent};
use crate::versions::VersionEntry;

/// What happened between two returns to user mode.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    /// The IP when the task entered the kernel (None: it was already in it).
    pub entry_ip: Option<u64>,
    /// Entered by a syscall (else an interrupt or exception).
    pub entry_syscall: bool,
    /// The critical section the program was in at that entry, if any (a
    /// valid descriptor at the program's rseq_cs covering the IP).
    pub cs_at_entry: Option<CsAtEntry>,
    pub preempted: bool,
    pub migrated: bool,
    pub cid_changed: bool,
    pub membarrier: bool,
    /// (signal, saved IP) of every frame built in the window.
    pub frames: Vec<(u8, u64)>,
    /// The program had broken no ABI rule up to the end of this window.
    pub conforming: bool,
    /// A syscall of the window sets the IP itself (rt_sigreturn popping a
    /// frame, a successful execve), so the IP at the return is not the
    /// entry's.
    pub ip_replaced: bool,
    /// The IP rt_sigreturn restores from the frame it pops, when that IP
    /// lies in no critical section of the program's: rseq has no business
    /// moving it then.
    pub restored_ip_outside_cs: Option<u64>,
}

/// One version's run of a scenario.
#[derive(Debug)]
pub struct Run {
    pub version: &'static str,
    pub config: Config,
    pub faultless: bool,
    pub observations: Vec<Observation>,
    /// One per observation.
    pub windows: Vec<Window>,
    pub trace: Trace,
    /// Each ABI rule the program broke, once, at its first break.
    pub violations: Vec<Violation>,
    pub task_size: u64,
}

impl Run {
    /// `version/config`, as findings name runs.
    pub fn name(&self) -> String {
        crate::scenario::registered_run_name(self.version, &self.config).map_or_else(
            || format!("{}/{}", self.version, self.config.name()),
            str::to_string,
        )
    }
}

/// Run `lowered` on one version under `cfg`. With `faultless`, every
/// resolvable page is present throughout (the fault-transparency reference).
pub fn run(entry: &VersionEntry, cfg: Config, lowered: &Lowered, faultless: bool) -> Run {
    let mut setup = lowered.setup.clone();
    if faultless {
        setup.mem.make_faultless();
    }
    let mut model = entry.machine(cfg, setup);
    let mut abi = AbiChecker::new(lowered);
    let mut windows = Vec::new();
    let mut win = Window::default();
    for (i, ev) in lowered.events.iter().enumerate() {
        // The machine returns a task in the kernel to user mode before a
        // user action or a syscall; do it here as its own step, so that the
        // classifier and the window see the IP the program really has then.
        let needs_user = matches!(ev, Event::Syscall(_) | Event::SetIp { .. });
        if needs_user && model.current().mode != Mode::User {
            let seen = model.observations().len();
            note_before(&mut win, &mut abi, i, &Event::ExitToUser, model.as_ref());
            model.step(i, &Event::ExitToUser);
            close_windows(&mut windows, &mut win, &abi, model.as_ref(), seen);
        }
        note_before(&mut win, &mut abi, i, ev, model.as_ref());
        let seen = model.observations().len();
        model.step(i, ev);
        close_windows(&mut windows, &mut win, &abi, model.as_ref(), seen);
    }
    let seen = model.observations().len();
    let end = lowered.events.len();
    note_before(&mut win, &mut abi, end, &Event::ExitToUser, model.as_ref());
    model.finish(end);
    close_windows(&mut windows, &mut win, &abi, model.as_ref(), seen);
    let (observations, trace) = model.into_parts();
    Run {
        version: entry.name,
        config: cfg,
        faultless,
        observations,
        windows,
        trace,
        violations: abi.violations,
        task_size: cfg.task_size(),
    }
}

/// Before an event: let the ABI classifier judge it, and note what the
/// window needs to know.
fn note_before(win: &mut Window, abi: &mut AbiChecker, i: usize, ev: &Event, model: &dyn Model) {
    abi.before(i, ev, model);
    let t = model.current();
    match ev {
        Event::Syscall(sc) => {
            // A syscall from the kernel returns to user first (a new window).
            if t.mode == Mode::User {
                note_entry(win, abi, model, Some(true));
            }
            if matches!(sc, Syscall::Membarrier { own_cpu: true }) {
                win.membarrier = true;
            }
            if matches!(sc, Syscall::Execve { ok: true }) {
                win.ip_replaced = true;
            }
            // With no frame to pop the model leaves the IP alone (the
            // kernel would find garbage on the stack).
            if let (Syscall::Sigreturn, Some(frame)) = (sc, t.frames.last()) {
                win.ip_replaced = true;
                win.restored_ip_outside_cs = abi
                    .cs_at(frame.saved_ip, model)
                    .is_none()
                    .then_some(frame.saved_ip);
            }
        }
        // From user mode each of these enters the kernel by an interrupt
        // (Machine::ensure_kernel), NeedResched too: the IRQ that sets it.
        Event::Interrupt
        | Event::Exception
        | Event::Signal { .. }
        | Event::SliceTimer
        | Event::NeedResched
        | Event::TaskWork => note_entry(win, abi, model, Some(false)),
        Event::SwitchOut => {
            note_entry(win, abi, model, Some(false));
            win.preempted = true;
        }
        Event::SwitchIn { cpu, mm_cid } => {
            note_entry(win, abi, model, Some(false));
            win.preempted = true;
            win.migrated |= cpu % NR_CPUS != t.cpu;
            win.cid_changed |= mm_cid % NR_CPUS != t.mm_cid;
        }
        Event::MembarrierIpi => {
            note_entry(win, abi, model, Some(false));
            win.membarrier = true;
        }
        _ => {}
    }
}

/// Record the entry into the kernel if the task is in user mode now.
fn note_entry(win: &mut Window, abi: &mut AbiChecker, model: &dyn Model, syscall: Option<bool>) {
    let t = model.current();
    if t.mode != Mode::User || win.entry_ip.is_some() {
        return;
    }
    if let Some(sys) = syscall {
        win.entry_ip = Some(t.ip);
        win.entry_syscall = sys;
        win.cs_at_entry = abi.cs_at(t.ip, model);
    }
}

/// After an event: every new observation closes a window.
fn close_windows(
    windows: &mut Vec<Window>,
    win: &mut Window,
    abi: &AbiChecker,
    model: &dyn Model,
    seen: usize,
) {
    let obs = model.observations();
    for o in &obs[seen.min(obs.len())..] {
        let mut w = std::mem::take(win);
        let trace = &model.trace().events;
        let (a, b) = o.trace_range;
        for e in trace.get(a..b).unwrap_or(&[]) {
            if let TraceEvent::SignalFrame { sig, saved_ip } = e {
                w.frames.push((*sig, *saved_ip));
            }
        }
        w.conforming = abi.violations.is_empty();
        windows.push(w);
    }
}
