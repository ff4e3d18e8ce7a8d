//! The live harness on x86_64 Linux with glibc: a child process that runs
//! cases on the host kernel.
//!
//! How a case runs (in the child, pinned to one CPU, single-threaded):
//! 1. The case's pages in the arena get their states and contents.
//! 2. The legacy event mask is drained: one valid in-section tgkill(SIGUSR1)
//!    whose abort clears the mask (kernel/rseq.c: rseq_need_restart()).
//! 3. `rseq->flags` gets the case's value; the critical-section code
//!    ([`RUN`]) stores the case's `rseq_cs` and makes the trigger syscall.
//! 4. The signal handler records every delivery (signal, si_code, the saved
//!    RIP, `rseq_cs`) and sends the child to the resume label: nothing ever
//!    executes at an address the case chose. With the nanosleep (and
//!    membarrier) trigger the
//!    kernel returns straight to the abort IP; the parent runs such a case
//!    only when that IP is one of the code pads or a page of the arena (never
//!    executable: the jump faults and the handler records it), or when the
//!    bytes before it are not the signature (the kernel kills instead). The
//!    membarrier trigger is the same, with a second thread that only sleeps.
//! 5. The child reports the records through a socket; a death by SIGSEGV
//!    during the trigger is a fatal kill and the next case gets a new child.
//!
//! The parent bounds each case in time (poll with a timeout, then SIGKILL),
//! reaps every child it forks, and the child dies with its parent thread
//! (PR_SET_PDEATHSIG).

use super::case::{
    Layout, PageKind, Resolved, Trigger, ARENA_PAGES, CMD_WORDS, CONTROL_PAGE, GUARD_PAGES,
    OWN_AREA_OFFSET, SIG,
};
use super::slice::{
    preempted_outside_waits, AfterSyscall, ChildCounters, ChildRun, ProbeOutcome, SliceOp,
    StepCounts, WAIT_UNCHANGED,
};
use super::{LiveError, Outcome};
use crate::abi::{self, rseq, sig};
use crate::mem::PAGE_SIZE;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};

// The critical section, its syscall sites and the abort pads. Each pad is
// preceded by 4 signature bytes (right or wrong) and returns a code in eax;
// `resume` is where the signal handler sends the child. Arguments: rdi
// points at a `Params`.
std::arch::global_asm!(
    ".pushsection .text.rseq_fuzz_live,\"ax\",@progbits",
    ".p2align 6",
    ".globl rseq_fuzz_live_run",
    ".type rseq_fuzz_live_run,@function",
    "rseq_fuzz_live_run:",
    "push rbx",
    "push r12",
    "mov rbx, rdi",
    "mov r12, qword ptr [rbx]",
    "mov rcx, qword ptr [rbx + 8]",
    "mov rax, qword ptr [rbx + 16]",
    "mov rdi, qword ptr [rbx + 24]",
    "mov rsi, qword ptr [rbx + 32]",
    "mov rdx, qword ptr [rbx + 40]",
    "cmp qword ptr [rbx + 48], 0",
    "jne .Lrfl_outside",
    "jmp .Lrfl_inside",
    ".long 0x53053053",
    ".globl rseq_fuzz_live_pad_pre",
    "rseq_fuzz_live_pad_pre:",
    "mov eax, 1",
    "jmp .Lrfl_done",
    ".Lrfl_inside:",
    "mov qword ptr [r12], rcx",
    ".globl rseq_fuzz_live_cs_start",
    "rseq_fuzz_live_cs_start:",
    "nop",
    "syscall",
    ".globl rseq_fuzz_live_site_in",
    "rseq_fuzz_live_site_in:",
    "xor eax, eax",
    "jmp .Lrfl_done",
    ".long 0x53053053",
    ".globl rseq_fuzz_live_cs_end",
    "rseq_fuzz_live_cs_end:",
    "mov eax, 2",
    "jmp .Lrfl_done",
    ".Lrfl_outside:",
    "mov qword ptr [r12], rcx",
    "syscall",
    ".globl rseq_fuzz_live_site_out",
    "rseq_fuzz_live_site_out:",
    "xor eax, eax",
    "jmp .Lrfl_done",
    ".long 0x53053053",
    ".globl rseq_fuzz_live_pad_good",
    "rseq_fuzz_live_pad_good:",
    "mov eax, 3",
    "jmp .Lrfl_done",
    ".long 0x53053054",
    ".globl rseq_fuzz_live_pad_bad_sig",
    "rseq_fuzz_live_pad_bad_sig:",
    "mov eax, 4",
    "jmp .Lrfl_done",
    ".long 0x53053053",
    ".globl rseq_fuzz_live_pad_drain",
    "rseq_fuzz_live_pad_drain:",
    "mov eax, 5",
    "jmp .Lrfl_done",
    ".globl rseq_fuzz_live_resume",
    "rseq_fuzz_live_resume:",
    "mov eax, 6",
    ".Lrfl_done:",
    "mov rcx, qword ptr [r12]",
    "mov qword ptr [rbx + 56], rcx",
    "mov qword ptr [r12], 0",
    "pop r12",
    "pop rbx",
    "ret",
    ".globl rseq_fuzz_live_end",
    "rseq_fuzz_live_end:",
    ".size rseq_fuzz_live_run, .-rseq_fuzz_live_run",
    // A second thread for the membarrier trigger: clone(flags in rdi, stack
    // top in rsi); the new thread blocks every signal and pauses forever.
    // It never touches TLS, memory or rseq (a CLONE_VM child is unregistered).
    ".globl rseq_fuzz_live_sleeper",
    ".type rseq_fuzz_live_sleeper,@function",
    "rseq_fuzz_live_sleeper:",
    "mov eax, 56",
    "xor edx, edx",
    "xor r10d, r10d",
    "xor r8d, r8d",
    "syscall",
    "test rax, rax",
    "jnz .Lrfl_sleeper_parent",
    "mov eax, 14",
    "xor edi, edi",
    "lea rsi, [rip + .Lrfl_all_signals]",
    "xor edx, edx",
    "mov r10d, 8",
    "syscall",
    ".Lrfl_sleeper_loop:",
    "mov eax, 34",
    "syscall",
    "jmp .Lrfl_sleeper_loop",
    ".Lrfl_sleeper_parent:",
    "ret",
    ".p2align 3",
    ".Lrfl_all_signals:",
    ".quad -1",
    ".size rseq_fuzz_live_sleeper, .-rseq_fuzz_live_sleeper",
    ".popsection",
);

/// What `rseq_fuzz_live_run` reads (and writes back in `out_rseq_cs`).
#[repr(C)]
struct Params {
    area_rseq_cs: u64,
    value: u64,
    nr: u64,
    a0: u64,
    a1: u64,
    a2: u64,
    outside: u64,
    out_rseq_cs: u64,
}

extern "C" {
    fn rseq_fuzz_live_run(p: *mut Params) -> u64;
    fn rseq_fuzz_live_sleeper(flags: u64, stack_top: u64) -> i64;
    static rseq_fuzz_live_pad_pre: u8;
    static rseq_fuzz_live_cs_start: u8;
    static rseq_fuzz_live_site_in: u8;
    static rseq_fuzz_live_cs_end: u8;
    static rseq_fuzz_live_site_out: u8;
    static rseq_fuzz_live_pad_good: u8;
    static rseq_fuzz_live_pad_bad_sig: u8;
    static rseq_fuzz_live_pad_drain: u8;
    static rseq_fuzz_live_resume: u8;
    static rseq_fuzz_live_end: u8;
}

