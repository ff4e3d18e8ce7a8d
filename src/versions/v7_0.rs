//! v7.0: the v6.19 rseq rework plus scheduler time-slice extensions, as
//! released in v7.0 (before the May-June 2026 fixes). Spec §4 (R, "7.0"
//! additions), §4.15, §6 columns R/Rd.
//!
//! Read side by side with:
//! * `include/linux/rseq_entry.h` @ torvalds/linux c17ee635fd3a (fast path,
//!   CS routines, ID writes, slice grant);
//! * `kernel/rseq.c` v7.0 content @ Diangang/linux 35ce50121a22 (sys_rseq,
//!   slow path, signal delivery, debug syscall return, slice timer, syscall
//!   entry work, prctl, rseq_slice_yield);
//! * `include/linux/rseq.h` v7.0 (event producers, fork/exec/reset; read at
//!   gregkh/linux 6c180bb5e961, which already carries the V2-era
//!   `rseq_reset()` irq guard — v7.0 itself does a plain memset);
//! * `kernel/entry/common.c` v7.0 (the exit loop with the slice grant) and
//!   `include/linux/irq-entry-common.h` @ torvalds 041aa7a85390;
//! * `include/uapi/linux/rseq.h` after 3b68df978133 (feature size 33,
//!   `sizeof(struct rseq)` = 64, `AT_RSEQ_ALIGN` = 64).
//!
//! Conventions of this file:
//! * Each kernel function is a Rust function of the same name; checks and
//!   user accesses happen in the kernel's order.
//! * Each data-dependent check records a decision point
//!   `kernel_function/condition` for the outcome taken. Checks of static
//!   keys and Kconfig options record a decision only where the branch does
//!   something (e.g. `.../clear_slice_ctrl`).
//! * A few checks cannot be reached in this machine and carry no decision
//!   point; each is marked "unreachable here" with the reason.

use crate::abi::{self, errno, rseq, rseq_cs, word_mask, Arch};
use crate::config::Config;
use crate::kernel::{
    cpu_to_node, tif, Kctx, KernelVersion, Registration, Syscall, EXIT_LOOP_BOUND,
};

crate::decision_points! {
    /// Decision points of the v7.0 model.
    pub enum D {
        // ---- sys_rseq (kernel/rseq.c) ----
        UnregBadFlags = "sys_rseq/unregister_bad_flags",
        UnregNotRegistered = "sys_rseq/unregister_not_registered_or_other_addr",
        UnregLenMismatch = "sys_rseq/unregister_len_mismatch",
        UnregSigMismatch = "sys_rseq/unregister_sig_mismatch",
        UnregResetIdsFailed = "sys_rseq/unregister_reset_ids_failed",
        UnregOk = "sys_rseq/unregister_ok",
        RegBadFlags = "sys_rseq/register_bad_flags",
        ReregAddrOrLen = "sys_rseq/reregister_addr_or_len_mismatch",
        ReregSig = "sys_rseq/reregister_sig_mismatch",
        ReregBusy = "sys_rseq/reregister_busy",
        LenBelowOrig = "sys_rseq/len_below_orig_size",
        OrigMisaligned = "sys_rseq/orig_size_misaligned",
        ExtMisaligned = "sys_rseq/ext_len_misaligned_alloc_align",
        AccessNotOk = "sys_rseq/access_ok_failed",
        SliceAvailable = "sys_rseq/slice_ext_configured_available",
        SliceDefaultOn = "sys_rseq/slice_key_on_default_on_enabled",
        RegWriteFault = "sys_rseq/register_write_fault",
        RegOk = "sys_rseq/register_ok",
        // ---- rseq_reset_ids (kernel/rseq.c) ----
        ResetIdsFailed = "rseq_reset_ids/set_ids_failed_force_sig",
        // ---- rseq_debug_validate_ids (rseq_entry.h) ----
        ValFault = "rseq_debug_validate_ids/read_fault",
        ValCpuStart = "rseq_debug_validate_ids/cpu_id_start_mismatch",
        ValCpu = "rseq_debug_validate_ids/cpu_id_mismatch",
        ValNode = "rseq_debug_validate_ids/node_id_mismatch",
        ValCid = "rseq_debug_validate_ids/mm_cid_mismatch",
        ValOk = "rseq_debug_validate_ids/ok",
        // ---- rseq_set_ids_get_csaddr (rseq_entry.h) ----
        SetIdsFault = "rseq_set_ids_get_csaddr/fault",
        SetIdsSliceClear = "rseq_set_ids_get_csaddr/clear_slice_ctrl",
        SetIdsOk = "rseq_set_ids_get_csaddr/ok",
        // ---- rseq_update_usr (rseq_entry.h) ----
        UsrSetIdsFailed = "rseq_update_usr/set_ids_failed",
        UsrSkipCsNoUserIrq = "rseq_update_usr/gie_no_user_irq_skip_cs",
        UsrCsaddrZero = "rseq_update_usr/csaddr_zero",
        UsrUpdateCs = "rseq_update_usr/update_user_cs",
        // ---- rseq_update_user_cs (rseq_entry.h) ----
        CsBeyondTaskSize = "rseq_update_user_cs/csaddr_beyond_task_size",
        CsDebug = "rseq_update_user_cs/debug_key_on",
        CsReadFault = "rseq_update_user_cs/read_fault",
        CsOutsideClear = "rseq_update_user_cs/ip_outside_clear",
        CsAbortInvalid = "rseq_update_user_cs/abort_ip_invalid",
        CsSigFault = "rseq_update_user_cs/sig_read_fault",
        CsSigMismatch = "rseq_update_user_cs/sig_mismatch",
        CsAbort = "rseq_update_user_cs/abort",
        CsWriteFault = "rseq_update_user_cs/write_fault",
        // ---- rseq_debug_update_user_cs (rseq_entry.h) ----
        DbgReadFault = "rseq_debug_update_user_cs/read_fault",
        DbgStartInvalid = "rseq_debug_update_user_cs/start_ip_beyond_task_size",
        DbgBelowStartClear = "rseq_debug_update_user_cs/ip_below_start_clear",
        DbgEndInvalid = "rseq_debug_update_user_cs/cs_end_invalid",
        DbgPastEndClear = "rseq_debug_update_user_cs/ip_at_or_past_end_clear",
        DbgAbortInvalid = "rseq_debug_update_user_cs/abort_ip_invalid",
        DbgAbortInside = "rseq_debug_update_user_cs/abort_ip_inside_cs",
        DbgHeadNonzero = "rseq_debug_update_user_cs/version_or_flags_nonzero",
        DbgSigMismatch = "rseq_debug_update_user_cs/sig_mismatch",
        DbgNotUserIrq = "rseq_debug_update_user_cs/gie_not_user_irq",
        DbgAbort = "rseq_debug_update_user_cs/abort",
        DbgWriteFault = "rseq_debug_update_user_cs/write_fault",
        // ---- rseq_exit_user_update (fast path, rseq_entry.h) ----
        FastIdsUnchanged = "rseq_exit_user_update/ids_unchanged",
        FastAFault = "rseq_exit_user_update/csaddr_fault",
        FastASliceClear = "rseq_exit_user_update/clear_slice_ctrl",
        FastACs = "rseq_exit_user_update/debug_or_csaddr_update_cs",
        FastACsFailed = "rseq_exit_user_update/update_cs_failed",
        FastIdsChanged = "rseq_exit_user_update/ids_changed",
        // ---- __rseq_exit_to_user_mode_restart / rseq_exit_to_user_mode_restart ----
        RestartNoSwitch = "__rseq_exit_to_user_mode_restart/no_sched_switch",
        RestartFailed = "__rseq_exit_to_user_mode_restart/update_failed",
        RestartDone = "__rseq_exit_to_user_mode_restart/updated",
        RestartNoTif = "rseq_exit_to_user_mode_restart/tif_rseq_not_set",
        RestartDefer = "rseq_exit_to_user_mode_restart/defer_to_slowpath",
        // ---- exit loop (kernel/entry/common.c, arch loops) ----
        LoopSchedule = "exit_to_user_mode_loop/schedule",
        ArmNoWork = "ret_to_user/no_work_pending",
        ArmWorkSchedule = "do_work_pending/schedule",
        ArmWorkSignal = "do_work_pending/signal",
        ArmWorkNotify = "do_work_pending/notify_resume",
        // ---- slow path (rseq.h / kernel/rseq.c) ----
        SlowGateSkip = "rseq_handle_slowpath/not_needed",
        SlowGateRun = "rseq_handle_slowpath/run",
        SlowRegsNull = "__rseq_handle_slowpath/regs_null",
        SlowFailed = "rseq_slowpath_update_usr/update_failed_force_sig",
        SlowOk = "rseq_slowpath_update_usr/ok",
        // ---- signal delivery ----
        SigSkip = "rseq_signal_deliver/skip",
        SigRun = "rseq_signal_deliver/deliver",
        SigFailed = "__rseq_signal_deliver/handle_cs_failed_force_sigsegv",
        SigOk = "__rseq_signal_deliver/ok",
        HcsFault = "rseq_handle_cs/read_fault",
        HcsZero = "rseq_handle_cs/csaddr_zero",
        HcsUpdate = "rseq_handle_cs/update_user_cs",
        // ---- debug syscall return (__rseq_debug_syscall_return) ----
        DsrNotRegistered = "__rseq_debug_syscall_return/not_registered",
        DsrFault = "__rseq_debug_syscall_return/read_fault",
        DsrZero = "__rseq_debug_syscall_return/csaddr_zero",
        DsrBeyond = "__rseq_debug_syscall_return/csaddr_beyond_task_size",
        DsrOk = "__rseq_debug_syscall_return/cs_ok",
        DsrKill = "__rseq_debug_syscall_return/force_sig",
        // ---- event producers (rseq.h, irq-entry-common.h, sched) ----
        IrqNoted = "rseq_note_user_irq_entry/user_irq",
        IrqArm64NotNoted = "arm64_enter_from_user_mode/user_irq_not_noted",
        SwitchGieRaise = "rseq_sched_switch_event/gie_raise",
        SwitchGieNoRaise = "rseq_sched_switch_event/gie_no_raise",
        SwitchRaise = "rseq_sched_switch_event/raise",
        SwitchNotRegistered = "rseq_sched_switch_event/not_registered",
        CidChanged = "mm_cid_schedin/cid_changed",
        ForceRaise = "rseq_force_update/raise",
        ForceNotRegistered = "rseq_force_update/not_registered",
        ExitLegacyClear = "rseq_exit_to_user_mode_legacy/clear_events",
        IrqExitClear = "rseq_irqentry_exit_to_user_mode/clear_events",
        ExecveReset = "rseq_execve/reset",
        // ---- time-slice extension (rseq_entry.h, kernel/rseq.c) ----
        GrantStateOff = "rseq_grant_slice_extension/not_enabled_or_not_user_irq",
        GrantRevoke = "rseq_grant_slice_extension/work_pending_or_granted_revoke",
        GrantNoRequest = "rseq_grant_slice_extension/no_request",
        GrantGranted = "rseq_grant_slice_extension/granted",
        GrantFault = "rseq_grant_slice_extension/fault_force_sig",
        ArmNotGranted = "rseq_arm_slice_extension_timer/not_granted",
        ArmArmed = "__rseq_arm_slice_extension_timer/armed",
        ArmExpired = "__rseq_arm_slice_extension_timer/expired_before_exit",
        TimerNotOurs = "rseq_slice_expired/cookie_not_current",
        TimerNotGranted = "rseq_slice_expired/not_granted",
        TimerResched = "rseq_slice_expired/set_need_resched",
        EnterValidateBad = "rseq_slice_validate_ctrl/mismatch_force_sig",
        EnterValidateOk = "rseq_slice_validate_ctrl/ok",
        EnterNotGranted = "rseq_syscall_enter_work/not_granted",
        EnterCancelTimer = "rseq_cancel_slice_extension_timer/cancel",
        EnterYield = "rseq_syscall_enter_work/set_need_resched_yielded",
        EnterAbort = "rseq_syscall_enter_work/set_need_resched_aborted",
        EnterCondResched = "rseq_syscall_enter_work/cond_resched",
        EnterClearFault = "rseq_syscall_enter_work/clear_fault_force_sig",
        EnterCleared = "rseq_syscall_enter_work/grant_cleared",
        PrctlNotConfigured = "rseq_slice_extension_prctl/not_configured",
        PrctlGetBadArg = "rseq_slice_extension_prctl/get_bad_arg",
        PrctlGet = "rseq_slice_extension_prctl/get",
        PrctlSetBadArg = "rseq_slice_extension_prctl/set_bad_arg",
        PrctlSetKeyOff = "rseq_slice_extension_prctl/set_key_off",
        PrctlSetNotRegistered = "rseq_slice_extension_prctl/set_not_registered",
        PrctlSetNoChange = "rseq_slice_extension_prctl/set_no_change",
        PrctlSetReadFault = "rseq_slice_extension_prctl/set_read_fault",
        PrctlSetInconsistent = "rseq_slice_extension_prctl/set_flags_inconsistent",
        PrctlSetWriteFault = "rseq_slice_extension_prctl/set_write_fault",
        PrctlSetOk = "rseq_slice_extension_prctl/set_ok",
        PrctlBadOp = "rseq_slice_extension_prctl/bad_op",
        YieldNi = "sys_rseq_slice_yield/not_configured",
        YieldYielded = "sys_rseq_slice_yield/yielded",
        YieldNot = "sys_rseq_slice_yield/not_yielded",
    }
}

