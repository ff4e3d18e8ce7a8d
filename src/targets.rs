//! The fuzz targets. Each is a way to read a byte string as a scenario plus
//! the oracles it checks; the per-engine files (fuzz/, fuzz-afl/, fuzz-hfuzz/)
//! only call [`Target::run`]. A target panics only on an oracle failure, with
//! a message that starts "oracle NAME failed:".

use crate::abi::{self, sig};
use crate::mem::PageState;
use crate::oracles::{self, Options};
use crate::scenario::{
    run_for_selector, run_name, Anchor, Init, PageSpec, Reader, RegistrationSpec, RunSelect,
    Scenario, Step, Val,
};
use std::sync::OnceLock;

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    pub description: &'static str,
    /// Read any byte string as a scenario.
    pub decode: fn(&[u8]) -> Scenario,
    /// The oracles this target checks.
    pub options: fn() -> Options,
    /// Decode, check, panic on a finding.
    pub run: fn(&[u8]),
}

/// Every target.
pub static TARGETS: &[Target] = &[
    Target {
        name: "cs_analysis",
        description: "one critical-section analysis per input on every version and debug mode (oracles c, e, f)",
        decode: decode_cs_analysis,
        options: cs_analysis_options,
        run: cs_analysis,
    },
    Target {
        name: "exit_to_user",
        description: "multi-step scenarios on one version and configuration (oracles a-e)",
        decode: decode_exit_to_user,
        options: single_run_options,
        run: exit_to_user,
    },
    Target {
        name: "registration",
        description: "rseq syscall sequences with any arguments and page states, across versions (all oracles)",
        decode: decode_registration,
        options: all_options,
        run: registration,
    },
    Target {
        name: "differential",
        description: "multi-step scenarios on every version and configuration (oracle f, and a-e)",
        decode: Scenario::decode,
        options: all_options,
        run: differential,
    },
];

pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Strict mode and the oracle filter are read once per process from the
/// environment.
fn env_options() -> Options {
    static ENV: OnceLock<Options> = OnceLock::new();
    *ENV.get_or_init(|| Options {
        describe_explained: false,
        ..Options::from_env()
    })
}

fn all_options() -> Options {
    env_options()
}

fn single_run_options() -> Options {
    Options {
        differential: false,
        ..all_options()
    }
}

fn cs_analysis_options() -> Options {
    Options {
        contract: false,
        liveness: false,
        ..all_options()
    }
}

/// Give each oracle's failures a crash identity of their own, under any
/// engine. The engines' panic hooks abort from inside the panic machinery,
/// so the top frames of every crash are the same libc and std frames, and
/// honggfuzz, which hashes only the top seven, saved one input for all
/// oracles. This hook prints the panic message, which says which oracle
/// failed and why, then aborts from a function of that oracle's own
/// ([`oracles::abort_for_failing_oracle`]). It prints no backtrace, even
/// under RUST_BACKTRACE: an oracle failure's stack says nothing that the
/// message and `rseq-fuzz explain` do not, and symbolizing one costs tens of
/// milliseconds on every crash that AFL++ and honggfuzz keep fuzzing past.
///
/// The engine files call it first in every run: it replaces the engine's
/// hook once, after the engine has installed its own.
pub fn separate_crashes_by_oracle() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("{info}");
            oracles::abort_for_failing_oracle()
        }))
    });
}

fn check(target: &Target, data: &[u8]) {
    let scenario = (target.decode)(data);
    oracles::assert_holds(&scenario, &(target.options)());
}

pub fn cs_analysis(data: &[u8]) {
    check(&TARGETS[0], data)
}
pub fn exit_to_user(data: &[u8]) {
    check(&TARGETS[1], data)
}
pub fn registration(data: &[u8]) {
    check(&TARGETS[2], data)
}
pub fn differential(data: &[u8]) {
    check(&TARGETS[3], data)
}

/// Benchmark baselines: parts of the cs_analysis target's work, each run as
/// a libFuzzer target of its own by benches/fuzz-bench.sh, so that the
/// benchmark shows where an input's time goes and what rate the target's
/// design can reach at best. They check nothing.
pub mod baseline {
    use std::hint::black_box;

    /// Nothing, with every target linked in: libFuzzer's own cost per input
    /// once the library is in the binary. libFuzzer scans and clears every
    /// coverage counter on every input, the library's edge counters and its
    /// decision map among them, whatever the target does.
    pub fn linked_noop(data: &[u8]) {
        // black_box keeps the call, and so the library's code and counters,
        // in the binary; it is never taken.
        if black_box(false) {
            super::cs_analysis(data);
            super::exit_to_user(data);
            super::registration(data);
            super::differential(data);
        }
    }

    /// Decoding the input into a scenario, and nothing else.
    pub fn cs_decode(data: &[u8]) {
        black_box(super::decode_cs_analysis(data));
    }

