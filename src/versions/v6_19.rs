//! v6.19: the rseq rework ("rseq: Optimize exit to user space", Thomas
//! Gleixner, V6 of 27 Oct 2025, merged through tip core/rseq for v6.19),
//! together with the MM CID rewrite merged through the same branch.
//!
//! Read this file side by side with (all v6.19):
//! * include/linux/rseq_entry.h: rseq_note_user_irq_entry(),
//!   rseq_debug_update_user_cs(), rseq_debug_validate_ids(),
//!   rseq_update_user_cs(), rseq_set_ids_get_csaddr(), rseq_update_usr(),
//!   rseq_exit_user_update(), __rseq_exit_to_user_mode_restart(),
//!   rseq_exit_to_user_mode_restart(), rseq_syscall_exit_to_user_mode(),
//!   rseq_irqentry_exit_to_user_mode(), rseq_exit_to_user_mode_legacy()
//!   (torvalds 05b44aef709c plus "rseq: Split up rseq_exit_to_user_mode()"
//!   a2fc232771d3 and "rseq: Switch to TIF_RSEQ if supported" [V6 31/31]);
//! * include/linux/rseq.h: rseq_handle_slowpath(), rseq_signal_deliver(),
//!   rseq_sched_switch_event(), rseq_sched_set_ids_changed(),
//!   rseq_force_update(), rseq_reset(), rseq_fork(), rseq_execve();
//! * kernel/rseq.c: rseq_handle_cs(), rseq_slowpath_update_usr(),
//!   __rseq_signal_deliver(), __rseq_debug_syscall_return(), rseq_syscall(),
//!   rseq_reset_ids(), sys_rseq();
//! * kernel/entry/common.c: __exit_to_user_mode_loop(), exit_to_user_mode_loop();
//!   include/linux/irq-entry-common.h: __exit_to_user_mode_prepare(),
//!   syscall_exit_to_user_mode_prepare(), irqentry_exit_to_user_mode_prepare(),
//!   exit_to_user_mode_prepare_legacy(), irqentry_enter_from_user_mode();
//! * kernel/sched/sched.h: mm_cid_update_task_cid(); kernel/sched/core.c:
//!   __set_task_cpu(); kernel/sched/membarrier.c: ipi_rseq();
//! * arch/arm64/kernel/entry-common.c (arm64_enter_from_user_mode() calls
//!   enter_from_user_mode(), not irqentry_enter_from_user_mode(), so arm64
//!   never notes user_irq; arm64_exit_to_user_mode() uses
//!   exit_to_user_mode_prepare_legacy()); arch/arm64/kernel/ptrace.c
//!   (syscall_trace_exit() -> rseq_syscall());
//! * arch/arm/kernel/signal.c do_work_pending() and entry-common.S
//!   (ret_fast_syscall -> rseq_syscall()) for 32-bit arm.
//!
//! Configurations: x86_64 and riscv64 (GE + GIE + TIF_RSEQ: both select
//! HAVE_GENERIC_TIF_BITS, riscv since 41e871f2b63e "riscv: Use generic TIF
//! bits" from the same tip core/core series), arm64 (GIE only) and arm32
//! (neither), each with the debug key off and on. No in-tree GE
//! architecture of v6.19 lacks the generic TIF bits (x86, s390, LoongArch
//! and RISC-V all select them), so the branches for TIF_RSEQ aliased to
//! TIF_NOTIFY_RESUME (`tifb(k)` false under GE) run in no configuration a
//! scenario selects; the direct-call tests check them under an explicit
//! one (tests/v6_19.rs `ge_without_tifb()`).
//! On non-GE arches `debug` also stands for CONFIG_DEBUG_RSEQ (which selects
//! the key's default and compiles in rseq_syscall()).
//!
//! Widths (spec §4.13, verified in the source): `rseq::rseq_cs` is always read
//! as a u64; rseq_update_user_cs() and rseq_debug_update_user_cs() take it as
//! `unsigned long` (truncated on 32-bit), but read start_ip, post_commit_offset
//! and abort_ip into u64 variables and compare them with the (zero-extended)
//! `unsigned long` IP in 64-bit arithmetic.

use crate::abi::{self, errno, rseq as urseq, rseq_cs as ucs, Arch};
use crate::config::Config;
use crate::kernel::{cpu_to_node, tif, Kctx, KernelVersion, Registration, EXIT_LOOP_BOUND};

