//! v6.18: the legacy rseq implementation, as it was before the v6.19 rework.
//!
//! Read from (spec §0, §3):
//! * `kernel/rseq.c` @ torvalds 1260ed77798502de9c98020040d2995008de10cc, plus
//!   "rseq: Protect event mask against membarrier IPI" (v6.17, which only
//!   changes the guard around the event-mask read-and-clear to irq-off; the
//!   model's events are atomic, so it changes nothing here). The base of the
//!   v6.19 series ("[patch 01/11] rseq: Avoid pointless evaluation", Aug 2025)
//!   shows the same functions, so this is the v6.17/v6.18 file.
//! * `include/linux/rseq.h` (legacy: `rseq_set_notify_resume`,
//!   `rseq_handle_notify_resume`, `rseq_signal_deliver`, `rseq_preempt`,
//!   `rseq_migrate`, `rseq_fork`, `rseq_execve`, the event-mask bits).
//! * The exit loops: generic `exit_to_user_mode_loop` (kernel/entry/common.c,
//!   x86), arm64 `do_notify_resume` (arch/arm64/kernel/signal.c, same order),
//!   arm32 `do_work_pending` (arch/arm/kernel/signal.c: signal *or* notify-resume
//!   per iteration).
//!
//! Every function that mirrors a kernel function carries its name, makes its
//! checks in the kernel's order, and makes every user access, in order,
//! through the traced [`Kctx`] primitives. Errors are positive errno values.

use crate::abi::{self, errno, rseq as field, rseq_cs as cs_field};
use crate::config::Config;
use crate::decision_points;
use crate::kernel::{cpu_to_node, tif, Fate, Kctx, KernelVersion, Registration, EXIT_LOOP_BOUND};

decision_points! {
    /// Every branch of the legacy rseq code that the model takes, named
    /// `kernel_function/condition`.
    pub enum Decision {
        // include/linux/rseq.h
        SetNotifyResumeRegistered = "rseq_set_notify_resume/registered",
        SetNotifyResumeUnregistered = "rseq_set_notify_resume/not_registered",
        HandleNotifyResumeRegistered = "rseq_handle_notify_resume/registered",
        HandleNotifyResumeUnregistered = "rseq_handle_notify_resume/not_registered",
        // __rseq_handle_notify_resume
        NotifyPfExiting = "__rseq_handle_notify_resume/pf_exiting",
        NotifyRegsNull = "__rseq_handle_notify_resume/regs_null",
        NotifyFixupError = "__rseq_handle_notify_resume/fixup_error",
        NotifyUpdateError = "__rseq_handle_notify_resume/update_error",
        NotifyErrorKsig = "__rseq_handle_notify_resume/error_sig_from_ksig",
        NotifyErrorNoKsig = "__rseq_handle_notify_resume/error_sig_zero",
        // rseq_ip_fixup
        FixupGetCsError = "rseq_ip_fixup/get_rseq_cs_error",
        FixupIpOutside = "rseq_ip_fixup/ip_outside_cs",
        FixupNeedRestartError = "rseq_ip_fixup/need_restart_error",
        FixupNoRestart = "rseq_ip_fixup/no_restart",
        FixupClearError = "rseq_ip_fixup/clear_rseq_cs_error",
        FixupAbort = "rseq_ip_fixup/abort",
        // rseq_get_rseq_cs_ptr_val / rseq_get_rseq_cs
        PtrValFault = "rseq_get_rseq_cs_ptr_val/fault",
        GetCsPtrNull = "rseq_get_rseq_cs/ptr_null",
        GetCsPtrGeTaskSize = "rseq_get_rseq_cs/ptr_ge_task_size",
        GetCsCopyFault = "rseq_get_rseq_cs/copy_fault",
        GetCsStartGeTaskSize = "rseq_get_rseq_cs/start_ip_ge_task_size",
        GetCsEndGeTaskSize = "rseq_get_rseq_cs/end_ge_task_size",
        GetCsAbortGeTaskSize = "rseq_get_rseq_cs/abort_ip_ge_task_size",
        GetCsVersion = "rseq_get_rseq_cs/version_nonzero",
        GetCsOverflow = "rseq_get_rseq_cs/end_overflow",
        GetCsAbortInCs = "rseq_get_rseq_cs/abort_ip_in_cs",
        GetCsSigFault = "rseq_get_rseq_cs/sig_fault",
        GetCsSigMismatch = "rseq_get_rseq_cs/sig_mismatch",
        GetCsValid = "rseq_get_rseq_cs/valid",
        // rseq_warn_flags / rseq_need_restart
        WarnDeprecated = "rseq_warn_flags/deprecated_bits",
        WarnUnknown = "rseq_warn_flags/unknown_bits",
        NeedRestartCsFlags = "rseq_need_restart/cs_flags_nonzero",
        NeedRestartThreadFlags = "rseq_need_restart/thread_flags_nonzero",
        NeedRestartEmpty = "rseq_need_restart/event_mask_empty",
        NeedRestartSet = "rseq_need_restart/event_mask_set",
        // clear_rseq_cs
        ClearFault = "clear_rseq_cs/fault",
        // rseq_update_cpu_node_id
        UpdateValidateError = "rseq_update_cpu_node_id/validate_error",
        UpdateWriteFault = "rseq_update_cpu_node_id/write_fault",
        UpdateDone = "rseq_update_cpu_node_id/updated",
        // rseq_validate_ro_fields (CONFIG_DEBUG_RSEQ)
        RoReadFault = "rseq_validate_ro_fields/read_fault",
        RoMismatch = "rseq_validate_ro_fields/mismatch_warn",
        RoMatch = "rseq_validate_ro_fields/match",
        // rseq_reset_rseq_cpu_node_id
        ResetValidateError = "rseq_reset_rseq_cpu_node_id/validate_error",
        ResetWriteFault = "rseq_reset_rseq_cpu_node_id/write_fault",
        ResetDone = "rseq_reset_rseq_cpu_node_id/reset",
        // rseq_syscall (CONFIG_DEBUG_RSEQ)
        SyscallUnregistered = "rseq_syscall/not_registered",
        SyscallInvalidCs = "rseq_syscall/invalid_cs_force_sig",
        SyscallIpInCs = "rseq_syscall/ip_in_cs_force_sig",
        SyscallOk = "rseq_syscall/ok",
        // sys_rseq, unregister path
        UnregBadFlags = "sys_rseq/unregister_bad_flags_einval",
        UnregWrongRseq = "sys_rseq/unregister_wrong_rseq_einval",
        UnregLenMismatch = "sys_rseq/unregister_len_mismatch_einval",
        UnregSigMismatch = "sys_rseq/unregister_sig_mismatch_eperm",
        UnregResetFault = "sys_rseq/unregister_reset_efault",
        UnregDone = "sys_rseq/unregistered",
        // sys_rseq, register path
        RegBadFlags = "sys_rseq/register_bad_flags_einval",
        RegDiffers = "sys_rseq/registered_rseq_or_len_differ_einval",
        RegSigMismatch = "sys_rseq/registered_sig_mismatch_eperm",
        RegBusy = "sys_rseq/registered_ebusy",
        RegLenTooSmall = "sys_rseq/len_lt_orig_size_einval",
        RegOrigMisaligned = "sys_rseq/orig_size_misaligned_einval",
        RegExtMisaligned = "sys_rseq/ext_size_misaligned_einval",
        RegAccessNotOk = "sys_rseq/access_not_ok_efault",
        RegCsReadFault = "sys_rseq/rseq_cs_read_efault",
        RegCsNonzero = "sys_rseq/rseq_cs_nonzero_clear",
        RegCsClearFault = "sys_rseq/rseq_cs_clear_efault",
        RegDone = "sys_rseq/registered",
        // fs/exec.c bprm_execve
        ExecOk = "bprm_execve/ok_rseq_execve",
        ExecFailed = "bprm_execve/failed_rseq_set_notify_resume",
        // exit loops
        LoopSigpending = "exit_to_user_mode_loop/sigpending",
        LoopNotifyResume = "exit_to_user_mode_loop/notify_resume",
        ArmSigpending = "do_work_pending/sigpending",
        ArmNotifyResume = "do_work_pending/notify_resume",
    }
}

