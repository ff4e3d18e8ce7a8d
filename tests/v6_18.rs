//! Tests of the v6.18 (legacy) model: every decision point reached with its
//! outcome asserted, every row of spec §6 for the L and Ld columns, the
//! signal-delivery kill paths, and a robustness run through every
//! configuration.

use rseq_fuzz::abi::{self, errno, rseq as field, sig, Arch};
use rseq_fuzz::config::Config;
use rseq_fuzz::kernel::{
    Event, Fate, Kctx, KernelVersion, Machine, Mode, Model, Syscall, Task, NR_CPUS,
};
use rseq_fuzz::mem::{AccessKind, PageState, UserMem};
use rseq_fuzz::testkit::*;
use rseq_fuzz::trace::{DecisionSet, KillPath, Trace, TraceEvent};
use rseq_fuzz::versions::v6_18::{self, Decision, TaskRseq, V6_18};
use rseq_fuzz::versions::{self, VersionEntry};
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn entry() -> &'static VersionEntry {
    versions::find("v6.18").expect("v6.18 is registered")
}

fn cfg(arch: Arch, debug: bool) -> Config {
    Config::native(arch, debug)
}

fn x86(debug: bool) -> Config {
    cfg(Arch::X86_64, debug)
}

fn fx(c: Config) -> Fixture {
    Fixture::new(entry(), c)
}

/// A registered task (len 32) that has returned to user mode.
fn reg(c: Config) -> Fixture {
    let mut f = fx(c);
    assert_eq!(f.register(32), Some(0), "{c}: registration");
    f
}

fn fate(f: &Fixture) -> Fate {
    f.model.current().fate
}

fn segv_death() -> Fate {
    Fate::Killed { sig: sig::SIGSEGV }
}

fn mark(f: &Fixture) -> usize {
    f.model.trace().events.len()
}

fn since(f: &Fixture, m: usize) -> &[TraceEvent] {
    &f.model.trace().events[m..]
}

fn kills(ev: &[TraceEvent]) -> Vec<KillPath> {
    ev.iter()
        .filter_map(|e| match e {
            TraceEvent::Kill { path } => Some(*path),
            _ => None,
        })
        .collect()
}

fn took(ev: &[TraceEvent], point: &str) -> bool {
    ev.iter()
        .any(|e| matches!(e, TraceEvent::Decision { point: p } if *p == point))
}

/// Successful kernel writes (function, addr, value), in order.
fn writes(ev: &[TraceEvent]) -> Vec<(&'static str, u64, u64)> {
    ev.iter()
        .filter_map(|e| match e {
            TraceEvent::Access {
                function,
                addr,
                kind: AccessKind::Write,
                value,
                result: Ok(()),
                ..
            } => Some((*function, *addr, value.unwrap_or(0))),
            _ => None,
        })
        .collect()
}

/// Kernel reads (addr, width), in order.
fn reads(ev: &[TraceEvent]) -> Vec<(u64, u8)> {
    ev.iter()
        .filter_map(|e| match e {
            TraceEvent::Access {
                addr,
                width,
                kind: AccessKind::Read,
                ..
            } => Some((*addr, *width)),
            _ => None,
        })
        .collect()
}

/// The four ID writes of rseq_update_cpu_node_id, in order, with the values.
fn id_writes(ev: &[TraceEvent]) -> Vec<(u64, u64)> {
    writes(ev)
        .into_iter()
        .filter(|w| w.0 == "rseq_update_cpu_node_id")
        .map(|w| (w.1, w.2))
        .collect()
}

fn ids_for(cpu: u32, cid: u32) -> Vec<(u64, u64)> {
    let cpu = u64::from(cpu);
    vec![
        (AREA + field::CPU_ID_START, cpu),
        (AREA + field::CPU_ID, cpu),
        (AREA + field::NODE_ID, cpu / 2),
        (AREA + field::MM_CID, u64::from(cid)),
    ]
}

fn store_u32(f: &mut Fixture, addr: u64, v: u32) {
    f.step(Event::Store {
        addr,
        bytes: v.to_le_bytes().to_vec(),
    });
}

fn handler(f: &mut Fixture, signo: u8) {
    f.step(Event::SetHandler {
        sig: signo,
        installed: true,
    });
}

fn readonly(f: &mut Fixture, addr: u64) {
    f.step(Event::Mprotect {
        addr,
        readable: true,
        writable: false,
    });
}

/// A signal sent while the task runs user code, then the return to user.
fn signal_irq(f: &mut Fixture, signo: u8) {
    f.steps([Event::Signal { sig: signo }, Event::ExitToUser]);
}

/// A task blocked in getpid() and rescheduled on the same CPU.
fn syscall_preempted(f: &mut Fixture) {
    let (cpu, cid) = (f.model.current().cpu, f.model.current().mm_cid);
    f.steps([
        Event::Syscall(Syscall::Getpid),
        Event::SwitchOut,
        Event::SwitchIn { cpu, mm_cid: cid },
        Event::ExitToUser,
    ]);
}

fn all_configs() -> Vec<Config> {
    V6_18::configs()
}

fn rseq_call(addr: u64, len: u32, flags: u32, sig: u32) -> Syscall {
    Syscall::Rseq {
        addr,
        len,
        flags,
        sig,
    }
}

/// A task and context for calling model functions directly (paths no driver
/// event reaches: PF_EXITING, NULL regs).
struct Direct {
    cfg: Config,
    task: Task,
    state: TaskRseq,
    mem: UserMem,
    trace: Trace,
}

impl Direct {
    fn new(cfg: Config) -> Direct {
        let mem = standard_mem(&cfg);
        let task = Task {
            mm: 0,
            ip: IP_OUTSIDE,
            cpu: 2,
            mm_cid: 1,
            mode: Mode::Interrupt,
            on_cpu: true,
            tif: 0,
            pending: Vec::new(),
            handlers: 0,
            frames: Vec::new(),
            blocked: 0,
            fate: Fate::Running,
            syscall_ret: None,
            livelock: false,
            in_syscall: None,
            slice_expires_in_kernel: false,
            handler_ip: HANDLER,
            observed_area: AREA,
        };
        let state = TaskRseq {
            rseq: AREA,
            rseq_len: 32,
            rseq_sig: cfg.arch.rseq_sig(),
            ..TaskRseq::default()
        };
        Direct {
            cfg,
            task,
            state,
            mem,
            trace: Trace::new(0),
        }
    }

    fn run<R>(&mut self, f: impl FnOnce(&mut Kctx<'_, V6_18>) -> R) -> R {
        let mut k = Kctx::new(
            self.cfg,
            &mut self.task,
            &mut self.state,
            &mut self.mem,
            &mut self.trace,
        );
        f(&mut k)
    }

    fn decisions(&self) -> Vec<&'static str> {
        self.trace.decisions().collect()
    }
}

// ---------------------------------------------------------------------------
// Cases: each asserts outcomes and returns the decision points it reached.
// ---------------------------------------------------------------------------

type Decisions = Vec<&'static str>;

/// (version, flags, start_ip, post_commit_offset, abort_ip).
type Desc = (u32, u32, u64, u64, u64);

