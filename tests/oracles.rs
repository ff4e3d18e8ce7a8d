//! Every oracle holds where it must and fires where it must.
//!
//! "Must hold": the real versions on the named seed scenarios. "Must fire":
//! `Double<MODE>`, a small test double of the KernelVersion seam that does
//! rseq's job in the simplest correct way, with one deliberate flaw per mode.

use rseq_fuzz::abi::{self, in_cs, rseq, Arch};
use rseq_fuzz::config::Config;
use rseq_fuzz::kernel::{tif, Kctx, KernelVersion, Registration, Syscall, EXIT_LOOP_BOUND};
use rseq_fuzz::mem::PageState;
use rseq_fuzz::oracles::{self, Options};
use rseq_fuzz::scenario::{Anchor, PageSpec, Scenario, Step, Val};
use rseq_fuzz::seeds;
use rseq_fuzz::versions::{self, entry, VersionEntry};

const CORRECT: u8 = 0;
const NO_SIG_CHECK: u8 = 1;
const NEVER_ABORT: u8 = 2;
const KILL_ALWAYS: u8 = 3;
const WRITE_OUTSIDE: u8 = 4;
const LIVELOCK: u8 = 5;
const FAULT_KILLS: u8 = 6;
const STALE_IDS: u8 = 7;
const KERNEL_IP: u8 = 8;
const ABORT_OUTSIDE: u8 = 9;
const NO_RESET: u8 = 10;
const WRITE_AFTER_UNREGISTER: u8 = 11;
const SIGRETURN_ABORTS: u8 = 12;
/// The KVM pre-guest work loop never ends: NOTIFY_RESUME stays raised.
const GUEST_LIVELOCK: u8 = 13;

rseq_fuzz::decision_points! {
    pub enum D {
        Evaluate = "double_update/evaluate",
    }
}

#[derive(Clone, Debug, Default)]
struct St {
    reg: Option<Registration>,
    pending: bool,
    /// The area last unregistered (WRITE_AFTER_UNREGISTER keeps using it).
    unregistered: Option<Registration>,
}

struct Double<const MODE: u8>;

type K<'a, const M: u8> = Kctx<'a, Double<M>>;

impl<const MODE: u8> Double<MODE> {
    fn evaluate(k: &mut K<'_, MODE>) -> bool {
        let Some(r) = k.rseq.reg else { return true };
        k.decide(D::Evaluate);
        if MODE == FAULT_KILLS {
            k.pagefault_disable();
        }
        let cs = k.get_user_u64("double_update", r.addr + rseq::RSEQ_CS);
        k.pagefault_enable();
        let Ok(cs) = cs else { return false };
        if cs == 0 {
            return true;
        }
        let Ok(d) = k.copy_from_user::<32>("double_update", cs) else {
            return false;
        };
        let word = |o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap_or([0; 8]));
        let (start, len, abort) = (word(8), word(16), word(24));
        // SIGRETURN_ABORTS: rt_sigreturn's exit aborts wherever the IP is.
        let abort_anywhere = MODE == ABORT_OUTSIDE
            || MODE == SIGRETURN_ABORTS && matches!(k.task.in_syscall, Some(Syscall::Sigreturn));
        if !abort_anywhere && !in_cs(k.instruction_pointer(), start, len, 64) {
            return k
                .put_user_u64("double_update", r.addr + rseq::RSEQ_CS, 0)
                .is_ok();
        }
        if MODE != NO_SIG_CHECK {
            match k.get_user_u32("double_update", abort.wrapping_sub(4)) {
                Ok(s) if s == r.sig => {}
                _ => return false,
            }
        }
        if MODE == NEVER_ABORT {
            return true;
        }
        if k.put_user_u64("double_update", r.addr + rseq::RSEQ_CS, 0)
            .is_err()
        {
            return false;
        }
        let to = if MODE == KERNEL_IP {
            abort | 0xffff_8000_0000_0000
        } else {
            abort
        };
        k.instruction_pointer_set(to, "double abort");
        true
    }

    fn write_ids(k: &mut K<'_, MODE>) -> bool {
        let reg = if MODE == WRITE_AFTER_UNREGISTER {
            k.rseq.reg.or(k.rseq.unregistered)
        } else {
            k.rseq.reg
        };
        let Some(r) = reg else { return true };
        if MODE == STALE_IDS {
            return true;
        }
        let cpu = k.task_cpu();
        let cid = k.task_mm_cid();
        let mut ok = true;
        for (off, v) in [
            (rseq::CPU_ID_START, cpu),
            (rseq::CPU_ID, cpu),
            (rseq::NODE_ID, rseq_fuzz::kernel::cpu_to_node(cpu)),
            (rseq::MM_CID, cid),
        ] {
            ok &= k.put_user_u32("double_ids", r.addr + off, v).is_ok();
        }
        if MODE == WRITE_OUTSIDE {
            ok &= k.put_user_u32("double_ids", r.addr + 64, 1).is_ok();
        }
        ok
    }

    fn exit(k: &mut K<'_, MODE>) {
        for _ in 0..EXIT_LOOP_BOUND {
            if k.test_tif(tif::SIGPENDING) {
                k.arch_do_signal_or_restart();
                if k.task_exiting() {
                    return;
                }
                continue;
            }
            if MODE == KILL_ALWAYS && k.rseq.reg.is_some() {
                k.rseq.reg = None;
                k.force_sig_segv();
                continue;
            }
            if k.rseq.pending {
                k.rseq.pending = false;
                if !(Self::evaluate(k) && Self::write_ids(k)) {
                    k.force_sig_segv();
                }
                continue;
            }
            if MODE != LIVELOCK {
                return;
            }
        }
        k.task.livelock = true;
    }
}

impl<const MODE: u8> KernelVersion for Double<MODE> {
    const NAME: &'static str = "double";
    const DESCRIPTION: &'static str = "test double";
    type Decision = D;
    type TaskState = St;

    fn configs() -> Vec<Config> {
        vec![Config::native(Arch::X86_64, false)]
    }
    fn sys_rseq(k: &mut K<'_, MODE>, addr: u64, len: u32, flags: u32, sig: u32) -> i64 {
        match (flags, k.rseq.reg) {
            (0, None) if addr % 32 == 0 && len >= 32 && addr != 0 => {
                k.rseq.reg = Some(Registration { addr, len, sig });
                k.rseq.pending = true;
                0
            }
            (1, Some(r)) if r.addr == addr => {
                k.rseq.reg = None;
                k.rseq.unregistered = Some(r);
                // Unregistration resets the IDs: cpu_id_start to a
                // possible CPU, cpu_id to "uninitialized".
                if MODE != NO_RESET {
                    let reset = [
                        (rseq::CPU_ID_START, 0),
                        (rseq::CPU_ID, abi::RSEQ_CPU_ID_UNINITIALIZED),
                    ];
                    for (off, v) in reset {
                        if k.put_user_u32("double_reset", addr + off, v).is_err() {
                            return -abi::errno::EFAULT;
                        }
                    }
                }
                0
            }
            _ => -abi::errno::EINVAL,
        }
    }
    fn switch_in(k: &mut K<'_, MODE>) {
        k.rseq.pending = true;
    }
    fn membarrier_ipi(k: &mut K<'_, MODE>) {
        k.rseq.pending = true;
    }
    fn signal_deliver(k: &mut K<'_, MODE>, _signo: u8) {
        if !Self::evaluate(k) {
            k.force_sig_segv();
        }
    }
    fn fork(parent: &St, clone_vm: bool) -> St {
        if clone_vm {
            St::default()
        } else {
            parent.clone()
        }
    }
    fn registration(s: &St) -> Option<Registration> {
        s.reg
    }
    fn syscall_exit_to_user_mode(k: &mut K<'_, MODE>) {
        if MODE == SIGRETURN_ABORTS && matches!(k.task.in_syscall, Some(Syscall::Sigreturn)) {
            k.rseq.pending = true;
        }
        Self::exit(k)
    }
    fn irqentry_exit_to_user_mode(k: &mut K<'_, MODE>) {
        Self::exit(k)
    }
    fn syscall_entry(k: &mut K<'_, MODE>) {
        if MODE == GUEST_LIVELOCK && matches!(k.task.in_syscall, Some(Syscall::KvmRun)) {
            k.set_tif(tif::NOTIFY_RESUME);
        }
    }
    fn resume_user_mode_work_for_guest(k: &mut K<'_, MODE>) {
        if MODE != GUEST_LIVELOCK {
            k.clear_tif(tif::NOTIFY_RESUME);
        }
    }
}

static CORRECT_E: VersionEntry = entry::<Double<CORRECT>>();
static NO_SIG_CHECK_E: VersionEntry = entry::<Double<NO_SIG_CHECK>>();
static NEVER_ABORT_E: VersionEntry = entry::<Double<NEVER_ABORT>>();
static KILL_ALWAYS_E: VersionEntry = entry::<Double<KILL_ALWAYS>>();
static WRITE_OUTSIDE_E: VersionEntry = entry::<Double<WRITE_OUTSIDE>>();
static LIVELOCK_E: VersionEntry = entry::<Double<LIVELOCK>>();
static FAULT_KILLS_E: VersionEntry = entry::<Double<FAULT_KILLS>>();
static STALE_IDS_E: VersionEntry = entry::<Double<STALE_IDS>>();
static KERNEL_IP_E: VersionEntry = entry::<Double<KERNEL_IP>>();
static ABORT_OUTSIDE_E: VersionEntry = entry::<Double<ABORT_OUTSIDE>>();
static NO_RESET_E: VersionEntry = entry::<Double<NO_RESET>>();
static WRITE_AFTER_UNREGISTER_E: VersionEntry = entry::<Double<WRITE_AFTER_UNREGISTER>>();
static SIGRETURN_ABORTS_E: VersionEntry = entry::<Double<SIGRETURN_ABORTS>>();
static GUEST_LIVELOCK_E: VersionEntry = entry::<Double<GUEST_LIVELOCK>>();

fn x86() -> Config {
    Config::native(Arch::X86_64, false)
}

