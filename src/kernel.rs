//! The seam between whoever drives the models (tests, the scenario runner, the
//! fuzz targets, the live-kernel comparison) and the kernel versions.
//!
//! * [`KernelVersion`] is the one trait a version implements. Its hooks are the
//!   kernel call sites of rseq code (sys_rseq, irqentry_enter_from_user_mode,
//!   prepare_task_switch, __set_task_cpu, the signal-delivery hook, the exit to
//!   user mode, ...). A version's per-task state is its `TaskState`.
//! * [`Machine`] is everything that is not rseq: tasks, address spaces, CPUs,
//!   signal queues and their delivery, the user program's actions, and the
//!   observations after every return to user mode. It is generic over the
//!   version, and [`Model`] is its object-safe face for the runner.
//! * [`Kctx`] is what a hook sees: the current task, its version state, its
//!   user memory, the trace, and the kernel primitives (get_user, put_user,
//!   force_sig, ...) that record what they do.
//!
//! Every driver event is made valid by construction: an event that needs the
//! task in the kernel enters it through an interrupt first, a user action
//! returns to user mode first, and so on (see [`Machine::step`]), so that any
//! sequence a fuzzer produces means something.

use crate::abi::{self, sig};
use crate::config::Config;
use crate::mem::{AccessError, AccessKind, FaultMode, PageState, UserMem};
use crate::trace::{DecisionSet, KillPath, Trace, TraceEvent};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// Number of CPUs of the modelled machine.
pub const NR_CPUS: u32 = 8;

/// `cpu_to_node()`: two CPUs per NUMA node.
pub fn cpu_to_node(cpu: u32) -> u32 {
    cpu / 2
}

/// The exit-to-user loop of a model, and the KVM pre-guest work loop, give
/// up after this many iterations and report a livelock (the liveness oracle
/// fires on it).
pub const EXIT_LOOP_BOUND: u32 = 16;

/// Thread-info flags the models use.
pub mod tif {
    pub const NOTIFY_RESUME: u32 = 1 << 0;
    pub const SIGPENDING: u32 = 1 << 1;
    pub const NEED_RESCHED: u32 = 1 << 2;
    /// TIF_RSEQ; on configurations without generic TIF bits a version uses
    /// NOTIFY_RESUME in its place (see `Kctx::tif_rseq`).
    pub const RSEQ: u32 = 1 << 3;
    /// Syscall-entry work bit armed by a time-slice grant (v7.0+).
    pub const SYSCALL_SLICE: u32 = 1 << 4;
}

/// How the task last entered the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    User,
    /// Entered by a system call; the saved IP is the instruction after it.
    Syscall,
    /// Entered by an interrupt from user mode.
    Interrupt,
    /// Entered by a synchronous exception from user mode (a page fault, an
    /// undefined instruction) that the kernel handled without a signal. Only
    /// arm32 returns from it differently: through ret_to_user, which runs the
    /// CONFIG_DEBUG_RSEQ syscall-return check (do_rseq_syscall()), where an
    /// interrupt returns through ret_to_user_from_irq, which skips it.
    Exception,
}

/// The syscalls a scenario can make. The body runs when the task enters the
/// kernel; [`Event::ExitToUser`] returns from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "syscall", rename_all = "snake_case")]
pub enum Syscall {
    /// `rseq(addr, len, flags, sig)`.
    Rseq {
        addr: u64,
        len: u32,
        flags: u32,
        sig: u32,
    },
    /// A syscall that does nothing rseq cares about (getpid).
    Getpid,
    /// `rt_sigreturn`: restores the IP saved in the newest signal frame.
    Sigreturn,
    /// fork / clone. `follow_child`: from now on the events drive the child.
    Fork { clone_vm: bool, follow_child: bool },
    /// execve; `ok == false` is a failed exec after the point of no return
    /// was not reached (the task keeps its image).
    Execve { ok: bool },
    /// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ); with `own_cpu`
    /// (MEMBARRIER_CMD_FLAG_CPU naming the caller's CPU) the caller's own CPU
    /// is IPI'd and the handler runs on the caller, in the syscall.
    Membarrier { own_cpu: bool },
    /// prctl(PR_RSEQ_SLICE_EXTENSION, op, arg) (v7.0+).
    PrctlSlice { op: u32, arg: u32 },
    /// rseq_slice_yield() (v7.0+).
    SliceYield,
    /// ioctl(vcpu_fd, KVM_RUN) from a vCPU thread (QEMU's have rseq
    /// registered by glibc): the pre-guest work loop, then the guest runs
    /// until a VM exit that returns to user space. Modelled wherever the
    /// architecture has a KVM host (see [`kvm_modelled`]); on arm32 the call fails with
    /// ENODEV and runs nothing.
    KvmRun,
}

/// Whether KVM_RUN is modelled on this architecture: every one with a KVM
/// host. x86 (vcpu_run()), arm64 (kvm_arch_vcpu_ioctl_run(), on the generic
/// loop since 6caa5812e2d1, v5.15) and riscv64 (kvm_arch_vcpu_ioctl_run(),
/// since 9c00fbdd93a2, v6.1) all run the generic pre-guest work loop
/// (kernel/entry/virt.c xfer_to_guest_mode_handle_work()), and
/// kvm_vcpu_ioctl() (virt/kvm/kvm_main.c) calls rseq_virt_userspace_exit()
/// for all of them. The call matters only where TIF_RSEQ is
/// TIF_NOTIFY_RESUME: arm64, which has no generic TIF bits. 32-bit arm lost
/// its KVM host support in v5.7 (541ad0150ca4), so there KVM_RUN fails.
pub fn kvm_modelled(arch: abi::Arch) -> bool {
    !matches!(arch, abi::Arch::Arm32)
}

