//! Signal queueing and delivery order, as kernel/signal.c has them: the
//! machine every version runs on (kernel.rs) must not invent or lose
//! signals, since rseq kills are signals. Found against a real 7.3 kernel
//! (scripts/live-vm): a forced SIGSEGV merges with a SIGSEGV already
//! pending, and get_signal() takes synchronous signals first, then the
//! lowest number.

use rseq_fuzz::oracles::{self, Options};
use rseq_fuzz::scenario::Scenario;
use rseq_fuzz::trace::{KillPath, TraceEvent};

/// The signal numbers of the frames each run built, the kills rseq code
/// forced, and the forced signals that merged into a pending one, in trace
/// order.
fn frames_and_kills(json: &str) -> Vec<(Vec<u8>, Vec<KillPath>, Vec<u8>)> {
    let s = Scenario::from_json(json).expect("scenario");
    let report = oracles::check(&s, &Options::default()).expect("check");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    report
        .runs
        .iter()
        .map(|r| {
            let (mut frames, mut kills, mut merged) = (Vec::new(), Vec::new(), Vec::new());
            for e in &r.trace.events {
                match e {
                    TraceEvent::SignalFrame { sig, .. } => frames.push(*sig),
                    TraceEvent::Kill { path } => kills.push(*path),
                    TraceEvent::SignalMerged { sig } => merged.push(*sig),
                    _ => {}
                }
            }
            (frames, kills, merged)
        })
        .collect()
}

#[test]
fn a_forced_sigsegv_merges_with_a_pending_one() {
    // A syscall from the section with rseq_cs beyond TASK_SIZE: the debug
    // build's __rseq_debug_syscall_return() forces SIGSEGV. With a SIGSEGV
    // (tgkill) already pending the two are one signal: one frame.
    let scenario = |sig: u8| {
        format!(
            r#"{{
              "arch": "x86_64", "run": ["v6.19/x86_64+ge+gie+tifb+debug"],
              "handlers": 3072,
              "steps": [
                {{ "step": "set_rseq_cs", "value": 18446744073709551615 }},
                {{ "step": "set_ip", "ip": {{ "anchor": "cs_start", "delta": 16 }} }},
                {{ "step": "getpid" }},
                {{ "step": "signal", "sig": {sig} }},
                {{ "step": "exit_to_user" }}
              ]
            }}"#
        )
    };
    let merged = frames_and_kills(&scenario(11));
    assert_eq!(merged, vec![(vec![11], vec![KillPath::ForceSig], vec![11])]);
    // With SIGUSR1 pending instead, both are delivered, SIGSEGV first.
    let both = frames_and_kills(&scenario(10));
    assert_eq!(both, vec![(vec![11, 10], vec![KillPath::ForceSig], vec![])]);
}

#[test]
fn signals_are_taken_synchronous_first_then_lowest_number() {
    // SIGUSR2, SIGUSR1, then SIGSEGV from kill(), all handled, all pending
    // at one return: SIGSEGV (synchronous), SIGUSR1 (10), SIGUSR2 (12).
    let json = r#"{
      "arch": "x86_64", "run": ["v6.19/x86_64+ge+gie+tifb"],
      "handlers": 7168,
      "steps": [
        { "step": "interrupt" },
        { "step": "signal", "sig": 12 },
        { "step": "signal", "sig": 10 },
        { "step": "signal", "sig": 11 },
        { "step": "exit_to_user" }
      ]
    }"#;
    assert_eq!(
        frames_and_kills(json),
        vec![(vec![11, 10, 12], vec![], vec![])]
    );
}