crate::decision_points! {
    /// Every check of the v6.19 rseq code, as `kernel_function/condition`.
    pub enum D {
        // --- Event producers -------------------------------------------------
        NoteUserIrq = "rseq_note_user_irq_entry/user_irq_set",
        Arm64EnterNoNote = "arm64_enter_from_user_mode/no_user_irq_note",
        ArmIrqNoHook = "__irq_usr/no_rseq_hook",
        SetTaskCpu = "__set_task_cpu/ids_changed",
        CidChanged = "mm_cid_update_task_cid/cid_changed",
        CidUnchanged = "mm_cid_update_task_cid/cid_unchanged",
        SwitchGieRaise = "rseq_sched_switch_event/gie_raise",
        SwitchGieNoEvent = "rseq_sched_switch_event/gie_no_event",
        SwitchLegacyRaise = "rseq_sched_switch_event/legacy_raise",
        SwitchLegacyNotRegistered = "rseq_sched_switch_event/legacy_not_registered",
        ForceUpdate = "rseq_force_update/raise",
        ForceUpdateNotRegistered = "rseq_force_update/not_registered",
        // --- Exit to user: the generic loop -------------------------------------
        PrepareWork = "__exit_to_user_mode_prepare/work_pending",
        PrepareNoWork = "__exit_to_user_mode_prepare/no_work",
        LoopSignal = "__exit_to_user_mode_loop/signal_work",
        LoopNotifyResume = "__exit_to_user_mode_loop/notify_resume",
        LoopRestart = "exit_to_user_mode_loop/restart_after_defer",
        RestartStub = "rseq_exit_to_user_mode_restart/no_generic_entry_stub",
        RestartNoTifRseq = "rseq_exit_to_user_mode_restart/no_tif_rseq",
        RestartDefer = "rseq_exit_to_user_mode_restart/defer_to_slowpath",
        RestartDone = "rseq_exit_to_user_mode_restart/fast_path_done",
        NoSchedSwitch = "__rseq_exit_to_user_mode_restart/no_sched_switch",
        SchedSwitch = "__rseq_exit_to_user_mode_restart/sched_switch",
        BranchA = "rseq_exit_user_update/ids_unchanged_branch_a",
        BranchB = "rseq_exit_user_update/ids_changed_branch_b",
        BranchACsaddrFault = "rseq_exit_user_update/csaddr_read_fault",
        BranchACsaddrZero = "rseq_exit_user_update/csaddr_zero",
        BranchACsCheck = "rseq_exit_user_update/cs_check",
        BranchADebugQuirk = "rseq_exit_user_update/debug_cs_check_csaddr_zero",
        // --- ID update ----------------------------------------------------------
        UsrCsGateSkip = "rseq_update_usr/cs_gate_skip_no_user_irq",
        UsrCsaddrZero = "rseq_update_usr/csaddr_zero",
        UsrCsCheck = "rseq_update_usr/cs_check",
        IdsDebugInvalid = "rseq_set_ids_get_csaddr/debug_validate_failed",
        IdsFault = "rseq_set_ids_get_csaddr/uaccess_fault",
        IdsWritten = "rseq_set_ids_get_csaddr/ids_written",
        ValFault = "rseq_debug_validate_ids/read_fault",
        ValCpuIdStart = "rseq_debug_validate_ids/cpu_id_start_mismatch",
        ValCpuId = "rseq_debug_validate_ids/cpu_id_mismatch",
        ValNodeId = "rseq_debug_validate_ids/node_id_mismatch",
        ValMmCid = "rseq_debug_validate_ids/mm_cid_mismatch",
        ValOk = "rseq_debug_validate_ids/ids_valid",
        // --- Critical section, production checks --------------------------------
        CsBeyond = "rseq_update_user_cs/csaddr_beyond_task_size",
        CsDebug = "rseq_update_user_cs/debug_enabled",
        CsBeginFault = "rseq_update_user_cs/uaccess_begin_fault",
        CsReadFault = "rseq_update_user_cs/read_fault",
        CsOutside = "rseq_update_user_cs/ip_outside_cs",
        CsAbortInvalid = "rseq_update_user_cs/abort_ip_invalid",
        CsSigMismatch = "rseq_update_user_cs/sig_mismatch",
        CsWriteFault = "rseq_update_user_cs/write_fault",
        CsAbort = "rseq_update_user_cs/abort",
        // --- Critical section, debug checks -------------------------------------
        DbgBeginFault = "rseq_debug_update_user_cs/uaccess_begin_fault",
        DbgReadFault = "rseq_debug_update_user_cs/read_fault",
        DbgStartBeyond = "rseq_debug_update_user_cs/start_ip_beyond_task_size",
        DbgIpBelowStart = "rseq_debug_update_user_cs/ip_below_start",
        DbgEndInvalid = "rseq_debug_update_user_cs/end_overflow_or_beyond_task_size",
        DbgIpAfterEnd = "rseq_debug_update_user_cs/ip_at_or_after_end",
        DbgAbortInvalid = "rseq_debug_update_user_cs/abort_ip_invalid",
        DbgAbortInside = "rseq_debug_update_user_cs/abort_ip_inside_cs",
        DbgHeadNonzero = "rseq_debug_update_user_cs/version_or_flags_nonzero",
        DbgSigMismatch = "rseq_debug_update_user_cs/sig_mismatch",
        DbgNotUserIrq = "rseq_debug_update_user_cs/not_user_irq",
        DbgWriteFault = "rseq_debug_update_user_cs/write_fault",
        DbgAbort = "rseq_debug_update_user_cs/abort",
        // --- Slow path -------------------------------------------------------------
        SlowGe = "rseq_handle_slowpath/ge_slowpath_flagged",
        SlowGeNone = "rseq_handle_slowpath/ge_no_slowpath",
        SlowLegacy = "rseq_handle_slowpath/legacy_event_pending",
        SlowRegsNull = "__rseq_handle_slowpath/regs_null",
        SlowUpdated = "rseq_slowpath_update_usr/updated",
        SlowKill = "rseq_slowpath_update_usr/kill",
        // --- What the exit clears ----------------------------------------------------
        IrqExitClear = "rseq_irqentry_exit_to_user_mode/clear_events",
        SysExitKeep = "rseq_syscall_exit_to_user_mode/lockdep_off_no_clear",
        LegacyExitClear = "rseq_exit_to_user_mode_legacy/clear_events",
        // --- 32-bit arm return to user -------------------------------------------------
        ArmNoWork = "ret_to_user/no_work_pending",
        ArmWorkSignal = "do_work_pending/signal",
        ArmWorkNotify = "do_work_pending/notify_resume",
        // --- Signal delivery -----------------------------------------------------------
        SigGieDeliver = "rseq_signal_deliver/gie_user_irq",
        SigGieSkip = "rseq_signal_deliver/gie_skip",
        SigLegacyDeliver = "rseq_signal_deliver/legacy_registered",
        SigLegacySkip = "rseq_signal_deliver/legacy_not_registered",
        HandleCsFault = "rseq_handle_cs/read_fault",
        HandleCsZero = "rseq_handle_cs/csaddr_zero",
        HandleCsCheck = "rseq_handle_cs/cs_check",
        SigKill = "__rseq_signal_deliver/kill",
        SigOk = "__rseq_signal_deliver/ok",
        // --- Syscall-return debug check ------------------------------------------------
        DsrNotRegistered = "__rseq_debug_syscall_return/not_registered",
        DsrReadFault = "__rseq_debug_syscall_return/read_fault",
        DsrZero = "__rseq_debug_syscall_return/csaddr_zero",
        DsrBeyond = "__rseq_debug_syscall_return/csaddr_beyond_task_size",
        DsrOk = "__rseq_debug_syscall_return/cs_ok",
        DsrKill = "__rseq_debug_syscall_return/kill",
        // --- sys_rseq ------------------------------------------------------------------
        UnregBadFlags = "sys_rseq/unregister_bad_flags",
        UnregPtr = "sys_rseq/unregister_pointer_mismatch",
        UnregLen = "sys_rseq/unregister_len_mismatch",
        UnregSig = "sys_rseq/unregister_sig_mismatch",
        UnregEfault = "sys_rseq/unregister_reset_ids_failed",
        Unregistered = "sys_rseq/unregistered",
        ResetIdsKill = "rseq_reset_ids/kill",
        BadFlags = "sys_rseq/bad_flags",
        RegMismatch = "sys_rseq/registered_pointer_or_len_mismatch",
        RegSig = "sys_rseq/registered_sig_mismatch",
        RegBusy = "sys_rseq/already_registered",
        RegBadLen = "sys_rseq/bad_len_or_alignment",
        RegAccess = "sys_rseq/access_not_ok",
        RegFault = "sys_rseq/write_fault",
        Registered = "sys_rseq/registered",
        // --- exec ----------------------------------------------------------------------
        ExecReset = "rseq_execve/reset",
        ExecFailed = "bprm_execve/failed_force_update",
    }
}

/// `struct rseq_event` (include/linux/rseq_types.h): one u64 in the kernel.
/// `events` = {sched_switch, ids_changed, user_irq}; `error` = {fatal, slowpath}.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RseqEvent {
    pub sched_switch: bool,
    pub ids_changed: bool,
    pub user_irq: bool,
    pub has_rseq: bool,
    pub fatal: bool,
    pub slowpath: bool,
}

impl RseqEvent {
    /// `ev->events = 0`: the u32 that holds sched_switch, ids_changed, user_irq.
    fn clear_events(&mut self) {
        self.sched_switch = false;
        self.ids_changed = false;
        self.user_irq = false;
    }

    /// `ev->error = 0`: the u16 that holds fatal and slowpath.
    fn clear_error(&mut self) {
        self.fatal = false;
        self.slowpath = false;
    }
}

/// `struct rseq_ids`: the IDs last written to user space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RseqIds {
    pub cpu_id: u32,
    pub mm_cid: u32,
}

/// `struct rseq_data` (task_struct::rseq). `Default` is the state rseq_reset()
/// leaves: everything zero except `ids.cpu_id = RSEQ_CPU_ID_UNINITIALIZED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RseqData {
    /// The registered `struct rseq __user *` (0 = none).
    pub usrptr: u64,
    pub len: u32,
    pub sig: u32,
    pub event: RseqEvent,
    pub ids: RseqIds,
}

