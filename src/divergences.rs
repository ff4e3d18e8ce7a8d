//! The registry of known, justified divergences.
//!
//! A candidate finding (a differential difference between a version and the
//! one before it, a contract violation, a fault-transparency difference) that
//! an entry here explains is not a finding, unless strict mode is on. Each
//! entry names the versions and configurations it covers, a predicate on the
//! scenario and the runs, a category, and the kernel commit or function that
//! justifies it. Predicates are deliberately narrow: an entry should explain
//! the one kernel change it cites and nothing else, so that a new bug that
//! happens to touch the same fields is still reported.

use crate::abi::{errno, Arch};
use crate::kernel::{Event, Fate, Observation, Syscall};
use crate::mem::AccessKind;
use crate::oracles::abi::overlaps;
use crate::oracles::differential::CarriedBytes;
use crate::oracles::{Finding, ObsDiff};
use crate::runner::{Run, Window};
use crate::scenario::Lowered;
use crate::trace::TraceEvent;
use serde::Serialize;
use std::ops::Range;

/// Why two versions (or a version and the contract) may differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The kernel stopped doing work the ABI does not require.
    IntendedOptimization,
    /// Only a program that breaks the ABI sees the difference.
    AbiViolatingProgram,
    /// A kernel bug, fixed by a later commit.
    KernelBugFixedLater,
    /// A kernel bug that no modelled release fixes.
    KernelBugUnfixed,
}

/// One registered divergence.
pub struct KnownDivergence {
    pub id: &'static str,
    /// The oracle whose candidate findings it explains.
    pub oracle: &'static str,
    /// For differential entries: the older and the newer version; for
    /// single-run entries `from` is "" and `to` the version. "*" matches any.
    pub from: &'static str,
    pub to: &'static str,
    pub category: Category,
    /// The kernel commit or function that justifies it.
    pub justification: &'static str,
    pub applies: fn(&Ctx) -> bool,
}

/// Where a candidate came from, as indices into the report's runs.
#[derive(Clone, Debug)]
pub enum Candidate {
    Single {
        run: usize,
        obs: usize,
    },
    Reference {
        run: usize,
        reference: usize,
        obs: usize,
        /// As for a pair: bytes an earlier, explained return left different.
        carried: CarriedBytes,
    },
    Pair {
        old: usize,
        new: usize,
        obs: usize,
        /// Area bytes an earlier, explained return of this pair left
        /// different; not part of this candidate's difference.
        carried: CarriedBytes,
    },
}

impl Candidate {
    pub fn single(run: usize, obs: usize) -> Self {
        Candidate::Single { run, obs }
    }
    pub fn against_reference(
        run: usize,
        reference: usize,
        obs: usize,
        carried: CarriedBytes,
    ) -> Self {
        Candidate::Reference {
            run,
            reference,
            obs,
            carried,
        }
    }
    pub fn pair(old: usize, new: usize, obs: usize, carried: CarriedBytes) -> Self {
        Candidate::Pair {
            old,
            new,
            obs,
            carried,
        }
    }

    pub fn bind<'a>(
        &'a self,
        runs: &'a [Run],
        references: &'a [Run],
        lowered: &'a Lowered,
        finding: &'a Finding,
    ) -> Ctx<'a> {
        let (old, new, obs, carried) = match self {
            Candidate::Single { run, obs } => (None, &runs[*run], *obs, None),
            Candidate::Reference {
                run,
                reference,
                obs,
                carried,
            } => (references.get(*reference), &runs[*run], *obs, Some(carried)),
            Candidate::Pair {
                old,
                new,
                obs,
                carried,
            } => (Some(&runs[*old]), &runs[*new], *obs, Some(carried)),
        };
        Ctx {
            finding,
            old,
            new,
            obs,
            lowered,
            carried,
        }
    }
}

/// What a predicate sees.
pub struct Ctx<'a> {
    pub finding: &'a Finding,
    /// The older version's run (differential) or the fault-free reference.
    pub old: Option<&'a Run>,
    pub new: &'a Run,
    /// The observation index the candidate is about.
    pub obs: usize,
    pub lowered: &'a Lowered,
    /// Two-run candidates (differential, fault transparency): area bytes
    /// that an earlier return's explained divergence left different, which
    /// [`Ctx::diff`] leaves out.
    pub carried: Option<&'a CarriedBytes>,
}

const IDS: [Range<usize>; 2] = [0..8, 20..28];
/// struct rseq's cpu_id_start field, as area byte ranges.
#[allow(clippy::single_range_in_vec_init)] // a list of ranges that has one
const CPU_ID_START: [Range<usize>; 1] = [0..4];
/// The ABI rules about the descriptor a non-zero rseq_cs points to.
const DESCRIPTOR_RULES: [&str; 9] = [
    "rseq-cs-not-user-address",
    "descriptor-unmapped",
    "descriptor-version",
    "descriptor-flags",
    "descriptor-range",
    "abort-ip-range",
    "abort-ip-in-cs",
    "missing-signature",
    "thread-flags-nonzero",
];
const RSEQ_CS_BYTES: Range<usize> = 8..16;
const FLAGS_BYTES: Range<usize> = 16..20;
const SLICE_BYTES: Range<usize> = 28..32;
/// rseq_cs and the ID fields: what a notify-resume pass writes.
const RSEQ_CS_AND_IDS: [Range<usize>; 3] = [0..8, RSEQ_CS_BYTES, 20..28];