/// A driver event: a kernel event or a user action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Enter the kernel by a system call and run its body.
    Syscall(Syscall),
    /// An interrupt taken from user mode.
    Interrupt,
    /// A synchronous exception taken from user mode and handled without a
    /// signal (a page fault the kernel resolves, an emulated instruction).
    Exception,
    /// Context switch away from the task (prepare_task_switch).
    SwitchOut,
    /// Context switch back onto `cpu` with concurrency id `mm_cid`; a
    /// different CPU is a migration (set_task_cpu), a different cid an mm_cid change.
    SwitchIn { cpu: u32, mm_cid: u32 },
    /// A signal is sent to the task (by another thread or a timer).
    Signal { sig: u8 },
    /// The membarrier RSEQ IPI (ipi_rseq) hits the task: in user mode it is
    /// an interrupt from user mode; in the kernel it interrupts kernel code.
    MembarrierIpi,
    /// The time-slice extension timer fires (v7.0+).
    SliceTimer,
    /// Time passes in the kernel: the next time-slice extension granted
    /// expires before its exit to user mode ends (v7.0+), so
    /// __rseq_arm_slice_extension_timer() finds `expires` in the past. A
    /// slow exit, an interrupt during it or a slow machine (QEMU's
    /// emulation) spends the 5 us default of rseq_slice_ext_nsecs there.
    SliceExpiresInKernel,
    /// The scheduler asks the current task to reschedule (a wakeup of a
    /// higher-priority task, the tick): sets TIF_NEED_RESCHED. In user mode
    /// the task is kicked into the kernel by an interrupt first. The exit
    /// loop then calls schedule() (or, v7.0+, may grant a time-slice
    /// extension instead, see `Kctx::schedule`).
    NeedResched,
    /// Other kernel work for the task's next return to user mode
    /// (task_work_add() with TWA_RESUME, and the other set_notify_resume()
    /// callers): raises TIF_NOTIFY_RESUME, which also runs rseq's handler.
    TaskWork,
    /// Return to user mode: syscall or interrupt exit work and the exit loop.
    /// An observation is taken afterwards.
    ExitToUser,
    /// A vCPU thread inside KVM_RUN enters the guest again after a VM exit
    /// the kernel handled (the pre-guest work loop runs again). Nothing
    /// happens outside a modelled KVM_RUN.
    GuestEntry,
    /// The user program stores bytes (sets rseq_cs, writes a descriptor,
    /// clobbers a read-only field). Another thread may do it while the task is
    /// in the kernel, so this does not return to user mode.
    Store { addr: u64, bytes: Vec<u8> },
    /// The user program moves to `ip` (runs into or out of a critical section).
    SetIp { ip: u64 },
    /// The user program installs or removes a handler for `sig`.
    SetHandler { sig: u8, installed: bool },
    /// mmap of one page (fresh, zero-filled) in the given state.
    Mmap { addr: u64, state: PageState },
    /// munmap of one page.
    Munmap { addr: u64 },
    /// mprotect of one page: `writable` gives PROT_READ|PROT_WRITE,
    /// `readable` alone PROT_READ, neither PROT_NONE.
    Mprotect {
        addr: u64,
        readable: bool,
        writable: bool,
    },
    /// madvise(MADV_DONTNEED) on private anonymous memory: contents dropped.
    MadviseDontneed { addr: u64 },
    /// The kernel reclaims (swaps out) a page: contents kept, not present.
    Reclaim { addr: u64 },
}

/// The bit of a signal in the handler and blocked masks (signal 64, the
/// last real-time one, has none: it can be neither caught nor blocked here).
pub fn sig_bit(signo: u8) -> u64 {
    1u64.checked_shl(u32::from(signo)).unwrap_or(0)
}

/// A pending signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PendingSignal {
    pub sig: u8,
    /// Forced by the kernel (force_sig*): synchronous, delivered first, and
    /// never ignored or blocked.
    pub forced: bool,
}

/// A signal frame on the user stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalFrame {
    pub sig: u8,
    /// The user IP the frame saved; sigreturn resumes there.
    pub saved_ip: u64,
    /// The blocked mask before the handler ran; sigreturn restores it.
    pub saved_blocked: u64,
}

/// What became of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    Running,
    /// Killed by the default action of `sig`.
    Killed {
        sig: u8,
    },
}

/// The parts of a task that are not rseq's (task_struct, thread_info, pt_regs).
#[derive(Clone, Debug, Serialize)]
pub struct Task {
    /// Index of the task's address space in the machine.
    pub mm: usize,
    /// Saved user instruction pointer (pt_regs).
    pub ip: u64,
    pub cpu: u32,
    pub mm_cid: u32,
    pub mode: Mode,
    pub on_cpu: bool,
    pub tif: u32,
    pub pending: Vec<PendingSignal>,
    /// Bit n set: signal n has a user handler.
    pub handlers: u64,
    pub frames: Vec<SignalFrame>,
    /// Blocked signals (bit n = signal n). A handler runs with its own
    /// signal blocked (no SA_NODEFER), until sigreturn.
    pub blocked: u64,
    pub fate: Fate,
    /// The last syscall's return value (or -errno), until the next entry.
    pub syscall_ret: Option<i64>,
    /// Set when the exit loop hit [`EXIT_LOOP_BOUND`].
    pub livelock: bool,
    /// Where a signal handler starts executing.
    pub handler_ip: u64,
    /// The syscall the task is executing, from its entry until the return
    /// to user mode (the syscall number a syscall-entry hook sees).
    pub in_syscall: Option<Syscall>,
    /// [`Event::SliceExpiresInKernel`] happened and no grant has been armed
    /// since.
    pub slice_expires_in_kernel: bool,
    /// The struct rseq an observation reads: the area the task's last
    /// successful registration call named (even where the kernel ignores
    /// it, as v6.18 does an area at 0), kept after an unregistration, which
    /// writes it too; the layout's before any registration and after an
    /// execve. The model's
    /// bookkeeping, not the kernel's: the kernel forgets the address at
    /// unregistration.
    pub observed_area: u64,
}

impl Task {
    pub fn has_handler(&self, signo: u8) -> bool {
        signo < 64 && self.handlers & (1u64 << signo) != 0
    }
}

/// What the driver gives a new machine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    pub mem: UserMem,
    pub ip: u64,
    pub cpu: u32,
    pub mm_cid: u32,
    /// Signals with a user handler at start.
    pub handlers: u64,
    /// Where a signal handler starts executing.
    pub handler_ip: u64,
    /// Where a successful execve starts the new image.
    pub exec_entry_ip: u64,
    /// The registered struct rseq whose bytes each observation records.
    pub area: u64,
    /// How many bytes of it to record (at most [`AreaBytes::CAPACITY`]).
    pub area_len: u64,
}

/// A task's rseq registration as the kernel holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub addr: u64,
    pub len: u32,
    pub sig: u32,
}

/// What is visible after a return to user mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// Index of the driver event after which this was taken.
    pub step: usize,
    /// Which task (0 = the first; forks add tasks).
    pub task: usize,
    pub fate: Fate,
    pub ip: u64,
    /// The task's CPU and concurrency id: what the ID fields must say.
    pub cpu: u32,
    pub mm_cid: u32,
    /// The bytes of the struct rseq at [`Task::observed_area`] (the area
    /// the task registered, or last had), or None if any is unmapped.
    pub area: Option<AreaBytes>,
    /// Where `area` was read: [`Task::observed_area`] at this return.
    pub area_addr: u64,
    pub syscall_ret: Option<i64>,
    /// Kills rseq code forced since the last observation.
    pub kills: Vec<KillPath>,
    /// Whether a SIGSEGV handler frame was set up since the last observation
    /// (a kill that a user handler caught).
    pub sigsegv_handled: bool,
    /// The exit-to-user loop, or a work loop the window ran before it
    /// ([`TraceEvent::WorkLoopBound`]), hit [`EXIT_LOOP_BOUND`].
    pub livelock: bool,
    /// Decision points taken since the last observation.
    pub decisions: Vec<&'static str>,
    /// The kernel's registration of the task after this return.
    pub registration: Option<Registration>,
    /// The trace entries `[start, end)` this observation covers.
    pub trace_range: (usize, usize),
}

