//! Tests of the v7.1 (V2 split) model: every decision point reached with
//! its outcome asserted, robustness, and (in `rows`) every row of spec §6
//! run on R-7.0 (debug off and on), V2 legacy mode and V2 optimized mode
//! side by side.

mod v7_common;

use rseq_fuzz::abi::{self, errno, rseq, sig};
use rseq_fuzz::kernel::{Event, Syscall};
use rseq_fuzz::testkit::{Fixture, ABORT_IP, AREA, CODE, CS_LEN, CS_START, DESC, HANDLER};
use rseq_fuzz::trace::KillPath;
use v7_common::*;

type Case = fn(&mut Cov);
type Setup = fn(&mut Fixture);

fn v() -> &'static rseq_fuzz::versions::VersionEntry {
    v71()
}

/// Registration lengths: 32 selects legacy mode, 64 (> 32) optimized V2
/// mode on GIE architectures.
const LEG: u32 = 32;
const OPT: u32 = 64;

// ------------------------------------------------------------ registration

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
    assert_eq!(call(&mut f, AREA, 32, 3, s), -errno::EINVAL);
    assert!(f.took("rseq_unregister/bad_flags"));
    assert_eq!(call(&mut f, AREA, 32, 1, s), -errno::EINVAL);
    assert!(f.took("rseq_unregister/not_registered_or_other_addr"));
    assert_eq!(call(&mut f, AREA, 32, 4, s), -errno::EINVAL);
    assert!(f.took("sys_rseq/unsupported_flags"));
    assert_eq!(call(&mut f, AREA, 31, 0, s), -errno::EINVAL);
    assert!(f.took("rseq_length_valid/below_orig_size"));
    assert_eq!(call(&mut f, AREA + 16, 32, 0, s), -errno::EINVAL);
    assert!(f.took("rseq_length_valid/orig_size_misaligned"));
    assert_eq!(call(&mut f, AREA + 32, 64, 0, s), -errno::EINVAL);
    assert!(f.took("rseq_length_valid/misaligned_alloc_align"));
    assert_eq!(call(&mut f, cfg.task_size(), 32, 0, s), -errno::EFAULT);
    assert!(f.took("rseq_register/access_ok_failed"));
    assert_eq!(call(&mut f, AREA, 33, 0, s), 0);
    assert!(f.took("rseq_register/v2_mode_99428157dcf3"));
    assert_eq!(call(&mut f, AREA, 64, 0, s), -errno::EINVAL);
    assert!(f.took("rseq_reregister/addr_or_len_mismatch"));
    assert_eq!(call(&mut f, AREA, 33, 0, s ^ 1), -errno::EPERM);
    assert!(f.took("rseq_reregister/sig_mismatch"));
    assert_eq!(call(&mut f, AREA, 33, 0, s), -errno::EBUSY);
    assert!(f.took("rseq_reregister/busy"));
    assert_eq!(call(&mut f, AREA, 32, 1, s), -errno::EINVAL);
    assert!(f.took("rseq_unregister/len_mismatch"));
    assert_eq!(call(&mut f, AREA, 33, 1, s ^ 1), -errno::EPERM);
    assert!(f.took("rseq_unregister/sig_mismatch"));
    assert_eq!(call(&mut f, AREA, 33, 1, s), 0);
    assert!(f.took("rseq_unregister/ok"));
    assert!(!dead(&f));
    c.add(&f);
}

