//! Live-kernel conformance tests. On a host without the harness (not x86_64
//! Linux with glibc, or rseq not registered) every test prints
//! "unsupported: ..." and returns.

use rseq_fuzz::abi::errno;
use rseq_fuzz::config::Config;
use rseq_fuzz::kernel::{tif, Kctx, KernelVersion, Machine, Model, Setup, EXIT_LOOP_BOUND};
use rseq_fuzz::live::suite::{self, Expect};
use rseq_fuzz::live::*;
use rseq_fuzz::versions;
use std::sync::Mutex;

/// The harness children of all tests share one CPU: run the live tests one
/// at a time so that they do not preempt each other's critical sections.
static SERIAL: Mutex<()> = Mutex::new(());

fn harness() -> Option<LiveHarness> {
    match LiveHarness::new() {
        Ok(h) => Some(h),
        Err(e) => {
            println!("{e}");
            assert!(e.starts_with("unsupported"), "{e}");
            None
        }
    }
}

fn host_is_legacy() -> bool {
    model_name_for_release(&host_release()) == Some("v6.18")
}

/// Run a case live; a result that differs from `want` is run again (noise
/// is ~5e-5), and the last result is returned.
fn live(h: &mut LiveHarness, case: &LiveCase, want: Option<Outcome>) -> Result<Outcome, LiveError> {
    let mut r = h.run_case(case);
    for _ in 0..3 {
        if want.is_none() || r.as_ref().ok() == want.as_ref() {
            break;
        }
        r = h.run_case(case);
    }
    r
}

fn named(name: &str) -> LiveCase {
    suite::suite()
        .into_iter()
        .find(|s| s.case.name == name)
        .unwrap_or_else(|| panic!("no suite case {name}"))
        .case
}

#[test]
fn key_cases_on_the_live_kernel() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut h) = harness() else { return };
    if !host_is_legacy() {
        println!(
            "skipped: host {} is not a legacy (<= 6.18) kernel",
            host_release()
        );
        return;
    }
    let l = h.layout().clone();
    let fatal = Outcome::Killed { fatal: true };
    let caught = Outcome::Killed { fatal: false };
    let checks = [
        (
            "valid_inside_tgkill_aborts",
            Outcome::Aborted { to: l.pad_good },
        ),
        (
            "valid_inside_nanosleep_aborts",
            Outcome::Aborted { to: l.pad_good },
        ),
        ("abort_before_cs", Outcome::Aborted { to: l.pad_pre }),
        ("valid_outside_tgkill_clears", Outcome::Cleared),
        ("null_rseq_cs_clears", Outcome::Cleared),
        ("sig_wrong_before_pad", fatal),
        ("desc_prot_none", fatal),
        ("desc_unmapped", fatal),
        ("desc_memfd_dontneed", Outcome::Aborted { to: l.pad_good }),
        ("version_1_outside_still_kills", fatal),
        ("cs_flags_no_restart_on_preempt", caught),
        ("cs_flags_nanosleep", fatal),
        (
            "valid_inside_membarrier_aborts",
            Outcome::Aborted { to: l.pad_good },
        ),
        ("valid_outside_membarrier_clears", Outcome::Cleared),
        ("cs_flags_tgkill_segv", fatal),
        ("area_flags_no_restart", caught),
        ("cs_flags_outside_clears", Outcome::Cleared),
    ];
    for (name, want) in checks {
        let got = live(&mut h, &named(name), Some(want));
        assert_eq!(got, Ok(want), "{name}: live {got:?}, expected {want:?}");
    }
}

