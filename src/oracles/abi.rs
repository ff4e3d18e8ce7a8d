//! Oracle a: ABI conformance. Classifies the scenario's program, step by
//! step, as conforming or not, naming each rule of the rseq ABI it breaks
//! (include/uapi/linux/rseq.h, the rseq(2) man page, Documentation/
//! userspace-api/rseq.rst; spec §2.6). The contract oracle only holds the
//! kernel to its promises while the program has broken none.
//!
//! The classifier is strict where the ABI is loose: the program's rseq_cs is
//! what the program itself stored (a lazy clear by the kernel does not count,
//! since the ABI only says the kernel *may* clear it), so a program must keep
//! its descriptor valid until it clears rseq_cs itself. Strictness only means
//! fewer programs are held to the contract; it never raises a false alarm.

use crate::abi::{self, in_cs, rseq, rseq_cs};
use crate::kernel::{Event, Model, Registration, Syscall};
use crate::mem::{PageState, PAGE_SIZE};
use crate::scenario::Lowered;
use serde::Serialize;

/// The ABI rules the classifier knows.
pub const RULES: &[&str] = &[
    "ro-field-store",
    "syscall-in-cs",
    "rseq-cs-not-user-address",
    "descriptor-unmapped",
    "descriptor-version",
    "descriptor-flags",
    "descriptor-range",
    "abort-ip-range",
    "abort-ip-in-cs",
    "missing-signature",
    "thread-flags-nonzero",
    "registration-misuse",
    "area-unmapped",
    "ip-not-user-address",
    "sigreturn-without-frame",
    "sigreturn-into-cs",
    "area-store-from-another-thread",
    "descriptor-store-from-another-thread",
];

/// A rule the program broke, at a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub step: usize,
    pub rule: &'static str,
    pub detail: String,
}

/// The critical section a task is in: a valid descriptor at the program's
/// rseq_cs whose range covers the IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CsAtEntry {
    pub desc: u64,
    pub start: u64,
    pub len: u64,
    pub abort: u64,
}

/// What is wrong with a descriptor, with the values that show it; formatted
/// only when the violation is recorded.
#[derive(Clone, Copy, Debug)]
enum DescriptorProblem {
    NotUserAddress(u64),
    Unmapped(u64),
    Version(u32),
    Flags(u32),
    /// start_ip, post_commit_offset.
    Range(u64, u64),
    AbortRange(u64),
    AbortInCs(u64),
    /// The registered signature and the address it is missing from.
    MissingSignature(u32, u64),
}

impl DescriptorProblem {
    fn rule(self) -> &'static str {
        match self {
            Self::NotUserAddress(_) => "rseq-cs-not-user-address",
            Self::Unmapped(_) => "descriptor-unmapped",
            Self::Version(_) => "descriptor-version",
            Self::Flags(_) => "descriptor-flags",
            Self::Range(..) => "descriptor-range",
            Self::AbortRange(_) => "abort-ip-range",
            Self::AbortInCs(_) => "abort-ip-in-cs",
            Self::MissingSignature(..) => "missing-signature",
        }
    }

    fn detail(self) -> String {
        match self {
            Self::NotUserAddress(d) => format!("rseq_cs = {d:#x}"),
            Self::Unmapped(d) => format!("descriptor at {d:#x}"),
            Self::Version(v) => format!("version = {v}"),
            Self::Flags(f) => format!("flags = {f:#x}"),
            Self::Range(start, off) => format!("start_ip {start:#x} + {off:#x}"),
            Self::AbortRange(a) | Self::AbortInCs(a) => format!("abort_ip = {a:#x}"),
            Self::MissingSignature(sig, at) => format!("no signature {sig:#x} at {at:#x}"),
        }
    }
}