/// A conforming program: it enters its section and is preempted, migrated
/// and signalled there.
fn conforming_preempted_in_cs() -> Scenario {
    let inside = Val::at(Anchor::CsStart, 16);
    let enter = [
        Step::SetRseqCs {
            value: Val::at(Anchor::Desc, 0),
        },
        Step::SetIp { ip: inside },
    ];
    let mut steps = enter.to_vec();
    steps.extend([
        Step::Interrupt,
        Step::SwitchIn { cpu: 3, mm_cid: 1 },
        Step::ExitToUser,
    ]);
    steps.extend(enter);
    steps.extend([
        Step::Signal {
            sig: abi::sig::SIGUSR1,
        },
        Step::ExitToUser,
        Step::Sigreturn,
        Step::ExitToUser,
    ]);
    Scenario {
        handlers: 1 << abi::sig::SIGUSR1,
        steps,
        ..Scenario::default()
    }
}

/// The same program with the signature word broken (not conforming).
fn bad_signature() -> Scenario {
    let mut s = conforming_preempted_in_cs();
    s.steps.insert(
        0,
        Step::Store32 {
            addr: Val::at(Anchor::SigAddr, 0),
            value: 0x1234_5678,
        },
    );
    s
}

fn findings(s: &Scenario, runs: Vec<(&'static VersionEntry, Config)>) -> Vec<oracles::Finding> {
    oracles::check_runs(s, &Options::default(), runs)
        .expect("runs")
        .findings
}

fn fired(s: &Scenario, e: &'static VersionEntry, oracle: &str) -> oracles::Finding {
    let f = findings(s, vec![(e, x86())]);
    let f = f
        .into_iter()
        .find(|f| f.oracle == oracle)
        .unwrap_or_else(|| panic!("oracle {oracle} did not fire on {}", e.name));
    // A finding's panic message is one line: engines and CI logs are grepped.
    let msg = f.panic_message();
    assert!(!msg.contains('\n'), "multi-line panic message: {msg}");
    f
}

/// The correct double passes `s` and the flawed double `e` fails `oracle`
/// on it, with a message `says` accepts: the scenario shows that one flaw
/// and nothing else.
fn fires_only_on_the_flaw(
    s: &Scenario,
    e: &'static VersionEntry,
    oracle: &str,
    says: fn(&str) -> bool,
) {
    assert_eq!(findings(s, vec![(&CORRECT_E, x86())]), vec![]);
    let f = fired(s, e, oracle);
    assert!(says(&f.message), "{}", f.message);
}

#[test]
fn the_correct_double_passes_every_single_run_oracle() {
    for s in [conforming_preempted_in_cs(), bad_signature()] {
        assert_eq!(findings(&s, vec![(&CORRECT_E, x86())]), vec![]);
    }
}

#[test]
fn contract_fires_on_a_missed_abort() {
    let f = fired(&conforming_preempted_in_cs(), &NEVER_ABORT_E, "contract");
    assert!(f.message.contains("not abort_ip"), "{}", f.message);
}

#[test]
fn contract_fires_on_a_killed_conforming_program() {
    let f = fired(&conforming_preempted_in_cs(), &KILL_ALWAYS_E, "contract");
    assert!(f.message.contains("killed"), "{}", f.message);
}

#[test]
fn contract_fires_on_stale_ids_after_migration() {
    let f = fired(&conforming_preempted_in_cs(), &STALE_IDS_E, "contract");
    assert!(f.message.contains("not the current"), "{}", f.message);
}

#[test]
fn contract_checks_the_ids_of_an_area_registered_off_the_layout() {
    // The program registers its struct rseq 64 bytes into the layout's
    // area page, then is migrated. Observations read the registered area,
    // so the contract holds the IDs there to the current CPU too; it used
    // to check only an area registered at the layout's anchor.
    let s = Scenario {
        registration: Some(rseq_fuzz::scenario::RegistrationSpec {
            addr: Val::at(Anchor::Area, 64),
            ..Default::default()
        }),
        steps: vec![
            Step::Interrupt,
            Step::SwitchIn { cpu: 3, mm_cid: 1 },
            Step::ExitToUser,
        ],
        ..Scenario::default()
    };
    fires_only_on_the_flaw(&s, &STALE_IDS_E, "contract", |m| {
        m.contains("not the current")
    });
}

/// A conforming program whose rseq_cs still names the section it left
/// (user space need not clear it): preempted and signalled after the
/// section's end, it must resume where it was.
fn conforming_preempted_after_cs() -> Scenario {
    let after = Val::at(Anchor::CsStart, 64 + 8);
    Scenario {
        handlers: 1 << abi::sig::SIGUSR1,
        steps: vec![
            Step::SetRseqCs {
                value: Val::at(Anchor::Desc, 0),
            },
            Step::SetIp { ip: after },
            Step::Interrupt,
            Step::SwitchIn { cpu: 3, mm_cid: 1 },
            Step::ExitToUser,
            Step::Signal {
                sig: abi::sig::SIGUSR1,
            },
            Step::ExitToUser,
        ],
        ..Scenario::default()
    }
}

#[test]
fn contract_fires_on_an_abort_outside_any_section() {
    let s = conforming_preempted_after_cs();
    fires_only_on_the_flaw(&s, &ABORT_OUTSIDE_E, "contract", |m| {
        m.contains("outside any critical section")
    });
}

#[test]
fn contract_fires_on_a_live_cpu_id_after_unregistration() {
    let text = include_str!("scenarios/unregister_leaves_cpu_id_start.json");
    let s = Scenario::from_json(text).expect("scenario");
    fires_only_on_the_flaw(&s, &NO_RESET_E, "contract", |m| {
        m.starts_with("a successful unregistration did not reset cpu_id")
    });
}

/// unregister_leaves_cpu_id_start.json with the area registered and
/// unregistered 64 bytes into the layout's area page.
fn unregistration_off_the_layout() -> Scenario {
    let text = include_str!("scenarios/unregister_leaves_cpu_id_start.json");
    let mut s = Scenario::from_json(text).expect("scenario");
    let off_layout = Val::at(Anchor::Area, 64);
    s.registration = Some(rseq_fuzz::scenario::RegistrationSpec {
        addr: off_layout,
        ..Default::default()
    });
    for step in &mut s.steps {
        if let Step::Rseq { addr, .. } = step {
            *addr = off_layout;
        }
    }
    s
}

#[test]
fn contract_judges_the_unregistration_of_an_area_registered_off_the_layout() {
    // Both clauses that read the kernel's writes follow the registered
    // area (they used to look only at the layout's): the reset of cpu_id
    // at unregistration, and cpu_id_start staying a possible CPU.
    let s = unregistration_off_the_layout();
    fires_only_on_the_flaw(&s, &NO_RESET_E, "contract", |m| {
        m.starts_with("a successful unregistration did not reset cpu_id")
    });
    let (_, report) = check_clean(&serde_json::to_string(&s).expect("json"));
    assert!(
        report.explained.iter().any(|f| f.oracle == "contract"
            && f.runs[0].starts_with("v6.19/")
            && f.explained_by == Some("r-unregister-leaves-cpu-id-start-impossible")),
        "{:#?}",
        report.explained
    );
    // The observation after the unregistration reads the area just
    // unregistered: cpu_id there is RSEQ_CPU_ID_UNINITIALIZED.
    for run in &report.runs {
        let last = run.observations.last().expect("observations");
        assert_eq!(last.registration, None, "{}", run.name());
        let area = last.area.as_ref().expect("area");
        assert_eq!(
            u32::from_le_bytes(area[4..8].try_into().expect("4 bytes")),
            abi::RSEQ_CPU_ID_UNINITIALIZED,
            "{}",
            run.name()
        );
    }
}

#[test]
fn an_execve_observes_the_layout_area_again() {
    // Regression (embedded engine on differential, from an empty corpus):
    // the program registered an area, exec'd, registered one at address 0
    // and exec'd again. v6.18 never counts an area at 0 as registered, so
    // its last registered area was the first one; the rework's was 0. After
    // the exec each run observed its own "last area", and the two differed.
    // A new image has registered nothing: every run observes the layout's
    // area again, which nothing wrote since the first return.
    let text = include_str!("scenarios/area_at_null_then_execve.json");
    for_each_clean_run(text, |name, first, last| {
        assert_eq!(last.registration, None, "{name}");
        assert_eq!(last.area, first.area, "{name}");
    });
}

/// Check the scenario (every oracle must hold), then hand each run's name
/// and first and last observations to `check`.
fn for_each_clean_run(
    text: &str,
    check: impl Fn(&str, &rseq_fuzz::kernel::Observation, &rseq_fuzz::kernel::Observation),
) {
    let (_, report) = check_clean(text);
    for run in &report.runs {
        let first = run.observations.first().expect("observations");
        let last = run.observations.last().expect("observations");
        check(&run.name(), first, last);
    }
}

#[test]
fn a_registration_at_null_is_observed_at_null_on_every_release() {
    // Regression (embedded engine on differential, 2 jobs): a CLONE_VM
    // child registered an area at address 0, forked again, and the area
    // its parent had registered was unmapped. v6.18 does not count an area
    // at 0 as registered, so its observations kept reading the parent's
    // area, by then unmapped; the rework's read address 0. The successful
    // rseq() call now names the observed area on every release.
    let text = include_str!("scenarios/area_at_null_registered_in_a_clone_vm_child.json");
    for_each_clean_run(text, |name, _, last| {
        assert_eq!(last.area_addr, 0, "{name}");
        assert!(last.area.is_some(), "{name}: page 0 is mapped");
    });
}

#[test]
fn security_fires_on_a_write_after_unregistration() {
    // Unregistered, then preempted: the flawed double still writes IDs to
    // the area it forgot, memory user space may have reused.
    let text = include_str!("scenarios/unregister_leaves_cpu_id_start.json");
    let mut s = Scenario::from_json(text).expect("scenario");
    s.steps
        .extend([Step::SwitchIn { cpu: 5, mm_cid: 2 }, Step::ExitToUser]);
    fires_only_on_the_flaw(&s, &WRITE_AFTER_UNREGISTER_E, "security", |m| {
        m.ends_with("while the task was not registered")
    });
}

#[test]
fn contract_judges_the_window_a_sigreturn_from_the_kernel_closes() {
    // rt_sigreturn made from the kernel returns to user first (the runner
    // makes that return a step of its own): the window it closes is judged,
    // and only the next one, where the sigreturn runs, is excused. The
    // flawed double aborts outside the section on that first return.
    let mut s = conforming_preempted_after_cs();
    s.steps.truncate(4); // set rseq_cs, set IP, interrupt, switch-in
    s.steps.push(Step::Sigreturn);
    fires_only_on_the_flaw(&s, &ABORT_OUTSIDE_E, "contract", |m| {
        m.contains("outside any critical section")
    });
}

#[test]
fn contract_holds_the_ip_rt_sigreturn_restores_outside_a_section() {
    // Signalled after its section (the frame saves that IP), the program's
    // handler names the section in rseq_cs again and returns. The flawed
    // double aborts on rt_sigreturn's exit although the restored IP lies in
    // no section; until this clause, windows with a sigreturn were excused.
    let mut s = conforming_preempted_after_cs();
    s.steps.drain(2..5); // no preemption: straight to the signal
    s.steps.extend([
        Step::SetRseqCs {
            value: Val::at(Anchor::Desc, 0),
        },
        Step::Sigreturn,
        Step::ExitToUser,
    ]);
    fires_only_on_the_flaw(&s, &SIGRETURN_ABORTS_E, "contract", |m| {
        m.starts_with("rt_sigreturn restored")
    });
}

#[test]
fn contract_does_not_hold_a_nonconforming_program_to_it() {
    // The double kills on the bad signature; the program broke the ABI first.
    let f = findings(&bad_signature(), vec![(&KILL_ALWAYS_E, x86())]);
    assert!(
        f.iter().all(|f| f.oracle != "contract" || f.step < 4),
        "{f:?}"
    );
}

#[test]
fn security_fires_on_an_abort_without_a_signature_check() {
    let f = fired(&bad_signature(), &NO_SIG_CHECK_E, "security");
    assert!(
        f.message.contains("without reading the signature"),
        "{}",
        f.message
    );
}

#[test]
fn security_fires_on_a_kernel_ip() {
    let f = fired(&conforming_preempted_in_cs(), &KERNEL_IP_E, "security");
    assert!(f.message.contains("TASK_SIZE"), "{}", f.message);
}

#[test]
fn security_fires_on_a_write_outside_the_area() {
    let f = fired(&conforming_preempted_in_cs(), &WRITE_OUTSIDE_E, "security");
    assert!(
        f.message.contains("outside every registered area"),
        "{}",
        f.message
    );
}

#[test]
fn liveness_fires_on_an_endless_exit_loop() {
    fired(&conforming_preempted_in_cs(), &LIVELOCK_E, "liveness");
}

#[test]
fn liveness_fires_on_an_endless_pre_guest_work_loop() {
    let kvm = Scenario {
        steps: vec![Step::KvmRun, Step::ExitToUser],
        ..Scenario::default()
    };
    let f = fired(&kvm, &GUEST_LIVELOCK_E, "liveness");
    assert!(
        f.message.contains("xfer_to_guest_mode_handle_work"),
        "{}",
        f.message
    );
    // The same scenario with a pre-guest pass that clears the bit ends.
    assert!(findings(&kvm, vec![(&CORRECT_E, x86())]).is_empty());
    // The exit loop's own livelock still names the exit loop.
    let f = fired(&conforming_preempted_in_cs(), &LIVELOCK_E, "liveness");
    assert!(f.message.contains("exit-to-user loop"), "{}", f.message);
}

#[test]
fn fault_transparency_fires_when_a_resolvable_fault_kills() {
    let mut s = conforming_preempted_in_cs();
    s.pages.push(PageSpec {
        addr: Val::at(Anchor::Area, 0),
        state: PageState::NotPresent,
    });
    let f = fired(&s, &FAULT_KILLS_E, "fault-transparency");
    assert!(f.first_divergence.is_some());
    // The correct double resolves the fault and sees no difference.
    assert!(findings(&s, vec![(&CORRECT_E, x86())]).is_empty());
}

#[test]
fn differential_fires_on_a_change_no_entry_explains() {
    let v71 = versions::find("v7.1").expect("v7.1");
    let s = conforming_preempted_in_cs();
    let f = findings(&s, vec![(v71, x86()), (&NEVER_ABORT_E, x86())]);
    let d = f
        .iter()
        .find(|f| f.oracle == "differential")
        .expect("differential finding");
    assert_eq!(
        d.runs,
        vec![
            "v7.1/x86_64+ge+gie+tifb".to_string(),
            "double/x86_64+ge+gie+tifb".to_string()
        ]
    );
    assert!(d.first_divergence.is_some(), "{d:?}");
    assert!(d.panic_message().starts_with("oracle differential failed:"));
}

#[test]
fn every_oracle_holds_on_every_seed_scenario() {
    for (name, s) in seeds::scenarios() {
        let report = oracles::check(&s, &Options::default()).expect(name);
        assert!(report.findings.is_empty(), "{name}: {:#?}", report.findings);
    }
}

#[test]
fn strict_mode_turns_registered_divergences_into_findings() {
    let s = seeds::scenarios()
        .into_iter()
        .find(|(n, _)| *n == "row02_version_inside")
        .expect("seed")
        .1;
    let lax = oracles::check(&s, &Options::default()).expect("check");
    assert!(lax.findings.is_empty());
    assert!(
        !lax.explained.is_empty(),
        "row 2 is a registered divergence"
    );
    let strict = oracles::check(
        &s,
        &Options {
            strict: true,
            ..Options::default()
        },
    )
    .expect("check");
    assert_eq!(strict.findings.len(), lax.explained.len());
    assert!(strict.findings.iter().all(|f| f.explained_by.is_some()));
}

#[test]
fn the_abi_classifier_names_the_rules_a_program_breaks() {
    let cases: Vec<(Vec<Step>, &str)> = vec![
        (
            vec![Step::Store32 {
                addr: Val::at(Anchor::Area, 0),
                value: 1,
            }],
            "ro-field-store",
        ),
        (
            vec![
                Step::SetRseqCs {
                    value: Val::at(Anchor::Desc, 0),
                },
                Step::SetIp {
                    ip: Val::at(Anchor::CsStart, 4),
                },
                Step::Getpid,
            ],
            "syscall-in-cs",
        ),
        (
            vec![
                Step::Store32 {
                    addr: Val::at(Anchor::SigAddr, 0),
                    value: 0,
                },
                Step::SetRseqCs {
                    value: Val::at(Anchor::Desc, 0),
                },
                Step::Interrupt,
            ],
            "missing-signature",
        ),
        // The signature is overwritten only after one entry has seen the
        // section valid: the classifier must read it again at the next
        // entry, not reuse what it found at the first.
        (
            vec![
                Step::SetRseqCs {
                    value: Val::at(Anchor::Desc, 0),
                },
                Step::Interrupt,
                Step::ExitToUser,
                Step::Store32 {
                    addr: Val::at(Anchor::SigAddr, 0),
                    value: 0,
                },
                Step::Interrupt,
            ],
            "missing-signature",
        ),
        (
            vec![
                Step::SetRseqCs {
                    value: Val::at(Anchor::TaskSize, 0),
                },
                Step::Interrupt,
            ],
            "rseq-cs-not-user-address",
        ),
        (
            vec![Step::Munmap {
                addr: Val::at(Anchor::Area, 0),
            }],
            "area-unmapped",
        ),
        (vec![Step::Sigreturn], "sigreturn-without-frame"),
        (
            vec![Step::SetIp {
                ip: Val::at(Anchor::TaskSize, 0),
            }],
            "ip-not-user-address",
        ),
    ];
    for (steps, rule) in cases {
        let s = Scenario {
            steps,
            ..Scenario::default()
        };
        let report = oracles::check(&s, &Options::default()).expect("check");
        for run in &report.runs {
            assert!(
                run.violations.iter().any(|v| v.rule == rule),
                "{}: expected {rule}, got {:?}",
                run.name(),
                run.violations
            );
        }
    }
    // The conforming program breaks none.
    let report = oracles::check(&conforming_preempted_in_cs(), &Options::default()).expect("check");
    assert!(report.runs.iter().all(|r| r.violations.is_empty()));
}

#[test]
fn minimizing_a_finding_keeps_the_same_oracle_failure() {
    let s = seeds::scenarios()
        .into_iter()
        .find(|(n, _)| *n == "row02_version_inside")
        .expect("seed")
        .1;
    let strict = Options {
        strict: true,
        ..Options::default()
    };
    let before = oracles::check(&s, &strict).expect("check").findings;
    let (small, f) = rseq_fuzz::corpus::minimize_finding(&s, &strict)
        .expect("minimize")
        .expect("a finding");
    assert!(
        small.steps.len() < s.steps.len(),
        "{} steps",
        small.steps.len()
    );
    assert_eq!((f.oracle, &f.runs), (before[0].oracle, &before[0].runs));
    // And a scenario where every oracle holds has nothing to minimize.
    assert!(rseq_fuzz::corpus::minimize_finding(&s, &Options::default())
        .expect("m")
        .is_none());
}

#[test]
fn the_oracle_filter_ignores_other_oracles() {
    let s = seeds::scenarios()
        .into_iter()
        .find(|(n, _)| *n == "row02_version_inside")
        .expect("seed")
        .1;
    // In strict mode this seed fails the differential oracle only.
    let opts = |only: &'static str| Options {
        strict: true,
        only_oracle: Some(only),
        ..Options::default()
    };
    let quiet = std::panic::catch_unwind(|| oracles::assert_holds(&s, &opts("security")));
    assert!(
        quiet.is_ok(),
        "a security-only target must not fail on a differential finding"
    );
    let loud = std::panic::catch_unwind(|| oracles::assert_holds(&s, &opts("differential")));
    let msg = loud.expect_err("must fail");
    let msg = msg.downcast_ref::<String>().expect("message");
    assert!(msg.starts_with("oracle differential failed:"), "{msg}");
}