/// Row 0 (and 26 on arm64): IRQ + preemption or migration inside a valid CS
/// aborts and rewrites the IDs, on every configuration.
fn row00_abort_on_preempt_and_migrate() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.enter_cs();
        let m = mark(&f);
        f.preempt_irq();
        assert_eq!(f.ip(), ABORT_IP, "{c}");
        assert_eq!(f.rseq_cs_value(), Some(0), "{c}");
        assert_eq!(id_writes(since(&f, m)), ids_for(0, 0), "{c}");
        assert!(took(since(&f, m), "rseq_ip_fixup/abort"), "{c}");
        assert!(
            took(since(&f, m), "rseq_need_restart/event_mask_set"),
            "{c}"
        );
        assert!(kills(since(&f, m)).is_empty(), "{c}");
        f.enter_cs();
        let m = mark(&f);
        f.migrate_irq(5);
        assert_eq!(f.ip(), ABORT_IP, "{c}");
        assert_eq!(id_writes(since(&f, m)), ids_for(5, 0), "{c}");
        assert_eq!(f.area_u32(field::NODE_ID), Some(2), "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Row 1: an invalid descriptor kills with force_sigsegv(0) even when the IP
/// is nowhere near the CS (the descriptor is validated first).
fn row01_invalid_descriptor_ip_outside_kills() -> Decisions {
    let ts = Arch::X86_64.task_size();
    let bad: [(&str, Desc); 5] = [
        (
            "rseq_get_rseq_cs/version_nonzero",
            (1, 0, CS_START, CS_LEN, ABORT_IP),
        ),
        (
            "rseq_get_rseq_cs/abort_ip_in_cs",
            (0, 0, CS_START, CS_LEN, CS_START + 1),
        ),
        (
            "rseq_get_rseq_cs/start_ip_ge_task_size",
            (0, 0, ts, CS_LEN, ABORT_IP),
        ),
        (
            "rseq_get_rseq_cs/sig_mismatch",
            (0, 0, CS_START, CS_LEN, ABORT_IP + 0x10),
        ),
        (
            "rseq_get_rseq_cs/abort_ip_ge_task_size",
            (0, 0, CS_START, CS_LEN, ts),
        ),
    ];
    let mut d = Vec::new();
    for debug in [false, true] {
        for (point, (v, fl, s, o, a)) in bad {
            let mut f = reg(x86(debug));
            f.write_desc(v, fl, s, o, a).set_rseq_cs(DESC);
            assert_eq!(f.ip(), IP_OUTSIDE);
            let m = mark(&f);
            f.preempt_irq();
            let ev = since(&f, m);
            assert!(took(ev, point), "{point}");
            assert!(took(ev, "rseq_ip_fixup/get_rseq_cs_error"));
            assert!(took(ev, "__rseq_handle_notify_resume/error_sig_zero"));
            assert_eq!(
                kills(ev),
                vec![KillPath::ForceSigsegv { sig: 0 }],
                "{point}"
            );
            assert_eq!(fate(&f), segv_death(), "{point}");
            // Nothing was cleared or rewritten.
            assert!(writes(ev).is_empty(), "{point}");
            d.extend(f.decisions());
        }
    }
    d
}

fn kill_inside(c: Config, desc: Desc, point: &str) -> Decisions {
    let mut f = reg(c);
    let (v, fl, s, o, a) = desc;
    f.write_desc(v, fl, s, o, a).enter_cs();
    let m = mark(&f);
    f.preempt_irq();
    let ev = since(&f, m);
    assert!(took(ev, point), "{c}: {point}");
    assert_eq!(
        kills(ev),
        vec![KillPath::ForceSigsegv { sig: 0 }],
        "{c}: {point}"
    );
    assert_eq!(fate(&f), segv_death(), "{c}: {point}");
    assert_eq!(f.rseq_cs_value(), Some(DESC), "{c}: rseq_cs untouched");
    f.decisions()
}

/// Row 2: version != 0 or cs.flags != 0 (deprecated and unknown bits), IP inside.
fn row02_version_or_cs_flags_inside_kills() -> Decisions {
    let mut d = Vec::new();
    for debug in [false, true] {
        let c = x86(debug);
        d.extend(kill_inside(
            c,
            (1, 0, CS_START, CS_LEN, ABORT_IP),
            "rseq_get_rseq_cs/version_nonzero",
        ));
        for (flags, warn) in [
            (
                abi::RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT,
                "rseq_warn_flags/deprecated_bits",
            ),
            (1 << 3, "rseq_warn_flags/unknown_bits"),
        ] {
            d.extend(kill_inside(c, (0, flags, CS_START, CS_LEN, ABORT_IP), warn));
            d.extend(kill_inside(
                c,
                (0, flags, CS_START, CS_LEN, ABORT_IP),
                "rseq_need_restart/cs_flags_nonzero",
            ));
        }
    }
    d
}

/// Row 3: abort_ip inside the CS.
fn row03_abort_inside_cs_kills() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        d.extend(kill_inside(
            c,
            (0, 0, CS_START, CS_LEN, CS_START + 4),
            "rseq_get_rseq_cs/abort_ip_in_cs",
        ));
    }
    d
}

/// Row 4: non-zero thread flags kill only when the IP is inside.
fn row04_thread_flags() -> Decisions {
    let mut d = Vec::new();
    for debug in [false, true] {
        let mut f = reg(x86(debug));
        store_u32(&mut f, AREA + field::FLAGS, 0x10);
        f.set_rseq_cs(DESC);
        f.preempt_irq();
        assert_eq!(fate(&f), Fate::Running, "outside: flags never read");
        assert_eq!(f.rseq_cs_value(), Some(0));
        f.enter_cs();
        let m = mark(&f);
        f.preempt_irq();
        let ev = since(&f, m);
        assert!(took(ev, "rseq_need_restart/thread_flags_nonzero"));
        assert!(took(ev, "rseq_ip_fixup/need_restart_error"));
        assert!(took(ev, "rseq_warn_flags/unknown_bits"));
        assert_eq!(kills(ev), vec![KillPath::ForceSigsegv { sig: 0 }]);
        assert_eq!(fate(&f), segv_death());
        d.extend(f.decisions());
    }
    d
}

/// Row 5: a CS whose end wraps past 2^64 (and lands below TASK_SIZE).
fn row05_wrapping_cs_kills() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        d.extend(kill_inside(
            c,
            (0, 0, CS_START, u64::MAX - 0xff, ABORT_IP),
            "rseq_get_rseq_cs/end_overflow",
        ));
    }
    d
}

/// Rows 6 and 6b: a syscall inside the CS, preempted during it. L aborts at
/// the exit; Ld kills with force_sig(SIGSEGV) from rseq_syscall first.
fn row06_syscall_in_cs_preempted() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.enter_cs();
        let m = mark(&f);
        syscall_preempted(&mut f);
        let ev = since(&f, m);
        if c.debug {
            assert!(took(ev, "rseq_syscall/ip_in_cs_force_sig"), "{c}");
            assert_eq!(kills(ev).first(), Some(&KillPath::ForceSig), "{c}");
            assert_eq!(fate(&f), segv_death(), "{c}");
        } else {
            assert_eq!(f.ip(), ABORT_IP, "{c}");
            assert!(kills(ev).is_empty(), "{c}");
            assert_eq!(f.rseq_cs_value(), Some(0), "{c}");
        }
        if c.arch == Arch::Arm32 {
            assert!(
                took(ev, "do_work_pending/notify_resume") || c.debug,
                "{c}: arm32 exit loop"
            );
        }
        d.extend(f.decisions());
    }
    d
}

/// Row 7: a syscall inside the CS without preemption.
fn row07_syscall_in_cs_not_preempted() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.enter_cs();
        let m = mark(&f);
        f.syscall(Syscall::Getpid);
        let ev = since(&f, m);
        if c.debug {
            assert_eq!(kills(ev), vec![KillPath::ForceSig], "{c}");
            assert_eq!(fate(&f), segv_death(), "{c}");
        } else {
            assert!(kills(ev).is_empty(), "{c}");
            assert!(writes(ev).is_empty(), "{c}: nothing happens");
            assert_eq!(f.ip(), IP_INSIDE, "{c}");
            assert_eq!(f.rseq_cs_value(), Some(DESC), "{c}");
        }
        d.extend(f.decisions());
    }
    d
}

/// Row 8: IP outside, stale rseq_cs, blocked in a syscall, same CPU: CLEAR +
/// IDs in both L and Ld.
fn row08_stale_rseq_cs_cleared_after_blocking_syscall() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.set_rseq_cs(DESC);
        let m = mark(&f);
        syscall_preempted(&mut f);
        let ev = since(&f, m);
        assert_eq!(f.rseq_cs_value(), Some(0), "{c}");
        assert!(took(ev, "rseq_ip_fixup/ip_outside_cs"), "{c}");
        assert_eq!(id_writes(ev), ids_for(0, 0), "{c}");
        assert!(kills(ev).is_empty(), "{c}");
        assert_eq!(took(ev, "rseq_syscall/ok"), c.debug, "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Row 9: rseq_cs == 0, same-CPU preemption: W64 U+8 = 0 and the four IDs.
fn row09_null_rseq_cs_still_written() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        let m = mark(&f);
        f.preempt_irq();
        let ev = since(&f, m);
        let w = writes(ev);
        assert_eq!(
            w.first(),
            Some(&("rseq_ip_fixup", AREA + field::RSEQ_CS, 0)),
            "{c}"
        );
        assert_eq!(id_writes(ev), ids_for(0, 0), "{c}");
        assert_eq!(w.len(), 5, "{c}");
        assert!(took(ev, "rseq_get_rseq_cs/ptr_null"), "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Rows 10, 11, 29: user-modified RO fields are overwritten; debug warns and
/// never kills.
fn row10_11_29_ro_fields_overwritten() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        for (off, how) in [
            (field::CPU_ID_START, "preempt"),
            (field::CPU_ID_START, "migrate"),
            (field::CPU_ID, "preempt"),
            (field::NODE_ID, "preempt"),
            (field::MM_CID, "preempt"),
        ] {
            let mut f = reg(c);
            store_u32(&mut f, AREA + off, 77);
            let m = mark(&f);
            let cpu = if how == "migrate" {
                f.migrate_irq(3);
                3
            } else {
                f.preempt_irq();
                0
            };
            let ev = since(&f, m);
            assert_eq!(id_writes(ev), ids_for(cpu, 0), "{c} {off} {how}");
            assert_ne!(f.area_u32(off), Some(77), "{c} {off}");
            assert_eq!(took(ev, "rseq_validate_ro_fields/mismatch_warn"), c.debug);
            assert!(kills(ev).is_empty(), "{c}");
            assert_eq!(fate(&f), Fate::Running);
            // The next notify sees the kernel's own values again.
            let m = mark(&f);
            f.preempt_irq();
            assert_eq!(took(since(&f, m), "rseq_validate_ro_fields/match"), c.debug);
            d.extend(f.decisions());
        }
    }
    d
}

