//! Spec §6, one test per row: the same steps on R-7.0 (debug off, "R"),
//! with the debug key ("Rd"), V2 legacy mode ("V2-leg", rseq_len 32)
//! and V2 optimized mode ("V2-opt", rseq_len 64), each column's outcome
//! asserted next to the others. x86-64 (GE+GIE+TIFB) unless the row says
//! otherwise; rows about slice_ctrl use the slice-extension key on.

use super::v7_common::*;
use rseq_fuzz::abi::{self, errno, rseq, sig};
use rseq_fuzz::config::Config;
use rseq_fuzz::kernel::{Event, Syscall};
use rseq_fuzz::testkit::{Fixture, ABORT_IP, AREA, CS_LEN, CS_START, DESC, HANDLER, IP_INSIDE};
use rseq_fuzz::trace::KillPath;
use rseq_fuzz::versions::VersionEntry;

#[derive(Clone, Copy)]
struct Col {
    name: &'static str,
    v: &'static VersionEntry,
    cfg: Config,
    len: u32,
}

/// The four columns on configurations built by `mk(debug)`.
fn cols_with(mk: fn(bool) -> Config) -> [Col; 4] {
    [
        Col {
            name: "R",
            v: v70(),
            cfg: mk(false),
            len: 32,
        },
        Col {
            name: "Rd",
            v: v70(),
            cfg: mk(true),
            len: 32,
        },
        Col {
            name: "V2-leg",
            v: v71(),
            cfg: mk(false),
            len: 32,
        },
        Col {
            name: "V2-opt",
            v: v71(),
            cfg: mk(false),
            len: 64,
        },
    ]
}

fn cols() -> [Col; 4] {
    cols_with(x86)
}

/// What a row compares.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Out {
    aborted: bool,
    rseq_cs: u64,
    /// ID writes (cpu_id_start) by the kernel after the registration.
    id_writes: usize,
    kills: Vec<KillPath>,
    dead: bool,
}

fn id_write_count(f: &Fixture) -> usize {
    accesses_by(f, "rseq_set_ids_get_csaddr")
        .iter()
        .filter(|&&(a, w, wr, ok)| a == AREA + rseq::CPU_ID_START && w == 4 && wr && ok)
        .count()
}

/// Register per the column, run `steps`, and report.
fn run(c: Col, steps: impl Fn(&mut Fixture)) -> (Fixture, Out) {
    let mut f = registered(c.v, c.cfg, c.len);
    let mark = id_write_count(&f);
    steps(&mut f);
    let out = Out {
        aborted: f.ip() == ABORT_IP,
        rseq_cs: f.rseq_cs_value().unwrap_or(u64::MAX),
        id_writes: id_write_count(&f) - mark,
        kills: kills(&f),
        dead: dead(&f),
    };
    (f, out)
}

fn ok(aborted: bool, rseq_cs: u64, id_writes: usize) -> Out {
    Out {
        aborted,
        rseq_cs,
        id_writes,
        kills: vec![],
        dead: false,
    }
}

fn killed(id_writes: usize) -> Out {
    Out {
        aborted: false,
        rseq_cs: u64::MAX,
        id_writes,
        kills: vec![KillPath::ForceSig],
        dead: true,
    }
}

/// `got` as compared with `want`: `rseq_cs == u64::MAX` in an expectation
/// means "not compared" (the area of a dead task is of no interest).
fn masked(mut got: Out, want: &Out) -> Out {
    if want.rseq_cs == u64::MAX {
        got.rseq_cs = u64::MAX;
    }
    got
}

/// Compare a row: `expect[i]` for column i.
fn check(row: &str, cols: [Col; 4], steps: impl Fn(&mut Fixture), expect: [Out; 4]) {
    for (c, want) in cols.into_iter().zip(expect) {
        let (_, got) = run(c, &steps);
        assert_eq!(
            masked(got, &want),
            want,
            "row {row}, column {} ({})",
            c.name,
            c.cfg
        );
    }
}