/// `struct rseq_event` (include/linux/rseq_types.h). `events` is the
/// compound of the first three.
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
    /// `ev->events = 0`.
    fn clear_events(&mut self) {
        self.sched_switch = false;
        self.ids_changed = false;
        self.user_irq = false;
    }

    /// `ev->error = 0`.
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

/// `struct rseq_slice` (7.0): per-task time-slice extension state, plus the
/// per-CPU timer's cookie as far as it concerns this task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RseqSlice {
    /// `slice.state.enabled`.
    pub enabled: bool,
    /// `slice.state.granted`.
    pub granted: bool,
    /// `slice.yielded`.
    pub yielded: bool,
    /// The CPU whose slice hrtimer this task armed (`st->cookie == current`
    /// on that CPU) and which has not fired or been cancelled. Expiry times
    /// are not modelled: the timer fires when the driver says so.
    pub timer_cpu: Option<u32>,
}

/// `struct rseq_data` (task_struct::rseq).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RseqData {
    pub usrptr: u64,
    pub len: u32,
    pub sig: u32,
    pub event: RseqEvent,
    pub ids: RseqIds,
    pub slice: RseqSlice,
}

impl Default for RseqData {
    /// The state `rseq_reset()` leaves: everything zero and the cached CPU
    /// id RSEQ_CPU_ID_UNINITIALIZED (a new exec image starts here).
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
            slice: RseqSlice::default(),
        }
    }
}

/// The v7.0 model.
pub struct V7_0;

type K<'a, 'b> = &'a mut Kctx<'b, V7_0>;

/// `ORIG_RSEQ_SIZE`.
const ORIG_RSEQ_SIZE: u32 = abi::ORIG_RSEQ_SIZE;
/// `offsetof(struct rseq, end)` after 3b68df978133.
const FEATURE_SIZE: u32 = abi::RSEQ_FEATURE_SIZE_V7_0;
/// `rseq_alloc_align()`: the feature size rounded up to a power of two.
const ALLOC_ALIGN: u64 = (FEATURE_SIZE as u64).next_power_of_two();
/// `sizeof(struct rseq)`: 33 bytes padded to the 32-byte alignment.
const SIZEOF_RSEQ: u64 = 64;

// ---- configuration helpers ----

/// CONFIG_RSEQ_SLICE_EXTENSION (init/Kconfig: depends on GENERIC_ENTRY and
/// HAVE_GENERIC_TIF_BITS, so a config that asks for it elsewhere has none).
fn slice_configured(cfg: &Config) -> bool {
    cfg.slice_extension && cfg.generic_entry && cfg.generic_tif_bits
}

/// `rseq_slice_extension_enabled()`: the static key (false when not built).
fn rseq_slice_extension_enabled(cfg: &Config) -> bool {
    slice_configured(cfg) && cfg.slice_key
}

/// `static_branch_unlikely(&rseq_debug_enabled)`.
fn debug(k: &Kctx<'_, V7_0>) -> bool {
    k.cfg.debug
}

fn gie(k: &Kctx<'_, V7_0>) -> bool {
    k.cfg.generic_irq_entry
}