/// Codes `rseq_fuzz_live_run` returns.
const CODE_FELL_THROUGH: u64 = 0;
const CODE_PADS: [u64; 5] = [1, 2, 3, 4, 5];
const CODE_RESUMED: u64 = 6;

/// Where the harness maps its arena in the child.
const ARENA_BASE: u64 = 0x3a5e_7000_0000;
/// How long one case may take before the child is killed.
const CASE_TIMEOUT_MS: i32 = 2000;

const RES_WORDS: usize = 32;
/// Result word: the thread's voluntary context switches during the case.
const RES_SWITCHES: usize = 31;
// The signal log (from word 5) and the CPU (word 30) stay below it.
const _: () = assert!(5 + LOG_MAX * LOG_FIELDS <= 30 && RES_SWITCHES < RES_WORDS);
/// A command word pair that makes the child hang (tests of the time bound).
const STALL_MAGIC: u64 = 0x5354_414c_4c21_2121;
const LOG_MAX: usize = 5;
const LOG_FIELDS: usize = 5;
const RES_STATUS_OK: u64 = 0;
const RES_STATUS_DRAIN: u64 = 1;
const RES_STATUS_SETUP: u64 = 2;

/// include/uapi/linux/membarrier.h.
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ: u64 = 1 << 7;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ: u64 = 1 << 8;
const MEMBARRIER_CMD_FLAG_CPU: u64 = 1;
/// The page-set-up step that means "membarrier is not available".
const STEP_NO_MEMBARRIER: u64 = 20;

const STAGE_IDLE: u64 = 0;
const STAGE_TRIGGER: u64 = 1;

// State the child's signal handler reads and writes (atomics only: the
// handler must be async-signal-safe).
static AREA_RSEQ_CS: AtomicU64 = AtomicU64::new(0);
static HANDLER_ENTRY: AtomicU64 = AtomicU64::new(0);
static IN_CASE: AtomicBool = AtomicBool::new(false);
static TRIGGER_SIG: AtomicU64 = AtomicU64::new(0);
static LOG_LEN: AtomicUsize = AtomicUsize::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const LOG_ZERO: AtomicU64 = AtomicU64::new(0);
static LOG: [AtomicU64; LOG_MAX * LOG_FIELDS] = [LOG_ZERO; LOG_MAX * LOG_FIELDS];

fn sym(p: &u8) -> u64 {
    p as *const u8 as u64
}

/// Read the thread pointer (the TCB glibc's `__rseq_offset` is relative to).
fn thread_pointer() -> u64 {
    let tp: u64;
    // SAFETY: fs:0 holds the TCB's self pointer on x86_64 glibc; reading it
    // has no side effect.
    unsafe { std::arch::asm!("mov {}, qword ptr fs:0", out(reg) tp, options(nostack, readonly)) };
    tp
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The architecture of this host: x86_64, with 5-level paging when the CPU
/// has la57 (the kernel then uses it, and TASK_SIZE is larger).
pub fn host_arch() -> crate::abi::Arch {
    let la57 = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("flags"))
                .is_some_and(|l| l.split_whitespace().any(|f| f == "la57"))
        })
        .unwrap_or(false);
    if la57 {
        crate::abi::Arch::X86_64La57
    } else {
        crate::abi::Arch::X86_64
    }
}

/// libc's registration of this thread, as (area, length), or None when
/// libc did not register one.
fn libc_registration() -> Result<Option<(u64, u32)>, String> {
    // glibc >= 2.35 exports __rseq_offset (the area's offset from the thread
    // pointer) and __rseq_size (0 when it did not register). Looked up at
    // run time so that older glibc still links; without them the child
    // registers its own area.
    // SAFETY: dlsym with NUL-terminated names; the symbols, when present,
    // are plain data of the stated types.
    let (offset, size) = unsafe {
        let off = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr());
        let size = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr());
        if off.is_null() || size.is_null() {
            (0isize, 0u32)
        } else {
            (*(off as *const isize), *(size as *const u32))
        }
    };
    if size == 0 {
        return Ok(None);
    }
    let area = thread_pointer().wrapping_add(offset as u64);
    // rseq(area, len, 0, SIG) on a thread registered with exactly these
    // arguments answers EBUSY: that proves the registration.
    for len in [32u32, size] {
        // SAFETY: the kernel only compares the arguments with the
        // registration and returns; nothing is written.
        let r = unsafe { libc::syscall(libc::SYS_rseq, area, len, 0, SIG) };
        if r == -1 && errno() == libc::EBUSY {
            return Ok(Some((area, len)));
        }
    }
    Err(format!(
        "unsupported: libc's rseq area at {area:#x} (size {size}) is not registered with signature {SIG:#x}"
    ))
}

/// The real addresses of this process, or why the host is unsupported.
pub fn probe_layout() -> Result<Layout, String> {
    let arch = host_arch();
    let (area, area_len) = match libc_registration()? {
        Some(reg) => reg,
        None => (
            ARENA_BASE + CONTROL_PAGE * PAGE_SIZE + OWN_AREA_OFFSET,
            super::own_area_len().map_err(|e| format!("unsupported: {e}"))?,
        ),
    };
    // SAFETY: taking the addresses of the assembly labels above.
    let l = unsafe {
        Layout {
            cs_start: sym(&rseq_fuzz_live_cs_start),
            site_in: sym(&rseq_fuzz_live_site_in),
            cs_end: sym(&rseq_fuzz_live_cs_end),
            site_out: sym(&rseq_fuzz_live_site_out),
            pad_pre: sym(&rseq_fuzz_live_pad_pre),
            pad_good: sym(&rseq_fuzz_live_pad_good),
            pad_bad_sig: sym(&rseq_fuzz_live_pad_bad_sig),
            pad_drain: sym(&rseq_fuzz_live_pad_drain),
            resume: sym(&rseq_fuzz_live_resume),
            handler: on_signal as *const () as u64,
            code_lo: rseq_fuzz_live_run as *const () as u64,
            code_hi: sym(&rseq_fuzz_live_end),
            arena: ARENA_BASE,
            top: Some(arch.task_size() - PAGE_SIZE),
            task_size: arch.task_size(),
            area,
            area_len,
            cpu: pick_cpu(),
        }
    };
    Ok(l)
}

/// The lowest CPU this thread may run on.
fn pick_cpu() -> u32 {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            for c in 0..libc::CPU_SETSIZE as usize {
                if libc::CPU_ISSET(c, &set) {
                    return c as u32;
                }
            }
        }
    }
    0
}

/// Whether the area was registered by the harness (libc did not).
fn own_area(l: &Layout) -> bool {
    l.area == ARENA_BASE + CONTROL_PAGE * PAGE_SIZE + OWN_AREA_OFFSET
}

// ---------------------------------------------------------------------------
// The child.