#[test]
fn seventeen_pending_signals_are_no_livelock_on_any_version() {
    // Regression: v7.0/v7.1 counted signal-delivering passes against the
    // exit-loop bound and reported a false livelock.
    let text = include_str!("scenarios/seventeen_signals_pending.json");
    let (_, report) = check_clean(text);
    assert!(report
        .runs
        .iter()
        .all(|r| r.observations.iter().all(|o| !o.livelock)));
    assert!(report.runs.iter().all(|r| r
        .trace
        .events
        .iter()
        .filter(|e| matches!(e, rseq_fuzz::trace::TraceEvent::SignalFrame { .. }))
        .count()
        >= 17));
}

#[test]
fn need_resched_from_user_mode_is_an_interrupt_entry() {
    // Regression (found by honggfuzz on exit_to_user): the IRQ that sets
    // need-resched enters from user mode like any interrupt, so on arm64 as
    // in v6.19 (user_irq never noted) the debug kill of a preempted section
    // is the registered kernel bug, not a contract finding.
    let text = include_str!("scenarios/arm64_need_resched_in_cs.json");
    let (s, report) = check_clean(text);
    let run = &report.runs[0];
    let w = run.windows.last().expect("a window");
    assert!(!w.entry_syscall);
    assert_eq!(w.entry_ip, Some(s.layout.cs_start + 16));
    assert!(w.cs_at_entry.is_some());
    assert!(report
        .explained
        .iter()
        .any(|f| f.oracle == "contract" && f.explained_by == Some("arm64-user-irq-never-noted")));
}