impl<'a> Ctx<'a> {
    /// Where the two runs' traces part at this observation (differential
    /// and fault-transparency candidates; None for single-run oracles).
    pub fn first_divergence(&self) -> Option<String> {
        let old = self.old?;
        crate::oracles::differential::first_divergence(
            self.old_obs().map(|o| (old, o)),
            self.new_obs().map(|o| (self.new, o)),
        )
    }
    pub fn new_obs(&self) -> Option<&'a Observation> {
        self.new.observations.get(self.obs)
    }
    pub fn old_obs(&self) -> Option<&'a Observation> {
        self.old.and_then(|r| r.observations.get(self.obs))
    }
    pub fn window(&self) -> Option<&'a Window> {
        self.new.windows.get(self.obs)
    }
    /// What differs at this return, not counting carried bytes.
    pub fn diff(&self) -> ObsDiff {
        match (self.old_obs(), self.new_obs()) {
            (Some(a), Some(b)) => {
                let mut d = ObsDiff::between(a, b);
                if let Some(c) = self.carried {
                    c.leave_out(&mut d, a, b);
                }
                d
            }
            _ => ObsDiff {
                fate: true,
                ..ObsDiff::default()
            },
        }
    }
    /// The program broke an ABI rule at or before this return (in either run).
    pub fn nonconforming(&self) -> bool {
        let bad = |r: &Run| r.windows.get(self.obs).is_none_or(|w| !w.conforming);
        bad(self.new) || self.old.is_some_and(bad)
    }
    /// The program broke this rule at or before this return.
    pub fn broke(&self, rule: &str) -> bool {
        let step = self.new_obs().map_or(usize::MAX, |o| o.step);
        self.new
            .violations
            .iter()
            .any(|v| v.rule == rule && v.step <= step)
    }
    /// The program changed the kernel-written fields behind the kernel's
    /// back: stored to them, or remapped or zapped the area's page.
    pub fn clobbered_ids(&self) -> bool {
        self.broke("ro-field-store")
            || self.broke("area-unmapped")
            || self.broke("area-store-from-another-thread")
    }
    /// The window's kernel entry was a syscall (or the task was already in
    /// the kernel): no user_irq.
    pub fn entered_by_syscall(&self) -> bool {
        self.window()
            .is_some_and(|w| w.entry_syscall || w.entry_ip.is_none())
    }
    fn trace_window(run: &Run, obs: usize) -> &[TraceEvent] {
        run.observations
            .get(obs)
            .and_then(|o| run.trace.events.get(o.trace_range.0..o.trace_range.1))
            .unwrap_or(&[])
    }
    /// The run read user memory outside the registered area in this window
    /// (a descriptor or a signature): it looked at the critical section.
    pub fn looked_at_cs(run: &Run, obs: usize) -> bool {
        let area = run
            .observations
            .get(obs)
            .and_then(|o| o.registration)
            .map_or(0, |r| r.addr);
        Self::trace_window(run, obs).iter().any(|e| {
            matches!(e, TraceEvent::Access { kind: AccessKind::Read, addr, .. }
                if *addr < area || *addr >= area + 32)
        })
    }
    /// The run read the 64-bit rseq_cs of its registered area in this
    /// window and found a non-zero high word: on a 32-bit kernel the rework's
    /// section routines then see only the low word.
    pub fn read_rseq_cs_with_high_word(run: &Run, obs: usize) -> bool {
        let Some(area) = run.observations.get(obs).and_then(|o| o.registration) else {
            return false;
        };
        let field = area.addr.wrapping_add(crate::abi::rseq::RSEQ_CS);
        Self::trace_window(run, obs).iter().any(|e| {
            matches!(e, TraceEvent::Access { kind: AccessKind::Read, addr, width: 8, value: Some(v), .. }
                if *addr == field && v >> 32 != 0)
        })
    }
    /// The exit fast path's slice_ctrl write (`rseq_exit_user_update()`,
    /// U+28 of the registered area) faulted in this window, so the exit went
    /// to the slow path.
    pub fn fast_path_slice_write_faulted(run: &Run, obs: usize) -> bool {
        let Some(area) = run.observations.get(obs).and_then(|o| o.registration) else {
            return false;
        };
        Self::trace_window(run, obs).iter().any(|e| {
            matches!(e, TraceEvent::Access {
                function: "rseq_exit_user_update",
                kind: AccessKind::Write,
                addr,
                result: Err(_),
                ..
            } if *addr == area.addr + crate::abi::rseq::SLICE_CTRL)
        })
    }
    /// An rseq syscall with (or without) the unregister flag ran in this
    /// window (see [`Lowered::window_events`]).
    pub fn rseq_call_in_window(&self, unregister: bool) -> bool {
        self.events_in_window()
            .iter()
            .any(|e| matches!(e, Event::Syscall(Syscall::Rseq { flags, .. }) if (flags & 1 == 1) == unregister))
    }
    /// The program's rseq_cs was stale at the window's entry (no section
    /// covered the IP) and one of the runs cleared it: the ABI's lazy clear.
    pub fn stale_rseq_cs_cleared_in_one(&self) -> bool {
        let stale = self.window().is_some_and(|w| w.cs_at_entry.is_none());
        let cleared_in_one = [self.old_obs(), self.new_obs()].iter().any(|o| {
            o.and_then(|o| o.area.as_ref())
                .and_then(|a| a.get(RSEQ_CS_BYTES))
                .is_some_and(|b| b.iter().all(|&x| x == 0))
        });
        stale && cleared_in_one
    }
    /// The task entered the kernel by a synchronous exception in this window.
    pub fn exception_in_window(&self) -> bool {
        self.events_in_window()
            .iter()
            .any(|e| matches!(e, Event::Exception))
    }
    /// The address and length of a registering rseq syscall in this window.
    pub fn register_call_in_window(&self) -> Option<(u64, u32)> {
        self.events_in_window().iter().find_map(|e| match e {
            Event::Syscall(Syscall::Rseq {
                addr, len, flags, ..
            }) if flags & 1 == 0 => Some((*addr, *len)),
            _ => None,
        })
    }
    /// The scenario's events that ran in this window (see
    /// [`Lowered::window_events`]).
    fn events_in_window(&self) -> &[Event] {
        let step = self.new_obs().map_or(0, |o| o.step);
        let from = if self.obs == 0 {
            0
        } else {
            self.new
                .observations
                .get(self.obs - 1)
                .map_or(0, |o| o.step)
        };
        self.lowered.window_events(from, step)
    }
    /// The run's section routines read a descriptor field from the
    /// registered area's bytes `ranges` in this window: the program pointed
    /// rseq_cs into its own struct rseq.
    pub fn descriptor_read_from_area(run: &Run, obs: usize, ranges: &[Range<usize>]) -> bool {
        let Some(area) = run.observations.get(obs).and_then(|o| o.registration) else {
            return false;
        };
        Self::descriptor_reads(run, obs).any(|(addr, len)| {
            ranges
                .iter()
                .any(|r| overlaps(addr, len, area.addr + r.start as u64, r.len() as u64))
        })
    }
    /// In this window the run's section routines read descriptor bytes at
    /// address 0 (the phantom descriptor of a NULL rseq_cs).
    pub fn read_descriptor_at_null(&self, run: &Run) -> bool {
        Self::descriptor_reads(run, self.obs).any(|(addr, len)| overlaps(addr, len, 0, 32))
    }
    /// The (address, length) spans the run's section routines
    /// (rseq_update_user_cs(), rseq_debug_update_user_cs(),
    /// rseq_get_rseq_cs()) read as descriptor fields in this window.
    fn descriptor_reads(run: &Run, obs: usize) -> impl Iterator<Item = (u64, u64)> + '_ {
        Self::trace_window(run, obs).iter().filter_map(|e| match e {
            TraceEvent::Access {
                function,
                kind: AccessKind::Read,
                addr,
                width,
                ..
            } if function.contains("user_cs") || function.contains("rseq_get_rseq_cs") => {
                Some((*addr, u64::from(*width)))
            }
            _ => None,
        })
    }
    /// In this window a section routine of either run read descriptor
    /// bytes that the two runs' sys_rseq() calls wrote differently before
    /// (one wrote a field the other did not, or another value): the program
    /// registered an area over its own descriptor.
    pub fn descriptor_over_registration_writes(&self) -> bool {
        let Some(old) = self.old else { return false };
        let end = |run: &Run| {
            run.observations
                .get(self.obs)
                .map_or(run.trace.events.len(), |o| o.trace_range.1)
        };
        let rseq_writes = |run: &Run| -> Vec<(u64, u8, Option<u64>)> {
            run.trace.events[..end(run)]
                .iter()
                .filter_map(|e| match e {
                    TraceEvent::Access {
                        function: "sys_rseq",
                        kind: AccessKind::Write,
                        addr,
                        width,
                        value,
                        result: Ok(()),
                    } => Some((*addr, *width, *value)),
                    _ => None,
                })
                .collect()
        };
        let (wo, wn) = (rseq_writes(old), rseq_writes(self.new));
        let differing: Vec<(u64, u64)> = wo
            .iter()
            .filter(|w| !wn.contains(w))
            .chain(wn.iter().filter(|w| !wo.contains(w)))
            .map(|&(a, n, _)| (a, u64::from(n)))
            .collect();
        [old, self.new].into_iter().any(|run| {
            Self::descriptor_reads(run, self.obs)
                .any(|(addr, len)| differing.iter().any(|&(a, n)| overlaps(addr, len, a, n)))
        })
    }
    /// The two runs' areas differ in the bytes `r` at this return.
    pub fn areas_differ_in(&self, r: Range<usize>) -> bool {
        self.diff().area.iter().any(|o| r.contains(o))
    }
    /// A rt_sigreturn ran in this window.
    pub fn sigreturn_in_window(&self) -> bool {
        self.events_in_window()
            .iter()
            .any(|e| matches!(e, Event::Syscall(Syscall::Sigreturn)))
    }
    /// The struct rseq bytes a sigreturn to differing frames may show
    /// besides the IP: rseq_cs; and, for a program that also clobbered its
    /// IDs, the IDs, whose rewrite policies the releases register on their
    /// own and which show in the same return.
    fn sigreturn_area_ranges(&self) -> &'static [Range<usize>] {
        if self.clobbered_ids() {
            &RSEQ_CS_AND_IDS
        } else {
            &[RSEQ_CS_BYTES]
        }
    }
    /// The run returned at the IP one of its own signal frames saved.
    fn resumed_at_own_frame(&self, run: &Run, o: Option<&Observation>) -> bool {
        o.is_some_and(|o| Ctx::frame_ips(run, self.obs).contains(&o.ip))
    }
    /// A rt_sigreturn ran in this window and the runs had saved different
    /// frame IPs up to this return.
    fn sigreturn_after_differing_frames(&self, old: &Run) -> bool {
        self.sigreturn_in_window()
            && Ctx::frame_ips(old, self.obs) != Ctx::frame_ips(self.new, self.obs)
    }
    /// A rt_sigreturn in this window resumed each run at one of its own
    /// saved frame IPs, the runs saved different ones, and nothing else
    /// differs: the divergence was made when a signal was delivered, in an
    /// earlier window, and is seen only now.
    pub fn sigreturn_to_differing_frames(&self) -> bool {
        diff_only_area_or_ip(self, self.sigreturn_area_ranges())
            && self.old.is_some_and(|old| {
                self.sigreturn_after_differing_frames(old)
                    && self.resumed_at_own_frame(old, self.old_obs())
                    && self.resumed_at_own_frame(self.new, self.new_obs())
            })
    }
    /// The runs saved different frame IPs, a rt_sigreturn in this window
    /// restored them, and with the debug checks on the syscall-return check
    /// of that rt_sigreturn (legacy rseq_syscall(), the rework's
    /// __rseq_debug_syscall_return()) then killed the run whose restored IP
    /// lies in a section, while the other resumed at its own frame. The kill
    /// (and the SIGSEGV handler it enters) follows from the frames alone.
    pub fn sigreturn_then_debug_syscall_return_kill(&self) -> bool {
        const DEBUG_SYSCALL_RETURN_KILLS: [&str; 3] = [
            "rseq_syscall/ip_in_cs_force_sig",
            "rseq_syscall/invalid_cs_force_sig",
            "__rseq_debug_syscall_return/kill",
        ];
        let Some(old) = self.old else { return false };
        let killed_by_check = |o: Option<&Observation>| {
            o.is_some_and(|o| {
                o.decisions
                    .iter()
                    .any(|d| DEBUG_SYSCALL_RETURN_KILLS.contains(d))
            })
        };
        let resumed_unkilled = |run: &Run, o: Option<&Observation>| {
            o.is_some_and(|o| o.kills.is_empty()) && self.resumed_at_own_frame(run, o)
        };
        let one_killed = (killed_by_check(self.old_obs())
            && resumed_unkilled(self.new, self.new_obs()))
            || (killed_by_check(self.new_obs()) && resumed_unkilled(old, self.old_obs()));
        let d = self.diff();
        let ranges = self.sigreturn_area_ranges();
        old.config.debug
            && self.new.config.debug
            && self.sigreturn_after_differing_frames(old)
            && one_killed
            && !d.syscall_ret
            && !d.livelock
            && d.area.iter().all(|o| ranges.iter().any(|r| r.contains(o)))
    }
    /// The saved IPs of every signal frame the run built up to this return.
    pub fn frame_ips(run: &Run, obs: usize) -> Vec<u64> {
        run.windows
            .iter()
            .take(obs + 1)
            .flat_map(|w| w.frames.iter().map(|&(_, ip)| ip))
            .collect()
    }
    /// The new run registered in V2 legacy mode (rseq_len == 32, or an
    /// architecture without GENERIC_IRQ_ENTRY).
    pub fn v2_legacy_mode(&self) -> bool {
        self.new
            .trace
            .decisions()
            .any(|d| d == "rseq_register/legacy_mode")
    }
    /// The registered length of the new run at this return.
    pub fn new_len(&self) -> Option<u32> {
        self.new_obs()
            .and_then(|o| o.registration)
            .map(|r| r.len)
            .or_else(|| {
                self.lowered.events.iter().find_map(|e| match e {
                    Event::Syscall(Syscall::Rseq { len, flags: 0, .. }) => Some(*len),
                    _ => None,
                })
            })
    }
    /// A slice-extension syscall ran in this window.
    pub fn slice_syscall_in_window(&self) -> bool {
        let step = self.new_obs().map_or(0, |o| o.step);
        self.lowered
            .events
            .get(..=step.min(self.lowered.events.len().saturating_sub(1)))
            .unwrap_or(&[])
            .iter()
            .rev()
            .skip_while(|e| matches!(e, Event::ExitToUser))
            .take_while(|e| !matches!(e, Event::ExitToUser))
            .any(|e| {
                matches!(
                    e,
                    Event::Syscall(Syscall::PrctlSlice { .. } | Syscall::SliceYield)
                )
            })
    }
    pub fn killed(o: Option<&Observation>) -> bool {
        o.is_some_and(|o| !o.kills.is_empty() || o.fate != Fate::Running)
    }
    pub fn aborted_or_moved(&self) -> bool {
        self.diff().ip
    }
}