/// Row 12: a signal rewrites the IDs before the handler runs.
fn row12_signal_rewrites_ids_before_handler() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        handler(&mut f, sig::SIGUSR1);
        store_u32(&mut f, AREA + field::CPU_ID_START, 99);
        let m = mark(&f);
        signal_irq(&mut f, sig::SIGUSR1);
        let ev = since(&f, m);
        let w_at = ev
            .iter()
            .position(|e| {
                matches!(
                    e,
                    TraceEvent::Access {
                        function: "rseq_update_cpu_node_id",
                        kind: AccessKind::Write,
                        ..
                    }
                )
            })
            .expect("IDs written");
        let frame_at = ev
            .iter()
            .position(|e| matches!(e, TraceEvent::SignalFrame { sig: s, .. } if *s == sig::SIGUSR1))
            .expect("frame");
        assert!(w_at < frame_at, "{c}");
        assert_eq!(f.area_u32(field::CPU_ID_START), Some(0), "{c}");
        assert_eq!(f.ip(), HANDLER, "{c}");
        assert!(
            took(ev, "exit_to_user_mode_loop/sigpending") || took(ev, "do_work_pending/sigpending")
        );
        d.extend(f.decisions());
    }
    d
}

/// Row 13: the membarrier RSEQ IPI on a thread in user mode inside a CS.
fn row13_membarrier_ipi_aborts() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.enter_cs();
        let m = mark(&f);
        f.steps([Event::MembarrierIpi, Event::ExitToUser]);
        assert_eq!(f.ip(), ABORT_IP, "{c}");
        assert_eq!(id_writes(since(&f, m)), ids_for(0, 0), "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Row 14: membarrier targeted at the caller's own CPU.
fn row14_membarrier_own_cpu() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.set_rseq_cs(DESC);
        let m = mark(&f);
        assert_eq!(f.syscall(Syscall::Membarrier { own_cpu: true }), Some(0));
        let ev = since(&f, m);
        assert_eq!(f.rseq_cs_value(), Some(0), "{c}");
        assert_eq!(id_writes(ev), ids_for(0, 0), "{c}");
        // Without the own-CPU flag the caller is not IPI'd.
        f.set_rseq_cs(DESC);
        let m = mark(&f);
        f.syscall(Syscall::Membarrier { own_cpu: false });
        assert!(writes(since(&f, m)).is_empty(), "{c}");
        assert_eq!(f.rseq_cs_value(), Some(DESC), "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Row 15: a signal arrives during a syscall made inside the CS.
fn row15_signal_after_syscall_in_cs() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        handler(&mut f, sig::SIGUSR1);
        f.enter_cs();
        let m = mark(&f);
        f.steps([
            Event::Syscall(Syscall::Getpid),
            Event::Signal { sig: sig::SIGUSR1 },
            Event::ExitToUser,
        ]);
        let ev = since(&f, m);
        if c.debug {
            assert_eq!(kills(ev), vec![KillPath::ForceSig], "{c}");
            assert_eq!(fate(&f), segv_death(), "{c}");
        } else {
            let frames = &f.model.current().frames;
            assert_eq!(frames.last().map(|fr| fr.saved_ip), Some(ABORT_IP), "{c}");
            assert_eq!(f.ip(), HANDLER, "{c}");
            assert!(!took(ev, "__rseq_handle_notify_resume/fixup_error"));
        }
        d.extend(f.decisions());
    }
    d
}

/// Row 16: a signal after an IRQ, IP inside: abort before the frame.
fn row16_signal_irq_in_cs_aborts() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        handler(&mut f, sig::SIGUSR2);
        f.enter_cs();
        let m = mark(&f);
        signal_irq(&mut f, sig::SIGUSR2);
        let ev = since(&f, m);
        let frames = &f.model.current().frames;
        assert_eq!(frames.last().map(|fr| fr.saved_ip), Some(ABORT_IP), "{c}");
        assert_eq!(id_writes(ev), ids_for(0, 0), "{c}");
        assert!(kills(ev).is_empty(), "{c}");
        // After sigreturn the task resumes at the abort handler.
        f.syscall(Syscall::Sigreturn);
        assert_eq!(f.ip(), ABORT_IP, "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Row 17: a fault reading the descriptor (unmapped) during exit.
fn row17_descriptor_fault_kills() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.set_rseq_cs(DESC);
        f.step(Event::Munmap { addr: DESC });
        let m = mark(&f);
        f.preempt_irq();
        let ev = since(&f, m);
        assert!(took(ev, "rseq_get_rseq_cs/copy_fault"), "{c}");
        assert_eq!(kills(ev), vec![KillPath::ForceSigsegv { sig: 0 }], "{c}");
        assert_eq!(fate(&f), segv_death(), "{c}");
        d.extend(f.decisions());
    }
    // A not-present descriptor page is faulted in: no kill.
    let mut f = reg(x86(false));
    f.enter_cs();
    f.step(Event::Reclaim { addr: DESC });
    f.preempt_irq();
    assert_eq!(f.ip(), ABORT_IP);
    d.extend(f.decisions());
    d
}

/// Row 18: a fault on the rseq area during signal delivery:
/// force_sigsegv(ksig->sig).
fn row18_area_fault_during_signal() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        handler(&mut f, sig::SIGUSR1);
        readonly(&mut f, AREA);
        let m = mark(&f);
        signal_irq(&mut f, sig::SIGUSR1);
        let ev = since(&f, m);
        let k = kills(ev);
        assert_eq!(
            k.first(),
            Some(&KillPath::ForceSigsegv { sig: sig::SIGUSR1 }),
            "{c}"
        );
        assert!(
            took(ev, "__rseq_handle_notify_resume/error_sig_from_ksig"),
            "{c}"
        );
        assert!(took(ev, "clear_rseq_cs/fault"), "{c}");
        assert_eq!(fate(&f), segv_death(), "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Row 19: read-only area, preempted outside any CS, rseq_cs == 0.
fn row19_readonly_area_kills() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        readonly(&mut f, AREA);
        let m = mark(&f);
        f.preempt_irq();
        let ev = since(&f, m);
        assert_eq!(kills(ev), vec![KillPath::ForceSigsegv { sig: 0 }], "{c}");
        assert!(took(ev, "rseq_ip_fixup/ip_outside_cs"), "{c}");
        assert!(took(ev, "__rseq_handle_notify_resume/fixup_error"), "{c}");
        assert_eq!(fate(&f), segv_death(), "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Row 20: what unregistration writes (debug: after the RO check).
fn row20_unregister_writes() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.migrate_irq(3);
        f.set_rseq_cs(DESC);
        store_u32(&mut f, AREA + field::MM_CID, 9);
        let m = mark(&f);
        let s = c.arch.rseq_sig();
        assert_eq!(f.syscall(rseq_call(AREA, 32, 1, s)), Some(0), "{c}");
        let ev = since(&f, m);
        assert_eq!(
            writes(ev),
            vec![
                ("rseq_reset_rseq_cpu_node_id", AREA, 0),
                ("rseq_reset_rseq_cpu_node_id", AREA + 4, 0xFFFF_FFFF),
                ("rseq_reset_rseq_cpu_node_id", AREA + 20, 0),
                ("rseq_reset_rseq_cpu_node_id", AREA + 24, 0),
            ],
            "{c}"
        );
        assert_eq!(f.rseq_cs_value(), Some(DESC), "{c}: rseq_cs untouched");
        assert_eq!(
            took(ev, "rseq_validate_ro_fields/mismatch_warn"),
            c.debug,
            "{c}"
        );
        assert!(took(ev, "sys_rseq/unregistered"));
        // Unregistered: a preemption writes nothing.
        let m = mark(&f);
        f.preempt_irq();
        assert!(writes(since(&f, m)).is_empty(), "{c}");
        assert!(took(since(&f, m), "rseq_set_notify_resume/not_registered"));
        d.extend(f.decisions());
    }
    d
}

