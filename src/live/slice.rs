//! The time-slice extension's syscall ABI on a live kernel: what
//! registration writes to `rseq->flags` and `rseq->slice_ctrl`, what
//! prctl(PR_RSEQ_SLICE_EXTENSION) answers and writes, what
//! rseq_slice_yield() returns, and when either kills the task.
//!
//! The critical-section cases of the live suite cannot tell a kernel built
//! with CONFIG_RSEQ_SLICE_EXTENSION from one without: they classify where the
//! task resumes, not the area's flags. These probes can. Each is a short
//! sequence of syscalls and user stores, run in a child process that
//! registers an area of its own, and run as a scenario on the model of the
//! host; after every syscall both report its return value and the area's
//! `rseq_cs`, `flags` and `slice_ctrl` words, and the task's death by a
//! signal ends the probe. On a kernel without the extension (6.18 and
//! before, or a 7.x built without it) the same probes check the "not
//! configured" answers.
//!
//! Kernel functions the probes reach (kernel/rseq.c, v7.0+):
//! rseq_register(), rseq_slice_extension_prctl(), sys_rseq_slice_yield()
//! and the unregistration in sys_rseq().

use crate::abi::{self, Arch};
use crate::kernel::Fate;
use crate::scenario::{Anchor, Init, Scenario, SigVal, Step, Val};
use crate::versions::VersionEntry;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::abi::{
    PR_RSEQ_SLICE_EXTENSION_GET as PR_GET, PR_RSEQ_SLICE_EXTENSION_SET as PR_SET,
    PR_RSEQ_SLICE_EXT_ENABLE as ENABLE, RSEQ_FLAG_SLICE_EXT_DEFAULT_ON as DEFAULT_ON,
};

/// x86_64's syscall number of rseq_slice_yield (syscall_64.tbl).
pub const NR_RSEQ_SLICE_YIELD: i64 = 471;

/// Offsets in struct rseq of the words a probe reports.
pub const RSEQ_CS_OFFSET: usize = abi::rseq::RSEQ_CS as usize;
pub const FLAGS_OFFSET: usize = abi::rseq::FLAGS as usize;
pub const SLICE_CTRL_OFFSET: usize = abi::rseq::SLICE_CTRL as usize;

/// What the child's area holds before the probe: every byte 0x5a, so that
/// a field the kernel writes (or leaves alone) shows.
pub const AREA_FILL: u8 = 0x5a;
/// Bytes of the area filled before the probe: every field the kernel
/// writes lies in them, whatever length a probe registers.
pub const AREA_BYTES: usize = 64;

/// One step of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum SliceOp {
    /// rseq(area, len, flags, sig).
    Register { len: u32, flags: u32, sig: u32 },
    /// rseq(area, len, RSEQ_FLAG_UNREGISTER, sig).
    Unregister { len: u32, sig: u32 },
    /// prctl(PR_RSEQ_SLICE_EXTENSION, op, arg, 0, 0).
    Prctl { op: u32, arg: u32 },
    /// rseq_slice_yield().
    Yield,
    /// The program stores to `rseq->flags`.
    StoreFlags { value: u32 },
    /// The program stores to `rseq->slice_ctrl` (1: the request byte set).
    StoreSliceCtrl { value: u32 },
    /// The program spins until the kernel changes `slice_ctrl` or preempts
    /// it. On the live side a competitor pinned to the same CPU makes the
    /// scheduler want the CPU back; the tick's or the wakeup's interrupt
    /// then returns to user mode with TIF_NEED_RESCHED, where
    /// __rseq_grant_slice_extension() grants the requested extension
    /// (request 0, granted 1) instead of schedule(). On the model: that
    /// interrupt ([`Step::NeedResched`]) and the return to user mode.
    AwaitGrant,
    /// The program spins until the kernel changes `slice_ctrl` again: the
    /// extension's hrtimer (rseq_slice_expired()) asks for the CPU back
    /// and the return to user mode revokes the grant (slice_ctrl 0). On
    /// the model: [`Step::SliceTimer`] and the return to user mode.
    AwaitRevoke,
}

impl SliceOp {
    /// Whether the live child and the model record the area after the step:
    /// after every syscall and every wait.
    pub fn records(self) -> bool {
        !matches!(
            self,
            SliceOp::StoreFlags { .. } | SliceOp::StoreSliceCtrl { .. }
        )
    }

    /// Whether the step waits for the scheduler (the live child needs a
    /// competitor on its CPU).
    pub fn waits(self) -> bool {
        matches!(self, SliceOp::AwaitGrant | SliceOp::AwaitRevoke)
    }

    /// The scenario step that does the same on the model; a wait is two
    /// steps, the interrupt and the return to user mode, which
    /// [`scenario`] adds after every recording step.
    fn step(self) -> Step {
        let area = |delta: i32| Val::at(Anchor::Area, delta);
        match self {
            SliceOp::Register { len, flags, sig } => Step::Rseq {
                addr: area(0),
                len,
                flags,
                sig: SigVal::Raw(sig),
            },
            SliceOp::Unregister { len, sig } => Step::Rseq {
                addr: area(0),
                len,
                flags: abi::RSEQ_FLAG_UNREGISTER,
                sig: SigVal::Raw(sig),
            },
            SliceOp::Prctl { op, arg } => Step::PrctlSlice { op, arg },
            SliceOp::Yield => Step::SliceYield,
            SliceOp::StoreFlags { value } => Step::Store32 {
                addr: area(FLAGS_OFFSET as i32),
                value,
            },
            SliceOp::StoreSliceCtrl { value } => Step::Store32 {
                addr: area(SLICE_CTRL_OFFSET as i32),
                value,
            },
            SliceOp::AwaitGrant => Step::NeedResched,
            SliceOp::AwaitRevoke => Step::SliceTimer,
        }
    }
}

/// The `ret` a wait records: 0, or this when the kernel never changed
/// `slice_ctrl` (the task was preempted, or, on the model, scheduled,
/// without a grant).
pub const WAIT_UNCHANGED: i64 = 1;

/// A named sequence of steps.
#[derive(Clone)]
pub struct SliceProbe {
    pub name: String,
    pub ops: Vec<SliceOp>,
}

/// After one syscall: its return value (-errno on failure) and the area's
/// words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AfterSyscall {
    pub ret: i64,
    pub rseq_cs: u64,
    pub flags: u32,
    pub slice_ctrl: u32,
}

impl AfterSyscall {
    /// The record of a return, from the area's first 32 bytes (a field
    /// past the end of a shorter slice reads as 0).
    pub fn from_area(ret: i64, area: &[u8]) -> AfterSyscall {
        let bytes = |o: usize, n: usize| area.get(o..o + n).unwrap_or(&[0; 8][..n]);
        let u32_at = |o| u32::from_le_bytes(bytes(o, 4).try_into().unwrap_or_default());
        AfterSyscall {
            ret,
            rseq_cs: u64::from_le_bytes(bytes(RSEQ_CS_OFFSET, 8).try_into().unwrap_or_default()),
            flags: u32_at(FLAGS_OFFSET),
            slice_ctrl: u32_at(SLICE_CTRL_OFFSET),
        }
    }
}

/// What a probe did: one record per syscall that returned, and the signal
/// that killed the task, if one did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProbeOutcome {
    pub returns: Vec<AfterSyscall>,
    pub killed_by: Option<u8>,
}