fn usr1(f: &mut Fixture) {
    f.step(Event::SetHandler {
        sig: sig::SIGUSR1,
        installed: true,
    });
}

#[test]
fn row_00_baseline_abort_ids_only_if_changed_or_legacy() {
    // IRQ + same-CPU preemption.
    check(
        "0 (preempt)",
        cols(),
        |f| {
            f.enter_cs();
            f.preempt_irq();
        },
        [
            ok(true, 0, 0),
            ok(true, 0, 0),
            ok(true, 0, 1),
            ok(true, 0, 0),
        ],
    );
    // IRQ + migration: IDs in every column.
    check(
        "0 (migrate)",
        cols(),
        |f| {
            f.enter_cs();
            f.migrate_irq(6);
        },
        [
            ok(true, 0, 1),
            ok(true, 0, 1),
            ok(true, 0, 1),
            ok(true, 0, 1),
        ],
    );
}

#[test]
fn row_01_invalid_descriptor_ip_outside() {
    check(
        "1 (version != 0)",
        cols(),
        |f| {
            f.write_desc(1, 0, CS_START, CS_LEN, ABORT_IP);
            stale_cs(f);
            f.preempt_irq();
        },
        [
            ok(false, 0, 0),
            ok(false, 0, 0),
            ok(false, 0, 1),
            ok(false, 0, 0),
        ],
    );
    // start_ip >= TASK_SIZE: only the debug routine looks at it.
    let ts = x86(false).task_size();
    check(
        "1 (start >= TASK_SIZE)",
        cols(),
        move |f| {
            f.write_desc(0, 0, ts, CS_LEN, ABORT_IP);
            stale_cs(f);
            f.preempt_irq();
        },
        [ok(false, 0, 0), killed(1), ok(false, 0, 1), ok(false, 0, 0)],
    );
}

#[test]
fn row_02_version_or_flags_nonzero_inside() {
    for (ver, flags) in [(1, 0), (0, abi::RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT)] {
        check(
            "2",
            cols(),
            move |f| {
                enter_cs_with(f, ver, flags, CS_START, CS_LEN, ABORT_IP);
                f.preempt_irq();
            },
            [ok(true, 0, 0), killed(1), ok(true, 0, 1), ok(true, 0, 0)],
        );
    }
}

#[test]
fn row_03_abort_ip_inside_cs() {
    let abort = CS_START + 0x20;
    for c in cols() {
        let (f, out) = run(c, |f| {
            let s = f.cfg.arch.rseq_sig();
            f.step(Event::Store {
                addr: abort - 4,
                bytes: s.to_le_bytes().to_vec(),
            });
            enter_cs_with(f, 0, 0, CS_START, CS_LEN, abort);
            f.preempt_irq();
        });
        if c.name == "Rd" {
            assert_eq!(masked(out, &killed(1)), killed(1), "row 3 {}", c.name);
        } else {
            assert_eq!(f.ip(), abort, "row 3 {}: ABORT to a point inside", c.name);
            assert!(!out.dead);
        }
    }
}

#[test]
fn row_04_thread_flags_never_read() {
    check(
        "4",
        cols(),
        |f| {
            store_u32(f, rseq::FLAGS, 7);
            f.enter_cs();
            f.preempt_irq();
        },
        [
            ok(true, 0, 0),
            ok(true, 0, 0),
            ok(true, 0, 1),
            ok(true, 0, 0),
        ],
    );
}

#[test]
fn row_05_wrapping_cs() {
    check(
        "5",
        cols(),
        |f| {
            enter_cs_with(f, 0, 0, CS_START, u64::MAX - 0x10, ABORT_IP);
            f.preempt_irq();
        },
        [ok(true, 0, 0), killed(1), ok(true, 0, 1), ok(true, 0, 0)],
    );
}