impl Default for RseqData {
    fn default() -> Self {
        RseqData {
            usrptr: 0,
            len: 0,
            sig: 0,
            event: RseqEvent::default(),
            ids: RseqIds {
                cpu_id: abi::RSEQ_CPU_ID_UNINITIALIZED,
                mm_cid: 0,
            },
        }
    }
}

/// The v6.19 kernel.
pub struct V6_19;

type K<'a> = Kctx<'a, V6_19>;

// ---------------------------------------------------------------------------
// Configuration predicates and C-width helpers
// ---------------------------------------------------------------------------

fn ge(k: &K<'_>) -> bool {
    k.cfg.generic_entry
}

fn gie(k: &K<'_>) -> bool {
    k.cfg.generic_irq_entry
}

fn tifb(k: &K<'_>) -> bool {
    k.cfg.generic_tif_bits
}

/// `static_branch_unlikely(&rseq_debug_enabled)`.
fn debug(k: &K<'_>) -> bool {
    k.cfg.debug
}

/// A C cast to `unsigned long`: truncation on 32-bit kernels.
fn ulong(k: &K<'_>, v: u64) -> u64 {
    v & abi::word_mask(k.cfg.arch.word_bits())
}

/// `instruction_pointer(regs)`, an `unsigned long`.
fn ip(k: &K<'_>) -> u64 {
    ulong(k, k.instruction_pointer())
}

/// The start of a `scoped_user_*_access(ptr, efault)` region over `size`
/// bytes. x86-64 uses masked user access: nothing is checked up front and an
/// out-of-range pointer faults at the access itself (which the memory model
/// reproduces). The other modelled arches have no masked user access and run
/// `user_*_access_begin(ptr, size)`, whose access_ok() failure jumps to
/// the efault label before any access.
fn scoped_user_access_begin(k: &K<'_>, ptr: u64, size: u64) -> bool {
    match k.cfg.arch {
        Arch::X86_64 | Arch::X86_64La57 => true,
        Arch::Arm64 | Arch::Riscv64 | Arch::Arm32 => k.access_ok(ptr, size),
    }
}

/// The address of a field of the registered `struct rseq`.
fn ufield(k: &K<'_>, off: u64) -> u64 {
    k.rseq.usrptr.wrapping_add(off)
}

/// The signature comparison of the production CS check.
#[cfg(not(feature = "canary"))]
fn rseq_sig_matches(usig: u32, sig: u32) -> bool {
    usig == sig
}

/// CANARY (fuzzing CI only): a truncation bug that compares only the low 16
/// bits, so an abort to an address whose preceding word differs from the
/// signature in its high half gets through.
#[cfg(feature = "canary")]
fn rseq_sig_matches(usig: u32, sig: u32) -> bool {
    (usig & 0xFFFF) == (sig & 0xFFFF)
}

// ---------------------------------------------------------------------------
// Event producers (include/linux/rseq.h, include/linux/rseq_entry.h, sched)
// ---------------------------------------------------------------------------

/// include/linux/rseq_entry.h rseq_note_user_irq_entry(): user_irq is only
/// meaningful (and only set) with CONFIG_GENERIC_IRQ_ENTRY. It does not look
/// at has_rseq.
fn rseq_note_user_irq_entry(k: &mut K<'_>) {
    if gie(k) {
        k.decide(D::NoteUserIrq);
        k.rseq.event.user_irq = true;
    }
}

/// include/linux/rseq.h rseq_raise_notify_resume(): TIF_RSEQ, which is
/// TIF_NOTIFY_RESUME without CONFIG_HAVE_GENERIC_TIF_BITS.
fn rseq_raise_notify_resume(k: &mut K<'_>) {
    let bit = k.tif_rseq();
    k.set_tif(bit);
}

/// include/linux/rseq.h rseq_sched_switch_event(): from context_switch() for
/// `next` (after the MM CID switch) and from membarrier's ipi_rseq().
fn rseq_sched_switch_event(k: &mut K<'_>) {
    let ev = k.rseq.event;
    if gie(k) {
        // Raise only when the IDs changed or the entry was from user space by
        // an interrupt: a task preempted in a syscall has nothing to fix up.
        let raise = (ev.user_irq | ev.ids_changed) & ev.has_rseq;
        if raise {
            k.decide(D::SwitchGieRaise);
            k.rseq.event.sched_switch = true;
            rseq_raise_notify_resume(k);
        } else {
            k.decide(D::SwitchGieNoEvent);
        }
    } else if ev.has_rseq {
        k.decide(D::SwitchLegacyRaise);
        k.rseq.event.sched_switch = true;
        rseq_raise_notify_resume(k);
    } else {
        k.decide(D::SwitchLegacyNotRegistered);
    }
}

/// include/linux/rseq.h rseq_force_update(): after registration and after a
/// failed execve(). Forces Branch B (ID write) on the next exit.
fn rseq_force_update(k: &mut K<'_>) {
    if k.rseq.event.has_rseq {
        k.decide(D::ForceUpdate);
        k.rseq.event.ids_changed = true;
        k.rseq.event.sched_switch = true;
        rseq_raise_notify_resume(k);
    } else {
        k.decide(D::ForceUpdateNotRegistered);
    }
}

/// include/linux/rseq.h rseq_reset().
fn rseq_reset(k: &mut K<'_>) {
    *k.rseq = RseqData::default();
}

// ---------------------------------------------------------------------------
// Critical-section handling (include/linux/rseq_entry.h)
// ---------------------------------------------------------------------------

/// include/linux/rseq_entry.h rseq_debug_update_user_cs() (built out of line
/// in kernel/rseq.c). The caller has checked `csaddr < TASK_SIZE`. Every
/// check fails hard (fatal); a fault fails soft (not fatal).
fn rseq_debug_update_user_cs(k: &mut K<'_>, csaddr: u64) -> bool {
    const F: &str = "rseq_debug_update_user_cs";
    let tasksize = k.task_size();
    let ip = ip(k);
    let usig_expected = k.rseq.sig;

    if !scoped_user_access_begin(k, csaddr, ucs::SIZE) {
        k.decide(D::DbgBeginFault);
        return false;
    }
    let Ok(start_ip) = k.get_user_u64(F, csaddr.wrapping_add(ucs::START_IP)) else {
        k.decide(D::DbgReadFault);
        return false;
    };
    if start_ip >= tasksize {
        k.decide(D::DbgStartBeyond);
        k.rseq.event.fatal = true;
        return false;
    }
    if ip < start_ip {
        k.decide(D::DbgIpBelowStart);
        return rseq_debug_clear_cs(k);
    }
    let Ok(offset) = k.get_user_u64(F, csaddr.wrapping_add(ucs::POST_COMMIT_OFFSET)) else {
        k.decide(D::DbgReadFault);
        return false;
    };
    // u64 arithmetic: the overflow check catches a wrapping section.
    let cs_end = start_ip.wrapping_add(offset);
    if cs_end >= tasksize || cs_end < start_ip {
        k.decide(D::DbgEndInvalid);
        k.rseq.event.fatal = true;
        return false;
    }
    if ip >= cs_end {
        k.decide(D::DbgIpAfterEnd);
        return rseq_debug_clear_cs(k);
    }
    let Ok(abort_ip) = k.get_user_u64(F, csaddr.wrapping_add(ucs::ABORT_IP)) else {
        k.decide(D::DbgReadFault);
        return false;
    };
    if abort_ip >= tasksize || abort_ip < 4 {
        k.decide(D::DbgAbortInvalid);
        k.rseq.event.fatal = true;
        return false;
    }
    if abort_ip.wrapping_sub(start_ip) < offset {
        k.decide(D::DbgAbortInside);
        k.rseq.event.fatal = true;
        return false;
    }
    // version and flags as one u64 at the start of the descriptor.
    let Ok(head) = k.get_user_u64(F, csaddr.wrapping_add(ucs::VERSION)) else {
        k.decide(D::DbgReadFault);
        return false;
    };
    if head != 0 {
        k.decide(D::DbgHeadNonzero);
        k.rseq.event.fatal = true;
        return false;
    }
    let Ok(usig) = k.get_user_u32(F, ulong(k, abort_ip.wrapping_sub(4))) else {
        k.decide(D::DbgReadFault);
        return false;
    };
    if usig != usig_expected {
        k.decide(D::DbgSigMismatch);
        k.rseq.event.fatal = true;
        return false;
    }
    // With GENERIC_IRQ_ENTRY a CS interrupted by anything but an interrupt
    // from user mode (a syscall issued inside the CS) is fatal.
    if gie(k) && !k.rseq.event.user_irq {
        k.decide(D::DbgNotUserIrq);
        k.rseq.event.fatal = true;
        return false;
    }
    let cs_field = ufield(k, urseq::RSEQ_CS);
    if k.put_user_u64(F, cs_field, 0).is_err() {
        k.decide(D::DbgWriteFault);
        return false;
    }
    let new_ip = ulong(k, abort_ip);
    k.instruction_pointer_set(new_ip, "rseq abort (debug)");
    k.decide(D::DbgAbort);
    true
}