/// EXIT_TO_USER_MODE_WORK as far as the model has bits for it.
fn exit_work(cfg: &Config) -> u32 {
    let mut w = tif::NEED_RESCHED | tif::SIGPENDING | tif::NOTIFY_RESUME;
    if cfg.generic_tif_bits {
        w |= tif::RSEQ;
    }
    w
}

/// EXIT_TO_USER_MODE_WORK_LOOP: without TIF_RSEQ on TIFB architectures.
fn exit_work_loop(cfg: &Config) -> u32 {
    exit_work(cfg) & !tif::RSEQ
}

/// TIF_SLICE_EXT_DENY: every exit work bit except the reschedule ones.
fn tif_slice_ext_deny(cfg: &Config) -> u32 {
    exit_work(cfg) & !tif::NEED_RESCHED
}

/// Open a user access region (`scoped_user_*_access()`). x86-64 uses masked
/// user access: no length check, the accesses themselves fault past
/// TASK_SIZE. Elsewhere `user_access_begin()` checks access_ok() over the
/// object's size first.
fn user_access_begin(k: &Kctx<'_, V7_0>, addr: u64, size: u64) -> bool {
    match k.cfg.arch {
        Arch::X86_64 | Arch::X86_64La57 => true,
        _ => k.access_ok(addr, size),
    }
}

/// `(unsigned long)` of a u64 on this architecture.
fn ulong(k: &Kctx<'_, V7_0>, v: u64) -> u64 {
    v & word_mask(k.cfg.arch.word_bits())
}

fn area(k: &Kctx<'_, V7_0>, off: u64) -> u64 {
    k.rseq.usrptr.wrapping_add(off)
}

// ---- include/linux/rseq.h ----

/// rseq_raise_notify_resume(): TIF_RSEQ (TIF_NOTIFY_RESUME without TIFB).
fn rseq_raise_notify_resume(k: K) {
    let bit = k.tif_rseq();
    k.set_tif(bit);
}

/// rseq_sched_switch_event(): at context switch (switch-in of `next`) and
/// from membarrier's ipi_rseq().
fn rseq_sched_switch_event(k: K) {
    let ev = k.rseq.event;
    if gie(k) {
        // Raise only when the task was interrupted in user mode or its
        // IDs changed; has_rseq gates both.
        if (ev.user_irq || ev.ids_changed) && ev.has_rseq {
            k.decide(D::SwitchGieRaise);
            k.rseq.event.sched_switch = true;
            rseq_raise_notify_resume(k);
        } else {
            k.decide(D::SwitchGieNoRaise);
        }
    } else if ev.has_rseq {
        k.decide(D::SwitchRaise);
        k.rseq.event.sched_switch = true;
        rseq_raise_notify_resume(k);
    } else {
        k.decide(D::SwitchNotRegistered);
    }
}

/// rseq_force_update(): after registration and a failed execve.
fn rseq_force_update(k: K) {
    if k.rseq.event.has_rseq {
        k.decide(D::ForceRaise);
        k.rseq.event.ids_changed = true;
        k.rseq.event.sched_switch = true;
        rseq_raise_notify_resume(k);
    } else {
        k.decide(D::ForceNotRegistered);
    }
}

/// rseq_reset(): a plain memset in v7.0 (not protected against a
/// same-CPU membarrier IPI; the machine's hooks are atomic, so the race of
/// spec §6 row 27 cannot be expressed here).
fn rseq_reset(k: K) {
    *k.rseq = RseqData::default();
}

/// rseq_handle_slowpath(regs): invoked from resume_user_mode_work(regs);
/// `regs == false` is the NULL regs of KVM's pre-guest work loop.
fn rseq_handle_slowpath(k: K, regs: bool) {
    let ev = k.rseq.event;
    let run = if k.cfg.generic_entry {
        ev.slowpath
    } else {
        // The '&' in the source spares a branch; same truth table.
        ev.sched_switch && ev.has_rseq
    };
    if run {
        k.decide(D::SlowGateRun);
        // __rseq_handle_slowpath(): with NULL regs it returns at once,
        // leaving the events for the exit to user mode. Under generic entry
        // (x86, riscv64) the gate is closed there (`slowpath` is set only
        // inside an exit to user mode, which clears it); on arm64 a switch
        // event opens it, and rseq_virt_userspace_exit() must raise
        // TIF_NOTIFY_RESUME again, which this pass cleared.
        if regs {
            rseq_slowpath_update_usr(k);
        } else {
            k.decide(D::SlowRegsNull);
        }
    } else {
        k.decide(D::SlowGateSkip);
    }
}

// ---- include/linux/rseq_entry.h ----

/// rseq_slice_clear_grant().
fn rseq_slice_clear_grant(k: K) {
    if slice_configured(&k.cfg) {
        k.rseq.slice.granted = false;
    }
}

/// rseq_debug_update_user_cs(): the full set of checks (debug key on).
/// `csaddr` < TASK_SIZE was checked by the caller.
fn rseq_debug_update_user_cs(k: K, csaddr: u64) -> bool {
    const F: &str = "rseq_debug_update_user_cs";
    let ts = k.task_size();
    let ip = k.instruction_pointer();
    if !user_access_begin(k, csaddr, rseq_cs::SIZE) {
        k.decide(D::DbgReadFault);
        return false;
    }
    match rseq_debug_check_cs(k, csaddr, ip, ts) {
        DebugCs::Fault => {
            k.decide(D::DbgReadFault);
            false
        }
        DebugCs::Die => {
            k.rseq.event.fatal = true;
            false
        }
        DebugCs::Clear => {
            if k.put_user_u64(F, area(k, rseq::RSEQ_CS), 0).is_err() {
                k.decide(D::DbgWriteFault);
                return false;
            }
            true
        }
        DebugCs::Abort(abort_ip) => {
            if k.put_user_u64(F, area(k, rseq::RSEQ_CS), 0).is_err() {
                k.decide(D::DbgWriteFault);
                return false;
            }
            let to = ulong(k, abort_ip);
            k.instruction_pointer_set(to, "rseq abort");
            true
        }
    }
}

/// Where the checks of rseq_debug_update_user_cs() jump to.
enum DebugCs {
    /// `goto efault`: a read faulted.
    Fault,
    /// `goto die`: invalid descriptor, `fatal`.
    Die,
    /// `goto clear`.
    Clear,
    /// Fall through to the abort with this abort IP.
    Abort(u64),
}

/// The reads and checks of rseq_debug_update_user_cs(), in order (all in
/// u64 arithmetic, as the C declares them).
fn rseq_debug_check_cs(k: K, csaddr: u64, ip: u64, ts: u64) -> DebugCs {
    const F: &str = "rseq_debug_update_user_cs";
    let Ok(start_ip) = k.get_user_u64(F, csaddr.wrapping_add(rseq_cs::START_IP)) else {
        return DebugCs::Fault;
    };
    if start_ip >= ts {
        k.decide(D::DbgStartInvalid);
        return DebugCs::Die;
    }
    if ip < start_ip {
        k.decide(D::DbgBelowStartClear);
        return DebugCs::Clear;
    }
    let Ok(offset) = k.get_user_u64(F, csaddr.wrapping_add(rseq_cs::POST_COMMIT_OFFSET)) else {
        return DebugCs::Fault;
    };
    let cs_end = start_ip.wrapping_add(offset);
    if cs_end >= ts || cs_end < start_ip {
        k.decide(D::DbgEndInvalid);
        return DebugCs::Die;
    }
    if ip >= cs_end {
        k.decide(D::DbgPastEndClear);
        return DebugCs::Clear;
    }
    let Ok(abort_ip) = k.get_user_u64(F, csaddr.wrapping_add(rseq_cs::ABORT_IP)) else {
        return DebugCs::Fault;
    };
    if abort_ip >= ts || abort_ip < 4 {
        k.decide(D::DbgAbortInvalid);
        return DebugCs::Die;
    }
    if abort_ip.wrapping_sub(start_ip) < offset {
        k.decide(D::DbgAbortInside);
        return DebugCs::Die;
    }
    // version and flags read as one 64-bit word.
    let Ok(head) = k.get_user_u64(F, csaddr.wrapping_add(rseq_cs::VERSION)) else {
        return DebugCs::Fault;
    };
    if head != 0 {
        k.decide(D::DbgHeadNonzero);
        return DebugCs::Die;
    }
    let Ok(usig) = k.get_user_u32(F, abort_ip.wrapping_sub(4)) else {
        return DebugCs::Fault;
    };
    if usig != k.rseq.sig {
        k.decide(D::DbgSigMismatch);
        return DebugCs::Die;
    }
    // user_irq is only valid with CONFIG_GENERIC_IRQ_ENTRY: a live CS found
    // after a syscall entry is fatal there.
    if gie(k) && !k.rseq.event.user_irq {
        k.decide(D::DbgNotUserIrq);
        return DebugCs::Die;
    }
    k.decide(D::DbgAbort);
    DebugCs::Abort(abort_ip)
}