/// Every built-in case does on this (legacy) kernel what the spec's legacy
/// description (§3.5) says.
#[test]
fn built_in_suite_matches_the_legacy_description() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut h) = harness() else { return };
    if !host_is_legacy() {
        println!(
            "skipped: host {} is not a legacy (<= 6.18) kernel",
            host_release()
        );
        return;
    }
    let l = h.layout().clone();
    let mut failures = Vec::new();
    let mut ran = 0;
    for s in suite::suite() {
        let Ok(res) = resolve(&s.case, &l) else {
            println!("skipped {}: the top page is not free", s.case.name);
            continue;
        };
        let want = s.expect.outcome(&s.case, &res);
        match live(&mut h, &s.case, Some(want)) {
            Ok(got) if got == want => ran += 1,
            Err(LiveError::Skipped(why)) => println!("skipped {}: {why}", s.case.name),
            other => failures.push(format!("{}: live {other:?}, spec {want:?}", s.case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 80, "only {ran} suite cases ran");
}

/// The suite reaches every page state, trigger and expectation kind.
#[test]
fn built_in_suite_covers_every_state_and_rule() {
    let s = suite::suite();
    for kind in PageKind::ALL {
        assert!(
            s.iter().any(|c| c.case.desc_pages.contains(&kind)),
            "no descriptor page {kind:?}"
        );
        assert!(
            s.iter()
                .any(|c| c.case.sig_pages.contains(&kind)
                    && c.case.abort_ip.anchor == Anchor::AfterSig),
            "no signature page {kind:?}"
        );
    }
    for t in [
        Trigger::Tgkill,
        Trigger::TgkillSegv,
        Trigger::Nanosleep,
        Trigger::Membarrier,
    ] {
        assert!(s.iter().any(|c| c.case.trigger == t), "no trigger {t:?}");
    }
    for e in [
        Expect::Abort,
        Expect::Clear,
        Expect::KillValidation,
        Expect::KillNeedRestart,
    ] {
        assert!(s.iter().any(|c| c.expect == e), "no expectation {e:?}");
    }
    let mut names: Vec<_> = s.iter().map(|c| c.case.name.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), s.len(), "suite names repeat");
}

// ---------------------------------------------------------------------------
// A minimal reference of the legacy fixup (kernel/rseq.c up to v6.18:
// __rseq_handle_notify_resume, rseq_ip_fixup, rseq_get_rseq_cs,
// rseq_need_restart), written here only to test the comparison's plumbing
// (memory, events, classification) before the project's v6.18 model is
// registered. It is not the project's model.

rseq_fuzz::decision_points! {
    pub enum RefPoint {
        Fixup = "rseq_ip_fixup/ran",
    }
}

#[derive(Clone, Debug, Default)]
struct RefState {
    area: u64,
    sig: u32,
    events: u32,
}

struct RefLegacy;

const F: &str = "ref_legacy";

fn ref_fixup(k: &mut Kctx<'_, RefLegacy>) -> Result<(), ()> {
    k.decide(RefPoint::Fixup);
    let ts = k.task_size();
    let area = k.rseq.area;
    let ptr = k.get_user_u64(F, area + 8).map_err(|_| ())?;
    let (mut flags, mut start, mut off, mut abort) = (0u32, 0u64, 0u64, 0u64);
    if ptr != 0 {
        if ptr >= ts {
            return Err(());
        }
        let d = k.copy_from_user::<32>(F, ptr).map_err(|_| ())?;
        let u32_at = |i: usize| u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        let u64_at = |i: usize| u64::from_le_bytes(d[i..i + 8].try_into().unwrap_or([0; 8]));
        let version = u32_at(0);
        flags = u32_at(4);
        start = u64_at(8);
        off = u64_at(16);
        abort = u64_at(24);
        let end = start.wrapping_add(off);
        if start >= ts || end >= ts || abort >= ts || version > 0 || end < start {
            return Err(());
        }
        if abort.wrapping_sub(start) < off {
            return Err(());
        }
        let sig = k.get_user_u32(F, abort.wrapping_sub(4)).map_err(|_| ())?;
        if sig != k.rseq.sig {
            return Err(());
        }
    }
    let ip = k.instruction_pointer();
    if ip.wrapping_sub(start) >= off {
        return k.put_user_u64(F, area + 8, 0).map_err(|_| ());
    }
    if flags != 0 {
        return Err(());
    }
    let tflags = k.get_user_u32(F, area + 16).map_err(|_| ())?;
    if tflags != 0 {
        return Err(());
    }
    let had = std::mem::take(&mut k.rseq.events);
    if had == 0 {
        return Ok(());
    }
    k.put_user_u64(F, area + 8, 0).map_err(|_| ())?;
    k.instruction_pointer_set(abort, "rseq abort");
    Ok(())
}

fn ref_handle(k: &mut Kctx<'_, RefLegacy>, signo: u8) {
    if k.task_exiting() || k.rseq.area == 0 {
        return;
    }
    let area = k.rseq.area;
    let cpu = k.task_cpu();
    let cid = k.task_mm_cid();
    let ok = ref_fixup(k).is_ok()
        && k.put_user_u32(F, area, cpu).is_ok()
        && k.put_user_u32(F, area + 4, cpu).is_ok()
        && k.put_user_u32(F, area + 20, 0).is_ok()
        && k.put_user_u32(F, area + 24, cid).is_ok();
    if !ok {
        k.force_sigsegv(signo);
    }
}

fn ref_exit(k: &mut Kctx<'_, RefLegacy>) {
    for _ in 0..EXIT_LOOP_BOUND {
        if k.test_tif(tif::SIGPENDING) {
            k.arch_do_signal_or_restart();
            if k.task_exiting() {
                return;
            }
        } else if k.test_tif(tif::NOTIFY_RESUME) {
            k.clear_tif(tif::NOTIFY_RESUME);
            ref_handle(k, 0);
        } else {
            return;
        }
    }
    k.task.livelock = true;
}

impl KernelVersion for RefLegacy {
    const NAME: &'static str = "ref-legacy";
    const DESCRIPTION: &'static str = "test-only reference of the legacy fixup";
    type Decision = RefPoint;
    type TaskState = RefState;

    fn registration(s: &RefState) -> Option<rseq_fuzz::kernel::Registration> {
        (s.area != 0).then_some(rseq_fuzz::kernel::Registration {
            addr: s.area,
            len: 32,
            sig: s.sig,
        })
    }

    fn configs() -> Vec<Config> {
        vec![Config::native(rseq_fuzz::abi::Arch::X86_64, false)]
    }

    fn sys_rseq(k: &mut Kctx<'_, Self>, addr: u64, _len: u32, flags: u32, sig: u32) -> i64 {
        if flags != 0 || k.rseq.area != 0 {
            return -errno::EINVAL;
        }
        k.rseq.area = addr;
        k.rseq.sig = sig;
        k.set_tif(tif::NOTIFY_RESUME);
        0
    }

    fn switch_out(k: &mut Kctx<'_, Self>) {
        k.rseq.events |= 1;
        if k.rseq.area != 0 {
            k.set_tif(tif::NOTIFY_RESUME);
        }
    }

    fn membarrier_ipi(k: &mut Kctx<'_, Self>) {
        Self::switch_out(k)
    }

    fn set_task_cpu(k: &mut Kctx<'_, Self>) {
        k.rseq.events |= 4;
        if k.rseq.area != 0 {
            k.set_tif(tif::NOTIFY_RESUME);
        }
    }

    fn signal_deliver(k: &mut Kctx<'_, Self>, signo: u8) {
        k.rseq.events |= 2;
        ref_handle(k, signo);
    }

    fn fork(parent: &RefState, clone_vm: bool) -> RefState {
        if clone_vm {
            RefState::default()
        } else {
            parent.clone()
        }
    }

    fn syscall_exit_to_user_mode(k: &mut Kctx<'_, Self>) {
        ref_exit(k)
    }

    fn irqentry_exit_to_user_mode(k: &mut Kctx<'_, Self>) {
        ref_exit(k)
    }
}

fn ref_builder(cfg: Config, setup: Setup) -> Box<dyn Model> {
    Box::new(Machine::<RefLegacy>::new(cfg, setup, 0))
}

/// The comparison's plumbing (the model's memory read from the child, the
/// events, the classification) makes a faithful legacy fixup agree with the
/// live kernel on every suite case.
#[test]
fn comparison_plumbing_agrees_with_a_reference_legacy_fixup() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut h) = harness() else { return };
    if !host_is_legacy() {
        println!(
            "skipped: host {} is not a legacy (<= 6.18) kernel",
            host_release()
        );
        return;
    }
    let cfg = Config::native(rseq_fuzz::abi::Arch::X86_64, false);
    let build: ModelBuilder<'_> = &ref_builder;
    let mut bad = Vec::new();
    let mut agree = 0;
    for s in suite::suite() {
        let r = check_case(&mut h, &s.case, Ok((build, cfg)));
        match r.verdict {
            Verdict::Agree => agree += 1,
            Verdict::Skipped => println!("skipped {}: {:?}", r.name, r.live),
            _ => bad.push(format!(
                "{}: {:?} live {:?} model {:?}",
                r.name, r.verdict, r.live, r.model
            )),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(agree >= 80, "only {agree} cases agreed");
}

/// A model that is wrong on purpose must be caught as a disagreement that
/// survives the re-runs.
#[test]
fn a_wrong_model_is_reported_as_a_disagreement() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut h) = harness() else { return };
    if !host_is_legacy() {
        println!(
            "skipped: host {} is not a legacy (<= 6.18) kernel",
            host_release()
        );
        return;
    }
    // The abort goes to the arena after a placed signature; the wrong model
    // sees a corrupted copy of that signature, so it kills where the kernel
    // aborts.
    let mut case = named("valid_inside_tgkill_aborts");
    case.abort_ip = Addr::at(Anchor::AfterSig);
    let sig_addr = resolve(&case, h.layout()).unwrap().sig_addr;
    let wrong = move |cfg: Config, mut setup: Setup| -> Box<dyn Model> {
        setup.mem.poke(sig_addr, &(SIG ^ 0xff).to_le_bytes());
        Box::new(Machine::<RefLegacy>::new(cfg, setup, 0))
    };
    let cfg = Config::native(rseq_fuzz::abi::Arch::X86_64, false);
    let r = check_case(&mut h, &case, Ok((&wrong, cfg)));
    assert_eq!(r.verdict, Verdict::Disagree, "{r:?}");
    assert_eq!(r.reruns, MISMATCH_RERUNS);
    assert_eq!(r.live, Ok(Outcome::Aborted { to: sig_addr + 4 }));
    assert_eq!(r.model, Ok(Outcome::Killed { fatal: true }));
}