impl ProbeOutcome {
    pub fn describe(&self) -> String {
        let mut s: Vec<String> = self
            .returns
            .iter()
            .map(|r| {
                format!(
                    "{}(flags {:#x}, slice_ctrl {:#x}, rseq_cs {:#x})",
                    r.ret, r.flags, r.slice_ctrl, r.rseq_cs
                )
            })
            .collect();
        if let Some(sig) = self.killed_by {
            s.push(format!("killed by signal {sig}"));
        }
        s.join("; ")
    }
}

/// What the probe's child did besides its steps, from getrusage() just
/// before its first step and just after its last (the deltas): to tell
/// what descheduled a task whose wait contradicts itself ([`torn_wait`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChildCounters {
    /// Page faults that needed no I/O (ru_minflt).
    pub minor_faults: u64,
    /// Page faults that did (ru_majflt).
    pub major_faults: u64,
    /// Voluntary context switches (ru_nvcsw): the task slept.
    pub voluntary_switches: u64,
    /// Involuntary ones (ru_nivcsw): the task was preempted.
    pub involuntary_switches: u64,
}

impl ChildCounters {
    pub fn describe(&self) -> String {
        format!(
            "minor faults {}, major faults {}, voluntary switches {}, involuntary switches {}",
            self.minor_faults,
            self.major_faults,
            self.voluntary_switches,
            self.involuntary_switches
        )
    }
}

/// The competitor's count around one recording step of the live child:
/// the count moves only while the competitor runs, that is, while the
/// child, pinned to the same CPU, is switched out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepCounts {
    /// Just before the step's syscall or spin, after the stores before it.
    pub at_start: u64,
    /// Just after the syscall or the spin returned, before the record.
    pub after_step: u64,
    /// Just after the step's record was written.
    pub after_record: u64,
}

/// One run of a probe in a live child.
#[derive(Clone, Debug, Default)]
pub struct ChildRun {
    pub outcome: ProbeOutcome,
    pub counters: ChildCounters,
    /// The recording steps (indices into the probe's steps) in whose window
    /// the competitor ran outside a wait ([`preempted_outside_waits`]).
    pub preempted: Vec<usize>,
    /// The competitor's count before the first step, and around each record
    /// written: where the child was switched out.
    pub first_count: u64,
    pub counts: Vec<StepCounts>,
}

impl ChildRun {
    /// The competitor's counts around each record, relative to the count
    /// before the first step: `[start, after the step, after the record]`
    /// per record, so that a switch shows as a step up.
    pub fn describe_counts(&self) -> String {
        let rel = |c: u64| c.wrapping_sub(self.first_count);
        let each: Vec<String> = self
            .counts
            .iter()
            .map(|c| {
                format!(
                    "[{}, {}, {}]",
                    rel(c.at_start),
                    rel(c.after_step),
                    rel(c.after_record)
                )
            })
            .collect();
        each.join(" ")
    }
}

/// The recording steps of `ops` in whose window the competitor ran while
/// the child was not waiting for it, from the count before the first step
/// (`first_count`) and the counts around each record (`counts`, one per
/// record written). A step's window runs from the previous record (or the
/// first step) over the stores before the step, and then:
/// - for a syscall, to the step's own record;
/// - for a wait, to the start of its spin: the wait expects the
///   competitor, and a preemption in the few loads between the spin's end
///   and the record is not looked for.
///
/// Such a preemption is the scheduler's choice, not the probe's: it
/// happens when the child's time runs out in a syscall or a store, and the
/// switch it makes shows in the area (a V2 area's `slice_ctrl` is cleared).
/// [`model_outcomes`] allows it only in these windows.
pub fn preempted_outside_waits(
    ops: &[SliceOp],
    first_count: u64,
    counts: &[StepCounts],
) -> Vec<usize> {
    let recording = ops.iter().enumerate().filter(|(_, o)| o.records());
    let mut previous = first_count;
    let mut preempted = Vec::new();
    for ((i, op), c) in recording.zip(counts) {
        let window_end = if op.waits() {
            c.at_start
        } else {
            c.after_record
        };
        if window_end != previous {
            preempted.push(i);
        }
        previous = c.after_record;
    }
    preempted
}

/// The probes, each from a fresh child with nothing registered and the area
/// filled with [`AREA_FILL`].
pub fn probes() -> Vec<SliceProbe> {
    use SliceOp::*;
    let get = Prctl { op: PR_GET, arg: 0 };
    let set = |arg| Prctl { op: PR_SET, arg };
    let reg = |len, flags| Register {
        len,
        flags,
        sig: super::SIG,
    };
    let unreg = |len| Unregister {
        len,
        sig: super::SIG,
    };
    // slice_ctrl's request byte.
    let request = StoreSliceCtrl { value: 1 };
    vec![
        SliceProbe {
            // Legacy mode (32 bytes): no slice bits, slice_ctrl untouched,
            // and SET is refused (ENOTSUPP) even where the extension is
            // built.
            name: "legacy_len_32".into(),
            ops: vec![reg(32, 0), get, set(ENABLE), Yield],
        },
        SliceProbe {
            name: "legacy_len_32_default_on".into(),
            ops: vec![reg(32, DEFAULT_ON), get],
        },
        SliceProbe {
            // V2 mode: SLICE_EXT_AVAILABLE at registration, slice_ctrl
            // zeroed; enable, enable again (no change), disable.
            name: "v2_enable_disable".into(),
            ops: vec![reg(64, 0), get, set(ENABLE), get, set(ENABLE), set(0), get],
        },
        SliceProbe {
            name: "v2_default_on".into(),
            ops: vec![reg(64, DEFAULT_ON), get, Yield, set(0), get],
        },
        SliceProbe {
            name: "v2_bad_arguments".into(),
            ops: vec![
                reg(64, 0),
                Prctl { op: PR_GET, arg: 1 },
                set(2),
                set(ENABLE | 4),
                Prctl { op: 3, arg: 0 },
                Prctl { op: 0, arg: 0 },
            ],
        },
        SliceProbe {
            // Before any registration SET answers ENXIO where the
            // extension is built; GET answers from the task's state.
            name: "unregistered".into(),
            ops: vec![get, set(ENABLE), Yield],
        },
        SliceProbe {
            // The program cleared SLICE_EXT_AVAILABLE: SET kills.
            name: "v2_set_after_available_cleared".into(),
            ops: vec![reg(64, 0), StoreFlags { value: 0 }, set(ENABLE)],
        },
        SliceProbe {
            // Enabled, and the program cleared SLICE_EXT_ENABLED: disabling
            // kills.
            name: "v2_disable_after_enabled_cleared".into(),
            ops: vec![
                reg(64, DEFAULT_ON),
                StoreFlags {
                    value: abi::RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE,
                },
                set(0),
            ],
        },
        SliceProbe {
            // The program set SLICE_EXT_ENABLED itself: enabling takes the
            // flags as they are.
            name: "v2_enable_with_enabled_bit_set_by_the_program".into(),
            ops: vec![
                reg(64, 0),
                StoreFlags {
                    value: abi::RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE
                        | abi::RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
                },
                set(ENABLE),
                get,
            ],
        },
        SliceProbe {
            // Unregistration, then GET and SET on no area, then a legacy
            // registration.
            name: "v2_unregister_then_legacy".into(),
            ops: vec![
                reg(64, DEFAULT_ON),
                unreg(64),
                get,
                set(ENABLE),
                reg(32, 0),
                get,
            ],
        },
        SliceProbe {
            // A 64-byte registration with a bad unregistration length.
            name: "v2_unregister_wrong_len".into(),
            ops: vec![reg(64, 0), unreg(32), get],
        },
        // The grant itself: the program sets the request byte and spins
        // until the scheduler wants its CPU (SliceOp::AwaitGrant).
        SliceProbe {
            // Granted (slice_ctrl 0x100), then rseq_slice_yield() ends the
            // grant, clears slice_ctrl and returns 1; a second yield 0.
            name: "grant_then_yield".into(),
            ops: vec![reg(64, DEFAULT_ON), request, AwaitGrant, Yield, Yield],
        },
        SliceProbe {
            // Any other syscall ends the grant too (and clears slice_ctrl);
            // rseq_slice_yield() then answers 0.
            name: "grant_then_other_syscall".into(),
            ops: vec![reg(64, DEFAULT_ON), request, AwaitGrant, get, Yield],
        },
        SliceProbe {
            // Granted and never yielded: the extension's timer revokes it.
            name: "grant_revoked_by_the_timer".into(),
            ops: vec![reg(64, DEFAULT_ON), request, AwaitGrant, AwaitRevoke, Yield],
        },
        SliceProbe {
            // The program clears the granted bit itself, then makes a
            // syscall: with the debug key on, rseq_slice_validate_ctrl()
            // kills it.
            name: "grant_then_program_clears_slice_ctrl".into(),
            ops: vec![
                reg(64, DEFAULT_ON),
                request,
                AwaitGrant,
                StoreSliceCtrl { value: 0 },
                get,
            ],
        },
        SliceProbe {
            // Not enabled: preempted with no grant, slice_ctrl untouched.
            name: "request_while_disabled".into(),
            ops: vec![reg(64, 0), request, AwaitGrant, Yield],
        },
        SliceProbe {
            // Legacy mode has no extension: preempted with no grant.
            name: "request_in_legacy_mode".into(),
            ops: vec![reg(32, 0), request, AwaitGrant, get],
        },
    ]
}