/// Row 21: unregistration with an unwritable area: EFAULT, no signal, still
/// registered.
fn row21_unregister_unwritable() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        readonly(&mut f, AREA);
        let s = c.arch.rseq_sig();
        let m = mark(&f);
        assert_eq!(f.syscall(rseq_call(AREA, 32, 1, s)), Some(-errno::EFAULT));
        let ev = since(&f, m);
        assert!(kills(ev).is_empty(), "{c}");
        assert!(took(ev, "rseq_reset_rseq_cpu_node_id/write_fault"), "{c}");
        assert!(took(ev, "sys_rseq/unregister_reset_efault"), "{c}");
        f.step(Event::Mprotect {
            addr: AREA,
            readable: true,
            writable: true,
        });
        assert_eq!(f.register(32), Some(-errno::EBUSY), "{c}: still registered");
        d.extend(f.decisions());
    }
    // Debug, PROT_NONE area: the RO-field read faults first.
    let mut f = reg(x86(true));
    f.step(Event::Mprotect {
        addr: AREA,
        readable: false,
        writable: false,
    });
    let s = Arch::X86_64.rseq_sig();
    let m = mark(&f);
    f.step(Event::Syscall(rseq_call(AREA, 32, 1, s)));
    let ev = since(&f, m);
    assert!(took(ev, "rseq_validate_ro_fields/read_fault"));
    assert!(took(ev, "rseq_reset_rseq_cpu_node_id/validate_error"));
    assert!(kills(ev).is_empty(), "sys_rseq itself never kills");
    // ... but the task stays registered, so the debug syscall-exit check
    // cannot read rseq_cs and forces SIGSEGV.
    let m = mark(&f);
    f.step(Event::ExitToUser);
    assert_eq!(f.last().and_then(|o| o.syscall_ret), Some(-errno::EFAULT));
    assert!(took(since(&f, m), "rseq_syscall/invalid_cs_force_sig"));
    assert_eq!(kills(since(&f, m)), vec![KillPath::ForceSig]);
    d.extend(f.decisions());
    d
}

/// Row 22: registration writes only rseq_cs = 0, and only if it was non-zero;
/// debug reads the four RO fields; IDs come at the exit.
fn row22_registration_writes() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        for stale in [0u64, DESC] {
            let mut f = fx(c);
            f.set_rseq_cs(stale);
            let m = mark(&f);
            f.step(Event::Syscall(rseq_call(AREA, 32, 0, c.arch.rseq_sig())));
            let ev = since(&f, m);
            let w = writes(ev);
            if stale != 0 {
                assert_eq!(w, vec![("sys_rseq", AREA + 8, 0)], "{c}");
                assert!(took(ev, "sys_rseq/rseq_cs_nonzero_clear"));
            } else {
                assert!(w.is_empty(), "{c}");
            }
            let r = reads(ev);
            let mut expect = vec![(AREA + 8, 8)];
            if c.debug {
                expect.extend([(AREA, 4), (AREA + 4, 4), (AREA + 20, 4), (AREA + 24, 4)]);
            }
            assert_eq!(r, expect, "{c}");
            // Row 28: cpu_id_start still holds the user's value before the exit.
            assert_eq!(f.area_u32(field::CPU_ID_START), Some(0), "{c}");
            assert_eq!(
                f.area_u32(field::CPU_ID),
                Some(abi::RSEQ_CPU_ID_UNINITIALIZED)
            );
            let m = mark(&f);
            f.step(Event::ExitToUser);
            assert_eq!(f.last().and_then(|o| o.syscall_ret), Some(0));
            assert_eq!(id_writes(since(&f, m)), ids_for(0, 0), "{c}");
            assert_eq!(f.area_u32(field::CPU_ID), Some(0), "{c}");
            d.extend(f.decisions());
        }
    }
    d
}

/// Rows 23, 24, 30: lengths and flags.
fn row23_24_30_lengths_and_flags() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let s = c.arch.rseq_sig();
        // 23: len 64 at a 32- but not 64-aligned address is accepted.
        let mut f = fx(c);
        assert_eq!(f.syscall(rseq_call(AREA + 32, 64, 0, s)), Some(0), "{c}");
        d.extend(f.decisions());
        // 24: syscall flags 2 (SLICE_EXT_DEFAULT_ON in 7.0) is EINVAL.
        let mut f = fx(c);
        assert_eq!(f.syscall(rseq_call(AREA, 32, 2, s)), Some(-errno::EINVAL));
        assert!(f.took("sys_rseq/register_bad_flags_einval"));
        d.extend(f.decisions());
        // 30: len 32 and len 64 behave the same.
        let mut obs = Vec::new();
        for len in [32, 64] {
            let mut f = fx(c);
            assert_eq!(f.register(len), Some(0));
            f.enter_cs().migrate_irq(3);
            handler(&mut f, sig::SIGUSR1);
            f.enter_cs();
            signal_irq(&mut f, sig::SIGUSR1);
            let o: Vec<_> = f
                .model
                .observations()
                .iter()
                .skip(1)
                .map(|o| (o.ip, o.area, o.kills.clone(), o.decisions.clone()))
                .collect();
            obs.push(o);
            d.extend(f.decisions());
        }
        assert_eq!(obs[0], obs[1], "{c}");
    }
    d
}

/// Row 25: no kernel write ever touches U+28..31 (nor beyond), whatever the
/// registered length.
fn row25_no_writes_beyond_28() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        for len in [32u32, 64] {
            let mut f = fx(c);
            assert_eq!(f.register(len), Some(0));
            handler(&mut f, sig::SIGUSR1);
            f.enter_cs().preempt_irq().migrate_irq(4);
            f.enter_cs();
            signal_irq(&mut f, sig::SIGUSR1);
            f.syscall(Syscall::Membarrier { own_cpu: true });
            f.syscall(rseq_call(AREA, len, 1, c.arch.rseq_sig()));
            for (_, addr, _) in writes(&f.model.trace().events) {
                assert!(
                    addr < AREA + field::SLICE_CTRL || addr >= AREA + u64::from(len),
                    "{c}: write at {addr:#x}"
                );
            }
            d.extend(f.decisions());
        }
    }
    d
}

/// Row 27: unregistration and a membarrier IPI on the same CPU: safe.
fn row27_unregister_then_ipi() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        f.step(Event::Syscall(rseq_call(AREA, 32, 1, c.arch.rseq_sig())));
        let m = mark(&f);
        f.steps([Event::MembarrierIpi, Event::ExitToUser]);
        let ev = since(&f, m);
        assert!(kills(ev).is_empty(), "{c}");
        assert!(writes(ev).is_empty(), "{c}");
        assert_eq!(f.last().and_then(|o| o.syscall_ret), Some(0));
        d.extend(f.decisions());
    }
    d
}

/// sys_rseq: the unregister path in errno order.
fn sys_rseq_unregister_errors() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let s = c.arch.rseq_sig();
        let mut f = fx(c);
        // Not registered (NULL == NULL is still EINVAL).
        assert_eq!(f.syscall(rseq_call(0, 32, 1, s)), Some(-errno::EINVAL));
        assert!(f.took("sys_rseq/unregister_wrong_rseq_einval"));
        assert_eq!(f.register(32), Some(0));
        let cases: [(Syscall, i64, &str); 5] = [
            (
                rseq_call(AREA, 32, 3, s),
                -errno::EINVAL,
                "sys_rseq/unregister_bad_flags_einval",
            ),
            (
                rseq_call(AREA + 32, 32, 1, s),
                -errno::EINVAL,
                "sys_rseq/unregister_wrong_rseq_einval",
            ),
            (
                rseq_call(AREA, 64, 1, s),
                -errno::EINVAL,
                "sys_rseq/unregister_len_mismatch_einval",
            ),
            (
                rseq_call(AREA, 32, 1, s ^ 1),
                -errno::EPERM,
                "sys_rseq/unregister_sig_mismatch_eperm",
            ),
            (rseq_call(AREA, 32, 1, s), 0, "sys_rseq/unregistered"),
        ];
        for (sc, ret, point) in cases {
            let m = mark(&f);
            assert_eq!(f.syscall(sc), Some(ret), "{c}: {point}");
            assert!(took(since(&f, m), point), "{c}: {point}");
        }
        // Registration again works after unregistration.
        assert_eq!(f.register(32), Some(0));
        d.extend(f.decisions());
    }
    d
}

