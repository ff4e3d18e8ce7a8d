//! Tests of the v7.0 model: every decision point reached with its outcome
//! asserted (one table of cases, one coverage test over their union), and
//! robustness over pseudo-random event sequences in every configuration.

mod v7_common;

use rseq_fuzz::abi::{self, errno, rseq, sig};
use rseq_fuzz::kernel::{Event, Syscall};
use rseq_fuzz::mem::PageState;
use rseq_fuzz::testkit::{Fixture, ABORT_IP, AREA, CODE, CS_LEN, CS_START, DESC, HANDLER};
use rseq_fuzz::trace::KillPath;
use v7_common::*;

type Case = fn(&mut Cov);
type Setup = fn(&mut Fixture);

fn v() -> &'static rseq_fuzz::versions::VersionEntry {
    v70()
}

// ---------------------------------------------------------------- sys_rseq

fn case_register_errors(c: &mut Cov) {
    let cfg = x86(false);
    let mut f = fixture(v(), cfg);
    let s = cfg.arch.rseq_sig();
    let call = |f: &mut Fixture, addr: u64, len: u32, flags: u32, sg: u32| {
        f.syscall(Syscall::Rseq {
            addr,
            len,
            flags,
            sig: sg,
        })
        .unwrap()
    };
    // Unregister checks, in order.
    assert_eq!(call(&mut f, AREA, 32, 3, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/unregister_bad_flags"));
    assert_eq!(call(&mut f, AREA, 32, 1, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/unregister_not_registered_or_other_addr"));
    // Register checks.
    assert_eq!(call(&mut f, AREA, 32, 4, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/register_bad_flags"));
    assert_eq!(call(&mut f, AREA, 31, 0, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/len_below_orig_size"));
    assert_eq!(call(&mut f, AREA + 16, 32, 0, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/orig_size_misaligned"));
    // 7.0: rseq_len > 32 needs 64-byte alignment (rseq_alloc_align()).
    assert_eq!(call(&mut f, AREA + 32, 64, 0, s), -errno::EINVAL);
    assert_eq!(call(&mut f, AREA + 32, 33, 0, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/ext_len_misaligned_alloc_align"));
    let ts = cfg.task_size();
    assert_eq!(call(&mut f, ts, 32, 0, s), -errno::EFAULT);
    assert!(f.took("sys_rseq/access_ok_failed"));
    // A 33-byte registration (the feature size) is accepted at 64 alignment.
    assert_eq!(call(&mut f, AREA, 33, 0, s), 0);
    assert!(f.took("sys_rseq/register_ok"));
    // Re-registration checks.
    assert_eq!(call(&mut f, AREA + 64, 33, 0, s), -errno::EINVAL);
    assert_eq!(call(&mut f, AREA, 64, 0, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/reregister_addr_or_len_mismatch"));
    assert_eq!(call(&mut f, AREA, 33, 0, s ^ 1), -errno::EPERM);
    assert!(f.took("sys_rseq/reregister_sig_mismatch"));
    assert_eq!(call(&mut f, AREA, 33, 0, s), -errno::EBUSY);
    assert!(f.took("sys_rseq/reregister_busy"));
    // Unregistration checks after registration.
    assert_eq!(call(&mut f, AREA, 32, 1, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/unregister_len_mismatch"));
    assert_eq!(call(&mut f, AREA, 33, 1, s ^ 1), -errno::EPERM);
    assert!(f.took("sys_rseq/unregister_sig_mismatch"));
    assert_eq!(call(&mut f, AREA, 33, 1, s), 0);
    assert!(f.took("sys_rseq/unregister_ok"));
    assert!(!dead(&f) && kills(&f).is_empty());
    c.add(&f);
}

fn case_register_writes(c: &mut Cov) {
    // The flags the kernel writes at registration and slice_ctrl zeroing.
    for (cfg, flags, want) in [
        (
            x86_slice(false),
            abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON,
            0x30u32,
        ),
        (x86_slice(false), 0, 0x10),
        // AVAILABLE is advertised even with the key off (v7.0).
        (
            x86_slice_off(false),
            abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON,
            0x10,
        ),
        (x86(false), abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, 0),
        (arm64(false), 0, 0),
    ] {
        let mut f = fixture(v(), cfg);
        store_u32(&mut f, rseq::FLAGS, 0xffff_0000);
        store_u32(&mut f, rseq::SLICE_CTRL, 0x0101_0101);
        store_u32(&mut f, rseq::CPU_ID_START, 7);
        f.set_rseq_cs(DESC);
        // Observe the syscall before the return to user: what it wrote.
        let s = cfg.arch.rseq_sig();
        f.step(Event::Syscall(Syscall::Rseq {
            addr: AREA,
            len: 32,
            flags,
            sig: s,
        }));
        assert_eq!(u32_at(&f, rseq::FLAGS), want, "{cfg}");
        // slice_ctrl is zeroed by the registration whatever the config.
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0, "{cfg}");
        assert_eq!(rseq_cs(&f), 0);
        assert_eq!(ids(&f), [u32::MAX, u32::MAX, 0, 0], "{cfg}");
        f.step(Event::ExitToUser);
        assert_eq!(f.last().unwrap().syscall_ret, Some(0));
        assert_eq!(ids(&f), ids_of(CPU0, CID0), "{cfg}");
        if cfg.slice_key {
            assert!(f.took("sys_rseq/slice_ext_configured_available"));
        }
        if want == 0x30 {
            assert!(f.took("sys_rseq/slice_key_on_default_on_enabled"));
            // The prctl reports it enabled.
            let r = f.syscall(Syscall::PrctlSlice { op: 1, arg: 0 });
            assert_eq!(r, Some(1));
        }
        c.add(&f);
    }
    // The write region faults: EFAULT, not registered.
    let mut f = fixture(v(), x86(false));
    protect_area(&mut f, true, false);
    assert_eq!(reg(&mut f, 32), -errno::EFAULT);
    assert!(f.took("sys_rseq/register_write_fault"));
    protect_area(&mut f, true, true);
    assert_eq!(reg(&mut f, 32), 0);
    c.add(&f);
}

fn case_unregister(c: &mut Cov) {
    // v7.0 writes cpu_id_start = -1 (RSEQ_CPU_ID_UNINITIALIZED) and, key
    // on, slice_ctrl = 0.
    let mut f = registered(v(), x86_slice(false), 32);
    store_u32(&mut f, rseq::SLICE_CTRL, 1);
    assert_eq!(unreg(&mut f, 32), Some(0));
    assert_eq!(ids(&f), [u32::MAX, u32::MAX, 0, 0]);
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    assert!(f.took("rseq_set_ids_get_csaddr/clear_slice_ctrl"));
    c.add(&f);
    // Unwritable area: KILL_FORCE_SIG and EFAULT, registration kept.
    let mut f = registered(v(), x86(false), 32);
    f.step(Event::SetHandler {
        sig: sig::SIGSEGV,
        installed: true,
    });
    protect_area(&mut f, true, false);
    assert_eq!(unreg(&mut f, 32), Some(-errno::EFAULT));
    assert!(f.took("rseq_reset_ids/set_ids_failed_force_sig"));
    assert!(f.took("sys_rseq/unregister_reset_ids_failed"));
    assert_eq!(kills(&f), vec![KillPath::ForceSig]);
    assert!(f.last().unwrap().sigsegv_handled);
    protect_area(&mut f, true, true);
    assert_eq!(reg(&mut f, 32), -errno::EBUSY);
    c.add(&f);
}

// ---------------------------------------------------- fast path, non-debug

fn case_preempt_abort(c: &mut Cov) {
    let mut f = registered(v(), x86(false), 32);
    f.enter_cs();
    store_u32(&mut f, rseq::CPU_ID_START, 77);
    f.preempt_irq();
    assert!(aborted(&f));
    assert_eq!(rseq_cs(&f), 0);
    // IDs unchanged: not rewritten.
    assert_eq!(u32_at(&f, rseq::CPU_ID_START), 77);
    for d in [
        "rseq_note_user_irq_entry/user_irq",
        "rseq_sched_switch_event/gie_raise",
        "rseq_exit_user_update/ids_unchanged",
        "rseq_exit_user_update/debug_or_csaddr_update_cs",
        "rseq_update_user_cs/abort",
        "__rseq_exit_to_user_mode_restart/updated",
        "rseq_irqentry_exit_to_user_mode/clear_events",
    ] {
        assert!(f.took(d), "{d}");
    }
    c.add(&f);
    // Migration: IDs rewritten (the user's 77 overwritten), CS aborted.
    let mut f = registered(v(), x86(false), 32);
    f.enter_cs();
    store_u32(&mut f, rseq::CPU_ID_START, 77);
    f.migrate_irq(6);
    assert!(aborted(&f));
    assert_eq!(ids(&f), ids_of(6, CID0));
    assert!(f.took("rseq_exit_user_update/ids_changed"));
    assert!(f.took("rseq_update_usr/update_user_cs"));
    // A cid change alone also rewrites the IDs.
    f.steps([
        Event::Interrupt,
        Event::SwitchOut,
        Event::SwitchIn { cpu: 6, mm_cid: 1 },
        Event::ExitToUser,
    ]);
    assert!(f.took("mm_cid_schedin/cid_changed"));
    assert_eq!(ids(&f), ids_of(6, 1));
    // Migration with rseq_cs == 0.
    f.migrate_irq(2);
    assert!(f.took("rseq_update_usr/csaddr_zero"));
    assert_eq!(ids(&f), ids_of(2, 1));
    c.add(&f);
}

fn case_cs_outcomes(c: &mut Cov) {
    let cfg = x86(false);
    // Stale rseq_cs, IP outside: CLEAR.
    let mut f = registered(v(), cfg, 32);
    stale_cs(&mut f);
    f.preempt_irq();
    assert_eq!(rseq_cs(&f), 0);
    assert!(f.took("rseq_update_user_cs/ip_outside_clear"));
    c.add(&f);
    // Each fatal or faulting descriptor: deferred to the slow path, which
    // finds the same and kills with force_sig(SIGSEGV).
    let bad: [(&str, Setup); 5] = [
        ("rseq_update_user_cs/abort_ip_invalid", |f| {
            enter_cs_with(f, 0, 0, CS_START, CS_LEN, 2)
        }),
        ("rseq_update_user_cs/sig_read_fault", |f| {
            enter_cs_with(f, 0, 0, CS_START, CS_LEN, 0x90_0004)
        }),
        ("rseq_update_user_cs/sig_mismatch", |f| {
            enter_cs_with(f, 0, 0, CS_START, CS_LEN, CODE + 0x300)
        }),
        ("rseq_update_user_cs/read_fault", |f| {
            f.enter_cs();
            f.step(Event::Munmap { addr: DESC });
        }),
        ("rseq_update_user_cs/csaddr_beyond_task_size", |f| {
            f.enter_cs();
            let ts = f.cfg.task_size();
            f.set_rseq_cs(ts);
        }),
    ];
    for (point, setup) in bad {
        let mut f = registered(v(), cfg, 32);
        setup(&mut f);
        f.preempt_irq();
        assert!(f.took(point), "{point}");
        assert!(f.took("rseq_exit_user_update/update_cs_failed"), "{point}");
        assert!(f.took("rseq_exit_to_user_mode_restart/defer_to_slowpath"));
        assert!(f.took("rseq_handle_slowpath/run"));
        assert!(f.took("rseq_slowpath_update_usr/update_failed_force_sig"));
        assert_eq!(kills(&f), vec![KillPath::ForceSig], "{point}");
        assert!(dead(&f), "{point}");
        c.add(&f);
    }
    // Unwritable area: the abort's rseq_cs write faults, the IP stays.
    let mut f = registered(v(), cfg, 32);
    f.enter_cs();
    protect_area(&mut f, true, false);
    f.preempt_irq();
    assert!(f.took("rseq_update_user_cs/write_fault"));
    assert!(f.took("rseq_set_ids_get_csaddr/fault"));
    assert!(f.took("rseq_update_usr/set_ids_failed"));
    assert_eq!(kills(&f), vec![KillPath::ForceSig]);
    assert!(inside(&f) && dead(&f));
    c.add(&f);
}

fn case_fast_path_faults(c: &mut Cov) {
    // Area not present: the fast path cannot fault it in, defers; the slow
    // path resolves the fault and completes (IDs and abort).
    let mut f = registered(v(), x86(false), 32);
    f.enter_cs();
    f.step(Event::Reclaim { addr: AREA });
    f.preempt_irq();
    assert!(f.took("rseq_exit_user_update/csaddr_fault"));
    assert!(f.took("__rseq_exit_to_user_mode_restart/update_failed"));
    assert!(f.took("rseq_slowpath_update_usr/ok"));
    assert!(aborted(&f) && !dead(&f));
    // The slow path rewrote the IDs although they did not change.
    assert_eq!(ids(&f), ids_of(CPU0, CID0));
    // The next round finds no sched_switch.
    assert!(f.took("__rseq_exit_to_user_mode_restart/no_sched_switch"));
    c.add(&f);
    // IDs changed and the area is read-only: the write faults in both
    // paths; killed.
    let mut f = registered(v(), x86(false), 32);
    protect_area(&mut f, true, false);
    f.migrate_irq(4);
    assert!(f.took("rseq_set_ids_get_csaddr/fault"));
    assert_eq!(kills(&f), vec![KillPath::ForceSig]);
    assert!(dead(&f));
    c.add(&f);
}

// ---------------------------------------------------------------- debug

fn case_debug_cs(c: &mut Cov) {
    let cfg = x86(true);
    let ts = cfg.task_size();
    // Debug preemption inside a valid CS: ABORT via the debug routine.
    let mut f = registered(v(), cfg, 32);
    f.enter_cs();
    f.preempt_irq();
    assert!(aborted(&f));
    assert!(f.took("rseq_update_user_cs/debug_key_on"));
    assert!(f.took("rseq_debug_update_user_cs/abort"));
    c.add(&f);
    // Clears: IP below start, IP at/after end (syscall return check).
    let mut f = registered(v(), cfg, 32);
    f.set_rseq_cs(DESC);
    f.step(Event::SetIp { ip: CODE });
    assert!(f.syscall(Syscall::Getpid).is_some());
    assert!(f.took("rseq_debug_update_user_cs/ip_below_start_clear"));
    assert_eq!(rseq_cs(&f), 0);
    stale_cs(&mut f);
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_debug_update_user_cs/ip_at_or_past_end_clear"));
    assert!(f.took("__rseq_debug_syscall_return/cs_ok"));
    assert_eq!(rseq_cs(&f), 0);
    assert!(!dead(&f));
    c.add(&f);
    // Invalid descriptors with the IP inside, found at syscall return.
    let cases: [(&str, u32, u64, u64, u64); 7] = [
        (
            "rseq_debug_update_user_cs/start_ip_beyond_task_size",
            0,
            ts,
            CS_LEN,
            ABORT_IP,
        ),
        (
            "rseq_debug_update_user_cs/cs_end_invalid",
            0,
            CS_START,
            u64::MAX - 0x10,
            ABORT_IP,
        ),
        (
            "rseq_debug_update_user_cs/abort_ip_invalid",
            0,
            CS_START,
            CS_LEN,
            2,
        ),
        (
            "rseq_debug_update_user_cs/abort_ip_inside_cs",
            0,
            CS_START,
            CS_LEN,
            CS_START + 4,
        ),
        (
            "rseq_debug_update_user_cs/version_or_flags_nonzero",
            1,
            CS_START,
            CS_LEN,
            ABORT_IP,
        ),
        (
            "rseq_debug_update_user_cs/sig_mismatch",
            0,
            CS_START,
            CS_LEN,
            CODE + 0x300,
        ),
        (
            "rseq_debug_update_user_cs/gie_not_user_irq",
            0,
            CS_START,
            CS_LEN,
            ABORT_IP,
        ),
    ];
    for (point, ver, start, off, abort) in cases {
        let mut f = registered(v(), cfg, 32);
        enter_cs_with(&mut f, ver, 0, start, off, abort);
        f.syscall(Syscall::Getpid);
        assert!(f.took(point), "{point}");
        assert!(f.took("__rseq_debug_syscall_return/force_sig"), "{point}");
        assert_eq!(kills(&f), vec![KillPath::ForceSig], "{point}");
        assert!(dead(&f), "{point}");
        c.add(&f);
    }
    // Descriptor unreadable; rseq_cs unwritable.
    let mut f = registered(v(), cfg, 32);
    f.enter_cs();
    f.step(Event::Munmap { addr: DESC });
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_debug_update_user_cs/read_fault"));
    assert!(dead(&f));
    c.add(&f);
    let mut f = registered(v(), cfg, 32);
    stale_cs(&mut f);
    protect_area(&mut f, true, false);
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_debug_update_user_cs/write_fault"));
    assert!(dead(&f));
    c.add(&f);
}

fn case_debug_syscall_return(c: &mut Cov) {
    let cfg = x86(true);
    let mut f = fixture(v(), cfg);
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/not_registered"));
    assert_eq!(reg(&mut f, 32), 0);
    assert!(f.took("__rseq_debug_syscall_return/csaddr_zero"));
    c.add(&f);
    let mut f = registered(v(), cfg, 32);
    f.set_rseq_cs(u64::MAX - 7);
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/csaddr_beyond_task_size"));
    assert_eq!(kills(&f), vec![KillPath::ForceSig]);
    c.add(&f);
    let mut f = registered(v(), cfg, 32);
    protect_area(&mut f, false, false);
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/read_fault"));
    assert!(dead(&f));
    c.add(&f);
}

fn case_debug_validate_ids(c: &mut Cov) {
    let cfg = x86(true);
    // Each RO field overwritten, then an ID write (migration): fatal.
    for (off, point) in [
        (
            rseq::CPU_ID_START,
            "rseq_debug_validate_ids/cpu_id_start_mismatch",
        ),
        (rseq::CPU_ID, "rseq_debug_validate_ids/cpu_id_mismatch"),
        (rseq::NODE_ID, "rseq_debug_validate_ids/node_id_mismatch"),
        (rseq::MM_CID, "rseq_debug_validate_ids/mm_cid_mismatch"),
    ] {
        let mut f = registered(v(), cfg, 32);
        assert!(f.took("rseq_debug_validate_ids/ok"));
        store_u32(&mut f, off, 1234);
        f.migrate_irq(5);
        assert!(f.took(point), "{point}");
        assert_eq!(kills(&f), vec![KillPath::ForceSig]);
        assert!(dead(&f));
        c.add(&f);
    }
    // Not present: the fast-path validation read faults, the slow path
    // resolves it.
    let mut f = registered(v(), cfg, 32);
    f.step(Event::Reclaim { addr: AREA });
    f.migrate_irq(5);
    assert!(f.took("rseq_debug_validate_ids/read_fault"));
    assert_eq!(ids(&f), ids_of(5, CID0));
    assert!(!dead(&f));
    c.add(&f);
}

// ---------------------------------------------------------------- signals

fn case_signals(c: &mut Cov) {
    let cfg = x86(false);
    let usr1 = |f: &mut Fixture| {
        f.step(Event::SetHandler {
            sig: sig::SIGUSR1,
            installed: true,
        });
    };
    // After an interrupt, inside the CS: ABORT before the frame.
    let mut f = registered(v(), cfg, 32);
    usr1(&mut f);
    f.enter_cs();
    f.steps([Event::Signal { sig: sig::SIGUSR1 }, Event::ExitToUser]);
    assert_eq!(f.ip(), HANDLER);
    assert_eq!(rseq_cs(&f), 0);
    assert!(f.took("rseq_signal_deliver/deliver"));
    assert!(f.took("rseq_handle_cs/update_user_cs"));
    assert!(f.took("__rseq_signal_deliver/ok"));
    assert!(f.took("rseq_exit_to_user_mode_restart/tif_rseq_not_set"));
    f.syscall(Syscall::Sigreturn);
    assert_eq!(f.ip(), ABORT_IP);
    // After a syscall: skipped (no user_irq).
    f.enter_cs();
    f.steps([
        Event::Syscall(Syscall::Getpid),
        Event::Signal { sig: sig::SIGUSR1 },
        Event::ExitToUser,
    ]);
    assert!(f.took("rseq_signal_deliver/skip"));
    assert_eq!(rseq_cs(&f), DESC);
    // rseq_cs == 0.
    f.syscall(Syscall::Sigreturn);
    f.set_rseq_cs(0);
    f.steps([Event::Signal { sig: sig::SIGUSR1 }, Event::ExitToUser]);
    assert!(f.took("rseq_handle_cs/csaddr_zero"));
    c.add(&f);
    // Unreadable area during delivery: force_sigsegv(sig).
    let mut f = registered(v(), cfg, 32);
    usr1(&mut f);
    protect_area(&mut f, false, false);
    f.steps([Event::Signal { sig: sig::SIGUSR1 }, Event::ExitToUser]);
    assert!(f.took("rseq_handle_cs/read_fault"));
    assert!(f.took("__rseq_signal_deliver/handle_cs_failed_force_sigsegv"));
    assert_eq!(
        kills(&f),
        vec![KillPath::ForceSigsegv { sig: sig::SIGUSR1 }]
    );
    assert!(dead(&f));
    c.add(&f);
}

// ----------------------------------------------------- architectures, misc

fn case_arch_classes(c: &mut Cov) {
    // arm64 (GIE, no GE) in v7.0: user_irq never noted; same-CPU
    // preemption inside a CS does nothing; exits clear the events.
    let mut f = registered(v(), arm64(false), 32);
    assert!(f.took("rseq_handle_slowpath/run"));
    assert!(f.took("rseq_exit_to_user_mode_legacy/clear_events"));
    f.enter_cs();
    f.preempt_irq();
    assert!(f.took("arm64_enter_from_user_mode/user_irq_not_noted"));
    assert!(f.took("rseq_sched_switch_event/gie_no_raise"));
    assert!(inside(&f));
    assert_eq!(rseq_cs(&f), DESC);
    c.add(&f);
    // arm32 (no GIE): every switch-in raises; the slow path aborts.
    let mut f = fixture(v(), arm32(false));
    f.preempt_irq();
    assert!(f.took("rseq_sched_switch_event/not_registered"));
    assert_eq!(reg(&mut f, 32), 0);
    f.enter_cs();
    f.preempt_irq();
    assert!(f.took("rseq_sched_switch_event/raise"));
    assert!(aborted(&f));
    assert_eq!(ids(&f), ids_of(CPU0, CID0));
    c.add(&f);
    // GE without TIF bits: TIF_RSEQ is TIF_NOTIFY_RESUME, so the slow-path
    // gate runs (and skips) before the fast path.
    let f = registered(v(), ge_without_tifb(false), 32);
    assert!(f.took("rseq_handle_slowpath/not_needed"));
    assert_eq!(ids(&f), ids_of(CPU0, CID0));
    c.add(&f);
}

fn case_exec_fork_membarrier(c: &mut Cov) {
    let mut f = fixture(v(), x86(false));
    f.syscall(Syscall::Execve { ok: false });
    assert!(f.took("rseq_force_update/not_registered"));
    assert_eq!(reg(&mut f, 32), 0);
    assert!(f.took("rseq_force_update/raise"));
    store_u32(&mut f, rseq::CPU_ID_START, 9);
    f.syscall(Syscall::Execve { ok: false });
    // A failed exec forces an ID update.
    assert_eq!(u32_at(&f, rseq::CPU_ID_START), CPU0);
    // membarrier IPI in user mode inside a CS: ABORT, IDs not rewritten.
    f.enter_cs();
    store_u32(&mut f, rseq::CPU_ID_START, 9);
    f.steps([Event::MembarrierIpi, Event::ExitToUser]);
    assert!(aborted(&f));
    assert_eq!(u32_at(&f, rseq::CPU_ID_START), 9);
    f.syscall(Syscall::Execve { ok: true });
    assert!(f.took("rseq_execve/reset"));
    // After exec: not registered any more.
    assert_eq!(reg(&mut f, 32), 0);
    c.add(&f);
}

fn case_arm32_work_loop(c: &mut Cov) {
    case_arm32_do_work_pending(v(), 32, c);
}

fn case_livelock_bound(c: &mut Cov) {
    // More pending signals with handlers than the loop bound: each pass
    // delivers one, which is progress, so all are delivered and there is
    // no livelock (the kernel's loop has no bound at all).
    let mut f = registered(v(), x86(false), 32);
    for s in 32..52u8 {
        f.step(Event::SetHandler {
            sig: s,
            installed: true,
        });
    }
    for s in 32..52u8 {
        f.step(Event::Signal { sig: s });
    }
    f.step(Event::ExitToUser);
    let frames = f
        .model
        .trace()
        .events
        .iter()
        .filter(|e| matches!(e, rseq_fuzz::trace::TraceEvent::SignalFrame { .. }))
        .count();
    assert_eq!(frames, 20);
    assert!(!f.last().unwrap().livelock);
    c.add(&f);
}

// ---------------------------------------------------- time-slice extension

/// Registered with DEFAULT_ON on x86+slice, the request byte set.
fn slice_fixture(debug: bool) -> Fixture {
    let mut f = fixture(v(), x86_slice(debug));
    assert_eq!(
        reg_flags(&mut f, 32, abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON),
        0
    );
    store_u8(&mut f, rseq::SLICE_REQUEST, 1);
    f
}

/// NEED_RESCHED while in user mode, return to user: a grant.
fn grant(f: &mut Fixture) {
    f.steps([Event::NeedResched, Event::ExitToUser]);
}

fn case_slice_grant_yield(c: &mut Cov) {
    let mut f = slice_fixture(false);
    grant(&mut f);
    assert!(f.took("rseq_grant_slice_extension/granted"));
    assert!(f.took("__rseq_arm_slice_extension_timer/armed"));
    assert!(!f.took("exit_to_user_mode_loop/schedule"));
    // request 0, granted 1.
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0x100);
    assert_eq!(
        f.syscall(Syscall::SliceYield),
        Some(1),
        "rseq_slice_yield within the grant"
    );
    for d in [
        "rseq_cancel_slice_extension_timer/cancel",
        "rseq_syscall_enter_work/set_need_resched_yielded",
        "rseq_syscall_enter_work/cond_resched",
        "rseq_syscall_enter_work/grant_cleared",
        "sys_rseq_slice_yield/yielded",
    ] {
        assert!(f.took(d), "{d}");
    }
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    // No grant now: yield returns 0; no request: no grant, schedule.
    assert_eq!(f.syscall(Syscall::SliceYield), Some(0));
    assert!(f.took("sys_rseq_slice_yield/not_yielded"));
    grant(&mut f);
    assert!(f.took("rseq_grant_slice_extension/no_request"));
    assert!(f.took("exit_to_user_mode_loop/schedule"));
    c.add(&f);
    // Any other syscall while granted aborts the grant.
    let mut f = slice_fixture(false);
    grant(&mut f);
    assert!(f.syscall(Syscall::Getpid).unwrap() > 0);
    assert!(f.took("rseq_syscall_enter_work/set_need_resched_aborted"));
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    c.add(&f);
}

/// v7_common::check_slice_grant_expires_in_kernel.
fn case_slice_expires_in_kernel(c: &mut Cov) {
    let f = check_slice_grant_expires_in_kernel(slice_fixture(false), "rseq_grant_slice_extension");
    c.add(&f);
}

fn case_slice_timer_revoke(c: &mut Cov) {
    // The timer expires while granted: need-resched, revoked on the exit,
    // rescheduled; the fast path zeroes slice_ctrl.
    let mut f = slice_fixture(false);
    f.step(Event::SliceTimer);
    assert!(f.took("rseq_slice_expired/cookie_not_current"));
    f.step(Event::ExitToUser);
    grant(&mut f);
    f.steps([Event::SliceTimer, Event::ExitToUser]);
    for d in [
        "rseq_slice_expired/set_need_resched",
        "rseq_grant_slice_extension/work_pending_or_granted_revoke",
        "exit_to_user_mode_loop/schedule",
        "rseq_exit_user_update/clear_slice_ctrl",
        "rseq_arm_slice_extension_timer/not_granted",
    ] {
        assert!(f.took(d), "{d}");
    }
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    // SYSCALL_SLICE is still armed; the grant is gone.
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_syscall_enter_work/not_granted"));
    c.add(&f);
    // Granted, preempted by an interrupt (fast path revokes), then the
    // (uncancelled) timer fires: nothing.
    let mut f = slice_fixture(false);
    grant(&mut f);
    f.preempt_irq();
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    f.steps([Event::SliceTimer, Event::ExitToUser]);
    assert!(f.took("rseq_slice_expired/not_granted"));
    c.add(&f);
    // Other work pending with the reschedule: no grant, slice_ctrl zeroed.
    let mut f = slice_fixture(false);
    f.step(Event::SetHandler {
        sig: sig::SIGUSR1,
        installed: true,
    });
    f.steps([
        Event::NeedResched,
        Event::Signal { sig: sig::SIGUSR1 },
        Event::ExitToUser,
    ]);
    assert!(f.took("rseq_grant_slice_extension/work_pending_or_granted_revoke"));
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    c.add(&f);
    // Not enabled: no user access at all.
    let mut f = registered(v(), x86_slice(false), 32);
    store_u8(&mut f, rseq::SLICE_REQUEST, 1);
    grant(&mut f);
    assert!(f.took("rseq_grant_slice_extension/not_enabled_or_not_user_irq"));
    assert!(accesses_by(&f, "rseq_grant_slice_extension").is_empty());
    // Rescheduled after an interrupt: the fast path zeroes slice_ctrl.
    assert!(f.took("exit_to_user_mode_loop/schedule"));
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    c.add(&f);
}

fn case_slice_faults(c: &mut Cov) {
    // The grant's write faults: force_sig(SIGSEGV), then schedule.
    let mut f = slice_fixture(false);
    protect_area(&mut f, true, false);
    grant(&mut f);
    assert!(f.took("rseq_grant_slice_extension/fault_force_sig"));
    assert_eq!(kills(&f), vec![KillPath::ForceSig]);
    assert!(dead(&f));
    c.add(&f);
    // Clearing the grant at syscall entry faults.
    let mut f = slice_fixture(false);
    grant(&mut f);
    protect_area(&mut f, true, false);
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_syscall_enter_work/clear_fault_force_sig"));
    assert!(dead(&f));
    c.add(&f);
    // Debug: slice_ctrl must read {granted} at syscall entry.
    let mut f = slice_fixture(true);
    grant(&mut f);
    f.syscall(Syscall::SliceYield);
    assert!(f.took("rseq_slice_validate_ctrl/ok"));
    grant(&mut f);
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    store_u8(&mut f, rseq::SLICE_REQUEST, 1);
    grant(&mut f);
    store_u8(&mut f, rseq::SLICE_GRANTED, 0);
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_slice_validate_ctrl/mismatch_force_sig"));
    assert!(dead(&f));
    c.add(&f);
}

fn case_prctl(c: &mut Cov) {
    let get = Syscall::PrctlSlice { op: 1, arg: 0 };
    let set = |arg| Syscall::PrctlSlice { op: 2, arg };
    // Not configured: the stub returns ENOTSUPP; rseq_slice_yield ENOSYS.
    let mut f = fixture(v(), x86(false));
    assert_eq!(f.syscall(get.clone()), Some(-errno::ENOTSUPP));
    assert!(f.took("rseq_slice_extension_prctl/not_configured"));
    assert_eq!(f.syscall(Syscall::SliceYield), Some(-errno::ENOSYS));
    assert!(f.took("sys_rseq_slice_yield/not_configured"));
    c.add(&f);
    // Key off: SET is ENOTSUPP after the argument check.
    let mut f = fixture(v(), x86_slice_off(false));
    assert_eq!(f.syscall(set(2)), Some(-errno::EINVAL));
    assert!(f.took("rseq_slice_extension_prctl/set_bad_arg"));
    assert_eq!(f.syscall(set(1)), Some(-errno::ENOTSUPP));
    assert!(f.took("rseq_slice_extension_prctl/set_key_off"));
    c.add(&f);
    // Key on: errno order of spec §4.15, then the flag rewrite.
    let mut f = fixture(v(), x86_slice(false));
    assert_eq!(
        f.syscall(Syscall::PrctlSlice { op: 1, arg: 1 }),
        Some(-errno::EINVAL)
    );
    assert!(f.took("rseq_slice_extension_prctl/get_bad_arg"));
    assert_eq!(
        f.syscall(Syscall::PrctlSlice { op: 9, arg: 0 }),
        Some(-errno::EINVAL)
    );
    assert!(f.took("rseq_slice_extension_prctl/bad_op"));
    assert_eq!(f.syscall(set(1)), Some(-errno::ENXIO));
    assert!(f.took("rseq_slice_extension_prctl/set_not_registered"));
    assert_eq!(reg(&mut f, 32), 0);
    assert_eq!(u32_at(&f, rseq::FLAGS), 0x10);
    assert_eq!(f.syscall(set(0)), Some(0));
    assert!(f.took("rseq_slice_extension_prctl/set_no_change"));
    assert_eq!(f.syscall(set(1)), Some(0));
    assert!(f.took("rseq_slice_extension_prctl/set_ok"));
    assert_eq!(u32_at(&f, rseq::FLAGS), 0x30);
    assert_eq!(f.syscall(get.clone()), Some(1));
    assert!(f.took("rseq_slice_extension_prctl/get"));
    assert_eq!(f.syscall(set(0)), Some(0));
    assert_eq!(u32_at(&f, rseq::FLAGS), 0x10);
    c.add(&f);
    // User cleared AVAILABLE: inconsistent, killed, EFAULT.
    let mut f = registered(v(), x86_slice(false), 32);
    store_u32(&mut f, rseq::FLAGS, 0);
    assert_eq!(f.syscall(set(1)), Some(-errno::EFAULT));
    assert!(f.took("rseq_slice_extension_prctl/set_flags_inconsistent"));
    assert!(dead(&f));
    c.add(&f);
    // Unreadable / unwritable flags.
    for (r, w, point) in [
        (false, false, "rseq_slice_extension_prctl/set_read_fault"),
        (true, false, "rseq_slice_extension_prctl/set_write_fault"),
    ] {
        let mut f = registered(v(), x86_slice(false), 32);
        protect_area(&mut f, r, w);
        assert_eq!(f.syscall(set(1)), Some(-errno::EFAULT));
        assert!(f.took(point), "{point}");
        assert_eq!(kills(&f), vec![KillPath::ForceSig]);
        c.add(&f);
    }
}

fn case_kvm_run_arm64(c: &mut Cov) {
    kvm_run_arm64_retrigger(v(), 32, c);
}

const CASES: &[(&str, Case)] = &[
    ("register_errors", case_register_errors),
    ("register_writes", case_register_writes),
    ("unregister", case_unregister),
    ("preempt_abort", case_preempt_abort),
    ("cs_outcomes", case_cs_outcomes),
    ("fast_path_faults", case_fast_path_faults),
    ("debug_cs", case_debug_cs),
    ("debug_syscall_return", case_debug_syscall_return),
    ("debug_validate_ids", case_debug_validate_ids),
    ("signals", case_signals),
    ("arch_classes", case_arch_classes),
    ("kvm_run_arm64", case_kvm_run_arm64),
    ("exec_fork_membarrier", case_exec_fork_membarrier),
    ("arm32_work_loop", case_arm32_work_loop),
    ("livelock_bound", case_livelock_bound),
    ("slice_grant_yield", case_slice_grant_yield),
    ("slice_timer_revoke", case_slice_timer_revoke),
    ("slice_expires_in_kernel", case_slice_expires_in_kernel),
    ("slice_faults", case_slice_faults),
    ("prctl", case_prctl),
];

#[test]
fn every_decision_point_is_reached_and_asserted() {
    let mut cov = Cov::default();
    for (name, case) in CASES {
        let before = cov.0.len();
        case(&mut cov);
        assert!(cov.0.len() > before, "case {name} reached nothing");
    }
    assert_full_coverage("v7.0", v().decisions, &cov.0);
}

#[test]
fn configs_are_the_issue_set() {
    let names: Vec<String> = (v().configs)().iter().map(|c| c.name()).collect();
    assert_eq!(names.len(), 26);
    for n in [
        "x86_64+ge+gie+tifb+slice",
        "x86_64-la57+ge+gie+tifb+slice",
        "x86_64-la57+ge+gie+tifb+debug",
        "x86_64+ge+gie+tifb+slice-off",
        "x86_64+ge+gie+tifb",
        "riscv64+ge+gie+tifb",
        "riscv64+ge+gie+tifb+slice",
        "riscv64+ge+gie+tifb+slice-off+debug",
        "arm64+gie",
        "arm32",
        "x86_64+ge+gie+tifb+slice+debug",
        "arm32+debug",
        "arm64+gie+debugcfg",
        "arm32+debugkey",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
}

/// Pseudo-random sequences through every configuration: no panic, every
/// exit bounded, and the same observations on a second run.
#[test]
fn robustness_random_sequences() {
    robustness(v());
}

pub fn robustness(ver: &'static rseq_fuzz::versions::VersionEntry) {
    for (ci, cfg) in (ver.configs)().into_iter().enumerate() {
        for seed in 0..seeds() {
            let run = || {
                let mut r = XorShift(0x9E37_79B9_7F4A_7C15 ^ (seed << 8) ^ ci as u64);
                let mut f = fixture(ver, cfg);
                // Most sequences start registered, some with the extension.
                match r.below(4) {
                    0 => {}
                    1 => {
                        reg_flags(&mut f, 64, abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON);
                    }
                    _ => {
                        reg(&mut f, 32);
                    }
                }
                for _ in 0..120 {
                    let e = random_event(&mut r, &cfg);
                    f.step(e);
                }
                f.model.finish(10_000);
                let obs = f.model.observations().to_vec();
                for o in &obs {
                    assert!(o.decisions.len() < 4096, "{cfg}: unbounded exit");
                }
                format!("{obs:?}")
            };
            let a = run();
            let b = run();
            assert_eq!(a, b, "{} {cfg} seed {seed}: not deterministic", ver.name);
        }
    }
}

#[test]
fn page_states_do_not_panic_the_model() {
    // Every page state of the area and descriptor under a preemption and
    // a signal in every configuration.
    for cfg in (v().configs)() {
        for st in PageState::ALL {
            let mut f = registered(v(), cfg, 32);
            f.enter_cs();
            f.step(Event::Mmap {
                addr: AREA,
                state: st,
            });
            f.preempt_irq();
            f.step(Event::Mmap {
                addr: DESC,
                state: st,
            });
            f.steps([Event::Signal { sig: sig::SIGUSR2 }, Event::ExitToUser]);
            f.model.finish(99);
            assert!(!f.model.observations().is_empty());
        }
    }
}
