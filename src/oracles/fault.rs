//! Oracle e: fault transparency. The same scenario with every resolvable page
//! present (no copy-on-write, nothing swapped out, nothing never touched)
//! must give the same observables: a fault may delay a decision (the v6.19
//! fast path defers to the slow path), never change it. The comparison is
//! the differential oracle's ([`differential::next_difference`]), and like
//! it goes on past a registered difference in struct rseq bytes alone.

use super::differential::{self, CarriedBytes};
use super::Finding;
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

/// Compare a run with its fault-free reference from return `from` on, not
/// counting `carried` bytes: the first return where they differ. Past a
/// difference the registry explains, [`crate::oracles::check`] goes on as
/// the differential oracle does, carrying the area bytes it left different
/// ([`differential::carry_past`]).
pub fn compare_from(
    reference: &Run,
    run: &Run,
    from: usize,
    carried: &CarriedBytes,
) -> Option<(Finding, usize)> {
    let (k, diff, step) = differential::next_difference(reference, run, from, carried)?;
    let one_missing = reference.observations.get(k).is_none() || run.observations.get(k).is_none();
    Some((
        Finding::new(
            "fault-transparency",
            vec![format!("{} (fault-free)", reference.name()), run.name()],
            step,
            format!(
                "resolvable faults changed what user space sees at return {k}: {}",
                if one_missing {
                    "one run returned to user mode fewer times".to_string()
                } else {
                    diff.describe()
                }
            ) + &carried.describe_after(),
        ),
        k,
    ))
}