/// The signal handler for SIGUSR1 and SIGSEGV in the child.
extern "C" fn on_signal(signo: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext (SA_SIGINFO);
    // AREA_RSEQ_CS is the registered area's rseq_cs field of this thread.
    unsafe {
        let uc = ctx as *mut libc::ucontext_t;
        let rip = (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as u64;
        let code = (*info).si_code;
        let addr = (*info).si_addr() as u64;
        let cs_ptr = AREA_RSEQ_CS.load(SeqCst) as *mut u64;
        let cs = std::ptr::read_volatile(cs_ptr);
        let n = LOG_LEN.load(SeqCst);
        if n < LOG_MAX {
            let e = [signo as u64, code as i64 as u64, rip, cs, addr];
            for (i, v) in e.iter().enumerate() {
                LOG[n * LOG_FIELDS + i].store(*v, SeqCst);
            }
            LOG_LEN.store(n + 1, SeqCst);
        }
        // Nothing stays blocked after this handler returns.
        std::ptr::write_bytes(
            &mut (*uc).uc_sigmask as *mut libc::sigset_t as *mut u8,
            0,
            std::mem::size_of::<libc::sigset_t>(),
        );
        if rip == HANDLER_ENTRY.load(SeqCst) {
            // Delivered on top of a frame that is about to enter this
            // handler: return into it, it records its own signal. Disarm
            // rseq_cs first: this return is an rt_sigreturn syscall, and a
            // debug kernel checks rseq_cs at every syscall exit
            // (__rseq_debug_syscall_return()). With a bad rseq_cs left in
            // place each return forced another SIGSEGV into this handler,
            // a loop that a preemption ended in a fatal force_sigsegv() in
            // V2 mode: not the case's outcome, which the outer frame's
            // entry has already recorded (LOG holds rseq_cs as found).
            if IN_CASE.load(SeqCst) {
                std::ptr::write_volatile(cs_ptr, 0);
            }
            return;
        }
        let in_code =
            rip >= (rseq_fuzz_live_run as *const () as u64) && rip < sym(&rseq_fuzz_live_end);
        let trigger = signo as u64 == TRIGGER_SIG.load(SeqCst) && code == libc::SI_TKILL;
        let jump_fault = signo == libc::SIGSEGV && code != libc::SI_KERNEL && addr == rip;
        if IN_CASE.load(SeqCst) && (in_code || trigger || jump_fault) {
            // The interrupted registers are those of rseq_fuzz_live_run:
            // disarm rseq_cs and continue at its resume label.
            std::ptr::write_volatile(cs_ptr, 0);
            (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] = sym(&rseq_fuzz_live_resume) as i64;
            return;
        }
        // Not a signal of a case: a harness bug. Report it by the exit code.
        libc::_exit(90 + (signo & 7));
    }
}

struct ChildCtx {
    layout: Layout,
    memfd: i32,
    pid: u64,
    tid: u64,
    shared: *mut u64,
    top_free: bool,
    /// The sleeping second thread exists and membarrier RSEQ is registered.
    membarrier_ready: bool,
    /// The previous case, whose pages may be reused.
    prev: Option<Resolved>,
    /// The kernel keeps legacy's event mask across returns (6.18 and
    /// before), which each case drains first. The rework clears its events
    /// on every return, and its debug mode kills the drain's syscall from
    /// inside a section (__rseq_debug_syscall_return()).
    drain_event_mask: bool,
    /// The thread's timer slack (PR_SET_TIMERSLACK), which makes the
    /// nanosleep trigger sleep: 50 us, raised when a nanosleep did not.
    timer_slack_ns: u64,
}

/// The timer slack a child starts with (the kernel's default).
const TIMER_SLACK_NS: u64 = 50_000;
/// The most a child raises it to.
const TIMER_SLACK_MAX_NS: u64 = 10_000_000;

/// Whether page `page` of `kind` would get the same contents for `new` as it
/// got for `old` (the kernel only reads such pages, so they are unchanged).
fn same_page(old: &Resolved, new: &Resolved, page: u64, kind: PageKind) -> bool {
    let old_kind = old.pages.iter().find(|(a, _)| *a == page).map(|(_, k)| *k);
    if old_kind != Some(kind)
        || !matches!(
            kind,
            PageKind::Present | PageKind::ReadOnly | PageKind::ProtNone | PageKind::Unmapped
        )
    {
        return false;
    }
    let in_page = |a: u64| a >= page && a - page < PAGE_SIZE;
    for r in [old, new] {
        for (base, bytes) in r.writes() {
            for i in 0..bytes.len() as u64 {
                let a = base.wrapping_add(i);
                if in_page(a) && old.placed_byte(a) != new.placed_byte(a) {
                    return false;
                }
            }
        }
    }
    true
}

/// Write `words` to the socket completely (no allocation; MSG_NOSIGNAL: a
/// dead peer is an error, never a SIGPIPE).
fn write_words(fd: i32, words: &[u64]) -> bool {
    let bytes = std::mem::size_of_val(words);
    let mut done = 0usize;
    while done < bytes {
        // SAFETY: the range lies inside `words`.
        let r = unsafe {
            libc::send(
                fd,
                (words.as_ptr() as *const u8).add(done) as *const libc::c_void,
                bytes - done,
                libc::MSG_NOSIGNAL,
            )
        };
        if r <= 0 {
            if r < 0 && errno() == libc::EINTR {
                continue;
            }
            return false;
        }
        done += r as usize;
    }
    true
}

/// Read exactly `words.len()` words; false on EOF or error.
fn read_words(fd: i32, words: &mut [u64]) -> bool {
    let bytes = std::mem::size_of_val(words);
    let mut done = 0usize;
    while done < bytes {
        // SAFETY: the range lies inside `words`.
        let r = unsafe {
            libc::read(
                fd,
                (words.as_mut_ptr() as *mut u8).add(done) as *mut libc::c_void,
                bytes - done,
            )
        };
        if r <= 0 {
            if r < 0 && errno() == libc::EINTR {
                continue;
            }
            return false;
        }
        done += r as usize;
    }
    true
}

/// Map one page at exactly `addr`; false if anything else is there.
unsafe fn map_page(addr: u64, prot: i32, flags: i32, fd: i32, off: i64) -> bool {
    let p = libc::mmap(
        addr as *mut libc::c_void,
        PAGE_SIZE as usize,
        prot,
        flags | libc::MAP_FIXED_NOREPLACE,
        fd,
        off,
    );
    if p == libc::MAP_FAILED {
        return false;
    }
    if p as u64 != addr {
        // A kernel without MAP_FIXED_NOREPLACE placed it elsewhere.
        libc::munmap(p, PAGE_SIZE as usize);
        return false;
    }
    true
}

/// Give one case page its state and the placed bytes.
unsafe fn set_page(c: &ChildCtx, res: &Resolved, addr: u64, kind: PageKind) -> Result<(), u64> {
    if addr == 0 {
        return Ok(());
    }
    let is_top = Some(addr) == c.layout.top;
    if is_top && !c.top_free {
        return if kind == PageKind::Unmapped {
            Ok(())
        } else {
            Err(10)
        };
    }
    libc::munmap(addr as *mut libc::c_void, PAGE_SIZE as usize);
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    let ok = match kind {
        PageKind::Unmapped => return Ok(()),
        PageKind::AnonUntouched => {
            return if map_page(addr, rw, anon, -1, 0) {
                Ok(())
            } else {
                Err(11)
            }
        }
        PageKind::MemfdDontneed => {
            let off = if is_top {
                ARENA_PAGES * PAGE_SIZE
            } else {
                addr - c.layout.arena
            };
            map_page(addr, rw, libc::MAP_SHARED, c.memfd, off as i64)
        }
        _ => map_page(addr, rw, anon, -1, 0),
    };
    if !ok {
        return Err(12);
    }
    if kind == PageKind::MemfdDontneed {
        // The file keeps what earlier cases wrote: start from zeroes.
        std::ptr::write_bytes(addr as *mut u8, 0, PAGE_SIZE as usize);
    }
    for (base, bytes) in res.writes() {
        for (i, b) in bytes.iter().enumerate() {
            let a = base.wrapping_add(i as u64);
            if a >= addr && a - addr < PAGE_SIZE && res.placed_byte(a) == Some(*b) {
                std::ptr::write_volatile(a as *mut u8, *b);
            }
        }
    }
    let r = match kind {
        PageKind::ReadOnly => libc::mprotect(
            addr as *mut libc::c_void,
            PAGE_SIZE as usize,
            libc::PROT_READ,
        ),
        PageKind::ProtNone => libc::mprotect(
            addr as *mut libc::c_void,
            PAGE_SIZE as usize,
            libc::PROT_NONE,
        ),
        PageKind::MemfdDontneed => libc::madvise(
            addr as *mut libc::c_void,
            PAGE_SIZE as usize,
            libc::MADV_DONTNEED,
        ),
        _ => 0,
    };
    if r != 0 {
        return Err(13);
    }
    Ok(())
}

/// Run the critical section once with `value` in rseq_cs.
unsafe fn run_cs(c: &ChildCtx, value: u64, trigger: Trigger, outside: bool) -> (u64, u64) {
    static TS: libc::timespec = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1,
    };
    let (nr, a0, a1, a2) = match trigger {
        Trigger::Tgkill => (libc::SYS_tgkill as u64, c.pid, c.tid, sig::SIGUSR1 as u64),
        Trigger::TgkillSegv => (libc::SYS_tgkill as u64, c.pid, c.tid, sig::SIGSEGV as u64),
        Trigger::Nanosleep => (
            libc::SYS_nanosleep as u64,
            &TS as *const libc::timespec as u64,
            0,
            0,
        ),
        Trigger::Membarrier => (
            libc::SYS_membarrier as u64,
            MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
            MEMBARRIER_CMD_FLAG_CPU,
            c.layout.cpu as u64,
        ),
    };
    let mut p = Params {
        area_rseq_cs: c.layout.area + rseq::RSEQ_CS,
        value,
        nr,
        a0,
        a1,
        a2,
        outside: outside as u64,
        out_rseq_cs: 0,
    };
    LOG_LEN.store(0, SeqCst);
    TRIGGER_SIG.store(trigger.signal().map_or(0, u64::from), SeqCst);
    IN_CASE.store(true, SeqCst);
    let code = rseq_fuzz_live_run(&mut p);
    IN_CASE.store(false, SeqCst);
    (code, p.out_rseq_cs)
}

