//! Helpers shared by the v7.0 and v7.1 model tests: configurations, a
//! fixture with distinct CPU/cid values, and short verbs for the scenarios.
#![allow(dead_code)]

use rseq_fuzz::abi::{self, rseq, Arch};
use rseq_fuzz::config::Config;
use rseq_fuzz::kernel::{Event, Fate, Syscall};
use rseq_fuzz::mem::AccessKind;
use rseq_fuzz::mem::PageState;
use rseq_fuzz::testkit::{self, Fixture, AREA, DESC, IP_INSIDE, IP_OUTSIDE};
use rseq_fuzz::trace::{KillPath, TraceEvent};
use rseq_fuzz::versions::{self, VersionEntry};

/// CPU and mm_cid the task starts on (node 1), so that ID writes show.
pub const CPU0: u32 = 3;
pub const CID0: u32 = 5;

pub fn version(name: &str) -> &'static VersionEntry {
    versions::find(name).unwrap_or_else(|| panic!("version {name} not registered"))
}

pub fn v70() -> &'static VersionEntry {
    version("v7.0")
}

pub fn v71() -> &'static VersionEntry {
    version("v7.1")
}

pub fn x86(debug: bool) -> Config {
    Config::native(Arch::X86_64, debug)
}
pub fn x86_slice(debug: bool) -> Config {
    x86(debug).with_slice(true, true)
}
pub fn x86_slice_off(debug: bool) -> Config {
    x86(debug).with_slice(true, false)
}
/// Generic entry without HAVE_GENERIC_TIF_BITS: no in-tree architecture is
/// built so since v6.19 (riscv selects the bits since 41e871f2b63e), but
/// the kernel keeps the branches for it, and these direct calls check them.
pub fn ge_without_tifb(debug: bool) -> Config {
    Config {
        generic_tif_bits: false,
        ..Config::native(Arch::Riscv64, debug)
    }
}
pub fn arm64(debug: bool) -> Config {
    Config::native(Arch::Arm64, debug)
}
pub fn arm32(debug: bool) -> Config {
    Config::native(Arch::Arm32, debug)
}

/// A machine of `v` under `cfg`: the standard layout, the task on CPU0 with
/// CID0, observing `area_len` bytes of the area (64 shows slice_ctrl).
pub fn fixture(v: &VersionEntry, cfg: Config) -> Fixture {
    let mut setup = testkit::standard_setup(testkit::standard_mem(&cfg));
    setup.cpu = CPU0;
    setup.mm_cid = CID0;
    setup.area_len = 64;
    Fixture::with_setup(v, cfg, setup)
}

/// rseq(AREA, len, flags, sig of the arch), returning to user.
pub fn reg_flags(f: &mut Fixture, len: u32, flags: u32) -> i64 {
    let sig = f.cfg.arch.rseq_sig();
    f.syscall(Syscall::Rseq {
        addr: AREA,
        len,
        flags,
        sig,
    })
    .expect("rseq returns")
}

pub fn reg(f: &mut Fixture, len: u32) -> i64 {
    reg_flags(f, len, 0)
}

/// A fixture with the area registered with `len` (asserted to succeed).
pub fn registered(v: &VersionEntry, cfg: Config, len: u32) -> Fixture {
    let mut f = fixture(v, cfg);
    assert_eq!(reg(&mut f, len), 0, "{} {cfg}: registration", v.name);
    f
}

pub fn unreg(f: &mut Fixture, len: u32) -> Option<i64> {
    let sig = f.cfg.arch.rseq_sig();
    f.syscall(Syscall::Rseq {
        addr: AREA,
        len,
        flags: abi::RSEQ_FLAG_UNREGISTER,
        sig,
    })
}

pub fn u32_at(f: &Fixture, off: u64) -> u32 {
    f.area_u32(off).expect("area mapped")
}

pub fn store_u32(f: &mut Fixture, off: u64, v: u32) {
    f.step(Event::Store {
        addr: AREA + off,
        bytes: v.to_le_bytes().to_vec(),
    });
}

pub fn store_u8(f: &mut Fixture, off: u64, v: u8) {
    f.step(Event::Store {
        addr: AREA + off,
        bytes: vec![v],
    });
}

