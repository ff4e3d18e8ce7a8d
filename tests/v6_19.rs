//! Tests of the v6.19 model (src/versions/v6_19.rs).
//!
//! Every case function asserts the outcome of what it drives and returns the
//! decision points it reached. `every_decision_point_is_reached` runs the
//! whole table and fails, listing the missing ones, when a decision point of
//! the version is reached by no case. Each case also runs as its own test.
//! Rows of spec §6 are named `row_NN_...` (R and Rd columns; 6b and 26 for
//! the non-GIE and arm64 configurations).

use rseq_fuzz::abi::{self, rseq as off, sig, Arch};
use rseq_fuzz::config::Config;
use rseq_fuzz::kernel::{Event, Fate, Observation, Syscall};
use rseq_fuzz::mem::{AccessKind, PageState};
use rseq_fuzz::testkit::*;
use rseq_fuzz::trace::{KillPath, TraceEvent};
use rseq_fuzz::versions::{self, VersionEntry};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn version() -> &'static VersionEntry {
    versions::find("v6.19").expect("v6.19 is registered")
}

fn x86(debug: bool) -> Config {
    Config::native(Arch::X86_64, debug)
}
fn riscv(debug: bool) -> Config {
    Config::native(Arch::Riscv64, debug)
}
/// Generic entry without HAVE_GENERIC_TIF_BITS: no in-tree architecture of
/// v6.19 is built so (riscv selects the bits since 41e871f2b63e), but the
/// kernel keeps the branches for it, and these direct calls check them.
fn ge_without_tifb(debug: bool) -> Config {
    Config {
        generic_tif_bits: false,
        ..Config::native(Arch::Riscv64, debug)
    }
}
fn arm64(debug: bool) -> Config {
    Config::native(Arch::Arm64, debug)
}
fn arm32(debug: bool) -> Config {
    Config::native(Arch::Arm32, debug)
}

fn fx(c: Config) -> Fixture {
    Fixture::new(version(), c)
}

/// A fixture whose task starts on `cpu` with concurrency id `cid`.
fn fx_on(c: Config, cpu: u32, cid: u32) -> Fixture {
    let mut s = standard_setup(standard_mem(&c));
    s.cpu = cpu;
    s.mm_cid = cid;
    Fixture::with_setup(version(), c, s)
}

/// Registered (len 32) and back in user mode.
fn reg(c: Config) -> Fixture {
    let mut f = fx(c);
    assert_eq!(f.register(32), Some(0), "{c}: registration");
    f
}

fn last(f: &Fixture) -> &Observation {
    f.last().expect("an observation")
}

/// Decision points collected over the fixtures of a case.
#[derive(Default)]
struct Seen(Vec<&'static str>);

impl Seen {
    fn add(&mut self, f: &Fixture) {
        self.0.extend(f.decisions());
    }
    fn done(self) -> Vec<&'static str> {
        self.0
    }
}

fn store_u32(f: &mut Fixture, addr: u64, v: u32) {
    f.step(Event::Store {
        addr,
        bytes: v.to_le_bytes().to_vec(),
    });
}

fn store_u64(f: &mut Fixture, addr: u64, v: u64) {
    f.step(Event::Store {
        addr,
        bytes: v.to_le_bytes().to_vec(),
    });
}

fn mark(f: &Fixture) -> usize {
    f.model.trace().events.len()
}

/// Successful kernel writes since `m`: (address, width, value).
fn writes_since(f: &Fixture, m: usize) -> Vec<(u64, u8, u64)> {
    f.model.trace().events[m..]
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Access {
                addr,
                width,
                kind: AccessKind::Write,
                value,
                result: Ok(()),
                ..
            } => Some((*addr, *width, value.unwrap_or(0))),
            _ => None,
        })
        .collect()
}

/// All user accesses since `m`: (address, width, kind, ok).
fn accesses_since(f: &Fixture, m: usize) -> Vec<(u64, u8, AccessKind, bool)> {
    f.model.trace().events[m..]
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Access {
                addr,
                width,
                kind,
                result,
                ..
            } => Some((*addr, *width, *kind, result.is_ok())),
            _ => None,
        })
        .collect()
}

fn decisions_since(f: &Fixture, m: usize) -> Vec<&'static str> {
    f.model.trace().events[m..]
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Decision { point } => Some(*point),
            _ => None,
        })
        .collect()
}

fn id_writes_since(f: &Fixture, m: usize) -> Vec<(u64, u8, u64)> {
    writes_since(f, m)
        .into_iter()
        .filter(|&(a, _, _)| {
            [off::CPU_ID_START, off::CPU_ID, off::NODE_ID, off::MM_CID]
                .iter()
                .any(|&o| a == AREA + o)
        })
        .collect()
}

/// The IDs as user space sees them: (cpu_id_start, cpu_id, node_id, mm_cid).
fn ids(f: &Fixture) -> (u32, u32, u32, u32) {
    (
        f.area_u32(off::CPU_ID_START).expect("area mapped"),
        f.area_u32(off::CPU_ID).expect("area mapped"),
        f.area_u32(off::NODE_ID).expect("area mapped"),
        f.area_u32(off::MM_CID).expect("area mapped"),
    )
}

fn killed_by_force_sig(f: &Fixture) {
    let o = last(f);
    assert_eq!(o.kills, vec![KillPath::ForceSig], "{:?}", o.decisions);
    assert_eq!(o.fate, Fate::Killed { sig: sig::SIGSEGV });
}

fn alive_no_kill(f: &Fixture) {
    let o = last(f);
    assert!(o.kills.is_empty(), "unexpected kill: {:?}", o.decisions);
    assert_eq!(o.fate, Fate::Running);
    assert!(!o.livelock);
}

/// Interrupt from user mode with preemption on the same CPU, plus a pending
/// signal, then return.
fn irq_with_signal(f: &mut Fixture, signo: u8) {
    f.steps([
        Event::Interrupt,
        Event::Signal { sig: signo },
        Event::ExitToUser,
    ]);
}

/// Syscall, preempted during it on `cpu` (same cid), then return.
fn syscall_preempted(f: &mut Fixture, cpu: u32) {
    let cid = f.model.current().mm_cid;
    f.steps([
        Event::Syscall(Syscall::Getpid),
        Event::SwitchOut,
        Event::SwitchIn { cpu, mm_cid: cid },
        Event::ExitToUser,
    ]);
}

fn install_handler(f: &mut Fixture, signo: u8) {
    f.step(Event::SetHandler {
        sig: signo,
        installed: true,
    });
}

// ---------------------------------------------------------------------------
// Registration, unregistration, sys_rseq errno order
// ---------------------------------------------------------------------------

/// Spec §4.11 / rows 22 and 28: what registration writes, in what order, and
/// the first exit writing the real IDs (Branch B, CS not evaluated).
fn registration_writes_and_first_exit() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let mut f = fx_on(c, 3, 2);
    // Stale user values that registration must overwrite.
    store_u64(&mut f, AREA + off::RSEQ_CS, DESC);
    store_u32(&mut f, AREA + off::CPU_ID_START, 5);
    store_u32(&mut f, AREA + off::NODE_ID, 7);
    let m = mark(&f);
    f.step(Event::Syscall(Syscall::Rseq {
        addr: AREA,
        len: 32,
        flags: 0,
        sig: c.arch.rseq_sig(),
    }));
    // Row 22: W64 U+8 = 0, W32 U+0 = -1, U+4 = -1, U+20 = 0, U+24 = 0, no read.
    let acc = accesses_since(&f, m);
    assert_eq!(
        acc,
        vec![
            (AREA + 8, 8, AccessKind::Write, true),
            (AREA, 4, AccessKind::Write, true),
            (AREA + 4, 4, AccessKind::Write, true),
            (AREA + 20, 4, AccessKind::Write, true),
            (AREA + 24, 4, AccessKind::Write, true),
        ]
    );
    // Row 28: before the first exit cpu_id_start is -1.
    assert_eq!(ids(&f), (u32::MAX, u32::MAX, 0, 0));
    assert_eq!(f.rseq_cs_value(), Some(0));
    f.step(Event::ExitToUser);
    assert_eq!(last(&f).syscall_ret, Some(0));
    // The fast path (Branch B) writes cpu 3, node 1, cid 2; the CS is skipped.
    assert_eq!(ids(&f), (3, 3, 1, 2));
    for p in [
        "sys_rseq/registered",
        "rseq_force_update/raise",
        "__exit_to_user_mode_prepare/work_pending",
        "__rseq_exit_to_user_mode_restart/sched_switch",
        "rseq_exit_user_update/ids_changed_branch_b",
        "rseq_set_ids_get_csaddr/ids_written",
        "rseq_update_usr/cs_gate_skip_no_user_irq",
        "rseq_exit_to_user_mode_restart/fast_path_done",
        "rseq_syscall_exit_to_user_mode/lockdep_off_no_clear",
    ] {
        assert!(f.took(p), "missing {p}");
    }
    alive_no_kill(&f);
    seen.add(&f);
    seen.done()
}