#[test]
fn v70_slice_write_fault_on_a_remapped_area_is_the_registered_divergence() {
    // Regression (found by honggfuzz on registration): the program remapped
    // its area (IDs zeroed); v7.0's Branch A slice_ctrl write faults on the
    // COW page, and the slow path rewrites every ID where v6.19 wrote none.
    let text = include_str!("scenarios/v70_slice_write_fault_on_remapped_area.json");
    let (s, report) = check_clean(text);
    let f = explained_as(&report, "r70-branch-a-writes-slice-ctrl");
    assert_eq!(f.oracle, "differential");
    assert!(
        f.message.contains("struct rseq bytes [0, 4, 20, 24]"),
        "{}",
        f.message
    );
    // Strict mode reports it.
    let strict = Options {
        strict: true,
        ..Options::default()
    };
    let report = oracles::check(&s, &strict).expect("check");
    assert!(report
        .findings
        .iter()
        .any(|f| f.explained_by == Some("r70-branch-a-writes-slice-ctrl")));
}

/// A regression scenario: parse it, check it with the default options, and
/// require that no oracle reports a finding.
fn check_clean(json: &str) -> (Scenario, oracles::Report) {
    let s = Scenario::from_json(json).expect("scenario");
    let report = oracles::check(&s, &Options::default()).expect("check");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    (s, report)
}

#[test]
fn an_area_registered_at_null_is_ignored_by_legacy_and_live_in_the_rework() {
    // Regression (found by the embedded engine on differential): sys_rseq
    // accepts an area at address 0; v6.18 then treats the task as not
    // registered, v6.19 writes IDs there and kills when page 0 goes away.
    let text = include_str!("scenarios/legacy_ignores_area_at_null.json");
    let (_, report) = check_clean(text);
    assert!(report.explained.iter().any(|f| f.oracle == "differential"
        && f.explained_by == Some("r-area-at-null-is-live")
        && f.runs[0].starts_with("v6.18/")
        && f.runs[1].starts_with("v6.19/")));
    // v6.18 never writes user memory for it; v6.19 writes the IDs at 0.
    let wrote_at_null = |version: &str| {
        report
            .runs
            .iter()
            .filter(|r| r.version == version)
            .any(|r| {
                r.trace.events.iter().any(|e| {
                    matches!(
                        e,
                        rseq_fuzz::trace::TraceEvent::Access {
                            kind: rseq_fuzz::mem::AccessKind::Write,
                            addr: 0,
                            ..
                        }
                    )
                })
            })
    };
    assert!(!wrote_at_null("v6.18"));
    assert!(wrote_at_null("v6.19"));
}

#[test]
fn a_descriptor_changed_by_another_thread_is_not_held_to_the_contract() {
    // Regression (found by the embedded engine on differential): the task
    // was preempted inside its section, and while it was in the kernel
    // another thread moved the descriptor's start_ip. Every version read the
    // new descriptor on the way out, found the IP outside it and did not
    // abort; the contract oracle had judged the section at entry. A store to
    // the descriptor in use from another thread now breaks the ABI.
    let text = include_str!("scenarios/descriptor_changed_by_another_thread.json");
    let (s, report) = check_clean(text);
    for run in &report.runs {
        assert!(
            run.violations
                .iter()
                .any(|v| v.rule == "descriptor-store-from-another-thread"),
            "{}: {:?}",
            run.name(),
            run.violations
        );
        let last = run.observations.last().expect("returned to user");
        assert_eq!(
            last.ip,
            s.layout.cs_start + 16,
            "{}: not aborted",
            run.name()
        );
    }
    // Without that store every version aborts, and the contract holds.
    let mut without = s.clone();
    without
        .steps
        .retain(|st| !matches!(st, rseq_fuzz::scenario::Step::Store32 { .. }));
    let report = oracles::check(&without, &Options::default()).expect("check");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    for run in &report.runs {
        assert!(run.violations.is_empty(), "{}", run.name());
        let last = run.observations.last().expect("returned to user");
        assert_eq!(last.ip, s.layout.abort_ip, "{}", run.name());
    }
}

#[test]
fn thread_flags_the_kernel_wrote_do_not_count_at_re_registration() {
    // v7.0 writes RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE into rseq.flags at
    // registration and leaves it there at unregistration. Registering the
    // same area again is not the program setting thread flags; registering
    // over flags the program stored is (the scenario above).
    let text = r#"{
      "arch": "x86_64",
      "steps": [
        { "step": "rseq", "addr": { "anchor": "area", "delta": 0 }, "len": 32, "flags": 1, "sig": "arch" },
        { "step": "rseq", "addr": { "anchor": "area", "delta": 0 }, "len": 32, "flags": 0, "sig": "arch" },
        { "step": "getpid" }
      ]
    }"#;
    let s = Scenario::from_json(text).expect("scenario");
    let report = oracles::check(&s, &Options::default()).expect("check");
    let v70 = report
        .runs
        .iter()
        .find(|r| r.version == "v7.0" && r.config.slice_extension)
        .expect("a v7.0 run with the slice extension");
    let flags_before_second = v70.observations[1].area.as_ref().expect("area")[16];
    assert_eq!(
        flags_before_second & 0x10,
        0x10,
        "the kernel's bit is there"
    );
    for run in &report.runs {
        assert!(
            !run.violations
                .iter()
                .any(|v| v.rule == "thread-flags-nonzero"),
            "{}: {:?}",
            run.name(),
            run.violations
        );
    }
}

#[test]
fn the_debug_null_descriptor_entry_needs_a_read_at_null() {
    // With page 0 mapped, rd-debug-branch-a-reads-address-zero used to
    // explain every debug divergence; the riscv64 registration finding's
    // debug pair was explained by it although nothing read address 0.
    let text = include_str!("scenarios/area_in_the_last_32_bytes_below_task_size.json");
    let (s, report) = check_clean(text);
    assert_ne!(
        s.lower().setup.mem.state(0),
        rseq_fuzz::mem::PageState::Unmapped,
        "the scenario must map page 0"
    );
    let debug_pair = report
        .explained
        .iter()
        .find(|f| f.runs[0] == "v6.19/riscv64+ge+gie+tifb+debug")
        .expect("the debug pair diverges");
    assert_eq!(
        debug_pair.explained_by,
        Some("r70-registration-checks-access-over-64-bytes")
    );
}

#[test]
fn a_sigreturn_into_a_section_the_handler_armed_breaks_the_abi() {
    // Regression (embedded engine, exit_to_user): signalled outside any
    // section, the handler armed a section around the interrupted IP and
    // returned; the debug syscall-return check of v6.19+ killed the task
    // on rt_sigreturn's return, and the contract blamed the kernel.
    let text = include_str!("scenarios/sigreturn_into_a_section_armed_by_the_handler.json");
    let (_, report) = check_clean(text);
    for run in &report.runs {
        assert!(
            run.violations.iter().any(|v| v.rule == "sigreturn-into-cs"),
            "{}: {:?}",
            run.name(),
            run.violations
        );
    }
}

#[test]
fn arm32_runs_the_debug_syscall_check_after_an_exception_only() {
    // Inside a valid section, an exception and then an interrupt, each
    // without preemption: only arm32 with the debug check acts, only on
    // the exception's return (ret_to_user, not ret_to_user_from_irq), and
    // legacy kills where the rework aborts. The check is CONFIG_DEBUG_RSEQ's
    // rseq_syscall(): a rework kernel with the rseq_debug key off has it
    // (+debugcfg), one with only the key does not (+debugkey).
    let text = include_str!("scenarios/arm32_exception_inside_a_section.json");
    let mut s = Scenario::from_json(text).expect("scenario");
    let lowered = s.lower();
    let abort = lowered.layout.abort_ip;
    let inside = lowered.layout.cs_start + 16;
    let report = oracles::check(&s, &Options::default()).expect("check");
    let names: Vec<String> = report.runs.iter().map(|r| r.name()).collect();
    for n in ["v7.1/arm32+debugcfg", "v7.1/arm32+debugkey"] {
        assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
    }
    for run in &report.runs {
        // Returns: 0 registration, 1 after the exception, 2 after the interrupt.
        let after = |k: usize| &run.observations[k];
        let debug = run.config.debug_rseq;
        if debug && run.version == "v6.18" {
            assert!(
                after(1).fate != rseq_fuzz::kernel::Fate::Running,
                "{}: legacy's rseq_syscall() kills",
                run.name()
            );
            continue;
        }
        let want = if debug { abort } else { inside };
        assert_eq!(after(1).ip, want, "{} after the exception", run.name());
        assert_eq!(after(2).ip, inside, "{} after the interrupt", run.name());
    }
    // Any other architecture: an exception is an interrupt.
    s.arch = Arch::X86_64;
    let report = oracles::check(&s, &Options::default()).expect("check");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    for run in &report.runs {
        assert_eq!(run.observations[1].ip, inside, "{}", run.name());
    }
}

#[test]
fn x86_64_registers_an_area_in_the_last_32_bytes_on_every_release() {
    // The companion of the riscv64 regression above: x86-64's masked user
    // access checks no length, so v7.0's 64-byte write region does not
    // fault for a 32-byte area that ends at TASK_SIZE.
    let text = include_str!("scenarios/area_in_the_last_32_bytes_below_task_size.json");
    let mut s = Scenario::from_json(text).expect("scenario");
    s.arch = rseq_fuzz::abi::Arch::X86_64;
    s.layout.area = s.arch.task_size() - 32;
    let report = oracles::check(&s, &Options::default()).expect("check");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    for run in &report.runs {
        assert_eq!(
            run.observations[0].syscall_ret,
            Some(0),
            "{} did not register",
            run.name()
        );
    }
}