/// The four ID fields (cpu_id_start, cpu_id, node_id, mm_cid).
pub fn ids(f: &Fixture) -> [u32; 4] {
    [
        u32_at(f, rseq::CPU_ID_START),
        u32_at(f, rseq::CPU_ID),
        u32_at(f, rseq::NODE_ID),
        u32_at(f, rseq::MM_CID),
    ]
}

pub fn ids_of(cpu: u32, cid: u32) -> [u32; 4] {
    [cpu, cpu, cpu / 2, cid]
}

/// Set the page state of the area page (mprotect semantics).
pub fn protect_area(f: &mut Fixture, readable: bool, writable: bool) {
    f.step(Event::Mprotect {
        addr: AREA,
        readable,
        writable,
    });
}

/// Write a descriptor at DESC and point rseq_cs at it, IP inside the CS.
pub fn enter_cs_with(f: &mut Fixture, version: u32, flags: u32, start: u64, off: u64, abort: u64) {
    f.write_desc(version, flags, start, off, abort);
    f.enter_cs();
}

/// rseq_cs = DESC (valid descriptor), IP outside any CS.
pub fn stale_cs(f: &mut Fixture) {
    f.set_rseq_cs(DESC);
    f.step(Event::SetIp { ip: IP_OUTSIDE });
}

/// A syscall during which the task is preempted and switched back in on
/// `cpu` (same cid), then returns to user.
pub fn syscall_preempted(f: &mut Fixture, cpu: u32) {
    let cid = f.model.current().mm_cid;
    f.steps([
        Event::Syscall(Syscall::Getpid),
        Event::SwitchOut,
        Event::SwitchIn { cpu, mm_cid: cid },
        Event::ExitToUser,
    ]);
}

/// Every kill rseq code forced so far.
pub fn kills(f: &Fixture) -> Vec<KillPath> {
    f.model
        .observations()
        .iter()
        .flat_map(|o| o.kills.iter().copied())
        .collect()
}

pub fn dead(f: &Fixture) -> bool {
    matches!(f.model.current().fate, Fate::Killed { .. })
}

pub fn rseq_cs(f: &Fixture) -> u64 {
    f.rseq_cs_value().expect("area mapped")
}

pub fn aborted(f: &Fixture) -> bool {
    f.ip() == testkit::ABORT_IP
}

pub fn inside(f: &Fixture) -> bool {
    f.ip() == IP_INSIDE
}

/// A fixture with a page at `addr` in `state` added.
pub fn map(f: &mut Fixture, addr: u64, state: PageState) {
    f.step(Event::Mmap { addr, state });
}

/// The user accesses a kernel function made: (addr, width, write?, ok?).
pub fn accesses_by(f: &Fixture, function: &str) -> Vec<(u64, u8, bool, bool)> {
    f.model
        .trace()
        .events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Access {
                function: fun,
                addr,
                width,
                kind,
                result,
                ..
            } if *fun == function => {
                Some((*addr, *width, *kind == AccessKind::Write, result.is_ok()))
            }
            _ => None,
        })
        .collect()
}