/// Watches one run and collects violations.
pub struct AbiChecker<'a> {
    task_size: u64,
    word_bits: u32,
    /// The program's own rseq_cs (what it stored last).
    user_rseq_cs: u64,
    /// Every byte the program has stored, by address (the last value): at
    /// registration it tells the program's thread flags from the kernel's.
    /// Sorted by address: a scenario stores a few dozen bytes, and a map's
    /// node allocations cost more than moving them.
    stored_bytes: Vec<(u64, u8)>,
    /// The program's initial image: its bytes are the program's too until
    /// a store or a kernel may have changed them.
    initial: &'a crate::mem::UserMem,
    /// (address, length) of every area a registration call named: only
    /// there can a kernel have written (the security oracle holds it to
    /// that).
    named_areas: Vec<(u64, u32)>,
    /// Each rule the program broke, once, at the step it first broke it.
    pub violations: Vec<Violation>,
    /// The last [`AbiChecker::descriptor`] result, with what it was
    /// computed from: the rseq_cs value, the registered signature, and the
    /// generation of the memory it read ([`crate::mem::UserMem::generation`]).
    /// The runner asks about the same descriptor up to three times before
    /// one event (the classifier's own check, the syscall-in-cs test, the
    /// window's section at entry), and again at every later entry into the
    /// kernel while the program's memory stays as it was.
    descriptor_memo:
        std::cell::Cell<Option<(DescriptorKey, Result<Descriptor, DescriptorProblem>)>>,
}

/// What a descriptor check depends on: the rseq_cs value, the registered
/// signature, and the memory's generation.
#[derive(Clone, Copy, PartialEq, Eq)]
struct DescriptorKey {
    rseq_cs: u64,
    sig: u32,
    generation: u64,
}

/// The fields of a valid descriptor that say where its section is.
#[derive(Clone, Copy, Debug)]
struct Descriptor {
    start: u64,
    len: u64,
    abort: u64,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Whether the byte ranges [a, a + alen) and [b, b + blen) share a byte.
pub(crate) fn overlaps(a: u64, alen: u64, b: u64, blen: u64) -> bool {
    let a_end = a.saturating_add(alen);
    let b_end = b.saturating_add(blen);
    a < b_end && b < a_end
}

impl<'a> AbiChecker<'a> {
    pub fn new(lowered: &'a Lowered) -> Self {
        AbiChecker {
            task_size: lowered.arch.task_size(),
            word_bits: lowered.arch.word_bits(),
            user_rseq_cs: 0,
            stored_bytes: Vec::new(),
            initial: &lowered.setup.mem,
            named_areas: Vec::new(),
            violations: Vec::new(),
            descriptor_memo: std::cell::Cell::new(None),
        }
    }

    /// Whether the byte at `addr` holds `value` because the program put it
    /// there: its last store there, or its initial image where it never
    /// stored and no kernel can have written (no registration named it).
    fn programs_byte(&self, addr: u64, value: u8) -> bool {
        match self
            .stored_bytes
            .binary_search_by_key(&addr, |&(a, _)| a)
            .map(|i| self.stored_bytes[i].1)
        {
            Ok(b) => b == value,
            Err(_) => {
                !self
                    .named_areas
                    .iter()
                    .any(|&(a, len)| overlaps(a, u64::from(len), addr, 1))
                    && self.initial.peek_n::<1>(addr) == Some([value])
            }
        }
    }

    /// Record a broken rule the first time the program breaks it. Every
    /// reader asks whether a rule was broken at or before a step (the
    /// windows' `conforming`, the registry's `broke`), which the first break
    /// answers, so later breaks of the same rule are not kept. Keeping each
    /// (it used to drop only a repeat of the last one) cost fuzzed inputs
    /// dear: one that leaves a bad descriptor and non-zero thread flags in
    /// place breaks both rules at every kernel entry, and formatting each
    /// detail was 4 % of an exit_to_user input's instructions (callgrind,
    /// 2026-12-02). The detail is built only when the violation is kept.
    fn flag(&mut self, step: usize, rule: &'static str, detail: impl FnOnce() -> String) {
        if !self.violations.iter().any(|v| v.rule == rule) {
            self.violations.push(Violation {
                step,
                rule,
                detail: detail(),
            });
        }
    }