/// The first candidate finding the registry entry `id` explained.
fn explained_as<'a>(report: &'a oracles::Report, id: &str) -> &'a oracles::Finding {
    report
        .explained
        .iter()
        .find(|f| f.explained_by == Some(id))
        .unwrap_or_else(|| panic!("nothing explained by {id}: {:#?}", report.explained))
}

#[test]
fn the_debug_null_descriptor_abort_breaks_the_contract_up_to_v7_1_v2() {
    // Found when the contract oracle learnt that rseq never moves an IP
    // outside any section: with rseq_cs 0 and page 0 mapped, the debug
    // Branch A reads a descriptor at address 0 and aborts to its abort_ip.
    // v7.1 does so too for a V2 (64-byte) registration; its legacy ones
    // take Branch B, which checks csaddr first.
    for (json, v71_aborts) in [
        (
            include_str!("scenarios/debug_branch_a_reads_a_descriptor_at_null.json"),
            false,
        ),
        (
            include_str!("scenarios/debug_branch_a_null_descriptor_v2.json"),
            true,
        ),
    ] {
        let (_, report) = check_clean(json);
        let broke = |version: &str| {
            report.explained.iter().any(|f| {
                f.oracle == "contract"
                    && f.runs[0].starts_with(version)
                    && f.runs[0].ends_with("+debug")
                    && f.explained_by == Some("rd-debug-branch-a-reads-address-zero")
            })
        };
        assert!(broke("v6.19/") && broke("v7.0/"), "{:#?}", report.explained);
        assert_eq!(broke("v7.1/"), v71_aborts, "{:#?}", report.explained);
        // Without the debug key nothing reads address 0 and the contract holds.
        assert!(!report
            .explained
            .iter()
            .any(|f| f.oracle == "contract" && !f.runs[0].ends_with("+debug")));
    }
}

#[test]
fn cpu_id_start_stays_a_possible_cpu_after_unregistration_only_where_fixed() {
    // The contract's cpu_id_start clause on the real versions: v6.19 and
    // v7.0 leave RSEQ_CPU_ID_UNINITIALIZED there on unregistration (the
    // registered kernel bug), v6.18 and v7.1 (2cb68e45120d) write 0.
    let text = include_str!("scenarios/unregister_leaves_cpu_id_start.json");
    let (_, report) = check_clean(text);
    let broke = |version: &str| {
        report.explained.iter().any(|f| {
            f.oracle == "contract"
                && f.runs[0].starts_with(version)
                && f.message
                    .contains("cpu_id_start before the return was 0xffffffff")
                && f.explained_by == Some("r-unregister-leaves-cpu-id-start-impossible")
        })
    };
    assert!(broke("v6.19/") && broke("v7.0/"), "{:#?}", report.explained);
    assert!(
        !broke("v6.18/") && !broke("v7.1/"),
        "{:#?}",
        report.explained
    );
    for run in &report.runs {
        let last = run.observations.last().expect("observations");
        assert_eq!(last.registration, None, "{} did not unregister", run.name());
        let cpu_id_start = last.area.as_ref().expect("area")[0];
        let fixed = matches!(run.version, "v6.18" | "v7.1");
        assert_eq!(cpu_id_start == 0, fixed, "{}", run.name());
    }
}

#[test]
fn cpu_id_start_is_judged_by_the_kernel_write_not_by_a_program_store() {
    // Regression (honggfuzz on registration, found by the clause's first
    // form): the program unregistered and, while the task was still in
    // the kernel, stored 0x3000000 into cpu_id_start; the return found the
    // program's bytes after the kernel's reset to 0. No version wrote an
    // impossible CPU, and the clause now judges only the kernel's writes.
    let text = include_str!("scenarios/store_to_cpu_id_start_while_in_the_kernel.json");
    let (_, report) = check_clean(text);
    assert!(
        !report.explained.iter().any(|f| f.oracle == "contract"
            && f.message.contains("cpu_id_start")
            && f.runs[0].starts_with("v6.18/")),
        "{:#?}",
        report.explained
    );
    let v618 = report
        .runs
        .iter()
        .find(|r| r.version == "v6.18")
        .expect("a v6.18 run");
    let program_store = v618
        .observations
        .iter()
        .any(|o| o.area.as_ref().is_some_and(|a| a[..4] == [0, 0, 0, 3]));
    assert!(program_store, "the return must show the program's store");
}

#[test]
fn a_window_that_ends_the_run_still_sees_its_rseq_call() {
    // Regression (embedded engine on differential, found by the first form
    // of the no-write-while-unregistered check): the last event was an
    // rseq() registration at address 0 made from the kernel. Its window's
    // observation comes at the end of the run, one past the last event, and
    // the window's event range came out empty, so sys_rseq's clear of
    // rseq_cs at 0x8 looked like a write for an unregistered task.
    let text = include_str!("scenarios/rseq_call_as_the_last_event.json");
    let (s, report) = check_clean(text);
    let lowered = s.lower();
    let v618 = &report.runs[0];
    let (before, last) = match &v618.observations[..] {
        [.., b, l] => (b, l),
        _ => panic!("two returns at least"),
    };
    assert_eq!(
        last.step,
        lowered.events.len(),
        "the last return is past the last event"
    );
    assert!(lowered
        .window_events(before.step, last.step)
        .iter()
        .any(|e| matches!(
            e,
            rseq_fuzz::kernel::Event::Syscall(rseq_fuzz::kernel::Syscall::Rseq { .. })
        )));
}

#[test]
fn an_unregistration_that_has_not_run_yet_is_not_judged() {
    // Regression (honggfuzz on registration, against the first form of the
    // cpu_id clause): the registered task forked a CLONE_VM child and,
    // from the kernel, the child called rseq() to unregister. The child's
    // first return (fork's 0) was taken for the unregistration's, whose
    // event the window's range then included though it had not run; it
    // then failed with EINVAL (the child is not registered). Windows now
    // end before the event their observation is made at.
    let text = include_str!("scenarios/unregister_fails_in_a_clone_vm_child.json");
    let (_, report) = check_clean(text);
    let v618 = &report.runs[0];
    let obs = &v618.observations;
    assert!(
        obs.windows(2).any(|w| w[0].task != w[1].task),
        "the run must switch to the child"
    );
    assert!(obs
        .iter()
        .any(|o| o.syscall_ret == Some(-abi::errno::EINVAL)));
}

#[test]
fn a_32_bit_task_never_runs_above_4_gib() {
    // Regression (found by the embedded engine on differential): execve()
    // jumped to a 64-bit entry point on arm32, where v6.19 truncates the IP
    // to unsigned long and v7.0 does not, so the two disagreed about a
    // section. The machine now masks every IP it sets to the word size.
    let text = include_str!("scenarios/arm32_execve_entry_is_word_sized.json");
    let (s, report) = check_clean(text);
    assert!(
        s.layout.code > u64::from(u32::MAX),
        "the scenario must test it"
    );
    for run in &report.runs {
        assert_eq!(run.config.arch.word_bits(), 32);
        for o in &run.observations {
            assert!(o.ip <= u64::from(u32::MAX), "{} at {:#x}", run.name(), o.ip);
        }
    }
}

#[test]
fn an_arm64_frame_saved_without_the_abort_is_the_arm64_bug_when_resumed() {
    // Regression (found by AFL++ on differential): on arm64 as in v6.19 a
    // signal inside a section is delivered without the abort (user_irq is
    // never noted); legacy aborts in the frame. rt_sigreturn shows it.
    let text = include_str!("scenarios/arm64_signal_frame_without_abort.json");
    let (_, report) = check_clean(text);
    assert!(report.explained.iter().any(|f| f.oracle == "differential"
        && f.message.contains("differs in ip")
        && f.explained_by == Some("arm64-user-irq-never-noted")));
}

#[test]
fn registry_ranges_follow_the_registered_area() {
    // Regression (found by the embedded engine on differential): the area
    // was registered one byte past the scenario's area anchor. Observations
    // read the registered area, so v7.0's rseq.flags and slice_ctrl writes
    // at registration are bytes 16..20 and 28 there, the offsets the
    // registry names (they used to be read at the anchor, one byte off).
    let text = include_str!("scenarios/area_registered_one_byte_past_the_anchor.json");
    let (s, report) = check_clean(text);
    let f = explained_as(&report, "r70-rseq-flags-written-at-registration");
    assert!(f.message.contains("[16, 17, 18, 19, 28]"), "{}", f.message);
    let reg = report.runs[0].observations[0]
        .registration
        .expect("registered");
    assert_eq!(reg.addr, s.layout.area + 1);
}