#[test]
fn row_06_syscall_inside_cs_preempted() {
    check(
        "6",
        cols(),
        |f| {
            f.enter_cs();
            syscall_preempted(f, CPU0);
        },
        [
            ok(false, DESC, 0),
            Out {
                rseq_cs: DESC,
                ..killed(0)
            },
            ok(false, DESC, 1),
            ok(false, DESC, 0),
        ],
    );
    // R with a migration during the syscall: IDs, still no abort.
    let (_, out) = run(cols()[0], |f| {
        f.enter_cs();
        syscall_preempted(f, 6);
    });
    assert_eq!(out, ok(false, DESC, 1));
}

#[test]
fn row_06b_syscall_inside_cs_preempted_non_gie() {
    // arm32 (no GIE): v7.1 is legacy whatever the length.
    check(
        "6b",
        cols_with(arm32),
        |f| {
            f.enter_cs();
            syscall_preempted(f, CPU0);
        },
        [
            ok(true, 0, 1),
            ok(true, 0, 1),
            ok(true, 0, 1),
            ok(true, 0, 1),
        ],
    );
}

#[test]
fn row_07_syscall_inside_cs_not_preempted() {
    check(
        "7",
        cols(),
        |f| {
            f.enter_cs();
            f.syscall(Syscall::Getpid);
        },
        [
            ok(false, DESC, 0),
            Out {
                rseq_cs: DESC,
                ..killed(0)
            },
            ok(false, DESC, 0),
            ok(false, DESC, 0),
        ],
    );
}

#[test]
fn row_08_stale_rseq_cs_syscall_reschedule() {
    check(
        "8",
        cols(),
        |f| {
            stale_cs(f);
            syscall_preempted(f, CPU0);
        },
        [
            ok(false, DESC, 0),
            ok(false, 0, 0),
            ok(false, DESC, 1),
            ok(false, DESC, 0),
        ],
    );
}

#[test]
fn row_09_irq_same_cpu_rseq_cs_zero() {
    for c in cols_with(x86_slice) {
        let (f, out) = run(c, |f| {
            store_u32(f, rseq::SLICE_CTRL, 0x55);
            f.preempt_irq();
        });
        let fast = accesses_by(&f, "rseq_exit_user_update");
        let ctrl = u32_at(&f, rseq::SLICE_CTRL);
        match c.name {
            // Only R64 U+8 and (7.0, key on) W32 U+28 = 0.
            "R" => {
                assert_eq!(
                    fast,
                    vec![(AREA + 8, 8, false, true), (AREA + 28, 4, true, true)]
                );
                assert_eq!(out, ok(false, 0, 0));
                assert_eq!(ctrl, 0);
            }
            // The debug quirk sends it to the slow path: IDs rewritten.
            "Rd" => {
                assert_eq!(out, ok(false, 0, 1));
                assert!(f.took("rseq_exit_to_user_mode_restart/defer_to_slowpath"));
            }
            // Legacy: IDs, never U+28.
            "V2-leg" => {
                assert_eq!(out, ok(false, 0, 1));
                assert_eq!(ctrl, 0x55);
            }
            _ => {
                assert_eq!(
                    fast,
                    vec![(AREA + 8, 8, false, true), (AREA + 28, 4, true, true)]
                );
                assert_eq!(out, ok(false, 0, 0));
                assert_eq!(ctrl, 0);
            }
        }
    }
}

#[test]
fn row_10_cpu_id_start_overwritten_same_cpu_preemption() {
    for zero in [true, false] {
        for c in cols() {
            let (f, out) = run(c, |f| {
                if !zero {
                    stale_cs(f);
                }
                store_u32(f, rseq::CPU_ID_START, 77);
                f.preempt_irq();
            });
            match (c.name, zero) {
                ("Rd", true) => {
                    assert_eq!(masked(out, &killed(0)), killed(0), "row 10 Rd rseq_cs == 0")
                }
                ("V2-leg", _) => {
                    assert_eq!(u32_at(&f, rseq::CPU_ID_START), CPU0, "legacy rewrites");
                    assert!(!out.dead);
                }
                (name, _) => {
                    assert_eq!(u32_at(&f, rseq::CPU_ID_START), 77, "{name} zero={zero}");
                    assert!(!out.dead, "{name} zero={zero}");
                    assert_eq!(out.rseq_cs, 0);
                }
            }
        }
    }
}