/// sys_rseq: every errno branch in kernel order; rows 23 and 24.
fn sys_rseq_errno_order() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let s = c.arch.rseq_sig();
    let rq = |addr, len, flags, sig| Syscall::Rseq {
        addr,
        len,
        flags,
        sig,
    };
    let mut f = fx(c);
    let ts = c.task_size();
    // Row 24: flag 2 (SLICE_EXT_DEFAULT_ON) does not exist in v6.19.
    assert_eq!(f.syscall(rq(AREA, 32, 2, s)), Some(-22));
    assert!(f.took("sys_rseq/bad_flags"));
    assert_eq!(f.syscall(rq(AREA, 32, 3, s)), Some(-22));
    assert!(f.took("sys_rseq/unregister_bad_flags"));
    assert_eq!(f.syscall(rq(AREA, 32, 1, s)), Some(-22));
    assert!(f.took("sys_rseq/unregister_pointer_mismatch"));
    for (addr, len) in [(AREA, 31), (AREA + 16, 32), (AREA + 16, 64), (AREA, 0)] {
        assert_eq!(f.syscall(rq(addr, len, 0, s)), Some(-22), "{addr:#x}/{len}");
    }
    assert!(f.took("sys_rseq/bad_len_or_alignment"));
    assert_eq!(f.syscall(rq(ts - 32, 64, 0, s)), Some(-14));
    assert!(f.took("sys_rseq/access_not_ok"));
    // A mapped-nowhere area: the first write faults, nothing registered.
    let m = mark(&f);
    assert_eq!(f.syscall(rq(0x80_0000, 32, 0, s)), Some(-14));
    assert!(f.took("sys_rseq/write_fault"));
    assert_eq!(
        accesses_since(&f, m)[0],
        (0x80_0000 + 8, 8, AccessKind::Write, false)
    );
    // Now register for real and walk the "already registered" checks.
    assert_eq!(f.syscall(rq(AREA, 32, 0, s)), Some(0));
    assert_eq!(f.syscall(rq(AREA, 32, 0, s)), Some(-16));
    assert!(f.took("sys_rseq/already_registered"));
    assert_eq!(f.syscall(rq(AREA + 32, 32, 0, s)), Some(-22));
    assert_eq!(f.syscall(rq(AREA, 64, 0, s)), Some(-22));
    assert!(f.took("sys_rseq/registered_pointer_or_len_mismatch"));
    assert_eq!(f.syscall(rq(AREA, 32, 0, s ^ 1)), Some(-1));
    assert!(f.took("sys_rseq/registered_sig_mismatch"));
    assert_eq!(f.syscall(rq(AREA + 32, 32, 1, s)), Some(-22));
    assert_eq!(f.syscall(rq(AREA, 64, 1, s)), Some(-22));
    assert!(f.took("sys_rseq/unregister_len_mismatch"));
    assert_eq!(f.syscall(rq(AREA, 32, 1, s ^ 1)), Some(-1));
    assert!(f.took("sys_rseq/unregister_sig_mismatch"));
    alive_no_kill(&f);
    seen.add(&f);

    // Registration at address 0 (page 0 mapped, mmap_min_addr 0): it
    // succeeds, but usrptr == NULL is what sys_rseq() takes for "not
    // registered": a second registration is not EBUSY, and unregistration
    // is EINVAL, while has_rseq makes the exit path write the IDs at 0.
    let mut z = fx(c);
    z.step(Event::Mmap {
        addr: 0,
        state: PageState::Present,
    });
    assert_eq!(z.syscall(rq(0, 32, 0, s)), Some(0));
    z.migrate_irq(3);
    assert_eq!(
        z.model.current_mem().peek(0, 8),
        Some(vec![3, 0, 0, 0, 3, 0, 0, 0]),
        "IDs written at address 0"
    );
    assert_eq!(z.syscall(rq(0, 32, 0, s)), Some(0), "no EBUSY");
    assert_eq!(z.syscall(rq(0, 32, 1, s)), Some(-22));
    seen.add(&z);

    // Row 23: rseq_len 64 at a 32- but not 64-aligned address is accepted.
    let mut g = fx(c);
    assert_eq!(g.syscall(rq(AREA + 32, 64, 0, s)), Some(0));
    seen.add(&g);

    // Any arguments: an errno or 0, never a panic.
    for &addr in &[0, 1, 32, AREA, ts - 32, ts, u64::MAX - 31, u64::MAX] {
        for &len in &[0, 28, 32, 33, 64, 4096, u32::MAX] {
            for &flags in &[0, 1, 2, 0x8000_0000, u32::MAX] {
                for &sg in &[0, s, u32::MAX] {
                    let mut h = fx(c);
                    let r = h.syscall(rq(addr, len, flags, sg)).expect("returns");
                    assert!(
                        [0, -1, -14, -16, -22].contains(&r),
                        "rseq({addr:#x}, {len}, {flags:#x}, {sg:#x}) = {r}"
                    );
                    assert_eq!(last(&h).fate, Fate::Running);
                }
            }
        }
    }
    seen.done()
}

/// Row 20 (R and Rd): unregistration writes U+0 = -1 (not 0), U+4 = -1,
/// U+20 = 0, U+24 = 0, never U+8; the registration is gone afterwards.
fn row_20_unregister_writes() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        let c = x86(debug);
        let mut f = reg(c);
        f.migrate_irq(3);
        assert_eq!(ids(&f), (3, 3, 1, 0));
        let m = mark(&f);
        let r = f.syscall(Syscall::Rseq {
            addr: AREA,
            len: 32,
            flags: abi::RSEQ_FLAG_UNREGISTER,
            sig: c.arch.rseq_sig(),
        });
        assert_eq!(r, Some(0));
        assert_eq!(
            id_writes_since(&f, m),
            vec![
                (AREA, 4, u64::from(u32::MAX)),
                (AREA + 4, 4, u64::from(u32::MAX)),
                (AREA + 20, 4, 0),
                (AREA + 24, 4, 0),
            ]
        );
        assert!(writes_since(&f, m).iter().all(|w| w.0 != AREA + 8));
        assert!(f.took("sys_rseq/unregistered"));
        if debug {
            // The RO validation runs first.
            assert!(decisions_since(&f, m).contains(&"rseq_debug_validate_ids/ids_valid"));
        }
        // Registered no more: a preemption does not touch the area.
        let m = mark(&f);
        f.migrate_irq(5);
        assert!(writes_since(&f, m).is_empty());
        alive_no_kill(&f);
        seen.add(&f);
    }
    seen.done()
}

/// Row 21: unregistration of an unwritable area: force_sig(SIGSEGV) and
/// EFAULT; the registration stays. Rd: the validation can fail first.
fn row_21_unregister_unwritable() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let mut f = reg(c);
    install_handler(&mut f, sig::SIGSEGV);
    f.step(Event::Mprotect {
        addr: AREA,
        readable: true,
        writable: false,
    });
    let unreg = Syscall::Rseq {
        addr: AREA,
        len: 32,
        flags: 1,
        sig: c.arch.rseq_sig(),
    };
    assert_eq!(f.syscall(unreg.clone()), Some(-14));
    let o = last(&f);
    assert_eq!(o.kills, vec![KillPath::ForceSig]);
    assert!(o.sigsegv_handled, "the user handler caught it");
    assert!(f.took("rseq_set_ids_get_csaddr/uaccess_fault"));
    assert!(f.took("rseq_reset_ids/kill"));
    assert!(f.took("sys_rseq/unregister_reset_ids_failed"));
    // Still registered.
    let r = f.syscall(Syscall::Rseq {
        addr: AREA,
        len: 32,
        flags: 0,
        sig: c.arch.rseq_sig(),
    });
    assert_eq!(r, Some(-16));
    seen.add(&f);

    // Rd: a clobbered RO field makes the validation fail before any write.
    let c = x86(true);
    let mut g = reg(c);
    store_u32(&mut g, AREA + off::MM_CID, 9);
    let m = mark(&g);
    assert_eq!(
        g.syscall(Syscall::Rseq {
            addr: AREA,
            len: 32,
            flags: 1,
            sig: c.arch.rseq_sig(),
        }),
        Some(-14)
    );
    assert!(writes_since(&g, m).is_empty());
    assert!(g.took("rseq_debug_validate_ids/mm_cid_mismatch"));
    assert!(g.took("rseq_set_ids_get_csaddr/debug_validate_failed"));
    killed_by_force_sig(&g);
    seen.add(&g);
    seen.done()
}

// ---------------------------------------------------------------------------
// Spec §6 rows: R (x86, debug off) and Rd (x86, debug on)
// ---------------------------------------------------------------------------

/// Row 0: valid descriptor, IP inside, interrupt then preemption (same CPU)
/// or migration: ABORT; IDs rewritten only on migration.
fn row_00_abort_on_preemption_and_migration() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        let c = x86(debug);
        let mut f = reg(c);
        f.enter_cs();
        let m = mark(&f);
        f.preempt_irq();
        assert_eq!(f.ip(), ABORT_IP);
        assert_eq!(f.rseq_cs_value(), Some(0));
        assert!(id_writes_since(&f, m).is_empty(), "same CPU: no ID write");
        assert!(f.took("rseq_note_user_irq_entry/user_irq_set"));
        assert!(f.took("rseq_sched_switch_event/gie_raise"));
        assert!(f.took("mm_cid_update_task_cid/cid_unchanged"));
        assert!(f.took("rseq_exit_user_update/ids_unchanged_branch_a"));
        assert!(f.took("rseq_exit_user_update/cs_check"));
        assert!(f.took("rseq_irqentry_exit_to_user_mode/clear_events"));
        if debug {
            assert!(f.took("rseq_update_user_cs/debug_enabled"));
            assert!(f.took("rseq_debug_update_user_cs/abort"));
        } else {
            assert!(f.took("rseq_update_user_cs/abort"));
        }
        alive_no_kill(&f);
        seen.add(&f);

        let mut g = reg(c);
        g.enter_cs();
        let m = mark(&g);
        g.migrate_irq(5);
        assert_eq!(g.ip(), ABORT_IP);
        assert_eq!(ids(&g), (5, 5, 2, 0));
        assert_eq!(id_writes_since(&g, m).len(), 4);
        assert!(g.took("__set_task_cpu/ids_changed"));
        assert!(g.took("rseq_update_usr/cs_check"));
        alive_no_kill(&g);
        seen.add(&g);
    }
    seen.done()
}