/// `enum rseq_event_mask` (include/linux/rseq.h): the bits alias the
/// deprecated `RSEQ_CS_FLAG_NO_RESTART_ON_*` bits.
pub const RSEQ_EVENT_PREEMPT: u32 = abi::RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT;
pub const RSEQ_EVENT_SIGNAL: u32 = abi::RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL;
pub const RSEQ_EVENT_MIGRATE: u32 = abi::RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE;

/// `ORIG_RSEQ_SIZE` (kernel/rseq.c).
const ORIG_RSEQ_SIZE: u32 = abi::ORIG_RSEQ_SIZE;
/// `__alignof__(struct rseq)`.
const RSEQ_ALIGN: u64 = field::ALIGN;
/// `offsetof(struct rseq, end)` in 6.3 .. 6.19.
const RSEQ_FEATURE_SIZE: u32 = abi::RSEQ_FEATURE_SIZE_V6_3;

/// The CONFIG_DEBUG_RSEQ kernel copy of the four read-only fields
/// (`task_struct::rseq_fields`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RseqFields {
    pub cpu_id_start: u32,
    pub cpu_id: u32,
    pub node_id: u32,
    pub mm_cid: u32,
}

/// The legacy per-task rseq state (task_struct fields).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskRseq {
    /// `t->rseq`: the registered user address; 0 is NULL (not registered).
    pub rseq: u64,
    /// `t->rseq_len`.
    pub rseq_len: u32,
    /// `t->rseq_sig`.
    pub rseq_sig: u32,
    /// `t->rseq_event_mask`: PREEMPT / SIGNAL / MIGRATE bits. Set by the
    /// producers whether or not rseq is registered; cleared only by
    /// [`rseq_need_restart`], [`rseq_fork`] with CLONE_VM and [`rseq_execve`].
    pub rseq_event_mask: u32,
    /// `t->rseq_fields` (only meaningful with CONFIG_DEBUG_RSEQ).
    pub rseq_fields: RseqFields,
}

impl TaskRseq {
    pub fn registered(&self) -> bool {
        self.rseq != 0
    }
}

/// `struct rseq_cs` as the kernel copies it from user space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RseqCs {
    pub version: u32,
    pub flags: u32,
    pub start_ip: u64,
    pub post_commit_offset: u64,
    pub abort_ip: u64,
}