/// With the registry's model of the host's version (once it is
/// registered), every suite case agrees; until then the comparison says
/// which model is missing.
#[test]
fn suite_agrees_with_the_registered_model_of_the_host() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut h) = harness() else { return };
    let choice = ModelChoice::host(h.layout());
    let Some(entry) = choice.entry else {
        let why = choice.missing().unwrap_or_default();
        println!("{why}");
        assert_eq!(why, format!("model {} not registered", choice.name));
        let r = check_case(&mut h, &named("valid_inside_tgkill_aborts"), Err(why));
        assert_eq!(r.verdict, Verdict::NoModel);
        return;
    };
    assert!(versions::find(&choice.name).is_some());
    let build = move |cfg: Config, setup: Setup| entry.machine(cfg, setup);
    let mut bad = Vec::new();
    for s in suite::suite() {
        let r = check_case(&mut h, &s.case, Ok((&build, choice.cfg)));
        if !matches!(r.verdict, Verdict::Agree | Verdict::Skipped) {
            bad.push(format!(
                "{}: {:?} live {:?} model {:?}",
                r.name, r.verdict, r.live, r.model
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "model {} [{}]:\n{}",
        choice.name,
        choice.cfg,
        bad.join("\n")
    );
}

/// Fuzzer-made cases: the target never panics without a persistent
/// disagreement, and a JSON file of cases runs through the CLI entry.
#[test]
fn fuzz_target_and_cases_file() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        let mut data = vec![0u8; 96];
        for b in data.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        live_kernel_target(&data);
    }
    let dir = std::env::temp_dir().join(format!("rseq-fuzz-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("cases.json");
    let cases = vec![named("valid_inside_tgkill_aborts"), named("desc_prot_none")];
    std::fs::write(&good, serde_json::to_string(&cases).unwrap()).unwrap();
    let code = cli_live(Some(&good), None, Some(4), None, false);
    // 0 without the model or when it agrees; never 2 for a good file.
    assert!(code == 0 || code == 1, "exit {code}");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "[{\"trigger\": \"teleport\"}]").unwrap();
    assert_eq!(cli_live(Some(&bad), None, None, None, false), 2);
    std::fs::write(&bad, "not json").unwrap();
    assert_eq!(cli_live(Some(&bad), None, None, None, true), 2);
    assert_eq!(
        cli_live(Some(&dir.join("missing.json")), None, None, None, false),
        2
    );
    assert_eq!(cli_live(Some(&good), None, Some(1), Some("v9.9"), false), 2);
    // --model: on a legacy host, the rework's model must disagree with a
    // signal sent by a syscall from inside a section (tgkill): legacy
    // aborts, the rework without debug does not look at the section
    // (no user_irq). This is how a kernel with the rework backported is
    // checked, and it shows that the comparison can fail.
    if harness().is_some() && host_is_legacy() {
        let tgkill = dir.join("tgkill.json");
        let case = vec![named("valid_inside_tgkill_aborts")];
        std::fs::write(&tgkill, serde_json::to_string(&case).unwrap()).unwrap();
        assert_eq!(
            cli_live(Some(&tgkill), None, Some(1), Some("v6.18"), false),
            0
        );
        assert_eq!(
            cli_live(Some(&tgkill), None, Some(1), Some("v6.19"), false),
            1
        );
    }
    // A terse case: every omitted field takes the valid default.
    std::fs::write(&good, "[{\"name\": \"terse\", \"version\": 1}]").unwrap();
    let loaded = load_cases(&good).unwrap();
    assert_eq!(loaded[0].version, 1);
    assert_eq!(loaded[0].abort_ip, Addr::at(Anchor::PadGood));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Live cases/s (non-fatal and fatal) next to the model's rate on the same
/// cases. Run: cargo test --release --test live throughput -- --ignored --nocapture
#[test]
#[ignore = "throughput measurement"]
fn throughput() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut h) = harness() else { return };
    let l = h.layout().clone();
    let prepared: Vec<Prepared> = suite::suite()
        .iter()
        .filter_map(|s| h.prepare(&s.case).ok())
        .collect();
    let rounds = 50;
    let (mut nf, mut f) = (0usize, 0usize);
    let (mut nf_t, mut f_t) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let (mut nf_each, mut f_each) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for p in &prepared {
            let t = std::time::Instant::now();
            let r = h.run_prepared(p);
            let dt = t.elapsed();
            match r {
                Ok(Outcome::Killed { fatal: true }) => {
                    f += 1;
                    f_t += dt;
                    f_each.push(dt);
                }
                Ok(_) => {
                    nf += 1;
                    nf_t += dt;
                    nf_each.push(dt);
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    nf_each.sort();
    f_each.sort();
    println!(
        "live median per case: non-fatal {:?}, fatal {:?} (the mean includes waits for the pinned CPU under load)",
        nf_each[nf_each.len() / 2],
        f_each[f_each.len() / 2]
    );
    let cfg = Config::native(rseq_fuzz::abi::Arch::X86_64, false);
    let choice = ModelChoice::host(&l);
    type Build = Box<dyn Fn(Config, Setup) -> Box<dyn Model>>;
    let mut models: Vec<(String, Build, Config)> =
        vec![("reference fixup (tests)".into(), Box::new(ref_builder), cfg)];
    if let Some(e) = choice.entry {
        models.push((
            choice.name.clone(),
            Box::new(move |c, s| e.machine(c, s)),
            choice.cfg,
        ));
    }
    println!(
        "live: {} non-fatal in {:?} = {:.0}/s; {} fatal in {:?} = {:.0}/s; {} forks",
        nf,
        nf_t,
        nf as f64 / nf_t.as_secs_f64(),
        f,
        f_t,
        f as f64 / f_t.as_secs_f64(),
        h.forks()
    );
    for (name, build, cfg) in &models {
        let t = std::time::Instant::now();
        let mut n = 0usize;
        for _ in 0..rounds {
            for p in &prepared {
                let _ = model::model_outcome(build.as_ref(), *cfg, &l, &p.resolved, p.mem.clone());
                n += 1;
            }
        }
        let dt = t.elapsed();
        println!(
            "model {name}: {n} in {dt:?} = {:.0}/s",
            n as f64 / dt.as_secs_f64()
        );
    }
    let t = std::time::Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for s in suite::suite() {
            let _ = h.prepare(&s.case);
            n += 1;
        }
    }
    let dt = t.elapsed();
    println!(
        "prepare (resolve + read the child + model memory): {:.0}/s",
        n as f64 / dt.as_secs_f64()
    );
}

/// Pseudo-random cases (arbitrary decoding of xorshift bytes) run safely:
/// no harness error, and the reference fixup agrees with the live kernel.
#[test]
fn random_cases_run_safely_and_agree_with_the_reference() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut h) = harness() else { return };
    if !host_is_legacy() {
        println!(
            "skipped: host {} is not a legacy (<= 6.18) kernel",
            host_release()
        );
        return;
    }
    let n: usize = std::env::var("LIVE_RANDOM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let cfg = Config::native(rseq_fuzz::abi::Arch::X86_64, false);
    let build: ModelBuilder<'_> = &ref_builder;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut bad = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..n {
        let mut data = vec![0u8; 128];
        for b in data.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        let mut u = arbitrary::Unstructured::new(&data);
        let Ok(mut case) = <LiveCase as arbitrary::Arbitrary>::arbitrary(&mut u) else {
            continue;
        };
        // Small offsets most of the time, so that anchors matter.
        for a in [&mut case.rseq_cs, &mut case.start_ip, &mut case.abort_ip] {
            if a.offset.unsigned_abs() > 64 && seed % 4 != 0 {
                a.offset %= 64;
            }
        }
        let r = check_case(&mut h, &case, Ok((build, cfg)));
        *counts.entry(format!("{:?}", r.verdict)).or_insert(0) += 1;
        if matches!(r.verdict, Verdict::Disagree | Verdict::Error) {
            bad.push(format!(
                "{:?} live {:?} model {:?}: {}",
                r.verdict,
                r.live,
                r.model,
                serde_json::to_string(&case).unwrap_or_default()
            ));
        }
    }
    println!("{counts:?}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The time-slice extension probes, and 300 random ones, on this machine's
/// kernel agree with the model of its version; on the 6.18 host they check
/// the "no such prctl or syscall" answers and the registration checks.
#[test]
fn slice_probes_agree_with_the_model_of_the_host() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let arch = match host_arch() {
        Ok(a) => a,
        Err(e) => {
            println!("{e}");
            return;
        }
    };
    let choice = ModelChoice::for_arch(arch, host_model_name());
    let entry = choice.entry.expect("the host's model is registered");
    for probe in slice::probes()
        .into_iter()
        .chain(slice::random_probes(3, 300))
    {
        let run = slice::run_live(&probe.ops);
        let model = slice::model_outcomes(entry, choice.cfg, &probe.ops, &run.preempted);
        let live = run.live.expect("the probe runs");
        // A wait that saw the competitor run (WAIT_UNCHANGED) was switched
        // out without sleeping, and the child's counters must say so.
        let preempted_in_a_wait = probe
            .ops
            .iter()
            .filter(|o| o.records())
            .zip(&live.returns)
            .any(|(o, r)| o.waits() && r.ret == slice::WAIT_UNCHANGED);
        if preempted_in_a_wait && live.killed_by.is_none() {
            let counters = run.counters.expect("a run that returned has counters");
            assert!(
                counters.involuntary_switches >= 1,
                "{}: a waiting probe with no involuntary switch: {}",
                probe.name,
                counters.describe()
            );
        }
        assert_eq!(
            live.returns.len() + usize::from(live.killed_by.is_some()),
            probe.ops.iter().filter(|o| o.records()).count(),
            "{}: every syscall and wait returned or the task died",
            probe.name
        );
        assert!(
            model.iter().any(|(_, m)| *m == live),
            "{}: live {live:?}, model {model:?}",
            probe.name
        );
    }
}