/// rseq_debug_validate_ids(): debug only, before an ID write.
fn rseq_debug_validate_ids(k: K) -> bool {
    const F: &str = "rseq_debug_validate_ids";
    let cached = k.rseq.ids;
    // On the first exit after registration cpu_id is UNINITIALIZED and the
    // user's node_id is 0.
    let node_id = if cached.cpu_id != abi::RSEQ_CPU_ID_UNINITIALIZED {
        cpu_to_node(cached.cpu_id)
    } else {
        0
    };
    let base = k.rseq.usrptr;
    if !user_access_begin(k, base, SIZEOF_RSEQ) {
        k.decide(D::ValFault);
        return false;
    }
    let Ok(cpu_id) = k.get_user_u32(F, area(k, rseq::CPU_ID_START)) else {
        k.decide(D::ValFault);
        return false;
    };
    if cpu_id != cached.cpu_id {
        k.decide(D::ValCpuStart);
        k.rseq.event.fatal = true;
        return false;
    }
    let Ok(uval) = k.get_user_u32(F, area(k, rseq::CPU_ID)) else {
        k.decide(D::ValFault);
        return false;
    };
    if uval != cpu_id {
        k.decide(D::ValCpu);
        k.rseq.event.fatal = true;
        return false;
    }
    let Ok(uval) = k.get_user_u32(F, area(k, rseq::NODE_ID)) else {
        k.decide(D::ValFault);
        return false;
    };
    if uval != node_id {
        k.decide(D::ValNode);
        k.rseq.event.fatal = true;
        return false;
    }
    let Ok(uval) = k.get_user_u32(F, area(k, rseq::MM_CID)) else {
        k.decide(D::ValFault);
        return false;
    };
    if uval != cached.mm_cid {
        k.decide(D::ValCid);
        k.rseq.event.fatal = true;
        return false;
    }
    k.decide(D::ValOk);
    true
}

/// rseq_update_user_cs(): the minimal checks (abort IP in user space and
/// preceded by the signature), or the debug routine when the key is on.
fn rseq_update_user_cs(k: K, csaddr: u64) -> bool {
    const F: &str = "rseq_update_user_cs";
    let ts = k.task_size();
    let ip = k.instruction_pointer();
    if csaddr >= ts {
        k.decide(D::CsBeyondTaskSize);
        k.rseq.event.fatal = true;
        return false;
    }
    if debug(k) {
        k.decide(D::CsDebug);
        return rseq_debug_update_user_cs(k, csaddr);
    }
    if !user_access_begin(k, csaddr, rseq_cs::SIZE) {
        k.decide(D::CsReadFault);
        return false;
    }
    let reads = [
        rseq_cs::START_IP,
        rseq_cs::POST_COMMIT_OFFSET,
        rseq_cs::ABORT_IP,
    ];
    let mut v = [0u64; 3];
    for (slot, off) in v.iter_mut().zip(reads) {
        match k.get_user_u64(F, csaddr.wrapping_add(off)) {
            Ok(x) => *slot = x,
            Err(_) => {
                k.decide(D::CsReadFault);
                return false;
            }
        }
    }
    let [start_ip, offset, abort_ip] = v;
    // No sanity checks: outside (unsigned, 64-bit arithmetic) means clear.
    if ip.wrapping_sub(start_ip) >= offset {
        k.decide(D::CsOutsideClear);
        if k.put_user_u64(F, area(k, rseq::RSEQ_CS), 0).is_err() {
            k.decide(D::CsWriteFault);
            return false;
        }
        return true;
    }
    if abort_ip >= ts || abort_ip < 4 {
        k.decide(D::CsAbortInvalid);
        k.rseq.event.fatal = true;
        return false;
    }
    let Ok(usig) = k.get_user_u32(F, abort_ip.wrapping_sub(4)) else {
        k.decide(D::CsSigFault);
        return false;
    };
    if usig != k.rseq.sig {
        k.decide(D::CsSigMismatch);
        k.rseq.event.fatal = true;
        return false;
    }
    k.decide(D::CsAbort);
    if k.put_user_u64(F, area(k, rseq::RSEQ_CS), 0).is_err() {
        k.decide(D::CsWriteFault);
        return false;
    }
    let to = ulong(k, abort_ip);
    k.instruction_pointer_set(to, "rseq abort");
    true
}

/// rseq_set_ids_get_csaddr(): write the IDs and, when asked, read rseq_cs
/// in the same user access region. Returns the csaddr (0 when not asked)
/// or None on failure (`fatal` set when the debug validation failed).
fn rseq_set_ids_get_csaddr(k: K, ids: RseqIds, node_id: u32, want_cs: bool) -> Option<u64> {
    const F: &str = "rseq_set_ids_get_csaddr";
    if debug(k) && !rseq_debug_validate_ids(k) {
        return None;
    }
    let base = k.rseq.usrptr;
    if !user_access_begin(k, base, SIZEOF_RSEQ) {
        k.decide(D::SetIdsFault);
        return None;
    }
    let writes = [
        (rseq::CPU_ID_START, ids.cpu_id),
        (rseq::CPU_ID, ids.cpu_id),
        (rseq::NODE_ID, node_id),
        (rseq::MM_CID, ids.mm_cid),
    ];
    for (off, val) in writes {
        if k.put_user_u32(F, area(k, off), val).is_err() {
            k.decide(D::SetIdsFault);
            return None;
        }
    }
    let mut csaddr = 0;
    if want_cs {
        match k.get_user_u64(F, area(k, rseq::RSEQ_CS)) {
            Ok(v) => csaddr = v,
            Err(_) => {
                k.decide(D::SetIdsFault);
                return None;
            }
        }
    }
    // Open coded in the same region: every registration, whatever its
    // length, gets U+28 zeroed while the key is on.
    if rseq_slice_extension_enabled(&k.cfg) {
        if k.put_user_u32(F, area(k, rseq::SLICE_CTRL), 0).is_err() {
            k.decide(D::SetIdsFault);
            return None;
        }
        k.decide(D::SetIdsSliceClear);
    }
    rseq_slice_clear_grant(k);
    k.rseq.ids = ids;
    k.decide(D::SetIdsOk);
    Some(csaddr)
}

/// rseq_update_usr(): new IDs, then the CS if the entry was from an
/// interrupt (GIE, debug off) or always (debug, or no GIE).
fn rseq_update_usr(k: K, ids: RseqIds, node_id: u32) -> bool {
    let Some(csaddr) = rseq_set_ids_get_csaddr(k, ids, node_id, true) else {
        k.decide(D::UsrSetIdsFailed);
        return false;
    };
    if gie(k) && !debug(k) && !k.rseq.event.user_irq {
        k.decide(D::UsrSkipCsNoUserIrq);
        return true;
    }
    if csaddr == 0 {
        k.decide(D::UsrCsaddrZero);
        return true;
    }
    k.decide(D::UsrUpdateCs);
    let cs = ulong(k, csaddr);
    rseq_update_user_cs(k, cs)
}

/// rseq_exit_user_update(): the fast path, with page faults disabled.
fn rseq_exit_user_update(k: K) -> bool {
    k.pagefault_disable();
    let ok = rseq_exit_user_update_inner(k);
    k.pagefault_enable();
    ok
}