/// `n` probes of random steps, made from `seed` ([`super::XorShift`]): the
/// registration's length, flags and signature, re-registration and
/// unregistration, prctl with any operation and argument, and stores of
/// flag bits, in any order. Most start with a registration.
pub fn random_probes(seed: u64, n: usize) -> Vec<SliceProbe> {
    const LENS: [u32; 12] = [32, 32, 64, 64, 33, 48, 96, 128, 256, 31, 0, 20];
    const REG_FLAGS: [u32; 6] = [0, 0, DEFAULT_ON, 4, DEFAULT_ON | 4, 1 << 31];
    const SIGS: [u32; 4] = [super::SIG, super::SIG, super::SIG, super::SIG ^ 1];
    const PR_OPS: [u32; 5] = [PR_GET, PR_SET, PR_SET, 0, 3];
    const PR_ARGS: [u32; 6] = [0, ENABLE, ENABLE, 2, 3, u32::MAX];
    const FLAG_VALUES: [u32; 8] = [0, 0x10, 0x20, 0x30, 0x1, 0x8, 0x40, u32::MAX];
    // slice_ctrl: the request byte, the granted byte, both, the reserved
    // half.
    const CTRL_VALUES: [u32; 6] = [1, 1, 0, 0x100, 0x101, 0x1_0001];
    let mut rng = super::XorShift::new(seed);
    (0..n)
        .map(|i| {
            let len = 2 + (rng.next_u64() % 7) as usize;
            let ops = (0..len)
                .map(|k| {
                    let kind = if k == 0 && rng.next_u64() % 4 != 0 {
                        0
                    } else {
                        rng.next_u64() % 12
                    };
                    match kind {
                        0 | 1 => SliceOp::Register {
                            len: rng.pick(&LENS),
                            flags: rng.pick(&REG_FLAGS),
                            sig: rng.pick(&SIGS),
                        },
                        2 => SliceOp::Unregister {
                            len: rng.pick(&LENS),
                            sig: rng.pick(&SIGS),
                        },
                        3..=6 => SliceOp::Prctl {
                            op: rng.pick(&PR_OPS),
                            arg: rng.pick(&PR_ARGS),
                        },
                        7 => SliceOp::Yield,
                        8 | 9 => SliceOp::StoreFlags {
                            value: rng.pick(&FLAG_VALUES),
                        },
                        10 => SliceOp::StoreSliceCtrl {
                            value: rng.pick(&CTRL_VALUES),
                        },
                        // A revoke is only awaited after a grant (the
                        // fixed probes); without one, the wait would end
                        // at a preemption, which is AwaitGrant's case.
                        _ => SliceOp::AwaitGrant,
                    }
                })
                .collect();
            SliceProbe {
                name: format!("random_{seed}_{i}"),
                ops,
            }
        })
        .collect()
}

/// The probe as a scenario: nothing registered, the area present and
/// filled, the task entering user mode first. Also returns, for every step
/// that records, the index of the return to user mode after which it
/// records (the scenario has no prologue: step i is event i).
pub fn scenario(arch: Arch, ops: &[SliceOp]) -> (Scenario, Vec<usize>) {
    scenario_interleaved(arch, ops, Interleaving::AsWritten)
}

/// Where the extension's time runs out, which the live child cannot
/// choose ([`model_outcomes`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Interleaving {
    AsWritten,
    /// The extension's timer fires (and the task returns to user mode)
    /// right after this step.
    TimerAfter(usize),
    /// The grant this step (an [`SliceOp::AwaitGrant`]) gets expires
    /// before the task leaves the kernel.
    ExpiredInKernel(usize),
    /// The task is preempted in user mode just before this step: an
    /// interrupt with TIF_NEED_RESCHED, and the return to user mode.
    PreemptedBefore(usize),
    /// The task is preempted in this step's syscall: TIF_NEED_RESCHED is
    /// set before the syscall's return to user mode, which schedules.
    PreemptedIn(usize),
}

/// The label of the interleaving the probe's steps give by themselves.
const AS_WRITTEN: &str = "as written";

/// An interleaving's label without its step number, for counting.
fn interleaving_kind(label: &str) -> &str {
    if label.contains("expired in the kernel") {
        "grant expired in the kernel"
    } else if label.contains("timer fired") {
        "timer fired early"
    } else if label.contains("preempted") {
        "preempted outside a wait"
    } else {
        label
    }
}

/// [`scenario`], interleaved.
fn scenario_interleaved(
    arch: Arch,
    ops: &[SliceOp],
    interleaving: Interleaving,
) -> (Scenario, Vec<usize>) {
    // Each syscall returns to user mode before the next step: a store while
    // the task is in the kernel would be another thread's.
    let mut steps = vec![Step::ExitToUser];
    let mut record_at = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if interleaving == Interleaving::ExpiredInKernel(i) {
            steps.push(Step::SliceExpiresInKernel);
        }
        if interleaving == Interleaving::PreemptedBefore(i) {
            steps.extend([Step::NeedResched, Step::ExitToUser]);
        }
        steps.push(op.step());
        if interleaving == Interleaving::PreemptedIn(i) {
            steps.push(Step::NeedResched);
        }
        if op.records() {
            steps.push(Step::ExitToUser);
            record_at.push(steps.len() - 1);
        }
        if interleaving == Interleaving::TimerAfter(i) {
            steps.extend([Step::SliceTimer, Step::ExitToUser]);
        }
    }
    let scenario = Scenario {
        arch,
        registration: None,
        init: vec![Init::Bytes {
            at: Val::at(Anchor::Area, 0),
            bytes: vec![AREA_FILL; AREA_BYTES],
        }],
        steps,
        ..Scenario::default()
    };
    (scenario, record_at)
}