fn case_register_writes(c: &mut Cov) {
    // (config, len, flags, expected U+16, whether U+28 is zeroed)
    for (cfg, len, flags, want, clears) in [
        (
            x86_slice(false),
            OPT,
            abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON,
            0x30u32,
            true,
        ),
        (x86_slice(false), OPT, 0, 0x10, true),
        // Key off: not advertised (010b7723c0a3), but slice_ctrl zeroed.
        (
            x86_slice_off(false),
            OPT,
            abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON,
            0,
            true,
        ),
        // Legacy: no feature bits, bytes 28..31 untouched.
        (
            x86_slice(false),
            LEG,
            abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON,
            0,
            false,
        ),
        (x86(false), OPT, 0, 0, false),
        // arm64 is GIE: V2 is possible, no slice extension.
        (arm64(false), OPT, 0, 0, false),
    ] {
        let mut f = fixture(v(), cfg);
        store_u32(&mut f, rseq::FLAGS, 0xffff_0000);
        store_u32(&mut f, rseq::SLICE_CTRL, 0x0101_0101);
        let s = cfg.arch.rseq_sig();
        f.step(Event::Syscall(Syscall::Rseq {
            addr: AREA,
            len,
            flags,
            sig: s,
        }));
        assert_eq!(u32_at(&f, rseq::FLAGS), want, "{cfg} {len}");
        let want_ctrl = if clears { 0 } else { 0x0101_0101 };
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), want_ctrl, "{cfg} {len}");
        assert_eq!(ids(&f), [u32::MAX, u32::MAX, 0, 0]);
        f.step(Event::ExitToUser);
        assert_eq!(f.last().unwrap().syscall_ret, Some(0));
        assert_eq!(ids(&f), ids_of(CPU0, CID0), "{cfg} {len}");
        // The ID write zeroes slice_ctrl only for V2 with the key on.
        let after = if cfg.slice_key && len == OPT {
            0
        } else {
            want_ctrl
        };
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), after, "{cfg} {len}");
        if len == LEG {
            assert!(f.took("rseq_register/legacy_mode"));
        }
        if want == 0x30 {
            assert!(f.took("rseq_register/default_on_enabled"));
            assert!(f.took("rseq_register/v2_slice_key_on_available_010b7723c0a3"));
        }
        if clears {
            assert!(f.took("rseq_register/v2_clear_slice_ctrl"));
        }
        c.add(&f);
    }
    let mut f = fixture(v(), x86(false));
    protect_area(&mut f, true, false);
    assert_eq!(reg(&mut f, OPT), -errno::EFAULT);
    assert!(f.took("rseq_register/write_fault"));
    c.add(&f);
}

fn case_unregister(c: &mut Cov) {
    // 2cb68e45120d: cpu_id_start = 0; no slice_ctrl write, no validation.
    for len in [LEG, OPT] {
        let mut f = registered(v(), x86_slice(false), len);
        store_u32(&mut f, rseq::SLICE_CTRL, 1);
        store_u32(&mut f, rseq::MM_CID, 99);
        assert_eq!(unreg(&mut f, len), Some(0));
        assert_eq!(ids(&f), [0, u32::MAX, 0, 0]);
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 1);
        assert!(!dead(&f));
        c.add(&f);
    }
    let mut f = registered(v(), x86(false), OPT);
    protect_area(&mut f, true, false);
    assert_eq!(unreg(&mut f, OPT), Some(-errno::EFAULT));
    assert!(f.took("rseq_reset_ids/write_fault_force_sig"));
    assert!(f.took("rseq_unregister/reset_ids_failed"));
    assert_eq!(kills(&f), vec![KillPath::ForceSig]);
    c.add(&f);
}

// -------------------------------------------------------- modes, fast path

fn case_modes_preempt(c: &mut Cov) {
    // Legacy: every switch-in forces the IDs (b9eac6a9d93c); the CS is
    // evaluated after an interrupt.
    let mut f = registered(v(), x86(false), LEG);
    f.enter_cs();
    store_u32(&mut f, rseq::CPU_ID_START, 77);
    f.preempt_irq();
    assert!(aborted(&f));
    assert_eq!(ids(&f), ids_of(CPU0, CID0));
    assert!(f.took("rseq_sched_switch_event/legacy_ids_changed_b9eac6a9d93c"));
    assert!(f.took("rseq_exit_user_update/ids_changed"));
    assert!(f.took("rseq_update_usr/update_user_cs"));
    // After a syscall the CS is not evaluated, IDs still rewritten.
    f.enter_cs();
    syscall_preempted(&mut f, CPU0);
    assert!(f.took("rseq_update_usr/gie_no_user_irq_skip_cs"));
    assert_eq!(rseq_cs(&f), DESC);
    c.add(&f);
    // V2: same-CPU preemption: no ID write, CS aborted.
    let mut f = registered(v(), x86(false), OPT);
    f.enter_cs();
    f.preempt_irq();
    assert!(aborted(&f));
    assert!(f.took("rseq_sched_switch_event/v2_raise"));
    assert!(f.took("rseq_exit_user_update/ids_unchanged"));
    assert!(f.took("rseq_exit_user_update/debug_or_csaddr_update_cs"));
    assert!(f.took("rseq_update_user_cs/abort"));
    assert!(f.took("rseq_irqentry_exit_to_user_mode/clear_events"));
    // Syscall, same CPU: nothing raised.
    syscall_preempted(&mut f, CPU0);
    assert!(f.took("rseq_sched_switch_event/v2_no_raise"));
    // Migration with rseq_cs == 0; a cid change.
    f.migrate_irq(6);
    assert!(f.took("rseq_update_usr/csaddr_zero"));
    assert_eq!(ids(&f), ids_of(6, CID0));
    f.steps([
        Event::Interrupt,
        Event::SwitchOut,
        Event::SwitchIn { cpu: 6, mm_cid: 2 },
        Event::ExitToUser,
    ]);
    assert!(f.took("mm_cid_schedin/cid_changed"));
    assert_eq!(ids(&f), ids_of(6, 2));
    c.add(&f);
}