/// The `clear:` label of rseq_debug_update_user_cs().
fn rseq_debug_clear_cs(k: &mut K<'_>) -> bool {
    let cs_field = ufield(k, urseq::RSEQ_CS);
    if k.put_user_u64("rseq_debug_update_user_cs", cs_field, 0)
        .is_err()
    {
        k.decide(D::DbgWriteFault);
        return false;
    }
    true
}

/// include/linux/rseq_entry.h rseq_update_user_cs(): the production check
/// (abort_ip in user space, signature before it), or the debug one.
/// `csaddr` is an `unsigned long` (the caller has truncated it).
fn rseq_update_user_cs(k: &mut K<'_>, csaddr: u64) -> bool {
    const F: &str = "rseq_update_user_cs";
    let ip = ip(k);
    let tasksize = k.task_size();

    if csaddr >= tasksize {
        k.decide(D::CsBeyond);
        k.rseq.event.fatal = true;
        return false;
    }
    if debug(k) {
        k.decide(D::CsDebug);
        return rseq_debug_update_user_cs(k, csaddr);
    }
    if !scoped_user_access_begin(k, csaddr, ucs::SIZE) {
        k.decide(D::CsBeginFault);
        return false;
    }
    // All three u64 fields first, in this order; version/flags are not read.
    let Ok(start_ip) = k.get_user_u64(F, csaddr.wrapping_add(ucs::START_IP)) else {
        k.decide(D::CsReadFault);
        return false;
    };
    let Ok(offset) = k.get_user_u64(F, csaddr.wrapping_add(ucs::POST_COMMIT_OFFSET)) else {
        k.decide(D::CsReadFault);
        return false;
    };
    let Ok(abort_ip) = k.get_user_u64(F, csaddr.wrapping_add(ucs::ABORT_IP)) else {
        k.decide(D::CsReadFault);
        return false;
    };
    // `ip - start_ip >= offset` in u64 (ip is zero-extended): outside -> clear.
    if ip.wrapping_sub(start_ip) >= offset {
        k.decide(D::CsOutside);
        let cs_field = ufield(k, urseq::RSEQ_CS);
        if k.put_user_u64(F, cs_field, 0).is_err() {
            k.decide(D::CsWriteFault);
            return false;
        }
        return true;
    }
    // abort_ip must be a user address (x86 IRET would return to the kernel).
    if abort_ip >= tasksize || abort_ip < 4 {
        k.decide(D::CsAbortInvalid);
        k.rseq.event.fatal = true;
        return false;
    }
    let Ok(usig) = k.get_user_u32(F, ulong(k, abort_ip.wrapping_sub(4))) else {
        k.decide(D::CsReadFault);
        return false;
    };
    if !rseq_sig_matches(usig, k.rseq.sig) {
        k.decide(D::CsSigMismatch);
        k.rseq.event.fatal = true;
        return false;
    }
    let cs_field = ufield(k, urseq::RSEQ_CS);
    if k.put_user_u64(F, cs_field, 0).is_err() {
        k.decide(D::CsWriteFault);
        return false;
    }
    let new_ip = ulong(k, abort_ip);
    k.instruction_pointer_set(new_ip, "rseq abort");
    k.decide(D::CsAbort);
    true
}

// ---------------------------------------------------------------------------
// ID update (include/linux/rseq_entry.h)
// ---------------------------------------------------------------------------

/// include/linux/rseq_entry.h rseq_debug_validate_ids(): with the debug key,
/// the user must not have touched the kernel-written ID fields.
fn rseq_debug_validate_ids(k: &mut K<'_>) -> bool {
    const F: &str = "rseq_debug_validate_ids";
    let cached = k.rseq.ids;
    // On the first exit after registration the cached CPU is uninitialized
    // and user space holds node_id 0.
    let node_id = if cached.cpu_id != abi::RSEQ_CPU_ID_UNINITIALIZED {
        cpu_to_node(cached.cpu_id)
    } else {
        0
    };
    let a = ufield(k, urseq::CPU_ID_START);
    let Ok(cpu_id) = k.get_user_u32(F, a) else {
        k.decide(D::ValFault);
        return false;
    };
    if cpu_id != cached.cpu_id {
        k.decide(D::ValCpuIdStart);
        k.rseq.event.fatal = true;
        return false;
    }
    let checks = [
        (urseq::CPU_ID, cpu_id, D::ValCpuId),
        (urseq::NODE_ID, node_id, D::ValNodeId),
        (urseq::MM_CID, cached.mm_cid, D::ValMmCid),
    ];
    for (off, expected, mismatch) in checks {
        let a = ufield(k, off);
        let Ok(uval) = k.get_user_u32(F, a) else {
            k.decide(D::ValFault);
            return false;
        };
        if uval != expected {
            k.decide(mismatch);
            k.rseq.event.fatal = true;
            return false;
        }
    }
    k.decide(D::ValOk);
    true
}

/// include/linux/rseq_entry.h rseq_set_ids_get_csaddr(): write the IDs and,
/// when `want_csaddr` (the C `csaddr != NULL`), read rseq_cs in the same user
/// access region. Returns the csaddr read (0 when not asked), or None on
/// failure (fatal set only by the debug validation).
fn rseq_set_ids_get_csaddr(
    k: &mut K<'_>,
    ids: RseqIds,
    node_id: u32,
    want_csaddr: bool,
) -> Option<u64> {
    const F: &str = "rseq_set_ids_get_csaddr";
    if debug(k) && !rseq_debug_validate_ids(k) {
        k.decide(D::IdsDebugInvalid);
        return None;
    }
    let writes = [
        (urseq::CPU_ID_START, ids.cpu_id),
        (urseq::CPU_ID, ids.cpu_id),
        (urseq::NODE_ID, node_id),
        (urseq::MM_CID, ids.mm_cid),
    ];
    for (off, v) in writes {
        let a = ufield(k, off);
        if k.put_user_u32(F, a, v).is_err() {
            k.decide(D::IdsFault);
            return None;
        }
    }
    let mut csaddr = 0;
    if want_csaddr {
        let a = ufield(k, urseq::RSEQ_CS);
        match k.get_user_u64(F, a) {
            Ok(v) => csaddr = v,
            Err(_) => {
                k.decide(D::IdsFault);
                return None;
            }
        }
    }
    // Cache the values now visible to user space.
    k.rseq.ids = ids;
    k.decide(D::IdsWritten);
    Some(csaddr)
}