impl RseqCs {
    fn from_bytes(b: &[u8; 32]) -> RseqCs {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a)
        };
        RseqCs {
            version: u32_at(cs_field::VERSION as usize),
            flags: u32_at(cs_field::FLAGS as usize),
            start_ip: u64_at(cs_field::START_IP as usize),
            post_commit_offset: u64_at(cs_field::POST_COMMIT_OFFSET as usize),
            abort_ip: u64_at(cs_field::ABORT_IP as usize),
        }
    }
}

/// A kernel result: `Err` holds the positive errno.
pub type KResult<T> = Result<T, i64>;

/// The legacy kernel (v6.18 and before).
pub struct V6_18;

/// `CONFIG_64BIT`: decides `get_user` vs `copy_from_user` / `clear_user` for
/// the 64-bit `rseq_cs` field, and the width of syscall arguments.
fn config_64bit(k: &Kctx<'_, V6_18>) -> bool {
    k.cfg.arch.word_bits() == 64
}

// ---------------------------------------------------------------------------
// Event producers (include/linux/rseq.h and their call sites)
// ---------------------------------------------------------------------------

/// `rseq_set_notify_resume()`: raise TIF_NOTIFY_RESUME only if registered.
pub fn rseq_set_notify_resume(k: &mut Kctx<'_, V6_18>) {
    if k.rseq.registered() {
        k.decide(Decision::SetNotifyResumeRegistered);
        k.set_tif(tif::NOTIFY_RESUME);
    } else {
        k.decide(Decision::SetNotifyResumeUnregistered);
    }
}

/// `rseq_preempt()`: from `prepare_task_switch()` for prev and from
/// membarrier's `ipi_rseq()` for current. The bit is set unconditionally.
pub fn rseq_preempt(k: &mut Kctx<'_, V6_18>) {
    k.rseq.rseq_event_mask |= RSEQ_EVENT_PREEMPT;
    rseq_set_notify_resume(k);
}

/// `rseq_migrate()`: from `set_task_cpu()` when the CPU changes, and for a new
/// task from `sched_cgroup_fork()` / `wake_up_new_task()`.
pub fn rseq_migrate(k: &mut Kctx<'_, V6_18>) {
    k.rseq.rseq_event_mask |= RSEQ_EVENT_MIGRATE;
    rseq_set_notify_resume(k);
}

/// `rseq_handle_notify_resume(ksig, regs)`: the inline wrapper that runs the
/// handler only for a registered task. `regs == false` is a NULL `regs`.
pub fn rseq_handle_notify_resume(k: &mut Kctx<'_, V6_18>, ksig: Option<u8>, regs: bool) {
    if k.rseq.registered() {
        k.decide(Decision::HandleNotifyResumeRegistered);
        __rseq_handle_notify_resume(k, ksig, regs);
    } else {
        k.decide(Decision::HandleNotifyResumeUnregistered);
    }
}

/// `rseq_signal_deliver(ksig, regs)`: called by the arch `handle_signal()`
/// before it builds the frame, so an abort changes the IP the frame saves.
/// The SIGNAL bit is set whether or not rseq is registered.
pub fn rseq_signal_deliver(k: &mut Kctx<'_, V6_18>, ksig: u8) {
    k.rseq.rseq_event_mask |= RSEQ_EVENT_SIGNAL;
    rseq_handle_notify_resume(k, Some(ksig), true);
}

/// `rseq_fork(t, clone_flags)`: a CLONE_VM child is unregistered and its
/// event mask cleared; otherwise the child inherits registration and event
/// mask. `rseq_fields` is copied with the task_struct (dup_task_struct) and
/// not touched by rseq_fork.
pub fn rseq_fork(parent: &TaskRseq, clone_vm: bool) -> TaskRseq {
    if clone_vm {
        TaskRseq {
            rseq: 0,
            rseq_len: 0,
            rseq_sig: 0,
            rseq_event_mask: 0,
            rseq_fields: parent.rseq_fields,
        }
    } else {
        parent.clone()
    }
}

/// `rseq_execve(t)`: registration and event mask dropped in the kernel only;
/// user memory is not touched.
pub fn rseq_execve(k: &mut Kctx<'_, V6_18>) {
    k.rseq.rseq = 0;
    k.rseq.rseq_len = 0;
    k.rseq.rseq_sig = 0;
    k.rseq.rseq_event_mask = 0;
}

// ---------------------------------------------------------------------------
// kernel/rseq.c
// ---------------------------------------------------------------------------