/// sys_rseq: the register path in errno order.
fn sys_rseq_register_errors() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let s = c.arch.rseq_sig();
        let ts = c.task_size();
        let mut f = fx(c);
        let cases: [(Syscall, i64, &str); 6] = [
            (
                rseq_call(AREA, 32, 4, s),
                -errno::EINVAL,
                "sys_rseq/register_bad_flags_einval",
            ),
            (
                rseq_call(AREA, 31, 0, s),
                -errno::EINVAL,
                "sys_rseq/len_lt_orig_size_einval",
            ),
            (
                rseq_call(AREA + 16, 32, 0, s),
                -errno::EINVAL,
                "sys_rseq/orig_size_misaligned_einval",
            ),
            (
                rseq_call(AREA + 16, 64, 0, s),
                -errno::EINVAL,
                "sys_rseq/ext_size_misaligned_einval",
            ),
            (
                rseq_call(ts & !31, 64, 0, s),
                -errno::EFAULT,
                "sys_rseq/access_not_ok_efault",
            ),
            (
                rseq_call(0x90_0000, 32, 0, s),
                -errno::EFAULT,
                "sys_rseq/rseq_cs_read_efault",
            ),
        ];
        for (sc, ret, point) in cases {
            let m = mark(&f);
            assert_eq!(f.syscall(sc), Some(ret), "{c}: {point}");
            assert!(took(since(&f, m), point), "{c}: {point}");
            assert!(writes(since(&f, m)).is_empty(), "{c}: {point}");
        }
        // rseq_cs non-zero on a read-only area: the clear faults.
        f.set_rseq_cs(DESC);
        readonly(&mut f, AREA);
        let m = mark(&f);
        assert_eq!(f.register(32), Some(-errno::EFAULT), "{c}");
        assert!(took(since(&f, m), "sys_rseq/rseq_cs_clear_efault"));
        assert!(took(since(&f, m), "clear_rseq_cs/fault"));
        f.step(Event::Mprotect {
            addr: AREA,
            readable: true,
            writable: true,
        });
        assert_eq!(f.register(32), Some(0), "{c}");
        let already: [(Syscall, i64, &str); 4] = [
            (
                rseq_call(AREA + 32, 32, 0, s),
                -errno::EINVAL,
                "sys_rseq/registered_rseq_or_len_differ_einval",
            ),
            (
                rseq_call(AREA, 64, 0, s),
                -errno::EINVAL,
                "sys_rseq/registered_rseq_or_len_differ_einval",
            ),
            (
                rseq_call(AREA, 32, 0, s ^ 1),
                -errno::EPERM,
                "sys_rseq/registered_sig_mismatch_eperm",
            ),
            (
                rseq_call(AREA, 32, 0, s),
                -errno::EBUSY,
                "sys_rseq/registered_ebusy",
            ),
        ];
        for (sc, ret, point) in already {
            let m = mark(&f);
            assert_eq!(f.syscall(sc), Some(ret), "{c}: {point}");
            assert!(took(since(&f, m), point), "{c}: {point}");
        }
        d.extend(f.decisions());
    }
    d
}

/// Descriptor checks not covered by the §6 rows: pointer and end bounds, the
/// signature read, and the high word on a 32-bit kernel.
fn descriptor_bounds() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let ts = c.task_size();
        // rseq_cs >= TASK_SIZE.
        let mut f = reg(c);
        f.set_rseq_cs(ts);
        f.preempt_irq();
        assert!(f.took("rseq_get_rseq_cs/ptr_ge_task_size"), "{c}");
        assert_eq!(fate(&f), segv_death());
        d.extend(f.decisions());
        // start + offset >= TASK_SIZE without wrapping.
        d.extend(kill_inside(
            c,
            (0, 0, CS_START, ts - CS_START, ABORT_IP),
            "rseq_get_rseq_cs/end_ge_task_size",
        ));
        // abort_ip < 4: the signature address wraps and the read faults.
        d.extend(kill_inside(
            c,
            (0, 0, CS_START, CS_LEN, 2),
            "rseq_get_rseq_cs/sig_fault",
        ));
        // The signature page unmapped.
        let mut f = reg(c);
        f.write_desc(0, 0, CS_START, CS_LEN, DESC + 0x1000 + 2)
            .set_rseq_cs(DESC);
        f.preempt_irq();
        assert!(f.took("rseq_get_rseq_cs/sig_fault"), "{c}");
        d.extend(f.decisions());
    }
    // 32-bit kernel: rseq_cs is read as 64 bits; a non-zero high word fails
    // `ptr >= TASK_SIZE` (EINVAL), even when the low word is a valid descriptor.
    let hi = (1u64 << 32) | DESC;
    let mut f = reg(cfg(Arch::Arm32, false));
    f.set_rseq_cs(hi).step(Event::SetIp { ip: IP_INSIDE });
    let m = mark(&f);
    f.preempt_irq();
    let ev = since(&f, m);
    assert!(took(ev, "rseq_get_rseq_cs/ptr_ge_task_size"));
    assert!(reads(ev).contains(&(AREA + 8, 8)));
    assert_eq!(kills(ev), vec![KillPath::ForceSigsegv { sig: 0 }]);
    d.extend(f.decisions());
    // On a 64-bit kernel the same value is a user address (unmapped here).
    let mut f = reg(x86(false));
    f.set_rseq_cs(hi).step(Event::SetIp { ip: IP_INSIDE });
    f.preempt_irq();
    assert!(f.took("rseq_get_rseq_cs/copy_fault"));
    d.extend(f.decisions());
    // 32-bit kernel: the syscall's pointer argument is 32 bits wide.
    let mut f = fx(cfg(Arch::Arm32, false));
    let s = Arch::Arm32.rseq_sig();
    assert_eq!(f.syscall(rseq_call((1 << 32) | AREA, 32, 0, s)), Some(0));
    assert_eq!(f.syscall(rseq_call(AREA, 32, 1, s)), Some(0));
    d.extend(f.decisions());
    d
}

/// rseq_ip_fixup paths: rseq_cs read fault, clear fault before abort, no
/// restart (empty event mask: rseq_cs left set), ID write fault.
fn fixup_paths() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        // The area unmapped: the rseq_cs read faults.
        let mut f = reg(c);
        f.step(Event::Munmap { addr: AREA });
        f.preempt_irq();
        assert!(f.took("rseq_get_rseq_cs_ptr_val/fault"), "{c}");
        assert_eq!(fate(&f), segv_death());
        d.extend(f.decisions());

        // Inside, event pending, area read-only: clear_rseq_cs faults.
        let mut f = reg(c);
        f.enter_cs();
        readonly(&mut f, AREA);
        let m = mark(&f);
        f.preempt_irq();
        let ev = since(&f, m);
        assert!(took(ev, "rseq_ip_fixup/clear_rseq_cs_error"), "{c}");
        assert_eq!(f.ip(), IP_INSIDE, "{c}: no abort");
        assert_eq!(kills(ev), vec![KillPath::ForceSigsegv { sig: 0 }]);
        d.extend(f.decisions());
    }
    for c in [x86(false), cfg(Arch::Arm64, false), cfg(Arch::Arm32, false)] {
        // A failed execve raises TIF_NOTIFY_RESUME without an event: inside
        // the CS the fixup finds an empty event mask, no abort, rseq_cs left.
        let mut f = reg(c);
        f.enter_cs().preempt_irq();
        assert_eq!(f.ip(), ABORT_IP);
        f.enter_cs();
        let m = mark(&f);
        assert_eq!(
            f.syscall(Syscall::Execve { ok: false }),
            Some(-errno::EFAULT)
        );
        let ev = since(&f, m);
        assert!(took(ev, "bprm_execve/failed_rseq_set_notify_resume"), "{c}");
        assert!(took(ev, "rseq_need_restart/event_mask_empty"), "{c}");
        assert!(took(ev, "rseq_ip_fixup/no_restart"), "{c}");
        assert_eq!(f.ip(), IP_INSIDE, "{c}");
        assert_eq!(f.rseq_cs_value(), Some(DESC), "{c}");
        assert_eq!(id_writes(ev), ids_for(0, 0), "{c}");
        d.extend(f.decisions());

        // Same, with the area read-only: the fixup succeeds without a write,
        // then the first ID write faults.
        let mut f = reg(c);
        f.enter_cs().preempt_irq();
        f.enter_cs();
        readonly(&mut f, AREA);
        let m = mark(&f);
        f.syscall(Syscall::Execve { ok: false });
        let ev = since(&f, m);
        assert!(took(ev, "rseq_update_cpu_node_id/write_fault"), "{c}");
        assert!(took(ev, "__rseq_handle_notify_resume/update_error"), "{c}");
        assert_eq!(kills(ev), vec![KillPath::ForceSigsegv { sig: 0 }]);
        assert_eq!(fate(&f), segv_death());
        d.extend(f.decisions());
    }
    d
}