    /// Decoding, lowering and one model run (the first of the input's runs,
    /// a v6.18 one), with no oracle: the cost of a single version's run, of
    /// which the target makes one per version, configuration and mode.
    pub fn cs_one_run(data: &[u8]) {
        let scenario = super::decode_cs_analysis(data);
        let lowered = scenario.lower();
        if let Some(&(version, config)) = scenario.runs().ok().as_ref().and_then(|r| r.first()) {
            black_box(crate::runner::run(version, config, &lowered, false));
        }
    }
}

// ---------------------------------------------------------------------------
// cs_analysis: one descriptor, one IP, one way into the kernel.

/// How the kernel gets to look at the critical section.
pub(crate) const ENTRIES: [&[Step]; 7] = [
    // Interrupt, preempted on the same CPU.
    &[
        Step::Interrupt,
        Step::SwitchIn { cpu: 0, mm_cid: 0 },
        Step::ExitToUser,
    ],
    // Interrupt, migrated.
    &[
        Step::Interrupt,
        Step::SwitchIn { cpu: 3, mm_cid: 1 },
        Step::ExitToUser,
    ],
    // Syscall from the IP, preempted in it.
    &[
        Step::Getpid,
        Step::SwitchIn { cpu: 0, mm_cid: 0 },
        Step::ExitToUser,
    ],
    // A signal interrupts user mode.
    &[Step::Signal { sig: sig::SIGUSR1 }, Step::ExitToUser],
    // A signal sent by a syscall from the IP (tgkill on itself).
    &[
        Step::Getpid,
        Step::Signal { sig: sig::SIGUSR1 },
        Step::ExitToUser,
    ],
    // The membarrier RSEQ IPI hits user mode.
    &[Step::MembarrierIpi, Step::ExitToUser],
    // A page fault (an exception handled without a signal) and no
    // preemption: only arm32's debug return path looks at the section.
    &[Step::Exception, Step::ExitToUser],
];

fn val_minus(v: Val, d: i32) -> Val {
    match v {
        Val::Raw(x) => Val::Raw(x.wrapping_sub(d as u64)),
        Val::At { anchor, delta } => Val::At {
            anchor,
            delta: delta.wrapping_sub(d),
        },
    }
}

/// The architecture of a cs_analysis input: bits 0-1 of the first byte,
/// and bit 3 of the second (which the descriptor placement leaves free) for
/// the second architecture of a pair: x86_64; x86_64 or x86_64 with 5-level
/// paging (another TASK_SIZE); arm64 or riscv64 (another signature, generic
/// entry, slice builds); arm32. Half the inputs stay x86_64.
pub(crate) fn cs_analysis_arch(head: u8, placement: u8) -> abi::Arch {
    let variant = placement & 8 != 0;
    match (head & 3, variant) {
        (1, true) => abi::Arch::X86_64La57,
        (0 | 1, _) => abi::Arch::X86_64,
        (2, false) => abi::Arch::Arm64,
        (2, true) => abi::Arch::Riscv64,
        _ => abi::Arch::Arm32,
    }
}

/// The cs_analysis input: descriptor fields, IP, registered signature,
/// the signature word, page states of the descriptor (which may straddle
/// two pages) and of the signature, and the entry kind.
pub fn decode_cs_analysis(data: &[u8]) -> Scenario {
    let mut r = Reader::new(data);
    let head = r.u8();
    let entry = ENTRIES[(head >> 2) as usize % ENTRIES.len()];
    let len = if head & 0x80 != 0 { 64 } else { 32 };
    let sigsegv_handler = head & 0x40 != 0;
    let b = r.u8();
    let arch = cs_analysis_arch(head, b);
    // Descriptor placement: on its page, or across the page end.
    let desc_off = if b & 1 == 0 {
        0
    } else {
        -(i32::from(b >> 1) * 8 % 32) - 8
    };
    let desc = Val::at(
        Anchor::DescPageEnd,
        if b & 1 == 0 { -4096 } else { desc_off },
    );
    let states = r.u8();
    let st = |k: u8| PageState::ALL[((states >> k) & 7) as usize % PageState::ALL.len()];
    let sig_state = r.u8();
    let version = if r.u8() & 0xf0 == 0xf0 { 1 } else { 0 };
    let fl = r.u8();
    let flags = if fl & 0xe0 == 0xe0 {
        u32::from(fl & 0x1f)
    } else {
        0
    };
    let start = crate::scenario::dec_val(&mut r);
    let offset = crate::scenario::dec_val(&mut r);
    let abort = crate::scenario::dec_val(&mut r);
    let ip = crate::scenario::dec_val(&mut r);
    let rseq_cs = crate::scenario::dec_val(&mut r);
    let reg_sig = crate::scenario::dec_sig(&mut r);
    let word = crate::scenario::dec_sig(&mut r);
    let mut pages = vec![
        PageSpec {
            addr: val_minus(Val::at(Anchor::DescPageEnd, 0), 4096),
            state: if states & 0xc0 == 0 {
                st(0)
            } else {
                PageState::Present
            },
        },
        PageSpec {
            addr: Val::at(Anchor::DescPageEnd, 0),
            state: if states & 0xc0 == 0x40 {
                PageState::Present
            } else {
                st(3)
            },
        },
    ];
    if sig_state & 0xf0 == 0xf0 {
        pages.push(PageSpec {
            addr: val_minus(abort, 4),
            state: PageState::ALL[(sig_state & 0x0f) as usize % PageState::ALL.len()],
        });
    }
    let mut steps = vec![Step::SetRseqCs { value: rseq_cs }, Step::SetIp { ip }];
    steps.extend_from_slice(entry);
    Scenario {
        arch,
        run: RunSelect::NATIVE,
        pages,
        init: vec![
            Init::Desc {
                at: desc,
                version,
                flags,
                start_ip: start,
                post_commit_offset: offset,
                abort_ip: abort,
            },
            Init::Sig {
                at: val_minus(abort, 4),
                value: word,
            },
        ],
        handlers: if sigsegv_handler {
            1 << sig::SIGSEGV
        } else {
            0
        } | 1 << sig::SIGUSR1,
        registration: Some(RegistrationSpec {
            addr: Val::at(Anchor::Area, 0),
            len,
            flags: 0,
            sig: reg_sig,
        }),
        layout: crate::scenario::Layout {
            area: crate::testkit::AREA,
            ..Default::default()
        },
        steps,
        ..Scenario::default()
    }
    .with_desc_anchor(desc)
}