/// A descriptor at DESC with the given fields, and rseq_cs pointing at it.
fn use_desc(f: &mut Fixture, version: u32, flags: u32, start: u64, offset: u64, abort: u64) {
    f.write_desc(version, flags, start, offset, abort);
    f.set_rseq_cs(DESC);
}

/// Row 1: invalid descriptors with the IP outside: R clears; Rd clears when
/// the IP is below start or at/after end, and kills (via the slow path) on a
/// start beyond TASK_SIZE.
fn row_01_invalid_descriptor_ip_outside() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let ts = x86(false).task_size();
    let bad: [(u32, u64, u64, u64); 4] = [
        (1, CS_START, CS_LEN, ABORT_IP),        // version != 0
        (0, CS_START, CS_LEN, CS_START + 8),    // abort inside CS
        (0, ts + 0x1000, CS_LEN, ABORT_IP),     // start >= TASK_SIZE
        (0, CS_START, CS_LEN, HANDLER + 0x100), // no signature there
    ];
    for (i, &(ver, start, len, abort)) in bad.iter().enumerate() {
        // R: only the signature/abort of a CS that contains the IP matter.
        let mut f = reg(x86(false));
        use_desc(&mut f, ver, 0, start, len, abort);
        f.preempt_irq();
        assert_eq!(f.ip(), IP_OUTSIDE, "case {i}");
        assert_eq!(f.rseq_cs_value(), Some(0), "case {i}: cleared");
        assert!(f.took("rseq_update_user_cs/ip_outside_cs"));
        alive_no_kill(&f);
        seen.add(&f);

        let mut g = reg(x86(true));
        use_desc(&mut g, ver, 0, start, len, abort);
        g.preempt_irq();
        if start >= ts {
            assert!(g.took("rseq_debug_update_user_cs/start_ip_beyond_task_size"));
            assert!(g.took("rseq_exit_to_user_mode_restart/defer_to_slowpath"));
            assert!(g.took("rseq_handle_slowpath/ge_slowpath_flagged"));
            assert!(g.took("rseq_slowpath_update_usr/kill"));
            killed_by_force_sig(&g);
        } else {
            assert_eq!(g.rseq_cs_value(), Some(0), "case {i}: cleared");
            assert!(g.took("rseq_debug_update_user_cs/ip_at_or_after_end"));
            alive_no_kill(&g);
        }
        seen.add(&g);
    }
    // Rd, IP below start: cleared without reading further than start_ip.
    let mut g = reg(x86(true));
    use_desc(&mut g, 1, 0, CS_START, CS_LEN, ABORT_IP);
    g.step(Event::SetIp { ip: CODE + 0x10 });
    let m = mark(&g);
    g.preempt_irq();
    assert_eq!(g.rseq_cs_value(), Some(0));
    assert!(g.took("rseq_debug_update_user_cs/ip_below_start"));
    let reads: Vec<_> = accesses_since(&g, m)
        .into_iter()
        .filter(|a| a.2 == AccessKind::Read && a.0 >= DESC && a.0 < DESC + 32)
        .collect();
    assert_eq!(reads, vec![(DESC + 8, 8, AccessKind::Read, true)]);
    alive_no_kill(&g);
    seen.add(&g);
    seen.done()
}

/// Row 2: version or cs.flags non-zero, IP inside: R aborts (never read),
/// Rd kills.
fn row_02_version_or_flags_nonzero() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for (ver, flags) in [(1, 0), (0, abi::RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT)] {
        let mut f = reg(x86(false));
        use_desc(&mut f, ver, flags, CS_START, CS_LEN, ABORT_IP);
        f.step(Event::SetIp { ip: IP_INSIDE });
        let m = mark(&f);
        f.preempt_irq();
        assert_eq!(f.ip(), ABORT_IP);
        assert!(
            accesses_since(&f, m).iter().all(|a| a.0 != DESC),
            "D+0 unread"
        );
        alive_no_kill(&f);
        seen.add(&f);

        let mut g = reg(x86(true));
        use_desc(&mut g, ver, flags, CS_START, CS_LEN, ABORT_IP);
        g.step(Event::SetIp { ip: IP_INSIDE });
        g.preempt_irq();
        assert!(g.took("rseq_debug_update_user_cs/version_or_flags_nonzero"));
        killed_by_force_sig(&g);
        seen.add(&g);
    }
    seen.done()
}

/// Row 3: abort_ip inside the CS: R aborts to it, Rd kills.
fn row_03_abort_inside_cs() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let inside_abort = CS_START + 0x20;
    for debug in [false, true] {
        let c = x86(debug);
        let mut f = reg(c);
        store_u32(&mut f, inside_abort - 4, c.arch.rseq_sig());
        use_desc(&mut f, 0, 0, CS_START, CS_LEN, inside_abort);
        f.step(Event::SetIp { ip: IP_INSIDE });
        f.preempt_irq();
        if debug {
            assert!(f.took("rseq_debug_update_user_cs/abort_ip_inside_cs"));
            killed_by_force_sig(&f);
        } else {
            assert_eq!(f.ip(), inside_abort);
            alive_no_kill(&f);
        }
        seen.add(&f);
    }
    seen.done()
}

/// Row 4: the thread flags word (U+16) is never read: ABORT in R and Rd.
fn row_04_thread_flags_ignored() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        let mut f = reg(x86(debug));
        store_u32(&mut f, AREA + off::FLAGS, 7);
        f.enter_cs();
        let m = mark(&f);
        f.preempt_irq();
        assert_eq!(f.ip(), ABORT_IP);
        assert!(accesses_since(&f, m).iter().all(|a| a.0 != AREA + 16));
        alive_no_kill(&f);
        seen.add(&f);
    }
    seen.done()
}

/// Row 5: a CS that wraps the top of the address space and covers the IP:
/// R aborts (abort and signature valid), Rd kills (end overflow).
fn row_05_wrapping_cs() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let offset = u64::MAX - CS_START + 0x20; // start + offset wraps
    for debug in [false, true] {
        let mut f = reg(x86(debug));
        use_desc(&mut f, 0, 0, CS_START, offset, ABORT_IP);
        f.step(Event::SetIp { ip: IP_INSIDE });
        f.preempt_irq();
        if debug {
            assert!(f.took("rseq_debug_update_user_cs/end_overflow_or_beyond_task_size"));
            killed_by_force_sig(&f);
        } else {
            assert_eq!(f.ip(), ABORT_IP);
            alive_no_kill(&f);
        }
        seen.add(&f);
    }
    seen.done()
}

/// Rows 6 and 7: a syscall issued inside the CS. R: nothing happens (the CS
/// is not evaluated; IDs only written when migrated). Rd: killed by the
/// syscall-return check (the debug CS check sees no user_irq).
fn row_06_07_syscall_inside_cs() -> Vec<&'static str> {
    let mut seen = Seen::default();
    // Row 6, R, preempted on the same CPU: not even raised.
    let mut f = reg(x86(false));
    f.enter_cs();
    let m = mark(&f);
    syscall_preempted(&mut f, 0);
    assert_eq!(f.ip(), IP_INSIDE);
    assert_eq!(f.rseq_cs_value(), Some(DESC));
    assert!(writes_since(&f, m).is_empty());
    assert!(f.took("rseq_sched_switch_event/gie_no_event"));
    assert!(f.took("__exit_to_user_mode_prepare/no_work"));
    alive_no_kill(&f);
    seen.add(&f);
    // Row 6, R, migrated: IDs written, still no abort.
    let mut f = reg(x86(false));
    f.enter_cs();
    syscall_preempted(&mut f, 4);
    assert_eq!(f.ip(), IP_INSIDE);
    assert_eq!(f.rseq_cs_value(), Some(DESC));
    assert_eq!(ids(&f), (4, 4, 2, 0));
    alive_no_kill(&f);
    seen.add(&f);
    // Row 7, R: not preempted.
    let mut f = reg(x86(false));
    f.enter_cs();
    let m = mark(&f);
    f.syscall(Syscall::Getpid);
    assert!(writes_since(&f, m).is_empty());
    assert_eq!(f.ip(), IP_INSIDE);
    alive_no_kill(&f);
    seen.add(&f);
    // Rows 6 and 7, Rd: killed at syscall exit.
    for preempt in [false, true] {
        let mut g = reg(x86(true));
        g.enter_cs();
        if preempt {
            syscall_preempted(&mut g, 0);
        } else {
            g.syscall(Syscall::Getpid);
        }
        assert!(g.took("rseq_debug_update_user_cs/not_user_irq"));
        assert!(g.took("__rseq_debug_syscall_return/kill"));
        killed_by_force_sig(&g);
        seen.add(&g);
    }
    seen.done()
}