/// The probe on the model `entry` under `cfg`.
pub fn model_outcome(
    entry: &VersionEntry,
    cfg: crate::config::Config,
    ops: &[SliceOp],
) -> ProbeOutcome {
    outcome_of(entry, cfg, ops, scenario(cfg.arch, ops))
}

fn outcome_of(
    entry: &VersionEntry,
    cfg: crate::config::Config,
    ops: &[SliceOp],
    (scenario, record_at): (Scenario, Vec<usize>),
) -> ProbeOutcome {
    let lowered = scenario.lower();
    let run = crate::runner::run(entry, cfg, &lowered, false);
    let mut out = ProbeOutcome::default();
    // (syscall return, area) at each recording step that was reached.
    let mut reached: Vec<(Option<i64>, &[u8])> = Vec::new();
    for obs in run.observations.iter().filter(|o| o.task == 0) {
        if let Fate::Killed { sig } = obs.fate {
            out.killed_by = Some(sig);
            break;
        }
        // The task observes the layout's area from the start
        // (Task::observed_area), which is where every probe registers.
        if let (true, Some(area)) = (record_at.contains(&obs.step), &obs.area) {
            if area.len() >= 32 {
                reached.push((obs.syscall_ret, area));
            }
        }
    }
    // A wait records 0 when the kernel changed slice_ctrl from what the
    // program last saw or stored there, as the live child tells it.
    let afters: Vec<AfterSyscall> = reached
        .iter()
        .map(|(_, area)| AfterSyscall::from_area(0, area))
        .collect();
    let before = ctrl_before_each_record(ops, &afters);
    for (((syscall_ret, _), after), ctrl_seen) in reached.iter().zip(afters).zip(before) {
        let ret = match syscall_ret {
            Some(ret) => *ret,
            None if ctrl_seen == after.slice_ctrl => WAIT_UNCHANGED,
            None => 0,
        };
        out.returns.push(AfterSyscall { ret, ..after });
    }
    out
}

/// For each record of `records` (in order, one per recording step of
/// `ops`), the `slice_ctrl` the program last saw (the previous record) or
/// stored before that step.
fn ctrl_before_each_record(ops: &[SliceOp], records: &[AfterSyscall]) -> Vec<u32> {
    let mut seen = u32::from_le_bytes([AREA_FILL; 4]);
    let mut before = Vec::with_capacity(records.len());
    let mut records = records.iter();
    for op in ops {
        if let SliceOp::StoreSliceCtrl { value } = op {
            seen = *value;
        }
        if !op.records() {
            continue;
        }
        let Some(r) = records.next() else {
            break;
        };
        before.push(seen);
        seen = r.slice_ctrl;
    }
    before
}

/// Whether a live outcome contradicts itself: a wait reported `slice_ctrl`
/// unchanged ([`WAIT_UNCHANGED`]: the competitor ran and the value was
/// still the one the program last saw), yet the record read right after
/// shows another value. Only a kernel entry in the few instructions
/// between the wait's last read and the record can do that. Such a run is
/// repeated.
///
/// Until the live wait compared with what the program last saw, it
/// compared with its own first read, and this fired 16 times in 47,600
/// probes, all in `grant_revoked_by_the_timer`: the timer's revocation
/// wrote 0 between the grant's record and the next wait's first read
/// (in 7 of the 9 runs recorded with counts without a switch: the
/// competitor's count did not move there), and the tick
/// switched the task out later, so that the wait saw 0 "unchanged". None
/// in 13,600 probes since (2026-12-02, 50 us extension, debug key off and
/// on).
pub fn torn_wait(ops: &[SliceOp], live: &ProbeOutcome) -> bool {
    let before = ctrl_before_each_record(ops, &live.returns);
    let waits = ops.iter().filter(|o| o.records()).map(|o| o.waits());
    live.returns
        .iter()
        .zip(before)
        .zip(waits)
        .any(|((r, seen), wait)| wait && r.ret == WAIT_UNCHANGED && r.slice_ctrl != seen)
}

/// A probe's run on the host.
pub struct LiveRun {
    /// The outcome of the last run.
    pub live: Result<ProbeOutcome, String>,
    /// Where the competitor ran outside a wait in the last run
    /// ([`ChildRun::preempted`]); every recording step when the last run
    /// was still switched out with nothing to place the switch
    /// ([`switched_unplaced`]).
    pub preempted: Vec<usize>,
    /// The child's counters of the last run, if the child lived to write
    /// them (a killed child leaves none).
    pub counters: Option<ChildCounters>,
    /// The runs that contradicted themselves ([`torn_wait`]) and were
    /// repeated, with their children's counters and counts.
    pub torn: Vec<ChildRun>,
    /// The runs whose child was switched out where nothing could place the
    /// switch ([`switched_unplaced`]) and were repeated.
    pub unplaced: Vec<ChildRun>,
}

/// Whether the scheduler switched the child of a probe without waits out
/// (its getrusage() counters over the steps show a context switch). Such a
/// probe has no competitor, whose count would place the switch in a step's
/// window ([`preempted_outside_waits`]), so the model cannot be given it;
/// yet on a V2 area the switch clears `slice_ctrl`, and with the request
/// bit set the interrupt that preempts may grant an extension that the
/// next syscall revokes. Another task on the child's CPU (a kernel thread,
/// the parent) or a migration of the unpinned child does that: in 5,000 random probes on the slice kernel under
/// QEMU with three other machines running beside it (2026-12-08), two runs
/// without waits read `slice_ctrl` 0 after a syscall where the program had
/// stored the request. A child killed by a signal writes no counters.
pub fn switched_unplaced(ops: &[SliceOp], run: &ChildRun) -> bool {
    let c = &run.counters;
    !ops.iter().any(|o| o.waits())
        && run.outcome.killed_by.is_none()
        && c.voluntary_switches + c.involuntary_switches > 0
}

/// The recording steps in whose window the model allows a preemption for
/// the run judged: where the competitor ran outside a wait, or, for a run
/// still switched out with nothing to place the switch after two repeats
/// ([`switched_unplaced`]), every window.
pub fn preemption_windows(ops: &[SliceOp], run: &ChildRun) -> Vec<usize> {
    if switched_unplaced(ops, run) {
        let recording = ops.iter().enumerate().filter(|(_, o)| o.records());
        recording.map(|(i, _)| i).collect()
    } else {
        run.preempted.clone()
    }
}