/// The bytes of a struct rseq an observation records ([`Setup::area_len`]
/// of them, at most [`AreaBytes::CAPACITY`]), kept inline. It reads and
/// writes as a byte slice and serializes as one. A `Vec` here was one
/// allocation an observation, a fifth of all an exit_to_user input made
/// (dhat, 2026-12-02).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AreaBytes {
    len: u8,
    /// Zero past `len`, so that the derived equality compares contents.
    bytes: [u8; AreaBytes::CAPACITY],
}

impl AreaBytes {
    /// The most bytes an observation records: the original 32-byte struct
    /// rseq and the fields later kernels added after it.
    pub const CAPACITY: usize = 64;

    /// Read `len` bytes at `addr` ([`UserMem::peek`]), or None if any is
    /// unmapped. `len` is capped at [`AreaBytes::CAPACITY`].
    pub fn peek(mem: &UserMem, addr: u64, len: u64) -> Option<AreaBytes> {
        let len = len.min(Self::CAPACITY as u64) as usize;
        let mut bytes = [0u8; Self::CAPACITY];
        mem.peek_into(addr, &mut bytes[..len]).then_some(AreaBytes {
            len: len as u8,
            bytes,
        })
    }
}

impl std::ops::Deref for AreaBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::ops::DerefMut for AreaBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..usize::from(self.len)]
    }
}

impl Debug for AreaBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Debug::fmt(&**self, f)
    }
}

