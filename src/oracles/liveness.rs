//! Oracle d: liveness. The kernel's work loops end: no model may hit
//! [`crate::kernel::EXIT_LOOP_BOUND`] passes of the exit-to-user loop, or of
//! the KVM pre-guest work loop, on any scenario.

use super::Finding;
use crate::runner::Run;
use crate::trace::TraceEvent;

pub fn check(run: &Run) -> Vec<Finding> {
    run.observations
        .iter()
        .filter(|o| o.livelock)
        .take(1)
        .map(|o| {
            let (start, end) = o.trace_range;
            // A work loop before the exit names itself in the trace; the
            // exit loop's own bound leaves no event.
            let work_loop = run
                .trace
                .events
                .get(start..end)
                .unwrap_or(&[])
                .iter()
                .find_map(|e| match e {
                    TraceEvent::WorkLoopBound { function } => Some(*function),
                    _ => None,
                });
            let which = work_loop.map_or_else(
                || "the exit-to-user loop".to_string(),
                |f| format!("the work loop of {f}()"),
            );
            Finding::new(
                "liveness",
                vec![run.name()],
                o.step,
                format!(
                    "{which} did not end within {} iterations",
                    crate::kernel::EXIT_LOOP_BOUND
                ),
            )
        })
        .collect()
}
