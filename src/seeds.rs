//! Named, meaningful seed scenarios: one per row of the spec's §6 divergence
//! table and per kernel path the models have, so that the seed corpora reach
//! every decision point of every version before any fuzzing. `rseq-fuzz
//! seed` writes them as `corpus/<target>/<name>`.

use crate::abi::sig;
use crate::abi::Arch;
use crate::mem::PageState;
use crate::scenario::{
    enc_sig, enc_val, run_name, runs_for_arch, selector_for_run, Anchor, Init, PageSpec,
    RegistrationSpec, Scenario, SigVal, Step, Val, Writer,
};

const INSIDE: Val = Val::at(Anchor::CsStart, 16);
const OUTSIDE: Val = Val::at(Anchor::CsEnd, 64);
const DESC: Val = Val::at(Anchor::Desc, 0);
const AREA: Val = Val::at(Anchor::Area, 0);
const USR1: u64 = 1 << sig::SIGUSR1;
const SEGV: u64 = 1 << sig::SIGSEGV;

fn enter() -> Vec<Step> {
    vec![Step::SetRseqCs { value: DESC }, Step::SetIp { ip: INSIDE }]
}

fn preempt_irq(cpu: u32, cid: u32) -> Vec<Step> {
    vec![
        Step::Interrupt,
        Step::SwitchIn { cpu, mm_cid: cid },
        Step::ExitToUser,
    ]
}

fn desc(version: u32, flags: u32, start: Val, off: Val, abort: Val) -> Step {
    Step::WriteDesc {
        at: DESC,
        version,
        flags,
        start_ip: start,
        post_commit_offset: off,
        abort_ip: abort,
    }
}

fn cat(parts: Vec<Vec<Step>>) -> Vec<Step> {
    parts.into_iter().flatten().collect()
}

fn with(steps: Vec<Step>) -> Scenario {
    Scenario {
        handlers: USR1,
        steps,
        ..Scenario::default()
    }
}

fn on(arch: Arch, mut s: Scenario) -> Scenario {
    s.arch = arch;
    s
}

fn len64(mut s: Scenario) -> Scenario {
    s.layout.area = crate::testkit::AREA + 0x40;
    s.registration = Some(RegistrationSpec {
        len: 64,
        ..RegistrationSpec::default()
    });
    s
}

fn pages(mut s: Scenario, p: Vec<(Val, PageState)>) -> Scenario {
    s.pages = p
        .into_iter()
        .map(|(addr, state)| PageSpec { addr, state })
        .collect();
    s
}

/// Decision points no seed scenario reaches, with the reason: (version,
/// point, why). `tests/seed_coverage.rs` asserts that the seeds reach every
/// other point of every version, and none of these.
pub const UNREACHABLE_FROM_SCENARIOS: &[(&str, &str, &str)] = &[(
    "v6.18",
    "__rseq_handle_notify_resume/pf_exiting",
    "PF_EXITING: the handler never runs for a dead task in the machine \
         (Machine::step ignores a killed task and the exit loop returns after \
         a fatal signal); only a direct call reaches it (tests/v6_18.rs direct_calls)",
)];

/// Inside the section, one kernel entry `step` (no preemption), then the
/// return to user mode.
fn in_cs_then(step: Step) -> Scenario {
    with(cat(vec![enter(), vec![step, Step::ExitToUser]]))
}