/// kernel/rseq.c rseq_set_ids(): the wrapper with `csaddr == NULL`.
fn rseq_set_ids(k: &mut K<'_>, ids: RseqIds, node_id: u32) -> bool {
    rseq_set_ids_get_csaddr(k, ids, node_id, false).is_some()
}

/// include/linux/rseq_entry.h rseq_update_usr(): IDs, then the CS unless the
/// GIE optimisation says the entry was not an interrupt from user space.
fn rseq_update_usr(k: &mut K<'_>, ids: RseqIds, node_id: u32) -> bool {
    let Some(csaddr) = rseq_set_ids_get_csaddr(k, ids, node_id, true) else {
        return false;
    };
    if gie(k) && !debug(k) && !k.rseq.event.user_irq {
        k.decide(D::UsrCsGateSkip);
        return true;
    }
    if csaddr == 0 {
        k.decide(D::UsrCsaddrZero);
        return true;
    }
    k.decide(D::UsrCsCheck);
    let cs = ulong(k, csaddr);
    rseq_update_user_cs(k, cs)
}

// ---------------------------------------------------------------------------
// The GE fast path (include/linux/rseq_entry.h, CONFIG_GENERIC_ENTRY only)
// ---------------------------------------------------------------------------

/// include/linux/rseq_entry.h rseq_exit_user_update(): runs with interrupts
/// and page faults disabled (`guard(pagefault)()`), so any fault fails.
fn rseq_exit_user_update(k: &mut K<'_>) -> bool {
    k.pagefault_disable();
    let ok = rseq_exit_user_update_nofault(k);
    k.pagefault_enable();
    ok
}

fn rseq_exit_user_update_nofault(k: &mut K<'_>) -> bool {
    if !k.rseq.event.ids_changed {
        // Branch A: only reachable through user_irq (see
        // rseq_sched_switch_event()); IDs are not written.
        k.decide(D::BranchA);
        let a = ufield(k, urseq::RSEQ_CS);
        let Ok(csaddr) = k.get_user_u64("rseq_exit_user_update", a) else {
            k.decide(D::BranchACsaddrFault);
            return false;
        };
        if debug(k) || csaddr != 0 {
            if csaddr == 0 {
                // The debug key sends even csaddr == 0 into the CS check
                // (spec §4.4 quirk): the debug routine then reads a
                // descriptor at address 0.
                k.decide(D::BranchADebugQuirk);
            } else {
                k.decide(D::BranchACsCheck);
            }
            let cs = ulong(k, csaddr);
            return rseq_update_user_cs(k, cs);
        }
        k.decide(D::BranchACsaddrZero);
        return true;
    }
    k.decide(D::BranchB);
    let ids = RseqIds {
        cpu_id: k.task_cpu(),
        mm_cid: k.task_mm_cid(),
    };
    let node_id = cpu_to_node(ids.cpu_id);
    rseq_update_usr(k, ids, node_id)
}

/// include/linux/rseq_entry.h __rseq_exit_to_user_mode_restart(): true when
/// the fast path failed and the slow path must run.
fn __rseq_exit_to_user_mode_restart(k: &mut K<'_>) -> bool {
    if k.rseq.event.sched_switch {
        k.decide(D::SchedSwitch);
        if !rseq_exit_user_update(k) {
            // Events stay set so that the slow path sees sched_switch.
            return true;
        }
    } else {
        k.decide(D::NoSchedSwitch);
    }
    // Clear state so the next entry starts from a clean slate.
    k.rseq.event.clear_events();
    false
}

/// include/linux/rseq_entry.h rseq_exit_to_user_mode_restart(): the outer
/// step of exit_to_user_mode_loop(). On non-GE kernels it is a stub.
fn rseq_exit_to_user_mode_restart(k: &mut K<'_>, ti_work: u32) -> bool {
    if !ge(k) {
        k.decide(D::RestartStub);
        return false;
    }
    // test_tif_rseq(): always true without generic TIF bits.
    if tifb(k) && ti_work & tif::RSEQ == 0 {
        k.decide(D::RestartNoTifRseq);
        return false;
    }
    if __rseq_exit_to_user_mode_restart(k) {
        k.decide(D::RestartDefer);
        k.rseq.event.slowpath = true;
        k.set_tif(tif::NOTIFY_RESUME);
        return true;
    }
    // clear_tif_rseq(): a no-op when TIF_RSEQ is TIF_NOTIFY_RESUME.
    if tifb(k) {
        k.clear_tif(tif::RSEQ);
    }
    k.decide(D::RestartDone);
    false
}

// ---------------------------------------------------------------------------
// The slow path (include/linux/rseq.h, kernel/rseq.c)
// ---------------------------------------------------------------------------

/// include/linux/rseq.h rseq_handle_slowpath(regs), from
/// resume_user_mode_work(regs). `regs == false` is the NULL regs of KVM's
/// pre-guest work loop.
fn rseq_handle_slowpath(k: &mut K<'_>, regs: bool) {
    if ge(k) {
        if k.rseq.event.slowpath {
            k.decide(D::SlowGe);
            __rseq_handle_slowpath(k, regs);
        } else {
            k.decide(D::SlowGeNone);
        }
    } else if k.rseq.event.sched_switch & k.rseq.event.has_rseq {
        k.decide(D::SlowLegacy);
        __rseq_handle_slowpath(k, regs);
    }
    // else: TIF_NOTIFY_RESUME raised by something else (task work, ...),
    // which this machine does not model; nothing to do for rseq.
}

/// kernel/rseq.c __rseq_handle_slowpath(regs): with NULL regs (KVM's
/// pre-guest work) it returns at once, leaving the events for the exit to
/// user mode. Under generic entry (x86, riscv64) the gate above is closed
/// there (`slowpath` is set only inside an exit to user mode, which clears
/// it); on arm64 a switch event opens it, and rseq_virt_userspace_exit()
/// must raise TIF_NOTIFY_RESUME again, which this pass cleared.
fn __rseq_handle_slowpath(k: &mut K<'_>, regs: bool) {
    if !regs {
        k.decide(D::SlowRegsNull);
        return;
    }
    rseq_slowpath_update_usr(k);
}