/// Regression scenarios found by fuzzing whose divergence one registry entry
/// explains: (file, entry, a fragment of the finding's message, the runs'
/// releases, why).
const EXPLAINED_REGRESSIONS: [(&str, &str, &str, [&str; 2], &str); 28] = [
    (
        include_str!("scenarios/slice_grant_is_not_carried_past.json"),
        "v2-legacy-mode-no-slice-bits",
        "return 1 differs in struct rseq bytes [28, 29]",
        ["v7.0/", "v7.1/"],
        "the program requests a slice extension (U+28) and is rescheduled: \
         v7.0 reads the request and grants, v7.1's legacy mode cannot; only \
         bytes 28-29 differ, but carrying them past that return compared the \
         grant's timer, which rescheduled v7.0 alone into a kill (embedded \
         engine on differential)",
    ),
    (
        include_str!("scenarios/kvm_run_area_inaccessible_at_guest_entry.json"),
        "r-kvm-pre-guest-work-leaves-rseq-to-the-exit",
        "differs in fate, syscall return, kills",
        ["v6.18/", "v6.19/"],
        "another thread makes the area inaccessible during KVM_RUN: legacy's \
         pre-guest pass faults and kills, KVM_RUN returns -EINTR; the rework \
         does nothing at guest entry and nothing raised TIF_RSEQ, so it returns \
         alive. Broader entries (r-no-cs-evaluation-without-user-irq) matched \
         it first, with a justification about another path",
    ),
    (
        include_str!("scenarios/arm32_exception_in_a_section_then_a_fatal_signal.json"),
        "rd-arm32-exception-return-runs-the-syscall-check",
        "differs in fate, ip",
        ["v6.18/", "v6.19/"],
        "an exception inside a section on arm32 debug with a fatal signal \
         pending: legacy's check killed with SIGSEGV, the rework aborted and \
         the task died of the signal, so both runs died and the entry, \
         which wanted the newer run alive, did not apply (honggfuzz)",
    ),
    (
        include_str!("scenarios/store_to_an_unmapped_page_over_the_area.json"),
        "r-descriptor-validated-only-inside",
        "differs in fate, kills",
        ["v6.18/", "v6.19/"],
        "rseq_cs set above TASK_SIZE, then a 32-byte store starting on the \
         unmapped page below the area: the store faults and the machine \
         drops it, but the classifier took rseq_cs as overwritten, so it \
         missed the bad pointer that legacy's task-work pass killed for \
         (embedded engine, task_work, arm32)",
    ),
    (
        include_str!("scenarios/task_work_abort_after_ids_clobbered.json"),
        "r-no-stale-event-bit-abort",
        "differs in ip, struct rseq bytes [4, 6, 7, 10]",
        ["v6.18/", "v6.19/"],
        "migrated outside any section, IDs clobbered, then task work inside \
         a section: legacy's pass aborted for the stale event bit and \
         rewrote the IDs at one return (embedded engine, task_work)",
    ),
    (
        include_str!("scenarios/task_work_after_ids_clobbered.json"),
        "r-ids-rewritten-only-when-changed",
        "struct rseq bytes [0, 10]",
        ["v6.18/", "v6.19/"],
        "the program clobbered cpu_id_start and stored rseq_cs while in the \
         kernel for task work: legacy's notify-resume pass rewrote the ID \
         and cleared rseq_cs at one return, which the entry allowed only \
         one at a time (embedded engine, task_work)",
    ),
    (
        include_str!("scenarios/task_work_in_a_section_after_a_preemption_outside.json"),
        "r-no-stale-event-bit-abort",
        "differs in ip, struct rseq bytes [10]",
        ["v6.18/", "v6.19/"],
        "preempted outside any section, then task work while inside one: \
         legacy's notify-resume pass found the preemption's event bit still \
         set and aborted; the rework has no event mask (embedded engine, \
         the first campaign with task_work)",
    ),
    (
        include_str!("scenarios/unregister_after_a_registration_at_null_debug.json"),
        "v2-unregister-skips-debug-id-validation",
        "syscall return",
        ["v7.0/", "v7.1/"],
        "an area registered at NULL, then another (usrptr is 0, so the \
         re-registration check passes without a reset), then unregistered \
         with the debug key on: v7.0 validated the stale cached IDs and \
         killed, v7.1 does not validate (embedded engine)",
    ),
    (
        include_str!("scenarios/arm32_exception_inside_a_section.json"),
        "rd-arm32-exception-return-runs-the-syscall-check",
        "differs in fate, ip",
        ["v6.18/", "v6.19/"],
        "an exception inside a section on arm32 with CONFIG_DEBUG_RSEQ: \
         ret_to_user's syscall check killed legacy and aborted the rework \
         (independent review of v7_1.rs against entry-armv.S)",
    ),
    (
        include_str!("scenarios/sigreturn_into_a_section_then_debug_kill.json"),
        "sigreturn-to-a-frame-saved-differently",
        "differs in ip, kills, SIGSEGV handler",
        ["v6.18/", "v6.19/"],
        "a syscall inside a section, a caught kill whose frame legacy aborted \
         and the rework did not, then rt_sigreturn: with the debug checks on, \
         the sigreturn's own syscall-return check killed the rework, whose \
         restored IP lay in the section (embedded engine)",
    ),
    (
        include_str!("scenarios/task_dies_after_stale_rseq_cs.json"),
        "r-no-id-update-for-a-task-that-dies-in-the-exit-loop",
        "struct rseq bytes [0, 4, 10, 20, 24]",
        ["v6.18/", "v6.19/"],
        "a stale rseq_cs, a handled signal, a migration, then a fatal signal: \
         legacy's notify-resume wrote the IDs and lazily cleared rseq_cs before \
         the task died, the rework did neither; the entry allowed only ID bytes \
         (embedded engine)",
    ),
    (
        include_str!("scenarios/unregister_after_ids_clobbered_debug.json"),
        "v2-unregister-skips-debug-id-validation",
        "syscall return",
        ["v7.0/", "v7.1/"],
        "the program stored into cpu_id_start and unregistered with the debug \
         key on: v7.0's rseq_reset_ids() validated the IDs, killed and failed \
         with EFAULT; v7.1's writes them without validation (honggfuzz)",
    ),
    (
        include_str!("scenarios/unregister_after_area_clobbered_slice_debug.json"),
        "v2-unregister-skips-debug-id-validation",
        "syscall return",
        ["v7.0/", "v7.1/"],
        "the same with the slice extension: both releases kill on the clobbered \
         slice_ctrl, only v7.0 also fails the unregistration (embedded engine)",
    ),
    (
        include_str!("scenarios/sigreturn_after_ids_clobbered.json"),
        "sigreturn-to-a-frame-saved-differently",
        "differs in ip, struct rseq bytes [24, 25, 26, 27]",
        ["v6.18/", "v6.19/"],
        "a syscall inside a section, a handled kill, an mm_cid store, then \
         rt_sigreturn: legacy aborted in the frame and rewrote the clobbered \
         mm_cid, the rework did neither; the entry allowed only rseq_cs bytes \
         beside the IP (embedded engine)",
    ),
    (
        include_str!("scenarios/debug_branch_a_reads_a_descriptor_at_null.json"),
        "rd-debug-branch-a-reads-address-zero",
        "differs in ip",
        ["v6.18/", "v6.19/"],
        "page 0 holds a descriptor covering the IP and rseq_cs is 0; with the \
         debug key, v6.19's Branch A runs the section routine on address 0 and \
         aborts. The entry now requires that read in the window (it used to \
         explain any debug divergence while page 0 was mapped)",
    ),
    (
        include_str!("scenarios/area_in_the_last_32_bytes_below_task_size.json"),
        "r70-registration-checks-access-over-64-bytes",
        "syscall return",
        ["v6.19/", "v7.0/"],
        "a 32-byte area in the last 32 bytes below TASK_SIZE on riscv64: v7.0's \
         rseq_register() write region is sizeof(struct rseq) = 64 bytes and \
         user_access_begin() checks access_ok() over it (honggfuzz)",
    ),
    (
        include_str!("scenarios/thread_flags_stored_before_registration.json"),
        "r-descriptor-validated-only-inside",
        "differs in fate",
        ["v6.18/", "v6.19/"],
        "the program stored 0x10 into rseq.flags before it registered; legacy \
         rseq_need_restart() kills on any thread-flag bit, the rework ignores \
         them; the classifier only judged flag stores made while registered \
         (embedded engine, arm32)",
    ),
    (
        include_str!("scenarios/slice_ctrl_write_faults_on_a_cow_area_after_a_fork.json"),
        "r70-branch-a-writes-slice-ctrl",
        "return 2 differs in struct rseq bytes [0, 4, 20, 23, 24, 25, 26, 27, 28, 29, 30, 31] (after",
        ["v6.19/", "v7.0/"],
        "the program clobbers struct rseq (at address 0) and forks; at the \
         next exit v7.0's Branch A slice_ctrl write faults on the COW page \
         and the slow path rewrites the IDs and zeroes slice_ctrl, where \
         v6.19 wrote nothing. Hidden behind the registration's rseq.flags \
         difference until the comparison went past it; the entry allowed \
         ID bytes only (embedded engine)",
    ),
    (
        include_str!("scenarios/thread_flags_in_the_initial_image.json"),
        "r-descriptor-validated-only-inside",
        "differs in fate, ip",
        ["v6.18/", "v6.19/"],
        "the program's initial image held a descriptor that overlaps struct \
         rseq, putting 0x10 in rseq.flags before the registration; legacy \
         rseq_need_restart() kills on it. The classifier judged only flag \
         bytes the program stored, so the contract called the program \
         conforming and the kill a contract break (embedded engine)",
    ),
    (
        include_str!("scenarios/area_registered_over_the_descriptor.json"),
        "r-registration-checks",
        "struct rseq bytes [16]",
        ["v6.19/", "v7.0/"],
        "an earlier registration attempt put struct rseq over the descriptor; \
         v7.0's sys_rseq() wrote rseq.flags there, which is the descriptor's \
         post_commit_offset, v6.19's did not. Since observations read the \
         registered area, that write shows at the registration's return, \
         where the misuse explains it, before the fate it changes later \
         (embedded engine)",
    ),
    (
        include_str!("scenarios/area_registered_in_the_code_page_then_lazily_cleared.json"),
        "r-ids-rewritten-only-when-changed",
        "struct rseq bytes [10]",
        ["v6.18/", "v6.19/"],
        "struct rseq registered on the code page, away from the layout's \
         area; a store while the task is in the kernel sets rseq_cs. At the \
         syscall's return legacy's notify-resume pass clears it (IP outside \
         the section) and the rework, entered by a syscall, does not look. \
         Observations read the layout's area then, so the difference showed \
         only at the next preemption, as an abort in v6.19 alone (libFuzzer, \
         --no-trace-compares)",
    ),
    (
        include_str!("scenarios/program_sets_thread_flags.json"),
        "r-descriptor-validated-only-inside",
        "differs in fate",
        ["v6.18/", "v6.19/"],
        "the program stored 0x20 into rseq.flags; legacy rseq_need_restart() \
         kills on any thread-flag bit, the rework ignores them (spec §6 row 4); \
         the classifier took bit 5 for v7.0's own (honggfuzz, CI smoke)",
    ),
    (
        include_str!("scenarios/rseq_cs_stored_while_in_the_kernel_arm32.json"),
        "r-no-event-mask",
        "differs in ip",
        ["v6.18/", "v6.19/"],
        "rseq_cs stored while the task was in the rseq syscall, on arm32: \
         legacy's bare notify-resume sets no event bit, the rework's slow \
         path evaluates the section and aborts (honggfuzz)",
    ),
    (
        include_str!("scenarios/sigreturn_to_frames_saved_differently.json"),
        "sigreturn-to-a-frame-saved-differently",
        "differs in ip",
        ["v6.18/", "v6.19/"],
        "a descriptor stored while the task was in a syscall; the debug check \
         forces SIGSEGV, legacy aborts in the signal frame, the rework does \
         not, and rt_sigreturn shows it later (embedded engine)",
    ),
    (
        include_str!("scenarios/descriptor_inside_the_area.json"),
        "descriptor-inside-the-area-reads-kernel-bytes",
        "differs in fate",
        ["v6.19/", "v7.0/"],
        "rseq_cs points into struct rseq, so start_ip overlaps rseq.flags, \
         which v7.0 writes at registration (embedded engine)",
    ),
    (
        include_str!("scenarios/area_registered_before_the_anchor.json"),
        "r70-rseq-flags-written-at-registration",
        "struct rseq bytes [16]",
        ["v6.19/", "v7.0/"],
        "registered 16 bytes before the area anchor: rseq.flags showed at \
         bytes 0..4 of the anchor's area, and shows at its own offset now \
         that observations read the registered area (embedded engine)",
    ),
    (
        include_str!("scenarios/task_dies_of_a_signal_in_the_exit_loop.json"),
        "r-no-id-update-for-a-task-that-dies-in-the-exit-loop",
        "struct rseq bytes [0, 4, 20, 24]",
        ["v6.18/", "v6.19/"],
        "a fatal signal in the exit loop kills the task before the rework's \
         ID update, after legacy's notify-resume work wrote them (honggfuzz)",
    ),
    (
        include_str!("scenarios/v2_ro_check_kills_after_a_handled_signature_kill.json"),
        "v2-optimized-mode-ro-enforcement",
        "differs in fate, struct rseq bytes [0, 4, 20]",
        ["v7.0/", "v7.1/"],
        "cpu_id_start clobbered, then a signal in a section whose signature \
         is wrong: both force SIGSEGV, a handler catches it, and only V2's \
         read-only check kills at the next exit; both runs were 'killed', \
         so the entry's old test (killed in one run only) missed it \
         (embedded engine)",
    ),
];