// Registry ranges are offsets into the registered struct rseq, and so are
// an observation's area bytes (Machine::observe reads the area the task
// registered, wherever the program put it).
fn diff_only_area(c: &Ctx, ranges: &[Range<usize>]) -> bool {
    c.diff().only_area_in(ranges)
}

/// Only the IP and area bytes in `ranges` differ.
fn diff_only_area_or_ip(c: &Ctx, ranges: &[Range<usize>]) -> bool {
    let d = c.diff();
    d.area.iter().all(|o| ranges.iter().any(|r| r.contains(o)))
        && ObsDiff {
            area: Vec::new(),
            ip: false,
            ..d
        }
        .is_empty()
}

/// The registry. Ordered by version, then by spec §6 row.
pub static REGISTRY: &[KnownDivergence] = &[
    // ---- v6.18 -> v6.19: "rseq: Optimize exit to user space" -------------
    // First: the broader entries below would match these KVM_RUN windows
    // with justifications about other paths.
    KnownDivergence {
        id: "r-kvm-pre-guest-work-leaves-rseq-to-the-exit",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "KVM's pre-guest work loop (kernel/entry/virt.c xfer_to_guest_mode_handle_work()) calls resume_user_mode_work(NULL) for TIF_NOTIFY_RESUME: legacy runs __rseq_handle_notify_resume() without registers, which rewrites the IDs at guest entry (and kills with force_sigsegv(0) when the area faults); the rework's __rseq_handle_slowpath() returns at once for NULL regs and leaves rseq's work to TIF_RSEQ, which is not guest-entry work, at the exit to user mode, where it runs only for an ID change. Only a program that clobbered the IDs or made its area inaccessible can tell",
        applies: |c| {
            c.nonconforming()
                && c.old_obs().is_some_and(|o| {
                    o.decisions
                        .contains(&"__rseq_handle_notify_resume/regs_null")
                })
        },
    },
    KnownDivergence {
        id: "r-ids-rewritten-only-when-changed",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "rseq_exit_user_update()/rseq_update_usr() write the IDs only when ids_changed; legacy rseq_update_cpu_node_id() rewrote them on every notify-resume, which only a program that clobbered them can tell (spec §6 rows 10-12, 29). The same legacy pass may also clear a stale rseq_cs (lazy-clear-of-stale-rseq-cs), so both can differ at one return",
        applies: |c| {
            c.clobbered_ids()
                && (diff_only_area(c, &IDS)
                    || (c.stale_rseq_cs_cleared_in_one() && diff_only_area(c, &RSEQ_CS_AND_IDS)))
        },
    },
    KnownDivergence {
        id: "r-unregister-fault-kills",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "sys_rseq() unregistration: a fault in rseq_reset_ids() now raises force_sig(SIGSEGV) besides returning -EFAULT (spec §6 row 21)",
        // Only where the newer run's rseq_reset_ids() failed and killed:
        // before r-no-cs-evaluation-without-user-irq and
        // rd-read-only-fields-enforced, which match the same kill on their
        // own grounds (a nonconforming program, clobbered IDs) with a
        // justification about another path.
        applies: |c| {
            c.rseq_call_in_window(true)
                && c.new_obs()
                    .is_some_and(|o| o.decisions.contains(&"rseq_reset_ids/kill"))
        },
    },
    KnownDivergence {
        id: "r-no-cs-evaluation-without-user-irq",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "rseq_update_usr() skips the critical section when !user_irq on GENERIC_IRQ_ENTRY kernels (debug off), and rseq_signal_deliver() runs only with user_irq: a syscall inside a section is no longer aborted (spec §6 rows 6, 15)",
        applies: |c| {
            c.new.config.generic_irq_entry
                && !c.new.config.debug
                && c.entered_by_syscall()
                && !Ctx::looked_at_cs(c.new, c.obs)
                && (c.broke("syscall-in-cs") || c.nonconforming())
        },
    },
    KnownDivergence {
        id: "lazy-clear-of-stale-rseq-cs",
        oracle: "differential",
        from: "*",
        to: "*",
        category: Category::IntendedOptimization,
        justification: "the ABI lets the kernel clear a non-zero rseq_cs lazily when the IP is outside the section (uapi comment on rseq_cs), and each release clears on different paths: legacy on every notify-resume (clear_rseq_cs()), the rework only when it evaluates the section, debug kernels also at syscall return (__rseq_debug_syscall_return()) (spec §6 rows 8, 14)",
        applies: |c| c.stale_rseq_cs_cleared_in_one() && diff_only_area(c, &[RSEQ_CS_BYTES]),
    },
    KnownDivergence {
        id: "r-32bit-rseq-cs-truncated",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "on a 32-bit kernel the rework reads rseq_cs as 64 bits but passes it to the section routines as unsigned long, dropping a non-zero high word; legacy rseq_get_rseq_cs_ptr_val() returned -EINVAL and killed (spec §4.13)",
        // Before r-descriptor-validated-only-inside, which matches the same
        // kill (an rseq_cs legacy rejects) without the truncation; and only
        // with a high word the newer run read, not for any pointer legacy
        // rejects on a 32-bit kernel (one at TASK_SIZE has none).
        applies: |c| {
            c.new.config.arch.word_bits() == 32
                && c.broke("rseq-cs-not-user-address")
                && Ctx::read_rseq_cs_with_high_word(c.new, c.obs)
        },
    },
    KnownDivergence {
        id: "r-descriptor-validated-only-inside",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "legacy rseq_get_rseq_cs() validates the whole descriptor before looking at the IP and kills on any flaw; rseq_update_user_cs() checks abort_ip and the signature only when the IP is inside, and never version, flags, start range, wrap or abort-inside-CS (spec §6 rows 1-5)",
        applies: |c| {
            DESCRIPTOR_RULES.iter().any(|r| c.broke(r))
                && Ctx::killed(c.old_obs()) != Ctx::killed(c.new_obs())
        },
    },
    KnownDivergence {
        id: "rd-read-only-fields-enforced",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "with the rseq_debug key on, rseq_debug_validate_ids() compares the read-only fields with the cached IDs before every ID write and the slow path kills with force_sig(SIGSEGV); legacy CONFIG_DEBUG_RSEQ rseq_validate_ro_fields() only warned (spec §6 rows 10, 11, 29)",
        applies: |c| {
            c.new.config.debug
                && c.clobbered_ids()
                && Ctx::killed(c.new_obs())
                && !Ctx::killed(c.old_obs())
        },
    },
    KnownDivergence {
        id: "r-no-write-while-rseq-cs-zero",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "legacy clear_rseq_cs() wrote rseq_cs = 0 on every notify-resume, so a read-only area killed at the next preemption; the rework writes the area only to update changed IDs or to clear a non-zero rseq_cs (spec §6 rows 18, 19)",
        applies: |c| {
            c.broke("area-unmapped") && Ctx::killed(c.old_obs()) && !Ctx::killed(c.new_obs())
        },
    },
    KnownDivergence {
        id: "rd-non-gie-syscall-return-aborts",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "on architectures without GENERIC_IRQ_ENTRY the debug syscall-return check (rseq_syscall() -> rseq_debug_update_user_cs()) has no user_irq test, so a syscall inside a valid section is aborted where legacy rseq_syscall() killed with force_sig(SIGSEGV) (spec §6 row 6b)",
        applies: |c| {
            // The debug check saw the IP inside a valid section at syscall
            // return: legacy killed, the rework aborted.
            !c.new.config.generic_irq_entry
                && c.new.config.debug
                && c.nonconforming()
                && Ctx::killed(c.old_obs())
                && !Ctx::killed(c.new_obs())
        },
    },
    KnownDivergence {
        id: "rd-arm32-exception-return-runs-the-syscall-check",
        oracle: "*",
        from: "*",
        to: "*",
        category: Category::KernelBugFixedLater,
        justification: "arm32 returns from a synchronous exception (a page fault, an undefined-instruction trap such as the lazy VFP enable) through ret_from_exception -> ret_to_user, which with CONFIG_DEBUG_RSEQ calls do_rseq_syscall() as after a syscall (arch/arm/kernel/entry-armv.S, entry-common.S; interrupts take ret_to_user_from_irq, past the call). Legacy rseq_syscall() then kills a conforming task whose IP is inside its critical section: a debug kernel kills programs that page-fault in a section. The v6.19 rework's check (__rseq_debug_syscall_return() -> rseq_debug_update_user_cs(), no user_irq test without GENERIC_IRQ_ENTRY) aborts the section instead, which the ABI allows, or lazily clears a stale rseq_cs",
        applies: |c| {
            let arm_debug_exception = !c.new.config.generic_irq_entry
                && c.new.config.debug
                && c.exception_in_window();
            let legacy_killed = match c.finding.oracle {
                "contract" => c.new.version == "v6.18" && Ctx::killed(c.new_obs()),
                "differential" => {
                    // rseq's own kills: the task may still die in the
                    // newer run, of a signal it had pending anyway.
                    let rseq_killed = |o: Option<&Observation>| o.is_some_and(|o| !o.kills.is_empty());
                    c.old.is_some_and(|o| o.version == "v6.18")
                        && ((rseq_killed(c.old_obs()) && !rseq_killed(c.new_obs()))
                            || diff_only_area_or_ip(c, &[RSEQ_CS_BYTES]))
                }
                _ => false,
            };
            arm_debug_exception && legacy_killed
        },
    },
    KnownDivergence {
        id: "r-kill-by-force-sig-from-slow-path",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "rseq_slowpath_update_usr() kills with force_sig(SIGSEGV) where legacy __rseq_handle_notify_resume() used force_sigsegv(0), and the fast path defers the kill by one loop iteration (spec §6 row 17 and the notes below the table)",
        applies: |c| c.nonconforming() && Ctx::killed(c.old_obs()) && Ctx::killed(c.new_obs()),
    },
    KnownDivergence {
        id: "r-no-stale-event-bit-abort",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::IntendedOptimization,
        justification: "legacy rseq_ip_fixup() returns before rseq_need_restart() when the IP is in no section, and KVM's pre-guest work runs the handler without registers and so without the fixup, so the event bits a preemption, migration or signal set there stay set; the next notify-resume pass that finds the task inside a section (task_work, a failed execve, ...) aborts it for an event that happened outside. The rework has no event mask and evaluates a section only for the events of its own window. An abort is always allowed, so only the spurious one is gone. The same legacy pass rewrites IDs the program clobbered (r-ids-rewritten-only-when-changed), so those may differ at the same return",
        applies: |c| {
            let quiet = c.window().is_some_and(|w| {
                !w.preempted && !w.migrated && !w.membarrier && w.frames.is_empty()
            });
            quiet
                && c.old_obs().is_some_and(|o| {
                    o.decisions.contains(&"rseq_need_restart/event_mask_set")
                })
                && (diff_only_area_or_ip(c, &[RSEQ_CS_BYTES])
                    || (c.clobbered_ids() && diff_only_area_or_ip(c, &RSEQ_CS_AND_IDS)))
        },
    },
    KnownDivergence {
        id: "r-no-event-mask",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "legacy rseq_need_restart() aborts only when the event mask (preempt, signal, migrate) is non-zero, and a bare TIF_NOTIFY_RESUME (failed execve, registration) sets no bit; the rework has no event mask, and on architectures without GENERIC_IRQ_ENTRY its slow path evaluates the section whenever it runs. Only a program inside a section in a syscall (which the ABI forbids), or one whose rseq_cs was stored while it was in the kernel, sees the abort",
        applies: |c| {
            let stored_from_the_kernel_side =
                !c.new.config.generic_irq_entry && c.broke("area-store-from-another-thread");
            (c.broke("syscall-in-cs") || stored_from_the_kernel_side)
                && diff_only_area_or_ip(c, &[RSEQ_CS_BYTES])
        },
    },
    KnownDivergence {
        id: "r-unregister-writes-cpu-id-start-uninitialized",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::KernelBugFixedLater,
        justification: "rseq_reset_ids() in v6.19 writes RSEQ_CPU_ID_UNINITIALIZED to cpu_id_start, which the ABI says is always a possible CPU; fixed by 2cb68e45120d \"Set rseq::cpu_id_start to 0 on unregistration\" (spec §6 row 20)",
        applies: |c| c.rseq_call_in_window(true) && diff_only_area(c, &CPU_ID_START),
    },
    KnownDivergence {
        id: "r-unregister-leaves-cpu-id-start-impossible",
        oracle: "contract",
        from: "",
        to: "*",
        category: Category::KernelBugFixedLater,
        justification: "the contract side of r-unregister-writes-cpu-id-start-uninitialized: after a successful unregistration, v6.19's and v7.0's rseq_reset_ids() leave RSEQ_CPU_ID_UNINITIALIZED in cpu_id_start, which the man page says is always a possible CPU number, registered or not; fixed in v7.1 by 2cb68e45120d \"Set rseq::cpu_id_start to 0 on unregistration\" (spec §2.6, §6 row 20)",
        applies: |c| {
            matches!(c.new.version, "v6.19" | "v7.0")
                && c.rseq_call_in_window(true)
                && c.finding.message.contains("cpu_id_start before the return was 0xffffffff")
                && c.new_obs().is_some_and(|o| o.registration.is_none())
        },
    },
    KnownDivergence {
        id: "r-registration-writes-ids",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::IntendedOptimization,
        justification: "rseq_register() in the rework writes cpu_id_start = cpu_id = RSEQ_CPU_ID_UNINITIALIZED, node_id = mm_cid = 0 in the syscall itself; legacy sys_rseq() wrote nothing and left the IDs to the exit path. Only a task that dies before its first return to user mode (or another thread, or a ptracer) sees the difference (spec §6 rows 22, 28)",
        applies: |c| {
            c.rseq_call_in_window(false)
                && diff_only_area(c, &IDS)
                && c.new_obs().is_some_and(|o| o.fate != Fate::Running)
        },
    },
    KnownDivergence {
        id: "sigreturn-to-a-frame-saved-differently",
        oracle: "differential",
        from: "*",
        to: "*",
        category: Category::AbiViolatingProgram,
        justification: "rt_sigreturn resumes at the IP saved in the signal frame, and the releases save different IPs for a program that broke the ABI at signal delivery (a syscall inside a section, a descriptor stored behind the kernel's back): legacy rseq_signal_deliver() runs rseq_ip_fixup() whenever the event mask is set and aborts in the frame, the rework's __rseq_signal_deliver() evaluates the section only after a user interrupt (spec §6 rows 6, 15). The difference is the one the delivery made, seen late; a program that also clobbered its IDs sees the releases' ID rewrite policies in the same return (r-ids-rewritten-only-when-changed, v2-legacy-mode-rewrites-ids). With the debug checks on, the syscall-return check of the rt_sigreturn itself (rseq_syscall(), __rseq_debug_syscall_return()) then kills the release whose restored IP lies in a section",
        applies: |c| {
            c.nonconforming()
                && (c.sigreturn_to_differing_frames()
                    || c.sigreturn_then_debug_syscall_return_kill())
        },
    },
    KnownDivergence {
        id: "r-no-id-update-for-a-task-that-dies-in-the-exit-loop",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::IntendedOptimization,
        justification: "legacy __rseq_handle_notify_resume() wrote the IDs from the notify-resume work of an exit-loop pass, before a fatal signal dequeued in a later pass killed the task; the rework writes them after the loop (rseq_exit_to_user_mode_restart()), which a task killed by a signal inside the loop never reaches. The task never returns to user space, so the ABI promises nothing about its IDs; only memory another process shares can show them. The same notify-resume work also cleared a stale rseq_cs (lazy-clear-of-stale-rseq-cs), which can show beside the IDs",
        applies: |c| {
            let died_of = |o: Option<&Observation>| o.map(|o| (o.fate, o.kills.is_empty()));
            let (old, new) = (died_of(c.old_obs()), died_of(c.new_obs()));
            // The notify-resume work that wrote legacy's IDs also cleared
            // a stale rseq_cs (lazy-clear-of-stale-rseq-cs): both show.
            old == new
                && matches!(new, Some((Fate::Killed { .. }, true)))
                && (diff_only_area(c, &IDS)
                    || (c.stale_rseq_cs_cleared_in_one() && diff_only_area(c, &RSEQ_CS_AND_IDS)))
        },
    },
    KnownDivergence {
        id: "r-area-at-null-is-live",
        oracle: "differential",
        from: "v6.18",
        to: "v6.19",
        category: Category::AbiViolatingProgram,
        justification: "sys_rseq() accepts an area at address 0 (aligned, access_ok) on every release. Legacy keys every later path on t->rseq != NULL (rseq_set_notify_resume(), rseq_handle_notify_resume(), rseq_signal_deliver(), rseq_syscall()), so such an area is never updated or checked; the rework keys exit work on rseq.event.has_rseq, which sys_rseq() sets, so it writes the IDs at address 0 and kills when that page goes away",
        applies: |c| {
            let at_null = |o: Option<&Observation>| {
                o.and_then(|o| o.registration).is_some_and(|r| r.addr == 0)
            };
            c.broke("registration-misuse") && (at_null(c.new_obs()) || at_null(c.old_obs()))
        },
    },
    KnownDivergence {
        id: "r-registration-checks",
        oracle: "differential",
        from: "*",
        to: "*",
        category: Category::AbiViolatingProgram,
        justification: "sys_rseq() changed its argument checks between releases for arguments a conforming program never passes: 7.0 requires 64-byte alignment and rseq_len >= 33 for rseq_len != 32 and accepts RSEQ_FLAG_SLICE_EXT_DEFAULT_ON (3b68df978133; spec §6 rows 23, 24)",
        applies: |c| c.broke("registration-misuse") && c.rseq_call_in_window(false),
    },
    KnownDivergence {
        id: "arm64-user-irq-never-noted",
        oracle: "*",
        from: "*",
        to: "*",
        category: Category::KernelBugFixedLater,
        justification: "arm64 in v6.19/v7.0 selects GENERIC_IRQ_ENTRY but its entry code never calls rseq_note_user_irq_entry(), so a preempted or signalled critical section is not aborted; fixed by 411c1cf43039 \"arm64/entry: Fix arm64-specific rseq brokenness\" (spec §6 row 26)",
        applies: |c| {
            (matches!(c.new.version, "v6.19" | "v7.0") || c.old.is_some_and(|o| o.version == "v7.0"))
                && c.new.config.arch == crate::abi::Arch::Arm64
                && (!c.entered_by_syscall()
                    // A frame saved without the abort, resumed later.
                    || c.finding.oracle == "differential" && c.sigreturn_to_differing_frames())
                && match c.finding.oracle {
                    // The missed abort, or the debug kill of a section that
                    // looks syscall-interrupted because user_irq is never set.
                    "contract" => true,
                    "differential" => {
                        // The buggy side is the one whose arm64 entry never
                        // notes user_irq: it did not look at the section.
                        let buggy = if matches!(c.new.version, "v6.19" | "v7.0") {
                            Some(c.new)
                        } else {
                            c.old
                        };
                        buggy.is_some_and(|b| !Ctx::looked_at_cs(b, c.obs))
                            || (c.new.config.debug
                                && (Ctx::killed(c.new_obs()) || Ctx::killed(c.old_obs())))
                    }
                    _ => false,
                }
        },
    },
    KnownDivergence {
        id: "same-death-other-kill-path",
        oracle: "differential",
        from: "*",
        to: "*",
        category: Category::AbiViolatingProgram,
        justification: "a program that broke the ABI dies of SIGSEGV on both releases, but they force it through different paths or a different number of times before it dies (force_sig() from the slow path or the debug syscall-return check, force_sigsegv() from signal delivery); nothing user space can observe differs",
        applies: |c| {
            let dead = |o: Option<&Observation>| {
                o.is_some_and(|o| o.fate == Fate::Killed { sig: crate::abi::sig::SIGSEGV })
            };
            let d = c.diff();
            c.nonconforming()
                && dead(c.old_obs())
                && dead(c.new_obs())
                && ObsDiff {
                    kills: false,
                    sigsegv_handled: false,
                    ip: false,
                    area: Vec::new(),
                    ..d
                }
                .is_empty()
        },
    },
    KnownDivergence {
        id: "rd-debug-branch-a-reads-address-zero",
        oracle: "*",
        from: "*",
        to: "*",
        category: Category::KernelBugUnfixed,
        justification: "with the rseq_debug key on, rseq_exit_user_update() Branch A calls the section routine even when rseq_cs is 0, so it reads a descriptor at address 0 (spec §4.4; include/linux/rseq_entry.h tests `debug || csaddr` and rseq_debug_update_user_cs() has no zero check; looks unintended). With page 0 mapped, that phantom descriptor can abort a task that is in no critical section (a contract break) from the fast path, while the slow path, reached when any access faults, checks csaddr == 0 first and does not: faults then change the outcome. v7.1 still has it for V2 registrations; its legacy registrations always take Branch B, which checks csaddr first",
        applies: |c| {
            c.new.config.debug
                && c.new.version != "v6.18"
                && c.lowered.setup.mem.state(0) != crate::mem::PageState::Unmapped
                && matches!(c.finding.oracle, "contract" | "fault-transparency" | "differential")
                && (c.read_descriptor_at_null(c.new) || c.old.is_some_and(|o| c.read_descriptor_at_null(o)))
        },
    },
    KnownDivergence {
        id: "r-slowpath-rewrites-ids-unconditionally",
        oracle: "fault-transparency",
        from: "*",
        to: "*",
        category: Category::AbiViolatingProgram,
        justification: "rseq_slowpath_update_usr() writes the IDs whether or not they changed, so when a fault defers the fast path (Branch A, IDs unchanged) the slow path restores IDs the program clobbered, which the fault-free fast path leaves alone; only a program that wrote the read-only fields can tell",
        applies: |c| c.new.version != "v6.18" && c.clobbered_ids() && diff_only_area(c, &IDS),
    },
    KnownDivergence {
        id: "r-slowpath-verdict-for-abi-violations",
        oracle: "fault-transparency",
        from: "*",
        to: "*",
        category: Category::AbiViolatingProgram,
        justification: "when a fault defers the exit fast path, rseq_slowpath_update_usr() rewrites the IDs and re-evaluates the section with page faults enabled and without the fast path's Branch A shortcut; for a program that already broke the ABI (clobbered IDs, an invalid or moving descriptor, a syscall in a section) that second look can reach another verdict (kill, clear or abort) than the fault-free fast path. Conforming programs stay held to fault transparency",
        applies: |c| c.new.version != "v6.18" && c.nonconforming(),
    },
    // ---- v6.19 -> v7.0: time-slice extension ------------------------------
    KnownDivergence {
        id: "r70-slice-ctrl-zeroed",
        oracle: "differential",
        from: "v6.19",
        to: "v7.0",
        category: Category::AbiViolatingProgram,
        justification: "v7.0 with the slice-extension key on zeroes slice_ctrl (U+28) on registration, every ID write, every fast-path exit and unregistration, even for 32-byte registrations where it is padding (rseq_set_ids_get_csaddr(), rseq_exit_user_update(); spec §6 row 25)",
        applies: |c| c.new.config.slice_key && diff_only_area(c, &[SLICE_BYTES]),
    },
    KnownDivergence {
        id: "r70-branch-a-writes-slice-ctrl",
        oracle: "differential",
        from: "v6.19",
        to: "v7.0",
        category: Category::AbiViolatingProgram,
        justification: "with the slice-extension key on, v7.0 rseq_exit_user_update() zeroes slice_ctrl (U+28) on every Branch A exit, where v6.19 wrote nothing. On an area the program made read-only or remapped, that write faults under pagefault_disable() and rseq_slowpath_update_usr() takes over: it kills when the area cannot be written, and otherwise rewrites every ID (and, through rseq_set_ids_get_csaddr(), zeroes slice_ctrl), restoring IDs the program had clobbered or the remap had zeroed that v6.19's Branch A left alone (spec §4.4, §6 rows 19, 25)",
        applies: |c| {
            c.new.config.slice_key
                && c.clobbered_ids()
                && ((Ctx::killed(c.new_obs()) && !Ctx::killed(c.old_obs()))
                    || (Ctx::fast_path_slice_write_faulted(c.new, c.obs)
                        && diff_only_area(c, &[IDS[0].clone(), IDS[1].clone(), SLICE_BYTES])))
        },
    },
    KnownDivergence {
        id: "r70-registration-checks-access-over-64-bytes",
        oracle: "differential",
        from: "v6.19",
        to: "v7.0",
        category: Category::KernelBugUnfixed,
        justification: "v7.0 rseq_register() opens its write region with scoped_user_write_access() over sizeof(struct rseq), whatever rseq_len: 32 bytes in v6.19, 64 since 3b68df978133. Where user_access_begin() checks access_ok() over that size (every architecture but x86-64's masked user access), a 32-byte area in the last 64 bytes below TASK_SIZE passes sys_rseq()'s access_ok(rseq, rseq_len) and then fails with EFAULT, where v6.19 registered it. v7.1 keeps the 64-byte region",
        applies: |c| {
            let masked = matches!(c.new.config.arch, Arch::X86_64 | Arch::X86_64La57);
            let ts = c.new.task_size;
            !masked
                && c.new_obs().and_then(|o| o.syscall_ret) == Some(-errno::EFAULT)
                && c.register_call_in_window().is_some_and(|(addr, len)| {
                    addr.checked_add(u64::from(len)).is_some_and(|end| end <= ts)
                        && addr.checked_add(64).is_none_or(|end| end > ts)
                })
        },
    },
    KnownDivergence {
        id: "r70-rseq-flags-written-at-registration",
        oracle: "differential",
        from: "v6.19",
        to: "v7.0",
        category: Category::IntendedOptimization,
        justification: "v7.0 rseq_register() writes the slice-extension feature bits into rseq.flags (U+16) (spec §4.11, §6 row 22)",
        applies: |c| diff_only_area(c, &[FLAGS_BYTES, SLICE_BYTES]),
    },
    KnownDivergence {
        id: "descriptor-inside-the-area-reads-kernel-bytes",
        oracle: "differential",
        from: "*",
        to: "*",
        category: Category::AbiViolatingProgram,
        justification: "a program that points rseq_cs into its own struct rseq (or registers an area over its own descriptor) makes the section routines read fields that sys_rseq() writes as descriptor fields; the releases' registrations write different fields (v7.0 rseq_register() writes the slice-extension bits into flags and zeroes slice_ctrl, V2 legacy mode does not, legacy writes no IDs at registration: r70-rseq-flags-written-at-registration, v2-legacy-mode-no-slice-bits, r-registration-writes-ids), so the same program reads a different descriptor and is aborted, cleared or killed differently",
        applies: |c| {
            let kernel_bytes = [FLAGS_BYTES, SLICE_BYTES];
            c.nonconforming()
                && (((c.areas_differ_in(FLAGS_BYTES) || c.areas_differ_in(SLICE_BYTES))
                    && (Ctx::descriptor_read_from_area(c.new, c.obs, &kernel_bytes)
                        || c.old
                            .is_some_and(|o| Ctx::descriptor_read_from_area(o, c.obs, &kernel_bytes))))
                    || c.descriptor_over_registration_writes())
        },
    },
    KnownDivergence {
        id: "r70-slice-syscalls",
        oracle: "differential",
        from: "*",
        to: "*",
        category: Category::IntendedOptimization,
        justification: "prctl(PR_RSEQ_SLICE_EXTENSION) and rseq_slice_yield() exist from v7.0 (rseq_slice_extension_prctl(), sys_rseq_slice_yield()); earlier kernels return -EINVAL / -ENOSYS, and v7.1 returns -ENOTSUPP for a legacy-mode registration (b9eac6a9d93c, 99428157dcf3)",
        // The prctl may also kill (a fault or inconsistent rseq.flags ->
        // force_sig), so any difference in a window with one of these
        // syscalls comes from the feature itself.
        applies: |c| {
            c.slice_syscall_in_window()
                && (c.old.is_some_and(|o| o.version == "v6.19") || c.new.version == "v7.1")
        },
    },
    // ---- v7.0 -> v7.1: the 2026 V2 fixes ----------------------------------
    KnownDivergence {
        id: "v2-legacy-mode-no-slice-bits",
        oracle: "differential",
        from: "v7.0",
        to: "v7.1",
        category: Category::KernelBugFixedLater,
        justification: "V2 writes the slice-extension feature bits into rseq.flags and zeroes slice_ctrl only in optimized mode and only while the slice key is on (99428157dcf3 \"Reenable performance optimizations conditionally\", 010b7723c0a3 \"Don't advertise time slice extensions if disabled\"); v7.0 did it for every registration",
        applies: |c| diff_only_area(c, &[FLAGS_BYTES, SLICE_BYTES]),
    },
    KnownDivergence {
        id: "v2-cpu-id-start-zero-on-unregister",
        oracle: "differential",
        from: "v7.0",
        to: "v7.1",
        category: Category::KernelBugFixedLater,
        justification: "2cb68e45120d \"Set rseq::cpu_id_start to 0 on unregistration\": rseq_reset_ids() writes 0, a possible CPU, where v6.19/v7.0 wrote RSEQ_CPU_ID_UNINITIALIZED (spec §6 row 20)",
        // v7.0 also zeroed slice_ctrl on unregistration (key on), which
        // V2 does only in optimized mode.
        applies: |c| c.rseq_call_in_window(true) && diff_only_area(c, &[0..4, SLICE_BYTES]),
    },
    KnownDivergence {
        id: "v2-unregister-skips-debug-id-validation",
        oracle: "differential",
        from: "v7.0",
        to: "v7.1",
        category: Category::AbiViolatingProgram,
        justification: "v7.0 rseq_reset_ids() wrote the IDs through rseq_set_ids(), which with the rseq_debug key first runs rseq_debug_validate_ids(): a program that clobbered its read-only fields was killed with force_sig(SIGSEGV) and its unregistration failed with EFAULT. v7.1's rseq_reset_ids() (2cb68e45120d) writes the fields directly, without validation, so the same program unregisters. The cached IDs also go stale for a program that registered an area at NULL and then another area: sys_rseq() tests usrptr != 0 for re-registration, so the second registration passes without a reset, and the new area's RSEQ_CPU_ID_UNINITIALIZED no longer matches the cache",
        applies: |c| {
            c.new.config.debug
                && (c.clobbered_ids() || c.broke("registration-misuse"))
                && c.rseq_call_in_window(true)
                && c.old_obs().is_some_and(|o| {
                    o.decisions.contains(&"rseq_reset_ids/set_ids_failed_force_sig")
                })
                && c.new_obs().is_some_and(|o| o.decisions.contains(&"rseq_unregister/ok"))
        },
    },
    KnownDivergence {
        id: "v2-legacy-mode-rewrites-ids",
        oracle: "differential",
        from: "v7.0",
        to: "v7.1",
        category: Category::AbiViolatingProgram,
        justification: "b9eac6a9d93c \"Revert to historical performance killing behaviour\": in legacy mode (rseq_len == 32) rseq_sched_switch_event() sets ids_changed on every switch-in and signal delivery forces an update, so clobbered IDs are rewritten again (spec §5.1, §6 rows 10, 12)",
        applies: |c| c.v2_legacy_mode() && c.clobbered_ids() && diff_only_area(c, &IDS),
    },
    KnownDivergence {
        id: "v2-legacy-mode-writes-ids-every-switch",
        oracle: "differential",
        from: "v7.0",
        to: "v7.1",
        category: Category::AbiViolatingProgram,
        justification: "b9eac6a9d93c: legacy mode writes the IDs after every switch-in and signal, so an area the program made read-only faults at the first such write and the slow path kills, as in v6.18 (spec §6 row 19, V2-leg column)",
        applies: |c| {
            c.v2_legacy_mode()
                && c.broke("area-unmapped")
                && Ctx::killed(c.new_obs())
                && !Ctx::killed(c.old_obs())
        },
    },
    KnownDivergence {
        id: "v2-legacy-mode-evaluates-cs-after-syscall",
        oracle: "differential",
        from: "v7.0",
        to: "v7.1",
        category: Category::AbiViolatingProgram,
        justification: "b9eac6a9d93c: in legacy mode rseq_signal_deliver() evaluates the section for every signal and every switch-in forces an update, so a section left by a syscall (which the ABI forbids) is aborted or cleared again as in v6.18 (spec §6 rows 6, 15)",
        applies: |c| {
            // v7.0 did not look at the section in this window; everything
            // that differs comes from legacy mode looking at it.
            c.v2_legacy_mode()
                && c.entered_by_syscall()
                // Slice bits alone are v2-legacy-mode-no-slice-bits's.
                && !diff_only_area(c, &[FLAGS_BYTES, SLICE_BYTES])
                && c.old.is_some_and(|o| !Ctx::looked_at_cs(o, c.obs))
                && (c.broke("syscall-in-cs")
                    || DESCRIPTOR_RULES.iter().any(|r| c.broke(r))
                    || c.window().is_some_and(|w| w.cs_at_entry.is_none()))
        },
    },
    KnownDivergence {
        id: "v2-legacy-mode-reevaluates-on-every-event",
        oracle: "differential",
        from: "v7.0",
        to: "v7.1",
        category: Category::AbiViolatingProgram,
        justification: "b9eac6a9d93c: legacy mode forces an ID update and a section evaluation on every switch-in, every membarrier IPI and every signal (rseq_sched_switch_event(), ipi_rseq(), rseq_signal_deliver() -> rseq_force_update()), where v7.0 only acted on user_irq or changed IDs; a program that broke the ABI (clobbered IDs, invalid descriptor, syscall in a section) is therefore caught, and killed, in more places (spec §5.2)",
        applies: |c| {
            const LEGACY_PATHS: [&str; 4] = [
                "rseq_signal_deliver/legacy_deliver",
                "__rseq_signal_deliver/legacy_force_update_b9eac6a9d93c",
                "rseq_sched_switch_event/legacy_ids_changed_b9eac6a9d93c",
                "ipi_rseq/legacy_force_update_b9eac6a9d93c",
            ];
            c.v2_legacy_mode()
                && c.nonconforming()
                && c.new_obs()
                    .is_some_and(|o| o.decisions.iter().any(|d| LEGACY_PATHS.contains(d)))
        },
    },
    KnownDivergence {
        id: "v2-optimized-mode-ro-enforcement",
        oracle: "differential",
        from: "v7.0",
        to: "v7.1",
        category: Category::AbiViolatingProgram,
        justification: "82f572449cfe \"Implement read only ABI enforcement for optimized RSEQ V2 mode\": rseq_set_ids_get_csaddr() validates cpu_id_start, cpu_id, node_id and mm_cid against the cached values before every ID write and kills through the slow path (spec §6 rows 11, 29)",
        // Not "killed in one run only": the older run may have been killed
        // too, or caught a forced SIGSEGV in a handler, for another reason
        // (here a signature mismatch), while V2's check kills once more.
        applies: |c| {
            // v7.1's check, and v7.0's debug-only one: if the older run
            // checked and failed too, this entry does not explain the pair.
            const RO_CHECK_FAILED: [&str; 8] = [
                "rseq_set_ids_get_csaddr/cpu_id_start_mismatch",
                "rseq_set_ids_get_csaddr/cpu_id_mismatch",
                "rseq_set_ids_get_csaddr/node_id_mismatch",
                "rseq_set_ids_get_csaddr/mm_cid_mismatch",
                "rseq_debug_validate_ids/cpu_id_start_mismatch",
                "rseq_debug_validate_ids/cpu_id_mismatch",
                "rseq_debug_validate_ids/node_id_mismatch",
                "rseq_debug_validate_ids/mm_cid_mismatch",
            ];
            let ro_check_failed = |o: Option<&Observation>| {
                o.is_some_and(|o| o.decisions.iter().any(|d| RO_CHECK_FAILED.contains(d)))
            };
            c.clobbered_ids() && ro_check_failed(c.new_obs()) && !ro_check_failed(c.old_obs())
        },
    },
];