#[test]
fn row_11_cpu_id_start_overwritten_then_migration() {
    check(
        "11",
        cols(),
        |f| {
            store_u32(f, rseq::CPU_ID_START, 77);
            f.migrate_irq(6);
        },
        [ok(false, 0, 1), killed(0), ok(false, 0, 1), killed(0)],
    );
}

#[test]
fn row_12_cpu_id_start_overwritten_then_signal() {
    for c in cols() {
        let (f, out) = run(c, |f| {
            usr1(f);
            store_u32(f, rseq::CPU_ID_START, 77);
            // raise(): the signal is delivered at the syscall's exit.
            f.steps([
                Event::Syscall(Syscall::Getpid),
                Event::Signal { sig: sig::SIGUSR1 },
                Event::ExitToUser,
            ]);
        });
        assert_eq!(f.ip(), HANDLER, "{}", c.name);
        assert!(!out.dead);
        let want = if c.name == "V2-leg" { CPU0 } else { 77 };
        assert_eq!(u32_at(&f, rseq::CPU_ID_START), want, "row 12 {}", c.name);
    }
}

#[test]
fn row_13_membarrier_ipi_user_mode_inside_cs() {
    check(
        "13",
        cols(),
        |f| {
            f.enter_cs();
            f.steps([Event::MembarrierIpi, Event::ExitToUser]);
        },
        [
            ok(true, 0, 0),
            ok(true, 0, 0),
            ok(true, 0, 1),
            ok(true, 0, 0),
        ],
    );
}

#[test]
fn row_14_membarrier_own_cpu() {
    check(
        "14",
        cols(),
        |f| {
            stale_cs(f);
            f.syscall(Syscall::Membarrier { own_cpu: true });
        },
        [
            ok(false, DESC, 0),
            ok(false, 0, 0),
            ok(false, DESC, 1),
            ok(false, DESC, 0),
        ],
    );
}

#[test]
fn row_15_signal_after_syscall_inside_cs() {
    for c in cols() {
        let (mut f, out) = run(c, |f| {
            usr1(f);
            f.enter_cs();
            f.steps([
                Event::Syscall(Syscall::Getpid),
                Event::Signal { sig: sig::SIGUSR1 },
                Event::ExitToUser,
            ]);
        });
        match c.name {
            "Rd" => assert!(out.dead && out.kills == vec![KillPath::ForceSig]),
            name => {
                assert_eq!(f.ip(), HANDLER);
                f.syscall(Syscall::Sigreturn);
                let (ip, cs) = if name == "V2-leg" {
                    (ABORT_IP, 0)
                } else {
                    (IP_INSIDE, DESC)
                };
                assert_eq!(f.ip(), ip, "row 15 {name}: the frame's saved IP");
                assert_eq!(rseq_cs(&f), cs, "row 15 {name}");
            }
        }
    }
}

#[test]
fn row_16_signal_after_irq_inside_cs() {
    for c in cols() {
        let (mut f, out) = run(c, |f| {
            usr1(f);
            f.enter_cs();
            f.steps([Event::Signal { sig: sig::SIGUSR1 }, Event::ExitToUser]);
        });
        assert_eq!(f.ip(), HANDLER);
        assert_eq!(out.rseq_cs, 0, "{}", c.name);
        let ids = if c.name == "V2-leg" { 1 } else { 0 };
        assert_eq!(out.id_writes, ids, "row 16 {}", c.name);
        f.syscall(Syscall::Sigreturn);
        assert_eq!(f.ip(), ABORT_IP, "row 16 {}", c.name);
    }
}