/// Decisions a case collects, for the coverage tests.
#[derive(Default)]
pub struct Cov(pub Vec<&'static str>);

impl Cov {
    pub fn add(&mut self, f: &Fixture) {
        self.0.extend(f.decisions());
    }
}

/// Assert that the union of the decisions equals `names`, listing the
/// missing ones.
pub fn assert_full_coverage(version: &str, names: &[&'static str], got: &[&'static str]) {
    let mut missing: Vec<&str> = names.iter().copied().filter(|n| !got.contains(n)).collect();
    missing.sort_unstable();
    let unknown: Vec<&str> = got.iter().copied().filter(|g| !names.contains(g)).collect();
    assert!(
        unknown.is_empty(),
        "{version}: unknown decisions {unknown:?}"
    );
    assert!(
        missing.is_empty(),
        "{version}: {} decision point(s) reached by no test:\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

/// A small fixed-seed xorshift for the robustness tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A pseudo-random event, biased towards the rseq-relevant ones.
pub fn random_event(r: &mut XorShift, cfg: &Config) -> Event {
    let sig = cfg.arch.rseq_sig();
    let lens = [32u32, 33, 64, 31, 0];
    match r.below(26) {
        0 => Event::Syscall(Syscall::Rseq {
            addr: AREA + [0, 32, 64][r.below(3) as usize],
            len: lens[r.below(5) as usize],
            flags: [0, 1, 2, 3][r.below(4) as usize],
            sig: if r.below(8) == 0 { 0 } else { sig },
        }),
        1 => Event::Syscall(Syscall::Getpid),
        2 => Event::Syscall(Syscall::PrctlSlice {
            op: [1, 2, 3][r.below(3) as usize],
            arg: [0, 1, 2][r.below(3) as usize],
        }),
        3 => Event::Syscall(Syscall::SliceYield),
        4 => Event::Syscall(Syscall::Membarrier {
            own_cpu: r.below(2) == 0,
        }),
        5 => Event::Syscall(Syscall::Sigreturn),
        6 => Event::Syscall(Syscall::Execve {
            ok: r.below(4) == 0,
        }),
        7 => Event::Syscall(Syscall::Fork {
            clone_vm: r.below(2) == 0,
            follow_child: r.below(2) == 0,
        }),
        8 | 9 => Event::Interrupt,
        10 => Event::SwitchOut,
        11 => Event::SwitchIn {
            cpu: r.below(4) as u32,
            mm_cid: r.below(3) as u32,
        },
        12 => Event::Signal {
            sig: [10u8, 11, 12, 14][r.below(4) as usize],
        },
        13 => Event::MembarrierIpi,
        14 => Event::SliceTimer,
        15 => Event::NeedResched,
        16 | 17 => Event::ExitToUser,
        18 => Event::Store {
            addr: AREA + [0u64, 4, 8, 16, 20, 24, 28, 29][r.below(8) as usize],
            bytes: vec![r.below(4) as u8],
        },
        19 => Event::Store {
            addr: AREA + rseq::RSEQ_CS,
            bytes: [0u64, DESC, DESC + 8, u64::MAX][r.below(4) as usize]
                .to_le_bytes()
                .to_vec(),
        },
        20 => Event::SetIp {
            ip: [IP_INSIDE, IP_OUTSIDE, testkit::CS_START][r.below(3) as usize],
        },
        21 => Event::SetHandler {
            sig: [10u8, 11, 12][r.below(3) as usize],
            installed: r.below(2) == 0,
        },
        22 => Event::Mprotect {
            addr: [AREA, DESC][r.below(2) as usize],
            readable: r.below(2) == 0,
            writable: r.below(2) == 0,
        },
        23 => Event::Reclaim {
            addr: [AREA, DESC][r.below(2) as usize],
        },
        24 => Event::Store {
            addr: DESC + [0u64, 8, 16, 24][r.below(4) as usize],
            bytes: vec![r.below(256) as u8],
        },
        _ => Event::MadviseDontneed {
            addr: [AREA, DESC][r.below(2) as usize],
        },
    }
}

/// Seeds per configuration for the robustness tests (RSEQ_V7_SEEDS
/// overrides the default for longer local runs).
pub fn seeds() -> u64 {
    std::env::var("RSEQ_V7_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

/// arm32's do_work_pending() (v7.0 and v7.1 alike): one kind of work a pass,
/// reschedule first, then a signal, then notify-resume. Found by the
/// embedded engine when the models ran the generic loop on arm32: a handled
/// signal followed by a fatal one ended the task before its IDs were
/// written, as v6.19 does, where the generic loop wrote them first.
pub fn case_arm32_do_work_pending(v: &VersionEntry, len: u32, c: &mut Cov) {
    // Nothing pending: ret_to_user goes straight out.
    let mut f = registered(v, arm32(false), len);
    f.steps([Event::Interrupt, Event::ExitToUser]);
    assert!(f.took("ret_to_user/no_work_pending"));
    c.add(&f);
    // TIF_NEED_RESCHED inside a section: the schedule pass switches the
    // task out and in, the next pass runs the slow path, which aborts.
    let mut f = registered(v, arm32(false), len);
    f.enter_cs();
    f.steps([Event::NeedResched, Event::ExitToUser]);
    assert!(f.took("do_work_pending/schedule"));
    assert!(f.took("do_work_pending/notify_resume"));
    assert!(aborted(&f), "{}: preempted in the section", v.name);
    c.add(&f);
    // A handled signal, a migration, then a signal whose default action
    // kills (SIGUSR2, no handler). Pass 1 delivers SIGUSR1, pass 2 SIGUSR2: the task
    // dies with the old CPU's IDs (notify-resume never ran).
    // arm64 runs the generic loop, where the same pass that delivers
    // SIGUSR1 runs the slow path too (TIF_RSEQ is TIF_NOTIFY_RESUME there),
    // so its IDs are written before the fatal signal.
    for (cfg, ids_written) in [(arm32(false), false), (arm64(false), true)] {
        let mut f = registered(v, cfg, len);
        f.step(Event::SetHandler {
            sig: abi::sig::SIGUSR1,
            installed: true,
        });
        f.steps([
            Event::Signal {
                sig: abi::sig::SIGUSR1,
            },
            Event::SwitchIn { cpu: 6, mm_cid: 1 },
            // Numbered above SIGUSR1: get_signal() takes the lowest first.
            Event::Signal {
                sig: abi::sig::SIGUSR2,
            },
            Event::ExitToUser,
        ]);
        assert!(dead(&f), "{} {cfg}", v.name);
        let want = if ids_written {
            ids_of(6, 1)
        } else {
            ids_of(CPU0, CID0)
        };
        assert_eq!(ids(&f), want, "{} {cfg}", v.name);
        if !ids_written {
            assert!(f.took("do_work_pending/signal"));
        }
        c.add(&f);
    }
}

/// KVM_RUN on arm64 (no generic TIF bits, so TIF_RSEQ is
/// TIF_NOTIFY_RESUME): a migration inside it opens the legacy gate of the
/// pre-guest pass's rseq_handle_slowpath(NULL), which returns at once
/// (`__rseq_handle_slowpath/regs_null`) after resume_user_mode_work()
/// cleared the bit. rseq_virt_userspace_exit() raises it again when vcpu_run
/// returns, so the exit writes the new IDs; before it the area still shows
/// the old ones.
pub fn kvm_run_arm64_retrigger(v: &VersionEntry, len: u32, c: &mut Cov) {
    let mut f = registered(v, arm64(false), len);
    f.steps([
        Event::Syscall(Syscall::KvmRun),
        Event::SwitchOut,
        Event::SwitchIn { cpu: 6, mm_cid: 1 },
        Event::GuestEntry,
    ]);
    assert!(f.took("rseq_handle_slowpath/run"), "{} len {len}", v.name);
    assert!(
        f.took("__rseq_handle_slowpath/regs_null"),
        "{} len {len}",
        v.name
    );
    assert_eq!(
        ids(&f),
        ids_of(CPU0, CID0),
        "{} len {len}: nothing written before the guest",
        v.name
    );
    f.step(Event::ExitToUser);
    assert_eq!(
        ids(&f),
        ids_of(6, 1),
        "{} len {len}: written at the exit",
        v.name
    );
    assert_eq!(f.model.current().fate, Fate::Running);
    c.add(&f);
}

/// The slice grant expires before the task leaves the kernel (a slow exit,
/// as under QEMU's emulation on a real 7.2 kernel): no timer armed, the
/// loop runs again, revokes the grant and schedules; the program sees
/// slice_ctrl 0 and no syscall work runs at its next syscall. `f` is
/// registered with the extension enabled and the request byte set;
/// `grant_fn` names the version's grant function.
pub fn check_slice_grant_expires_in_kernel(mut f: Fixture, grant_fn: &str) -> Fixture {
    let grant = [Event::NeedResched, Event::ExitToUser];
    f.step(Event::SliceExpiresInKernel);
    f.steps(grant.clone());
    for d in [
        format!("{grant_fn}/granted"),
        "__rseq_arm_slice_extension_timer/expired_before_exit".to_string(),
        format!("{grant_fn}/work_pending_or_granted_revoke"),
        "exit_to_user_mode_loop/schedule".to_string(),
        "rseq_arm_slice_extension_timer/not_granted".to_string(),
    ] {
        assert!(f.took(&d), "{d}");
    }
    assert!(!f.took("__rseq_arm_slice_extension_timer/armed"));
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0);
    assert_eq!(f.syscall(Syscall::SliceYield), Some(0));
    assert!(!f.took("rseq_syscall_enter_work/not_granted"));
    // Used up: the next grant is armed.
    store_u8(&mut f, rseq::SLICE_REQUEST, 1);
    f.steps(grant);
    assert!(f.took("__rseq_arm_slice_extension_timer/armed"));
    assert_eq!(u32_at(&f, rseq::SLICE_CTRL), 0x100);
    f
}