unsafe fn install_handlers() -> bool {
    let mut sa: libc::sigaction = std::mem::zeroed();
    sa.sa_sigaction = on_signal as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
    libc::sigemptyset(&mut sa.sa_mask);
    libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()) == 0
        && libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut()) == 0
}

/// Start the sleeping second thread and register for membarrier RSEQ.
unsafe fn membarrier_setup(c: &mut ChildCtx) -> bool {
    if c.membarrier_ready {
        return true;
    }
    const STACK: usize = 64 * 1024;
    let stack = libc::mmap(
        std::ptr::null_mut(),
        STACK,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0,
    );
    if stack == libc::MAP_FAILED {
        return false;
    }
    let flags = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM) as u64;
    if rseq_fuzz_live_sleeper(flags, stack as u64 + STACK as u64) <= 0 {
        return false;
    }
    let r = libc::syscall(
        libc::SYS_membarrier,
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
        0,
        0,
    );
    c.membarrier_ready = r == 0;
    c.membarrier_ready
}

unsafe fn child_case(c: &mut ChildCtx, res: &Resolved) -> [u64; RES_WORDS] {
    let mut out = [0u64; RES_WORDS];
    if res.trigger == Trigger::Membarrier && !membarrier_setup(c) {
        out[0] = RES_STATUS_SETUP;
        out[1] = STEP_NO_MEMBARRIER << 32 | errno() as u32 as u64;
        return out;
    }
    let prev = c.prev.take();
    for (addr, kind) in res.pages {
        if prev.as_ref().is_some_and(|p| same_page(p, res, addr, kind)) {
            continue;
        }
        if let Err(step) = set_page(c, res, addr, kind) {
            out[0] = RES_STATUS_SETUP;
            out[1] = step << 32 | errno() as u32 as u64;
            return out;
        }
    }
    c.prev = Some(res.clone());
    // A nanosleep trigger tests something only if the task slept (and so
    // was switched out and back): under QEMU's TCG the 1 ns timer has at
    // times expired before the task could sleep, and the kernel then had
    // no reason to look at the section. Count the thread's voluntary
    // context switches across the case, with rseq_cs clear on both sides,
    // and before the drain, which clears any event this syscall leaves.
    let switches_before = voluntary_switches();
    // Drain the event mask: a valid in-section self-signal aborts to
    // pad_drain (a stray preemption before the syscall does the same).
    if c.drain_event_mask {
        let drain = c.layout.arena + CONTROL_PAGE * PAGE_SIZE;
        let (code, _) = run_cs(c, drain, Trigger::Tgkill, false);
        let drained = code == 5
            || (code == CODE_RESUMED
                && LOG_LEN.load(SeqCst) >= 1
                && LOG[2].load(SeqCst) == c.layout.pad_drain);
        if !drained {
            out[0] = RES_STATUS_DRAIN;
            out[1] = code;
            return out;
        }
    }
    let flags = (c.layout.area + rseq::FLAGS) as *mut u32;
    std::ptr::write_volatile(flags, res.area_flags);
    std::ptr::write_volatile(c.shared, STAGE_TRIGGER);
    let outside = res.site_ip != c.layout.site_in;
    let (code, cs_after) = run_cs(c, res.rseq_cs, res.trigger, outside);
    std::ptr::write_volatile(c.shared, STAGE_IDLE);
    std::ptr::write_volatile(flags, 0);
    let n = LOG_LEN.load(SeqCst);
    out[0] = RES_STATUS_OK;
    out[2] = code;
    out[3] = cs_after;
    out[4] = n as u64;
    for i in 0..n * LOG_FIELDS {
        out[5 + i] = LOG[i].load(SeqCst);
    }
    // A kernel SIGSEGV the handler survived may have reset nothing, but a
    // fresh handler costs one syscall only then.
    if (0..n).any(|i| LOG[i * LOG_FIELDS].load(SeqCst) == libc::SIGSEGV as u64) {
        install_handlers();
    }
    out[30] = libc::sched_getcpu() as u64;
    out[RES_SWITCHES] = voluntary_switches().wrapping_sub(switches_before);
    // Under QEMU's TCG, 50 us of slack can pass before the task gets to
    // sleep: the parent runs such a case again, and from now on this child
    // gives the timer four times the room, up to 10 ms.
    if res.trigger == Trigger::Nanosleep
        && out[RES_SWITCHES] == 0
        && c.timer_slack_ns < TIMER_SLACK_MAX_NS
    {
        c.timer_slack_ns = (c.timer_slack_ns * 4).min(TIMER_SLACK_MAX_NS);
        libc::prctl(libc::PR_SET_TIMERSLACK, c.timer_slack_ns);
    }
    out
}

/// The calling thread's voluntary context switches so far
/// (getrusage(RUSAGE_THREAD).ru_nvcsw).
unsafe fn voluntary_switches() -> u64 {
    let mut usage: libc::rusage = std::mem::zeroed();
    libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
    usage.ru_nvcsw as u64
}