/// kernel/rseq.c rseq_slowpath_update_usr(): faults enabled; IDs written
/// unconditionally; any failure kills with force_sig(SIGSEGV).
fn rseq_slowpath_update_usr(k: &mut K<'_>) {
    // PF_EXITING: a task that dies in get_signal() never comes back here in
    // this machine (the exit loop stops), so this guard has no decision.
    if k.task_exiting() {
        return;
    }
    // scoped_guard(irq): read sched_switch, keep only has_rseq and user_irq.
    let event = k.rseq.event.sched_switch;
    let keep_has_rseq = k.rseq.event.has_rseq;
    let keep_user_irq = k.rseq.event.user_irq;
    k.rseq.event = RseqEvent {
        has_rseq: keep_has_rseq,
        user_irq: keep_user_irq,
        ..RseqEvent::default()
    };
    let ids = RseqIds {
        cpu_id: k.task_cpu(),
        mm_cid: k.task_mm_cid(),
    };
    if !event {
        // Unreachable here: both gates of rseq_handle_slowpath() imply
        // sched_switch (the fast path leaves events set when it defers).
        return;
    }
    let node_id = cpu_to_node(ids.cpu_id);
    if rseq_update_usr(k, ids, node_id) {
        k.decide(D::SlowUpdated);
    } else {
        k.decide(D::SlowKill);
        k.rseq.event.clear_error();
        k.force_sig_segv();
    }
}

/// include/linux/resume_user_mode.h resume_user_mode_work(): clears
/// TIF_NOTIFY_RESUME, then (after task work etc.) calls the rseq slow path.
fn resume_user_mode_work(k: &mut K<'_>, regs: bool) {
    k.clear_tif(tif::NOTIFY_RESUME);
    rseq_handle_slowpath(k, regs);
}

/// include/linux/rseq.h rseq_virt_userspace_exit(), when KVM_RUN's vcpu_run
/// returns: the pre-guest work cleared TIF_NOTIFY_RESUME without running
/// rseq, so where that bit is also rseq's (no generic TIF bits) it is
/// raised again for a pending switch event. With generic TIF bits, TIF_RSEQ
/// is not guest-entry work and survives the loop: nothing to do.
fn rseq_virt_userspace_exit(k: &mut K<'_>) {
    if !tifb(k) && k.rseq.event.sched_switch {
        rseq_raise_notify_resume(k);
    }
}

// ---------------------------------------------------------------------------
// Signal delivery and the syscall-return debug check (kernel/rseq.c)
// ---------------------------------------------------------------------------

/// include/linux/rseq.h rseq_signal_deliver(), from handle_signal() before
/// the frame is built from the user registers.
fn rseq_signal_deliver(k: &mut K<'_>, signo: u8) {
    let ev = k.rseq.event;
    if gie(k) {
        if ev.has_rseq & ev.user_irq {
            k.decide(D::SigGieDeliver);
            __rseq_signal_deliver(k, signo);
        } else {
            k.decide(D::SigGieSkip);
        }
    } else if ev.has_rseq {
        k.decide(D::SigLegacyDeliver);
        __rseq_signal_deliver(k, signo);
    } else {
        k.decide(D::SigLegacySkip);
    }
}

/// kernel/rseq.c rseq_handle_cs(): read rseq_cs (faults allowed), check the
/// CS if there is one. IDs are not touched.
fn rseq_handle_cs(k: &mut K<'_>) -> bool {
    let a = ufield(k, urseq::RSEQ_CS);
    let Ok(csaddr) = k.get_user_u64("rseq_handle_cs", a) else {
        k.decide(D::HandleCsFault);
        return false;
    };
    if csaddr == 0 {
        k.decide(D::HandleCsZero);
        return true;
    }
    k.decide(D::HandleCsCheck);
    let cs = ulong(k, csaddr);
    rseq_update_user_cs(k, cs)
}

/// kernel/rseq.c __rseq_signal_deliver(): failure -> force_sigsegv(sig).
fn __rseq_signal_deliver(k: &mut K<'_>, signo: u8) {
    if rseq_handle_cs(k) {
        k.decide(D::SigOk);
    } else {
        k.decide(D::SigKill);
        k.rseq.event.clear_error();
        k.force_sigsegv(signo);
    }
}

/// kernel/rseq.c __rseq_debug_syscall_return(): a syscall issued inside a
/// critical section. Reached from rseq_debug_syscall_return() (GE, debug
/// key) or rseq_syscall() (non-GE, CONFIG_DEBUG_RSEQ).
fn __rseq_debug_syscall_return(k: &mut K<'_>) {
    if !k.rseq.event.has_rseq {
        k.decide(D::DsrNotRegistered);
        return;
    }
    let a = ufield(k, urseq::RSEQ_CS);
    match k.get_user_u64("__rseq_debug_syscall_return", a) {
        Err(_) => k.decide(D::DsrReadFault),
        Ok(0) => {
            k.decide(D::DsrZero);
            return;
        }
        // The full u64 is compared with TASK_SIZE, also on 32-bit.
        Ok(csaddr) if csaddr >= k.task_size() => k.decide(D::DsrBeyond),
        Ok(csaddr) => {
            let cs = ulong(k, csaddr);
            if rseq_debug_update_user_cs(k, cs) {
                k.decide(D::DsrOk);
                return;
            }
        }
    }
    k.decide(D::DsrKill);
    k.force_sig_segv();
}

/// kernel/rseq.c rseq_syscall() (CONFIG_DEBUG_RSEQ, non-GE arches, whatever
/// the key says) and include/linux/rseq_entry.h rseq_debug_syscall_return()
/// (GE, debug key): both lead to __rseq_debug_syscall_return().
fn rseq_syscall(k: &mut K<'_>) {
    if k.cfg.syscall_return_check() {
        __rseq_debug_syscall_return(k);
    }
}

// ---------------------------------------------------------------------------
// The exit loops
// ---------------------------------------------------------------------------

/// Bounds an exit loop. A pass that delivers a signal consumes a pending
/// signal, which is progress; any other pass counts against
/// [`EXIT_LOOP_BOUND`]. A hard cap on all passes keeps the loop bounded even
/// if signals kept being queued.
struct LoopBudget {
    idle: u32,
    total: u32,
}

impl LoopBudget {
    const HARD_CAP: u32 = EXIT_LOOP_BOUND + 2 * (abi::sig::MAX as u32 + 1);

    fn new() -> Self {
        LoopBudget { idle: 0, total: 0 }
    }

    /// Count one pass; false (with `livelock` set) when the bound is hit.
    fn spend(&mut self, k: &mut K<'_>, delivered_signal: bool) -> bool {
        self.total += 1;
        if !delivered_signal {
            self.idle += 1;
        }
        if self.idle > EXIT_LOOP_BOUND || self.total > Self::HARD_CAP {
            k.task.livelock = true;
            return false;
        }
        true
    }
}

/// `EXIT_TO_USER_MODE_WORK` as far as the model has bits: signals,
/// TIF_NOTIFY_RESUME and (with generic TIF bits) TIF_RSEQ.
fn exit_to_user_mode_work(k: &K<'_>) -> u32 {
    tif::SIGPENDING | tif::NOTIFY_RESUME | k.tif_rseq()
}

/// kernel/entry/common.c `EXIT_TO_USER_MODE_WORK_LOOP`: without TIF_RSEQ
/// when it is a separate bit (the fast path handles it after the loop).
fn exit_to_user_mode_work_loop(k: &K<'_>) -> u32 {
    if tifb(k) {
        exit_to_user_mode_work(k) & !tif::RSEQ
    } else {
        exit_to_user_mode_work(k)
    }
}

/// Deliver one signal (arch_do_signal_or_restart(): get_signal() +
/// handle_signal(), which calls rseq_signal_deliver()). Whether a pending
/// signal was consumed.
fn deliver_signal(k: &mut K<'_>) -> bool {
    let before = k.task.pending.len();
    k.arch_do_signal_or_restart();
    k.task.pending.len() < before
}

