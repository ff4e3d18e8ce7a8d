//! Oracle e: fault transparency. The same scenario with every resolvable page
//! present (no copy-on-write, nothing swapped out, nothing never touched)
//! must give the same observables: a fault may delay a decision (the v6.19
//! fast path defers to the slow path), never change it.

use super::{Finding, ObsDiff};
use crate::kernel::{Event, Syscall};
use crate::runner::Run;
use crate::scenario::{Lowered, Scenario};

/// Whether any page can fault resolvably in this scenario (else the
/// reference run would be the same run).
pub fn has_resolvable_faults(_s: &Scenario, lowered: &Lowered) -> bool {
    lowered.setup.mem.pages().any(|(_, st)| st.resolvable())
        || lowered.events.iter().any(|e| match e {
            Event::Mmap { state, .. } => state.resolvable(),
            Event::Reclaim { .. } | Event::MadviseDontneed { .. } => true,
            Event::Syscall(Syscall::Fork { clone_vm, .. }) => !clone_vm,
            _ => false,
        })
}

/// Whether the run's fault-free reference could differ from it at all. The
/// two runs take the same steps until an access with page faults disabled
/// fails on a copy-on-write or not-present page (the fault-free run finds it
/// present); with faults enabled the fault handler resolves such a fault, so
/// both runs see the access succeed. v6.18 never disables page faults around
/// its accesses, so its runs never need a reference; the v6.19 fast path
/// needs one only when it meets such a page.
pub fn reference_may_differ(run: &Run) -> bool {
    run.trace.fault_free_run_may_differ
}

/// Compare a run with its fault-free reference.
pub fn compare(reference: &Run, run: &Run) -> Option<(Finding, usize)> {
    let n = reference.observations.len().max(run.observations.len());
    for k in 0..n {
        let (a, b) = (reference.observations.get(k), run.observations.get(k));
        let diff = match (a, b) {
            (Some(a), Some(b)) => ObsDiff::between(a, b),
            _ => ObsDiff {
                fate: true,
                ..ObsDiff::default()
            },
        };
        if diff.is_empty() {
            continue;
        }
        let step = b.or(a).map_or(0, |o| o.step);
        return Some((
            Finding {
                oracle: "fault-transparency",
                runs: vec![format!("{} (fault-free)", reference.name()), run.name()],
                step,
                message: format!(
                    "resolvable faults changed what user space sees at return {k}: {}",
                    if a.is_none() || b.is_none() {
                        "one run returned to user mode fewer times".to_string()
                    } else {
                        diff.describe()
                    }
                ),
                // Filled in by oracles::check once the registry has had its say.
                first_divergence: None,
                explained_by: None,
            },
            k,
        ));
    }
    None
}