/// `rseq_validate_ro_fields()` (CONFIG_DEBUG_RSEQ; otherwise a stub that
/// returns 0). Reads the four read-only fields and compares them with the
/// kernel copy: a mismatch only prints a ratelimited warning; only a read
/// fault is an error.
pub fn rseq_validate_ro_fields(k: &mut Kctx<'_, V6_18>) -> KResult<()> {
    if !k.cfg.debug {
        return Ok(());
    }
    const F: &str = "rseq_validate_ro_fields";
    let rseq = k.rseq.rseq;
    // user_read_access_begin(rseq, t->rseq_len): cannot fail once sys_rseq
    // accepted the registration (same access_ok, TASK_SIZE fixed per mm).
    if !k.access_ok(rseq, u64::from(k.rseq.rseq_len)) {
        return Err(errno::EFAULT);
    }
    let read = |k: &mut Kctx<'_, V6_18>, off: u64| -> KResult<u32> {
        k.get_user_u32(F, rseq.wrapping_add(off)).map_err(|_| {
            k.decide(Decision::RoReadFault);
            errno::EFAULT
        })
    };
    let cpu_id_start = read(k, field::CPU_ID_START)?;
    let cpu_id = read(k, field::CPU_ID)?;
    let node_id = read(k, field::NODE_ID)?;
    let mm_cid = read(k, field::MM_CID)?;
    let copy = k.rseq.rseq_fields;
    if cpu_id_start != copy.cpu_id_start
        || cpu_id != copy.cpu_id
        || node_id != copy.node_id
        || mm_cid != copy.mm_cid
    {
        // pr_warn("Detected rseq corruption ..."), ratelimited. No kill.
        k.decide(Decision::RoMismatch);
    } else {
        k.decide(Decision::RoMatch);
    }
    Ok(())
}

/// `rseq_unsafe_put_user()`: the user write and, with CONFIG_DEBUG_RSEQ, the
/// kernel copy in lock-step (the copy is updated only if the write succeeded).
fn rseq_unsafe_put_user(
    k: &mut Kctx<'_, V6_18>,
    function: &'static str,
    off: u64,
    value: u32,
) -> KResult<()> {
    let addr = k.rseq.rseq.wrapping_add(off);
    k.put_user_u32(function, addr, value)
        .map_err(|_| errno::EFAULT)?;
    if k.cfg.debug {
        let f = &mut k.rseq.rseq_fields;
        match off {
            field::CPU_ID_START => f.cpu_id_start = value,
            field::CPU_ID => f.cpu_id = value,
            field::NODE_ID => f.node_id = value,
            _ => f.mm_cid = value,
        }
    }
    Ok(())
}

/// `rseq_update_cpu_node_id()`: (debug) validate the RO fields, then write
/// cpu_id_start, cpu_id, node_id, mm_cid in that order. Earlier writes stay
/// when a later one faults. Nothing beyond offset 28 is written.
pub fn rseq_update_cpu_node_id(k: &mut Kctx<'_, V6_18>) -> KResult<()> {
    const F: &str = "rseq_update_cpu_node_id";
    let cpu_id = k.task_cpu();
    let node_id = cpu_to_node(cpu_id);
    let mm_cid = k.task_mm_cid();
    if rseq_validate_ro_fields(k).is_err() {
        k.decide(Decision::UpdateValidateError);
        return Err(errno::EFAULT);
    }
    // WARN_ON_ONCE((int) mm_cid < 0): the model's cids are in [0, NR_CPUS).
    // user_write_access_begin(rseq, t->rseq_len): cannot fail after sys_rseq's
    // access_ok on the same range.
    if !k.access_ok(k.rseq.rseq, u64::from(k.rseq.rseq_len)) {
        return Err(errno::EFAULT);
    }
    for (off, value) in [
        (field::CPU_ID_START, cpu_id),
        (field::CPU_ID, cpu_id),
        (field::NODE_ID, node_id),
        (field::MM_CID, mm_cid),
    ] {
        if rseq_unsafe_put_user(k, F, off, value).is_err() {
            k.decide(Decision::UpdateWriteFault);
            return Err(errno::EFAULT);
        }
    }
    k.decide(Decision::UpdateDone);
    Ok(())
}

/// `rseq_reset_rseq_cpu_node_id()` (unregistration): (debug) validate, then
/// write cpu_id_start = 0, cpu_id = RSEQ_CPU_ID_UNINITIALIZED, node_id = 0,
/// mm_cid = 0.
pub fn rseq_reset_rseq_cpu_node_id(k: &mut Kctx<'_, V6_18>) -> KResult<()> {
    const F: &str = "rseq_reset_rseq_cpu_node_id";
    if rseq_validate_ro_fields(k).is_err() {
        k.decide(Decision::ResetValidateError);
        return Err(errno::EFAULT);
    }
    // user_write_access_begin(): see rseq_update_cpu_node_id.
    if !k.access_ok(k.rseq.rseq, u64::from(k.rseq.rseq_len)) {
        return Err(errno::EFAULT);
    }
    for (off, value) in [
        (field::CPU_ID_START, 0),
        (field::CPU_ID, abi::RSEQ_CPU_ID_UNINITIALIZED),
        (field::NODE_ID, 0),
        (field::MM_CID, 0),
    ] {
        if rseq_unsafe_put_user(k, F, off, value).is_err() {
            k.decide(Decision::ResetWriteFault);
            return Err(errno::EFAULT);
        }
    }
    k.decide(Decision::ResetDone);
    Ok(())
}

/// `rseq_get_rseq_cs_ptr_val()`: the 64-bit `rseq_cs` field; `get_user` on a
/// 64-bit kernel, an 8-byte `copy_from_user` on a 32-bit one (so the high
/// word is read too, and a non-zero high word later fails `ptr >= TASK_SIZE`).
pub fn rseq_get_rseq_cs_ptr_val(
    k: &mut Kctx<'_, V6_18>,
    function: &'static str,
    rseq: u64,
) -> KResult<u64> {
    let addr = rseq.wrapping_add(field::RSEQ_CS);
    let r = if config_64bit(k) {
        k.get_user_u64(function, addr)
    } else {
        k.copy_from_user::<8>(function, addr)
            .map(u64::from_le_bytes)
    };
    r.map_err(|_| {
        k.decide(Decision::PtrValFault);
        errno::EFAULT
    })
}