    /// Whether the kernel can read (or with `write`, write) every page of
    /// the range, possibly after resolving a fault.
    fn accessible(model: &dyn Model, addr: u64, len: u64, write: bool) -> bool {
        let mem = model.current_mem();
        if !mem.access_ok(addr, len) {
            return false;
        }
        let mut a = addr - addr % PAGE_SIZE;
        while a < addr + len {
            match mem.state(a) {
                PageState::Unmapped | PageState::ProtNone => return false,
                PageState::ReadOnly if write => return false,
                _ => {}
            }
            a += PAGE_SIZE;
        }
        true
    }

    fn readable(model: &dyn Model, addr: u64, len: u64) -> bool {
        Self::accessible(model, addr, len, false)
    }

    /// The descriptor at the program's rseq_cs, or what is wrong with it
    /// (memoized while nothing it depends on changes: see `descriptor_memo`).
    fn descriptor(
        &self,
        model: &dyn Model,
        reg: &Registration,
    ) -> Result<Descriptor, DescriptorProblem> {
        let key = DescriptorKey {
            rseq_cs: self.user_rseq_cs,
            sig: reg.sig,
            generation: model.current_mem().generation(),
        };
        match self.descriptor_memo.get() {
            Some((at, result)) if at == key => result,
            _ => {
                let result = self.read_descriptor(model, reg);
                self.descriptor_memo.set(Some((key, result)));
                result
            }
        }
    }

    fn read_descriptor(
        &self,
        model: &dyn Model,
        reg: &Registration,
    ) -> Result<Descriptor, DescriptorProblem> {
        use DescriptorProblem as P;
        let d = self.user_rseq_cs;
        if d >= self.task_size {
            return Err(P::NotUserAddress(d));
        }
        // readable() has just checked every page of the descriptor.
        let Some(b) = Self::readable(model, d, rseq_cs::SIZE)
            .then(|| model.current_mem().peek_n::<32>(d))
            .flatten()
        else {
            return Err(P::Unmapped(d));
        };
        let (version, flags) = (u32_at(&b, 0), u32_at(&b, 4));
        let (start, off, abort) = (u64_at(&b, 8), u64_at(&b, 16), u64_at(&b, 24));
        if version != 0 {
            return Err(P::Version(version));
        }
        if flags != 0 {
            return Err(P::Flags(flags));
        }
        // Legacy rseq_get_rseq_cs() rejects start + offset >= TASK_SIZE, so
        // a section ending exactly at TASK_SIZE is not one a program can
        // rely on.
        let end = start.checked_add(off);
        if start >= self.task_size || end.is_none_or(|e| e >= self.task_size) {
            return Err(P::Range(start, off));
        }
        if abort >= self.task_size || abort < 4 {
            return Err(P::AbortRange(abort));
        }
        if in_cs(abort, start, off, self.word_bits) {
            return Err(P::AbortInCs(abort));
        }
        let sig_ok = Self::readable(model, abort - 4, 4)
            && model
                .current_mem()
                .peek_n::<4>(abort - 4)
                .map(u32::from_le_bytes)
                == Some(reg.sig);
        if !sig_ok {
            return Err(P::MissingSignature(reg.sig, abort - 4));
        }
        Ok(Descriptor {
            start,
            len: off,
            abort,
        })
    }