/// CONFIG_DEBUG_RSEQ rseq_syscall outcomes at syscall exit.
fn rseq_syscall_paths() -> Decisions {
    let mut d = Vec::new();
    for arch in [Arch::X86_64, Arch::X86_64La57, Arch::Arm64, Arch::Arm32] {
        let c = cfg(arch, true);
        let mut f = fx(c);
        assert!(f.syscall(Syscall::Getpid).is_some());
        assert!(f.took("rseq_syscall/not_registered"), "{c}");
        assert_eq!(f.register(32), Some(0));
        assert!(f.took("rseq_syscall/ok"), "{c}");
        // Invalid descriptor, IP outside: force_sig(SIGSEGV) at syscall exit;
        // a user handler catches it, and its delivery runs the fixup, which
        // fails again: force_sigsegv(SIGSEGV) is fatal.
        f.write_desc(0, 0, CS_START, CS_LEN, CS_START + 1)
            .set_rseq_cs(DESC);
        handler(&mut f, sig::SIGSEGV);
        let m = mark(&f);
        f.syscall(Syscall::Getpid);
        let ev = since(&f, m);
        assert!(took(ev, "rseq_syscall/invalid_cs_force_sig"), "{c}");
        assert_eq!(
            kills(ev),
            vec![
                KillPath::ForceSig,
                KillPath::ForceSigsegv { sig: sig::SIGSEGV }
            ],
            "{c}"
        );
        assert_eq!(fate(&f), segv_death(), "{c}");
        d.extend(f.decisions());
    }
    d
}

/// The signal-delivery kill is catchable only where the second fixup (run
/// when the forced SIGSEGV is delivered, with the first handler's IP)
/// succeeds.
fn signal_kill_catchable_or_not() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        // Invalid descriptor (version 1): the SIGSEGV delivery fails too ->
        // force_sigsegv(SIGSEGV) resets the handler -> death.
        let mut f = reg(c);
        handler(&mut f, sig::SIGUSR1);
        handler(&mut f, sig::SIGSEGV);
        f.write_desc(1, 0, CS_START, CS_LEN, ABORT_IP).enter_cs();
        let m = mark(&f);
        signal_irq(&mut f, sig::SIGUSR1);
        let ev = since(&f, m);
        assert_eq!(
            kills(ev),
            vec![
                KillPath::ForceSigsegv { sig: sig::SIGUSR1 },
                KillPath::ForceSigsegv { sig: sig::SIGSEGV }
            ],
            "{c}"
        );
        assert_eq!(fate(&f), segv_death(), "{c}: not catchable");
        d.extend(f.decisions());

        // Deprecated cs.flags, IP inside: the first fixup fails in
        // rseq_need_restart (checked only inside); the SIGUSR1 frame moves
        // the IP to the handler, so the SIGSEGV delivery's fixup finds the IP
        // outside, clears rseq_cs and succeeds: the handler catches it.
        let mut f = reg(c);
        handler(&mut f, sig::SIGUSR1);
        handler(&mut f, sig::SIGSEGV);
        f.write_desc(
            0,
            abi::RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL,
            CS_START,
            CS_LEN,
            ABORT_IP,
        )
        .enter_cs();
        let m = mark(&f);
        signal_irq(&mut f, sig::SIGUSR1);
        let ev = since(&f, m);
        assert_eq!(
            kills(ev),
            vec![KillPath::ForceSigsegv { sig: sig::SIGUSR1 }],
            "{c}"
        );
        assert_eq!(fate(&f), Fate::Running, "{c}: caught");
        assert!(f.last().is_some_and(|o| o.sigsegv_handled), "{c}");
        let frames: Vec<_> = f
            .model
            .current()
            .frames
            .iter()
            .map(|fr| (fr.sig, fr.saved_ip))
            .collect();
        assert_eq!(
            frames,
            vec![(sig::SIGUSR1, IP_INSIDE), (sig::SIGSEGV, HANDLER)],
            "{c}"
        );
        assert_eq!(f.rseq_cs_value(), Some(0), "{c}");
        d.extend(f.decisions());

        // Without a SIGSEGV handler the catchable kill is still a death.
        let mut f = reg(c);
        handler(&mut f, sig::SIGUSR1);
        f.write_desc(0, 1, CS_START, CS_LEN, ABORT_IP).enter_cs();
        signal_irq(&mut f, sig::SIGUSR1);
        assert_eq!(fate(&f), segv_death(), "{c}");
        d.extend(f.decisions());
    }
    // The same invalid flags raised from the notify path (no signal first):
    // the SIGSEGV delivery still sees the IP inside and fails -> fatal.
    let mut f = reg(x86(false));
    handler(&mut f, sig::SIGSEGV);
    f.write_desc(0, 1, CS_START, CS_LEN, ABORT_IP).enter_cs();
    let m = mark(&f);
    f.preempt_irq();
    assert_eq!(
        kills(since(&f, m)),
        vec![
            KillPath::ForceSigsegv { sig: 0 },
            KillPath::ForceSigsegv { sig: sig::SIGSEGV }
        ]
    );
    assert_eq!(fate(&f), segv_death());
    d.extend(f.decisions());
    d
}

/// After a signal frame, a pending TIF_NOTIFY_RESUME runs the handler again
/// with the signal handler's IP (generic/arm64: same loop iteration; arm32:
/// the next one).
fn notify_after_signal_uses_handler_ip() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        handler(&mut f, sig::SIGUSR1);
        f.enter_cs();
        let (cpu, cid) = (f.model.current().cpu, f.model.current().mm_cid);
        let m = mark(&f);
        f.steps([
            Event::Interrupt,
            Event::SwitchOut,
            Event::SwitchIn { cpu, mm_cid: cid },
            Event::Signal { sig: sig::SIGUSR1 },
            Event::ExitToUser,
        ]);
        let ev = since(&f, m);
        let frame_at = ev
            .iter()
            .position(|e| matches!(e, TraceEvent::SignalFrame { .. }))
            .expect("frame");
        let after = &ev[frame_at..];
        assert!(matches!(after.get(1), Some(TraceEvent::IpSet { ip, .. }) if *ip == HANDLER));
        assert!(took(after, "rseq_handle_notify_resume/registered"), "{c}");
        // The abort cleared rseq_cs, so the second run finds NULL.
        assert!(took(after, "rseq_get_rseq_cs/ptr_null"), "{c}");
        assert!(took(after, "rseq_ip_fixup/ip_outside_cs"), "{c}");
        assert_eq!(id_writes(after), ids_for(cpu, cid), "{c}");
        let (sigp, notify) = if c.arch == Arch::Arm32 {
            (
                "do_work_pending/sigpending",
                "do_work_pending/notify_resume",
            )
        } else {
            (
                "exit_to_user_mode_loop/sigpending",
                "exit_to_user_mode_loop/notify_resume",
            )
        };
        assert!(took(ev, sigp) && took(after, notify), "{c}");
        assert_eq!(f.ip(), HANDLER, "{c}");
        assert_eq!(f.model.current().frames[0].saved_ip, ABORT_IP, "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Signals, preemption and membarrier on an unregistered task: the event
/// mask collects bits, the handler never runs.
fn unregistered_task() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = fx(c);
        handler(&mut f, sig::SIGUSR1);
        f.enter_cs();
        f.preempt_irq();
        signal_irq(&mut f, sig::SIGUSR1);
        f.steps([Event::MembarrierIpi, Event::ExitToUser]);
        assert!(writes(&f.model.trace().events).is_empty(), "{c}");
        assert!(f.took("rseq_handle_notify_resume/not_registered"), "{c}");
        assert!(f.took("rseq_set_notify_resume/not_registered"), "{c}");
        assert_eq!(f.model.current().frames[0].saved_ip, IP_INSIDE, "{c}");
        d.extend(f.decisions());
    }
    d
}