/// Set up the child; returns the ready message.
unsafe fn child_init(c: &mut ChildCtx, parent: libc::pid_t) -> [u64; 4] {
    let mut ready = [0u64; 4];
    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
        libc::_exit(80);
    }
    let nocore = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    libc::setrlimit(libc::RLIMIT_CORE, &nocore);
    // Pin to the CPU the child starts on: moving to another one would make
    // it wait there for the running task's time slice.
    let here = libc::sched_getcpu();
    if here >= 0 {
        c.layout.cpu = here as u32;
    }
    let mut set: libc::cpu_set_t = std::mem::zeroed();
    libc::CPU_SET(c.layout.cpu as usize, &mut set);
    if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
        ready[0] = 1;
        ready[2] = errno() as u64;
        return ready;
    }
    // nanosleep(1 ns) sleeps (and so switches out and back, which runs the
    // fixup) only thanks to the timer slack: with a slack of 1 ns (or under
    // SCHED_FIFO, where it is ignored) the timer has expired before the
    // task would sleep and nothing happens. Use the default 50 us whatever
    // the parent set (child_case raises it where that is not enough).
    libc::prctl(libc::PR_SET_TIMERSLACK, c.timer_slack_ns);
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    HANDLER_ENTRY.store(on_signal as *const () as u64, SeqCst);
    AREA_RSEQ_CS.store(c.layout.area + rseq::RSEQ_CS, SeqCst);
    if !install_handlers() {
        ready[0] = 2;
        ready[2] = errno() as u64;
        return ready;
    }
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    let control = c.layout.arena + CONTROL_PAGE * PAGE_SIZE;
    if !map_page(control, rw, anon, -1, 0) {
        ready[0] = 3;
        ready[2] = errno() as u64;
        return ready;
    }
    for g in GUARD_PAGES {
        if !map_page(c.layout.arena_page(g), libc::PROT_NONE, anon, -1, 0) {
            ready[0] = 4;
            ready[2] = errno() as u64;
            return ready;
        }
    }
    let d = super::model::drain_desc(&c.layout);
    std::ptr::copy_nonoverlapping(d.as_ptr(), control as *mut u8, d.len());
    c.memfd = libc::memfd_create(c"rseq-fuzz-live".as_ptr(), libc::MFD_CLOEXEC);
    if c.memfd < 0 || libc::ftruncate(c.memfd, ((ARENA_PAGES + 1) * PAGE_SIZE) as i64) != 0 {
        ready[0] = 5;
        ready[2] = errno() as u64;
        return ready;
    }
    if let Some(top) = c.layout.top {
        c.top_free = map_page(top, rw, anon, -1, 0);
        if c.top_free {
            libc::munmap(top as *mut libc::c_void, PAGE_SIZE as usize);
        }
    }
    if own_area(&c.layout) {
        let r = libc::syscall(libc::SYS_rseq, c.layout.area, c.layout.area_len, 0, SIG);
        if r != 0 {
            ready[0] = 6;
            ready[2] = errno() as u64;
            return ready;
        }
    }
    c.pid = libc::getpid() as u64;
    c.tid = libc::gettid() as u64;
    ready[1] = c.top_free as u64;
    ready[3] = c.layout.cpu as u64;
    ready
}

/// Close every descriptor but the socket (descriptors of other harnesses in
/// the same parent must not stay open here).
unsafe fn close_others(fd: i32) {
    let ranges = [(3, fd - 1), (fd + 1, i32::MAX)];
    for (first, last) in ranges {
        if first <= last {
            libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32);
        }
    }
}

unsafe fn child_main(layout: &Layout, sock: i32, shared: *mut u64, parent: libc::pid_t) -> ! {
    close_others(sock);
    let mut c = ChildCtx {
        layout: layout.clone(),
        memfd: -1,
        pid: 0,
        tid: 0,
        shared,
        top_free: false,
        membarrier_ready: false,
        prev: None,
        drain_event_mask: super::model_name_for_release(&super::host_release())
            .is_none_or(|m| m == "v6.18"),
        timer_slack_ns: TIMER_SLACK_NS,
    };
    let ready = child_init(&mut c, parent);
    if !write_words(sock, &ready) || ready[0] != 0 {
        libc::_exit(81);
    }
    let mut w = [0u64; CMD_WORDS];
    loop {
        if !read_words(sock, &mut w) {
            libc::_exit(0);
        }
        if w[0] == STALL_MAGIC && w[1] == STALL_MAGIC {
            // Test hook: a case that never ends.
            loop {
                libc::pause();
            }
        }
        let r = Resolved::from_words(&w);
        let out = child_case(&mut c, &r);
        if !write_words(sock, &out) {
            libc::_exit(82);
        }
    }
}

// ---------------------------------------------------------------------------
// The parent.

struct Child {
    pid: libc::pid_t,
    /// The parent's end of the socket pair.
    sock: i32,
}

/// The live harness: the layout and the current child.
pub struct Harness {
    layout: Layout,
    child: Option<Child>,
    /// A shared page: the child's stage (idle / trigger).
    shared: *mut u64,
    pub forks: u64,
}

// SAFETY (for Send): the raw pointer is a private shared mapping owned by
// the harness; nothing else aliases it in this process.
unsafe impl Send for Harness {}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop_child();
        // SAFETY: `shared` is the page mapped in `new`, unmapped once.
        unsafe { libc::munmap(self.shared as *mut libc::c_void, PAGE_SIZE as usize) };
    }
}

impl Harness {
    pub fn new() -> Result<Harness, String> {
        let layout = probe_layout()?;
        // SAFETY: a fresh shared anonymous page.
        let shared = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE_SIZE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if shared == libc::MAP_FAILED {
            return Err(format!(
                "unsupported: mmap of a shared page failed (errno {})",
                errno()
            ));
        }
        let mut h = Harness {
            layout,
            child: None,
            shared: shared as *mut u64,
            forks: 0,
        };
        h.spawn()?;
        Ok(h)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut sv = [0i32; 2];
        // SAFETY: plain socketpair/fork; the child runs only async-signal-safe
        // libc calls and never returns from child_main.
        unsafe {
            let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
            if libc::socketpair(libc::AF_UNIX, kind, 0, sv.as_mut_ptr()) != 0 {
                return Err(format!("socketpair failed (errno {})", errno()));
            }
            std::ptr::write_volatile(self.shared, STAGE_IDLE);
            let parent = libc::getpid();
            let pid = libc::fork();
            if pid == 0 {
                libc::close(sv[0]);
                child_main(&self.layout, sv[1], self.shared, parent);
            }
            libc::close(sv[1]);
            if pid < 0 {
                libc::close(sv[0]);
                return Err(format!("fork failed (errno {})", errno()));
            }
            self.forks += 1;
            self.child = Some(Child { pid, sock: sv[0] });
        }
        let mut ready = [0u64; 4];
        if !self.wait_words(&mut ready, 5000) {
            let st = self.stop_child();
            return Err(format!(
                "unsupported: the harness child did not start ({st})"
            ));
        }
        if ready[0] != 0 {
            self.stop_child();
            return Err(format!(
                "unsupported: harness child set-up step {} failed (errno {})",
                ready[0], ready[2]
            ));
        }
        if ready[1] == 0 {
            self.layout.top = None;
        }
        self.layout.cpu = ready[3] as u32;
        Ok(())
    }