fn rseq_exit_user_update_inner(k: K) -> bool {
    const F: &str = "rseq_exit_user_update";
    if !k.rseq.event.ids_changed {
        // IDs unchanged: sched_switch came from user_irq. Read rseq_cs,
        // zero slice_ctrl (key on), but write no IDs.
        k.decide(D::FastIdsUnchanged);
        let base = k.rseq.usrptr;
        if !user_access_begin(k, base, SIZEOF_RSEQ) {
            k.decide(D::FastAFault);
            return false;
        }
        let Ok(csaddr) = k.get_user_u64(F, area(k, rseq::RSEQ_CS)) else {
            k.decide(D::FastAFault);
            return false;
        };
        if rseq_slice_extension_enabled(&k.cfg) {
            if k.put_user_u32(F, area(k, rseq::SLICE_CTRL), 0).is_err() {
                k.decide(D::FastAFault);
                return false;
            }
            k.decide(D::FastASliceClear);
        }
        rseq_slice_clear_grant(k);
        // Debug quirk (spec §4.4): with the key on, csaddr 0 still goes to
        // the CS routine, whose first read at address 8 faults.
        if debug(k) || csaddr != 0 {
            k.decide(D::FastACs);
            let cs = ulong(k, csaddr);
            if !rseq_update_user_cs(k, cs) {
                k.decide(D::FastACsFailed);
                return false;
            }
        }
        return true;
    }
    k.decide(D::FastIdsChanged);
    let ids = RseqIds {
        cpu_id: k.task_cpu(),
        mm_cid: k.task_mm_cid(),
    };
    let node_id = cpu_to_node(ids.cpu_id);
    rseq_update_usr(k, ids, node_id)
}

/// __rseq_exit_to_user_mode_restart(): true means "failed, defer".
fn __rseq_exit_to_user_mode_restart(k: K) -> bool {
    if k.rseq.event.sched_switch {
        if !rseq_exit_user_update(k) {
            k.decide(D::RestartFailed);
            return true;
        }
        k.decide(D::RestartDone);
    } else {
        k.decide(D::RestartNoSwitch);
    }
    k.rseq.event.clear_events();
    false
}

/// rseq_exit_to_user_mode_restart(): GE only (a stub returning false
/// elsewhere). True sends the exit loop round again.
fn rseq_exit_to_user_mode_restart(k: K, ti_work: u32) -> bool {
    if !k.cfg.generic_entry {
        return false;
    }
    // test_tif_rseq(): always true without generic TIF bits.
    let tif_rseq = !k.cfg.generic_tif_bits || ti_work & tif::RSEQ != 0;
    if tif_rseq {
        if __rseq_exit_to_user_mode_restart(k) {
            k.decide(D::RestartDefer);
            k.rseq.event.slowpath = true;
            k.set_tif(tif::NOTIFY_RESUME);
            return true;
        }
        if k.cfg.generic_tif_bits {
            k.clear_tif(tif::RSEQ);
        }
    } else {
        k.decide(D::RestartNoTif);
    }
    rseq_arm_slice_extension_timer(k)
}

/// rseq_arm_slice_extension_timer().
fn rseq_arm_slice_extension_timer(k: K) -> bool {
    if !rseq_slice_extension_enabled(&k.cfg) {
        return false;
    }
    if !k.rseq.slice.granted {
        k.decide(D::ArmNotGranted);
        return false;
    }
    __rseq_arm_slice_extension_timer(k)
}

/// __rseq_arm_slice_extension_timer(). True: the grant expired before the
/// task went out ([`crate::kernel::Event::SliceExpiresInKernel`]); the
/// exit loop runs again for the NEED_RESCHED this sets, and
/// __rseq_grant_slice_extension() revokes the grant there (slice_ctrl 0)
/// before schedule(). No timer is armed and no syscall work set.
fn __rseq_arm_slice_extension_timer(k: K) -> bool {
    if k.slice_grant_expired() {
        k.decide(D::ArmExpired);
        // set_need_resched_current().
        k.set_tif(tif::NEED_RESCHED);
        return true;
    }
    k.decide(D::ArmArmed);
    k.rseq.slice.timer_cpu = Some(k.task_cpu());
    k.set_tif(tif::SYSCALL_SLICE);
    false
}

/// rseq_grant_slice_extension(): instead of schedule() on NEED_RESCHED.
/// True: granted, do not schedule.
fn rseq_grant_slice_extension(k: K, work_pending: bool) -> bool {
    const F: &str = "rseq_grant_slice_extension";
    if !rseq_slice_extension_enabled(&k.cfg) {
        return false;
    }
    let state = k.rseq.slice;
    // state.enabled &= user_irq; nothing to do unless enabled on an
    // interrupt return or already granted.
    let enabled = state.enabled && k.rseq.event.user_irq;
    if !enabled && !state.granted {
        k.decide(D::GrantStateOff);
        return false;
    }
    let base = k.rseq.usrptr;
    if !user_access_begin(k, base, SIZEOF_RSEQ) {
        k.decide(D::GrantFault);
        k.force_sig_segv();
        return false;
    }
    if work_pending || state.granted {
        if k.put_user_u32(F, area(k, rseq::SLICE_CTRL), 0).is_err() {
            k.decide(D::GrantFault);
            k.force_sig_segv();
            return false;
        }
        k.decide(D::GrantRevoke);
        rseq_slice_clear_grant(k);
        return false;
    }
    let Ok(ctrl) = k.get_user_u32(F, area(k, rseq::SLICE_CTRL)) else {
        k.decide(D::GrantFault);
        k.force_sig_segv();
        return false;
    };
    if ctrl & 0xff == 0 {
        k.decide(D::GrantNoRequest);
        return false;
    }
    // request = 0, granted = 1, the reserved half kept.
    let new = (ctrl & 0xffff_0000) | 0x0000_0100;
    if k.put_user_u32(F, area(k, rseq::SLICE_CTRL), new).is_err() {
        k.decide(D::GrantFault);
        k.force_sig_segv();
        return false;
    }
    k.decide(D::GrantGranted);
    k.rseq.slice.granted = true;
    // clear_tsk_need_resched() + clear_preempt_need_resched().
    k.clear_tif(tif::NEED_RESCHED);
    true
}

// ---- kernel/rseq.c ----

/// rseq_handle_cs(): read rseq_cs (faults allowed) and handle the CS.
fn rseq_handle_cs(k: K) -> bool {
    let base = k.rseq.usrptr;
    if !user_access_begin(k, base, SIZEOF_RSEQ) {
        k.decide(D::HcsFault);
        return false;
    }
    let Ok(csaddr) = k.get_user_u64("rseq_handle_cs", area(k, rseq::RSEQ_CS)) else {
        k.decide(D::HcsFault);
        return false;
    };
    if csaddr == 0 {
        k.decide(D::HcsZero);
        return true;
    }
    k.decide(D::HcsUpdate);
    let cs = ulong(k, csaddr);
    rseq_update_user_cs(k, cs)
}

/// rseq_slowpath_update_usr(): IDs unconditionally, CS as rseq_update_usr
/// decides, page faults enabled; any failure kills.
fn rseq_slowpath_update_usr(k: K) {
    // PF_EXITING: unreachable here (a task that dies in the exit loop
    // never gets back to resume_user_mode_work()).
    let event = k.rseq.event.sched_switch;
    // Keep has_rseq and user_irq, clear everything else.
    let ev = &mut k.rseq.event;
    *ev = RseqEvent {
        has_rseq: ev.has_rseq,
        user_irq: ev.user_irq,
        ..RseqEvent::default()
    };
    let ids = RseqIds {
        cpu_id: k.task_cpu(),
        mm_cid: k.task_mm_cid(),
    };
    // No sched_switch: unreachable here (both gates imply it: the GE
    // slowpath flag is only set by a failed fast path, which leaves
    // sched_switch set).
    if !event {
        return;
    }
    let node_id = cpu_to_node(ids.cpu_id);
    if !rseq_update_usr(k, ids, node_id) {
        k.decide(D::SlowFailed);
        k.rseq.event.clear_error();
        k.force_sig_segv();
    } else {
        k.decide(D::SlowOk);
    }
}

/// rseq_signal_deliver() (rseq.h) and __rseq_signal_deliver().
fn rseq_signal_deliver(k: K, sig: u8) {
    let ev = k.rseq.event;
    let run = if gie(k) {
        ev.has_rseq && ev.user_irq
    } else {
        ev.has_rseq
    };
    if !run {
        k.decide(D::SigSkip);
        return;
    }
    k.decide(D::SigRun);
    // IDs are not updated here: only the CS of the interrupted context.
    if !rseq_handle_cs(k) {
        k.decide(D::SigFailed);
        k.rseq.event.clear_error();
        k.force_sigsegv(sig);
    } else {
        k.decide(D::SigOk);
    }
}