/// Run a probe on the host, again (up to twice for each reason) when the
/// run contradicts itself ([`torn_wait`]) or its child was switched out
/// where nothing places the switch ([`switched_unplaced`]).
pub fn run_live(ops: &[SliceOp]) -> LiveRun {
    let mut torn = Vec::new();
    let mut unplaced = Vec::new();
    loop {
        match super::run_slice_probe(ops) {
            Ok(run) if torn.len() < 2 && torn_wait(ops, &run.outcome) => torn.push(run),
            Ok(run) if unplaced.len() < 2 && switched_unplaced(ops, &run) => unplaced.push(run),
            Ok(run) => {
                let preempted = preemption_windows(ops, &run);
                return LiveRun {
                    counters: run.outcome.killed_by.is_none().then_some(run.counters),
                    live: Ok(run.outcome),
                    preempted,
                    torn,
                    unplaced,
                };
            }
            Err(e) => {
                return LiveRun {
                    live: Err(e),
                    preempted: Vec::new(),
                    counters: None,
                    torn,
                    unplaced,
                }
            }
        }
    }
}

/// Every outcome the model allows for the probe, each with the
/// interleaving that gives it. The live child cannot order the extension's
/// time (rseq_slice_ext_nsecs, 5 us by default) against its own steps:
/// - the grant an [`SliceOp::AwaitGrant`] gets may expire before the task
///   leaves the kernel (under QEMU's emulation it usually does): the exit
///   revokes it again, and the program never sees it;
/// - the hrtimer may revoke the grant before any later step. A grant ends
///   at the next syscall or wait, so after each AwaitGrant not followed by
///   [`SliceOp::AwaitRevoke`] (which waits for the timer), the timer firing
///   after it or after any store up to the next syscall or wait is another
///   interleaving.
///
/// Where no grant was made, the timer's rseq_slice_expired() does nothing
/// and no grant expires, so the extra interleavings add no outcome.
///
/// And in each window where the live child saw the competitor run outside
/// a wait (`preempted`, [`preempted_outside_waits`]), or in every window of
/// a run switched out with nothing to place the switch
/// ([`preemption_windows`]): a preemption before any step of the window,
/// or in its syscall. The scheduler chose it, and it is allowed nowhere
/// else: a kernel that clears `slice_ctrl` at a syscall with no switch
/// still disagrees.
pub fn model_outcomes(
    entry: &VersionEntry,
    cfg: crate::config::Config,
    ops: &[SliceOp],
    preempted: &[usize],
) -> Vec<(String, ProbeOutcome)> {
    let mut all = vec![(AS_WRITTEN.to_string(), model_outcome(entry, cfg, ops))];
    let mut add = |label: String, interleaving: Interleaving| {
        let scenario = scenario_interleaved(cfg.arch, ops, interleaving);
        let outcome = outcome_of(entry, cfg, ops, scenario);
        if all.iter().all(|(_, o)| *o != outcome) {
            all.push((label, outcome));
        }
    };
    for (i, op) in ops.iter().enumerate() {
        if *op != SliceOp::AwaitGrant {
            continue;
        }
        let stores = if ops.get(i + 1) == Some(&SliceOp::AwaitRevoke) {
            None
        } else {
            Some(ops[i + 1..].iter().take_while(|o| !o.records()).count())
        };
        let expired = (
            format!("the grant of step {i} expired in the kernel"),
            Interleaving::ExpiredInKernel(i),
        );
        let timers = stores.into_iter().flat_map(|n| i..=i + n).map(|at| {
            (
                format!("the extension timer fired after step {at}"),
                Interleaving::TimerAfter(at),
            )
        });
        for (label, interleaving) in std::iter::once(expired).chain(timers) {
            add(label, interleaving);
        }
    }
    for &step in preempted {
        let Some(op) = ops.get(step) else {
            continue;
        };
        let window_start = ops[..step]
            .iter()
            .rposition(|o| o.records())
            .map_or(0, |previous| previous + 1);
        for before in window_start..=step {
            add(
                format!("preempted before step {before}"),
                Interleaving::PreemptedBefore(before),
            );
        }
        if !op.waits() {
            add(
                format!("preempted in step {step}"),
                Interleaving::PreemptedIn(step),
            );
        }
    }
    all
}

/// How one probe compared.
#[derive(Debug, Serialize)]
pub struct ProbeReport {
    pub name: String,
    pub ops: Vec<SliceOp>,
    pub verdict: super::Verdict,
    pub live: Result<ProbeOutcome, String>,
    /// The model's outcome the live one matched, else its first.
    pub model: ProbeOutcome,
    /// The interleaving of that outcome ([`model_outcomes`]).
    pub interleaving: String,
    /// The steps in whose window the competitor ran outside a wait
    /// ([`preempted_outside_waits`]).
    pub preempted: Vec<usize>,
}

/// Compare a live outcome with every outcome the model allows: the verdict,
/// and the model outcome (with its interleaving) it matched, else the
/// model's first.
pub fn judge(
    live: &Result<ProbeOutcome, String>,
    model: Vec<(String, ProbeOutcome)>,
) -> (super::Verdict, String, ProbeOutcome) {
    use super::Verdict;
    let matched = live
        .as_ref()
        .ok()
        .and_then(|l| model.iter().position(|(_, m)| m == l));
    let verdict = match (live, matched) {
        (Err(_), _) => Verdict::Error,
        (Ok(_), Some(_)) => Verdict::Agree,
        (Ok(_), None) => Verdict::Disagree,
    };
    let (interleaving, outcome) = model
        .into_iter()
        .nth(matched.unwrap_or(0))
        .unwrap_or_default();
    (verdict, interleaving, outcome)
}