    /// Wait up to `ms` for a full message from the child.
    fn wait_words(&mut self, words: &mut [u64], ms: i32) -> bool {
        let Some(c) = &self.child else { return false };
        let mut pfd = libc::pollfd {
            fd: c.sock,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        r == 1 && read_words(c.sock, words)
    }

    /// Kill and reap the child; describes how it ended.
    fn stop_child(&mut self) -> String {
        let Some(c) = self.child.take() else {
            return "no child".into();
        };
        let mut status = 0;
        // SAFETY: signalling and reaping our own child by its pid.
        unsafe {
            libc::close(c.sock);
            let mut r = libc::waitpid(c.pid, &mut status, libc::WNOHANG);
            if r == 0 {
                libc::kill(c.pid, libc::SIGKILL);
                r = libc::waitpid(c.pid, &mut status, 0);
            }
            if r != c.pid {
                return format!("waitpid failed (errno {})", errno());
            }
        }
        describe_status(status)
    }

    /// Reap a child that closed its pipe; its wait status.
    fn reap(&mut self) -> i32 {
        let Some(c) = self.child.take() else { return 0 };
        let mut status = 0;
        // SAFETY: reaping our own child; it has exited or is exiting.
        unsafe {
            libc::close(c.sock);
            if libc::waitpid(c.pid, &mut status, 0) != c.pid {
                libc::kill(c.pid, libc::SIGKILL);
                libc::waitpid(c.pid, &mut status, 0);
            }
        }
        status
    }

    /// Read `buf.len()` bytes of the child's memory at `addr` the way the
    /// kernel's uaccess would see them (process_vm_readv: no fault is
    /// taken in the child's name, unreadable pages fail).
    pub fn peek(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        if self.child.is_none() && self.spawn().is_err() {
            return false;
        }
        let Some(c) = &self.child else { return false };
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` covers `buf`; the remote side is checked by the kernel.
        let n = unsafe { libc::process_vm_readv(c.pid, &local, 1, &remote, 1, 0) };
        n == buf.len() as isize
    }

    /// Run one resolved case in the child.
    pub fn run(&mut self, res: &Resolved) -> Result<Outcome, LiveError> {
        self.run_words(res, &res.to_words())
    }

    /// Make the child hang, to test the time bound.
    pub fn stall(&mut self, res: &Resolved) -> Result<Outcome, LiveError> {
        let mut w = [0u64; CMD_WORDS];
        w[0] = STALL_MAGIC;
        w[1] = STALL_MAGIC;
        self.run_words(res, &w)
    }

    fn run_words(
        &mut self,
        res: &Resolved,
        words: &[u64; CMD_WORDS],
    ) -> Result<Outcome, LiveError> {
        if self.child.is_none() {
            self.spawn().map_err(LiveError::Harness)?;
        }
        let fd = self.child.as_ref().map_or(-1, |c| c.sock);
        if !write_words(fd, words) {
            let st = self.stop_child();
            return Err(LiveError::Harness(format!(
                "the child stopped reading ({st})"
            )));
        }
        let mut out = [0u64; RES_WORDS];
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, CASE_TIMEOUT_MS) };
        if r != 1 {
            let st = self.stop_child();
            return Err(LiveError::TimedOut(format!(
                "case timed out after {CASE_TIMEOUT_MS} ms; child killed ({st})"
            )));
        }
        if !read_words(fd, &mut out) {
            // The child died: a fatal kill if SIGSEGV took it during the trigger.
            // SAFETY: the shared page stays mapped while the harness lives.
            let stage = unsafe { std::ptr::read_volatile(self.shared) };
            let status = self.reap();
            let segv = libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV;
            if segv && stage == STAGE_TRIGGER {
                return Ok(Outcome::Killed { fatal: true });
            }
            return Err(LiveError::Harness(format!(
                "the child died outside a trigger: {} (stage {stage})",
                describe_status(status)
            )));
        }
        interpret(&self.layout, res, &out)
    }
}

fn describe_status(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else if libc::WIFEXITED(status) {
        format!("exited with {}", libc::WEXITSTATUS(status))
    } else {
        format!("status {status:#x}")
    }
}

/// Turn the child's report into an outcome.
fn interpret(l: &Layout, res: &Resolved, out: &[u64; RES_WORDS]) -> Result<Outcome, LiveError> {
    match out[0] {
        RES_STATUS_OK => {}
        RES_STATUS_DRAIN => {
            return Err(LiveError::Noise(format!(
                "the event-mask drain did not abort to pad_drain (code {})",
                out[2]
            )))
        }
        RES_STATUS_SETUP if out[1] >> 32 == 10 => {
            return Err(LiveError::Skipped(
                "the page below TASK_SIZE is not free in the child".into(),
            ))
        }
        RES_STATUS_SETUP if out[1] >> 32 == STEP_NO_MEMBARRIER => {
            return Err(LiveError::Skipped(format!(
                "membarrier RSEQ is not available (errno {})",
                out[1] as u32
            )))
        }
        _ => {
            return Err(LiveError::Harness(format!(
                "page set-up failed at step {} (errno {})",
                out[1] >> 32,
                out[1] as u32
            )))
        }
    }
    if res.trigger == Trigger::Nanosleep && out[RES_SWITCHES] == 0 {
        return Err(LiveError::Noise(
            "nanosleep returned without sleeping (no voluntary context switch)".into(),
        ));
    }
    let n = (out[4] as usize).min(LOG_MAX);
    let entries: Vec<[u64; LOG_FIELDS]> = (0..n)
        .map(|i| {
            let mut e = [0u64; LOG_FIELDS];
            e.copy_from_slice(&out[5 + i * LOG_FIELDS..5 + (i + 1) * LOG_FIELDS]);
            e
        })
        .collect();
    let si_kernel = libc::SI_KERNEL as i64 as u64;
    let si_tkill = libc::SI_TKILL as i64 as u64;
    let segv = libc::SIGSEGV as u64;
    if entries.iter().any(|e| e[0] == segv && e[1] == si_kernel) {
        return Ok(Outcome::Killed { fatal: false });
    }
    let code = out[2];
    let (resume_ip, rseq_cs) = match res.trigger.signal() {
        Some(s) => match entries
            .iter()
            .find(|e| e[0] == s as u64 && e[1] == si_tkill)
        {
            Some(e) => (e[2], e[3]),
            None => {
                return Err(LiveError::Noise(format!(
                    "the trigger signal was not delivered (code {code}, {n} signals)"
                )))
            }
        },
        None => {
            if let Some(e) = entries.iter().find(|e| e[0] == segv) {
                // A fault: the kernel returned to a non-executable abort IP.
                (e[2], e[3])
            } else if code == CODE_FELL_THROUGH {
                (res.site_ip, out[3])
            } else if let Some(i) = CODE_PADS.iter().position(|&c| c == code) {
                let pads = [l.pad_pre, l.cs_end, l.pad_good, l.pad_bad_sig, l.pad_drain];
                (pads[i], out[3])
            } else {
                return Err(LiveError::Harness(format!(
                    "unexpected return code {code} without a signal"
                )));
            }
        }
    };
    Ok(super::classify(res, resume_ip, rseq_cs))
}

// ---------------------------------------------------------------------------
// The time-slice extension probes (super::slice).

/// Pin the calling process to `cpu`.
///
/// # Safety
/// Only raw syscalls: callable in a forked child.
unsafe fn pin_to_cpu(cpu: usize) -> bool {
    let mut set: libc::cpu_set_t = std::mem::zeroed();
    libc::CPU_SET(cpu, &mut set);
    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
}

/// A probe's wait: spin, with no syscall, until `slice_ctrl` differs from
/// `seen`, the value the program last read or stored there (0), or the
/// competitor's count moves, that is, the task was preempted
/// (WAIT_UNCHANGED, or 0 if the kernel changed `slice_ctrl` on the way
/// back), or `spins` iterations pass (-ETIMEDOUT). Against `seen`, not the
/// value at the spin's start: a switch between the previous record and the
/// spin may have changed it already, and the model's wait
/// ([`super::slice::WAIT_UNCHANGED`]) compares with what the program saw.
///
/// # Safety
/// `ctrl` and `count` must be valid for reads.
#[inline(never)]
unsafe fn spin_until_changed(
    ctrl: *const u32,
    seen: u32,
    count: *const u64,
    spins: u64,
) -> libc::c_long {
    let (start, count_start) = (seen, std::ptr::read_volatile(count));
    for _ in 0..spins {
        if std::ptr::read_volatile(ctrl) != start {
            return 0;
        }
        if std::ptr::read_volatile(count) != count_start {
            // Preempted, perhaps between the two reads: the return to user
            // mode has done its writes, so read slice_ctrl once more.
            return if std::ptr::read_volatile(ctrl) != start {
                0
            } else {
                WAIT_UNCHANGED as libc::c_long
            };
        }
    }
    -libc::c_long::from(libc::ETIMEDOUT)
}

/// Spin iterations after which a wait gives up: far more than the
/// scheduler's slice (a few milliseconds) or the extension's timer (5 to
/// 50 us) take, even under QEMU's emulation.
const WAIT_SPINS: u64 = 1 << 31;

/// Run one slice probe in a child of its own: the child drops libc's
/// registration, maps a fresh page for its area, fills the area, and runs
/// the steps; after each syscall or wait it writes the return value, the
/// area's words and the competitor's counts around the step
/// ([`StepCounts`]) to a page shared with this process. A signal that
/// kills the child ends the probe.
///
/// A probe that waits for the scheduler ([`SliceOp::waits`]) gets a
/// competitor: a sibling process pinned to the child's CPU, which spins
/// and counts in the shared page. The child's waits spin without a syscall
/// (a syscall would end a grant) until `slice_ctrl` changes or the count
/// moves, that is, the competitor ran and so the child was preempted with
/// no grant.
pub fn run_slice_probe(ops: &[SliceOp]) -> Result<ChildRun, String> {
    use super::slice::{
        AREA_BYTES, AREA_FILL, FLAGS_OFFSET, NR_RSEQ_SLICE_YIELD, SLICE_CTRL_OFFSET,
    };
    // The competitor's count: the shared page's last word.
    const COUNT_WORD: usize = (PAGE_SIZE / 8) as usize - 1;
    // The child's counters over its steps (ChildCounters, in field order):
    // the four words before the count.
    const COUNTER_WORDS: usize = COUNT_WORD - 4;
    // The competitor's count just before the first step.
    const FIRST_COUNT_WORD: usize = COUNTER_WORDS - 1;
    // Words in the shared page: [0] = records written, then 8 words a
    // record: the return value, the area's first 32 bytes as read back
    // (rseq_cs, flags and slice_ctrl are in them), and the competitor's
    // count just before the step's syscall or spin, just after it, and
    // just after the record (StepCounts).
    const WORDS_PER_RECORD: usize = 8;
    if 1 + ops.len() * WORDS_PER_RECORD > FIRST_COUNT_WORD {
        return Err("probe too long".into());
    }
    let libc_reg = libc_registration()?;
    // One anonymous read-write page: MAP_SHARED for the records, which the
    // child writes and this process reads, MAP_PRIVATE for the area.
    let map = |sharing: libc::c_int| {
        // SAFETY: a new anonymous mapping, checked for MAP_FAILED below.
        unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE_SIZE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                sharing | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        }
    };
    let pages = [map(libc::MAP_SHARED), map(libc::MAP_PRIVATE)];
    let unmap = || {
        for p in pages.into_iter().filter(|&p| p != libc::MAP_FAILED) {
            // SAFETY: a page mapped above, no longer used.
            unsafe { libc::munmap(p, PAGE_SIZE as usize) };
        }
    };
    if pages.contains(&libc::MAP_FAILED) {
        let e = errno();
        unmap();
        return Err(format!("mmap failed (errno {e})"));
    }
    let (shared, area) = (pages[0] as *mut u64, pages[1] as *mut u8);
    // SAFETY: a raw syscall.
    let cpu = unsafe { libc::sched_getcpu() }.max(0) as usize;
    let competitor = if ops.iter().any(|o| o.waits()) {
        // SAFETY: as for the probe child below; the competitor only spins.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: raw syscalls and stores to the shared page.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if !pin_to_cpu(cpu) {
                    libc::_exit(81);
                }
                let count = shared.add(COUNT_WORD);
                loop {
                    std::ptr::write_volatile(count, std::ptr::read_volatile(count) + 1);
                }
            }
        }
        if pid < 0 {
            unmap();
            return Err(format!("fork failed (errno {})", errno()));
        }
        Some(pid)
    } else {
        None
    };
    let stop_competitor = || {
        if let Some(c) = competitor {
            // SAFETY: our own child, killed and reaped.
            unsafe {
                libc::kill(c, libc::SIGKILL);
                libc::waitpid(c, std::ptr::null_mut(), 0);
            }
        }
    };
    // SAFETY: fork in a process whose other threads (if any) the child
    // never waits for; the child calls only raw syscalls and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        stop_competitor();
        unmap();
        return Err(format!("fork failed (errno {})", errno()));
    }
    if pid == 0 {
        // SAFETY: the child owns both pages; every pointer stays inside
        // them; only async-signal-safe calls follow.
        unsafe {
            libc::alarm(10);
            // Rust's runtime catches SIGSEGV for its stack-overflow report,
            // and its handler returns from a signal the kernel forced: the
            // default action is what the probe observes.
            libc::signal(libc::SIGSEGV, libc::SIG_DFL);
            if competitor.is_some() && !pin_to_cpu(cpu) {
                libc::_exit(81);
            }
            if let Some((addr, len)) = libc_reg {
                let r = libc::syscall(libc::SYS_rseq, addr, len, abi::RSEQ_FLAG_UNREGISTER, SIG);
                if r != 0 {
                    libc::_exit(80);
                }
            }
            std::ptr::write_bytes(area, AREA_FILL, AREA_BYTES);
            if competitor.is_some() {
                // Fault in the wait's code and the pages it reads now: a
                // page fault in a wait is an exception, not an interrupt,
                // and a preemption there neither grants an extension nor
                // (V2) clears slice_ctrl, which the model's wait (an
                // interrupt) does not describe. fork() copied none of the
                // page table entries of the code and the shared page.
                spin_until_changed(
                    area.add(SLICE_CTRL_OFFSET) as *const u32,
                    u32::from_le_bytes([AREA_FILL; 4]),
                    shared.add(COUNT_WORD) as *const u64,
                    1,
                );
            }
            let ret = |r: libc::c_long| -> i64 {
                if r == -1 {
                    -i64::from(errno())
                } else {
                    r
                }
            };
            // getrusage() before the first step and after the last: a
            // syscall between two steps would end a grant.
            let usage = || {
                let mut u: libc::rusage = std::mem::zeroed();
                libc::getrusage(libc::RUSAGE_SELF, &mut u);
                [u.ru_minflt, u.ru_majflt, u.ru_nvcsw, u.ru_nivcsw].map(|v| v as u64)
            };
            let usage_before = usage();
            let count = shared.add(COUNT_WORD) as *const u64;
            std::ptr::write_volatile(shared.add(FIRST_COUNT_WORD), std::ptr::read_volatile(count));
            let mut n = 0usize;
            // What the program last read (a record) or stored in slice_ctrl:
            // what slice::ctrl_before_each_record gives the model's waits.
            let mut seen = u32::from_le_bytes([AREA_FILL; 4]);
            for op in ops {
                // After the stores, just before the syscall or the spin.
                let count_at_start = std::ptr::read_volatile(count);
                let r = match *op {
                    SliceOp::Register { len, flags, sig } => {
                        libc::syscall(libc::SYS_rseq, area, len, flags, sig)
                    }
                    SliceOp::Unregister { len, sig } => {
                        libc::syscall(libc::SYS_rseq, area, len, abi::RSEQ_FLAG_UNREGISTER, sig)
                    }
                    SliceOp::Prctl { op, arg } => libc::syscall(
                        libc::SYS_prctl,
                        u64::from(abi::PR_RSEQ_SLICE_EXTENSION),
                        u64::from(op),
                        u64::from(arg),
                        0u64,
                        0u64,
                    ),
                    SliceOp::Yield => libc::syscall(NR_RSEQ_SLICE_YIELD),
                    SliceOp::StoreFlags { value } => {
                        std::ptr::write_volatile(area.add(FLAGS_OFFSET) as *mut u32, value);
                        continue;
                    }
                    SliceOp::StoreSliceCtrl { value } => {
                        std::ptr::write_volatile(area.add(SLICE_CTRL_OFFSET) as *mut u32, value);
                        seen = value;
                        continue;
                    }
                    // Not -1: ret() below must not read errno.
                    SliceOp::AwaitGrant | SliceOp::AwaitRevoke => spin_until_changed(
                        area.add(SLICE_CTRL_OFFSET) as *const u32,
                        seen,
                        count,
                        WAIT_SPINS,
                    ),
                };
                let count_after_step = std::ptr::read_volatile(count);
                let r = ret(r);
                let rec = shared.add(1 + n * WORDS_PER_RECORD);
                std::ptr::write_volatile(rec, r as u64);
                for w in 0..4 {
                    let v = std::ptr::read_volatile((area as *const u64).add(w));
                    std::ptr::write_volatile(rec.add(1 + w), v);
                    if (w * 8..w * 8 + 8).contains(&SLICE_CTRL_OFFSET) {
                        let shift = (SLICE_CTRL_OFFSET - w * 8) * 8;
                        seen = (v >> shift) as u32;
                    }
                }
                std::ptr::write_volatile(rec.add(5), count_at_start);
                std::ptr::write_volatile(rec.add(6), count_after_step);
                std::ptr::write_volatile(rec.add(7), std::ptr::read_volatile(count));
                n += 1;
                std::ptr::write_volatile(shared, n as u64);
            }
            for (k, (after, before)) in usage().iter().zip(usage_before).enumerate() {
                std::ptr::write_volatile(shared.add(COUNTER_WORDS + k), after.wrapping_sub(before));
            }
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for the child forked above.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    stop_competitor();
    // SAFETY: the shared page, which the dead child no longer writes.
    let (words, counters, first_count): (Vec<u64>, Vec<u64>, u64) = unsafe {
        let n = std::ptr::read_volatile(shared) as usize;
        (
            (0..(1 + n.min(ops.len()) * WORDS_PER_RECORD))
                .map(|i| std::ptr::read_volatile(shared.add(i)))
                .collect(),
            (COUNTER_WORDS..COUNT_WORD)
                .map(|i| std::ptr::read_volatile(shared.add(i)))
                .collect(),
            std::ptr::read_volatile(shared.add(FIRST_COUNT_WORD)),
        )
    };
    // A child killed before its last step wrote no counters: zeros, which
    // slice::run_live drops.
    let counters = ChildCounters {
        minor_faults: counters[0],
        major_faults: counters[1],
        voluntary_switches: counters[2],
        involuntary_switches: counters[3],
    };
    unmap();
    if waited != pid {
        return Err(format!("waitpid failed (errno {})", errno()));
    }
    let mut out = ProbeOutcome::default();
    if libc::WIFSIGNALED(status) {
        out.killed_by = Some(libc::WTERMSIG(status) as u8);
    } else if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("probe child {}", describe_status(status)));
    }
    let mut counts = Vec::new();
    for rec in words[1..].chunks_exact(WORDS_PER_RECORD) {
        let mut bytes = [0u8; 32];
        for (w, v) in rec[1..5].iter().enumerate() {
            bytes[w * 8..w * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out.returns
            .push(AfterSyscall::from_area(rec[0] as i64, &bytes));
        counts.push(StepCounts {
            at_start: rec[5],
            after_step: rec[6],
            after_record: rec[7],
        });
    }
    // With no competitor the count stays 0, and no window sees it move.
    let preempted = preempted_outside_waits(ops, first_count, &counts);
    Ok(ChildRun {
        outcome: out,
        counters,
        preempted,
        first_count,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::case::{resolve, test_layout as layout, LiveCase};

    /// A probe's wait compares slice_ctrl with what the program last saw,
    /// not with its own first read: a value the kernel wrote before the
    /// spin began ends the wait at once (it once read as "unchanged" when
    /// the competitor ran later).
    #[test]
    fn a_wait_compares_with_what_the_program_saw() {
        let (ctrl, count) = (0u32, 7u64);
        // SAFETY: both point to locals that outlive the calls.
        let wait = |seen| unsafe { spin_until_changed(&ctrl, seen, &count, 1000) };
        assert_eq!(wait(0x100), 0, "revoked before the spin began");
        assert_eq!(wait(0), -libc::c_long::from(libc::ETIMEDOUT));
        // The competitor runs: the count moves, slice_ctrl as seen.
        let (moving, stop) = (AtomicU64::new(0), AtomicBool::new(false));
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    moving.fetch_add(1, SeqCst);
                }
            });
            // SAFETY: an atomic's storage, read with volatile loads.
            let r = unsafe { spin_until_changed(&ctrl, 0, moving.as_ptr(), WAIT_SPINS) };
            stop.store(true, SeqCst);
            assert_eq!(r, WAIT_UNCHANGED as libc::c_long);
        });
    }

    /// A nanosleep case whose task never slept tested nothing: noise, to be
    /// run again, not an outcome to compare with the model.
    #[test]
    fn a_nanosleep_without_a_context_switch_is_noise() {
        let l = layout();
        let case = LiveCase {
            trigger: Trigger::Nanosleep,
            ..LiveCase::default()
        };
        let res = resolve(&case, &l).expect("resolves");
        let mut out = [0u64; RES_WORDS];
        out[0] = RES_STATUS_OK;
        out[2] = CODE_FELL_THROUGH;
        assert!(matches!(
            interpret(&l, &res, &out),
            Err(LiveError::Noise(_))
        ));
        out[RES_SWITCHES] = 1;
        assert!(interpret(&l, &res, &out).is_ok());
        // Other triggers do not sleep; their switch count says nothing.
        let tgkill = resolve(&LiveCase::default(), &l).expect("resolves");
        out[RES_SWITCHES] = 0;
        assert!(!matches!(
            interpret(&l, &tgkill, &out),
            Err(LiveError::Noise(m)) if m.contains("nanosleep")
        ));
    }
}