/// Row 6b: the same on a non-GIE arch (arm32): R aborts from the slow path
/// and rewrites the IDs; Rd aborts already at syscall return (no user_irq
/// test without GENERIC_IRQ_ENTRY).
fn row_06b_syscall_inside_cs_non_gie() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(arm32(false));
    f.enter_cs();
    let m = mark(&f);
    syscall_preempted(&mut f, 0);
    assert_eq!(f.ip(), ABORT_IP);
    assert_eq!(f.rseq_cs_value(), Some(0));
    assert_eq!(id_writes_since(&f, m).len(), 4, "IDs rewritten");
    assert!(f.took("rseq_sched_switch_event/legacy_raise"));
    assert!(f.took("do_work_pending/notify_resume"));
    assert!(f.took("rseq_handle_slowpath/legacy_event_pending"));
    assert!(f.took("rseq_slowpath_update_usr/updated"));
    alive_no_kill(&f);
    seen.add(&f);

    let mut g = reg(arm32(true));
    g.enter_cs();
    g.syscall(Syscall::Getpid);
    assert_eq!(g.ip(), ABORT_IP);
    assert!(g.took("__rseq_debug_syscall_return/cs_ok"));
    assert!(g.took("rseq_debug_update_user_cs/abort"));
    assert!(!g.took("rseq_debug_update_user_cs/not_user_irq"));
    alive_no_kill(&g);
    seen.add(&g);
    seen.done()
}

/// Row 8: IP outside, stale rseq_cs, the task blocks in a syscall and runs
/// again on the same CPU: R leaves everything; Rd clears at syscall exit.
fn row_08_stale_rseq_cs_syscall() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(x86(false));
    f.set_rseq_cs(DESC);
    let m = mark(&f);
    syscall_preempted(&mut f, 0);
    assert_eq!(f.rseq_cs_value(), Some(DESC));
    assert!(writes_since(&f, m).is_empty());
    alive_no_kill(&f);
    seen.add(&f);

    let mut g = reg(x86(true));
    g.set_rseq_cs(DESC);
    let m = mark(&g);
    syscall_preempted(&mut g, 0);
    assert_eq!(g.rseq_cs_value(), Some(0));
    assert_eq!(writes_since(&g, m), vec![(AREA + 8, 8, 0)]);
    assert!(g.took("__rseq_debug_syscall_return/cs_ok"));
    alive_no_kill(&g);
    seen.add(&g);
    seen.done()
}

/// Row 9: same-CPU preemption by an interrupt with rseq_cs == 0. R: one
/// R64 of U+8 and nothing else. Rd: the debug quirk (Branch A with
/// csaddr == 0 calls the CS routine on address 0) faults, defers, and the
/// slow path rewrites the IDs.
fn row_09_zero_rseq_cs_quirk() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(x86(false));
    let m = mark(&f);
    f.preempt_irq();
    assert_eq!(
        accesses_since(&f, m),
        vec![(AREA + 8, 8, AccessKind::Read, true)]
    );
    assert!(f.took("rseq_exit_user_update/csaddr_zero"));
    alive_no_kill(&f);
    seen.add(&f);

    let mut g = reg(x86(true));
    let m = mark(&g);
    g.preempt_irq();
    let d = decisions_since(&g, m);
    for p in [
        "rseq_exit_user_update/debug_cs_check_csaddr_zero",
        "rseq_debug_update_user_cs/read_fault",
        "rseq_exit_to_user_mode_restart/defer_to_slowpath",
        "exit_to_user_mode_loop/restart_after_defer",
        "__exit_to_user_mode_loop/notify_resume",
        "rseq_update_usr/csaddr_zero",
        "rseq_slowpath_update_usr/updated",
        "__rseq_exit_to_user_mode_restart/no_sched_switch",
    ] {
        assert!(d.contains(&p), "missing {p}");
    }
    // The descriptor read was at address 0 + 8.
    assert!(accesses_since(&g, m).contains(&(8, 8, AccessKind::Read, false)));
    assert_eq!(id_writes_since(&g, m).len(), 4);
    alive_no_kill(&g);
    seen.add(&g);

    // Verified in the source, not only the spec: with page 0 mapped the
    // quirk reads a zero "descriptor" (start 0, offset 0), clears rseq_cs
    // and does not defer.
    let mut h = reg(x86(true));
    h.step(Event::Mmap {
        addr: 0,
        state: PageState::Present,
    });
    let m = mark(&h);
    h.preempt_irq();
    let d = decisions_since(&h, m);
    assert!(d.contains(&"rseq_debug_update_user_cs/ip_at_or_after_end"));
    assert!(!d.contains(&"rseq_exit_to_user_mode_restart/defer_to_slowpath"));
    assert!(id_writes_since(&h, m).is_empty());
    alive_no_kill(&h);
    seen.add(&h);
    seen.done()
}

/// Rows 10 and 11: the user overwrote cpu_id_start. Same-CPU preemption: R
/// does not rewrite it; Rd kills when rseq_cs == 0 (the quirk's slow path
/// validates) and notices nothing when rseq_cs != 0. Migration: R rewrites,
/// Rd kills.
fn row_10_11_clobbered_cpu_id_start() -> Vec<&'static str> {
    let mut seen = Seen::default();
    // Row 10 R.
    let mut f = reg(x86(false));
    store_u32(&mut f, AREA + off::CPU_ID_START, 6);
    f.preempt_irq();
    assert_eq!(f.area_u32(off::CPU_ID_START), Some(6));
    alive_no_kill(&f);
    seen.add(&f);
    // Row 10 Rd, rseq_cs == 0.
    let mut g = reg(x86(true));
    store_u32(&mut g, AREA + off::CPU_ID_START, 6);
    g.preempt_irq();
    assert!(g.took("rseq_debug_validate_ids/cpu_id_start_mismatch"));
    assert!(g.took("rseq_slowpath_update_usr/kill"));
    killed_by_force_sig(&g);
    seen.add(&g);
    // Row 10 Rd, rseq_cs != 0 (IP outside): cleared, not detected.
    let mut g = reg(x86(true));
    store_u32(&mut g, AREA + off::CPU_ID_START, 6);
    g.set_rseq_cs(DESC);
    g.preempt_irq();
    assert_eq!(g.rseq_cs_value(), Some(0));
    assert_eq!(g.area_u32(off::CPU_ID_START), Some(6));
    alive_no_kill(&g);
    seen.add(&g);
    // Row 11.
    let mut f = reg(x86(false));
    store_u32(&mut f, AREA + off::CPU_ID_START, 6);
    f.migrate_irq(1);
    assert_eq!(ids(&f), (1, 1, 0, 0));
    alive_no_kill(&f);
    seen.add(&f);
    let mut g = reg(x86(true));
    store_u32(&mut g, AREA + off::CPU_ID_START, 6);
    g.migrate_irq(1);
    assert!(g.took("rseq_debug_validate_ids/cpu_id_start_mismatch"));
    killed_by_force_sig(&g);
    seen.add(&g);
    seen.done()
}

/// Row 12: cpu_id_start clobbered, then a signal raised by the task itself
/// (delivered at syscall exit): not rewritten in R or Rd; the signal hook
/// is skipped (no user_irq).
fn row_12_signal_does_not_rewrite_ids() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        let mut f = reg(x86(debug));
        install_handler(&mut f, sig::SIGUSR1);
        store_u32(&mut f, AREA + off::CPU_ID_START, 6);
        f.steps([
            Event::Syscall(Syscall::Getpid),
            Event::Signal { sig: sig::SIGUSR1 },
            Event::ExitToUser,
        ]);
        assert_eq!(f.area_u32(off::CPU_ID_START), Some(6));
        assert_eq!(f.ip(), HANDLER);
        assert!(f.took("__exit_to_user_mode_loop/signal_work"));
        assert!(f.took("rseq_signal_deliver/gie_skip"));
        if debug {
            assert!(f.took("__rseq_debug_syscall_return/csaddr_zero"));
        }
        alive_no_kill(&f);
        seen.add(&f);
    }
    seen.done()
}

/// Row 13: the membarrier RSEQ IPI hits the task in user mode inside a CS:
/// ABORT, IDs not rewritten (R and Rd); Rd kills on an invalid descriptor.
fn row_13_membarrier_ipi_in_user_mode() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        let mut f = reg(x86(debug));
        f.enter_cs();
        let m = mark(&f);
        f.steps([Event::MembarrierIpi, Event::ExitToUser]);
        assert_eq!(f.ip(), ABORT_IP);
        assert!(id_writes_since(&f, m).is_empty());
        alive_no_kill(&f);
        seen.add(&f);
    }
    let mut g = reg(x86(true));
    use_desc(&mut g, 2, 0, CS_START, CS_LEN, ABORT_IP);
    g.step(Event::SetIp { ip: IP_INSIDE });
    g.steps([Event::MembarrierIpi, Event::ExitToUser]);
    killed_by_force_sig(&g);
    seen.add(&g);
    seen.done()
}

/// Row 14: membarrier aimed at the caller's own CPU: the IPI runs in the
/// syscall (no user_irq): nothing unless the IDs changed; Rd clears a stale
/// rseq_cs at syscall exit.
fn row_14_membarrier_own_cpu() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(x86(false));
    f.set_rseq_cs(DESC);
    let m = mark(&f);
    assert_eq!(f.syscall(Syscall::Membarrier { own_cpu: true }), Some(0));
    assert!(writes_since(&f, m).is_empty());
    assert!(f.took("rseq_sched_switch_event/gie_no_event"));
    alive_no_kill(&f);
    seen.add(&f);

    let mut g = reg(x86(true));
    g.set_rseq_cs(DESC);
    let m = mark(&g);
    g.syscall(Syscall::Membarrier { own_cpu: true });
    assert_eq!(writes_since(&g, m), vec![(AREA + 8, 8, 0)]);
    alive_no_kill(&g);
    seen.add(&g);
    seen.done()
}