#[test]
fn regressions_are_explained_by_their_registry_entries() {
    for (json, entry, fragment, [old, new], why) in EXPLAINED_REGRESSIONS {
        let (_, report) = check_clean(json);
        // An entry may explain a contract candidate too: take its
        // differential one.
        let f = report
            .explained
            .iter()
            .find(|f| f.oracle == "differential" && f.explained_by == Some(entry))
            .unwrap_or_else(|| panic!("{why}: no differential candidate explained by {entry}"));
        assert!(f.message.contains(fragment), "{why}: {}", f.message);
        assert!(
            f.runs[0].starts_with(old) && f.runs[1].starts_with(new),
            "{why}: {:?}",
            f.runs
        );
    }
}

/// The fault-transparency oracle makes no fault-free reference for a run
/// that `fault::reference_may_differ` clears. Check the claim behind that:
/// over every input of corpus/, on every run the input selects, a cleared
/// run equals its fault-free reference event for event and return for
/// return. Flagged runs are counted too, and some must differ from their
/// references: otherwise the corpus would not show that the flag matters.
#[test]
fn a_run_cleared_of_resolvable_faults_equals_its_fault_free_reference() {
    use rseq_fuzz::oracles::fault;
    use rseq_fuzz::runner;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let (mut cleared, mut flagged, mut flagged_and_different) = (0, 0, 0);
    for t in rseq_fuzz::targets::TARGETS {
        let mut files: Vec<_> = std::fs::read_dir(root.join(t.name))
            .expect("corpus dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        files.sort();
        for f in files {
            let scenario = (t.decode)(&std::fs::read(&f).expect("read corpus file"));
            let Ok(runs) = scenario.runs() else { continue };
            let lowered = scenario.lower();
            for (v, c) in runs {
                let run = runner::run(v, c, &lowered, false);
                let reference = runner::run(v, c, &lowered, true);
                let same = run.trace.events == reference.trace.events
                    && run.observations == reference.observations;
                if fault::reference_may_differ(&run) {
                    flagged += 1;
                    flagged_and_different += usize::from(!same);
                } else {
                    cleared += 1;
                    assert!(
                        same,
                        "{} on {}: no access faulted on a resolvable page with faults disabled, \
                         yet the fault-free reference differs",
                        f.display(),
                        run.name()
                    );
                }
            }
        }
    }
    assert!(
        cleared > 0 && flagged > 0,
        "cleared {cleared}, flagged {flagged}"
    );
    assert!(
        flagged_and_different > 0,
        "no flagged run differs from its reference ({flagged} flagged)"
    );
}

#[test]
fn each_oracle_fails_with_its_own_message() {
    // oracles::fail() panics from a function per oracle (crash identity,
    // scripts/crash-identity-check.sh); the message must stay the finding's.
    for oracle in [
        "contract",
        "security",
        "liveness",
        "fault-transparency",
        "differential",
        "not-an-oracle",
    ] {
        let finding = oracles::Finding::new(
            oracle,
            vec!["v6.18/x86_64".into()],
            3,
            format!("why {oracle} failed"),
        );
        let panic = std::panic::catch_unwind(|| oracles::fail(&finding)).expect_err("must panic");
        let msg = panic.downcast_ref::<String>().expect("message");
        assert_eq!(msg, &finding.panic_message());
        assert!(
            msg.starts_with(&format!("oracle {oracle} failed: why {oracle} failed")),
            "{msg}"
        );
    }
}

// ---------------------------------------------------------------------------
// The differential oracle past a registered divergence.

/// Two identical v6.19 runs of the conforming program, for the tests to
/// edit into the runs of two releases.
fn twin_runs() -> (rseq_fuzz::runner::Run, rseq_fuzz::runner::Run) {
    let s = conforming_preempted_in_cs();
    let lowered = s.lower();
    let v = versions::find("v6.19").expect("v6.19");
    let run = || rseq_fuzz::runner::run(v, x86(), &lowered, false);
    (run(), run())
}

/// Set byte `off` of the new run's area to `value` at every return, as a
/// release that writes a field the older one leaves alone would (v7.0's
/// rseq.flags at registration).
fn set_area_byte_everywhere(r: &mut rseq_fuzz::runner::Run, off: usize, value: u8) {
    for o in &mut r.observations {
        o.area.as_mut().expect("area readable")[off] = value;
    }
}

#[test]
fn differential_compares_on_past_area_bytes_a_registered_divergence_left_different() {
    use rseq_fuzz::oracles::differential::{carry_past, compare, compare_from};
    let (old, mut new) = twin_runs();
    assert!(old.observations.len() >= 4, "{:?}", old.observations.len());
    set_area_byte_everywhere(&mut new, rseq::FLAGS as usize, 0x30);
    let (first, k) = compare(&old, &new).expect("return 0 differs");
    assert_eq!(k, 0);
    assert!(
        first.message.ends_with("struct rseq bytes [16]"),
        "{}",
        first.message
    );
    let carried = carry_past(&old, &new, 0).expect("a difference in area bytes alone is carried");
    // Nothing else differs: the pair is done.
    assert!(compare_from(&old, &new, 1, &carried).is_none());

    // A later difference of another kind is judged, without the carried byte.
    new.observations[2].ip ^= 4;
    let (later, k) = compare_from(&old, &new, 1, &carried).expect("return 2 differs");
    assert_eq!(k, 2);
    assert!(
        later.message.starts_with("return 2 differs in ip ("),
        "{}",
        later.message
    );
    assert!(
        later
            .message
            .contains("left struct rseq bytes [16] different"),
        "{}",
        later.message
    );
    new.observations[2].ip ^= 4;

    // So is the carried byte once it changes in one run.
    new.observations[1].area.as_mut().expect("area")[rseq::FLAGS as usize] = 0x31;
    let (changed, k) = compare_from(&old, &new, 1, &carried).expect("return 1 differs");
    assert_eq!(k, 1);
    assert!(
        changed
            .message
            .contains("differs in struct rseq bytes [16]"),
        "{}",
        changed.message
    );

    // A return that one run makes and the other does not is a difference
    // in fate, carried bytes or not.
    new.observations[1].area.as_mut().expect("area")[rseq::FLAGS as usize] = 0x30;
    let mut old = old;
    let last = old.observations.len() - 1;
    old.observations.truncate(last);
    let (missing, k) = compare_from(&old, &new, 1, &carried).expect("a return is missing");
    assert_eq!(k, last);
    assert!(
        missing.message.contains("differs in fate"),
        "{}",
        missing.message
    );

    // A difference in more than area bytes is not carried.
    let (old, mut new) = twin_runs();
    new.observations[0].ip ^= 4;
    assert!(carry_past(&old, &new, 0).is_none());
}

#[test]
fn differential_stops_where_a_kernel_reads_a_byte_left_different() {
    use rseq_fuzz::mem::AccessKind;
    use rseq_fuzz::oracles::differential::{carry_past, compare_from};
    use rseq_fuzz::trace::TraceEvent;
    let (old, mut new) = twin_runs();
    // rseq_cs's low byte: the exit after the preemption (return 1) reads it.
    let off = rseq::RSEQ_CS as usize;
    let area = old.observations[1].area_addr;
    let window =
        &old.trace.events[old.observations[1].trace_range.0..old.observations[1].trace_range.1];
    assert!(
        window.iter().any(|e| matches!(e,
            TraceEvent::Access { kind: AccessKind::Read, addr, .. } if *addr == area + off as u64)),
        "the premise: return 1's window reads rseq_cs"
    );
    let value = old.observations[0].area.as_ref().expect("area")[off] ^ 0x40;
    for o in &mut new.observations[..1] {
        o.area.as_mut().expect("area")[off] = value;
    }
    // The exit after the registration (return 0) reads rseq_cs as well: a
    // byte a kernel read in the window where it came to differ is not
    // carried, since the kernel may have acted on it.
    assert!(carry_past(&old, &new, 0).is_none());
    // Without that read, the byte is carried into return 1.
    let mut old = old;
    for run in [&mut old, &mut new] {
        let (start, end) = run.observations[0].trace_range;
        for e in &mut run.trace.events[start..end] {
            if let TraceEvent::Access { kind, addr, .. } = e {
                if *addr == area + off as u64 {
                    *kind = AccessKind::Write;
                }
            }
        }
    }
    let carried = carry_past(&old, &new, 0).expect("carried");
    // What follows the read may be the difference's consequence, which no
    // registry entry describes: the pair ends there, even with an IP change.
    new.observations[2].ip ^= 4;
    assert!(compare_from(&old, &new, 1, &carried).is_none());
    // Where the carried byte is one no kernel reads, the same change is found.
    let (old, mut new) = twin_runs();
    set_area_byte_everywhere(&mut new, rseq::FLAGS as usize, 0x30);
    let carried = carry_past(&old, &new, 0).expect("carried");
    new.observations[2].ip ^= 4;
    assert!(compare_from(&old, &new, 1, &carried).is_some());
}

#[test]
fn a_registered_divergence_no_longer_hides_later_returns() {
    // Register, then unregister. v7.1's legacy mode does not write the
    // slice bits of rseq.flags that v7.0's slice build writes at
    // registration (v2-legacy-mode-no-slice-bits, return 0). The
    // unregistration's return used to go unexamined in the slice builds,
    // while the builds without the slice extension, which have no return-0
    // difference, showed v2-cpu-id-start-zero-on-unregister there.
    let json = include_str!("../docs/examples/07-register-then-unregister.json");
    let (_, report) = check_clean(json);
    for build in ["slice", "slice-off", "slice+debug", "slice-off+debug"] {
        let new = format!("v7.1/x86_64+ge+gie+tifb+{build}");
        let of_pair: Vec<_> = report
            .explained
            .iter()
            .filter(|f| f.oracle == "differential" && f.runs[1] == new)
            .collect();
        let ids: Vec<_> = of_pair.iter().map(|f| f.explained_by).collect();
        assert_eq!(
            ids,
            [
                Some("v2-legacy-mode-no-slice-bits"),
                Some("v2-cpu-id-start-zero-on-unregister")
            ],
            "{new}: {of_pair:#?}"
        );
        assert!(
            of_pair[1]
                .message
                .starts_with("return 2 differs in struct rseq bytes [0, 1, 2, 3] (after"),
            "{}",
            of_pair[1].message
        );
    }
}

#[test]
fn differential_pairs_only_the_same_slice_build_where_the_older_release_has_it() {
    use rseq_fuzz::oracles::differential::pairs;
    use rseq_fuzz::scenario::RunSelect;
    let names = |runs: &[&str]| -> Vec<(String, String)> {
        let s = Scenario {
            arch: Arch::Riscv64,
            run: RunSelect::Only(runs.iter().map(|r| r.to_string()).collect()),
            ..Scenario::default()
        };
        let lowered = s.lower();
        let runs: Vec<_> = s
            .runs()
            .expect("runs")
            .into_iter()
            .map(|(v, c)| rseq_fuzz::runner::run(v, c, &lowered, false))
            .collect();
        pairs(&runs)
            .into_iter()
            .map(|(o, n)| (runs[o].name(), runs[n].name()))
            .collect()
    };
    // v6.19 has no slice extension: v7.0's slice build compares with its
    // plain build.
    assert_eq!(
        names(&[
            "v6.19/riscv64+ge+gie+tifb",
            "v7.0/riscv64+ge+gie+tifb+slice"
        ]),
        [(
            "v6.19/riscv64+ge+gie+tifb".to_string(),
            "v7.0/riscv64+ge+gie+tifb+slice".to_string()
        )]
    );
    // v7.0 has the slice build: without it selected, v7.1's is compared
    // with nothing rather than judged against the plain build.
    assert!(names(&["v7.0/riscv64+ge+gie+tifb", "v7.1/riscv64+ge+gie+tifb+slice"]).is_empty());
    assert_eq!(
        names(&[
            "v7.0/riscv64+ge+gie+tifb+slice",
            "v7.1/riscv64+ge+gie+tifb+slice"
        ])
        .len(),
        1
    );
}

#[test]
fn fault_transparency_is_judged_past_an_explained_return() {
    // The program clobbers cpu_id twice, and each time the area page is
    // reclaimed before a preemption. The v6.19 fast path faults, and the
    // slow path rewrites the IDs, which the fault-free fast path (IDs
    // unchanged, Branch A) leaves clobbered: a registered difference in
    // byte 4 at return 1. The oracle used to stop there; it now carries
    // byte 4 and judges return 2, where the same thing happens again.
    let text = include_str!("scenarios/fault_transparency_judged_past_an_explained_return.json");
    let (_, report) = check_clean(text);
    let explained: Vec<&str> = report
        .explained
        .iter()
        .filter(|f| {
            f.oracle == "fault-transparency"
                && f.explained_by == Some("r-slowpath-rewrites-ids-unconditionally")
        })
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(explained.len(), 2, "{explained:#?}");
    assert!(explained[0].contains("at return 1: struct rseq bytes [4]"));
    assert!(
        explained[1].contains("at return 2: struct rseq bytes [4]")
            && explained[1].contains("after a registered divergence"),
        "{}",
        explained[1]
    );
}

// ---- KVM_RUN --------------------------------------------------------------

/// The user accesses a run's kernel made while handling event `step` (up to
/// the next one), as (function, write?, address). Events 0 and 1 are the
/// registration and its return, so scenario step i is event i + 2.
fn accesses_in_step(run: &rseq_fuzz::runner::Run, step: usize) -> Vec<(&'static str, bool, u64)> {
    use rseq_fuzz::mem::AccessKind;
    use rseq_fuzz::trace::TraceEvent;
    let mut inside = false;
    let mut out = Vec::new();
    for e in &run.trace.events {
        match e {
            TraceEvent::Step { index } => inside = *index == step,
            TraceEvent::Access {
                function,
                addr,
                kind,
                ..
            } if inside => out.push((*function, *kind == AccessKind::Write, *addr)),
            _ => {}
        }
    }
    out
}

/// The decision points a run took while handling scenario event `step`.
fn decisions_in_step(run: &rseq_fuzz::runner::Run, step: usize) -> Vec<&'static str> {
    use rseq_fuzz::trace::TraceEvent;
    let mut inside = false;
    let mut out = Vec::new();
    for e in &run.trace.events {
        match e {
            TraceEvent::Step { index } => inside = *index == step,
            TraceEvent::Decision { point } if inside => out.push(*point),
            _ => {}
        }
    }
    out
}