/// fork: CLONE_VM children start unregistered; other children inherit
/// registration, event mask and the debug copy, and rewrite the IDs in their
/// own (COW) memory on the first return.
fn fork_and_exec() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        // Event mask inheritance (rseq_fork itself).
        let parent = TaskRseq {
            rseq: AREA,
            rseq_len: 32,
            rseq_sig: 7,
            rseq_event_mask: v6_18::RSEQ_EVENT_PREEMPT,
            ..TaskRseq::default()
        };
        assert_eq!(V6_18::fork(&parent, false), parent);
        let vm = V6_18::fork(&parent, true);
        assert_eq!(
            (vm.rseq, vm.rseq_len, vm.rseq_sig, vm.rseq_event_mask),
            (0, 0, 0, 0)
        );

        for clone_vm in [false, true] {
            let mut m: Machine<V6_18> = Machine::new(c, standard_setup(standard_mem(&c)), 0);
            let s = c.arch.rseq_sig();
            m.step(0, &Event::Syscall(rseq_call(AREA, 32, 0, s)));
            m.step(1, &Event::ExitToUser);
            m.step(
                2,
                &Event::Syscall(Syscall::Fork {
                    clone_vm,
                    follow_child: true,
                }),
            );
            let st = m.version_state().clone();
            assert_eq!(st.registered(), !clone_vm, "{c}");
            // wake_up_new_task -> rseq_migrate: MIGRATE bit in both cases.
            assert_ne!(st.rseq_event_mask & v6_18::RSEQ_EVENT_MIGRATE, 0, "{c}");
            let before = m.trace().events.len();
            m.step(3, &Event::ExitToUser);
            let ev = &m.trace().events[before..];
            assert_eq!(m.current().syscall_ret, Some(0), "{c}");
            if clone_vm {
                assert!(writes(ev).is_empty(), "{c}: CLONE_VM child unregistered");
            } else {
                assert_eq!(id_writes(ev), ids_for(0, 0), "{c}");
                if c.debug {
                    assert!(
                        took(ev, "rseq_validate_ro_fields/match"),
                        "{c}: copy inherited"
                    );
                }
            }
            d.extend(m.trace().decisions());
        }

        // execve: success drops the registration without a user write.
        let mut f = reg(c);
        f.set_rseq_cs(DESC);
        let m = mark(&f);
        assert_eq!(f.syscall(Syscall::Execve { ok: true }), Some(0));
        let ev = since(&f, m);
        assert!(took(ev, "bprm_execve/ok_rseq_execve"), "{c}");
        assert!(writes(ev).is_empty(), "{c}");
        assert_eq!(f.rseq_cs_value(), Some(DESC), "{c}");
        let m = mark(&f);
        f.preempt_irq();
        assert!(writes(since(&f, m)).is_empty(), "{c}");
        assert_eq!(f.register(32), Some(0), "{c}: registrable again");
        d.extend(f.decisions());

        // A failed execve raises TIF_NOTIFY_RESUME: fixup (clear) and IDs.
        let mut f = reg(c);
        f.set_rseq_cs(DESC);
        let m = mark(&f);
        f.syscall(Syscall::Execve { ok: false });
        let ev = since(&f, m);
        assert_eq!(f.rseq_cs_value(), Some(0), "{c}");
        assert_eq!(id_writes(ev), ids_for(0, 0), "{c}");
        d.extend(f.decisions());
    }
    d
}

/// Paths only reachable by calling the handler directly: an exiting task, and
/// NULL regs (KVM's pre-guest work).
fn direct_calls() -> Decisions {
    let mut d = Vec::new();
    // PF_EXITING: nothing touched.
    let mut t = Direct::new(x86(false));
    t.task.fate = Fate::Killed { sig: 9 };
    t.state.rseq_event_mask = v6_18::RSEQ_EVENT_PREEMPT;
    t.run(|k| v6_18::__rseq_handle_notify_resume(k, None, true));
    assert!(t
        .trace
        .events
        .iter()
        .all(|e| !matches!(e, TraceEvent::Access { .. })));
    assert_eq!(
        t.decisions(),
        vec!["__rseq_handle_notify_resume/pf_exiting"]
    );
    assert_eq!(t.state.rseq_event_mask, v6_18::RSEQ_EVENT_PREEMPT);
    d.extend(t.decisions());

    // NULL regs: the fixup is skipped (rseq_cs left), the IDs are written.
    let mut t = Direct::new(x86(false));
    t.mem.poke(AREA + field::RSEQ_CS, &DESC.to_le_bytes());
    t.task.ip = IP_INSIDE;
    t.run(|k| v6_18::__rseq_handle_notify_resume(k, None, false));
    assert_eq!(id_writes(&t.trace.events), ids_for(2, 1));
    assert_eq!(t.task.ip, IP_INSIDE);
    assert_eq!(t.mem.peek(AREA + 8, 8), Some(DESC.to_le_bytes().to_vec()));
    d.extend(t.decisions());

    // NULL regs, debug, PROT_NONE area: the RO-field read faults.
    let mut t = Direct::new(x86(true));
    t.mem.set_state(AREA, PageState::ProtNone);
    t.run(|k| v6_18::__rseq_handle_notify_resume(k, Some(sig::SIGUSR2), false));
    let dec = t.decisions();
    assert!(dec.contains(&"rseq_validate_ro_fields/read_fault"));
    assert!(dec.contains(&"rseq_update_cpu_node_id/validate_error"));
    assert_eq!(
        kills(&t.trace.events),
        vec![KillPath::ForceSigsegv { sig: sig::SIGUSR2 }]
    );
    d.extend(dec);

    // rseq_need_restart reads the thread flags only after both flag checks.
    let mut t = Direct::new(x86(false));
    t.state.rseq_event_mask = v6_18::RSEQ_EVENT_MIGRATE;
    assert_eq!(t.run(|k| v6_18::rseq_need_restart(k, 0)), Ok(true));
    assert_eq!(t.state.rseq_event_mask, 0);
    assert_eq!(t.run(|k| v6_18::rseq_need_restart(k, 0)), Ok(false));
    assert_eq!(
        t.run(|k| v6_18::rseq_need_restart(k, 9)),
        Err(errno::EINVAL)
    );
    d.extend(t.decisions());
    d
}

/// Many distinct handled signals pending at once are all delivered: no
/// livelock, one frame each.
fn many_signals_no_livelock() -> Decisions {
    let mut d = Vec::new();
    for c in all_configs() {
        let mut f = reg(c);
        for s in 32..64u8 {
            handler(&mut f, s);
        }
        f.enter_cs();
        f.step(Event::Interrupt);
        for s in 32..64u8 {
            f.step(Event::Signal { sig: s });
        }
        f.step(Event::ExitToUser);
        assert_eq!(fate(&f), Fate::Running, "{c}");
        assert!(!f.last().is_some_and(|o| o.livelock), "{c}");
        assert_eq!(f.model.current().frames.len(), 32, "{c}");
        // Only the first delivery was inside the CS.
        assert_eq!(f.model.current().frames[0].saved_ip, ABORT_IP, "{c}");
        d.extend(f.decisions());
    }
    d
}

// ---------------------------------------------------------------------------
// The case table, one #[test] per case, and the coverage test over all.
// ---------------------------------------------------------------------------

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        const CASES: &[(&str, fn() -> Decisions)] = &[$((stringify!($name), $name),)*];
        mod each {
            $(#[test] fn $name() { super::$name(); })*
        }
    };
}

cases! {
    row00_abort_on_preempt_and_migrate,
    row01_invalid_descriptor_ip_outside_kills,
    row02_version_or_cs_flags_inside_kills,
    row03_abort_inside_cs_kills,
    row04_thread_flags,
    row05_wrapping_cs_kills,
    row06_syscall_in_cs_preempted,
    row07_syscall_in_cs_not_preempted,
    row08_stale_rseq_cs_cleared_after_blocking_syscall,
    row09_null_rseq_cs_still_written,
    row10_11_29_ro_fields_overwritten,
    row12_signal_rewrites_ids_before_handler,
    row13_membarrier_ipi_aborts,
    row14_membarrier_own_cpu,
    row15_signal_after_syscall_in_cs,
    row16_signal_irq_in_cs_aborts,
    row17_descriptor_fault_kills,
    row18_area_fault_during_signal,
    row19_readonly_area_kills,
    row20_unregister_writes,
    row21_unregister_unwritable,
    row22_registration_writes,
    row23_24_30_lengths_and_flags,
    row25_no_writes_beyond_28,
    row27_unregister_then_ipi,
    sys_rseq_unregister_errors,
    sys_rseq_register_errors,
    descriptor_bounds,
    fixup_paths,
    rseq_syscall_paths,
    signal_kill_catchable_or_not,
    notify_after_signal_uses_handler_ip,
    unregistered_task,
    fork_and_exec,
    direct_calls,
    many_signals_no_livelock,
}

#[test]
fn every_decision_point_is_reached() {
    let mut reached = BTreeSet::new();
    for (name, case) in CASES {
        let got = case();
        assert!(!got.is_empty(), "case {name} reached no decision point");
        reached.extend(got);
    }
    let all: BTreeSet<&str> = Decision::NAMES.iter().copied().collect();
    let missing: Vec<_> = all.difference(&reached).collect();
    let unknown: Vec<_> = reached.difference(&all).collect();
    assert!(
        missing.is_empty(),
        "decision points reached by no test: {missing:#?}"
    );
    assert!(unknown.is_empty(), "decisions not in NAMES: {unknown:#?}");
}

// ---------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