/// Rows 15 and 16: a signal delivered after a syscall made inside the CS
/// (R: nothing; Rd: killed at syscall return first) versus after an
/// interrupt (ABORT before the frame, IDs not rewritten, in R and Rd).
fn row_15_16_signal_after_syscall_or_irq() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(x86(false));
    install_handler(&mut f, sig::SIGUSR1);
    f.enter_cs();
    f.steps([
        Event::Syscall(Syscall::Getpid),
        Event::Signal { sig: sig::SIGUSR1 },
        Event::ExitToUser,
    ]);
    assert_eq!(f.ip(), HANDLER);
    assert_eq!(f.rseq_cs_value(), Some(DESC));
    // sigreturn resumes inside the CS: no abort happened.
    f.syscall(Syscall::Sigreturn);
    assert_eq!(f.ip(), IP_INSIDE);
    alive_no_kill(&f);
    seen.add(&f);

    let mut g = reg(x86(true));
    install_handler(&mut g, sig::SIGUSR1);
    g.enter_cs();
    g.steps([
        Event::Syscall(Syscall::Getpid),
        Event::Signal { sig: sig::SIGUSR1 },
        Event::ExitToUser,
    ]);
    killed_by_force_sig(&g);
    seen.add(&g);

    for debug in [false, true] {
        let mut f = reg(x86(debug));
        install_handler(&mut f, sig::SIGUSR1);
        f.enter_cs();
        let m = mark(&f);
        irq_with_signal(&mut f, sig::SIGUSR1);
        assert_eq!(f.ip(), HANDLER);
        assert_eq!(f.rseq_cs_value(), Some(0));
        assert!(id_writes_since(&f, m).is_empty());
        assert!(f.took("rseq_signal_deliver/gie_user_irq"));
        assert!(f.took("rseq_handle_cs/cs_check"));
        assert!(f.took("__rseq_signal_deliver/ok"));
        assert!(f.took("rseq_exit_to_user_mode_restart/no_tif_rseq"));
        // The frame saved the abort IP.
        f.syscall(Syscall::Sigreturn);
        assert_eq!(f.ip(), ABORT_IP);
        alive_no_kill(&f);
        seen.add(&f);
    }
    seen.done()
}

/// Row 17: a fault reading the descriptor on the fast path defers; the slow
/// path (faults enabled) resolves it and aborts. A persistent fault kills
/// with force_sig(SIGSEGV).
fn row_17_descriptor_fault_defers() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        let mut f = reg(x86(debug));
        f.enter_cs();
        f.step(Event::Reclaim { addr: DESC });
        f.preempt_irq();
        assert_eq!(f.ip(), ABORT_IP);
        assert!(f.took("rseq_exit_to_user_mode_restart/defer_to_slowpath"));
        assert!(f.took("rseq_slowpath_update_usr/updated"));
        if debug {
            assert!(f.took("rseq_debug_update_user_cs/read_fault"));
        } else {
            assert!(f.took("rseq_update_user_cs/read_fault"));
        }
        alive_no_kill(&f);
        seen.add(&f);

        let mut g = reg(x86(debug));
        g.enter_cs();
        g.step(Event::Mprotect {
            addr: DESC,
            readable: false,
            writable: false,
        });
        g.preempt_irq();
        assert!(g.took("rseq_slowpath_update_usr/kill"));
        killed_by_force_sig(&g);
        seen.add(&g);
    }
    seen.done()
}

/// Row 18: a fault on the rseq area during signal delivery:
/// force_sigsegv(sig). With sig == SIGSEGV the handler is reset first.
fn row_18_signal_delivery_fault() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        // Read fault on rseq_cs.
        let mut f = reg(x86(debug));
        install_handler(&mut f, sig::SIGUSR1);
        install_handler(&mut f, sig::SIGSEGV);
        f.step(Event::Mprotect {
            addr: AREA,
            readable: false,
            writable: false,
        });
        irq_with_signal(&mut f, sig::SIGUSR1);
        // The forced SIGSEGV is delivered in the same exit, while user_irq is
        // still set, so its delivery reads rseq_cs again, faults again and
        // force_sigsegv(SIGSEGV) resets the handler: the SIGSEGV frame is
        // built, then the task dies.
        let o = last(&f);
        assert_eq!(
            o.kills,
            vec![
                KillPath::ForceSigsegv { sig: sig::SIGUSR1 },
                KillPath::ForceSigsegv { sig: sig::SIGSEGV }
            ]
        );
        assert!(o.sigsegv_handled);
        assert_eq!(o.fate, Fate::Killed { sig: sig::SIGSEGV });
        assert!(f.took("rseq_handle_cs/read_fault"));
        assert!(f.took("__rseq_signal_deliver/kill"));
        seen.add(&f);
    }
    // Write fault (the abort's rseq_cs clear on a read-only area).
    let mut f = reg(x86(false));
    install_handler(&mut f, sig::SIGUSR1);
    f.enter_cs();
    f.step(Event::Mprotect {
        addr: AREA,
        readable: true,
        writable: false,
    });
    irq_with_signal(&mut f, sig::SIGUSR1);
    assert!(f.took("rseq_update_user_cs/write_fault"));
    assert_eq!(
        last(&f).kills,
        vec![KillPath::ForceSigsegv { sig: sig::SIGUSR1 }]
    );
    seen.add(&f);
    // Delivering SIGSEGV itself: the handler is reset, the task dies.
    let mut g = reg(x86(false));
    install_handler(&mut g, sig::SIGSEGV);
    g.step(Event::Mprotect {
        addr: AREA,
        readable: false,
        writable: false,
    });
    irq_with_signal(&mut g, sig::SIGSEGV);
    let o = last(&g);
    assert_eq!(o.kills, vec![KillPath::ForceSigsegv { sig: sig::SIGSEGV }]);
    assert_eq!(o.fate, Fate::Killed { sig: sig::SIGSEGV });
    seen.add(&g);
    seen.done()
}

/// Row 19: the area is read-only, rseq_cs == 0, the task is preempted
/// outside any CS: R survives same-CPU preemption (read only) and is killed
/// when the IDs change; Rd is killed on the first slow path (quirk).
fn row_19_readonly_area() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let ro = Event::Mprotect {
        addr: AREA,
        readable: true,
        writable: false,
    };
    let mut f = reg(x86(false));
    f.step(ro.clone());
    for _ in 0..3 {
        f.preempt_irq();
        alive_no_kill(&f);
    }
    f.migrate_irq(2);
    assert!(f.took("rseq_set_ids_get_csaddr/uaccess_fault"));
    killed_by_force_sig(&f);
    seen.add(&f);

    let mut g = reg(x86(true));
    g.step(ro);
    g.preempt_irq();
    assert!(g.took("rseq_exit_user_update/debug_cs_check_csaddr_zero"));
    assert!(g.took("rseq_slowpath_update_usr/kill"));
    killed_by_force_sig(&g);
    seen.add(&g);
    seen.done()
}

/// Row 26: arm64 in v6.19 never notes user_irq: same-CPU preemption inside a
/// CS does nothing; a migration rewrites the IDs but does not abort (R) or
/// kills (Rd, the debug CS check sees no user_irq).
fn row_26_arm64_no_user_irq() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        let mut f = reg(arm64(debug));
        f.enter_cs();
        let m = mark(&f);
        f.preempt_irq();
        assert_eq!(f.ip(), IP_INSIDE);
        assert_eq!(f.rseq_cs_value(), Some(DESC));
        assert!(writes_since(&f, m).is_empty());
        assert!(f.took("arm64_enter_from_user_mode/no_user_irq_note"));
        assert!(f.took("rseq_exit_to_user_mode_legacy/clear_events"));
        assert!(!f.took("rseq_note_user_irq_entry/user_irq_set"));
        alive_no_kill(&f);

        let m = mark(&f);
        f.migrate_irq(3);
        assert!(f.took("rseq_exit_to_user_mode_restart/no_generic_entry_stub"));
        assert!(f.took("rseq_handle_slowpath/legacy_event_pending"));
        if debug {
            assert!(decisions_since(&f, m).contains(&"rseq_debug_update_user_cs/not_user_irq"));
            killed_by_force_sig(&f);
        } else {
            assert_eq!(f.ip(), IP_INSIDE, "no abort");
            assert_eq!(ids(&f), (3, 3, 1, 0));
            assert!(decisions_since(&f, m).contains(&"rseq_update_usr/cs_gate_skip_no_user_irq"));
            alive_no_kill(&f);
        }
        seen.add(&f);
    }
    seen.done()
}