    /// The critical section the task is in at `ip`: the program stored a
    /// valid descriptor's address in rseq_cs, it is still there (the kernel
    /// may have cleared it lazily, which ends the section as far as the
    /// kernel can know), and the descriptor covers the IP.
    pub fn cs_at(&self, ip: u64, model: &dyn Model) -> Option<CsAtEntry> {
        let reg = model.registration()?;
        let in_memory = model
            .current_mem()
            .peek_n::<8>(reg.addr + rseq::RSEQ_CS)
            .map(u64::from_le_bytes);
        if self.user_rseq_cs == 0 || in_memory != Some(self.user_rseq_cs) {
            return None;
        }
        let Descriptor { start, len, abort } = self.descriptor(model, &reg).ok()?;
        in_cs(ip, start, len, self.word_bits).then_some(CsAtEntry {
            desc: self.user_rseq_cs,
            start,
            len,
            abort,
        })
    }

    /// Judge the program just before event `i`.
    pub fn before(&mut self, i: usize, ev: &Event, model: &dyn Model) {
        let reg = model.registration();
        let task = model.current();
        // An abort moved the program to abort_ip and the kernel cleared
        // rseq_cs: the program's section is over.
        if self.user_rseq_cs != 0 {
            if let Some(r) = reg {
                let now = model
                    .current_mem()
                    .peek_n::<8>(r.addr + rseq::RSEQ_CS)
                    .map(u64::from_le_bytes);
                let abort = || {
                    model
                        .current_mem()
                        .peek_n::<32>(self.user_rseq_cs)
                        .map(|b| u64_at(&b, 24))
                };
                if now == Some(0) && abort() == Some(task.ip) {
                    self.user_rseq_cs = 0;
                }
            }
        }
        let enters_kernel = matches!(
            ev,
            Event::Syscall(_)
                | Event::Interrupt
                | Event::Exception
                | Event::SwitchOut
                | Event::SwitchIn { .. }
                | Event::Signal { .. }
                | Event::MembarrierIpi
                | Event::SliceTimer
                | Event::NeedResched
                | Event::TaskWork
                | Event::ExitToUser
        );
        if enters_kernel {
            if let Some(r) = reg {
                if self.user_rseq_cs != 0 {
                    if let Err(p) = self.descriptor(model, &r) {
                        self.flag(i, p.rule(), || p.detail());
                    }
                }
                let flags = model
                    .current_mem()
                    .peek_n::<4>(r.addr + rseq::FLAGS)
                    .map(u32::from_le_bytes);
                // Bits 4 and 5 are the kernel's own (v7.0 slice extension).
                let kernel_bits =
                    abi::RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE | abi::RSEQ_CS_FLAG_SLICE_EXT_ENABLED;
                if flags.is_some_and(|f| f & !kernel_bits != 0) {
                    self.flag(i, "thread-flags-nonzero", || {
                        format!("rseq.flags = {flags:?}")
                    });
                }
            }
        }
        match ev {
            // A store to a page the program cannot write faults; the
            // machine drops it (Machine::user_action), so it changes
            // nothing the classifier tracks.
            Event::Store { addr, bytes }
                if !Self::accessible(model, *addr, bytes.len() as u64, true) => {}
            Event::Store { addr, bytes } => {
                // struct rseq is the thread's own: only the thread writes it,
                // and only while it runs in user mode.
                if task.mode != crate::kernel::Mode::User {
                    if let Some(r) = reg {
                        let span = u64::from(r.len).max(abi::ORIG_RSEQ_SIZE as u64);
                        if overlaps(*addr, bytes.len() as u64, r.addr, span) {
                            self.flag(i, "area-store-from-another-thread", || {
                                format!("store at {addr:#x} while the task is in the kernel")
                            });
                        }
                    }
                    self.descriptor_store_in_kernel(i, *addr, bytes.len() as u64, model);
                }
                self.store(i, *addr, bytes, reg)
            }
            Event::SetIp { ip } if *ip >= self.task_size => {
                self.flag(i, "ip-not-user-address", || format!("ip = {ip:#x}"))
            }
            Event::Syscall(sc) => {
                if self.cs_at(task.ip, model).is_some() {
                    self.flag(i, "syscall-in-cs", || {
                        format!("syscall at ip {:#x}", task.ip)
                    });
                }
                match sc {
                    Syscall::Rseq {
                        addr,
                        len,
                        flags,
                        sig,
                    } => self.rseq_call(i, model, reg, *addr, *len, *flags, *sig),
                    Syscall::Sigreturn if task.frames.is_empty() => {
                        self.flag(i, "sigreturn-without-frame", String::new)
                    }
                    // The frame's IP lies inside the section rseq_cs names
                    // now: the handler armed a section around the
                    // interrupted IP (a signal inside an armed section
                    // saves abort_ip instead), so the program resumes in
                    // the middle of a section it never entered, and returns
                    // there from a syscall, which the debug checks kill.
                    Syscall::Sigreturn => {
                        let restored = task.frames.last().map_or(0, |f| f.saved_ip);
                        if self.cs_at(restored, model).is_some() {
                            self.flag(i, "sigreturn-into-cs", || {
                                format!("rt_sigreturn restores ip {restored:#x}")
                            });
                        }
                    }
                    Syscall::Execve { ok: true } => self.user_rseq_cs = 0,
                    _ => {}
                }
            }
            Event::Munmap { addr } | Event::MadviseDontneed { addr } => {
                self.area_change(i, *addr, reg)
            }
            Event::Mprotect { addr, writable, .. } if !writable => self.area_change(i, *addr, reg),
            Event::Mmap { addr, .. } => self.area_change(i, *addr, reg),
            _ => {}
        }
    }