/// kernel/entry/common.c __exit_to_user_mode_loop(): the inner TIF work loop
/// (rescheduling is driven by the machine's own switch events).
fn __exit_to_user_mode_loop(k: &mut K<'_>, mut ti_work: u32, budget: &mut LoopBudget) -> u32 {
    let mask = exit_to_user_mode_work_loop(k);
    while ti_work & mask != 0 {
        let mut delivered = false;
        if ti_work & tif::SIGPENDING != 0 {
            k.decide(D::LoopSignal);
            delivered = deliver_signal(k);
            if k.task_exiting() {
                // get_signal() ran the default action: do_group_exit().
                return k.task.tif;
            }
        }
        if ti_work & tif::NOTIFY_RESUME != 0 {
            k.decide(D::LoopNotifyResume);
            resume_user_mode_work(k, true);
        }
        ti_work = k.task.tif;
        if !budget.spend(k, delivered) {
            break;
        }
    }
    ti_work
}

/// kernel/entry/common.c exit_to_user_mode_loop(): inner TIF work, then the
/// rseq fast path; a deferral goes round again with TIF_NOTIFY_RESUME set.
fn exit_to_user_mode_loop(k: &mut K<'_>, mut ti_work: u32) -> u32 {
    let mut budget = LoopBudget::new();
    loop {
        ti_work = __exit_to_user_mode_loop(k, ti_work, &mut budget);
        if k.task_exiting() || k.task.livelock {
            return ti_work;
        }
        if !rseq_exit_to_user_mode_restart(k, ti_work) {
            return ti_work;
        }
        k.decide(D::LoopRestart);
        if !budget.spend(k, false) {
            return ti_work;
        }
        ti_work = k.task.tif;
    }
}

/// include/linux/irq-entry-common.h __exit_to_user_mode_prepare().
fn __exit_to_user_mode_prepare(k: &mut K<'_>) {
    let ti_work = k.task.tif;
    if ti_work & exit_to_user_mode_work(k) != 0 {
        k.decide(D::PrepareWork);
        exit_to_user_mode_loop(k, ti_work);
    } else {
        k.decide(D::PrepareNoWork);
    }
}

/// include/linux/rseq_entry.h rseq_syscall_exit_to_user_mode(): the events
/// are cleared only with CONFIG_LOCKDEP, which the model leaves off.
fn rseq_syscall_exit_to_user_mode(k: &mut K<'_>) {
    k.decide(D::SysExitKeep);
}

/// include/linux/rseq_entry.h rseq_irqentry_exit_to_user_mode(): clears
/// user_irq (and the rest of events) after an interrupt that did not
/// schedule.
fn rseq_irqentry_exit_to_user_mode(k: &mut K<'_>) {
    k.decide(D::IrqExitClear);
    k.rseq.event.clear_events();
}

/// include/linux/rseq_entry.h rseq_exit_to_user_mode_legacy() ("Required to
/// keep ARM64 working"): clears events on every arm64 exit.
fn rseq_exit_to_user_mode_legacy(k: &mut K<'_>) {
    k.decide(D::LegacyExitClear);
    k.rseq.event.clear_events();
}

/// arm64_exit_to_user_mode() -> exit_to_user_mode_prepare_legacy().
fn exit_to_user_mode_prepare_legacy(k: &mut K<'_>) {
    __exit_to_user_mode_prepare(k);
    if k.task_exiting() {
        return;
    }
    rseq_exit_to_user_mode_legacy(k);
}

/// arch/arm/kernel/entry-common.S ret_to_user / ret_fast_syscall: call
/// do_work_pending() if any work bit is set.
fn arm_ret_to_user(k: &mut K<'_>) {
    let flags = k.task.tif;
    // arm's _TIF_WORK_MASK. arm has no generic TIF bits, so TIF_RSEQ is
    // TIF_NOTIFY_RESUME; a separate bit (an ad-hoc `arm32+tifb` config) would
    // not be work here.
    let work_mask = tif::SIGPENDING | tif::NOTIFY_RESUME;
    if flags & work_mask == 0 {
        k.decide(D::ArmNoWork);
        return;
    }
    do_work_pending(k, flags, work_mask);
}