/// KVM_RUN on arm64 (no generic TIF bits, so TIF_RSEQ is
/// TIF_NOTIFY_RESUME): a migration inside it opens the legacy gate of the
/// pre-guest pass's rseq_handle_slowpath(NULL), which returns at once after
/// resume_user_mode_work() cleared the bit. rseq_virt_userspace_exit()
/// raises it again when vcpu_run returns, so the exit writes the IDs.
fn kvm_run_arm64_retrigger_after_pre_guest_pass() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for debug in [false, true] {
        let mut f = reg(arm64(debug));
        f.step(Event::Syscall(Syscall::KvmRun));
        f.step(Event::SwitchOut);
        f.step(Event::SwitchIn { cpu: 3, mm_cid: 1 });
        let m = mark(&f);
        f.step(Event::GuestEntry);
        assert!(
            writes_since(&f, m).is_empty(),
            "no user access before the guest"
        );
        let pre_guest = decisions_since(&f, m);
        assert!(pre_guest.contains(&"rseq_handle_slowpath/legacy_event_pending"));
        assert!(pre_guest.contains(&"__rseq_handle_slowpath/regs_null"));
        f.step(Event::ExitToUser);
        assert_eq!(ids(&f), (3, 3, 1, 1), "written at the exit");
        alive_no_kill(&f);
        seen.add(&f);
    }
    seen.done()
}

/// Row 27 cannot be interleaved by this sequential machine (the IPI would
/// have to land inside rseq_reset()); what it can show: an IPI right after
/// the unregistration finds has_rseq clear and does nothing.
fn row_27_ipi_after_unregister() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let mut f = reg(c);
    f.step(Event::Syscall(Syscall::Rseq {
        addr: AREA,
        len: 32,
        flags: 1,
        sig: c.arch.rseq_sig(),
    }));
    let m = mark(&f);
    f.steps([Event::MembarrierIpi, Event::ExitToUser]);
    assert!(decisions_since(&f, m).contains(&"rseq_sched_switch_event/gie_no_event"));
    assert!(writes_since(&f, m).is_empty());
    alive_no_kill(&f);
    seen.add(&f);
    seen.done()
}

/// Row 29: the user modified an RO field and the kernel writes IDs later:
/// R overwrites silently; Rd kills at that write.
fn row_29_ro_field_modified() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let cases = [
        (off::CPU_ID, "rseq_debug_validate_ids/cpu_id_mismatch"),
        (off::NODE_ID, "rseq_debug_validate_ids/node_id_mismatch"),
        (off::MM_CID, "rseq_debug_validate_ids/mm_cid_mismatch"),
    ];
    for (field, point) in cases {
        let mut f = reg(x86(false));
        store_u32(&mut f, AREA + field, 77);
        f.migrate_irq(6);
        assert_eq!(ids(&f), (6, 6, 3, 0));
        alive_no_kill(&f);
        seen.add(&f);

        let mut g = reg(x86(true));
        store_u32(&mut g, AREA + field, 77);
        g.migrate_irq(6);
        assert!(g.took(point), "{point}");
        killed_by_force_sig(&g);
        seen.add(&g);
    }
    seen.done()
}

/// Row 30: rseq_len 64 behaves exactly as 32 (only the registration check
/// differs).
fn row_30_len_32_vs_64_same_behaviour() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let run = |len: u32, debug: bool| {
        let mut f = fx(x86(debug));
        assert_eq!(f.register(len), Some(0));
        f.enter_cs();
        f.preempt_irq();
        f.migrate_irq(3);
        f.syscall(Syscall::Getpid);
        f
    };
    for debug in [false, true] {
        let a = run(32, debug);
        let b = run(64, debug);
        // Everything user space sees is the same; only the kernel's record
        // of the registered length differs.
        let seen_by_user = |f: &Fixture| {
            f.model
                .observations()
                .iter()
                .map(|o| rseq_fuzz::kernel::Observation {
                    registration: None,
                    ..o.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(seen_by_user(&a), seen_by_user(&b));
        seen.add(&a);
        seen.add(&b);
    }
    seen.done()
}

// ---------------------------------------------------------------------------
// Fault deferral, fork, exec
// ---------------------------------------------------------------------------

/// A copy-on-write area after fork(): the child's first exit defers (the
/// fast path cannot break COW with page faults disabled) and the slow path
/// writes the IDs. The child inherits the registration and cached IDs.
fn fork_cow_area_defers_then_slow_path_succeeds() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(x86(false));
    f.migrate_irq(2);
    let m = mark(&f);
    let r = f.syscall(Syscall::Fork {
        clone_vm: false,
        follow_child: true,
    });
    assert_eq!(r, Some(0), "the child sees 0");
    let d = decisions_since(&f, m);
    for p in [
        "__set_task_cpu/ids_changed",
        "rseq_sched_switch_event/gie_raise",
        "rseq_set_ids_get_csaddr/uaccess_fault",
        "rseq_exit_to_user_mode_restart/defer_to_slowpath",
        "rseq_slowpath_update_usr/updated",
    ] {
        assert!(d.contains(&p), "missing {p}");
    }
    // The first fast-path write hit the COW page with faults disabled.
    assert!(accesses_since(&f, m).contains(&(AREA, 4, AccessKind::Write, false)));
    assert_eq!(f.model.current_mem().state(AREA), PageState::Present);
    assert_eq!(ids(&f), (2, 2, 1, 0));
    alive_no_kill(&f);
    // The child is registered (copied): a second registration is EBUSY.
    let r = f.syscall(Syscall::Rseq {
        addr: AREA,
        len: 32,
        flags: 0,
        sig: f.cfg.arch.rseq_sig(),
    });
    assert_eq!(r, Some(-16));
    seen.add(&f);
    seen.done()
}

/// CLONE_VM: the child starts unregistered; nothing is written for it.
fn fork_clone_vm_resets() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let mut f = reg(c);
    let m = mark(&f);
    f.syscall(Syscall::Fork {
        clone_vm: true,
        follow_child: true,
    });
    assert!(writes_since(&f, m).is_empty());
    assert!(decisions_since(&f, m).contains(&"rseq_sched_switch_event/gie_no_event"));
    let r = f.syscall(Syscall::Rseq {
        addr: AREA,
        len: 32,
        flags: 1,
        sig: c.arch.rseq_sig(),
    });
    assert_eq!(r, Some(-22), "the child has no registration");
    alive_no_kill(&f);
    seen.add(&f);
    seen.done()
}

/// An unmapped area: the fast path defers, the slow path fails too and
/// kills with force_sig(SIGSEGV).
fn unmapped_area_kills_with_force_sig() -> Vec<&'static str> {
    let mut seen = Seen::default();
    for c in [x86(false), riscv(false), arm64(false), arm32(false)] {
        let mut f = reg(c);
        f.step(Event::Munmap { addr: AREA });
        f.migrate_irq(2);
        assert!(f.took("rseq_slowpath_update_usr/kill"), "{c}");
        killed_by_force_sig(&f);
        seen.add(&f);
    }
    seen.done()
}

/// A not-present area page: the fast path defers on the rseq_cs read
/// (Branch A) or on the validation read (debug Branch B); the slow path
/// brings the page in.
fn not_present_area_defers() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(x86(false));
    f.enter_cs();
    f.step(Event::Reclaim { addr: AREA });
    f.preempt_irq();
    assert!(f.took("rseq_exit_user_update/csaddr_read_fault"));
    assert_eq!(f.ip(), ABORT_IP);
    alive_no_kill(&f);
    seen.add(&f);

    let mut g = reg(x86(true));
    g.step(Event::Reclaim { addr: AREA });
    g.migrate_irq(1);
    assert!(g.took("rseq_debug_validate_ids/read_fault"));
    assert!(g.took("rseq_slowpath_update_usr/updated"));
    assert_eq!(ids(&g), (1, 1, 0, 0));
    alive_no_kill(&g);
    seen.add(&g);
    seen.done()
}

/// execve() resets without writing; a failed execve forces an update.
fn execve_reset_and_failed_exec() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let mut f = reg(c);
    let m = mark(&f);
    assert_eq!(f.syscall(Syscall::Execve { ok: true }), Some(0));
    assert!(writes_since(&f, m).is_empty());
    assert!(f.took("rseq_execve/reset"));
    assert_eq!(f.ip(), EXEC_ENTRY);
    // Registration works again after exec.
    assert_eq!(f.register(32), Some(0));
    seen.add(&f);

    let mut g = reg(c);
    store_u32(&mut g, AREA + off::CPU_ID_START, 9);
    let m = mark(&g);
    assert_eq!(g.syscall(Syscall::Execve { ok: false }), Some(-14));
    assert!(g.took("bprm_execve/failed_force_update"));
    assert!(g.took("rseq_force_update/raise"));
    assert_eq!(id_writes_since(&g, m).len(), 4, "IDs rewritten");
    assert_eq!(g.area_u32(off::CPU_ID_START), Some(0));
    seen.add(&g);

    let mut h = fx(c);
    h.syscall(Syscall::Execve { ok: false });
    assert!(h.took("rseq_force_update/not_registered"));
    seen.add(&h);
    seen.done()
}

// ---------------------------------------------------------------------------
// Remaining decision points, per function
// ---------------------------------------------------------------------------

