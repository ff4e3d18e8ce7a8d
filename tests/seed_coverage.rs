//! The seed corpora (every target's seeds, as `rseq-fuzz seed` writes them)
//! reach every decision point of every version, except the documented
//! [`UNREACHABLE_FROM_SCENARIOS`]; and every seed scenario keeps every
//! oracle holding.

use rseq_fuzz::oracles::{self, Options};
use rseq_fuzz::runner;
use rseq_fuzz::seeds::{self, UNREACHABLE_FROM_SCENARIOS};
use rseq_fuzz::targets::TARGETS;
use rseq_fuzz::versions::VERSIONS;
use std::collections::BTreeSet;

type Features = BTreeSet<(&'static str, &'static str)>;

/// The union of the decision points every run of every seed of every
/// target reaches: each seed decoded with its target's decoder, as the
/// `coverage` command reads a corpus directory.
fn seed_features() -> Features {
    let mut out = Features::new();
    for t in TARGETS {
        let seeds = seeds::for_target(t.name);
        assert!(!seeds.is_empty(), "target {} has no seeds", t.name);
        for (name, bytes) in seeds {
            let scenario = (t.decode)(&bytes);
            let lowered = scenario.lower();
            let runs = scenario
                .runs()
                .unwrap_or_else(|e| panic!("{}/{name}: {e}", t.name));
            for (v, c) in runs {
                let run = runner::run(v, c, &lowered, false);
                out.extend(run.trace.decisions().map(|d| (v.name, d)));
            }
        }
    }
    out
}

fn excluded(version: &str, point: &str) -> bool {
    UNREACHABLE_FROM_SCENARIOS
        .iter()
        .any(|(v, p, _)| *v == version && *p == point)
}