/// __rseq_debug_syscall_return(): a syscall inside a CS (GE: the debug
/// key at every syscall exit; elsewhere rseq_syscall() with
/// CONFIG_DEBUG_RSEQ).
fn __rseq_debug_syscall_return(k: K) {
    if !k.rseq.event.has_rseq {
        k.decide(D::DsrNotRegistered);
        return;
    }
    let addr = area(k, rseq::RSEQ_CS);
    let Ok(csaddr) = k.get_user_u64("__rseq_debug_syscall_return", addr) else {
        k.decide(D::DsrFault);
        k.force_sig_segv();
        return;
    };
    if csaddr == 0 {
        k.decide(D::DsrZero);
        return;
    }
    // Compared as u64 against TASK_SIZE, before any truncation.
    if csaddr >= k.task_size() {
        k.decide(D::DsrBeyond);
        k.force_sig_segv();
        return;
    }
    let cs = ulong(k, csaddr);
    if rseq_debug_update_user_cs(k, cs) {
        k.decide(D::DsrOk);
        return;
    }
    k.decide(D::DsrKill);
    k.force_sig_segv();
}

/// rseq_reset_ids(): unregistration writes UNINITIALIZED/0 through the ID
/// writer (debug validation included); failure kills and returns EFAULT.
fn rseq_reset_ids(k: K) -> bool {
    let ids = RseqIds {
        cpu_id: abi::RSEQ_CPU_ID_UNINITIALIZED,
        mm_cid: 0,
    };
    // rseq_set_ids() = rseq_set_ids_get_csaddr(t, ids, 0, NULL).
    if rseq_set_ids_get_csaddr(k, ids, 0, false).is_some() {
        return true;
    }
    k.decide(D::ResetIdsFailed);
    k.force_sig_segv();
    false
}

/// SYSCALL_DEFINE4(rseq).
fn sys_rseq(k: K, addr: u64, rseq_len: u32, flags: u32, sig: u32) -> i64 {
    const F: &str = "sys_rseq";
    // The pointer argument is an unsigned long register.
    let addr = ulong(k, addr);
    if flags & abi::RSEQ_FLAG_UNREGISTER != 0 {
        if flags & !abi::RSEQ_FLAG_UNREGISTER != 0 {
            k.decide(D::UnregBadFlags);
            return -errno::EINVAL;
        }
        if k.rseq.usrptr != addr || k.rseq.usrptr == 0 {
            k.decide(D::UnregNotRegistered);
            return -errno::EINVAL;
        }
        if rseq_len != k.rseq.len {
            k.decide(D::UnregLenMismatch);
            return -errno::EINVAL;
        }
        if k.rseq.sig != sig {
            k.decide(D::UnregSigMismatch);
            return -errno::EPERM;
        }
        if !rseq_reset_ids(k) {
            k.decide(D::UnregResetIdsFailed);
            return -errno::EFAULT;
        }
        k.decide(D::UnregOk);
        rseq_reset(k);
        return 0;
    }
    if flags & !abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON != 0 {
        k.decide(D::RegBadFlags);
        return -errno::EINVAL;
    }
    if k.rseq.usrptr != 0 {
        if k.rseq.usrptr != addr || rseq_len != k.rseq.len {
            k.decide(D::ReregAddrOrLen);
            return -errno::EINVAL;
        }
        if k.rseq.sig != sig {
            k.decide(D::ReregSig);
            return -errno::EPERM;
        }
        k.decide(D::ReregBusy);
        return -errno::EBUSY;
    }
    // Alignment: 32 for the original size, rseq_alloc_align() (64) and at
    // least the feature size (33) otherwise. One `||` chain in C.
    if rseq_len < ORIG_RSEQ_SIZE {
        k.decide(D::LenBelowOrig);
        return -errno::EINVAL;
    }
    if rseq_len == ORIG_RSEQ_SIZE && addr % u64::from(ORIG_RSEQ_SIZE) != 0 {
        k.decide(D::OrigMisaligned);
        return -errno::EINVAL;
    }
    if rseq_len != ORIG_RSEQ_SIZE {
        if addr % ALLOC_ALIGN != 0 {
            k.decide(D::ExtMisaligned);
            return -errno::EINVAL;
        }
        // rseq_len < offsetof(struct rseq, end): unreachable here, as 33
        // is the first length above ORIG_RSEQ_SIZE.
        if rseq_len < FEATURE_SIZE {
            return -errno::EINVAL;
        }
    }
    if !k.access_ok(addr, u64::from(rseq_len)) {
        k.decide(D::AccessNotOk);
        return -errno::EFAULT;
    }
    let mut rseqfl = 0u32;
    if slice_configured(&k.cfg) {
        // AVAILABLE even when the key is off on the command line (fixed
        // by 010b7723c0a3 in v7.1).
        k.decide(D::SliceAvailable);
        rseqfl |= abi::RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE;
        if rseq_slice_extension_enabled(&k.cfg) && flags & abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON != 0
        {
            k.decide(D::SliceDefaultOn);
            rseqfl |= abi::RSEQ_CS_FLAG_SLICE_EXT_ENABLED;
        }
    }
    if !user_access_begin(k, addr, SIZEOF_RSEQ) {
        k.decide(D::RegWriteFault);
        return -errno::EFAULT;
    }
    // One write region; slice_ctrl is zeroed whatever the configuration
    // and whatever the length (a 32-byte area's bytes 28..31).
    let at = |off: u64| addr.wrapping_add(off);
    let ok = k.put_user_u64(F, at(rseq::RSEQ_CS), 0).is_ok()
        && k.put_user_u32(F, at(rseq::FLAGS), rseqfl).is_ok()
        && k.put_user_u32(F, at(rseq::CPU_ID_START), abi::RSEQ_CPU_ID_UNINITIALIZED)
            .is_ok()
        && k.put_user_u32(F, at(rseq::CPU_ID), abi::RSEQ_CPU_ID_UNINITIALIZED)
            .is_ok()
        && k.put_user_u32(F, at(rseq::NODE_ID), 0).is_ok()
        && k.put_user_u32(F, at(rseq::MM_CID), 0).is_ok()
        && k.put_user_u32(F, at(rseq::SLICE_CTRL), 0).is_ok();
    if !ok {
        k.decide(D::RegWriteFault);
        return -errno::EFAULT;
    }
    k.rseq.usrptr = addr;
    k.rseq.len = rseq_len;
    k.rseq.sig = sig;
    if slice_configured(&k.cfg) {
        k.rseq.slice.enabled = rseqfl & abi::RSEQ_CS_FLAG_SLICE_EXT_ENABLED != 0;
    }
    k.rseq.event.has_rseq = true;
    k.decide(D::RegOk);
    rseq_force_update(k);
    0
}

/// rseq_slice_expired(): the per-CPU hrtimer callback.
fn rseq_slice_expired(k: K) {
    // st->cookie == current: this task armed this CPU's timer.
    if k.rseq.slice.timer_cpu != Some(k.task_cpu()) {
        k.decide(D::TimerNotOurs);
        return;
    }
    // HRTIMER_NORESTART: it fires once.
    k.rseq.slice.timer_cpu = None;
    if !k.rseq.slice.granted {
        k.decide(D::TimerNotGranted);
        return;
    }
    k.decide(D::TimerResched);
    k.set_tif(tif::NEED_RESCHED);
}

/// rseq_cancel_slice_extension_timer().
fn rseq_cancel_slice_extension_timer(k: K) {
    if k.rseq.slice.timer_cpu == Some(k.task_cpu()) {
        k.decide(D::EnterCancelTimer);
        k.rseq.slice.timer_cpu = None;
    }
}

/// rseq_slice_validate_ctrl() (debug).
fn rseq_slice_validate_ctrl(k: K, expected: u32) {
    let r = k.get_user_u32("rseq_slice_validate_ctrl", area(k, rseq::SLICE_CTRL));
    if r != Ok(expected) {
        k.decide(D::EnterValidateBad);
        k.force_sig_segv();
    } else {
        k.decide(D::EnterValidateOk);
    }
}