fn case_v2_ro_enforcement(c: &mut Cov) {
    // 82f572449cfe: in V2 any RO field modified is fatal at the next ID
    // write, debug or not.
    for (off, point) in [
        (
            rseq::CPU_ID_START,
            "rseq_set_ids_get_csaddr/cpu_id_start_mismatch",
        ),
        (rseq::CPU_ID, "rseq_set_ids_get_csaddr/cpu_id_mismatch"),
        (rseq::NODE_ID, "rseq_set_ids_get_csaddr/node_id_mismatch"),
        (rseq::MM_CID, "rseq_set_ids_get_csaddr/mm_cid_mismatch"),
    ] {
        let mut f = registered(v(), x86(false), OPT);
        assert!(f.took("rseq_set_ids_get_csaddr/validate_ro_fields_82f572449cfe"));
        store_u32(&mut f, off, 1234);
        // Same-CPU preemption writes no IDs: not detected.
        f.preempt_irq();
        assert!(!dead(&f), "{point}");
        f.migrate_irq(5);
        assert!(f.took(point), "{point}");
        assert_eq!(kills(&f), vec![KillPath::ForceSig]);
        assert!(dead(&f));
        c.add(&f);
    }
    // Legacy: silently overwritten (no debug).
    let mut f = registered(v(), x86(false), LEG);
    store_u32(&mut f, rseq::MM_CID, 1234);
    f.migrate_irq(5);
    assert_eq!(ids(&f), ids_of(5, CID0));
    assert!(!f.took("rseq_set_ids_get_csaddr/validate_ro_fields_82f572449cfe"));
    // Legacy with debug: validated.
    let mut g = registered(v(), x86(true), LEG);
    store_u32(&mut g, rseq::MM_CID, 1234);
    g.migrate_irq(5);
    assert!(g.took("rseq_set_ids_get_csaddr/mm_cid_mismatch"));
    assert!(dead(&g));
    c.add(&f);
    c.add(&g);
}

fn case_cs_outcomes(c: &mut Cov) {
    let cfg = x86(false);
    let mut f = registered(v(), cfg, OPT);
    stale_cs(&mut f);
    f.preempt_irq();
    assert_eq!(rseq_cs(&f), 0);
    assert!(f.took("rseq_update_user_cs/ip_outside_clear"));
    c.add(&f);
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
        let mut f = registered(v(), cfg, OPT);
        setup(&mut f);
        f.preempt_irq();
        assert!(f.took(point), "{point}");
        assert!(f.took("rseq_exit_user_update/update_cs_failed"));
        assert!(f.took("rseq_exit_to_user_mode_restart/defer_to_slowpath"));
        assert!(f.took("rseq_slowpath_update_usr/update_failed_force_sig"));
        assert_eq!(kills(&f), vec![KillPath::ForceSig], "{point}");
        assert!(dead(&f));
        c.add(&f);
    }
    let mut f = registered(v(), cfg, OPT);
    f.enter_cs();
    protect_area(&mut f, true, false);
    f.preempt_irq();
    assert!(f.took("rseq_update_user_cs/write_fault"));
    assert!(f.took("rseq_update_usr/set_ids_failed"));
    assert!(inside(&f) && dead(&f));
    c.add(&f);
    // Area not present: the fast path defers, the slow path completes.
    let mut f = registered(v(), cfg, OPT);
    f.enter_cs();
    f.step(Event::Reclaim { addr: AREA });
    f.preempt_irq();
    assert!(f.took("rseq_exit_user_update/csaddr_fault"));
    assert!(f.took("__rseq_exit_to_user_mode_restart/update_failed"));
    assert!(f.took("rseq_slowpath_update_usr/ok"));
    assert!(f.took("__rseq_exit_to_user_mode_restart/no_sched_switch"));
    assert!(aborted(&f) && !dead(&f));
    c.add(&f);
    let mut f = registered(v(), cfg, LEG);
    protect_area(&mut f, true, false);
    f.preempt_irq();
    assert!(f.took("rseq_set_ids_get_csaddr/fault"));
    assert!(dead(&f));
    c.add(&f);
}