/// The multi-step seed scenarios, by name.
pub fn scenarios() -> Vec<(&'static str, Scenario)> {
    let std_desc = |v, f| {
        desc(
            v,
            f,
            Val::at(Anchor::CsStart, 0),
            Val::Raw(crate::testkit::CS_LEN),
            Val::at(Anchor::AbortIp, 0),
        )
    };
    let mut v: Vec<(&'static str, Scenario)> = vec![
        (
            "row00_abort_after_irq_preempt",
            with(cat(vec![enter(), preempt_irq(0, 0)])),
        ),
        (
            "row00_abort_after_irq_migrate",
            with(cat(vec![enter(), preempt_irq(3, 1)])),
        ),
        (
            "row00_irq_no_preempt_inside",
            with(cat(vec![enter(), vec![Step::Interrupt, Step::ExitToUser]])),
        ),
        (
            "row01_invalid_version_outside",
            with(cat(vec![
                vec![
                    std_desc(1, 0),
                    Step::SetRseqCs { value: DESC },
                    Step::SetIp { ip: OUTSIDE },
                ],
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row02_version_inside",
            with(cat(vec![vec![std_desc(1, 0)], enter(), preempt_irq(0, 0)])),
        ),
        (
            "row02_flags_inside",
            with(cat(vec![vec![std_desc(0, 1)], enter(), preempt_irq(0, 0)])),
        ),
        (
            "row02_unknown_flags_inside",
            with(cat(vec![vec![std_desc(0, 8)], enter(), preempt_irq(0, 0)])),
        ),
        (
            "row03_abort_ip_inside_cs",
            with(cat(vec![
                vec![desc(
                    0,
                    0,
                    Val::at(Anchor::CsStart, 0),
                    Val::Raw(crate::testkit::CS_LEN),
                    Val::at(Anchor::CsStart, 32),
                )],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row04_thread_flags_nonzero",
            with(cat(vec![
                vec![Step::Store32 {
                    addr: Val::at(Anchor::Area, 16),
                    value: 1,
                }],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row05_wrapping_cs",
            with(cat(vec![
                vec![
                    desc(
                        0,
                        0,
                        Val::at(Anchor::Top, -15),
                        Val::Raw(0x40),
                        Val::at(Anchor::AbortIp, 0),
                    ),
                    Step::SetRseqCs { value: DESC },
                    Step::SetIp { ip: Val::Raw(0x10) },
                ],
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row05_start_above_task_size",
            with(cat(vec![
                vec![
                    desc(
                        0,
                        0,
                        Val::at(Anchor::TaskSize, 0),
                        Val::Raw(0x40),
                        Val::at(Anchor::AbortIp, 0),
                    ),
                    Step::SetRseqCs { value: DESC },
                    Step::SetIp {
                        ip: Val::at(Anchor::TaskSize, 8),
                    },
                ],
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row05_end_above_task_size",
            with(cat(vec![
                vec![
                    desc(
                        0,
                        0,
                        Val::at(Anchor::TaskSize, -16),
                        Val::Raw(0x40),
                        Val::at(Anchor::AbortIp, 0),
                    ),
                    Step::SetRseqCs { value: DESC },
                    Step::SetIp {
                        ip: Val::at(Anchor::TaskSize, -8),
                    },
                ],
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row05_abort_above_task_size",
            with(cat(vec![
                vec![desc(
                    0,
                    0,
                    Val::at(Anchor::CsStart, 0),
                    Val::Raw(0x40),
                    Val::at(Anchor::TaskSize, 4),
                )],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row05_abort_below_4",
            with(cat(vec![
                vec![desc(
                    0,
                    0,
                    Val::at(Anchor::CsStart, 0),
                    Val::Raw(0x40),
                    Val::Raw(2),
                )],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row05_bad_signature",
            with(cat(vec![
                vec![Step::Store32 {
                    addr: Val::at(Anchor::SigAddr, 0),
                    value: 0x1234_5678,
                }],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row05_signature_unmapped",
            with(cat(vec![
                vec![desc(
                    0,
                    0,
                    Val::at(Anchor::CsStart, 0),
                    Val::Raw(0x40),
                    Val::at(Anchor::Hole, 4),
                )],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row05_rseq_cs_above_task_size",
            with(cat(vec![
                vec![
                    Step::SetRseqCs {
                        value: Val::at(Anchor::TaskSize, 0),
                    },
                    Step::SetIp { ip: INSIDE },
                ],
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row06_syscall_in_cs_preempted",
            with(cat(vec![
                enter(),
                vec![
                    Step::Getpid,
                    Step::SwitchIn { cpu: 0, mm_cid: 0 },
                    Step::ExitToUser,
                ],
            ])),
        ),
        (
            "row06_syscall_in_cs_migrated",
            with(cat(vec![
                enter(),
                vec![
                    Step::Getpid,
                    Step::SwitchIn { cpu: 5, mm_cid: 2 },
                    Step::ExitToUser,
                ],
            ])),
        ),
        (
            "row07_syscall_in_cs",
            with(cat(vec![enter(), vec![Step::Getpid, Step::ExitToUser]])),
        ),
        (
            "row08_stale_rseq_cs_syscall_block",
            with(vec![
                Step::SetRseqCs { value: DESC },
                Step::SetIp { ip: OUTSIDE },
                Step::Getpid,
                Step::SwitchIn { cpu: 0, mm_cid: 0 },
                Step::ExitToUser,
            ]),
        ),
        (
            "row08_stale_rseq_cs_irq_preempt",
            with(cat(vec![
                vec![Step::SetRseqCs { value: DESC }, Step::SetIp { ip: OUTSIDE }],
                preempt_irq(0, 0),
            ])),
        ),
        ("row09_irq_preempt_no_cs", with(preempt_irq(0, 0))),
        (
            "row10_clobber_cpu_id_start_preempt",
            with(cat(vec![
                vec![Step::Store32 {
                    addr: AREA,
                    value: 7,
                }],
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row10_clobber_with_cs_preempt",
            with(cat(vec![
                vec![Step::Store32 {
                    addr: AREA,
                    value: 7,
                }],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            "row11_clobber_cpu_id_start_migrate",
            with(cat(vec![
                vec![Step::Store32 {
                    addr: AREA,
                    value: 7,
                }],
                preempt_irq(2, 0),
            ])),
        ),
        (
            "row12_clobber_then_signal",
            with(vec![
                Step::Store32 {
                    addr: AREA,
                    value: 7,
                },
                Step::Signal { sig: sig::SIGUSR1 },
                Step::ExitToUser,
            ]),
        ),
        (
            "row13_membarrier_ipi_in_cs",
            with(cat(vec![
                enter(),
                vec![Step::MembarrierIpi, Step::ExitToUser],
            ])),
        ),
        (
            "row13_membarrier_ipi_in_kernel",
            with(vec![Step::Getpid, Step::MembarrierIpi, Step::ExitToUser]),
        ),
        (
            "row14_membarrier_own_cpu",
            with(vec![
                Step::SetRseqCs { value: DESC },
                Step::Membarrier { own_cpu: true },
                Step::ExitToUser,
            ]),
        ),
        (
            "row15_signal_after_syscall_in_cs",
            with(cat(vec![
                enter(),
                vec![
                    Step::Getpid,
                    Step::Signal { sig: sig::SIGUSR1 },
                    Step::ExitToUser,
                ],
            ])),
        ),
        (
            "row16_signal_after_irq_in_cs",
            with(cat(vec![
                enter(),
                vec![
                    Step::Signal { sig: sig::SIGUSR1 },
                    Step::ExitToUser,
                    Step::Sigreturn,
                    Step::ExitToUser,
                ],
            ])),
        ),
        (
            "row17_descriptor_unmapped",
            pages(
                with(cat(vec![enter(), preempt_irq(0, 0)])),
                vec![(DESC, PageState::Unmapped)],
            ),
        ),
        (
            "row17_descriptor_not_present",
            pages(
                with(cat(vec![enter(), preempt_irq(0, 0)])),
                vec![(DESC, PageState::NotPresent)],
            ),
        ),
        (
            "row17_descriptor_prot_none",
            pages(
                with(cat(vec![enter(), preempt_irq(1, 0)])),
                vec![(DESC, PageState::ProtNone)],
            ),
        ),
        (
            "row18_area_readonly_signal",
            with(vec![
                Step::Mprotect {
                    addr: AREA,
                    readable: true,
                    writable: false,
                },
                Step::SetRseqCs { value: DESC },
                Step::Signal { sig: sig::SIGUSR1 },
                Step::ExitToUser,
            ]),
        ),
        (
            "row19_area_readonly_preempt",
            with(cat(vec![
                vec![Step::Mprotect {
                    addr: AREA,
                    readable: true,
                    writable: false,
                }],
                preempt_irq(0, 0),
                preempt_irq(1, 0),
            ])),
        ),
        (
            "row20_unregister",
            with(vec![
                Step::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 1,
                    sig: SigVal::ARCH,
                },
                Step::ExitToUser,
            ]),
        ),
        (
            "row21_unregister_unwritable",
            with(vec![
                Step::Mprotect {
                    addr: AREA,
                    readable: true,
                    writable: false,
                },
                Step::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 1,
                    sig: SigVal::ARCH,
                },
                Step::ExitToUser,
            ]),
        ),
        (
            "row22_register_clears_rseq_cs",
            Scenario {
                init: vec![Init::Bytes {
                    at: Val::at(Anchor::Area, 8),
                    bytes: vec![0, 0, 0x70, 0, 0, 0, 0, 0],
                }],
                ..with(vec![Step::ExitToUser])
            },
        ),
        (
            "row23_register_len64_32_aligned",
            Scenario {
                registration: Some(RegistrationSpec {
                    addr: Val::at(Anchor::Area, 32),
                    len: 64,
                    ..RegistrationSpec::default()
                }),
                ..with(preempt_irq(0, 0))
            },
        ),
        (
            "row24_register_slice_flag",
            Scenario {
                registration: Some(RegistrationSpec {
                    flags: 2,
                    ..RegistrationSpec::default()
                }),
                ..with(preempt_irq(0, 0))
            },
        ),
        (
            "row25_len64_preempt_migrate",
            len64(with(cat(vec![preempt_irq(0, 0), preempt_irq(1, 1)]))),
        ),
        (
            "row25_len64_abort",
            len64(with(cat(vec![enter(), preempt_irq(0, 0)]))),
        ),
        (
            "row25_len64_clobber_then_migrate",
            len64(with(cat(vec![
                vec![Step::Store32 {
                    addr: AREA,
                    value: 7,
                }],
                preempt_irq(4, 0),
            ]))),
        ),
        (
            "row27_unregister_then_membarrier",
            with(vec![
                Step::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 1,
                    sig: SigVal::ARCH,
                },
                Step::MembarrierIpi,
                Step::ExitToUser,
            ]),
        ),
        (
            "row29_clobber_node_id_migrate",
            with(cat(vec![
                vec![Step::Store32 {
                    addr: Val::at(Anchor::Area, 20),
                    value: 9,
                }],
                preempt_irq(6, 0),
            ])),
        ),
        (
            "row29_clobber_mm_cid_cid_change",
            with(cat(vec![
                vec![Step::Store32 {
                    addr: Val::at(Anchor::Area, 24),
                    value: 9,
                }],
                preempt_irq(0, 3),
            ])),
        ),
        (
            "fork_cow_child_first_exit",
            with(vec![
                Step::Fork {
                    clone_vm: false,
                    follow_child: true,
                },
                Step::ExitToUser,
                Step::Interrupt,
                Step::SwitchIn { cpu: 0, mm_cid: 0 },
                Step::ExitToUser,
            ]),
        ),
        (
            "fork_cow_child_in_cs",
            with(cat(vec![
                vec![
                    Step::SetRseqCs { value: DESC },
                    Step::Fork {
                        clone_vm: false,
                        follow_child: true,
                    },
                    Step::ExitToUser,
                    Step::SetIp { ip: INSIDE },
                ],
                preempt_irq(1, 0),
            ])),
        ),
        (
            "fork_cow_parent",
            with(cat(vec![
                vec![
                    Step::Fork {
                        clone_vm: false,
                        follow_child: false,
                    },
                    Step::ExitToUser,
                ],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            "fork_clone_vm_child",
            with(vec![
                Step::Fork {
                    clone_vm: true,
                    follow_child: true,
                },
                Step::ExitToUser,
                Step::Interrupt,
                Step::SwitchIn { cpu: 2, mm_cid: 1 },
                Step::ExitToUser,
            ]),
        ),
        (
            "execve_ok",
            with(vec![
                Step::SetRseqCs { value: DESC },
                Step::Execve { ok: true },
                Step::ExitToUser,
                Step::Interrupt,
                Step::SwitchIn { cpu: 1, mm_cid: 0 },
                Step::ExitToUser,
            ]),
        ),
        (
            "execve_failed",
            with(vec![Step::Execve { ok: false }, Step::ExitToUser]),
        ),
        (
            "register_twice_ebusy",
            with(vec![
                Step::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 0,
                    sig: SigVal::ARCH,
                },
                Step::ExitToUser,
            ]),
        ),
        (
            "reregister_after_unregister",
            with(vec![
                Step::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 1,
                    sig: SigVal::ARCH,
                },
                Step::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 0,
                    sig: SigVal::ARCH,
                },
                Step::ExitToUser,
            ]),
        ),
        (
            "signal_no_handler_dies",
            Scenario {
                handlers: 0,
                ..with(vec![Step::Signal { sig: sig::SIGUSR2 }, Step::ExitToUser])
            },
        ),
        (
            "sigsegv_handler_invalid_descriptor",
            Scenario {
                handlers: USR1 | SEGV,
                ..with(cat(vec![vec![std_desc(1, 0)], enter(), preempt_irq(0, 0)]))
            },
        ),
        (
            "sigsegv_handler_bad_signature_signal",
            Scenario {
                handlers: USR1 | SEGV,
                ..with(cat(vec![
                    vec![Step::Store32 {
                        addr: Val::at(Anchor::SigAddr, 0),
                        value: 1,
                    }],
                    enter(),
                    vec![Step::Signal { sig: sig::SIGUSR1 }, Step::ExitToUser],
                ]))
            },
        ),
        (
            "area_reclaimed_then_preempt",
            with(cat(vec![
                vec![Step::Reclaim { addr: AREA }],
                preempt_irq(0, 0),
                vec![Step::Reclaim { addr: AREA }],
                preempt_irq(3, 0),
            ])),
        ),
        (
            "area_cow_then_abort",
            pages(
                with(cat(vec![enter(), preempt_irq(0, 0)])),
                vec![(AREA, PageState::Cow)],
            ),
        ),
        (
            "area_cow_then_migrate",
            pages(
                with(cat(vec![preempt_irq(0, 0), preempt_irq(2, 0)])),
                vec![(AREA, PageState::Cow)],
            ),
        ),
        (
            "area_unmapped_then_preempt",
            with(cat(vec![
                vec![Step::Munmap { addr: AREA }],
                preempt_irq(1, 0),
            ])),
        ),
        (
            "descriptor_straddles_page",
            Scenario {
                layout: crate::scenario::Layout {
                    desc: crate::testkit::DESC + 4096 - 8,
                    ..Default::default()
                },
                ..pages(
                    with(cat(vec![enter(), preempt_irq(0, 0)])),
                    vec![(Val::at(Anchor::DescPageEnd, 0), PageState::NotPresent)],
                )
            },
        ),
        (
            "descriptor_dontneed",
            with(cat(vec![
                enter(),
                vec![Step::MadviseDontneed { addr: DESC }],
                preempt_irq(0, 0),
            ])),
        ),
        (
            "signature_page_not_present",
            pages(
                with(cat(vec![enter(), preempt_irq(0, 0)])),
                vec![(Val::at(Anchor::SigAddr, 0), PageState::NotPresent)],
            ),
        ),
        (
            "prctl_slice_enable_len64",
            len64(with(vec![
                Step::PrctlSlice { op: 2, arg: 1 },
                Step::ExitToUser,
                Step::PrctlSlice { op: 1, arg: 0 },
                Step::ExitToUser,
            ])),
        ),
        (
            "slice_request_then_timer",
            len64(with(vec![
                Step::PrctlSlice { op: 2, arg: 1 },
                Step::Store {
                    addr: SLICE_REQUEST,
                    bytes: vec![1],
                },
                Step::Interrupt,
                Step::SliceTimer,
                Step::ExitToUser,
                Step::SliceYield,
                Step::ExitToUser,
            ])),
        ),
        (
            "not_registered_preempt",
            Scenario {
                registration: None,
                ..with(cat(vec![enter(), preempt_irq(1, 0)]))
            },
        ),
        (
            "arm64_abort_after_irq_preempt",
            on(Arch::Arm64, with(cat(vec![enter(), preempt_irq(0, 0)]))),
        ),
        (
            "arm64_abort_after_migrate",
            on(Arch::Arm64, with(cat(vec![enter(), preempt_irq(2, 0)]))),
        ),
        (
            "arm64_signal_in_cs",
            on(
                Arch::Arm64,
                with(cat(vec![
                    enter(),
                    vec![Step::Signal { sig: sig::SIGUSR1 }, Step::ExitToUser],
                ])),
            ),
        ),
        (
            "arm64_syscall_in_cs_preempted",
            on(
                Arch::Arm64,
                with(cat(vec![
                    enter(),
                    vec![
                        Step::Getpid,
                        Step::SwitchIn { cpu: 0, mm_cid: 0 },
                        Step::ExitToUser,
                    ],
                ])),
            ),
        ),
        (
            "arm32_abort_after_preempt",
            on(Arch::Arm32, with(cat(vec![enter(), preempt_irq(0, 0)]))),
        ),
        (
            "arm32_rseq_cs_high_word",
            on(
                Arch::Arm32,
                with(cat(vec![
                    vec![
                        Step::SetRseqCs {
                            value: Val::Raw(0x1_0000_0000 | crate::testkit::DESC),
                        },
                        Step::SetIp { ip: INSIDE },
                    ],
                    preempt_irq(0, 0),
                ])),
            ),
        ),
        (
            "arm32_syscall_in_cs_preempted",
            on(
                Arch::Arm32,
                with(cat(vec![
                    enter(),
                    vec![
                        Step::Getpid,
                        Step::SwitchIn { cpu: 0, mm_cid: 0 },
                        Step::ExitToUser,
                    ],
                ])),
            ),
        ),
        (
            "riscv64_abort_after_preempt",
            on(Arch::Riscv64, with(cat(vec![enter(), preempt_irq(0, 0)]))),
        ),
        (
            "riscv64_cow_area_migrate",
            on(
                Arch::Riscv64,
                pages(
                    with(cat(vec![enter(), preempt_irq(3, 0)])),
                    vec![(AREA, PageState::Cow)],
                ),
            ),
        ),
        (
            "la57_abort_after_preempt",
            on(
                Arch::X86_64La57,
                with(cat(vec![enter(), preempt_irq(0, 0)])),
            ),
        ),
    ];
    v.extend(path_scenarios());
    v.sort_by_key(|(n, _)| *n);
    v
}

/// slice_ctrl's request byte (U+28) and granted byte (U+29) of the area.
const SLICE_REQUEST: Val = Val::at(Anchor::Area, 28);
const SLICE_GRANTED: Val = Val::at(Anchor::Area, 29);
/// rseq::flags (U+16).
const RSEQ_FLAGS: Val = Val::at(Anchor::Area, 16);

/// A 64-byte registration at a 64-aligned area (RSEQ ABI V2, optimized
/// mode on v7.1 with generic IRQ entry) with RSEQ_FLAG_SLICE_EXT_DEFAULT_ON,
/// so that the time-slice extension is enabled where it is built and keyed.
fn slice64(mut s: Scenario) -> Scenario {
    s = len64(s);
    if let Some(r) = s.registration.as_mut() {
        r.flags = crate::abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON;
    }
    s
}

fn unregistered(s: Scenario) -> Scenario {
    Scenario {
        registration: None,
        ..s
    }
}

fn readonly(addr: Val) -> Step {
    Step::Mprotect {
        addr,
        readable: true,
        writable: false,
    }
}

fn prctl(op: u32, arg: u32) -> Vec<Step> {
    vec![Step::PrctlSlice { op, arg }, Step::ExitToUser]
}

/// Request a time-slice extension (slice_ctrl.request = 1), then the
/// scheduler wants the CPU while the task runs user code: the exit loop
/// grants the extension instead of scheduling (v7.0 and V2 on v7.1, x86
/// with the slice key on) and arms the slice timer; everywhere else the
/// task is rescheduled.
fn grant() -> Vec<Step> {
    vec![
        Step::Store {
            addr: SLICE_REQUEST,
            bytes: vec![1],
        },
        Step::NeedResched,
        Step::ExitToUser,
    ]
}

/// A vCPU thread migrated inside KVM_RUN, then the guest is entered again
/// and KVM_RUN returns.
fn kvm_run_migrated() -> Vec<Step> {
    vec![
        Step::KvmRun,
        Step::SwitchOut,
        Step::SwitchIn { cpu: 3, mm_cid: 1 },
        Step::GuestEntry,
        Step::ExitToUser,
    ]
}

/// Kernel paths the model tests reach with Fixture-driven event sequences,
/// as seed scenarios (named after the path, or the spec §6 row).
fn path_scenarios() -> Vec<(&'static str, Scenario)> {
    vec![
        // ---- KVM_RUN --------------------------------------------------------
        (
            // arm64 (no generic TIF bits): migrated in KVM_RUN, the
            // rework's pre-guest pass opens the slow path's gate and returns
            // at once for NULL regs (__rseq_handle_slowpath/regs_null),
            // clearing TIF_NOTIFY_RESUME, which is also TIF_RSEQ there;
            // rseq_virt_userspace_exit() raises it again so that the exit
            // writes the IDs.
            "kvm_run_migrated_before_guest_entry_arm64",
            on(Arch::Arm64, with(kvm_run_migrated())),
        ),
        (
            // riscv64 (generic entry and TIF bits), as on x86_64: TIF_RSEQ
            // is not guest-entry work and waits for the exit.
            "kvm_run_migrated_before_guest_entry_riscv64",
            on(Arch::Riscv64, with(kvm_run_migrated())),
        ),
        (
            // Migrated while in KVM_RUN: legacy's pre-guest pass writes the
            // IDs with NULL regs (__rseq_handle_notify_resume/regs_null); the
            // rework leaves them to TIF_RSEQ at the exit.
            "kvm_run_migrated_before_guest_entry",
            with(kvm_run_migrated()),
        ),
        (
            // The pre-guest pass leaves legacy's event bits set; task work
            // later finds the task in a section and aborts it
            // (r-no-stale-event-bit-abort).
            "kvm_run_stale_event_bits_then_task_work_in_cs",
            with(cat(vec![
                kvm_run_migrated(),
                enter(),
                vec![Step::TaskWork, Step::ExitToUser],
            ])),
        ),
        (
            // Another thread makes the area inaccessible during KVM_RUN:
            // legacy's pre-guest pass faults (with CONFIG_DEBUG_RSEQ in
            // rseq_validate_ro_fields(): rseq_update_cpu_node_id/
            // validate_error, which no path with registers reaches) and
            // kills; KVM_RUN returns -EINTR.
            "kvm_run_area_inaccessible_at_guest_entry",
            with(vec![
                Step::KvmRun,
                Step::Mprotect {
                    addr: AREA,
                    readable: false,
                    writable: false,
                },
                Step::TaskWork,
                Step::GuestEntry,
                Step::ExitToUser,
            ]),
        ),
        // ---- v6.18 (legacy) ----------------------------------------------
        (
            // A failed execve raises TIF_NOTIFY_RESUME without an event: the
            // legacy fixup finds an empty event mask inside the CS and leaves
            // rseq_cs set (rseq_need_restart/event_mask_empty); the rework
            // forces an ID update (rseq_force_update).
            "execve_failed_in_cs_after_abort",
            with(cat(vec![
                enter(),
                preempt_irq(0, 0),
                enter(),
                vec![Step::Execve { ok: false }, Step::ExitToUser],
            ])),
        ),
        (
            // Same with the area read-only: the fixup writes nothing, the
            // first ID write faults (rseq_update_cpu_node_id/write_fault).
            "execve_failed_in_cs_area_readonly",
            with(cat(vec![
                enter(),
                preempt_irq(0, 0),
                enter(),
                vec![readonly(AREA), Step::Execve { ok: false }, Step::ExitToUser],
            ])),
        ),
        (
            // Row 19 inside a CS: the abort's rseq_cs clear faults
            // (v6.18 rseq_ip_fixup/clear_rseq_cs_error; rework: the abort
            // write of rseq_update_user_cs).
            "row19_in_cs_area_readonly_preempt",
            with(cat(vec![enter(), vec![readonly(AREA)], preempt_irq(0, 0)])),
        ),
        (
            // start + post_commit_offset wraps below start, below TASK_SIZE.
            "row05_end_wraps_below_start",
            with(cat(vec![
                vec![desc(
                    0,
                    0,
                    Val::at(Anchor::CsStart, 0),
                    Val::Raw(u64::MAX - 0xff),
                    Val::at(Anchor::AbortIp, 0),
                )],
                enter(),
                preempt_irq(0, 0),
            ])),
        ),
        (
            // Registration over a non-zero rseq_cs on a read-only area:
            // the legacy clear faults (sys_rseq/rseq_cs_clear_efault), the
            // rework's first write faults.
            "register_stale_rseq_cs_area_readonly",
            unregistered(Scenario {
                init: vec![Init::Bytes {
                    at: Val::at(Anchor::Area, 8),
                    bytes: crate::testkit::DESC.to_le_bytes().to_vec(),
                }],
                ..with(vec![
                    readonly(AREA),
                    Step::Rseq {
                        addr: AREA,
                        len: 32,
                        flags: 0,
                        sig: SigVal::ARCH,
                    },
                    Step::ExitToUser,
                ])
            }),
        ),
        (
            // Row 21 with a PROT_NONE area: with CONFIG_DEBUG_RSEQ the
            // read-only-field check reads first and faults (EFAULT, still
            // registered); the debug syscall-exit check then kills.
            "row21_unregister_area_prot_none",
            with(vec![
                Step::Mprotect {
                    addr: AREA,
                    readable: false,
                    writable: false,
                },
                Step::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 1,
                    sig: SigVal::ARCH,
                },
                Step::ExitToUser,
            ]),
        ),
        (
            // Debug syscall-exit check with rseq_cs >= TASK_SIZE: force_sig.
            "debug_syscall_rseq_cs_above_task_size",
            with(vec![
                Step::SetRseqCs {
                    value: Val::at(Anchor::TaskSize, 0),
                },
                Step::Getpid,
                Step::ExitToUser,
            ]),
        ),
        (
            // Debug syscall-exit check with the area unmapped: the rseq_cs
            // read faults.
            "debug_syscall_area_unmapped",
            with(vec![
                Step::Munmap { addr: AREA },
                Step::Getpid,
                Step::ExitToUser,
            ]),
        ),
        (
            // A task that never registered: signal delivery and switch-in
            // on 32-bit arm (no generic IRQ entry: the legacy gates).
            "arm32_not_registered_signal_preempt",
            on(
                Arch::Arm32,
                unregistered(with(cat(vec![
                    enter(),
                    vec![
                        Step::Signal { sig: sig::SIGUSR1 },
                        Step::ExitToUser,
                        Step::Sigreturn,
                        Step::ExitToUser,
                    ],
                    preempt_irq(0, 0),
                ]))),
            ),
        ),
        (
            // A failed execve of a task that never registered.
            "execve_failed_not_registered",
            unregistered(with(vec![Step::Execve { ok: false }, Step::ExitToUser])),
        ),
        // ---- v6.19 (rework) ----------------------------------------------
        (
            // Row 29 for cpu_id (U+4): the debug (and V2) ID validation
            // catches it after a migration.
            "row29_clobber_cpu_id_migrate",
            with(cat(vec![
                vec![Step::Store32 {
                    addr: Val::at(Anchor::Area, 4),
                    value: 9,
                }],
                preempt_irq(2, 0),
            ])),
        ),
        (
            // rseq_cs just below TASK_SIZE on riscv64: user_access_begin()'s
            // access_ok() over the descriptor fails before any read.
            "riscv64_rseq_cs_straddles_task_size",
            on(
                Arch::Riscv64,
                with(cat(vec![
                    vec![
                        Step::SetRseqCs {
                            value: Val::at(Anchor::TaskSize, -16),
                        },
                        Step::SetIp { ip: INSIDE },
                    ],
                    preempt_irq(0, 0),
                ])),
            ),
        ),
        (
            // Row 8 with a read-only area: clearing the stale rseq_cs faults
            // in the exit fast path (IDs unchanged).
            "row08_stale_rseq_cs_area_readonly_preempt",
            with(cat(vec![
                vec![Step::SetRseqCs { value: DESC }, readonly(AREA)],
                preempt_irq(0, 0),
            ])),
        ),
        (
            // Row 18 with a stale rseq_cs: signal delivery's CS check clears
            // it, and the write faults.
            "row18_stale_rseq_cs_area_readonly_signal",
            with(vec![
                Step::SetRseqCs { value: DESC },
                readonly(AREA),
                Step::Signal { sig: sig::SIGUSR1 },
                Step::ExitToUser,
            ]),
        ),
        (
            // Signal delivery with the area unmapped: rseq_handle_cs()'s
            // read faults, force_sigsegv.
            "signal_area_unmapped",
            with(vec![
                Step::Munmap { addr: AREA },
                Step::Signal { sig: sig::SIGUSR1 },
                Step::ExitToUser,
            ]),
        ),
        (
            // arm32 returns from a synchronous exception through
            // ret_to_user, which runs the CONFIG_DEBUG_RSEQ syscall check:
            // inside the section v6.18 kills, the rework aborts. An
            // interrupt returns through ret_to_user_from_irq, past it.
            "arm32_exception_in_cs",
            on(
                Arch::Arm32,
                with(cat(vec![
                    enter(),
                    vec![Step::Exception, Step::ExitToUser],
                    enter(),
                    vec![Step::Interrupt, Step::ExitToUser],
                ])),
            ),
        ),
        (
            // Elsewhere an exception enters and leaves like an interrupt:
            // inside the section without preemption, nothing happens.
            "exception_in_cs",
            in_cs_then(Step::Exception),
        ),
        (
            // Task work raises TIF_NOTIFY_RESUME: legacy runs its whole
            // notify-resume pass, the rework's slow-path gate has nothing
            // of its own to do (GE: no slow path requested; arm64 and arm32:
            // no sched_switch pending).
            "task_work_in_cs",
            in_cs_then(Step::TaskWork),
        ),
        (
            "arm64_task_work_in_cs",
            on(Arch::Arm64, in_cs_then(Step::TaskWork)),
        ),
        (
            "arm32_task_work_in_cs",
            on(Arch::Arm32, in_cs_then(Step::TaskWork)),
        ),
        (
            // 32-bit arm ret_fast_syscall with no work pending.
            "arm32_syscall_no_work",
            on(Arch::Arm32, with(vec![Step::Getpid, Step::ExitToUser])),
        ),
        (
            // arm32 do_work_pending(): a reschedule inside the section is a
            // pass of its own; the next pass runs the slow path and aborts.
            "arm32_need_resched_in_cs",
            on(
                Arch::Arm32,
                with(cat(vec![
                    enter(),
                    vec![Step::NeedResched, Step::ExitToUser],
                ])),
            ),
        ),
        (
            // arm32 do_work_pending(): a handled signal, a migration, then a
            // fatal signal; one kind of work a pass, so the task dies before
            // its IDs are written (the generic loop writes them first).
            "arm32_fatal_signal_before_notify_resume",
            on(
                Arch::Arm32,
                with(vec![
                    Step::Signal { sig: sig::SIGUSR1 },
                    Step::SwitchIn { cpu: 6, mm_cid: 1 },
                    Step::Signal { sig: sig::SIGUSR2 },
                    Step::ExitToUser,
                ]),
            ),
        ),
        // ---- v7.0 / v7.1 ---------------------------------------------------
        (
            // An unknown registration flag (bit 2): EINVAL.
            "register_unknown_flag",
            with(vec![
                Step::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 4,
                    sig: SigVal::ARCH,
                },
                Step::ExitToUser,
            ]),
        ),
        (
            // TIF_NEED_RESCHED while in user mode, no slice requested: the
            // exit loop schedules.
            "need_resched_in_user",
            with(vec![Step::NeedResched, Step::ExitToUser]),
        ),
        (
            // Grant, rseq_slice_yield() within it (yielded = 1, timer
            // cancelled, rescheduled, slice_ctrl cleared), a second yield
            // (not yielded), then a reschedule without a request.
            "slice_grant_then_yield",
            slice64(with(cat(vec![
                grant(),
                vec![
                    Step::SliceYield,
                    Step::ExitToUser,
                    Step::SliceYield,
                    Step::ExitToUser,
                    Step::NeedResched,
                    Step::ExitToUser,
                ],
            ]))),
        ),
        (
            // Any other syscall within a grant aborts it.
            "slice_grant_then_syscall_aborts",
            slice64(with(cat(vec![
                grant(),
                vec![Step::Getpid, Step::ExitToUser],
            ]))),
        ),
        (
            // The slice timer fires within the grant: need-resched, the
            // grant revoked on the exit, rescheduled; the next syscall finds
            // no grant.
            "slice_grant_then_timer_expires",
            slice64(with(cat(vec![
                grant(),
                vec![
                    Step::SliceTimer,
                    Step::ExitToUser,
                    Step::Getpid,
                    Step::ExitToUser,
                ],
            ]))),
        ),
        (
            // The grant expires before the task leaves the kernel (a slow
            // exit; QEMU's emulation takes longer than the 5 us default):
            // __rseq_arm_slice_extension_timer() sets need-resched instead
            // of arming the timer, the loop runs again and revokes the
            // grant (slice_ctrl 0) before schedule(); the program never
            // sees it, and its yield answers 0. Seen on a real 7.2 kernel
            // in QEMU (`rseq-fuzz live --slice`).
            "slice_grant_expires_in_the_kernel",
            slice64(with(cat(vec![
                vec![Step::SliceExpiresInKernel],
                grant(),
                vec![Step::SliceYield, Step::ExitToUser],
            ]))),
        ),
        (
            // Preempted within the grant (the fast path revokes it), then
            // the uncancelled timer fires: nothing to do.
            "slice_grant_preempted_then_timer",
            slice64(with(cat(vec![
                grant(),
                preempt_irq(0, 0),
                vec![Step::SliceTimer, Step::ExitToUser],
            ]))),
        ),
        (
            // A request on a registration without DEFAULT_ON: not enabled,
            // no user access, rescheduled.
            "slice_request_not_enabled",
            len64(with(grant())),
        ),
        (
            // The grant's slice_ctrl write faults: force_sig(SIGSEGV).
            "slice_grant_area_readonly",
            slice64(with(vec![
                Step::Store {
                    addr: SLICE_REQUEST,
                    bytes: vec![1],
                },
                readonly(AREA),
                Step::NeedResched,
                Step::ExitToUser,
            ])),
        ),
        (
            // Within a grant the area becomes read-only: clearing the grant
            // at syscall entry faults.
            "slice_grant_then_area_readonly_syscall",
            slice64(with(cat(vec![
                grant(),
                vec![readonly(AREA), Step::Getpid, Step::ExitToUser],
            ]))),
        ),
        (
            // Within a grant user space clears slice_ctrl.granted: the debug
            // check at syscall entry kills.
            "slice_grant_then_granted_cleared_syscall",
            slice64(with(cat(vec![
                grant(),
                vec![
                    Step::Store {
                        addr: SLICE_GRANTED,
                        bytes: vec![0],
                    },
                    Step::Getpid,
                    Step::ExitToUser,
                ],
            ]))),
        ),
        (
            // prctl(PR_RSEQ_SLICE_EXTENSION) argument errors, and SET to the
            // current state.
            "prctl_slice_bad_args_and_no_change",
            len64(with(cat(vec![
                prctl(1, 1),
                prctl(0, 0),
                prctl(2, 2),
                prctl(2, 0),
            ]))),
        ),
        (
            "prctl_slice_set_not_registered",
            unregistered(with(prctl(2, 1))),
        ),
        (
            // A 32-byte (legacy on v7.1) registration: v7.0 enables, v7.1
            // says ENOTSUPP (b9eac6a9d93c).
            "prctl_slice_set_len32",
            with(prctl(2, 1)),
        ),
        (
            // User space cleared rseq::flags: SET finds them inconsistent.
            "prctl_slice_set_flags_cleared",
            len64(with(cat(vec![
                vec![Step::Store32 {
                    addr: RSEQ_FLAGS,
                    value: 0,
                }],
                prctl(2, 1),
            ]))),
        ),
        (
            "prctl_slice_set_area_prot_none",
            len64(with(cat(vec![
                vec![Step::Mprotect {
                    addr: AREA,
                    readable: false,
                    writable: false,
                }],
                prctl(2, 1),
            ]))),
        ),
        (
            "prctl_slice_set_area_readonly",
            len64(with(cat(vec![vec![readonly(AREA)], prctl(2, 1)]))),
        ),
        // ---- v7.1 (V2 optimized mode) -------------------------------------
        (
            // The fast path (page faults disabled) cannot read rseq_cs of a
            // reclaimed area; the slow path can.
            "len64_area_reclaimed_then_preempt",
            len64(with(cat(vec![
                vec![Step::Reclaim { addr: AREA }],
                preempt_irq(0, 0),
            ]))),
        ),
        (
            // Preempted in a syscall on the same CPU and cid: V2 raises
            // nothing.
            "len64_syscall_preempted_same_cpu",
            len64(with(vec![
                Step::Getpid,
                Step::SwitchIn { cpu: 0, mm_cid: 0 },
                Step::ExitToUser,
            ])),
        ),
        (
            // The membarrier IPI on a V2 task: a sched-switch event.
            "len64_membarrier_ipi_in_user",
            len64(with(cat(vec![
                enter(),
                vec![Step::MembarrierIpi, Step::ExitToUser],
            ]))),
        ),
        (
            // A signal sent by a syscall: V2 skips the CS (no user_irq).
            "len64_signal_during_syscall",
            len64(with(vec![
                Step::Getpid,
                Step::Signal { sig: sig::SIGUSR1 },
                Step::ExitToUser,
            ])),
        ),
    ]
}

/// How a cs_analysis input names its architecture
/// ([`crate::targets::cs_analysis_arch`]).
#[derive(Clone, Copy)]
struct CsArch {
    head_bits: u8,
    variant: bool,
}

const CS_X86_64: CsArch = CsArch {
    head_bits: 0,
    variant: false,
};
const CS_ARM32: CsArch = CsArch {
    head_bits: 3,
    variant: false,
};

/// A cs_analysis input (see [`crate::targets::decode_cs_analysis`]).
#[allow(clippy::too_many_arguments)]
fn cs_input(
    arch: CsArch,
    entry: u8,
    len64: bool,
    segv_handler: bool,
    straddle: bool,
    desc_state: Option<PageState>,
    sig_state: Option<PageState>,
    version: u32,
    flags: u32,
    start: Val,
    off: Val,
    abort: Val,
    ip: Val,
    rseq_cs: Val,
    word: SigVal,
) -> Vec<u8> {
    let head = (0u8..=255)
        .find(|h| {
            h & 3 == arch.head_bits
                && (h >> 2) % crate::targets::ENTRIES.len() as u8 == entry
                && (h & 0x40 != 0) == segv_handler
                && (h & 0x80 != 0) == len64
        })
        .unwrap_or(0);
    let mut w = Writer::default();
    w.u8(head);
    w.u8(u8::from(straddle) | if arch.variant { 8 } else { 0 });
    let st = |s: PageState| PageState::ALL.iter().position(|&p| p == s).unwrap_or(0) as u8;
    // states: bits 0-2 first page, 3-5 second page, 6-7 select.
    w.u8(match desc_state {
        None => 0x80,
        Some(s) if straddle => 0x80 | (st(s) << 3),
        Some(s) => st(s),
    });
    w.u8(match sig_state {
        None => 0,
        Some(s) => 0xf0 | st(s),
    });
    w.u8(if version != 0 { 0xf0 } else { 0 });
    w.u8(if flags != 0 {
        0xe0 | (flags as u8 & 0x1f)
    } else {
        0
    });
    for v in [start, off, abort, ip, rseq_cs] {
        enc_val(&mut w, v);
    }
    enc_sig(&mut w, SigVal::ARCH);
    enc_sig(&mut w, word);
    w.out
}

fn cs_seeds() -> Vec<(String, Vec<u8>)> {
    let start = Val::at(Anchor::CsStart, 0);
    let off = Val::Raw(crate::testkit::CS_LEN);
    let abort = Val::at(Anchor::AbortIp, 0);
    let mut out = Vec::new();
    let entries = [
        "irq_preempt",
        "irq_migrate",
        "syscall_preempt",
        "signal",
        "syscall_signal",
        "membarrier",
        "exception",
    ];
    for (arch_i, arch) in [
        (CS_X86_64, "x86_64"),
        (
            CsArch {
                head_bits: 1,
                variant: true,
            },
            "x86_64_la57",
        ),
        (
            CsArch {
                head_bits: 2,
                variant: false,
            },
            "arm64",
        ),
        (
            CsArch {
                head_bits: 2,
                variant: true,
            },
            "riscv64",
        ),
        (CS_ARM32, "arm32"),
    ] {
        for (e, ename) in entries.iter().enumerate() {
            out.push((
                format!("{arch}_{ename}_valid_inside"),
                cs_input(
                    arch_i,
                    e as u8,
                    false,
                    false,
                    false,
                    None,
                    None,
                    0,
                    0,
                    start,
                    off,
                    abort,
                    INSIDE,
                    DESC,
                    SigVal::ARCH,
                ),
            ));
        }
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "valid_outside",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                OUTSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "rseq_cs_zero",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                Val::Raw(0),
                SigVal::ARCH,
            ),
        ),
        (
            "version_inside",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                1,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "flags_inside",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                2,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "version_outside",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                1,
                0,
                start,
                off,
                abort,
                OUTSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "bad_sig_inside",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::Raw(0x5305_3052),
            ),
        ),
        (
            "bad_sig_high_bits",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::Raw(0x1234_3053),
            ),
        ),
        (
            "bad_sig_signal_handler",
            cs_input(
                CS_X86_64,
                3,
                false,
                true,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::Raw(1),
            ),
        ),
        (
            "abort_in_cs",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                Val::at(Anchor::CsStart, 8),
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "abort_below_4",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                Val::Raw(3),
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "abort_task_size",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                Val::at(Anchor::TaskSize, 0),
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "start_task_size",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                Val::at(Anchor::TaskSize, 0),
                off,
                abort,
                Val::at(Anchor::TaskSize, 4),
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "wrap",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                Val::at(Anchor::Top, -15),
                Val::Raw(0x40),
                abort,
                Val::Raw(8),
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "ip_before_start",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                Val::at(Anchor::CsStart, -1),
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "ip_at_end",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                Val::at(Anchor::CsEnd, 0),
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "rseq_cs_task_size",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                Val::at(Anchor::TaskSize, 0),
                SigVal::ARCH,
            ),
        ),
        (
            "rseq_cs_hole",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                Val::at(Anchor::Hole, 0),
                SigVal::ARCH,
            ),
        ),
        (
            "desc_not_present",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                Some(PageState::NotPresent),
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "desc_unmapped",
            cs_input(
                CS_X86_64,
                1,
                false,
                false,
                false,
                Some(PageState::Unmapped),
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "desc_straddles_not_present",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                true,
                Some(PageState::NotPresent),
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "desc_straddles_unmapped",
            cs_input(
                CS_X86_64,
                3,
                false,
                false,
                true,
                Some(PageState::Unmapped),
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "sig_not_present",
            cs_input(
                CS_X86_64,
                0,
                false,
                false,
                false,
                None,
                Some(PageState::NotPresent),
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "sig_prot_none",
            cs_input(
                CS_X86_64,
                1,
                false,
                false,
                false,
                None,
                Some(PageState::ProtNone),
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "len64_valid_inside",
            cs_input(
                CS_X86_64,
                0,
                true,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "len64_signal_inside",
            cs_input(
                CS_X86_64,
                3,
                true,
                false,
                false,
                None,
                None,
                0,
                0,
                start,
                off,
                abort,
                INSIDE,
                DESC,
                SigVal::ARCH,
            ),
        ),
        (
            "arm32_wrap32",
            cs_input(
                CS_ARM32,
                0,
                false,
                false,
                false,
                None,
                None,
                0,
                0,
                Val::at(Anchor::U32Max, -15),
                Val::Raw(0x40),
                abort,
                Val::Raw(8),
                DESC,
                SigVal::ARCH,
            ),
        ),
    ];
    out.extend(cases.into_iter().map(|(n, b)| (n.to_string(), b)));
    out
}

fn registration_seeds() -> Vec<(String, Vec<u8>)> {
    // Op bytes: op % 8 picks the kind, op >> 3 the length index for rseq ops.
    let rseq = |len_idx: u8, addr_idx: u8, flags_idx: u8, sig: u8| {
        vec![len_idx << 3, addr_idx, flags_idx, sig]
    };
    let exit = vec![3u8];
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "register_unregister",
            vec![
                rseq(0, 0, 0, 0),
                exit.clone(),
                rseq(0, 0, 2, 0),
                exit.clone(),
            ],
        ),
        (
            "register_twice",
            vec![rseq(0, 0, 0, 0), rseq(0, 0, 0, 0), exit.clone()],
        ),
        (
            "register_other_addr",
            vec![rseq(0, 0, 0, 0), rseq(0, 1, 0, 0), exit.clone()],
        ),
        (
            "register_other_len",
            vec![rseq(0, 0, 0, 0), rseq(1, 0, 0, 0), exit.clone()],
        ),
        (
            "register_other_sig",
            vec![rseq(0, 0, 0, 0), rseq(0, 0, 0, 255), vec![1, 2, 3, 4]],
        ),
        ("len64_aligned", vec![rseq(1, 2, 0, 0), exit.clone()]),
        ("len64_32_aligned", vec![rseq(1, 1, 0, 0), exit.clone()]),
        ("len33", vec![rseq(2, 0, 0, 0), exit.clone()]),
        ("len28", vec![rseq(3, 0, 0, 0), exit.clone()]),
        ("len0", vec![rseq(4, 0, 0, 0), exit.clone()]),
        ("misaligned", vec![rseq(0, 2, 0, 0), exit.clone()]),
        ("page_end", vec![rseq(0, 3, 0, 0), exit.clone()]),
        ("hole", vec![rseq(0, 4, 0, 0), exit.clone()]),
        ("task_size", vec![rseq(0, 5, 0, 0), exit.clone()]),
        ("top", vec![rseq(0, 6, 0, 0), exit.clone()]),
        ("null", vec![rseq(0, 7, 0, 0), exit.clone()]),
        ("flags_slice", vec![rseq(0, 0, 3, 0), exit.clone()]),
        ("flags_3", vec![rseq(0, 0, 4, 0), exit.clone()]),
        (
            "unregister_unregistered",
            vec![rseq(0, 0, 2, 0), exit.clone()],
        ),
        (
            "unregister_wrong_sig",
            vec![rseq(0, 0, 0, 0), exit.clone(), rseq(0, 0, 2, 200)],
        ),
        (
            "unregister_wrong_len",
            vec![rseq(0, 0, 0, 0), exit.clone(), rseq(1, 0, 2, 0)],
        ),
        (
            "area_readonly_register",
            vec![vec![5 | (3 << 3)], rseq(0, 0, 0, 0), exit.clone()],
        ),
        (
            "area_cow_register",
            vec![vec![5 | (1 << 3)], rseq(0, 0, 0, 0), exit.clone()],
        ),
        (
            "area_not_present_register",
            vec![vec![5 | (2 << 3)], rseq(0, 0, 0, 0), exit.clone()],
        ),
        (
            "area_readonly_unregister",
            vec![
                rseq(0, 0, 0, 0),
                exit.clone(),
                vec![5 | (3 << 3)],
                rseq(0, 0, 2, 0),
                exit.clone(),
            ],
        ),
        (
            "clobber_then_migrate",
            vec![
                rseq(0, 0, 0, 0),
                exit.clone(),
                vec![6],
                vec![9, 0, 0, 0],
                vec![4 | (2 << 3)],
                exit.clone(),
            ],
        ),
        (
            "fork_child",
            vec![rseq(0, 0, 0, 0), exit.clone(), vec![7 | 0x20], exit.clone()],
        ),
    ];
    cases
        .into_iter()
        .map(|(n, parts)| {
            let mut b = vec![0u8];
            for p in parts {
                b.extend(p);
            }
            (n.to_string(), b)
        })
        .collect()
}

/// Every seed of a target: (file name, bytes).
/// FNV-1a of a seed's name: a stable spread, the same on every machine.
fn name_hash(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

pub fn for_target(target: &str) -> Vec<(String, Vec<u8>)> {
    match target {
        "cs_analysis" => cs_seeds(),
        "registration" => registration_seeds(),
        "exit_to_user" => {
            // The first byte picks the run. Each seed goes to every version
            // once, under a configuration chosen by a hash of the seed's
            // name: every version sees every seed, and adding a seed does
            // not move the others to other runs.
            let mut out = Vec::new();
            for (name, s) in scenarios() {
                let runs = runs_for_arch(s.arch);
                let h = name_hash(name) as usize;
                let mut versions: Vec<&str> = runs.iter().map(|(v, _)| v.name).collect();
                versions.dedup();
                for version in versions {
                    let of_version: Vec<usize> = (0..runs.len())
                        .filter(|&i| runs[i].0.name == version)
                        .collect();
                    let (v, c) = runs[of_version[h % of_version.len()]];
                    let Some(pick) = selector_for_run(s.arch, &run_name(v, &c)) else {
                        // No selector picks this run (a test keeps every
                        // run selectable), so there is no seed to write.
                        continue;
                    };
                    let mut b = vec![pick];
                    b.extend(s.encode());
                    out.push((format!("{name}_{}", version.replace('.', "_")), b));
                }
            }
            out
        }
        _ => scenarios()
            .into_iter()
            .map(|(n, s)| (n.to_string(), s.encode()))
            .collect(),
    }
}