impl Serialize for AreaBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// The one trait a kernel version implements: its rseq hooks at the kernel's
/// call sites. The defaults are "this version has no rseq code here".
pub trait KernelVersion: 'static + Sized {
    /// Registry name, e.g. "v6.19".
    const NAME: &'static str;
    /// One line for `rseq-fuzz versions`.
    const DESCRIPTION: &'static str;
    /// The version's decision points.
    type Decision: DecisionSet;
    /// The version's per-task rseq state (task_struct fields).
    type TaskState: Clone + Debug + Default;

    /// Whether the version's exit loop acts on TIF_NEED_RESCHED itself (the
    /// v7.0 slice-extension grant does); otherwise the machine reschedules
    /// before the loop, as schedule() at the top of the loop would.
    const EXIT_LOOP_HANDLES_NEED_RESCHED: bool = false;

    /// The configurations this version is modelled under.
    fn configs() -> Vec<Config>;

    /// sys_rseq(). Returns the syscall return value (0 or -errno).
    fn sys_rseq(k: &mut Kctx<'_, Self>, addr: u64, len: u32, flags: u32, sig: u32) -> i64;

    /// Syscall entry work (enter_from_user_mode / syscall_trace_enter).
    fn syscall_entry(_k: &mut Kctx<'_, Self>) {}

    /// irqentry_enter_from_user_mode() for interrupts and exceptions.
    fn irq_entry(_k: &mut Kctx<'_, Self>) {}

    /// prepare_task_switch() for `prev` (the task leaves the CPU).
    fn switch_out(_k: &mut Kctx<'_, Self>) {}

    /// set_task_cpu()/__set_task_cpu(): the task moved to `k.task.cpu`
    /// (also the first placement of a new task in wake_up_new_task).
    fn set_task_cpu(_k: &mut Kctx<'_, Self>) {}

    /// The mm_cid of the task is (re)assigned at switch-in; `old` is the
    /// previous value of `k.task.mm_cid`.
    fn set_task_mm_cid(_k: &mut Kctx<'_, Self>, _old: u32) {}

    /// context_switch() for `next` (the task gets the CPU).
    fn switch_in(_k: &mut Kctx<'_, Self>) {}

    /// membarrier's ipi_rseq() on the task's CPU.
    fn membarrier_ipi(_k: &mut Kctx<'_, Self>) {}

    /// rseq_signal_deliver(): called by the signal code before it builds the
    /// frame for `signo` from the current user registers.
    fn signal_deliver(_k: &mut Kctx<'_, Self>, _signo: u8) {}

    /// rseq_fork(): the child's state from the parent's.
    fn fork(parent: &Self::TaskState, clone_vm: bool) -> Self::TaskState;

    /// The registration this state holds (t->rseq, t->rseq_len, t->rseq_sig),
    /// for oracles and explain output.
    fn registration(state: &Self::TaskState) -> Option<Registration>;

    /// rseq_execve() (ok) or the failed-exec path.
    fn execve(_k: &mut Kctx<'_, Self>, _ok: bool) {}

    /// syscall_exit_to_user_mode(): syscall exit work, the exit loop, and
    /// what follows it.
    fn syscall_exit_to_user_mode(k: &mut Kctx<'_, Self>);

    /// irqentry_exit_to_user_mode().
    fn irqentry_exit_to_user_mode(k: &mut Kctx<'_, Self>);

    /// resume_user_mode_work(NULL) from the KVM pre-guest work loop, for
    /// TIF_NOTIFY_RESUME: no user registers. The default only clears the bit.
    fn resume_user_mode_work_for_guest(k: &mut Kctx<'_, Self>) {
        k.clear_tif(tif::NOTIFY_RESUME);
    }

    /// rseq_virt_userspace_exit(), when KVM_RUN's vcpu_run returns (v6.19+).
    fn rseq_virt_userspace_exit(_k: &mut Kctx<'_, Self>) {}

    /// prctl(PR_RSEQ_SLICE_EXTENSION, ...): an unknown prctl option before
    /// v7.0.
    fn prctl_slice(_k: &mut Kctx<'_, Self>, _op: u32, _arg: u32) -> i64 {
        -abi::errno::EINVAL
    }

    /// rseq_slice_yield(): no such syscall before v7.0.
    fn slice_yield(_k: &mut Kctx<'_, Self>) -> i64 {
        -abi::errno::ENOSYS
    }

    /// The slice-extension hrtimer fires on the task's CPU.
    fn slice_timer(_k: &mut Kctx<'_, Self>) {}
}

/// What a hook sees: the current task and the kernel primitives.
pub struct Kctx<'a, V: KernelVersion> {
    pub cfg: Config,
    pub task: &'a mut Task,
    pub rseq: &'a mut V::TaskState,
    pub mem: &'a mut UserMem,
    pub trace: &'a mut Trace,
    /// pagefault_disable() nesting depth.
    pagefault_disabled: u32,
}

impl<'a, V: KernelVersion> Kctx<'a, V> {
    pub fn new(
        cfg: Config,
        task: &'a mut Task,
        rseq: &'a mut V::TaskState,
        mem: &'a mut UserMem,
        trace: &'a mut Trace,
    ) -> Self {
        Kctx {
            cfg,
            task,
            rseq,
            mem,
            trace,
            pagefault_disabled: 0,
        }
    }

    /// Record a decision point.
    pub fn decide(&mut self, point: V::Decision) {
        self.trace.decide(point);
    }

    pub fn task_size(&self) -> u64 {
        self.cfg.task_size()
    }

    /// Whether the grant being armed has expired already
    /// ([`Event::SliceExpiresInKernel`]); the answer is used up.
    pub fn slice_grant_expired(&mut self) -> bool {
        std::mem::take(&mut self.task.slice_expires_in_kernel)
    }

    pub fn pagefault_disable(&mut self) {
        self.pagefault_disabled += 1;
    }

    pub fn pagefault_enable(&mut self) {
        self.pagefault_disabled = self.pagefault_disabled.saturating_sub(1);
    }

    fn fault_mode(&self) -> FaultMode {
        if self.pagefault_disabled > 0 {
            FaultMode::Disabled
        } else {
            FaultMode::Enabled
        }
    }

    fn record(
        &mut self,
        function: &'static str,
        addr: u64,
        width: u8,
        kind: AccessKind,
        value: Option<u64>,
        result: Result<(), AccessError>,
    ) {
        if result == Err(AccessError::Fault)
            && self.pagefault_disabled > 0
            && self
                .mem
                .fails_only_for_resolvable_pages(addr, width.into(), kind)
        {
            self.trace.fault_free_run_may_differ = true;
        }
        self.trace.push(TraceEvent::Access {
            function,
            addr,
            width,
            kind,
            value,
            result,
        });
    }

    /// get_user()/unsafe_get_user() of a u32, recorded under `function`.
    pub fn get_user_u32(&mut self, function: &'static str, addr: u64) -> Result<u32, AccessError> {
        let r = self
            .mem
            .read::<4>(addr, self.fault_mode())
            .map(u32::from_le_bytes);
        self.record(
            function,
            addr,
            4,
            AccessKind::Read,
            r.ok().map(u64::from),
            r.map(|_| ()),
        );
        r
    }

    /// get_user()/unsafe_get_user() of a u64.
    pub fn get_user_u64(&mut self, function: &'static str, addr: u64) -> Result<u64, AccessError> {
        let r = self
            .mem
            .read::<8>(addr, self.fault_mode())
            .map(u64::from_le_bytes);
        self.record(function, addr, 8, AccessKind::Read, r.ok(), r.map(|_| ()));
        r
    }

    /// copy_from_user() of `N` bytes as one access.
    pub fn copy_from_user<const N: usize>(
        &mut self,
        function: &'static str,
        addr: u64,
    ) -> Result<[u8; N], AccessError> {
        let r = self.mem.read::<N>(addr, self.fault_mode());
        self.record(
            function,
            addr,
            N as u8,
            AccessKind::Read,
            None,
            r.map(|_| ()),
        );
        r
    }

    /// put_user()/unsafe_put_user() of a u32.
    pub fn put_user_u32(
        &mut self,
        function: &'static str,
        addr: u64,
        value: u32,
    ) -> Result<(), AccessError> {
        let r = self
            .mem
            .write(addr, &value.to_le_bytes(), self.fault_mode());
        self.record(function, addr, 4, AccessKind::Write, Some(value.into()), r);
        r
    }

    /// put_user()/unsafe_put_user() of a u64.
    pub fn put_user_u64(
        &mut self,
        function: &'static str,
        addr: u64,
        value: u64,
    ) -> Result<(), AccessError> {
        let r = self
            .mem
            .write(addr, &value.to_le_bytes(), self.fault_mode());
        self.record(function, addr, 8, AccessKind::Write, Some(value), r);
        r
    }

    /// access_ok(addr, len).
    pub fn access_ok(&self, addr: u64, len: u64) -> bool {
        self.mem.access_ok(addr, len)
    }

    /// instruction_pointer(regs).
    pub fn instruction_pointer(&self) -> u64 {
        self.task.ip
    }

    /// instruction_pointer_set(regs, ip), with the reason for the trace.
    pub fn instruction_pointer_set(&mut self, ip: u64, reason: &'static str) {
        self.task.ip = ip;
        self.trace.push(TraceEvent::IpSet { ip, reason });
    }

    pub fn set_tif(&mut self, bits: u32) {
        self.task.tif |= bits;
    }

    pub fn clear_tif(&mut self, bits: u32) {
        self.task.tif &= !bits;
    }

    pub fn test_tif(&self, bits: u32) -> bool {
        self.task.tif & bits != 0
    }

    /// TIF_RSEQ: its own bit with CONFIG_HAVE_GENERIC_TIF_BITS, else TIF_NOTIFY_RESUME.
    pub fn tif_rseq(&self) -> u32 {
        if self.cfg.generic_tif_bits {
            tif::RSEQ
        } else {
            tif::NOTIFY_RESUME
        }
    }

    pub fn task_cpu(&self) -> u32 {
        self.task.cpu
    }

    pub fn task_mm_cid(&self) -> u32 {
        self.task.mm_cid
    }

    /// schedule() called by the current task from the kernel (the exit loop
    /// on TIF_NEED_RESCHED, cond_resched()): the task is switched out and,
    /// in this machine, back in on the same CPU with the same mm_cid. Runs
    /// the version's scheduler hooks in the order Machine's SwitchOut and
    /// SwitchIn events run them.
    pub fn schedule(&mut self) {
        V::switch_out(self);
        self.task.tif &= !tif::NEED_RESCHED;
        let old_cid = self.task.mm_cid;
        V::set_task_mm_cid(self, old_cid);
        V::switch_in(self);
    }

    /// kernel/entry/virt.c xfer_to_guest_mode_handle_work(), the same in
    /// every release here: before each guest entry, while any of
    /// XFER_TO_GUEST_MODE_WORK is set (NEED_RESCHED, SIGPENDING,
    /// NOTIFY_RESUME; never TIF_RSEQ), a pending signal ends KVM_RUN with
    /// -EINTR (the signal is delivered at the syscall's exit), a reschedule
    /// runs schedule(), and NOTIFY_RESUME runs resume_user_mode_work(NULL).
    /// The flags are read again after each pass.
    pub fn xfer_to_guest_mode_handle_work(&mut self) -> i64 {
        const WORK: u32 = tif::NEED_RESCHED | tif::SIGPENDING | tif::NOTIFY_RESUME;
        for _ in 0..EXIT_LOOP_BOUND {
            let ti_work = self.task.tif & WORK;
            if ti_work == 0 {
                return 0;
            }
            if ti_work & tif::SIGPENDING != 0 {
                return -abi::errno::EINTR;
            }
            if ti_work & tif::NEED_RESCHED != 0 {
                self.schedule();
            }
            if ti_work & tif::NOTIFY_RESUME != 0 {
                V::resume_user_mode_work_for_guest(self);
            }
        }
        // Work raised again on every pass: the kernel would never enter the
        // guest. The model enters it, and the next return to user mode
        // reports the livelock to the liveness oracle.
        self.trace.push(TraceEvent::WorkLoopBound {
            function: "xfer_to_guest_mode_handle_work",
        });
        0
    }

    /// arm32 (no GENERIC_IRQ_ENTRY) returns from a synchronous exception
    /// through ret_from_exception -> ret_to_user, which calls
    /// do_rseq_syscall() under CONFIG_DEBUG_RSEQ before the work loop, as a
    /// slow syscall return does; an interrupt returns through
    /// ret_to_user_from_irq, past that call (arch/arm/kernel/entry-armv.S,
    /// entry-common.S).
    pub fn arm_ret_from_exception(&self) -> bool {
        !self.cfg.generic_irq_entry && self.task.mode == Mode::Exception
    }

    /// Whether the task can no longer return to user mode (PF_EXITING).
    pub fn task_exiting(&self) -> bool {
        self.task.fate != Fate::Running
    }

    /// force_sig(SIGSEGV).
    pub fn force_sig_segv(&mut self) {
        self.trace.push(TraceEvent::Kill {
            path: KillPath::ForceSig,
        });
        self.queue_forced(sig::SIGSEGV);
    }

    /// force_sigsegv(sig): with `sig == SIGSEGV` the SIGSEGV handler is reset
    /// to the default first, so the task dies.
    pub fn force_sigsegv(&mut self, signo: u8) {
        self.trace.push(TraceEvent::Kill {
            path: KillPath::ForceSigsegv { sig: signo },
        });
        if signo == sig::SIGSEGV {
            self.task.handlers &= !(1u64 << sig::SIGSEGV);
        }
        self.queue_forced(sig::SIGSEGV);
    }

    /// force_sig_info_to_task(): a forced signal that is blocked is
    /// unblocked and its handler reset to the default, so it kills. Then it
    /// is sent as any signal: kernel/signal.c __send_signal_locked() drops a
    /// signal below SIGRTMIN that is already pending (legacy_queue()), so a
    /// forced SIGSEGV merges with a SIGSEGV the task already had pending
    /// (sent by tgkill(), say), whose siginfo the handler then sees.
    fn queue_forced(&mut self, signo: u8) {
        let bit = sig_bit(signo);
        if self.task.blocked & bit != 0 {
            self.task.blocked &= !bit;
            self.task.handlers &= !bit;
        }
        if self.task.pending.iter().any(|p| p.sig == signo) {
            self.trace.push(TraceEvent::SignalMerged { sig: signo });
        } else {
            self.task.pending.push(PendingSignal {
                sig: signo,
                forced: true,
            });
        }
        self.task.tif |= tif::SIGPENDING;
    }

    /// arch_do_signal_or_restart(): get_signal() dequeues a pending signal
    /// the task does not block (or a forced one) in kernel/signal.c
    /// next_signal()'s order: the synchronous ones (SIGILL, SIGTRAP,
    /// SIGBUS, SIGFPE, SIGSEGV, SIGSYS) first, then the lowest number. A
    /// signal without a handler kills the task; otherwise handle_signal()
    /// calls rseq_signal_deliver() and then builds the frame, which saves
    /// the (possibly aborted) IP and enters the handler.
    pub fn arch_do_signal_or_restart(&mut self) {
        const SYNCHRONOUS: u64 = 1 << 4 | 1 << 5 | 1 << 7 | 1 << 8 | 1 << 11 | 1 << 31;
        let blocked = self.task.blocked;
        let deliverable = |p: &PendingSignal| p.forced || blocked & sig_bit(p.sig) == 0;
        let next = self
            .task
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| deliverable(p))
            .min_by_key(|(_, p)| (SYNCHRONOUS & sig_bit(p.sig) == 0, p.sig))
            .map(|(i, _)| i);
        let Some(i) = next else {
            self.task.tif &= !tif::SIGPENDING;
            return;
        };
        let p = self.task.pending.remove(i);
        // recalc_sigpending(): only deliverable signals keep it set.
        if !self.task.pending.iter().any(deliverable) {
            self.task.tif &= !tif::SIGPENDING;
        }
        if !self.task.has_handler(p.sig) {
            self.task.fate = Fate::Killed { sig: p.sig };
            self.trace.push(TraceEvent::Death { sig: p.sig });
            return;
        }
        V::signal_deliver(self, p.sig);
        let frame = SignalFrame {
            sig: p.sig,
            saved_ip: self.task.ip,
            saved_blocked: self.task.blocked,
        };
        self.task.frames.push(frame);
        self.task.blocked |= sig_bit(p.sig);
        self.trace.push(TraceEvent::SignalFrame {
            sig: p.sig,
            saved_ip: frame.saved_ip,
        });
        let handler_ip = self.task.handler_ip;
        self.instruction_pointer_set(handler_ip, "signal handler frame");
    }
}

/// The object-safe face of a [`Machine`] for the runner.
pub trait Model {
    fn version(&self) -> &'static str;
    fn config(&self) -> Config;
    /// Apply one driver event (index `index` in the sequence).
    fn step(&mut self, index: usize, event: &Event);
    /// Return the current task to user mode if it is in the kernel (end of a scenario).
    fn finish(&mut self, index: usize);
    fn observations(&self) -> &[Observation];
    fn trace(&self) -> &Trace;
    /// The current task's common state.
    fn current(&self) -> &Task;
    /// The current task's address space.
    fn current_mem(&self) -> &UserMem;
    /// The version state of the current task, for explain output.
    fn rseq_state_debug(&self) -> String;
    /// The current task's registration.
    fn registration(&self) -> Option<Registration>;
    /// Give up the machine for its observations and trace (no copies).
    fn into_parts(self: Box<Self>) -> (Vec<Observation>, Trace);
}

/// Tasks, address spaces and CPUs around one version's rseq code.
pub struct Machine<V: KernelVersion> {
    cfg: Config,
    exec_entry_ip: u64,
    /// The layout's struct rseq: what a task observes before it registers
    /// one, and again after an execve (Task::observed_area).
    layout_area: u64,
    area_len: u64,
    tasks: Vec<(Task, V::TaskState)>,
    mms: Vec<UserMem>,
    current: usize,
    trace: Trace,
    observations: Vec<Observation>,
    /// Index into trace.events where the current observation window starts.
    window_start: usize,
    next_pid: i64,
}

impl<V: KernelVersion> Machine<V> {
    pub fn new(cfg: Config, setup: Setup, coverage_base: usize) -> Self {
        // The IP register is as wide as the architecture's word, and so is
        // every address the task can be made to run at: the initial IP, the
        // signal handler and the entry point execve() jumps to.
        let word = abi::word_mask(cfg.arch.word_bits());
        let task = Task {
            mm: 0,
            ip: setup.ip & word,
            cpu: setup.cpu % NR_CPUS,
            mm_cid: setup.mm_cid % NR_CPUS,
            mode: Mode::User,
            on_cpu: true,
            tif: 0,
            pending: Vec::new(),
            handlers: setup.handlers,
            frames: Vec::new(),
            blocked: 0,
            fate: Fate::Running,
            syscall_ret: None,
            livelock: false,
            handler_ip: setup.handler_ip & word,
            in_syscall: None,
            slice_expires_in_kernel: false,
            observed_area: setup.area,
        };
        Machine {
            cfg,
            exec_entry_ip: setup.exec_entry_ip & word,
            layout_area: setup.area,
            area_len: setup.area_len,
            tasks: vec![(task, V::TaskState::default())],
            mms: vec![setup.mem],
            current: 0,
            trace: Trace::new(coverage_base),
            observations: Vec::new(),
            window_start: 0,
            next_pid: 1000,
        }
    }

    /// Run `f` with a hook context for task `t`.
    fn with_task<R>(&mut self, t: usize, f: impl FnOnce(&mut Kctx<'_, V>) -> R) -> R {
        let (task, rseq) = &mut self.tasks[t];
        let mem = &mut self.mms[task.mm];
        let mut k = Kctx::new(self.cfg, task, rseq, mem, &mut self.trace);
        f(&mut k)
    }

    fn cur(&self) -> &Task {
        &self.tasks[self.current].0
    }

    fn cur_mut(&mut self) -> &mut Task {
        &mut self.tasks[self.current].0
    }

    pub fn version_state(&self) -> &V::TaskState {
        &self.tasks[self.current].1
    }

    /// irqentry_enter() from user mode.
    fn enter_interrupt(&mut self) {
        self.enter_from_user(Mode::Interrupt);
    }

    /// irqentry_enter() from user mode, for an interrupt or an exception:
    /// the entry code is the same for both on every modelled architecture.
    fn enter_from_user(&mut self, how: Mode) {
        if self.cur().mode == Mode::User {
            self.cur_mut().mode = how;
            self.cur_mut().syscall_ret = None;
            self.with_task(self.current, |k| V::irq_entry(k));
        }
    }

    /// The current task is inside a KVM_RUN that the model runs (not one
    /// that failed with ENODEV), and still alive.
    fn in_modelled_kvm_run(&self) -> bool {
        let t = self.cur();
        t.mode == Mode::Syscall
            && t.fate == Fate::Running
            && matches!(t.in_syscall, Some(Syscall::KvmRun))
            && kvm_modelled(self.cfg.arch)
    }

    fn ensure_kernel(&mut self) {
        if self.cur().mode == Mode::User {
            self.enter_interrupt();
        }
    }

    fn switch_out(&mut self) {
        self.ensure_kernel();
        if self.cur().on_cpu {
            self.with_task(self.current, |k| V::switch_out(k));
            // __schedule() clears the need-resched request of prev.
            self.cur_mut().tif &= !tif::NEED_RESCHED;
            self.cur_mut().on_cpu = false;
        }
    }

    fn switch_in(&mut self, cpu: u32, mm_cid: u32) {
        if self.cur().on_cpu {
            self.switch_out();
        }
        let cpu = cpu % NR_CPUS;
        let mm_cid = mm_cid % NR_CPUS;
        let old_cid = self.cur().mm_cid;
        let cur = self.current;
        if self.cur().cpu != cpu {
            self.cur_mut().cpu = cpu;
            self.with_task(cur, |k| V::set_task_cpu(k));
        }
        self.cur_mut().mm_cid = mm_cid;
        self.with_task(cur, |k| V::set_task_mm_cid(k, old_cid));
        self.cur_mut().on_cpu = true;
        self.with_task(cur, |k| V::switch_in(k));
    }

    fn exit_to_user(&mut self, index: usize) {
        if self.cur().mode == Mode::User || self.cur().fate != Fate::Running {
            return;
        }
        if !self.cur().on_cpu {
            let (cpu, cid) = (self.cur().cpu, self.cur().mm_cid);
            self.switch_in(cpu, cid);
        }
        let cur = self.current;
        let from_syscall = self.cur().mode == Mode::Syscall;
        let leaving_kvm_run = self.in_modelled_kvm_run();
        self.with_task(cur, |k| {
            k.task.livelock = false;
            // kvm_vcpu_ioctl(): vcpu_run has returned; then the syscall exit.
            if leaving_kvm_run {
                V::rseq_virt_userspace_exit(k);
            }
            // Versions whose exit loop has no rseq business with
            // NEED_RESCHED reschedule first, as the top of their loop would.
            if !V::EXIT_LOOP_HANDLES_NEED_RESCHED && k.test_tif(tif::NEED_RESCHED) {
                k.schedule();
            }
            if from_syscall {
                V::syscall_exit_to_user_mode(k);
            } else {
                V::irqentry_exit_to_user_mode(k);
            }
        });
        if self.cur().fate == Fate::Running {
            self.cur_mut().mode = Mode::User;
            self.cur_mut().in_syscall = None;
        }
        self.observe(index);
    }

    fn observe(&mut self, index: usize) {
        let events = &self.trace.events[self.window_start..];
        let mut kills = Vec::new();
        // Sized once: growing it push by push was a visible share of the
        // fuzz targets' allocator time.
        let mut decisions = Vec::with_capacity(
            events
                .iter()
                .filter(|e| matches!(e, TraceEvent::Decision { .. }))
                .count(),
        );
        let mut sigsegv_handled = false;
        let mut work_loop_bound = false;
        for e in events {
            match e {
                TraceEvent::Kill { path } => kills.push(*path),
                TraceEvent::Decision { point } => decisions.push(*point),
                TraceEvent::SignalFrame { sig, .. } => sigsegv_handled |= *sig == sig::SIGSEGV,
                TraceEvent::WorkLoopBound { .. } => work_loop_bound = true,
                _ => {}
            }
        }
        let registration = V::registration(&self.tasks[self.current].1);
        // The area the kernel writes is the one the task registered, which a
        // program may put anywhere (Task::observed_area).
        if let Some(r) = registration {
            self.cur_mut().observed_area = r.addr;
        }
        let task = self.cur();
        let area = AreaBytes::peek(&self.mms[task.mm], task.observed_area, self.area_len);
        let obs = Observation {
            registration,
            trace_range: (self.window_start, self.trace.events.len()),
            step: index,
            task: self.current,
            fate: task.fate,
            ip: task.ip,
            cpu: task.cpu,
            mm_cid: task.mm_cid,
            area,
            area_addr: task.observed_area,
            syscall_ret: task.syscall_ret,
            kills,
            sigsegv_handled,
            livelock: task.livelock || work_loop_bound,
            decisions,
        };
        self.observations.push(obs);
        self.window_start = self.trace.events.len();
    }

    fn syscall(&mut self, index: usize, sc: &Syscall) {
        if self.cur().mode != Mode::User {
            self.exit_to_user(index);
        }
        if self.cur().fate != Fate::Running {
            return;
        }
        self.cur_mut().mode = Mode::Syscall;
        self.cur_mut().syscall_ret = None;
        self.cur_mut().in_syscall = Some(sc.clone());
        let cur = self.current;
        self.with_task(cur, |k| V::syscall_entry(k));
        let ret = match *sc {
            Syscall::Rseq {
                addr,
                len,
                flags,
                sig,
            } => {
                // Syscall arguments arrive in word-sized registers.
                let addr = addr & abi::word_mask(self.cfg.arch.word_bits());
                let ret = self.with_task(cur, |k| V::sys_rseq(k, addr, len, flags, sig));
                // A registration call that succeeded names the area the
                // program will look at, whether or not the kernel counts it
                // as registered (v6.18 ignores an area at 0): every release
                // is then observed at the same address.
                if ret == 0 && flags & abi::RSEQ_FLAG_UNREGISTER == 0 {
                    self.cur_mut().observed_area = addr;
                }
                ret
            }
            Syscall::Getpid => self.next_pid - 1,
            Syscall::Sigreturn => {
                let t = self.cur_mut();
                match t.frames.pop() {
                    Some(f) => {
                        t.ip = f.saved_ip;
                        t.blocked = f.saved_blocked;
                        // Signals that were blocked may be deliverable now.
                        if !t.pending.is_empty() {
                            t.tif |= tif::SIGPENDING;
                        }
                        0
                    }
                    // No frame: the kernel would find garbage on the stack
                    // and force SIGSEGV; the model keeps the task as is.
                    None => -abi::errno::EFAULT,
                }
            }
            Syscall::Fork {
                clone_vm,
                follow_child,
            } => self.fork(clone_vm, follow_child),
            Syscall::Execve { ok } => {
                self.with_task(cur, |k| V::execve(k, ok));
                if ok {
                    let (entry, layout_area) = (self.exec_entry_ip, self.layout_area);
                    let t = self.cur_mut();
                    t.ip = entry;
                    t.handlers = 0;
                    t.frames.clear();
                    // The new image has registered nothing: observe the
                    // layout's area, not the old image's last registration
                    // (which releases may disagree on, e.g. an area at 0).
                    t.observed_area = layout_area;
                    0
                } else {
                    -abi::errno::EFAULT
                }
            }
            Syscall::Membarrier { own_cpu } => {
                if own_cpu {
                    self.with_task(cur, |k| V::membarrier_ipi(k));
                }
                0
            }
            Syscall::PrctlSlice { op, arg } => self.with_task(cur, |k| V::prctl_slice(k, op, arg)),
            Syscall::SliceYield => self.with_task(cur, |k| V::slice_yield(k)),
            Syscall::KvmRun if kvm_modelled(self.cfg.arch) => {
                self.with_task(cur, |k| k.xfer_to_guest_mode_handle_work())
            }
            Syscall::KvmRun => -abi::errno::ENODEV,
        };
        // A fork that follows the child has already set the child's value.
        if !matches!(
            sc,
            Syscall::Fork {
                follow_child: true,
                ..
            }
        ) {
            self.cur_mut().syscall_ret = Some(ret);
        }
    }

    fn fork(&mut self, clone_vm: bool, follow_child: bool) -> i64 {
        let parent = self.current;
        let mm = if clone_vm {
            self.tasks[parent].0.mm
        } else {
            let pmm = self.tasks[parent].0.mm;
            let child_mm = self.mms[pmm].fork_cow();
            self.mms.push(child_mm);
            self.mms.len() - 1
        };
        let mut child_task = self.tasks[parent].0.clone();
        child_task.mm = mm;
        child_task.pending.clear();
        child_task.tif = 0;
        child_task.syscall_ret = Some(0);
        child_task.on_cpu = false;
        child_task.livelock = false;
        let child_state = V::fork(&self.tasks[parent].1, clone_vm);
        self.tasks.push((child_task, child_state));
        let child = self.tasks.len() - 1;
        // wake_up_new_task(): first placement of the child.
        self.with_task(child, |k| V::set_task_cpu(k));
        let pid = self.next_pid;
        self.next_pid += 1;
        if follow_child {
            self.tasks[parent].0.syscall_ret = Some(pid);
            self.current = child;
            let (cpu, cid) = (self.cur().cpu, self.cur().mm_cid);
            self.switch_in(cpu, cid);
        }
        pid
    }

    fn signal(&mut self, signo: u8) {
        let signo = signo.clamp(1, sig::MAX);
        let t = self.cur_mut();
        if !t.pending.iter().any(|p| p.sig == signo) {
            t.pending.push(PendingSignal {
                sig: signo,
                forced: false,
            });
        }
        t.tif |= tif::SIGPENDING;
        // signal_wake_up() kicks a task running in user mode into the kernel.
        self.ensure_kernel();
    }

    fn user_action(&mut self, index: usize, event: &Event) {
        let mm = self.cur().mm;
        match *event {
            Event::Store { addr, ref bytes } => {
                self.mms[mm].user_store(addr, bytes);
            }
            Event::SetIp { ip } => {
                self.exit_to_user(index);
                if self.cur().fate == Fate::Running {
                    // The IP register is as wide as the architecture's word.
                    self.cur_mut().ip = ip & abi::word_mask(self.cfg.arch.word_bits());
                }
            }
            Event::SetHandler {
                sig: signo,
                installed,
            } if signo < 64 => {
                let t = self.cur_mut();
                if installed {
                    t.handlers |= 1u64 << signo;
                } else {
                    t.handlers &= !(1u64 << signo);
                }
            }
            Event::Mmap { addr, state } => {
                self.mms[mm].zap_contents(addr);
                self.mms[mm].set_state(addr, state);
            }
            Event::Munmap { addr } => {
                self.mms[mm].zap_contents(addr);
                self.mms[mm].set_state(addr, PageState::Unmapped);
            }
            Event::Mprotect {
                addr,
                readable,
                writable,
            } => {
                let m = &mut self.mms[mm];
                let next = match (m.state(addr), readable, writable) {
                    // mprotect() of an unmapped page fails with ENOMEM.
                    (PageState::Unmapped, _, _) => PageState::Unmapped,
                    // Write permission does not break COW or fault pages in.
                    (
                        s @ (PageState::Cow | PageState::NotPresent | PageState::Present),
                        _,
                        true,
                    ) => s,
                    (_, _, true) => PageState::Present,
                    (_, true, false) => PageState::ReadOnly,
                    (_, false, false) => PageState::ProtNone,
                };
                m.set_state(addr, next);
            }
            Event::MadviseDontneed { addr } => {
                let m = &mut self.mms[mm];
                if m.state(addr) != PageState::Unmapped {
                    m.zap_contents(addr);
                    m.set_state(addr, PageState::NotPresent);
                }
            }
            Event::Reclaim { addr } => {
                let m = &mut self.mms[mm];
                if matches!(m.state(addr), PageState::Present | PageState::Cow) {
                    m.set_state(addr, PageState::NotPresent);
                }
            }
            _ => {}
        }
    }
}

impl<V: KernelVersion> Model for Machine<V> {
    fn version(&self) -> &'static str {
        V::NAME
    }

    fn config(&self) -> Config {
        self.cfg
    }

    /// Apply one event. Events that cannot happen in the task's current
    /// state are made possible first: a kernel event in user mode enters the
    /// kernel by an interrupt; a syscall or an IP move returns to user mode;
    /// a switch-in of a task on the CPU switches it out first. Nothing
    /// happens to a task that has died.
    fn step(&mut self, index: usize, event: &Event) {
        if self.cur().fate != Fate::Running {
            return;
        }
        self.trace.push(TraceEvent::Step { index });
        let cur = self.current;
        match event {
            Event::Syscall(sc) => self.syscall(index, sc),
            Event::Interrupt => self.enter_interrupt(),
            Event::Exception => self.enter_from_user(Mode::Exception),
            Event::SwitchOut => self.switch_out(),
            Event::SwitchIn { cpu, mm_cid } => self.switch_in(*cpu, *mm_cid),
            Event::Signal { sig } => self.signal(*sig),
            Event::MembarrierIpi => {
                self.ensure_kernel();
                self.with_task(cur, |k| V::membarrier_ipi(k));
            }
            Event::SliceTimer => {
                self.ensure_kernel();
                self.with_task(cur, |k| V::slice_timer(k));
            }
            Event::NeedResched => {
                self.ensure_kernel();
                self.cur_mut().tif |= tif::NEED_RESCHED;
            }
            Event::SliceExpiresInKernel => self.cur_mut().slice_expires_in_kernel = true,
            Event::TaskWork => {
                self.ensure_kernel();
                self.cur_mut().tif |= tif::NOTIFY_RESUME;
            }
            Event::ExitToUser => self.exit_to_user(index),
            Event::GuestEntry => {
                // Only while KVM_RUN goes on: once it has failed (-EINTR),
                // vcpu_run has returned and nothing enters the guest.
                if self.in_modelled_kvm_run() && self.cur().syscall_ret == Some(0) {
                    // Only a running task enters the guest: one that was
                    // switched out comes back first, as for the exit.
                    if !self.cur().on_cpu {
                        let (cpu, cid) = (self.cur().cpu, self.cur().mm_cid);
                        self.switch_in(cpu, cid);
                    }
                    // A pending signal makes vcpu_run return -EINTR.
                    let ret = self.with_task(cur, |k| k.xfer_to_guest_mode_handle_work());
                    if ret != 0 {
                        self.cur_mut().syscall_ret = Some(ret);
                    }
                }
            }
            _ => self.user_action(index, event),
        }
    }

    fn finish(&mut self, index: usize) {
        if self.cur().fate == Fate::Running && self.cur().mode != Mode::User {
            self.exit_to_user(index);
        }
    }

    fn observations(&self) -> &[Observation] {
        &self.observations
    }

    fn trace(&self) -> &Trace {
        &self.trace
    }

    fn current(&self) -> &Task {
        self.cur()
    }

    fn current_mem(&self) -> &UserMem {
        &self.mms[self.cur().mm]
    }

    fn rseq_state_debug(&self) -> String {
        format!("{:?}", self.version_state())
    }

    fn registration(&self) -> Option<Registration> {
        V::registration(self.version_state())
    }

    fn into_parts(self: Box<Self>) -> (Vec<Observation>, Trace) {
        (self.observations, self.trace)
    }
}

/// A short label of an event for traces and explain output.
pub fn event_label(event: &Event) -> String {
    match event {
        Event::Syscall(sc) => match sc {
            Syscall::Rseq {
                addr,
                len,
                flags,
                sig,
            } => format!("syscall rseq(addr={addr:#x}, len={len}, flags={flags:#x}, sig={sig:#x})"),
            other => format!("syscall {other:?}"),
        },
        Event::Store { addr, bytes } => format!("user store {} bytes at {addr:#x}", bytes.len()),
        Event::SetIp { ip } => format!("user ip -> {ip:#x}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::AreaBytes;
    use crate::mem::{PageState, UserMem};

    #[test]
    fn area_bytes_read_like_the_allocating_peek() {
        let mut mem = UserMem::new(0x7fff_ffff_f000);
        mem.set_state(0x1000, PageState::Present);
        mem.poke(0x1000, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let area = AreaBytes::peek(&mem, 0x1000, 32).expect("mapped");
        assert_eq!(&*area, &mem.peek(0x1000, 32).expect("mapped")[..]);
        assert_eq!(area.len(), 32);
        // A page past the end is unmapped: no bytes, as peek says.
        assert_eq!(AreaBytes::peek(&mem, 0x1ff0, 32), None);
        assert_eq!(mem.peek(0x1ff0, 32), None);
        // Equality is by contents and length, and serialization is the slice's.
        let mut other = area;
        assert_eq!(other, area);
        other[8] = 0;
        assert_ne!(other, area);
        assert_ne!(AreaBytes::peek(&mem, 0x1000, 33), Some(area));
        assert_eq!(
            serde_json::to_string(&area).unwrap(),
            serde_json::to_string(&mem.peek(0x1000, 32).unwrap()).unwrap()
        );
        // More than the capacity is capped, never a panic.
        let wide = AreaBytes::peek(&mem, 0x1000, 4096).expect("mapped");
        assert_eq!(wide.len(), AreaBytes::CAPACITY);
    }
}