fn case_debug(c: &mut Cov) {
    let cfg = x86(true);
    let ts = cfg.task_size();
    let mut f = registered(v(), cfg, OPT);
    f.enter_cs();
    f.preempt_irq();
    assert!(aborted(&f));
    assert!(f.took("rseq_update_user_cs/debug_key_on"));
    assert!(f.took("rseq_debug_update_user_cs/abort"));
    f.set_rseq_cs(DESC);
    f.step(Event::SetIp { ip: CODE });
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_debug_update_user_cs/ip_below_start_clear"));
    stale_cs(&mut f);
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_debug_update_user_cs/ip_at_or_past_end_clear"));
    assert!(f.took("__rseq_debug_syscall_return/cs_ok"));
    assert_eq!(rseq_cs(&f), 0);
    c.add(&f);
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
        let mut f = registered(v(), cfg, LEG);
        enter_cs_with(&mut f, ver, 0, start, off, abort);
        f.syscall(Syscall::Getpid);
        assert!(f.took(point), "{point}");
        assert!(f.took("__rseq_debug_syscall_return/force_sig"));
        assert_eq!(kills(&f), vec![KillPath::ForceSig], "{point}");
        assert!(dead(&f));
        c.add(&f);
    }
    let mut f = registered(v(), cfg, OPT);
    f.enter_cs();
    f.step(Event::Munmap { addr: DESC });
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_debug_update_user_cs/read_fault"));
    assert!(dead(&f));
    c.add(&f);
    let mut f = registered(v(), cfg, OPT);
    stale_cs(&mut f);
    protect_area(&mut f, true, false);
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_debug_update_user_cs/write_fault"));
    assert!(dead(&f));
    c.add(&f);
    // Syscall return checks.
    let mut f = fixture(v(), cfg);
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/not_registered"));
    assert_eq!(reg(&mut f, OPT), 0);
    assert!(f.took("__rseq_debug_syscall_return/csaddr_zero"));
    f.set_rseq_cs(u64::MAX - 7);
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/csaddr_beyond_task_size"));
    assert!(dead(&f));
    c.add(&f);
    let mut f = registered(v(), cfg, OPT);
    protect_area(&mut f, false, false);
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/read_fault"));
    assert!(dead(&f));
    c.add(&f);
}