/// `rseq_get_rseq_cs()`: read `rseq_cs`; NULL gives an all-zero descriptor
/// (never "inside"); otherwise copy the descriptor and validate it, whatever
/// the IP. The descriptor fields are `__u64` on every kernel, so the bounds
/// and the inside test are 64-bit arithmetic even on a 32-bit kernel.
pub fn rseq_get_rseq_cs(k: &mut Kctx<'_, V6_18>, function: &'static str) -> KResult<RseqCs> {
    let task_size = k.task_size();
    let ptr = rseq_get_rseq_cs_ptr_val(k, function, k.rseq.rseq)?;
    if ptr == 0 {
        k.decide(Decision::GetCsPtrNull);
        return Ok(RseqCs::default());
    }
    if ptr >= task_size {
        k.decide(Decision::GetCsPtrGeTaskSize);
        return Err(errno::EINVAL);
    }
    let bytes = k.copy_from_user::<32>(function, ptr).map_err(|_| {
        k.decide(Decision::GetCsCopyFault);
        errno::EFAULT
    })?;
    let cs = RseqCs::from_bytes(&bytes);
    // One `||` chain in the kernel; the first true operand is recorded.
    let end = cs.start_ip.wrapping_add(cs.post_commit_offset);
    let invalid = if cs.start_ip >= task_size {
        Some(Decision::GetCsStartGeTaskSize)
    } else if end >= task_size {
        Some(Decision::GetCsEndGeTaskSize)
    } else if cs.abort_ip >= task_size {
        Some(Decision::GetCsAbortGeTaskSize)
    } else if cs.version > 0 {
        Some(Decision::GetCsVersion)
    } else {
        None
    };
    if let Some(d) = invalid {
        k.decide(d);
        return Err(errno::EINVAL);
    }
    if end < cs.start_ip {
        k.decide(Decision::GetCsOverflow);
        return Err(errno::EINVAL);
    }
    if cs.abort_ip.wrapping_sub(cs.start_ip) < cs.post_commit_offset {
        k.decide(Decision::GetCsAbortInCs);
        return Err(errno::EINVAL);
    }
    // usig = (u32 __user *)(unsigned long)(abort_ip - 4): truncated to the
    // native word; abort_ip < 4 wraps to the top and the read fails.
    let usig = cs.abort_ip.wrapping_sub(4) & abi::word_mask(k.cfg.arch.word_bits());
    let sig = k.get_user_u32(function, usig).map_err(|_| {
        k.decide(Decision::GetCsSigFault);
        errno::EFAULT
    })?;
    if k.rseq.rseq_sig != sig {
        // printk_ratelimited("Possible attack attempt. ...")
        k.decide(Decision::GetCsSigMismatch);
        return Err(errno::EINVAL);
    }
    k.decide(Decision::GetCsValid);
    Ok(cs)
}

/// `rseq_warn_flags()`: true (and a warn-once per kind) if any bit is set.
pub fn rseq_warn_flags(k: &mut Kctx<'_, V6_18>, flags: u32) -> bool {
    if flags == 0 {
        return false;
    }
    if flags & abi::RSEQ_CS_DEPRECATED_FLAGS != 0 {
        k.decide(Decision::WarnDeprecated);
    }
    if flags & !abi::RSEQ_CS_DEPRECATED_FLAGS != 0 {
        k.decide(Decision::WarnUnknown);
    }
    true
}

/// `rseq_need_restart()`: reached only with the IP inside a valid CS. Any
/// descriptor flag, then the thread flags (U+16, read here and only here),
/// are EINVAL; then the event mask is read and cleared.
pub fn rseq_need_restart(k: &mut Kctx<'_, V6_18>, cs_flags: u32) -> KResult<bool> {
    const F: &str = "rseq_need_restart";
    if rseq_warn_flags(k, cs_flags) {
        k.decide(Decision::NeedRestartCsFlags);
        return Err(errno::EINVAL);
    }
    let addr = k.rseq.rseq.wrapping_add(field::FLAGS);
    // The flags share a page with rseq_cs, which was just read: this read
    // can only fail if another thread unmaps the area in between, which the
    // model's atomic events exclude, so it carries no decision point.
    let flags = k.get_user_u32(F, addr).map_err(|_| errno::EFAULT)?;
    if rseq_warn_flags(k, flags) {
        k.decide(Decision::NeedRestartThreadFlags);
        return Err(errno::EINVAL);
    }
    // scoped_guard(RSEQ_EVENT_GUARD): read and clear atomically.
    let event_mask = std::mem::take(&mut k.rseq.rseq_event_mask);
    if event_mask == 0 {
        k.decide(Decision::NeedRestartEmpty);
        Ok(false)
    } else {
        k.decide(Decision::NeedRestartSet);
        Ok(true)
    }
}