    /// A store to the program's descriptor, or to the signature word before
    /// its abort_ip, while the task is in the kernel: another thread changed
    /// the section the task entered the kernel in, so what the kernel reads
    /// on the way out is not the section the task was in. The ABI treats a
    /// descriptor in use as constant (it is meant for read-only data), and
    /// the contract is judged on the section at entry. A store while the
    /// task itself runs in user mode is the program's own business: the
    /// next entry sees it.
    fn descriptor_store_in_kernel(&mut self, i: usize, addr: u64, len: u64, model: &dyn Model) {
        let d = self.user_rseq_cs;
        if d == 0 || d >= self.task_size {
            return;
        }
        let abort = model.current_mem().peek_n::<32>(d).map(|b| u64_at(&b, 24));
        let hits_descriptor = overlaps(addr, len, d, rseq_cs::SIZE);
        let hits_signature = abort.is_some_and(|a| a >= 4 && overlaps(addr, len, a - 4, 4));
        if hits_descriptor || hits_signature {
            self.flag(i, "descriptor-store-from-another-thread", || {
                let what = if hits_descriptor {
                    "descriptor"
                } else {
                    "signature"
                };
                format!("store at {addr:#x} to the {what} in use while the task is in the kernel")
            });
        }
    }

    fn store(&mut self, i: usize, addr: u64, bytes: &[u8], reg: Option<Registration>) {
        // At most one allocation a store, not one per doubling.
        self.stored_bytes.reserve(bytes.len());
        for (k, &b) in bytes.iter().enumerate() {
            let a = addr.wrapping_add(k as u64);
            match self.stored_bytes.binary_search_by_key(&a, |&(x, _)| x) {
                Ok(j) => self.stored_bytes[j].1 = b,
                Err(j) => self.stored_bytes.insert(j, (a, b)),
            }
        }
        let len = bytes.len() as u64;
        if let Some(r) = reg {
            let span = u64::from(r.len).max(abi::ORIG_RSEQ_SIZE as u64);
            let cs_field = r.addr + rseq::RSEQ_CS;
            let touches_area = overlaps(addr, len, r.addr, span);
            let within = |a: u64, n: u64| addr >= a && addr.saturating_add(len) <= a + n;
            // rseq_cs is the program's; so is slice_ctrl.request (v7.0),
            // which is padding for kernels without time-slice extensions.
            let users = within(cs_field, 8) || within(r.addr + rseq::SLICE_REQUEST, 1);
            if touches_area && !users {
                self.flag(i, "ro-field-store", || {
                    format!("store of {len} bytes at {addr:#x}")
                });
            }
            // rseq.flags (the deprecated thread flags) must stay 0 as far as
            // the program is concerned. The kernel's own slice-extension bits
            // are allowed at kernel entry (below), but a program that stores
            // any bit there breaks the rule even if a later kernel owns it:
            // legacy rseq_need_restart() rejects every bit.
            let flags_field = r.addr + rseq::FLAGS;
            let sets_flag_bits = bytes.iter().enumerate().any(|(k, &b)| {
                let a = addr.wrapping_add(k as u64);
                b != 0 && a >= flags_field && a < flags_field + 4
            });
            if sets_flag_bits {
                self.flag(i, "thread-flags-nonzero", || {
                    format!("store of non-zero thread flags at {addr:#x}")
                });
            }
            // Track the program's rseq_cs byte by byte.
            let mut v = self.user_rseq_cs.to_le_bytes();
            for (k, &b) in bytes.iter().enumerate() {
                let a = addr.wrapping_add(k as u64);
                if a >= cs_field && a < cs_field + 8 {
                    v[(a - cs_field) as usize] = b;
                }
            }
            self.user_rseq_cs = u64::from_le_bytes(v);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn rseq_call(
        &mut self,
        i: usize,
        model: &dyn Model,
        reg: Option<Registration>,
        addr: u64,
        len: u32,
        flags: u32,
        sig: u32,
    ) {
        let misuse = if flags == abi::RSEQ_FLAG_UNREGISTER {
            match reg {
                Some(r) => r.addr != addr || r.len != len || r.sig != sig,
                None => true,
            }
        } else {
            let aligned = if len == abi::ORIG_RSEQ_SIZE {
                addr % 32 == 0
            } else {
                (33..=4096).contains(&len) && addr % 64 == 0
            };
            // Every kernel uses a NULL area pointer to mean "not registered",
            // so an area at address 0 is registered in name only.
            reg.is_some()
                || addr == 0
                || flags != 0
                || !aligned
                || !Self::accessible(model, addr, len as u64, true)
        };
        if misuse {
            self.flag(i, "registration-misuse", || {
                format!("rseq({addr:#x}, {len}, {flags:#x}, {sig:#x})")
            });
        }
        if flags == abi::RSEQ_FLAG_UNREGISTER && !misuse {
            self.user_rseq_cs = 0;
        }
        // Registering an area whose thread flags the program left non-zero
        // breaks the rule as much as storing them later: legacy
        // rseq_need_restart() kills on any bit. A byte counts as the
        // program's when it still holds what the program stored there, or
        // what its initial image held there (a v7.0 kernel writes bits 4
        // and 5 itself at registration).
        if flags != abi::RSEQ_FLAG_UNREGISTER && !misuse {
            let field = addr.wrapping_add(rseq::FLAGS);
            let programs = model.current_mem().peek_n::<4>(field).is_some_and(|now| {
                (0..4u64).any(|k| {
                    let b = now[k as usize];
                    b != 0 && self.programs_byte(field.wrapping_add(k), b)
                })
            });
            if programs {
                self.flag(i, "thread-flags-nonzero", || {
                    format!("registered at {addr:#x} over thread flags the program left non-zero")
                });
            }
        }
        if flags != abi::RSEQ_FLAG_UNREGISTER {
            self.named_areas.push((addr, len));
        }
    }

    fn area_change(&mut self, i: usize, addr: u64, reg: Option<Registration>) {
        if let Some(r) = reg {
            let page = addr - addr % PAGE_SIZE;
            if overlaps(page, PAGE_SIZE, r.addr, u64::from(r.len).max(32)) {
                self.flag(i, "area-unmapped", || {
                    format!("page {page:#x} of the registered area")
                });
            }
        }
    }
}