/// rseq_syscall_enter_work(): any syscall while a grant is active ends it.
fn rseq_syscall_enter_work(k: K, is_slice_yield: bool) {
    let granted = k.rseq.slice.granted;
    // ctrl = { .granted = state.granted }: byte 29.
    let expected = u32::from(granted) << 8;
    k.clear_tif(tif::SYSCALL_SLICE);
    if debug(k) {
        rseq_slice_validate_ctrl(k, expected);
    }
    if !granted {
        k.decide(D::EnterNotGranted);
        return;
    }
    rseq_cancel_slice_extension_timer(k);
    // "Already rescheduled before arriving here": unreachable here (the
    // exit path always clears sched_switch before user mode, and nothing
    // runs between the syscall instruction and this work).
    if !k.rseq.event.sched_switch {
        k.set_tif(tif::NEED_RESCHED);
        if is_slice_yield {
            k.decide(D::EnterYield);
            k.rseq.slice.yielded = true;
        } else {
            k.decide(D::EnterAbort);
        }
    }
    // Leaving the preempt guard (FULL/LAZY) or cond_resched()
    // (NONE/VOLUNTARY) schedules when a reschedule is pending.
    if k.test_tif(tif::NEED_RESCHED) {
        k.decide(D::EnterCondResched);
        k.schedule();
    }
    k.rseq.slice.granted = false;
    if k.put_user_u32("rseq_syscall_enter_work", area(k, rseq::SLICE_CTRL), 0)
        .is_err()
    {
        k.decide(D::EnterClearFault);
        k.force_sig_segv();
    } else {
        k.decide(D::EnterCleared);
    }
}

/// rseq_slice_extension_prctl() (kernel/sys.c passes arg2/arg3; arg4/arg5
/// are not part of Syscall::PrctlSlice and count as 0).
fn rseq_slice_extension_prctl(k: K, op: u32, arg: u32) -> i64 {
    const F: &str = "rseq_slice_extension_prctl";
    if !slice_configured(&k.cfg) {
        k.decide(D::PrctlNotConfigured);
        return -errno::ENOTSUPP;
    }
    match op {
        abi::PR_RSEQ_SLICE_EXTENSION_GET => {
            if arg != 0 {
                k.decide(D::PrctlGetBadArg);
                return -errno::EINVAL;
            }
            k.decide(D::PrctlGet);
            i64::from(k.rseq.slice.enabled)
        }
        abi::PR_RSEQ_SLICE_EXTENSION_SET => {
            let enable = arg & abi::PR_RSEQ_SLICE_EXT_ENABLE != 0;
            if arg & !abi::PR_RSEQ_SLICE_EXT_ENABLE != 0 {
                k.decide(D::PrctlSetBadArg);
                return -errno::EINVAL;
            }
            if !rseq_slice_extension_enabled(&k.cfg) {
                k.decide(D::PrctlSetKeyOff);
                return -errno::ENOTSUPP;
            }
            if k.rseq.usrptr == 0 {
                k.decide(D::PrctlSetNotRegistered);
                return -errno::ENXIO;
            }
            if enable == k.rseq.slice.enabled {
                k.decide(D::PrctlSetNoChange);
                return 0;
            }
            let Ok(mut rflags) = k.get_user_u32(F, area(k, rseq::FLAGS)) else {
                k.decide(D::PrctlSetReadFault);
                k.force_sig_segv();
                return -errno::EFAULT;
            };
            let mut valid = abi::RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE;
            if k.rseq.slice.enabled {
                valid |= abi::RSEQ_CS_FLAG_SLICE_EXT_ENABLED;
            }
            if rflags & valid != valid {
                k.decide(D::PrctlSetInconsistent);
                k.force_sig_segv();
                return -errno::EFAULT;
            }
            rflags &= !abi::RSEQ_CS_FLAG_SLICE_EXT_ENABLED;
            rflags |= abi::RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE;
            if enable {
                rflags |= abi::RSEQ_CS_FLAG_SLICE_EXT_ENABLED;
            }
            if k.put_user_u32(F, area(k, rseq::FLAGS), rflags).is_err() {
                k.decide(D::PrctlSetWriteFault);
                k.force_sig_segv();
                return -errno::EFAULT;
            }
            k.decide(D::PrctlSetOk);
            k.rseq.slice.enabled = enable;
            0
        }
        _ => {
            k.decide(D::PrctlBadOp);
            -errno::EINVAL
        }
    }
}

/// sys_rseq_slice_yield(); sys_ni_syscall without the extension.
fn sys_rseq_slice_yield(k: K) -> i64 {
    if !slice_configured(&k.cfg) {
        k.decide(D::YieldNi);
        return -errno::ENOSYS;
    }
    let yielded = k.rseq.slice.yielded;
    k.rseq.slice.yielded = false;
    if yielded {
        k.decide(D::YieldYielded);
        1
    } else {
        k.decide(D::YieldNot);
        0
    }
}

// ---- the exit to user mode (kernel/entry/common.c, arch code) ----

/// resume_user_mode_work(): clears TIF_NOTIFY_RESUME, then the rseq slow
/// path (task work and the rest are not modelled).
fn resume_user_mode_work(k: K, regs: bool) {
    k.clear_tif(tif::NOTIFY_RESUME);
    rseq_handle_slowpath(k, regs);
}

/// rseq_virt_userspace_exit(), when KVM_RUN's vcpu_run returns: the
/// pre-guest work cleared TIF_NOTIFY_RESUME without running rseq, so where
/// that bit is also rseq's (no generic TIF bits) it is raised again for a
/// pending switch event. With generic TIF bits, TIF_RSEQ is not guest-entry
/// work and survives the loop.
fn rseq_virt_userspace_exit(k: K) {
    if !k.cfg.generic_tif_bits && k.rseq.event.sched_switch {
        rseq_raise_notify_resume(k);
    }
}

/// exit_to_user_mode_loop() (generic entry; arm32 has its own loop,
/// [`do_work_pending`]). Bounded by EXIT_LOOP_BOUND iterations of either
/// loop.
fn exit_to_user_mode_loop(k: K, mut ti_work: u32) {
    let mut budget = EXIT_LOOP_BOUND;
    loop {
        while ti_work & exit_work_loop(&k.cfg) != 0 {
            if budget == 0 {
                // No decision point: the real loop has no bound, and this
                // one is only reached by a genuine livelock (liveness oracle).
                k.task.livelock = true;
                return;
            }
            budget -= 1;
            if ti_work & tif::NEED_RESCHED != 0 {
                let deny = ti_work & tif_slice_ext_deny(&k.cfg) != 0;
                if !rseq_grant_slice_extension(k, deny) {
                    k.decide(D::LoopSchedule);
                    k.schedule();
                }
            }
            if ti_work & tif::SIGPENDING != 0 {
                match deliver_signal(k) {
                    None => return,
                    Some(true) => budget += 1,
                    Some(false) => {}
                }
            }
            if ti_work & tif::NOTIFY_RESUME != 0 {
                resume_user_mode_work(k, true);
            }
            ti_work = k.task.tif;
        }
        if !rseq_exit_to_user_mode_restart(k, ti_work) {
            return;
        }
        if budget == 0 {
            k.task.livelock = true;
            return;
        }
        budget -= 1;
        ti_work = k.task.tif;
    }
}

/// One signal delivery of a work loop (arch_do_signal_or_restart()): None
/// if it ended the task, else whether it delivered a queued signal.
/// Delivering one is progress (there are finitely many), so only passes
/// without progress count against the loop's bound.
fn deliver_signal(k: K) -> Option<bool> {
    let queued = queued_signals(k);
    k.arch_do_signal_or_restart();
    if k.task_exiting() {
        return None;
    }
    Some(queued_signals(k) < queued)
}

/// Signals queued from outside (not forced by the kernel in this loop).
fn queued_signals(k: &Kctx<'_, impl KernelVersion>) -> usize {
    k.task.pending.iter().filter(|p| !p.forced).count()
}

/// arch/arm/kernel/entry-common.S ret_to_user / ret_fast_syscall: arm has
/// no generic entry code; do_work_pending() runs if any bit of arm's
/// _TIF_WORK_MASK is set. arm has no generic TIF bits, so TIF_RSEQ is
/// TIF_NOTIFY_RESUME.
fn arm_ret_to_user(k: K) {
    let work_mask = tif::NEED_RESCHED | tif::SIGPENDING | tif::NOTIFY_RESUME;
    let flags = k.task.tif;
    if flags & work_mask == 0 {
        k.decide(D::ArmNoWork);
        return;
    }
    do_work_pending(k, flags, work_mask);
}