/// `rseq-fuzz live --slice [--random SEED] [--count N] [--model V]
/// [--json]`: every probe (N of them, cycling; or N random ones, default
/// 1000) on the host
/// kernel and on the model of the host's version (or V), configured like
/// the host. Exit 0 when every probe agrees (or the host has no harness),
/// 1 on a disagreement or a probe error, 2 for an unknown model.
pub fn cli_slice(
    random_seed: Option<u64>,
    count: Option<usize>,
    model: Option<&str>,
    json: bool,
) -> i32 {
    use super::Verdict;
    let arch = match super::host_arch() {
        Ok(a) => a,
        Err(e) => {
            println!("{e}");
            return 0;
        }
    };
    let name = model.unwrap_or_else(|| super::host_model_name());
    let choice = super::ModelChoice::for_arch(arch, name);
    let Some(entry) = choice.entry else {
        eprintln!("rseq-fuzz live: unknown model '{name}' (see `rseq-fuzz versions`)");
        return 2;
    };
    if !json {
        println!(
            "host {}, model {} [{}]: time-slice extension probes",
            super::host_release(),
            choice.name,
            choice.cfg
        );
    }
    let mut reports = Vec::new();
    // --count without --random cycles through the probes, as the suite's
    // cases do.
    let list: Vec<SliceProbe> = match (random_seed, count) {
        (Some(seed), n) => random_probes(seed, n.unwrap_or(1000)),
        (None, Some(n)) => probes().into_iter().cycle().take(n).collect(),
        (None, None) => probes(),
    };
    let mut repeated_runs = 0;
    let (mut unplaced_runs, mut unplaced_disagreeing) = (0, 0);
    // For each torn run, what its child did. The probe's steps fault on
    // their own (the child's first run of libc's code after fork(), a stack
    // page's copy-on-write), so a torn run's counters mean something only
    // next to those of the same probe's ordinary runs: per waiting probe,
    // (minor faults, involuntary switches) -> runs.
    let mut torn_runs: Vec<(String, ChildRun)> = Vec::new();
    let mut ordinary: BTreeMap<String, BTreeMap<(u64, u64), usize>> = BTreeMap::new();
    for probe in list {
        let run = run_live(&probe.ops);
        let live = run.live;
        repeated_runs += run.torn.len();
        // How many of the runs repeated for an unplaced switch would have
        // disagreed: what the repetition hides.
        unplaced_runs += run.unplaced.len();
        for u in &run.unplaced {
            let (verdict, _, model) = judge(
                &Ok(u.outcome.clone()),
                model_outcomes(entry, choice.cfg, &probe.ops, &u.preempted),
            );
            if verdict != Verdict::Agree {
                unplaced_disagreeing += 1;
                if !json {
                    println!(
                        "  switched run of {} repeated: live {}; model {}; child: {}",
                        probe.name,
                        u.outcome.describe(),
                        model.describe(),
                        u.counters.describe()
                    );
                }
            }
        }
        torn_runs.extend(run.torn.into_iter().map(|t| (probe.name.clone(), t)));
        if let (true, Some(c)) = (probe.ops.iter().any(|o| o.waits()), run.counters) {
            *ordinary
                .entry(probe.name.clone())
                .or_default()
                .entry((c.minor_faults, c.involuntary_switches))
                .or_default() += 1;
        }
        let (verdict, interleaving, model) = judge(
            &live,
            model_outcomes(entry, choice.cfg, &probe.ops, &run.preempted),
        );
        if !json {
            let live_text = match &live {
                Ok(l) => l.describe(),
                Err(e) => format!("probe error: {e}"),
            };
            match verdict {
                Verdict::Agree if random_seed.is_some() => {}
                Verdict::Agree if interleaving != AS_WRITTEN => println!(
                    "agree    {:<48} {live_text} [{interleaving}]",
                    probe.name
                ),
                Verdict::Agree => println!("agree    {:<48} {live_text}", probe.name),
                _ => println!(
                    "{:<8} {:<48}\n         steps: {}\n         live:  {live_text}\n         model: {}\n         competitor ran outside a wait in the windows of steps: {:?}\n         child: {}",
                    format!("{verdict:?}").to_uppercase(),
                    probe.name,
                    serde_json::to_string(&probe.ops).unwrap_or_default(),
                    model.describe(),
                    run.preempted,
                    run.counters
                        .map_or_else(|| "no counters (killed)".to_string(), |c| c.describe())
                ),
            }
        }
        reports.push(ProbeReport {
            name: probe.name,
            ops: probe.ops,
            verdict,
            live,
            model,
            interleaving,
            preempted: run.preempted,
        });
    }
    let agree = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Agree)
        .count();
    if json {
        crate::cli::print_json(&reports);
    } else {
        println!(
            "{} probes: {agree} agree, {} differ or failed",
            reports.len(),
            reports.len() - agree
        );
        // How often the kernel took each other interleaving: a run that
        // never shows a grant (all "expired in the kernel") checked less.
        let mut others: Vec<(&str, usize)> = Vec::new();
        for r in reports.iter().filter(|r| r.verdict == Verdict::Agree) {
            let kind = interleaving_kind(&r.interleaving);
            match others.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => others.push((kind, 1)),
            }
        }
        others.sort();
        let list: Vec<String> = others.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let preempted = reports.iter().filter(|r| !r.preempted.is_empty()).count();
        println!(
            "interleavings of the agreeing probes: {}; runs repeated (torn_wait): {repeated_runs}; \
             runs whose competitor ran outside a wait: {preempted}",
            list.join(", ")
        );
        println!(
            "runs without waits repeated because the child was switched out (switched_unplaced): \
             {unplaced_runs}, of which {unplaced_disagreeing} disagreed with the model"
        );
        for (name, torn) in &torn_runs {
            let seen: Vec<String> = ordinary
                .get(name)
                .into_iter()
                .flatten()
                .map(|((faults, switches), n)| format!("{n}x ({faults}, {switches})"))
                .collect();
            println!(
                "torn run of {name}: {}\n         child: {}; (minor faults, involuntary switches) of its ordinary runs: {}\n         competitor's count around each record: {}",
                torn.outcome.describe(),
                torn.counters.describe(),
                seen.join(", "),
                torn.describe_counts()
            );
        }
    }
    i32::from(agree != reports.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::versions;

    fn build(version: &str, slice: bool, debug: bool) -> (&'static VersionEntry, Config) {
        let entry = versions::find(version).expect("registered version");
        let cfg = (entry.configs)()
            .into_iter()
            .find(|c| {
                c.arch == Arch::X86_64
                    && c.debug == debug
                    && c.slice_extension == slice
                    && (!slice || c.slice_key)
            })
            .expect("an x86_64 build");
        (entry, cfg)
    }

    fn probe(name: &str) -> Vec<SliceOp> {
        probes()
            .into_iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no probe {name}"))
            .ops
    }

    fn ret(ret: i64, flags: u32, slice_ctrl: u32) -> AfterSyscall {
        AfterSyscall {
            ret,
            rseq_cs: 0,
            flags,
            slice_ctrl,
        }
    }

    const FILL: u32 = u32::from_ne_bytes([AREA_FILL; 4]);

    // The expectations below are what the real kernels answered in QEMU
    // (scripts/live-vm/run.sh ... -- --slice): a 7.2.13 built with
    // CONFIG_RSEQ_SLICE_EXTENSION (scripts/live-vm/build-kernel.sh),
    // Debian's 7.2.13 and 7.3.4 without it, and this machine's 6.18.

    #[test]
    fn v7_1_slice_build_answers_as_the_slice_kernel_did() {
        for debug in [false, true] {
            let (entry, cfg) = build("v7.1", true, debug);
            // Registration in V2 mode sets SLICE_EXT_AVAILABLE and zeroes
            // slice_ctrl; SET enables (0x30), GET reports it, a repeated
            // SET changes nothing, SET 0 clears ENABLED only.
            assert_eq!(
                model_outcome(entry, cfg, &probe("v2_enable_disable")).returns,
                vec![
                    ret(0, 0x10, 0),
                    ret(0, 0x10, 0),
                    ret(0, 0x30, 0),
                    ret(1, 0x30, 0),
                    ret(0, 0x30, 0),
                    ret(0, 0x10, 0),
                    ret(0, 0x10, 0),
                ],
                "{cfg}"
            );
            // Legacy mode: flags 0, slice_ctrl untouched, SET refused.
            assert_eq!(
                model_outcome(entry, cfg, &probe("legacy_len_32")).returns,
                vec![
                    ret(0, 0, FILL),
                    ret(0, 0, FILL),
                    ret(-abi::errno::ENOTSUPP, 0, FILL),
                    ret(0, 0, FILL),
                ],
                "{cfg}"
            );
            // Clearing SLICE_EXT_AVAILABLE and asking to enable: SIGSEGV.
            assert_eq!(
                model_outcome(entry, cfg, &probe("v2_set_after_available_cleared")),
                ProbeOutcome {
                    returns: vec![ret(0, 0x10, 0)],
                    killed_by: Some(crate::abi::sig::SIGSEGV),
                },
                "{cfg}"
            );
            // No area: GET answers 0, SET ENXIO, yield 0.
            let unregistered = model_outcome(entry, cfg, &probe("unregistered"));
            let rets: Vec<i64> = unregistered.returns.iter().map(|r| r.ret).collect();
            assert_eq!(rets, vec![0, -abi::errno::ENXIO, 0], "{cfg}");
        }
    }

    #[test]
    fn random_probes_are_deterministic_and_reach_every_step_kind() {
        let a = random_probes(9, 300);
        let ops = |p: &[SliceProbe]| p.iter().map(|p| p.ops.clone()).collect::<Vec<_>>();
        assert_eq!(ops(&a), ops(&random_probes(9, 300)), "same seed");
        assert_ne!(ops(&a), ops(&random_probes(10, 300)), "another seed");
        assert!(a.iter().all(|p| (2..=8).contains(&p.ops.len())));
        let all: Vec<SliceOp> = a.iter().flat_map(|p| p.ops.iter().copied()).collect();
        let has = |f: fn(&SliceOp) -> bool| all.iter().any(f);
        assert!(has(|o| matches!(o, SliceOp::Register { len: 64, .. })));
        assert!(has(
            |o| matches!(o, SliceOp::Register { sig, .. } if *sig != super::super::SIG)
        ));
        assert!(has(|o| matches!(o, SliceOp::Unregister { .. })));
        assert!(has(|o| matches!(
            o,
            SliceOp::Prctl {
                op: PR_SET,
                arg: ENABLE
            }
        )));
        assert!(has(|o| matches!(o, SliceOp::Yield)));
        assert!(has(|o| matches!(o, SliceOp::StoreFlags { .. })));
        assert!(has(|o| matches!(o, SliceOp::StoreSliceCtrl { value: 1 })));
        assert!(has(|o| matches!(o, SliceOp::AwaitGrant)));
    }

    #[test]
    fn grants_on_the_v7_1_slice_build() {
        let granted = ret(0, 0x30, 0x100);
        for debug in [false, true] {
            let (entry, cfg) = build("v7.1", true, debug);
            let outcomes = |name| -> Vec<ProbeOutcome> {
                model_outcomes(entry, cfg, &probe(name), &[])
                    .into_iter()
                    .map(|(_, o)| o)
                    .collect()
            };
            // The yield ends the grant, clears slice_ctrl and answers 1;
            // or the timer revoked the grant first, and it answers 0.
            let yields = |wait, first| ProbeOutcome {
                returns: vec![ret(0, 0x30, 0), wait, ret(first, 0x30, 0), ret(0, 0x30, 0)],
                killed_by: None,
            };
            // Or the grant expired before the task left the kernel: the
            // exit revoked it, and the wait saw slice_ctrl go from the
            // request (1) to 0.
            let revoked_in_exit = ret(0, 0x30, 0);
            assert_eq!(
                outcomes("grant_then_yield"),
                vec![
                    yields(granted, 1),
                    yields(revoked_in_exit, 0),
                    yields(granted, 0)
                ]
            );
            // Waiting for the revoke after a grant the exit revoked already
            // ends at the next preemption, with slice_ctrl unchanged.
            assert_eq!(
                outcomes("grant_revoked_by_the_timer"),
                vec![
                    yields(granted, 0),
                    ProbeOutcome {
                        returns: vec![
                            ret(0, 0x30, 0),
                            revoked_in_exit,
                            ret(WAIT_UNCHANGED, 0x30, 0),
                            ret(0, 0x30, 0)
                        ],
                        killed_by: None,
                    }
                ]
            );
            // A program that clears the granted bit and makes a syscall:
            // killed with the debug key on, unless the timer revoked the
            // grant before (then the bit was 0 already).
            let cleared = outcomes("grant_then_program_clears_slice_ctrl");
            let survives = |wait| ProbeOutcome {
                returns: vec![ret(0, 0x30, 0), wait, ret(1, 0x30, 0)],
                killed_by: None,
            };
            if debug {
                let killed = ProbeOutcome {
                    returns: vec![ret(0, 0x30, 0), granted],
                    killed_by: Some(crate::abi::sig::SIGSEGV),
                };
                assert_eq!(
                    cleared,
                    vec![killed, survives(revoked_in_exit), survives(granted)],
                    "{cfg}"
                );
            } else {
                assert_eq!(
                    cleared,
                    vec![survives(granted), survives(revoked_in_exit)],
                    "{cfg}"
                );
            }
        }
    }

    #[test]
    fn only_a_switch_without_a_competitor_to_place_it_repeats_a_run() {
        let switched = |voluntary, involuntary, killed_by| ChildRun {
            outcome: ProbeOutcome {
                returns: Vec::new(),
                killed_by,
            },
            counters: ChildCounters {
                voluntary_switches: voluntary,
                involuntary_switches: involuntary,
                ..ChildCounters::default()
            },
            ..ChildRun::default()
        };
        // random_200_795's shape: stores, then syscalls, no wait.
        let no_wait = vec![
            SliceOp::Register {
                len: 64,
                flags: 2,
                sig: super::super::SIG,
            },
            SliceOp::StoreSliceCtrl { value: 1 },
            SliceOp::Prctl { op: PR_SET, arg: 3 },
        ];
        assert!(switched_unplaced(&no_wait, &switched(0, 1, None)));
        assert!(switched_unplaced(&no_wait, &switched(1, 0, None)));
        assert!(!switched_unplaced(&no_wait, &switched(0, 0, None)));
        // A killed child wrote no counters: nothing to go by.
        let sigsegv = Some(crate::abi::sig::SIGSEGV);
        assert!(!switched_unplaced(&no_wait, &switched(0, 1, sigsegv)));
        // With waits the competitor places each switch, and its waits
        // switch the child out by design.
        let waits = probe("grant_revoked_by_the_timer");
        assert!(waits.iter().any(|o| o.waits()));
        assert!(!switched_unplaced(&waits, &switched(2, 5, None)));
        // The run judged after two repeats: a switch with nothing to place
        // it may be in any recording step's window (0 and 2; the store at
        // 1 records nothing); otherwise only where the competitor ran.
        assert_eq!(
            preemption_windows(&no_wait, &switched(0, 1, None)),
            vec![0, 2]
        );
        assert!(preemption_windows(&no_wait, &switched(0, 0, None)).is_empty());
        let placed = ChildRun {
            preempted: vec![3],
            ..switched(2, 5, None)
        };
        assert_eq!(preemption_windows(&waits, &placed), vec![3]);
    }

    #[test]
    fn a_wait_that_saw_no_change_but_recorded_one_is_torn() {
        let ops = probe("grant_revoked_by_the_timer");
        let outcome = |revoke_wait: AfterSyscall| ProbeOutcome {
            returns: vec![
                ret(0, 0x30, 0),
                ret(0, 0x30, 0x100),
                revoke_wait,
                ret(0, 0x30, 0),
            ],
            killed_by: None,
        };
        // What the slice kernel once answered: the revoke's wait saw the
        // competitor run with slice_ctrl still 0x100, yet recorded 0.
        assert!(torn_wait(&ops, &outcome(ret(WAIT_UNCHANGED, 0x30, 0))));
        // Consistent: changed (0), or unchanged and still 0x100.
        assert!(!torn_wait(&ops, &outcome(ret(0, 0x30, 0))));
        assert!(!torn_wait(&ops, &outcome(ret(WAIT_UNCHANGED, 0x30, 0x100))));
        // A syscall's return of 1 is no wait.
        let yields = ProbeOutcome {
            returns: vec![ret(0, 0x30, 0), ret(0, 0x30, 0x100), ret(1, 0x30, 0)],
            killed_by: None,
        };
        assert!(!torn_wait(&probe("grant_then_yield"), &yields));
        // The model's own outcomes never are.
        for debug in [false, true] {
            let (entry, cfg) = build("v7.1", true, debug);
            for p in probes() {
                for (_, o) in model_outcomes(entry, cfg, &p.ops, &[]) {
                    assert!(!torn_wait(&p.ops, &o), "{}", p.name);
                }
            }
        }
    }

    /// random_10_558, which the slice kernel (debug key off) answered in a
    /// VM on 2026-12-02: its prctl(3, 1) returned with slice_ctrl 0 where
    /// the program had stored 0x10001, because the task was switched out
    /// in that syscall and a V2 area's slice_ctrl is cleared on the way
    /// back. The probe waits, so a competitor shared the CPU.
    fn random_10_558() -> (Vec<SliceOp>, ProbeOutcome) {
        let sig = 0x5305_3053;
        let ops = vec![
            SliceOp::Register {
                len: 256,
                flags: 0,
                sig,
            },
            SliceOp::Prctl { op: 0, arg: 2 },
            SliceOp::StoreSliceCtrl { value: 0x10001 },
            SliceOp::Prctl { op: 3, arg: 1 },
            SliceOp::AwaitGrant,
            SliceOp::StoreFlags { value: 0x20 },
            SliceOp::Register {
                len: 32,
                flags: 0,
                sig,
            },
        ];
        let live = ProbeOutcome {
            returns: vec![
                ret(0, 0x10, 0),
                ret(-22, 0x10, 0),
                ret(-22, 0x10, 0),
                ret(WAIT_UNCHANGED, 0x10, 0),
                ret(-22, 0x20, 0),
            ],
            killed_by: None,
        };
        (ops, live)
    }

    #[test]
    fn a_preemption_outside_a_wait_is_allowed_only_where_the_competitor_ran() {
        let (ops, live) = random_10_558();
        let (entry, cfg) = build("v7.1", true, false);
        let live = Ok(live);
        let (verdict, ..) = judge(&live, model_outcomes(entry, cfg, &ops, &[]));
        assert_eq!(verdict, crate::live::Verdict::Disagree);
        // The competitor ran in the windows of the register or of the wait:
        // no preemption there gives a cleared slice_ctrl at step 3.
        for elsewhere in [0, 4] {
            let (verdict, ..) = judge(&live, model_outcomes(entry, cfg, &ops, &[elsewhere]));
            assert_eq!(verdict, crate::live::Verdict::Disagree, "{elsewhere}");
        }
        let (verdict, interleaving, _) = judge(&live, model_outcomes(entry, cfg, &ops, &[3]));
        assert_eq!(verdict, crate::live::Verdict::Agree);
        assert_eq!(interleaving_kind(&interleaving), "preempted outside a wait");
    }

    #[test]
    fn the_competitor_counts_mark_the_windows_it_ran_in() {
        let (ops, _) = random_10_558();
        let counts = |pairs: &[(u64, u64)]| -> Vec<StepCounts> {
            pairs
                .iter()
                .map(|&(at_start, after_record)| StepCounts {
                    at_start,
                    after_step: after_record,
                    after_record,
                })
                .collect()
        };
        // The competitor ran only in the wait (step 4): no window.
        let quiet = counts(&[(5, 5), (5, 5), (5, 5), (5, 9), (9, 9)]);
        assert!(preempted_outside_waits(&ops, 5, &quiet).is_empty());
        // In the prctl of step 3.
        let in_syscall = counts(&[(5, 5), (5, 5), (5, 7), (7, 9), (9, 9)]);
        assert_eq!(preempted_outside_waits(&ops, 5, &in_syscall), vec![3]);
        // At the store of step 2, before the prctl.
        let at_store = counts(&[(5, 5), (5, 5), (7, 7), (7, 9), (9, 9)]);
        assert_eq!(preempted_outside_waits(&ops, 5, &at_store), vec![3]);
        // Before the wait's spin began, and before the first step's
        // syscall (against the count before the first step).
        let before_spin = counts(&[(6, 6), (6, 6), (6, 6), (8, 9), (9, 9)]);
        assert_eq!(preempted_outside_waits(&ops, 5, &before_spin), vec![0, 4]);
        // In the last register, after the store to flags.
        let last = counts(&[(5, 5), (5, 5), (5, 5), (5, 9), (9, 11)]);
        assert_eq!(preempted_outside_waits(&ops, 5, &last), vec![6]);
        // A child killed midway wrote fewer records: only those count.
        assert_eq!(
            preempted_outside_waits(&ops, 5, &in_syscall[..2]),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn a_torn_runs_counts_read_relative_to_the_first_step() {
        let run = ChildRun {
            first_count: u64::MAX - 1,
            counts: vec![
                StepCounts {
                    at_start: u64::MAX - 1,
                    after_step: u64::MAX - 1,
                    after_record: u64::MAX - 1,
                },
                StepCounts {
                    at_start: u64::MAX - 1,
                    after_step: 3,
                    after_record: 7,
                },
            ],
            ..ChildRun::default()
        };
        // The second wait was switched out in its spin and again before
        // its record; the count wraps as the competitor's u64 does.
        assert_eq!(run.describe_counts(), "[0, 0, 0] [0, 5, 9]");
    }

    #[test]
    fn a_request_without_the_extension_is_never_granted() {
        for (version, slice) in [("v7.1", false), ("v6.18", false)] {
            let (entry, cfg) = build(version, slice, false);
            let out = model_outcome(entry, cfg, &probe("request_while_disabled"));
            // The wait saw slice_ctrl unchanged: preempted, no grant.
            assert_eq!(out.returns[1].ret, WAIT_UNCHANGED, "{version}");
            assert_eq!(out.returns[1].slice_ctrl, 1, "{version}");
        }
    }

    #[test]
    fn builds_without_the_extension_answer_enotsupp() {
        let (entry, cfg) = build("v7.1", false, false);
        let out = model_outcome(entry, cfg, &probe("v2_enable_disable"));
        assert_eq!(
            out.returns[0],
            ret(0, 0, FILL),
            "no slice bits, slice_ctrl left"
        );
        assert!(out.returns[1..]
            .iter()
            .all(|r| r.ret == -abi::errno::ENOTSUPP));
    }

    #[test]
    fn legacy_answers_einval_and_enosys() {
        let (entry, cfg) = build("v6.18", false, false);
        let out = model_outcome(entry, cfg, &probe("legacy_len_32"));
        let rets: Vec<i64> = out.returns.iter().map(|r| r.ret).collect();
        // rseq() leaves flags alone; prctl option 79 is unknown; syscall
        // 471 does not exist.
        assert_eq!(
            rets,
            vec![
                0,
                -abi::errno::EINVAL,
                -abi::errno::EINVAL,
                -abi::errno::ENOSYS
            ]
        );
        assert_eq!(out.returns[0].flags, FILL);
        // RSEQ_FLAG_SLICE_EXT_DEFAULT_ON is an unknown flag there.
        let out = model_outcome(entry, cfg, &probe("legacy_len_32_default_on"));
        assert_eq!(out.returns[0].ret, -abi::errno::EINVAL);
    }
}