/// arch/arm/kernel/signal.c do_work_pending(): one kind of work a pass,
/// signals before TIF_NOTIFY_RESUME.
fn do_work_pending(k: &mut K<'_>, mut flags: u32, work_mask: u32) {
    let mut budget = LoopBudget::new();
    loop {
        let mut delivered = false;
        if flags & tif::SIGPENDING != 0 {
            k.decide(D::ArmWorkSignal);
            delivered = deliver_signal(k);
            if k.task_exiting() {
                return;
            }
        } else {
            k.decide(D::ArmWorkNotify);
            resume_user_mode_work(k, true);
        }
        flags = k.task.tif;
        if flags & work_mask == 0 || !budget.spend(k, delivered) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// sys_rseq (kernel/rseq.c)
// ---------------------------------------------------------------------------

/// kernel/rseq.c rseq_reset_ids(): unregistration writes
/// cpu_id_start = cpu_id = RSEQ_CPU_ID_UNINITIALIZED, node_id = mm_cid = 0.
fn rseq_reset_ids(k: &mut K<'_>) -> bool {
    let ids = RseqIds {
        cpu_id: abi::RSEQ_CPU_ID_UNINITIALIZED,
        mm_cid: 0,
    };
    if rseq_set_ids(k, ids, 0) {
        return true;
    }
    k.decide(D::ResetIdsKill);
    k.force_sig_segv();
    false
}

/// kernel/rseq.c SYSCALL_DEFINE4(rseq, ...).
fn sys_rseq(k: &mut K<'_>, addr: u64, rseq_len: u32, flags: u32, sig: u32) -> i64 {
    // The pointer argument is an `unsigned long` register.
    let rseq = ulong(k, addr);
    if flags & abi::RSEQ_FLAG_UNREGISTER != 0 {
        if flags & !abi::RSEQ_FLAG_UNREGISTER != 0 {
            k.decide(D::UnregBadFlags);
            return -errno::EINVAL;
        }
        if k.rseq.usrptr != rseq || k.rseq.usrptr == 0 {
            k.decide(D::UnregPtr);
            return -errno::EINVAL;
        }
        if rseq_len != k.rseq.len {
            k.decide(D::UnregLen);
            return -errno::EINVAL;
        }
        if k.rseq.sig != sig {
            k.decide(D::UnregSig);
            return -errno::EPERM;
        }
        if !rseq_reset_ids(k) {
            k.decide(D::UnregEfault);
            return -errno::EFAULT;
        }
        rseq_reset(k);
        k.decide(D::Unregistered);
        return 0;
    }

    if flags != 0 {
        k.decide(D::BadFlags);
        return -errno::EINVAL;
    }

    if k.rseq.usrptr != 0 {
        if k.rseq.usrptr != rseq || rseq_len != k.rseq.len {
            k.decide(D::RegMismatch);
            return -errno::EINVAL;
        }
        if k.rseq.sig != sig {
            k.decide(D::RegSig);
            return -errno::EPERM;
        }
        k.decide(D::RegBusy);
        return -errno::EBUSY;
    }

    // ORIG_RSEQ_SIZE (32) needs 32-byte alignment; any other length needs
    // __alignof__(struct rseq) (32) and offsetof(struct rseq, end) (28).
    let orig = abi::ORIG_RSEQ_SIZE;
    let align = abi::rseq::ALIGN;
    if rseq_len < orig
        || (rseq_len == orig && rseq % u64::from(orig) != 0)
        || (rseq_len != orig && (rseq % align != 0 || rseq_len < abi::RSEQ_FEATURE_SIZE_V6_3))
    {
        k.decide(D::RegBadLen);
        return -errno::EINVAL;
    }
    if !k.access_ok(rseq, u64::from(rseq_len)) {
        k.decide(D::RegAccess);
        return -errno::EFAULT;
    }

    // One user write region: clear rseq_cs (without reading it), then the
    // IDs. Faults are resolvable here (syscall context); a fault leaves the
    // writes done so far and the task unregistered.
    let writes: [(u64, u64, bool); 5] = [
        (urseq::RSEQ_CS, 0, true),
        (
            urseq::CPU_ID_START,
            u64::from(abi::RSEQ_CPU_ID_UNINITIALIZED),
            false,
        ),
        (
            urseq::CPU_ID,
            u64::from(abi::RSEQ_CPU_ID_UNINITIALIZED),
            false,
        ),
        (urseq::NODE_ID, 0, false),
        (urseq::MM_CID, 0, false),
    ];
    for (off, v, wide) in writes {
        let a = rseq.wrapping_add(off);
        let r = if wide {
            k.put_user_u64("sys_rseq", a, v)
        } else {
            k.put_user_u32("sys_rseq", a, v as u32)
        };
        if r.is_err() {
            k.decide(D::RegFault);
            return -errno::EFAULT;
        }
    }

    k.rseq.usrptr = rseq;
    k.rseq.len = rseq_len;
    k.rseq.sig = sig;
    k.rseq.event.has_rseq = true;
    k.decide(D::Registered);
    rseq_force_update(k);
    0
}

// ---------------------------------------------------------------------------
// The hooks
// ---------------------------------------------------------------------------

impl KernelVersion for V6_19 {
    /// resume_user_mode_work(NULL) from KVM's pre-guest work loop.
    fn resume_user_mode_work_for_guest(k: &mut K<'_>) {
        resume_user_mode_work(k, false);
    }

    fn rseq_virt_userspace_exit(k: &mut K<'_>) {
        rseq_virt_userspace_exit(k);
    }

    const NAME: &'static str = "v6.19";
    const DESCRIPTION: &'static str =
        "rseq rework (exit-to-user fast path under pagefault_disable, slow path, TIF_RSEQ)";
    type Decision = D;
    type TaskState = RseqData;

    fn registration(t: &RseqData) -> Option<Registration> {
        t.event.has_rseq.then_some(Registration {
            addr: t.usrptr,
            len: t.len,
            sig: t.sig,
        })
    }

    fn configs() -> Vec<Config> {
        let mut v = Vec::new();
        for arch in Arch::ALL {
            for debug in [false, true] {
                v.push(Config::native(arch, debug));
            }
        }
        v.extend(Config::debug_key_against_config());
        v
    }

    fn sys_rseq(k: &mut K<'_>, addr: u64, len: u32, flags: u32, sig: u32) -> i64 {
        sys_rseq(k, addr, len, flags, sig)
    }

    /// The interrupt entry from user mode.
    fn irq_entry(k: &mut K<'_>) {
        if ge(k) {
            // irqentry_enter_from_user_mode(): enter_from_user_mode() +
            // rseq_note_user_irq_entry().
            rseq_note_user_irq_entry(k);
        } else if gie(k) {
            // arm64_enter_from_user_mode() calls enter_from_user_mode() only.
            k.decide(D::Arm64EnterNoNote);
        } else {
            // 32-bit arm's own entry code has no rseq hook.
            k.decide(D::ArmIrqNoHook);
        }
    }

    /// prepare_task_switch(): the rework hooks switch-in only.
    fn switch_out(_k: &mut K<'_>) {}

    /// __set_task_cpu() -> rseq_sched_set_ids_changed() (no TIF raise).
    fn set_task_cpu(k: &mut K<'_>) {
        k.decide(D::SetTaskCpu);
        k.rseq.event.ids_changed = true;
    }

    /// mm_cid_schedin() -> mm_cid_update_task_cid(): ids_changed when the
    /// task's CID changes (v6.19 has the MM CID rewrite; the comparison with
    /// the cached rseq ids.mm_cid was gone before the release).
    fn set_task_mm_cid(k: &mut K<'_>, old: u32) {
        if old != k.task_mm_cid() {
            k.decide(D::CidChanged);
            k.rseq.event.ids_changed = true;
        } else {
            k.decide(D::CidUnchanged);
        }
    }

    /// context_switch() -> rseq_sched_switch_event(next).
    fn switch_in(k: &mut K<'_>) {
        rseq_sched_switch_event(k);
    }

    /// kernel/sched/membarrier.c ipi_rseq() -> rseq_sched_switch_event(current).
    fn membarrier_ipi(k: &mut K<'_>) {
        rseq_sched_switch_event(k);
    }

    fn signal_deliver(k: &mut K<'_>, signo: u8) {
        rseq_signal_deliver(k, signo);
    }

    /// include/linux/rseq.h rseq_fork(): CLONE_VM resets, otherwise the child
    /// gets a copy of everything, cached IDs and event bits included.
    fn fork(parent: &RseqData, clone_vm: bool) -> RseqData {
        if clone_vm {
            RseqData::default()
        } else {
            parent.clone()
        }
    }

    /// rseq_execve() on success; rseq_force_update() from bprm_execve() on
    /// failure.
    fn execve(k: &mut K<'_>, ok: bool) {
        if ok {
            k.decide(D::ExecReset);
            rseq_reset(k);
        } else {
            k.decide(D::ExecFailed);
            rseq_force_update(k);
        }
    }

    fn syscall_exit_to_user_mode(k: &mut K<'_>) {
        if ge(k) {
            // syscall_exit_to_user_mode_work(): rseq_debug_syscall_return().
            rseq_syscall(k);
            // syscall_exit_to_user_mode_prepare().
            __exit_to_user_mode_prepare(k);
            if k.task_exiting() {
                return;
            }
            rseq_syscall_exit_to_user_mode(k);
        } else if gie(k) {
            // arm64: el0_svc_common() -> syscall_trace_exit() -> rseq_syscall(),
            // then arm64_exit_to_user_mode().
            rseq_syscall(k);
            exit_to_user_mode_prepare_legacy(k);
        } else {
            // arm: ret_fast_syscall -> rseq_syscall, then the work loop.
            rseq_syscall(k);
            arm_ret_to_user(k);
        }
    }

    fn irqentry_exit_to_user_mode(k: &mut K<'_>) {
        if ge(k) {
            // irqentry_exit_to_user_mode_prepare().
            __exit_to_user_mode_prepare(k);
            if k.task_exiting() {
                return;
            }
            rseq_irqentry_exit_to_user_mode(k);
        } else if gie(k) {
            exit_to_user_mode_prepare_legacy(k);
        } else {
            // arm: ret_from_exception -> ret_to_user -> do_rseq_syscall();
            // an interrupt's ret_to_user_from_irq skips it.
            if k.arm_ret_from_exception() {
                rseq_syscall(k);
            }
            arm_ret_to_user(k);
        }
    }
}