/// arch/arm/kernel/signal.c do_work_pending(): one kind of work a pass —
/// reschedule, else a signal, else notify-resume — then the flags are read
/// again. Unlike the generic loop, a pass that delivers a signal does not
/// also run the rseq slow path, so a signal whose default action kills the
/// task can end it before its IDs are written (v6.19 has the same loop).
/// Bounded as the generic loop is.
fn do_work_pending(k: K, mut flags: u32, work_mask: u32) {
    let mut budget = EXIT_LOOP_BOUND;
    while flags & work_mask != 0 {
        if budget == 0 {
            // No decision point, as in exit_to_user_mode_loop().
            k.task.livelock = true;
            return;
        }
        budget -= 1;
        if flags & tif::NEED_RESCHED != 0 {
            k.decide(D::ArmWorkSchedule);
            k.schedule();
        } else if flags & tif::SIGPENDING != 0 {
            k.decide(D::ArmWorkSignal);
            match deliver_signal(k) {
                None => return,
                Some(true) => budget += 1,
                Some(false) => {}
            }
        } else {
            k.decide(D::ArmWorkNotify);
            resume_user_mode_work(k, true);
        }
        flags = k.task.tif;
    }
}

/// __exit_to_user_mode_prepare(): the loop only if there is work.
fn exit_to_user_mode_prepare(k: K) {
    let ti_work = k.task.tif;
    if ti_work & exit_work(&k.cfg) != 0 {
        exit_to_user_mode_loop(k, ti_work);
    }
}

/// The work loop on the way out: arm (no generic IRQ entry) runs its own
/// ret_to_user / do_work_pending(); the others the generic
/// __exit_to_user_mode_prepare().
fn arch_exit_work(k: K) {
    if k.cfg.generic_irq_entry {
        exit_to_user_mode_prepare(k);
    } else {
        arm_ret_to_user(k);
    }
}

/// arm64 in v7.0 uses neither the syscall nor the irqentry exit helpers:
/// exit_to_user_mode_prepare_legacy() clears the events on every exit.
fn is_arm64_legacy_exit(cfg: &Config) -> bool {
    cfg.generic_irq_entry && !cfg.generic_entry
}

impl KernelVersion for V7_0 {
    /// resume_user_mode_work(NULL) from KVM's pre-guest work loop.
    fn resume_user_mode_work_for_guest(k: &mut Kctx<'_, Self>) {
        resume_user_mode_work(k, false);
    }

    fn rseq_virt_userspace_exit(k: &mut Kctx<'_, Self>) {
        rseq_virt_userspace_exit(k);
    }

    const NAME: &'static str = "v7.0";
    const DESCRIPTION: &'static str =
        "v7.0: the v6.19 rework plus time-slice extensions (slice_ctrl at U+28, feature size 33)";
    type Decision = D;
    type TaskState = RseqData;
    const EXIT_LOOP_HANDLES_NEED_RESCHED: bool = true;

    fn registration(t: &RseqData) -> Option<Registration> {
        (t.event.has_rseq).then_some(Registration {
            addr: t.usrptr,
            len: t.len,
            sig: t.sig,
        })
    }

    fn configs() -> Vec<Config> {
        let mut v = Vec::new();
        for debug in [false, true] {
            // RSEQ_SLICE_EXTENSION depends on GENERIC_ENTRY and
            // HAVE_GENERIC_TIF_BITS (and HIGH_RES_TIMERS): x86_64 (with 4- or
            // 5-level paging) and riscv64 can build it; arm64 and arm32
            // cannot.
            for arch in [Arch::X86_64, Arch::X86_64La57, Arch::Riscv64] {
                let native = Config::native(arch, debug);
                v.push(native.with_slice(true, true));
                v.push(native.with_slice(true, false));
                v.push(native.with_slice(false, false));
            }
            v.push(Config::native(Arch::Arm64, debug));
            v.push(Config::native(Arch::Arm32, debug));
        }
        v.extend(Config::debug_key_against_config());
        v
    }

    fn sys_rseq(k: &mut Kctx<'_, Self>, addr: u64, len: u32, flags: u32, sig: u32) -> i64 {
        sys_rseq(k, addr, len, flags, sig)
    }

    /// Syscall entry work: SYSCALL_RSEQ_SLICE armed by a grant.
    fn syscall_entry(k: &mut Kctx<'_, Self>) {
        if k.test_tif(tif::SYSCALL_SLICE) {
            let y = matches!(k.task.in_syscall, Some(Syscall::SliceYield));
            rseq_syscall_enter_work(k, y);
        }
    }

    /// irqentry_enter_from_user_mode() -> rseq_note_user_irq_entry() on GE
    /// architectures; arm64's own arm64_enter_from_user_mode() forgot the
    /// call in v6.19/v7.0 (fixed by 411c1cf43039); no GIE: a stub.
    fn irq_entry(k: &mut Kctx<'_, Self>) {
        if k.cfg.generic_entry {
            k.decide(D::IrqNoted);
            k.rseq.event.user_irq = true;
        } else if k.cfg.generic_irq_entry {
            k.decide(D::IrqArm64NotNoted);
        }
    }

    /// __set_task_cpu() -> rseq_sched_set_ids_changed().
    fn set_task_cpu(k: &mut Kctx<'_, Self>) {
        k.rseq.event.ids_changed = true;
    }

    /// mm_cid_schedin() -> rseq_sched_set_ids_changed() when the CID changes.
    fn set_task_mm_cid(k: &mut Kctx<'_, Self>, old: u32) {
        if k.task.mm_cid != old {
            k.decide(D::CidChanged);
            k.rseq.event.ids_changed = true;
        }
    }

    fn switch_in(k: &mut Kctx<'_, Self>) {
        rseq_sched_switch_event(k);
    }

    /// ipi_rseq() (kernel/sched/membarrier.c).
    fn membarrier_ipi(k: &mut Kctx<'_, Self>) {
        rseq_sched_switch_event(k);
    }

    fn signal_deliver(k: &mut Kctx<'_, Self>, signo: u8) {
        rseq_signal_deliver(k, signo);
    }

    /// rseq_fork(): CLONE_VM resets; otherwise the child copies everything
    /// (the per-CPU timer cookie names the parent, so not the child's).
    fn fork(parent: &RseqData, clone_vm: bool) -> RseqData {
        if clone_vm {
            RseqData::default()
        } else {
            let mut c = parent.clone();
            c.slice.timer_cpu = None;
            c
        }
    }

    /// rseq_execve() on success; rseq_force_update() after a failed exec.
    fn execve(k: &mut Kctx<'_, Self>, ok: bool) {
        if ok {
            k.decide(D::ExecveReset);
            rseq_reset(k);
        } else {
            rseq_force_update(k);
        }
    }

    fn syscall_exit_to_user_mode(k: &mut Kctx<'_, Self>) {
        // syscall_exit_to_user_mode_work() -> rseq_debug_syscall_return()
        // on GE; rseq_syscall() (CONFIG_DEBUG_RSEQ) on arm64 and arm32.
        if k.cfg.syscall_return_check() {
            __rseq_debug_syscall_return(k);
        }
        arch_exit_work(k);
        if k.task_exiting() {
            return;
        }
        // rseq_syscall_exit_to_user_mode(): clears events only with
        // LOCKDEP (not modelled). arm64: the legacy exit clears them.
        if is_arm64_legacy_exit(&k.cfg) {
            k.decide(D::ExitLegacyClear);
            k.rseq.event.clear_events();
        }
    }

    fn irqentry_exit_to_user_mode(k: &mut Kctx<'_, Self>) {
        // arm: ret_from_exception -> ret_to_user -> do_rseq_syscall() ->
        // rseq_syscall() (CONFIG_DEBUG_RSEQ); an interrupt's
        // ret_to_user_from_irq skips it.
        if k.cfg.syscall_return_check() && k.arm_ret_from_exception() {
            __rseq_debug_syscall_return(k);
        }
        arch_exit_work(k);
        if k.task_exiting() {
            return;
        }
        if is_arm64_legacy_exit(&k.cfg) {
            k.decide(D::ExitLegacyClear);
            k.rseq.event.clear_events();
        } else if k.cfg.generic_entry {
            // rseq_irqentry_exit_to_user_mode(): user_irq must not survive.
            k.decide(D::IrqExitClear);
            k.rseq.event.clear_events();
        }
    }

    fn prctl_slice(k: &mut Kctx<'_, Self>, op: u32, arg: u32) -> i64 {
        rseq_slice_extension_prctl(k, op, arg)
    }

    fn slice_yield(k: &mut Kctx<'_, Self>) -> i64 {
        sys_rseq_slice_yield(k)
    }

    fn slice_timer(k: &mut Kctx<'_, Self>) {
        if slice_configured(&k.cfg) {
            rseq_slice_expired(k);
        }
    }
}