fn case_signals(c: &mut Cov) {
    let usr1 = |f: &mut Fixture| {
        f.step(Event::SetHandler {
            sig: sig::SIGUSR1,
            installed: true,
        });
    };
    // V2: after an interrupt only.
    let mut f = registered(v(), x86(false), OPT);
    usr1(&mut f);
    f.enter_cs();
    f.steps([Event::Signal { sig: sig::SIGUSR1 }, Event::ExitToUser]);
    assert_eq!(f.ip(), HANDLER);
    assert!(f.took("rseq_signal_deliver/v2_user_irq_deliver"));
    assert!(f.took("rseq_handle_cs/update_user_cs"));
    assert!(f.took("__rseq_signal_deliver/ok"));
    assert!(f.took("rseq_exit_to_user_mode_restart/tif_rseq_not_set"));
    f.syscall(Syscall::Sigreturn);
    assert_eq!(f.ip(), ABORT_IP);
    f.enter_cs();
    f.steps([
        Event::Syscall(Syscall::Getpid),
        Event::Signal { sig: sig::SIGUSR1 },
        Event::ExitToUser,
    ]);
    assert!(f.took("rseq_signal_deliver/skip"));
    assert_eq!(rseq_cs(&f), DESC);
    c.add(&f);
    // Legacy: every signal, then forced IDs (b9eac6a9d93c).
    let mut f = registered(v(), x86(false), LEG);
    usr1(&mut f);
    store_u32(&mut f, rseq::CPU_ID_START, 9);
    f.steps([
        Event::Syscall(Syscall::Getpid),
        Event::Signal { sig: sig::SIGUSR1 },
        Event::ExitToUser,
    ]);
    assert!(f.took("rseq_signal_deliver/legacy_deliver"));
    assert!(f.took("rseq_handle_cs/csaddr_zero"));
    assert!(f.took("__rseq_signal_deliver/legacy_force_update_b9eac6a9d93c"));
    assert_eq!(u32_at(&f, rseq::CPU_ID_START), CPU0);
    c.add(&f);
    // Unreadable area: force_sigsegv(sig).
    let mut f = registered(v(), x86(false), OPT);
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

fn case_arch_classes(c: &mut Cov) {
    // arm64 after 411c1cf43039: user_irq noted, same-CPU preemption inside
    // a CS aborts, in both modes (the slow path writes the IDs).
    for len in [LEG, OPT] {
        let mut f = registered(v(), arm64(false), len);
        assert!(f.took("rseq_handle_slowpath/run"));
        f.enter_cs();
        f.preempt_irq();
        assert!(f.took("arm64_enter_from_user_mode/note_user_irq_411c1cf43039"));
        assert!(aborted(&f), "arm64 len {len}");
        assert!(f.took("rseq_irqentry_exit_to_user_mode/clear_events"));
        c.add(&f);
    }
    // arm32: always legacy, whatever the length.
    let mut f = fixture(v(), arm32(false));
    f.preempt_irq();
    assert!(f.took("rseq_sched_switch_event/not_registered"));
    assert_eq!(reg(&mut f, OPT), 0);
    assert!(f.took("rseq_register/legacy_mode"));
    f.enter_cs();
    f.preempt_irq();
    assert!(f.took("rseq_sched_switch_event/legacy_ids_changed_b9eac6a9d93c"));
    assert!(aborted(&f));
    c.add(&f);
    // GE without TIF bits: the slow-path gate runs (and skips) first.
    let f = registered(v(), ge_without_tifb(false), OPT);
    assert!(f.took("rseq_handle_slowpath/not_needed"));
    assert!(f.took("rseq_register/v2_mode_99428157dcf3"));
    c.add(&f);
}

fn case_exec_membarrier(c: &mut Cov) {
    let mut f = fixture(v(), x86(false));
    f.syscall(Syscall::Execve { ok: false });
    assert!(f.took("rseq_force_update/not_registered"));
    assert_eq!(reg(&mut f, OPT), 0);
    assert!(f.took("rseq_force_update/raise"));
    // V2 IPI in user mode inside a CS: ABORT, no ID write.
    f.enter_cs();
    f.steps([Event::MembarrierIpi, Event::ExitToUser]);
    assert!(f.took("ipi_rseq/v2_sched_switch_event"));
    assert!(aborted(&f));
    f.syscall(Syscall::Execve { ok: true });
    assert!(f.took("rseq_execve/reset"));
    assert_eq!(reg(&mut f, LEG), 0);
    // Legacy IPI: forced IDs and the CS.
    f.enter_cs();
    store_u32(&mut f, rseq::CPU_ID_START, 9);
    f.steps([Event::MembarrierIpi, Event::ExitToUser]);
    assert!(f.took("ipi_rseq/legacy_force_update_b9eac6a9d93c"));
    assert!(aborted(&f));
    assert_eq!(u32_at(&f, rseq::CPU_ID_START), CPU0);
    c.add(&f);
}

fn case_arm32_work_loop(c: &mut Cov) {
    case_arm32_do_work_pending(v(), OPT, c);
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

fn slice_fixture(debug: bool) -> Fixture {
    let mut f = fixture(v(), x86_slice(debug));
    assert_eq!(
        reg_flags(&mut f, OPT, abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON),
        0
    );
    store_u8(&mut f, rseq::SLICE_REQUEST, 1);
    f
}

fn grant(f: &mut Fixture) {
    f.steps([Event::NeedResched, Event::ExitToUser]);
}

fn case_slice(c: &mut Cov) {
    let mut f = slice_fixture(false);
    grant(&mut f);
    assert!(f.took("__rseq_grant_slice_extension/granted"));
    assert!(f.took("__rseq_arm_slice_extension_timer/armed"));
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0x100);
    assert_eq!(f.syscall(Syscall::SliceYield), Some(1));
    for d in [
        "rseq_cancel_slice_extension_timer/cancel",
        "rseq_syscall_enter_work/set_need_resched_yielded",
        "rseq_syscall_enter_work/cond_resched",
        "rseq_syscall_enter_work/grant_cleared",
        "sys_rseq_slice_yield/yielded",
    ] {
        assert!(f.took(d), "{d}");
    }
    assert_eq!(f.syscall(Syscall::SliceYield), Some(0));
    assert!(f.took("sys_rseq_slice_yield/not_yielded"));
    grant(&mut f);
    assert!(f.took("__rseq_grant_slice_extension/no_request"));
    assert!(f.took("exit_to_user_mode_loop/schedule"));
    c.add(&f);
    let mut f = slice_fixture(false);
    grant(&mut f);
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_syscall_enter_work/set_need_resched_aborted"));
    c.add(&f);
    // Timer expiry: revoke and reschedule; V2 fast path zeroes slice_ctrl.
    let mut f = slice_fixture(false);
    f.steps([Event::SliceTimer, Event::ExitToUser]);
    assert!(f.took("rseq_slice_expired/cookie_not_current"));
    grant(&mut f);
    f.steps([Event::SliceTimer, Event::ExitToUser]);
    for d in [
        "rseq_slice_expired/set_need_resched",
        "__rseq_grant_slice_extension/work_pending_or_granted_revoke",
        "rseq_exit_user_update/v2_clear_slice_ctrl",
        "rseq_arm_slice_extension_timer/not_granted",
    ] {
        assert!(f.took(d), "{d}");
    }
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_syscall_enter_work/not_granted"));
    c.add(&f);
    let mut f = slice_fixture(false);
    grant(&mut f);
    f.preempt_irq();
    f.steps([Event::SliceTimer, Event::ExitToUser]);
    assert!(f.took("rseq_slice_expired/not_granted"));
    c.add(&f);
    // V2 registration without DEFAULT_ON: not enabled.
    let mut f = registered(v(), x86_slice(false), OPT);
    store_u8(&mut f, rseq::SLICE_REQUEST, 1);
    grant(&mut f);
    assert!(f.took("__rseq_grant_slice_extension/not_enabled_or_not_user_irq"));
    assert!(accesses_by(&f, "__rseq_grant_slice_extension").is_empty());
    c.add(&f);
    // Faults.
    let mut f = slice_fixture(false);
    protect_area(&mut f, true, false);
    grant(&mut f);
    assert!(f.took("__rseq_grant_slice_extension/fault_force_sig"));
    assert!(dead(&f));
    c.add(&f);
    let mut f = slice_fixture(false);
    grant(&mut f);
    protect_area(&mut f, true, false);
    f.syscall(Syscall::Getpid);
    assert!(f.took("rseq_syscall_enter_work/clear_fault_force_sig"));
    c.add(&f);
    let mut f = slice_fixture(true);
    grant(&mut f);
    f.syscall(Syscall::SliceYield);
    assert!(f.took("rseq_slice_validate_ctrl/ok"));
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
    let mut f = fixture(v(), x86(false));
    assert_eq!(f.syscall(get.clone()), Some(-errno::ENOTSUPP));
    assert!(f.took("rseq_slice_extension_prctl/not_configured"));
    assert_eq!(f.syscall(Syscall::SliceYield), Some(-errno::ENOSYS));
    assert!(f.took("sys_rseq_slice_yield/not_configured"));
    c.add(&f);
    let mut f = fixture(v(), x86_slice_off(false));
    assert_eq!(f.syscall(set(2)), Some(-errno::EINVAL));
    assert!(f.took("rseq_slice_extension_prctl/set_bad_arg"));
    assert_eq!(f.syscall(set(1)), Some(-errno::ENOTSUPP));
    assert!(f.took("rseq_slice_extension_prctl/set_key_off"));
    c.add(&f);
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
    // Legacy registration: ENOTSUPP after the ENXIO check.
    assert_eq!(reg(&mut f, LEG), 0);
    assert_eq!(f.syscall(set(1)), Some(-errno::ENOTSUPP));
    assert!(f.took("rseq_slice_extension_prctl/set_legacy_enotsupp_b9eac6a9d93c"));
    assert_eq!(f.syscall(get.clone()), Some(0));
    assert!(f.took("rseq_slice_extension_prctl/get"));
    assert_eq!(unreg(&mut f, LEG), Some(0));
    assert_eq!(reg(&mut f, OPT), 0);
    assert_eq!(u32_at(&f, rseq::FLAGS), 0x10);
    assert_eq!(f.syscall(set(0)), Some(0));
    assert!(f.took("rseq_slice_extension_prctl/set_no_change"));
    assert_eq!(f.syscall(set(1)), Some(0));
    assert!(f.took("rseq_slice_extension_prctl/set_ok"));
    assert_eq!(u32_at(&f, rseq::FLAGS), 0x30);
    assert_eq!(f.syscall(get.clone()), Some(1));
    c.add(&f);
    let mut f = registered(v(), x86_slice(false), OPT);
    store_u32(&mut f, rseq::FLAGS, 0);
    assert_eq!(f.syscall(set(1)), Some(-errno::EFAULT));
    assert!(f.took("rseq_slice_extension_prctl/set_flags_inconsistent"));
    assert!(dead(&f));
    c.add(&f);
    for (r, w, point) in [
        (false, false, "rseq_slice_extension_prctl/set_read_fault"),
        (true, false, "rseq_slice_extension_prctl/set_write_fault"),
    ] {
        let mut f = registered(v(), x86_slice(false), OPT);
        protect_area(&mut f, r, w);
        assert_eq!(f.syscall(set(1)), Some(-errno::EFAULT));
        assert!(f.took(point), "{point}");
        c.add(&f);
    }
}

fn case_kvm_run_arm64(c: &mut Cov) {
    for len in [LEG, OPT] {
        kvm_run_arm64_retrigger(v(), len, c);
    }
}

/// v7_common::check_slice_grant_expires_in_kernel.
fn case_slice_expires_in_kernel(c: &mut Cov) {
    let f =
        check_slice_grant_expires_in_kernel(slice_fixture(false), "__rseq_grant_slice_extension");
    c.add(&f);
}

const CASES: &[(&str, Case)] = &[
    ("register_errors", case_register_errors),
    ("register_writes", case_register_writes),
    ("unregister", case_unregister),
    ("modes_preempt", case_modes_preempt),
    ("v2_ro_enforcement", case_v2_ro_enforcement),
    ("cs_outcomes", case_cs_outcomes),
    ("debug", case_debug),
    ("signals", case_signals),
    ("arch_classes", case_arch_classes),
    ("kvm_run_arm64", case_kvm_run_arm64),
    ("exec_membarrier", case_exec_membarrier),
    ("arm32_work_loop", case_arm32_work_loop),
    ("livelock_bound", case_livelock_bound),
    ("slice", case_slice),
    ("slice_expires_in_kernel", case_slice_expires_in_kernel),
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
    assert_full_coverage("v7.1", v().decisions, &cov.0);
}

#[test]
fn configs_match_v7_0() {
    let a: Vec<String> = (v70().configs)().iter().map(|c| c.name()).collect();
    let b: Vec<String> = (v().configs)().iter().map(|c| c.name()).collect();
    assert_eq!(a, b);
    assert_eq!(b.len(), 26);
}

#[test]
fn robustness_random_sequences() {
    for (ci, cfg) in (v().configs)().into_iter().enumerate() {
        for seed in 0..seeds() {
            let run = || {
                let mut r = XorShift(0xD1B5_4A32_D192_ED03 ^ (seed << 8) ^ ci as u64);
                let mut f = fixture(v(), cfg);
                match r.below(4) {
                    0 => {}
                    1 => {
                        reg_flags(&mut f, OPT, abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON);
                    }
                    2 => {
                        reg(&mut f, OPT);
                    }
                    _ => {
                        reg(&mut f, LEG);
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
            assert_eq!(run(), run(), "{cfg} seed {seed}: not deterministic");
        }
    }
}

#[path = "v7_1/rows.rs"]
mod rows;