/// `clear_rseq_cs()`: an 8-byte zero store to `rseq_cs` (put_user on 64-bit,
/// clear_user of 8 bytes on 32-bit), unconditionally, even if already 0.
pub fn clear_rseq_cs(k: &mut Kctx<'_, V6_18>, function: &'static str, rseq: u64) -> KResult<()> {
    let addr = rseq.wrapping_add(field::RSEQ_CS);
    k.put_user_u64(function, addr, 0).map_err(|_| {
        k.decide(Decision::ClearFault);
        errno::EFAULT
    })
}

/// `in_rseq_cs()`: `ip - start_ip < post_commit_offset`. The descriptor
/// fields are `__u64`, so C does this in 64 bits on every kernel.
pub fn in_rseq_cs(ip: u64, cs: &RseqCs) -> bool {
    abi::in_cs(ip, cs.start_ip, cs.post_commit_offset, 64)
}

/// `rseq_ip_fixup()`.
pub fn rseq_ip_fixup(k: &mut Kctx<'_, V6_18>) -> KResult<()> {
    const F: &str = "rseq_ip_fixup";
    let ip = k.instruction_pointer();
    let cs = match rseq_get_rseq_cs(k, F) {
        Ok(cs) => cs,
        Err(e) => {
            k.decide(Decision::FixupGetCsError);
            return Err(e);
        }
    };
    if !in_rseq_cs(ip, &cs) {
        k.decide(Decision::FixupIpOutside);
        let rseq = k.rseq.rseq;
        return clear_rseq_cs(k, F, rseq);
    }
    match rseq_need_restart(k, cs.flags) {
        Err(e) => {
            k.decide(Decision::FixupNeedRestartError);
            return Err(e);
        }
        Ok(false) => {
            // No event since the last fixup: rseq_cs is left set.
            k.decide(Decision::FixupNoRestart);
            return Ok(());
        }
        Ok(true) => {}
    }
    let rseq = k.rseq.rseq;
    if let Err(e) = clear_rseq_cs(k, F, rseq) {
        k.decide(Decision::FixupClearError);
        return Err(e);
    }
    k.decide(Decision::FixupAbort);
    k.instruction_pointer_set(cs.abort_ip, "rseq abort");
    Ok(())
}

/// `__rseq_handle_notify_resume(ksig, regs)`. `regs == false` models the
/// NULL `regs` of the KVM pre-guest work loop: fixup skipped.
pub fn __rseq_handle_notify_resume(k: &mut Kctx<'_, V6_18>, ksig: Option<u8>, regs: bool) {
    if k.task_exiting() {
        k.decide(Decision::NotifyPfExiting);
        return;
    }
    let mut failed = false;
    if regs {
        if rseq_ip_fixup(k).is_err() {
            k.decide(Decision::NotifyFixupError);
            failed = true;
        }
    } else {
        k.decide(Decision::NotifyRegsNull);
    }
    if !failed && rseq_update_cpu_node_id(k).is_err() {
        k.decide(Decision::NotifyUpdateError);
        failed = true;
    }
    if failed {
        // error: sig = ksig ? ksig->sig : 0; force_sigsegv(sig);
        let signo = match ksig {
            Some(s) => {
                k.decide(Decision::NotifyErrorKsig);
                s
            }
            None => {
                k.decide(Decision::NotifyErrorNoKsig);
                0
            }
        };
        k.force_sigsegv(signo);
    }
}

/// `rseq_syscall()` (CONFIG_DEBUG_RSEQ): at every syscall exit, before the
/// exit work. An invalid descriptor or an IP inside the CS is
/// `force_sig(SIGSEGV)`; it never clears or aborts.
pub fn rseq_syscall(k: &mut Kctx<'_, V6_18>) {
    const F: &str = "rseq_syscall";
    let ip = k.instruction_pointer();
    if !k.rseq.registered() {
        k.decide(Decision::SyscallUnregistered);
        return;
    }
    match rseq_get_rseq_cs(k, F) {
        Err(_) => {
            k.decide(Decision::SyscallInvalidCs);
            k.force_sig_segv();
        }
        Ok(cs) if in_rseq_cs(ip, &cs) => {
            k.decide(Decision::SyscallIpInCs);
            k.force_sig_segv();
        }
        Ok(_) => k.decide(Decision::SyscallOk),
    }
}