fn random_event(r: &mut XorShift, c: &Config) -> Event {
    let ts = c.task_size();
    let rsig = c.arch.rseq_sig();
    let ips = [
        IP_INSIDE,
        IP_INSIDE,
        IP_INSIDE,
        CS_START,
        IP_OUTSIDE,
        CS_START + CS_LEN,
        ABORT_IP,
        HANDLER,
        0,
    ];
    let pages = [AREA, DESC, CODE, HANDLER];
    let sigs = [sig::SIGUSR1, sig::SIGSEGV, sig::SIGUSR2, 40];
    let any = r.next();
    match r.below(40) {
        0..=3 => Event::Syscall(Syscall::Rseq {
            addr: r.pick(&[
                AREA,
                AREA,
                AREA,
                AREA + 16,
                AREA + 32,
                DESC,
                0,
                0x90_0000,
                ts - 32,
                ts,
                (1 << 32) | AREA,
                any,
            ]),
            len: r.pick(&[32, 32, 64, 28, 31, any as u32]),
            flags: r.pick(&[0, 0, 1, 1, 2, 3, (any >> 32) as u32]),
            sig: r.pick(&[rsig, rsig, rsig, 0, abi::ALL_RSEQ_SIGS[(any % 12) as usize]]),
        }),
        4 | 5 => Event::Syscall(r.pick(&[
            Syscall::Getpid,
            Syscall::Getpid,
            Syscall::Sigreturn,
            Syscall::Execve { ok: false },
            Syscall::Execve { ok: true },
            Syscall::Membarrier { own_cpu: true },
            Syscall::Membarrier { own_cpu: false },
        ])),
        6 => Event::Syscall(Syscall::Fork {
            clone_vm: r.below(2) == 0,
            follow_child: r.below(2) == 0,
        }),
        7..=9 => Event::Interrupt,
        10 | 11 => Event::SwitchOut,
        12..=14 => Event::SwitchIn {
            cpu: r.below(u64::from(NR_CPUS)) as u32,
            mm_cid: r.below(u64::from(NR_CPUS)) as u32,
        },
        15 | 16 => Event::Signal { sig: r.pick(&sigs) },
        17 => Event::MembarrierIpi,
        18..=22 | 38 | 39 => Event::ExitToUser,
        23 | 24 => Event::Store {
            addr: AREA + field::RSEQ_CS,
            bytes: r
                .pick(&[DESC, DESC, DESC, DESC, 0, 0, any, ts, (1 << 32) | DESC])
                .to_le_bytes()
                .to_vec(),
        },
        25 => {
            // One field of the descriptor, mostly to a plausible value.
            let choices = [
                (0, r.pick(&[0u64, 1, 1 << 32, 8 << 32])),
                (8, r.pick(&[CS_START, 0, ts, any])),
                (16, r.pick(&[CS_LEN, 0, u64::MAX - 0xff, any])),
                (24, r.pick(&[ABORT_IP, CS_START + 1, 2, ts, any])),
            ];
            let (off, v) = r.pick(&choices);
            Event::Store {
                addr: DESC + off,
                bytes: v.to_le_bytes().to_vec(),
            }
        }
        26 => Event::Store {
            addr: DESC,
            bytes: rseq_cs_bytes(0, 0, CS_START, CS_LEN, ABORT_IP),
        },
        27 => Event::Store {
            addr: AREA + r.pick(&[0, 4, 16, 20, 24, 28]),
            bytes: (any as u32 & r.pick(&[0x1f, 0, 0x7]))
                .to_le_bytes()
                .to_vec(),
        },
        28..=31 => Event::SetIp { ip: r.pick(&ips) },
        32 | 33 => Event::SetHandler {
            sig: r.pick(&sigs),
            installed: r.below(3) != 0,
        },
        34 => Event::Mprotect {
            addr: r.pick(&pages),
            readable: r.below(4) != 0,
            writable: r.below(2) == 0,
        },
        35 => Event::Mprotect {
            addr: r.pick(&pages),
            readable: true,
            writable: true,
        },
        36 => {
            let addr = r.pick(&pages);
            r.pick(&[
                Event::Munmap { addr },
                Event::MadviseDontneed { addr },
                Event::Reclaim { addr },
                Event::Reclaim { addr },
            ])
        }
        _ => Event::Mmap {
            addr: r.pick(&pages),
            state: r.pick(&PageState::ALL),
        },
    }
}

fn run_sequence(c: Config, events: &[Event]) -> (Vec<String>, Vec<TraceEvent>) {
    let mut m = entry().machine(c, standard_setup(standard_mem(&c)));
    for (i, e) in events.iter().enumerate() {
        m.step(i, e);
    }
    m.finish(events.len());
    let obs = m.observations().iter().map(|o| format!("{o:?}")).collect();
    (obs, m.trace().events.clone())
}

#[test]
fn robustness_random_sequences_every_config() {
    let mut r = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut reached = BTreeSet::new();
    let mut deaths = 0usize;
    for c in all_configs() {
        for _ in 0..150 {
            let n = 5 + r.below(60) as usize;
            let mut events = Vec::with_capacity(n + 6);
            // Mostly handled signals, so that sequences live long enough.
            for s in [sig::SIGUSR1, sig::SIGUSR2, 40, sig::SIGSEGV] {
                if r.below(4) != 0 {
                    events.push(Event::SetHandler {
                        sig: s,
                        installed: true,
                    });
                }
            }
            // Half of the sequences start registered, inside a CS.
            if r.below(2) == 0 {
                events.push(Event::Syscall(rseq_call(AREA, 32, 0, c.arch.rseq_sig())));
                events.push(Event::Store {
                    addr: AREA + field::RSEQ_CS,
                    bytes: DESC.to_le_bytes().to_vec(),
                });
            }
            events.extend((0..n).map(|_| random_event(&mut r, &c)));
            let (obs1, trace1) = run_sequence(c, &events);
            let (obs2, trace2) = run_sequence(c, &events);
            assert_eq!(obs1, obs2, "{c}: nondeterministic observations");
            assert_eq!(trace1, trace2, "{c}: nondeterministic trace");
            assert!(
                !obs1.iter().any(|o| o.contains("livelock: true")),
                "{c}: the legacy exit loop cannot livelock: {events:?}"
            );
            deaths += obs1.iter().filter(|o| o.contains("Killed")).count().min(1);
            for e in &trace1 {
                if let TraceEvent::Decision { point } = e {
                    reached.insert(*point);
                }
            }
        }
    }
    // The generator explores: kills happen and most decision points are hit.
    let missing: Vec<_> = Decision::NAMES
        .iter()
        .filter(|n| !reached.contains(*n))
        .collect();
    eprintln!("random sequences missed: {missing:?}; {deaths} ended in a kill");
    assert!(deaths > 50, "only {deaths} sequences ended in a kill");
    assert!(
        reached.len() * 10 >= Decision::NAMES.len() * 7,
        "random sequences reached only {} of {} decision points",
        reached.len(),
        Decision::NAMES.len()
    );
}

#[test]
fn sys_rseq_any_arguments_never_panic() {
    let mut r = XorShift(0xDEAD_BEEF_1234_5678);
    for c in all_configs() {
        let mut t = Direct::new(c);
        for i in 0..2000 {
            if i % 100 == 0 {
                t = Direct::new(c);
                t.state = TaskRseq::default();
            }
            let addr = if r.below(2) == 0 {
                r.next()
            } else {
                AREA + (r.below(8) * 8)
            };
            let len = if r.below(2) == 0 {
                r.next() as u32
            } else {
                r.pick(&[28, 32, 64])
            };
            let flags = if r.below(2) == 0 {
                r.next() as u32
            } else {
                r.below(4) as u32
            };
            let sg = if r.below(2) == 0 {
                r.next() as u32
            } else {
                c.arch.rseq_sig()
            };
            let ret = t.run(|k| v6_18::sys_rseq(k, addr, len, flags, sg));
            assert!(
                [
                    0,
                    -errno::EINVAL,
                    -errno::EPERM,
                    -errno::EBUSY,
                    -errno::EFAULT
                ]
                .contains(&ret),
                "{c}: rseq({addr:#x}, {len}, {flags:#x}, {sg:#x}) = {ret}"
            );
            assert!(kills(&t.trace.events).is_empty(), "sys_rseq never kills");
        }
    }
}

#[test]
fn configs_are_every_arch_with_and_without_debug() {
    let names: Vec<String> = V6_18::configs().iter().map(|c| c.name()).collect();
    assert_eq!(names.len(), 10);
    for arch in Arch::ALL {
        for debug in [false, true] {
            assert!(names.contains(&Config::native(arch, debug).name()));
        }
    }
    assert_eq!(entry().name, "v6.18");
    assert_eq!(entry().decisions, Decision::NAMES);
}