#[test]
fn seeds_reach_every_decision_point_except_the_documented_ones() {
    let got = seed_features();
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for v in VERSIONS {
        for &d in v.decisions {
            let reached = got.contains(&(v.name, d));
            match (reached, excluded(v.name, d)) {
                (false, false) => missing.push(format!("{} {d}", v.name)),
                (true, true) => stale.push(format!("{} {d}", v.name)),
                _ => {}
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} decision point(s) reached by no seed:\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
    assert!(
        stale.is_empty(),
        "excluded as unreachable but reached by a seed (drop them from \
         UNREACHABLE_FROM_SCENARIOS):\n  {}",
        stale.join("\n  ")
    );
}

#[test]
fn the_exclusions_name_real_points_once_with_a_reason() {
    let mut seen = BTreeSet::new();
    for (v, p, why) in UNREACHABLE_FROM_SCENARIOS {
        let entry = VERSIONS
            .iter()
            .find(|e| e.name == *v)
            .unwrap_or_else(|| panic!("unknown version {v}"));
        assert!(entry.decisions.contains(p), "{v} has no point {p}");
        assert!(why.len() > 20, "{v} {p}: say why");
        assert!(seen.insert((*v, *p)), "{v} {p} listed twice");
    }
}

#[test]
fn every_seed_scenario_keeps_every_oracle_holding() {
    for (name, s) in seeds::scenarios() {
        assert!(s.encodable(), "{name}: the binary form cannot hold it");
        let report = oracles::check(&s, &Options::default()).expect(name);
        assert!(report.findings.is_empty(), "{name}: {:#?}", report.findings);
    }
    // The single-purpose targets' seeds, decoded as their targets read them.
    for t in TARGETS.iter().filter(|t| t.name != "differential") {
        for (name, bytes) in seeds::for_target(t.name) {
            let s = (t.decode)(&bytes);
            let report = oracles::check(&s, &Options::default())
                .unwrap_or_else(|e| panic!("{}/{name}: {e}", t.name));
            assert!(
                report.findings.is_empty(),
                "{}/{name}: {:#?}",
                t.name,
                report.findings
            );
        }
    }
}

/// The kernel paths seeds are named after: (seed, version, decision point).
/// Each seed must reach its points itself, so that a seed keeps meaning
/// what its name says when other seeds change.
const NAMED_PATHS: &[(&str, &str, &str)] = &[
    (
        "arm32_need_resched_in_cs",
        "v7.0",
        "do_work_pending/schedule",
    ),
    (
        "arm32_need_resched_in_cs",
        "v7.1",
        "do_work_pending/schedule",
    ),
    (
        "arm32_fatal_signal_before_notify_resume",
        "v6.19",
        "do_work_pending/signal",
    ),
    (
        "arm32_fatal_signal_before_notify_resume",
        "v7.0",
        "do_work_pending/signal",
    ),
    (
        "execve_failed_in_cs_after_abort",
        "v6.18",
        "rseq_need_restart/event_mask_empty",
    ),
    (
        "execve_failed_in_cs_after_abort",
        "v6.18",
        "rseq_ip_fixup/no_restart",
    ),
    (
        "execve_failed_in_cs_area_readonly",
        "v6.18",
        "rseq_update_cpu_node_id/write_fault",
    ),
    (
        "execve_failed_in_cs_area_readonly",
        "v6.18",
        "__rseq_handle_notify_resume/update_error",
    ),
    (
        "row19_in_cs_area_readonly_preempt",
        "v6.18",
        "rseq_ip_fixup/clear_rseq_cs_error",
    ),
    (
        "row05_end_wraps_below_start",
        "v6.18",
        "rseq_get_rseq_cs/end_overflow",
    ),
    (
        "register_stale_rseq_cs_area_readonly",
        "v6.18",
        "sys_rseq/rseq_cs_clear_efault",
    ),
    (
        "row21_unregister_area_prot_none",
        "v6.18",
        "rseq_validate_ro_fields/read_fault",
    ),
    (
        "row21_unregister_area_prot_none",
        "v6.18",
        "rseq_reset_rseq_cpu_node_id/validate_error",
    ),
    (
        "debug_syscall_rseq_cs_above_task_size",
        "v6.18",
        "rseq_syscall/invalid_cs_force_sig",
    ),
    (
        "debug_syscall_rseq_cs_above_task_size",
        "v6.19",
        "__rseq_debug_syscall_return/csaddr_beyond_task_size",
    ),
    (
        "debug_syscall_rseq_cs_above_task_size",
        "v7.0",
        "__rseq_debug_syscall_return/csaddr_beyond_task_size",
    ),
    (
        "debug_syscall_rseq_cs_above_task_size",
        "v7.1",
        "__rseq_debug_syscall_return/csaddr_beyond_task_size",
    ),
    (
        "debug_syscall_area_unmapped",
        "v6.19",
        "__rseq_debug_syscall_return/read_fault",
    ),
    (
        "debug_syscall_area_unmapped",
        "v7.0",
        "__rseq_debug_syscall_return/read_fault",
    ),
    (
        "debug_syscall_area_unmapped",
        "v7.1",
        "__rseq_debug_syscall_return/read_fault",
    ),
    (
        "arm32_not_registered_signal_preempt",
        "v6.18",
        "rseq_handle_notify_resume/not_registered",
    ),
    (
        "arm32_not_registered_signal_preempt",
        "v6.19",
        "rseq_signal_deliver/legacy_not_registered",
    ),
    (
        "arm32_not_registered_signal_preempt",
        "v6.19",
        "rseq_sched_switch_event/legacy_not_registered",
    ),
    (
        "arm32_not_registered_signal_preempt",
        "v7.0",
        "rseq_sched_switch_event/not_registered",
    ),
    (
        "arm32_not_registered_signal_preempt",
        "v7.1",
        "rseq_sched_switch_event/not_registered",
    ),
    (
        "execve_failed_not_registered",
        "v6.19",
        "rseq_force_update/not_registered",
    ),
    (
        "execve_failed_not_registered",
        "v7.0",
        "rseq_force_update/not_registered",
    ),
    (
        "execve_failed_not_registered",
        "v7.1",
        "rseq_force_update/not_registered",
    ),
    (
        "row29_clobber_cpu_id_migrate",
        "v6.19",
        "rseq_debug_validate_ids/cpu_id_mismatch",
    ),
    (
        "row29_clobber_cpu_id_migrate",
        "v7.0",
        "rseq_debug_validate_ids/cpu_id_mismatch",
    ),
    (
        "row29_clobber_cpu_id_migrate",
        "v7.1",
        "rseq_set_ids_get_csaddr/cpu_id_mismatch",
    ),
    (
        "riscv64_rseq_cs_straddles_task_size",
        "v6.19",
        "rseq_update_user_cs/uaccess_begin_fault",
    ),
    (
        "riscv64_rseq_cs_straddles_task_size",
        "v6.19",
        "rseq_debug_update_user_cs/uaccess_begin_fault",
    ),
    (
        "row08_stale_rseq_cs_area_readonly_preempt",
        "v6.19",
        "rseq_update_user_cs/write_fault",
    ),
    (
        "row08_stale_rseq_cs_area_readonly_preempt",
        "v6.19",
        "rseq_debug_update_user_cs/write_fault",
    ),
    (
        "row08_stale_rseq_cs_area_readonly_preempt",
        "v7.0",
        "rseq_update_user_cs/write_fault",
    ),
    (
        "row08_stale_rseq_cs_area_readonly_preempt",
        "v7.0",
        "rseq_debug_update_user_cs/write_fault",
    ),
    (
        "row18_stale_rseq_cs_area_readonly_signal",
        "v6.19",
        "rseq_update_user_cs/write_fault",
    ),
    (
        "row18_stale_rseq_cs_area_readonly_signal",
        "v7.1",
        "rseq_update_user_cs/write_fault",
    ),
    (
        "row18_stale_rseq_cs_area_readonly_signal",
        "v7.1",
        "rseq_debug_update_user_cs/write_fault",
    ),
    ("signal_area_unmapped", "v6.19", "rseq_handle_cs/read_fault"),
    ("signal_area_unmapped", "v7.0", "rseq_handle_cs/read_fault"),
    ("signal_area_unmapped", "v7.1", "rseq_handle_cs/read_fault"),
    (
        "arm32_syscall_no_work",
        "v6.19",
        "ret_to_user/no_work_pending",
    ),
    (
        "register_unknown_flag",
        "v6.18",
        "sys_rseq/register_bad_flags_einval",
    ),
    (
        "register_unknown_flag",
        "v7.0",
        "sys_rseq/register_bad_flags",
    ),
    (
        "register_unknown_flag",
        "v7.1",
        "sys_rseq/unsupported_flags",
    ),
    (
        "need_resched_in_user",
        "v7.0",
        "exit_to_user_mode_loop/schedule",
    ),
    (
        "need_resched_in_user",
        "v7.1",
        "exit_to_user_mode_loop/schedule",
    ),
    (
        "slice_grant_then_yield",
        "v7.1",
        "rseq_register/default_on_enabled",
    ),
    (
        "slice_grant_then_yield",
        "v7.0",
        "rseq_grant_slice_extension/granted",
    ),
    (
        "slice_grant_then_yield",
        "v7.1",
        "__rseq_grant_slice_extension/granted",
    ),
    (
        "slice_grant_then_yield",
        "v7.0",
        "rseq_grant_slice_extension/no_request",
    ),
    (
        "slice_grant_then_yield",
        "v7.1",
        "__rseq_grant_slice_extension/no_request",
    ),
    (
        "slice_request_not_enabled",
        "v7.0",
        "rseq_grant_slice_extension/not_enabled_or_not_user_irq",
    ),
    (
        "slice_request_not_enabled",
        "v7.1",
        "__rseq_grant_slice_extension/not_enabled_or_not_user_irq",
    ),
    (
        "slice_grant_area_readonly",
        "v7.0",
        "rseq_grant_slice_extension/fault_force_sig",
    ),
    (
        "slice_grant_area_readonly",
        "v7.1",
        "__rseq_grant_slice_extension/fault_force_sig",
    ),
    (
        "slice_grant_then_timer_expires",
        "v7.0",
        "rseq_grant_slice_extension/work_pending_or_granted_revoke",
    ),
    (
        "slice_grant_then_timer_expires",
        "v7.1",
        "__rseq_grant_slice_extension/work_pending_or_granted_revoke",
    ),
    (
        "prctl_slice_set_len32",
        "v7.0",
        "rseq_slice_extension_prctl/set_ok",
    ),
    (
        "prctl_slice_set_len32",
        "v7.1",
        "rseq_slice_extension_prctl/set_legacy_enotsupp_b9eac6a9d93c",
    ),
    (
        "len64_area_reclaimed_then_preempt",
        "v7.1",
        "rseq_exit_user_update/csaddr_fault",
    ),
    (
        "len64_syscall_preempted_same_cpu",
        "v7.1",
        "rseq_sched_switch_event/v2_no_raise",
    ),
    (
        "len64_membarrier_ipi_in_user",
        "v7.1",
        "ipi_rseq/v2_sched_switch_event",
    ),
    (
        "len64_signal_during_syscall",
        "v7.1",
        "rseq_signal_deliver/skip",
    ),
];

/// Points both v7.0 and v7.1 name alike, reached by the slice and prctl seeds.
const NAMED_V7_PATHS: &[(&str, &str)] = &[
    (
        "slice_grant_then_yield",
        "__rseq_arm_slice_extension_timer/armed",
    ),
    (
        "slice_grant_then_yield",
        "rseq_cancel_slice_extension_timer/cancel",
    ),
    (
        "slice_grant_then_yield",
        "rseq_syscall_enter_work/set_need_resched_yielded",
    ),
    (
        "slice_grant_then_yield",
        "rseq_syscall_enter_work/cond_resched",
    ),
    (
        "slice_grant_then_yield",
        "rseq_syscall_enter_work/grant_cleared",
    ),
    ("slice_grant_then_yield", "rseq_slice_validate_ctrl/ok"),
    ("slice_grant_then_yield", "sys_rseq_slice_yield/yielded"),
    ("slice_grant_then_yield", "sys_rseq_slice_yield/not_yielded"),
    (
        "slice_grant_then_syscall_aborts",
        "rseq_syscall_enter_work/set_need_resched_aborted",
    ),
    (
        "slice_grant_then_timer_expires",
        "rseq_slice_expired/set_need_resched",
    ),
    (
        "slice_grant_then_timer_expires",
        "rseq_syscall_enter_work/not_granted",
    ),
    (
        "slice_grant_preempted_then_timer",
        "rseq_slice_expired/not_granted",
    ),
    (
        "slice_grant_then_area_readonly_syscall",
        "rseq_syscall_enter_work/clear_fault_force_sig",
    ),
    (
        "slice_grant_then_granted_cleared_syscall",
        "rseq_slice_validate_ctrl/mismatch_force_sig",
    ),
    (
        "prctl_slice_bad_args_and_no_change",
        "rseq_slice_extension_prctl/get_bad_arg",
    ),
    (
        "prctl_slice_bad_args_and_no_change",
        "rseq_slice_extension_prctl/bad_op",
    ),
    (
        "prctl_slice_bad_args_and_no_change",
        "rseq_slice_extension_prctl/set_bad_arg",
    ),
    (
        "prctl_slice_bad_args_and_no_change",
        "rseq_slice_extension_prctl/set_no_change",
    ),
    (
        "prctl_slice_set_not_registered",
        "rseq_slice_extension_prctl/set_not_registered",
    ),
    (
        "prctl_slice_set_flags_cleared",
        "rseq_slice_extension_prctl/set_flags_inconsistent",
    ),
    (
        "prctl_slice_set_area_prot_none",
        "rseq_slice_extension_prctl/set_read_fault",
    ),
    (
        "prctl_slice_set_area_readonly",
        "rseq_slice_extension_prctl/set_write_fault",
    ),
];

/// The decision points every run of one named seed scenario reaches.
fn scenario_features(name: &str) -> Features {
    let (_, s) = seeds::scenarios()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no seed scenario {name}"));
    let lowered = s.lower();
    let mut out = Features::new();
    for (v, c) in s.runs().expect(name) {
        let run = runner::run(v, c, &lowered, false);
        out.extend(run.trace.decisions().map(|d| (v.name, d)));
    }
    out
}

#[test]
fn each_seed_reaches_the_path_it_is_named_after() {
    let v7 = NAMED_V7_PATHS
        .iter()
        .flat_map(|&(s, p)| [(s, "v7.0", p), (s, "v7.1", p)]);
    let mut wrong = Vec::new();
    for (seed, version, point) in NAMED_PATHS.iter().copied().chain(v7) {
        assert!(
            VERSIONS
                .iter()
                .any(|v| v.name == version && v.decisions.contains(&point)),
            "{version} has no point {point}"
        );
        if !scenario_features(seed).contains(&(version, point)) {
            wrong.push(format!("{seed}: {version} {point}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "seeds that miss their named path:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn seed_names_are_unique_per_target() {
    for t in TARGETS {
        let names: Vec<String> = seeds::for_target(t.name)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let set: BTreeSet<&String> = names.iter().collect();
        assert_eq!(set.len(), names.len(), "{}: duplicate seed names", t.name);
    }
}