/// `sys_rseq(rseq, rseq_len, flags, sig)`: checks in the kernel's order.
/// Returns 0 or -errno; never kills.
pub fn sys_rseq(k: &mut Kctx<'_, V6_18>, addr: u64, rseq_len: u32, flags: u32, sig: u32) -> i64 {
    const F: &str = "sys_rseq";
    // Syscall arguments are register-width: `struct rseq __user *` is 32 bits
    // on a 32-bit kernel.
    let rseq = addr & abi::word_mask(k.cfg.arch.word_bits());

    if flags & abi::RSEQ_FLAG_UNREGISTER != 0 {
        if flags & !abi::RSEQ_FLAG_UNREGISTER != 0 {
            k.decide(Decision::UnregBadFlags);
            return -errno::EINVAL;
        }
        if k.rseq.rseq != rseq || k.rseq.rseq == 0 {
            k.decide(Decision::UnregWrongRseq);
            return -errno::EINVAL;
        }
        if rseq_len != k.rseq.rseq_len {
            k.decide(Decision::UnregLenMismatch);
            return -errno::EINVAL;
        }
        if k.rseq.rseq_sig != sig {
            k.decide(Decision::UnregSigMismatch);
            return -errno::EPERM;
        }
        if let Err(e) = rseq_reset_rseq_cpu_node_id(k) {
            // Still registered, no signal.
            k.decide(Decision::UnregResetFault);
            return -e;
        }
        k.rseq.rseq = 0;
        k.rseq.rseq_sig = 0;
        k.rseq.rseq_len = 0;
        k.decide(Decision::UnregDone);
        return 0;
    }

    if flags != 0 {
        k.decide(Decision::RegBadFlags);
        return -errno::EINVAL;
    }

    if k.rseq.registered() {
        if k.rseq.rseq != rseq || rseq_len != k.rseq.rseq_len {
            k.decide(Decision::RegDiffers);
            return -errno::EINVAL;
        }
        if k.rseq.rseq_sig != sig {
            k.decide(Decision::RegSigMismatch);
            return -errno::EPERM;
        }
        k.decide(Decision::RegBusy);
        return -errno::EBUSY;
    }

    // One `||` chain in the kernel; the first true operand is recorded. With
    // __alignof__(struct rseq) == 32 and rseq_len >= 32, the
    // `rseq_len < offsetof(struct rseq, end)` operand can never be true.
    let aligned = rseq % RSEQ_ALIGN == 0;
    let bad_len = if rseq_len < ORIG_RSEQ_SIZE {
        Some(Decision::RegLenTooSmall)
    } else if rseq_len == ORIG_RSEQ_SIZE && rseq % u64::from(ORIG_RSEQ_SIZE) != 0 {
        Some(Decision::RegOrigMisaligned)
    } else if rseq_len != ORIG_RSEQ_SIZE && (!aligned || rseq_len < RSEQ_FEATURE_SIZE) {
        Some(Decision::RegExtMisaligned)
    } else {
        None
    };
    if let Some(d) = bad_len {
        k.decide(d);
        return -errno::EINVAL;
    }
    if !k.access_ok(rseq, u64::from(rseq_len)) {
        k.decide(Decision::RegAccessNotOk);
        return -errno::EFAULT;
    }

    // A non-zero rseq_cs left by an older libc is cleared, not refused.
    let rseq_cs = match rseq_get_rseq_cs_ptr_val(k, F, rseq) {
        Ok(v) => v,
        Err(_) => {
            k.decide(Decision::RegCsReadFault);
            return -errno::EFAULT;
        }
    };
    if rseq_cs != 0 {
        k.decide(Decision::RegCsNonzero);
        if clear_rseq_cs(k, F, rseq).is_err() {
            k.decide(Decision::RegCsClearFault);
            return -errno::EFAULT;
        }
    }

    if k.cfg.debug {
        // get_user() into the kernel copy, chained with `||`: a faulting
        // get_user zeroes its destination; earlier fields keep their value.
        for off in [
            field::CPU_ID_START,
            field::CPU_ID,
            field::NODE_ID,
            field::MM_CID,
        ] {
            let r = k.get_user_u32(F, rseq.wrapping_add(off));
            let v = r.unwrap_or(0);
            let f = &mut k.rseq.rseq_fields;
            match off {
                field::CPU_ID_START => f.cpu_id_start = v,
                field::CPU_ID => f.cpu_id = v,
                field::NODE_ID => f.node_id = v,
                _ => f.mm_cid = v,
            }
            // Same page as rseq_cs, read above: fails only under a
            // concurrent munmap (no decision point, see rseq_need_restart).
            if r.is_err() {
                return -errno::EFAULT;
            }
        }
    }

    k.rseq.rseq = rseq;
    k.rseq.rseq_len = rseq_len;
    k.rseq.rseq_sig = sig;
    k.decide(Decision::RegDone);
    // The IDs are written on the way out of this syscall, not here.
    rseq_set_notify_resume(k);
    0
}

// ---------------------------------------------------------------------------
// Exit to user mode
// ---------------------------------------------------------------------------

/// `resume_user_mode_work()` (include/linux/resume_user_mode.h): clear
/// TIF_NOTIFY_RESUME first, then (task_work etc. and) the rseq handler with
/// `ksig == NULL`.
pub fn resume_user_mode_work(k: &mut Kctx<'_, V6_18>) {
    k.clear_tif(tif::NOTIFY_RESUME);
    rseq_handle_notify_resume(k, None, true);
}

/// The work bits the legacy exit loop acts on for rseq. NEED_RESCHED and the
/// v6.19+ bits (TIF_RSEQ, slice) are never raised by this version.
const EXIT_WORK: u32 = tif::SIGPENDING | tif::NOTIFY_RESUME;

/// Non-forced pending signals: nothing in the exit loop queues one, so this
/// count never grows inside the loop.
fn queued_signals(k: &Kctx<'_, V6_18>) -> usize {
    k.task.pending.iter().filter(|p| !p.forced).count()
}