#[test]
fn kvm_run_pre_guest_work_writes_ids_only_in_legacy() {
    // Migrated inside KVM_RUN, then the guest is entered again (scenario
    // step 3, event 5), then the exit (event 6). On every architecture
    // with a KVM host: x86_64 and riscv64 have generic TIF bits, arm64 has
    // not, so there the rework's pre-guest pass clears the bit TIF_RSEQ
    // shares and rseq_virt_userspace_exit() must raise it again.
    let text = include_str!("../docs/examples/18-kvm-run.json");
    for arch in [Arch::X86_64, Arch::Riscv64, Arch::Arm64] {
        let mut s = Scenario::from_json(text).expect("scenario");
        s.arch = arch;
        let report = oracles::check(&s, &Options::default()).expect("check");
        assert!(
            report.findings.is_empty(),
            "{arch:?}: {:#?}",
            report.findings
        );
        let area = s.layout.area;
        for run in &report.runs {
            let at_guest_entry = accesses_in_step(run, 5);
            if run.version == "v6.18" {
                // __rseq_handle_notify_resume(NULL regs): the four ID writes,
                // and no look at rseq_cs (no fix-up without registers).
                let writes: Vec<u64> = at_guest_entry
                    .iter()
                    .filter(|a| a.1)
                    .map(|a| a.2 - area)
                    .collect();
                assert_eq!(writes, [0, 4, 20, 24], "{}", run.name());
                assert!(
                    !at_guest_entry.iter().any(|a| a.2 == area + 8),
                    "{}: {at_guest_entry:?}",
                    run.name()
                );
            } else {
                // The slow path returns for NULL regs; the IDs wait for the
                // exit. Only without generic entry does a switch event open
                // the slow path's gate before guest entry.
                assert!(
                    at_guest_entry.is_empty(),
                    "{}: {at_guest_entry:?}",
                    run.name()
                );
                let regs_null =
                    decisions_in_step(run, 5).contains(&"__rseq_handle_slowpath/regs_null");
                assert_eq!(regs_null, arch == Arch::Arm64, "{}", run.name());
                let at_exit = accesses_in_step(run, 6);
                assert!(
                    at_exit.iter().any(|a| a.1 && a.2 == area + 4),
                    "{}: the exit writes cpu_id: {at_exit:?}",
                    run.name()
                );
            }
            // Every release shows the new CPU when KVM_RUN returns.
            let o = &run.observations[1];
            assert_eq!((o.cpu, o.syscall_ret), (3, Some(0)), "{}", run.name());
            assert_eq!(o.area.as_ref().unwrap()[4], 3, "{}", run.name());
        }
    }
}

#[test]
fn kvm_run_ends_with_eintr_for_a_signal_and_is_enodev_on_arm32() {
    let eintr = r#"{
      "arch": "x86_64", "handlers": 1024,
      "steps": [
        { "step": "kvm_run" },
        { "step": "signal", "sig": 10 },
        { "step": "guest_entry" },
        { "step": "task_work" },
        { "step": "guest_entry" },
        { "step": "exit_to_user" }
      ]
    }"#;
    let arm32 = r#"{
      "arch": "arm32",
      "steps": [
        { "step": "kvm_run" },
        { "step": "task_work" },
        { "step": "guest_entry" },
        { "step": "exit_to_user" }
      ]
    }"#;
    // (scenario, KVM_RUN's return, the event of a guest entry that must run
    // no pre-guest work). With -EINTR vcpu_run has returned, so the second
    // guest entry (event 6) does nothing, though task work is pending (the
    // exit writes the IDs); on arm32, which has no KVM host, KVM_RUN does
    // nothing at all.
    for (json, ret, idle_guest_entry) in [
        (eintr, -abi::errno::EINTR, 6),
        (arm32, -abi::errno::ENODEV, 4),
    ] {
        let (_, report) = check_clean(json);
        for run in &report.runs {
            assert_eq!(run.observations[1].syscall_ret, Some(ret), "{}", run.name());
            assert!(
                accesses_in_step(run, idle_guest_entry).is_empty(),
                "{}",
                run.name()
            );
        }
    }
}

#[test]
fn a_switched_out_vcpu_thread_is_switched_in_before_the_guest_entry() {
    // Regression (embedded engine on differential): KVM_RUN, switched out,
    // then guest_entry. The pre-guest work ran for the switched-out task,
    // consumed v6.18's TIF_NOTIFY_RESUME and wrote the old mm_cid (2); the
    // switch-in after it moved the task to cid 0 with nothing left to write
    // it, and the contract failed. A task enters the guest only running.
    let text = include_str!("scenarios/guest_entry_while_switched_out.json");
    let (_, report) = check_clean(text);
    for run in &report.runs {
        let o = &run.observations[1];
        assert_eq!(o.mm_cid, 0, "{}", run.name());
        assert_eq!(o.area.as_ref().expect("area")[24], 0, "{}", run.name());
    }
}