// ---------------------------------------------------------------------------
// exit_to_user: one run.

/// The first byte picks the version and configuration (by
/// [`run_for_selector`]); the rest is a scenario.
pub fn decode_exit_to_user(data: &[u8]) -> Scenario {
    let (pick, rest) = data.split_first().map_or((0, data), |(p, r)| (*p, r));
    let mut s = Scenario::decode(rest);
    let (v, c) = run_for_selector(s.arch, pick);
    s.run = RunSelect::Only(vec![run_name(v, &c)]);
    s
}

// ---------------------------------------------------------------------------
// registration: rseq syscall sequences.

/// Addresses a registration tries: the area (aligned and not), its page end,
/// a hole, TASK_SIZE and the wrap edges.
const REG_ADDRS: [Val; 8] = [
    Val::at(Anchor::Area, 0),
    Val::at(Anchor::Area, 32),
    Val::at(Anchor::Area, 8),
    Val::at(Anchor::Area, 4064),
    Val::at(Anchor::Hole, 0),
    Val::at(Anchor::TaskSize, -32),
    Val::at(Anchor::Top, -31),
    Val::at(Anchor::Zero, 0),
];

pub fn decode_registration(data: &[u8]) -> Scenario {
    let mut r = Reader::new(data);
    let arch = [
        abi::Arch::X86_64,
        abi::Arch::X86_64,
        abi::Arch::Arm64,
        abi::Arch::Riscv64,
    ][(r.u8() & 3) as usize];
    let mut steps = Vec::new();
    while !r.is_empty() && steps.len() < crate::scenario::MAX_STEPS {
        let op = r.u8();
        let step = match op % 8 {
            0..=2 => {
                let a = r.u8();
                let addr = if a < 0xf0 {
                    REG_ADDRS[a as usize % REG_ADDRS.len()]
                } else {
                    Val::Raw(r.u64())
                };
                let len = [32, 64, 33, 28, 0, 20, 36, 128][(op >> 3) as usize % 8];
                let flags = [0, 0, 1, 2, 3][r.u8() as usize % 5];
                let sig = crate::scenario::dec_sig(&mut r);
                Step::Rseq {
                    addr,
                    len,
                    flags,
                    sig,
                }
            }
            3 => Step::ExitToUser,
            4 => Step::SwitchIn {
                cpu: u32::from(op >> 3),
                mm_cid: u32::from(op >> 5),
            },
            5 => Step::Mmap {
                addr: Val::at(Anchor::Area, 0),
                state: PageState::ALL[(op >> 3) as usize % PageState::ALL.len()],
            },
            6 => Step::Store32 {
                addr: Val::at(Anchor::Area, [0, 4, 16, 20, 24, 28][(op >> 3) as usize % 6]),
                value: r.u32(),
            },
            _ => Step::Fork {
                clone_vm: op & 0x10 != 0,
                follow_child: op & 0x20 != 0,
            },
        };
        steps.push(step);
    }
    Scenario {
        arch,
        registration: None,
        steps,
        ..Scenario::default()
    }
}

impl Scenario {
    /// Make the layout's descriptor address the resolved `desc` value, so
    /// that `Anchor::Desc` (the usual rseq_cs value) points at it.
    fn with_desc_anchor(mut self, desc: Val) -> Scenario {
        let resolved = self.resolve(desc, 0);
        self.layout.desc = resolved;
        self.init.iter_mut().for_each(|i| {
            if let Init::Desc { at, .. } = i {
                *at = Val::Raw(resolved);
            }
        });
        self.pages.iter_mut().for_each(|p| {
            if let Val::At {
                anchor: Anchor::DescPageEnd,
                delta,
            } = p.addr
            {
                p.addr = Val::Raw(
                    (resolved / crate::mem::PAGE_SIZE + 1)
                        .wrapping_mul(crate::mem::PAGE_SIZE)
                        .wrapping_add_signed(i64::from(delta)),
                );
            }
        });
        self
    }
}