/// The exit-to-user work loop, bounded: an iteration that delivered a queued
/// signal made progress (there are finitely many); any other iteration counts
/// against [`EXIT_LOOP_BOUND`], and exceeding it sets `livelock`.
///
/// * Generic entry (x86) `exit_to_user_mode_loop()` and arm64
///   `do_notify_resume()`: one snapshot of the flags per iteration; signal
///   delivery, then TIF_NOTIFY_RESUME, both in the same iteration.
/// * arm32 `do_work_pending()`: signal delivery *or* TIF_NOTIFY_RESUME per
///   iteration (if / else), so the handler runs one iteration later.
pub fn exit_work_loop(k: &mut Kctx<'_, V6_18>) {
    let arm32 = k.cfg.arch == abi::Arch::Arm32;
    let mut budget = EXIT_LOOP_BOUND;
    loop {
        let ti_work = k.task.tif;
        if ti_work & EXIT_WORK == 0 {
            return;
        }
        if budget == 0 {
            // Unreachable in this version (the handler never re-raises
            // TIF_NOTIFY_RESUME and a failing signal delivery ends in a
            // fatal SIGSEGV), so it carries no decision point; the
            // robustness test asserts it never fires.
            k.task.livelock = true;
            return;
        }
        let queued = queued_signals(k);
        if ti_work & tif::SIGPENDING != 0 {
            k.decide(if arm32 {
                Decision::ArmSigpending
            } else {
                Decision::LoopSigpending
            });
            // get_signal() + handle_signal(), which calls rseq_signal_deliver().
            k.arch_do_signal_or_restart();
            if k.task.fate != Fate::Running {
                // do_group_exit() does not return.
                return;
            }
        }
        if ti_work & tif::NOTIFY_RESUME != 0 && !(arm32 && ti_work & tif::SIGPENDING != 0) {
            k.decide(if arm32 {
                Decision::ArmNotifyResume
            } else {
                Decision::LoopNotifyResume
            });
            resume_user_mode_work(k);
        }
        if queued_signals(k) >= queued {
            budget -= 1;
        }
    }
}

impl KernelVersion for V6_18 {
    /// resume_user_mode_work(NULL) from KVM's pre-guest work loop: the
    /// handler runs without user registers, so the IDs are written but the
    /// section is not looked at, and the event mask is left as it is.
    fn resume_user_mode_work_for_guest(k: &mut Kctx<'_, Self>) {
        k.clear_tif(tif::NOTIFY_RESUME);
        rseq_handle_notify_resume(k, None, false);
    }

    const NAME: &'static str = "v6.18";
    const DESCRIPTION: &'static str =
        "legacy rseq (v6.18 and before): event mask, TIF_NOTIFY_RESUME handler, IDs rewritten on every notify";
    type Decision = Decision;
    type TaskState = TaskRseq;

    fn registration(t: &TaskRseq) -> Option<Registration> {
        t.registered().then_some(Registration {
            addr: t.rseq,
            len: t.rseq_len,
            sig: t.rseq_sig,
        })
    }

    fn configs() -> Vec<Config> {
        let mut v = Vec::new();
        for arch in abi::Arch::ALL {
            for debug in [false, true] {
                v.push(Config::native(arch, debug));
            }
        }
        v
    }

    fn sys_rseq(k: &mut Kctx<'_, Self>, addr: u64, len: u32, flags: u32, sig: u32) -> i64 {
        sys_rseq(k, addr, len, flags, sig)
    }

    // irq_entry: the legacy code does nothing on interrupt entry.

    /// prepare_task_switch() -> rseq_preempt(prev).
    fn switch_out(k: &mut Kctx<'_, Self>) {
        rseq_preempt(k);
    }

    /// set_task_cpu() on a CPU change, and wake_up_new_task() for a child.
    fn set_task_cpu(k: &mut Kctx<'_, Self>) {
        rseq_migrate(k);
    }

    /// membarrier's ipi_rseq(): rseq_preempt(current).
    fn membarrier_ipi(k: &mut Kctx<'_, Self>) {
        rseq_preempt(k);
    }

    fn signal_deliver(k: &mut Kctx<'_, Self>, signo: u8) {
        rseq_signal_deliver(k, signo);
    }

    fn fork(parent: &TaskRseq, clone_vm: bool) -> TaskRseq {
        rseq_fork(parent, clone_vm)
    }

    /// bprm_execve(): rseq_execve() on success; rseq_set_notify_resume() on
    /// the failure path.
    fn execve(k: &mut Kctx<'_, Self>, ok: bool) {
        if ok {
            k.decide(Decision::ExecOk);
            rseq_execve(k);
        } else {
            k.decide(Decision::ExecFailed);
            rseq_set_notify_resume(k);
        }
    }

    /// syscall_exit_to_user_mode(): syscall_exit_to_user_mode_prepare() runs
    /// rseq_syscall() (CONFIG_DEBUG_RSEQ) before the exit work loop (arm64:
    /// syscall_trace_exit(); arm32: ret_fast_syscall / ret_to_user).
    fn syscall_exit_to_user_mode(k: &mut Kctx<'_, Self>) {
        if k.cfg.debug {
            rseq_syscall(k);
        }
        exit_work_loop(k);
    }

    /// arm32 runs rseq_syscall() (CONFIG_DEBUG_RSEQ) on the way back from
    /// an exception too, and kills a task that took a page fault inside its
    /// critical section.
    fn irqentry_exit_to_user_mode(k: &mut Kctx<'_, Self>) {
        if k.cfg.debug && k.arm_ret_from_exception() {
            rseq_syscall(k);
        }
        exit_work_loop(k);
    }
}