#[test]
fn row_17_descriptor_fault_during_exit() {
    // Persistent fault: DEFER, then the slow path (which writes the IDs
    // before it evaluates the CS) kills. Legacy also wrote them in the
    // fast path (Branch B) before the CS failed there.
    check(
        "17 (unmapped)",
        cols(),
        |f| {
            f.enter_cs();
            f.step(Event::Munmap { addr: DESC });
            f.preempt_irq();
        },
        [killed(1), killed(1), killed(2), killed(1)],
    );
    // Resolvable fault: DEFER, then the slow path aborts.
    for c in cols() {
        let (f, out) = run(c, |f| {
            f.enter_cs();
            f.step(Event::Reclaim { addr: DESC });
            f.preempt_irq();
        });
        assert!(out.aborted && !out.dead, "row 17 {}", c.name);
        assert!(f.took("rseq_exit_to_user_mode_restart/defer_to_slowpath"));
    }
}

#[test]
fn row_18_area_fault_during_signal_delivery() {
    for c in cols() {
        let (_, out) = run(c, |f| {
            usr1(f);
            f.enter_cs();
            protect_area(f, false, false);
            f.steps([Event::Signal { sig: sig::SIGUSR1 }, Event::ExitToUser]);
        });
        assert_eq!(
            out.kills.first(),
            Some(&KillPath::ForceSigsegv { sig: sig::SIGUSR1 }),
            "row 18 {}",
            c.name
        );
        assert!(out.dead);
    }
}

#[test]
fn row_19_read_only_area_preempted_outside() {
    for c in cols() {
        let mut f = registered(c.v, c.cfg, c.len);
        protect_area(&mut f, true, false);
        f.preempt_irq();
        f.preempt_irq();
        let early = matches!(c.name, "Rd" | "V2-leg");
        assert_eq!(dead(&f), early, "row 19 {}: same-CPU preemptions", c.name);
        if !early {
            f.migrate_irq(6);
            assert!(dead(&f), "row 19 {}: killed once the IDs change", c.name);
        }
        assert_eq!(kills(&f), vec![KillPath::ForceSig]);
    }
}

#[test]
fn row_20_unregister_writes() {
    for c in cols_with(x86_slice) {
        let mut f = registered(c.v, c.cfg, c.len);
        store_u32(&mut f, rseq::SLICE_CTRL, 1);
        assert_eq!(unreg(&mut f, c.len), Some(0), "{}", c.name);
        let (start, ctrl) = match c.v.name {
            "v7.0" => (u32::MAX, 0),
            _ => (0, 1),
        };
        assert_eq!(ids(&f), [start, u32::MAX, 0, 0], "row 20 {}", c.name);
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), ctrl, "row 20 {}", c.name);
    }
    // Rd validates the RO fields first: a modified one kills.
    let mut f = registered(v70(), x86(true), 32);
    store_u32(&mut f, rseq::NODE_ID, 3);
    assert_eq!(unreg(&mut f, 32), Some(-errno::EFAULT));
    assert_eq!(kills(&f), vec![KillPath::ForceSig]);
    // V2 does not validate on unregistration.
    let mut f = registered(v71(), x86(false), 64);
    store_u32(&mut f, rseq::NODE_ID, 3);
    assert_eq!(unreg(&mut f, 64), Some(0));
}

#[test]
fn row_21_unregister_unwritable() {
    for c in cols() {
        let mut f = registered(c.v, c.cfg, c.len);
        protect_area(&mut f, true, false);
        assert_eq!(unreg(&mut f, c.len), Some(-errno::EFAULT), "{}", c.name);
        assert_eq!(kills(&f), vec![KillPath::ForceSig], "row 21 {}", c.name);
    }
}