/// Every entry that explains the candidate, in registry order. The first
/// is the one a finding names ([`explain`]); the others overlap it, which
/// `rseq-fuzz explain` shows so that a justification that only happens to
/// match is seen.
pub fn matching<'c>(c: &'c Ctx<'c>) -> impl Iterator<Item = &'static KnownDivergence> + 'c {
    let version_ok = |pat: &str, v: Option<&str>| {
        pat == "*" || v == Some(pat) || (pat.is_empty() && v.is_none())
    };
    REGISTRY.iter().filter(move |d| {
        (d.oracle == "*" || d.oracle == c.finding.oracle)
            && (c.finding.oracle != "differential" || version_ok(d.from, c.old.map(|r| r.version)))
            && version_ok(d.to, Some(c.new.version))
            && (d.applies)(c)
    })
}

/// The id of the first entry that explains the candidate, if any.
pub fn explain(c: &Ctx) -> Option<&'static str> {
    matching(c).next().map(|d| d.id)
}

/// How a set of checked inputs uses the registry: per entry, how often it
/// is the first match (the reason a finding names) and how often a later
/// match behind another entry. `rseq-fuzz registry DIR...` prints it; an
/// entry that is never first is dead or shadowed.
#[derive(Clone, Debug, Serialize)]
pub struct RegistryUse {
    pub inputs: usize,
    /// Explained candidate findings.
    pub explained: usize,
    /// Of those, the ones more than one entry matches.
    pub overlapping: usize,
    /// In registry order.
    pub entries: Vec<EntryUse>,
    /// (first entry, later entry, candidates), most frequent first after
    /// [`RegistryUse::finish`].
    pub overlaps: Vec<(&'static str, &'static str, usize)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EntryUse {
    pub id: &'static str,
    pub first: usize,
    pub also: usize,
}

impl Default for RegistryUse {
    fn default() -> Self {
        RegistryUse {
            inputs: 0,
            explained: 0,
            overlapping: 0,
            entries: REGISTRY
                .iter()
                .map(|d| EntryUse {
                    id: d.id,
                    first: 0,
                    also: 0,
                })
                .collect(),
            overlaps: Vec::new(),
        }
    }
}

impl RegistryUse {
    /// Count one input's explained candidates (checked with
    /// `describe_explained`, so that the later matches are listed).
    pub fn add(&mut self, explained: &[Finding]) {
        self.inputs += 1;
        for f in explained {
            let Some(first) = f.explained_by else {
                continue;
            };
            self.explained += 1;
            self.overlapping += usize::from(!f.also_matches.is_empty());
            if let Some(e) = self.entries.iter_mut().find(|e| e.id == first) {
                e.first += 1;
            }
            for &later in &f.also_matches {
                if let Some(e) = self.entries.iter_mut().find(|e| e.id == later) {
                    e.also += 1;
                }
                match self
                    .overlaps
                    .iter_mut()
                    .find(|(a, b, _)| *a == first && *b == later)
                {
                    Some(o) => o.2 += 1,
                    None => self.overlaps.push((first, later, 1)),
                }
            }
        }
    }

    /// Sort the overlaps, most frequent first (ties by name).
    pub fn finish(&mut self) {
        self.overlaps
            .sort_by(|x, y| y.2.cmp(&x.2).then(x.0.cmp(y.0)).then(x.1.cmp(y.1)));
    }

    /// The entries no input had as its first match.
    pub fn never_first(&self) -> Vec<&'static str> {
        self.entries
            .iter()
            .filter(|e| e.first == 0)
            .map(|e| e.id)
            .collect()
    }
}