/// rseq_update_user_cs(): csaddr beyond TASK_SIZE, abort_ip invalid,
/// signature mismatch, clear write fault, descriptor at the top of the
/// address space (x86 per-access faults vs riscv's up-front access_ok()).
fn update_user_cs_fatal_and_fault_paths() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let ts = c.task_size();
    // csaddr >= TASK_SIZE: fatal in the fast path, again in the slow path.
    let mut f = reg(c);
    f.set_rseq_cs(ts);
    f.preempt_irq();
    assert!(f.took("rseq_update_user_cs/csaddr_beyond_task_size"));
    killed_by_force_sig(&f);
    seen.add(&f);
    // abort_ip < 4 and abort_ip >= TASK_SIZE.
    for abort in [2, ts] {
        for debug in [false, true] {
            let mut f = reg(x86(debug));
            use_desc(&mut f, 0, 0, CS_START, CS_LEN, abort);
            f.step(Event::SetIp { ip: IP_INSIDE });
            f.preempt_irq();
            let p = if debug {
                "rseq_debug_update_user_cs/abort_ip_invalid"
            } else {
                "rseq_update_user_cs/abort_ip_invalid"
            };
            assert!(f.took(p), "{p} abort={abort:#x}");
            killed_by_force_sig(&f);
            seen.add(&f);
        }
    }
    // Signature mismatch (differs in the low half too, so the canary build
    // still catches it).
    for debug in [false, true] {
        let mut f = reg(x86(debug));
        store_u32(&mut f, ABORT_IP - 4, 0x0bad_0bad);
        f.enter_cs();
        f.preempt_irq();
        let p = if debug {
            "rseq_debug_update_user_cs/sig_mismatch"
        } else {
            "rseq_update_user_cs/sig_mismatch"
        };
        assert!(f.took(p));
        assert_ne!(f.ip(), ABORT_IP);
        killed_by_force_sig(&f);
        seen.add(&f);
    }
    // Clear with a read-only area: the write faults (not resolvable), the
    // slow path then fails on the ID write.
    for debug in [false, true] {
        let mut f = reg(x86(debug));
        f.set_rseq_cs(DESC);
        f.step(Event::Mprotect {
            addr: AREA,
            readable: true,
            writable: false,
        });
        f.preempt_irq();
        let p = if debug {
            "rseq_debug_update_user_cs/write_fault"
        } else {
            "rseq_update_user_cs/write_fault"
        };
        assert!(f.took(p));
        killed_by_force_sig(&f);
        seen.add(&f);
    }
    // A descriptor in the last 32 bytes below TASK_SIZE.
    for (c, p) in [
        (x86(false), "rseq_update_user_cs/read_fault"),
        (riscv(false), "rseq_update_user_cs/uaccess_begin_fault"),
        (riscv(true), "rseq_debug_update_user_cs/uaccess_begin_fault"),
    ] {
        let ts = c.task_size();
        let mut f = reg(c);
        f.step(Event::Mmap {
            addr: ts - 4096,
            state: PageState::Present,
        });
        f.set_rseq_cs(ts - 16);
        let m = mark(&f);
        f.preempt_irq();
        assert!(f.took(p), "{c}: {p}");
        let desc_reads: Vec<_> = accesses_since(&f, m)
            .into_iter()
            .filter(|a| a.0 >= ts - 16)
            .collect();
        if c.arch == Arch::X86_64 {
            // Masked user access: start_ip read fine, the offset read failed.
            assert_eq!(desc_reads[0], (ts - 8, 8, AccessKind::Read, true));
            assert_eq!(desc_reads[1], (ts, 8, AccessKind::Read, false));
        } else {
            assert!(desc_reads.is_empty(), "access_ok() fails before any read");
        }
        killed_by_force_sig(&f);
        seen.add(&f);
    }
    seen.done()
}

/// GE without generic TIF bits: TIF_RSEQ is TIF_NOTIFY_RESUME, so the
/// inner loop calls the slow-path hook (which does nothing without
/// event.slowpath) before the fast path runs.
fn ge_without_tif_bits() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(ge_without_tifb(false));
    f.enter_cs();
    f.preempt_irq();
    assert_eq!(f.ip(), ABORT_IP);
    assert!(f.took("rseq_handle_slowpath/ge_no_slowpath"));
    assert!(!f.took("rseq_exit_to_user_mode_restart/no_tif_rseq"));
    alive_no_kill(&f);
    // A signal without preemption: test_tif_rseq() is always true, so the
    // fast path runs and finds no sched_switch.
    install_handler(&mut f, sig::SIGUSR2);
    let m = mark(&f);
    irq_with_signal(&mut f, sig::SIGUSR2);
    assert!(decisions_since(&f, m).contains(&"__rseq_exit_to_user_mode_restart/no_sched_switch"));
    alive_no_kill(&f);
    seen.add(&f);
    seen.done()
}

/// The MM CID hook: a changed CID alone forces Branch B.
fn mm_cid_change_forces_id_write() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = reg(x86(false));
    f.steps([
        Event::Interrupt,
        Event::SwitchOut,
        Event::SwitchIn { cpu: 0, mm_cid: 5 },
        Event::ExitToUser,
    ]);
    assert!(f.took("mm_cid_update_task_cid/cid_changed"));
    assert_eq!(ids(&f), (0, 0, 0, 5));
    // rseq_cs == 0 after an interrupt: the CS gate is open, csaddr is 0.
    assert!(f.took("rseq_update_usr/csaddr_zero"));
    alive_no_kill(&f);
    seen.add(&f);
    seen.done()
}

/// The syscall-return debug check on its own: not registered, rseq_cs read
/// fault, rseq_cs beyond TASK_SIZE (full 64-bit compare).
fn debug_syscall_return_paths() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let mut f = fx(x86(true));
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/not_registered"));
    seen.add(&f);

    let mut f = reg(x86(true));
    f.step(Event::Munmap { addr: AREA });
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/read_fault"));
    killed_by_force_sig(&f);
    seen.add(&f);

    let mut f = reg(x86(true));
    f.set_rseq_cs(1 << 60);
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/csaddr_beyond_task_size"));
    killed_by_force_sig(&f);
    seen.add(&f);
    seen.done()
}

/// 32-bit arm (spec §4.13, verified): rseq_cs is read as a u64; a non-zero
/// high word passes the "non-zero" test and is then truncated to the low
/// word by the unsigned long parameter. The CS arithmetic itself is in u64.
/// The syscall-return check compares the full u64 with TASK_SIZE.
fn arm32_width_semantics() -> Vec<&'static str> {
    let mut seen = Seen::default();
    // High word set, low word = DESC: truncated to DESC, a normal abort.
    let mut f = reg(arm32(false));
    f.set_rseq_cs((1 << 32) | DESC);
    f.step(Event::SetIp { ip: IP_INSIDE });
    f.preempt_irq();
    assert_eq!(f.ip(), ABORT_IP);
    assert!(f.took("rseq_update_usr/cs_check"));
    alive_no_kill(&f);
    seen.add(&f);
    // High word set, low word 0: truncated to 0, reads a descriptor at 0 + 8,
    // which faults: killed by the slow path.
    let mut f = reg(arm32(false));
    f.set_rseq_cs(1 << 32);
    let m = mark(&f);
    f.preempt_irq();
    assert!(accesses_since(&f, m).contains(&(8, 8, AccessKind::Read, false)));
    killed_by_force_sig(&f);
    seen.add(&f);
    // start_ip with a high word: `ip - start_ip` is computed in u64, so the
    // IP is outside (a 32-bit subtraction would say inside): cleared.
    let mut f = reg(arm32(false));
    use_desc(&mut f, 0, 0, (1 << 32) | CS_START, CS_LEN, ABORT_IP);
    f.step(Event::SetIp { ip: IP_INSIDE });
    f.preempt_irq();
    assert_eq!(f.ip(), IP_INSIDE);
    assert_eq!(f.rseq_cs_value(), Some(0));
    assert!(f.took("rseq_update_user_cs/ip_outside_cs"));
    alive_no_kill(&f);
    seen.add(&f);
    // Debug syscall return: the full u64 is compared with TASK_SIZE.
    let mut f = reg(arm32(true));
    f.set_rseq_cs((1 << 32) | DESC);
    f.syscall(Syscall::Getpid);
    assert!(f.took("__rseq_debug_syscall_return/csaddr_beyond_task_size"));
    killed_by_force_sig(&f);
    seen.add(&f);
    seen.done()
}

/// 32-bit arm's own entry: no user_irq, signals before TIF_NOTIFY_RESUME,
/// the signal hook runs whenever registered.
fn arm32_entry_and_signals() -> Vec<&'static str> {
    let mut seen = Seen::default();
    // Not registered: no raise, no work, signals skip rseq.
    let mut f = fx(arm32(false));
    install_handler(&mut f, sig::SIGUSR1);
    f.preempt_irq();
    assert!(f.took("__irq_usr/no_rseq_hook"));
    assert!(f.took("rseq_sched_switch_event/legacy_not_registered"));
    assert!(f.took("ret_to_user/no_work_pending"));
    irq_with_signal(&mut f, sig::SIGUSR1);
    assert!(f.took("rseq_signal_deliver/legacy_not_registered"));
    assert_eq!(f.ip(), HANDLER);
    seen.add(&f);
    // Registered: a signal inside the CS aborts before the frame, and a
    // signal with rseq_cs == 0 only reads it.
    let mut f = reg(arm32(false));
    install_handler(&mut f, sig::SIGUSR1);
    f.enter_cs();
    let m = mark(&f);
    irq_with_signal(&mut f, sig::SIGUSR1);
    let d = decisions_since(&f, m);
    assert!(d.contains(&"do_work_pending/signal"));
    assert!(d.contains(&"rseq_signal_deliver/legacy_registered"));
    f.syscall(Syscall::Sigreturn);
    assert_eq!(f.ip(), ABORT_IP);
    irq_with_signal(&mut f, sig::SIGUSR1);
    assert!(f.took("rseq_handle_cs/csaddr_zero"));
    alive_no_kill(&f);
    seen.add(&f);
    seen.done()
}