#[test]
fn row_22_registration_writes() {
    for c in cols_with(x86_slice) {
        let mut f = fixture(c.v, c.cfg);
        for off in (0..36).step_by(4) {
            store_u32(&mut f, off, 0xAAAA_AAAA);
        }
        let s = c.cfg.arch.rseq_sig();
        f.step(Event::Syscall(Syscall::Rseq {
            addr: AREA,
            len: c.len,
            flags: 0,
            sig: s,
        }));
        assert_eq!(rseq_cs(&f), 0);
        assert_eq!(ids(&f), [u32::MAX, u32::MAX, 0, 0], "row 22 {}", c.name);
        let (flags, ctrl) = match c.name {
            "R" | "Rd" => (0x10, 0),
            "V2-leg" => (0, 0xAAAA_AAAA),
            _ => (0x10, 0),
        };
        assert_eq!(u32_at(&f, rseq::FLAGS), flags, "row 22 {}", c.name);
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), ctrl, "row 22 {}", c.name);
        // Beyond U+31 nothing is written.
        assert_eq!(u32_at(&f, 32), 0xAAAA_AAAA);
    }
}

#[test]
fn row_23_len64_misaligned() {
    for c in cols() {
        let mut f = fixture(c.v, c.cfg);
        let s = c.cfg.arch.rseq_sig();
        let r = f.syscall(Syscall::Rseq {
            addr: AREA + 32,
            len: 64,
            flags: 0,
            sig: s,
        });
        assert_eq!(r, Some(-errno::EINVAL), "row 23 {}", c.name);
    }
}

#[test]
fn row_24_default_on_flag() {
    for c in cols_with(x86_slice) {
        let mut f = fixture(c.v, c.cfg);
        assert_eq!(reg_flags(&mut f, c.len, 2), 0, "row 24 {}", c.name);
        let enabled = c.name != "V2-leg";
        let flags = if enabled { 0x30 } else { 0 };
        assert_eq!(u32_at(&f, rseq::FLAGS), flags, "row 24 {}", c.name);
        let get = f.syscall(Syscall::PrctlSlice { op: 1, arg: 0 });
        assert_eq!(get, Some(i64::from(enabled)), "row 24 {}", c.name);
    }
}

#[test]
fn row_25_slice_ctrl_writes_in_normal_operation() {
    const PAT: u32 = 0x1122_3344;
    for c in cols_with(x86_slice) {
        let mut f = fixture(c.v, c.cfg);
        store_u32(&mut f, rseq::SLICE_CTRL, PAT);
        assert_eq!(reg(&mut f, c.len), 0);
        let zeroes = c.name != "V2-leg";
        let want = if zeroes { 0 } else { PAT };
        assert_eq!(
            u32_at(&f, rseq::SLICE_CTRL),
            want,
            "{} registration",
            c.name
        );
        // An ID write (migration), a Branch-A exit (same-CPU preemption),
        // then unregistration (7.0 only).
        let events: [fn(&mut Fixture); 2] = [
            |f| {
                f.migrate_irq(6);
            },
            |f| {
                f.preempt_irq();
            },
        ];
        for (i, e) in events.iter().enumerate() {
            store_u32(&mut f, rseq::SLICE_CTRL, PAT);
            e(&mut f);
            assert_eq!(u32_at(&f, rseq::SLICE_CTRL), want, "{} event {i}", c.name);
        }
        store_u32(&mut f, rseq::SLICE_CTRL, PAT);
        assert_eq!(unreg(&mut f, c.len), Some(0));
        let want = if c.v.name == "v7.0" { 0 } else { PAT };
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), want, "{} unregister", c.name);
    }
    // v7.0's registration zeroes U+28 whatever the key and configuration
    // (an unconditional write in sys_rseq); its ID writes do not.
    for cfg in [x86(false), x86_slice_off(false), arm32(false)] {
        let mut f = fixture(v70(), cfg);
        store_u32(&mut f, rseq::SLICE_CTRL, PAT);
        assert_eq!(reg(&mut f, 32), 0);
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0, "{cfg}");
        store_u32(&mut f, rseq::SLICE_CTRL, PAT);
        f.migrate_irq(6);
        assert_eq!(u32_at(&f, rseq::SLICE_CTRL), PAT, "{cfg}");
    }
}

