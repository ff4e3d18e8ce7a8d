//! Safety of the live harness: every child is reaped and each case is
//! bounded in time. A separate test binary, so that no other test's
//! harness children are counted.

use rseq_fuzz::live::suite;
use rseq_fuzz::live::{LiveError, LiveHarness};
use std::time::{Duration, Instant};

/// Children of this process (by scanning /proc for our pid as the parent).
fn children() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(me) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn every_child_is_reaped_and_cases_are_time_bounded() {
    let before = children();
    let mut h = match LiveHarness::new() {
        Ok(h) => h,
        Err(e) => {
            println!("{e}");
            assert!(e.starts_with("unsupported"));
            return;
        }
    };
    assert_eq!(
        children().len(),
        before.len() + 1,
        "one live child while idle"
    );
    // Fatal cases fork a new child each; none may linger.
    let s = suite::suite();
    let mut ran = 0;
    for c in s.iter().take(40) {
        if h.run_case(&c.case).is_ok() {
            ran += 1;
        }
        assert!(children().len() <= before.len() + 1, "children pile up");
    }
    assert!(ran >= 30, "only {ran} cases ran");
    assert!(h.forks() > 1, "fatal cases should have forked new children");
    // A case that never ends is cut off by the time bound and its child killed.
    let t = Instant::now();
    let r = h.stall_child_for_test();
    let took = t.elapsed();
    assert!(
        matches!(r, Err(LiveError::TimedOut(ref m)) if m.contains("timed out")),
        "{r:?}"
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!(
        children().len(),
        before.len(),
        "the stalled child was reaped"
    );
    // The harness recovers with a new child.
    assert!(h.run_case(&s[0].case).is_ok());
    drop(h);
    assert_eq!(children(), before, "no child left behind after drop");
}