#[cfg(feature = "canary")]
/// CANARY: with the feature, the production signature check compares only
/// the low 16 bits, so a word that differs in the high half lets the abort
/// through.
fn canary_truncated_signature_check() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let mut f = reg(c);
    store_u32(&mut f, ABORT_IP - 4, c.arch.rseq_sig() ^ 0xFFFF_0000);
    f.enter_cs();
    f.preempt_irq();
    assert_eq!(
        f.ip(),
        ABORT_IP,
        "the canary lets the unchecked abort through"
    );
    assert!(f.took("rseq_update_user_cs/abort"));
    seen.add(&f);
    seen.done()
}

#[cfg(not(feature = "canary"))]
/// Without the canary the same high-half-only difference is a mismatch.
fn high_half_signature_difference_is_fatal() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let c = x86(false);
    let mut f = reg(c);
    store_u32(&mut f, ABORT_IP - 4, c.arch.rseq_sig() ^ 0xFFFF_0000);
    f.enter_cs();
    f.preempt_irq();
    assert!(f.took("rseq_update_user_cs/sig_mismatch"));
    killed_by_force_sig(&f);
    seen.add(&f);
    seen.done()
}

// ---------------------------------------------------------------------------
// The case table and the coverage test
// ---------------------------------------------------------------------------

type Case = (&'static str, fn() -> Vec<&'static str>);

macro_rules! cases {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {
        const CASES: &[Case] = &[$($(#[$m])* (stringify!($name), $name),)*];
        mod each {
            $($(#[$m])* #[test] fn $name() { super::$name(); })*
        }
    };
}

cases! {
    registration_writes_and_first_exit,
    sys_rseq_errno_order,
    row_20_unregister_writes,
    row_21_unregister_unwritable,
    row_00_abort_on_preemption_and_migration,
    row_01_invalid_descriptor_ip_outside,
    row_02_version_or_flags_nonzero,
    row_03_abort_inside_cs,
    row_04_thread_flags_ignored,
    row_05_wrapping_cs,
    row_06_07_syscall_inside_cs,
    row_06b_syscall_inside_cs_non_gie,
    row_08_stale_rseq_cs_syscall,
    row_09_zero_rseq_cs_quirk,
    row_10_11_clobbered_cpu_id_start,
    row_12_signal_does_not_rewrite_ids,
    row_13_membarrier_ipi_in_user_mode,
    row_14_membarrier_own_cpu,
    row_15_16_signal_after_syscall_or_irq,
    row_17_descriptor_fault_defers,
    row_18_signal_delivery_fault,
    row_19_readonly_area,
    row_26_arm64_no_user_irq,
    row_27_ipi_after_unregister,
    kvm_run_arm64_retrigger_after_pre_guest_pass,
    row_29_ro_field_modified,
    row_30_len_32_vs_64_same_behaviour,
    fork_cow_area_defers_then_slow_path_succeeds,
    fork_clone_vm_resets,
    unmapped_area_kills_with_force_sig,
    not_present_area_defers,
    execve_reset_and_failed_exec,
    update_user_cs_fatal_and_fault_paths,
    ge_without_tif_bits,
    mm_cid_change_forces_id_write,
    debug_syscall_return_paths,
    arm32_width_semantics,
    arm32_entry_and_signals,
    #[cfg(feature = "canary")]
    canary_truncated_signature_check,
    #[cfg(not(feature = "canary"))]
    high_half_signature_difference_is_fatal,
}

#[test]
fn every_decision_point_is_reached() {
    let mut reached: Vec<&'static str> = Vec::new();
    for (_, case) in CASES {
        reached.extend(case());
    }
    reached.sort_unstable();
    reached.dedup();
    let all = version().decisions;
    let missing: Vec<_> = all.iter().filter(|d| !reached.contains(d)).collect();
    let unknown: Vec<_> = reached.iter().filter(|d| !all.contains(d)).collect();
    assert!(
        missing.is_empty(),
        "{} decision points reached by no case:\n  {}",
        missing.len(),
        missing
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    assert!(unknown.is_empty(), "decisions not declared: {unknown:?}");
}

// ---------------------------------------------------------------------------
// Robustness: pseudo-random sequences through every configuration
// ---------------------------------------------------------------------------

/// xorshift64*, fixed seed: deterministic test input (never in the model).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize].clone()
    }
}

fn random_event(r: &mut Rng, c: &Config) -> Event {
    let ts = c.task_size();
    let s = c.arch.rseq_sig();
    let pages = [AREA, DESC, CODE, HANDLER, 0, ts - 4096];
    // Fresh random values first: `pick` borrows the generator.
    let (x, y, b) = (r.next(), r.below(70) as u8, r.below(2) == 0);
    match r.below(24) {
        0..=2 => Event::Syscall(Syscall::Rseq {
            addr: r.pick(&[AREA, AREA + 32, AREA + 16, 0, DESC, ts - 32, x]),
            len: r.pick(&[32, 32, 64, 28, 31, 0, u32::MAX, x as u32]),
            flags: r.pick(&[0, 0, 1, 1, 2, 3, (x >> 32) as u32]),
            sig: r.pick(&[s, s, 0, (x >> 16) as u32]),
        }),
        3 => Event::Syscall(r.pick(&[
            Syscall::Getpid,
            Syscall::Sigreturn,
            Syscall::Fork {
                clone_vm: false,
                follow_child: true,
            },
            Syscall::Fork {
                clone_vm: true,
                follow_child: b,
            },
            Syscall::Execve { ok: b },
            Syscall::Membarrier { own_cpu: b },
        ])),
        4..=5 => Event::Interrupt,
        6 => Event::SwitchOut,
        7..=8 => Event::SwitchIn {
            cpu: r.below(9) as u32,
            mm_cid: r.below(9) as u32,
        },
        9 => Event::Signal {
            sig: r.pick(&[sig::SIGUSR1, sig::SIGSEGV, sig::SIGUSR2, y]),
        },
        10 => Event::MembarrierIpi,
        11..=13 => Event::ExitToUser,
        14..=15 => {
            let addr = r.pick(&[
                AREA + off::RSEQ_CS,
                AREA + off::CPU_ID_START,
                AREA + off::MM_CID,
                AREA + off::FLAGS,
                DESC,
                DESC + 8,
                DESC + 16,
                DESC + 24,
                ABORT_IP - 4,
                x,
            ]);
            let v = r.pick(&[
                0,
                DESC,
                CS_START,
                CS_LEN,
                ABORT_IP,
                u64::from(s),
                1 << 32,
                x,
            ]);
            let len = r.pick(&[4usize, 8]);
            Event::Store {
                addr,
                bytes: v.to_le_bytes()[..len].to_vec(),
            }
        }
        16..=17 => Event::SetIp {
            ip: r.pick(&[IP_INSIDE, IP_OUTSIDE, CS_START, CS_START + CS_LEN, x]),
        },
        18 => Event::SetHandler {
            sig: r.pick(&[sig::SIGUSR1, sig::SIGSEGV, sig::SIGUSR2, y]),
            installed: r.below(3) != 0,
        },
        19 => Event::Mmap {
            addr: r.pick(&pages),
            state: r.pick(&PageState::ALL),
        },
        20 => Event::Munmap {
            addr: r.pick(&pages),
        },
        21 => Event::Mprotect {
            addr: r.pick(&pages),
            readable: b,
            writable: r.below(2) == 0,
        },
        22 => Event::MadviseDontneed {
            addr: r.pick(&pages),
        },
        _ => Event::Reclaim {
            addr: r.pick(&pages),
        },
    }
}

#[test]
fn random_sequences_are_bounded_deterministic_and_panic_free() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let configs = (version().configs)();
    assert_eq!(configs.len(), 14);
    for c in configs {
        for _ in 0..150 {
            let n = 10 + rng.below(40) as usize;
            // Most sequences start registered, so that rseq code runs.
            let mut events = Vec::with_capacity(n + 2);
            if rng.below(4) != 0 {
                events.push(Event::Syscall(Syscall::Rseq {
                    addr: AREA,
                    len: 32,
                    flags: 0,
                    sig: c.arch.rseq_sig(),
                }));
            }
            for _ in 0..n {
                if rng.below(8) == 0 {
                    // Composite user action: enter a critical section (single
                    // random events almost never line both stores up).
                    events.push(Event::Store {
                        addr: AREA + off::RSEQ_CS,
                        bytes: DESC.to_le_bytes().to_vec(),
                    });
                    let ip = CS_START + rng.below(CS_LEN + 8);
                    events.push(Event::SetIp { ip });
                } else {
                    events.push(random_event(&mut rng, &c));
                }
            }
            let run = || {
                let mut m = version().machine(c, standard_setup(standard_mem(&c)));
                for (i, e) in events.iter().enumerate() {
                    m.step(i, e);
                }
                m.finish(events.len());
                m
            };
            let a = run();
            let b = run();
            assert_eq!(a.observations(), b.observations(), "{c}: not deterministic");
            assert_eq!(a.trace().events, b.trace().events, "{c}: trace differs");
            for o in a.observations() {
                assert!(!o.livelock, "{c}: exit loop hit the bound: {events:?}");
                assert!(o.step <= events.len());
            }
            // Row 25: nothing is ever written at offsets 28..31 of a
            // (32-byte aligned) rseq area: every kernel write stays in 0..28.
            for e in &a.trace().events {
                if let TraceEvent::Access {
                    addr,
                    width,
                    kind: AccessKind::Write,
                    ..
                } = e
                {
                    let o = addr % 32;
                    assert!(o + u64::from(*width) <= 28, "{c}: write at {addr:#x}");
                }
            }
        }
    }
}