#[test]
fn row_26_arm64_preemption_inside_cs() {
    for c in cols_with(arm64) {
        // Same CPU.
        let (_, same) = run(c, |f| {
            f.enter_cs();
            f.preempt_irq();
        });
        // Migrated while inside.
        let (_, moved) = run(c, |f| {
            f.enter_cs();
            f.migrate_irq(6);
        });
        match c.name {
            "R" => {
                assert_eq!(same, ok(false, DESC, 0));
                assert_eq!(moved, ok(false, DESC, 1));
            }
            "Rd" => {
                assert_eq!(same, ok(false, DESC, 0));
                assert_eq!(moved.kills, vec![KillPath::ForceSig]);
                assert!(moved.dead);
            }
            // After 411c1cf43039: ABORT; the slow path (no GE) writes IDs
            // whenever it runs.
            _ => {
                assert_eq!(same, ok(true, 0, 1), "row 26 {}", c.name);
                assert_eq!(moved, ok(true, 0, 1), "row 26 {}", c.name);
            }
        }
    }
}

#[test]
fn row_27_unregister_then_membarrier_ipi() {
    // The mid-memset race of v7.0 is not expressible (hooks are atomic):
    // an IPI right after the unregistration is harmless in every column.
    for c in cols() {
        let mut f = registered(c.v, c.cfg, c.len);
        f.enter_cs();
        assert_eq!(unreg(&mut f, c.len), Some(0));
        let before = f.model.current_mem().peek(AREA, 64);
        f.steps([Event::MembarrierIpi, Event::ExitToUser]);
        assert!(kills(&f).is_empty() && !dead(&f), "row 27 {}", c.name);
        assert_eq!(f.model.current_mem().peek(AREA, 64), before);
    }
}

#[test]
fn row_28_cpu_id_start_before_first_exit() {
    for c in cols() {
        let mut f = fixture(c.v, c.cfg);
        let s = c.cfg.arch.rseq_sig();
        f.step(Event::Syscall(Syscall::Rseq {
            addr: AREA,
            len: c.len,
            flags: 0,
            sig: s,
        }));
        assert_eq!(
            u32_at(&f, rseq::CPU_ID_START),
            u32::MAX,
            "row 28 {}",
            c.name
        );
        f.step(Event::ExitToUser);
        assert_eq!(u32_at(&f, rseq::CPU_ID_START), CPU0);
    }
}

#[test]
fn row_29_ro_field_modified_then_id_write() {
    check(
        "29",
        cols(),
        |f| {
            store_u32(f, rseq::MM_CID, 4321);
            f.migrate_irq(6);
        },
        [ok(false, 0, 1), killed(0), ok(false, 0, 1), killed(0)],
    );
    // V2-leg with the debug key: killed.
    let (_, out) = run(
        Col {
            name: "V2-leg+debug",
            v: v71(),
            cfg: x86(true),
            len: 32,
        },
        |f| {
            store_u32(f, rseq::MM_CID, 4321);
            f.migrate_irq(6);
        },
    );
    assert_eq!(masked(out, &killed(0)), killed(0));
}

#[test]
fn row_30_length_selects_mode_only_in_v2_on_gie() {
    let scenario = |f: &mut Fixture| {
        store_u32(f, rseq::CPU_ID_START, 77);
        f.preempt_irq();
    };
    let rewritten = |v, cfg, len| {
        let (f, _) = run(
            Col {
                name: "-",
                v,
                cfg,
                len,
            },
            scenario,
        );
        u32_at(&f, rseq::CPU_ID_START) != 77
    };
    // R: no difference between 32 and 64.
    assert!(!rewritten(v70(), x86(false), 32));
    assert!(!rewritten(v70(), x86(false), 64));
    // V2: the length is the selector on GIE architectures...
    assert!(rewritten(v71(), x86(false), 32));
    assert!(!rewritten(v71(), x86(false), 64));
    // ...and non-GIE architectures are always legacy.
    assert!(rewritten(v71(), arm32(false), 64));
}
