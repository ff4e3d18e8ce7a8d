//! Oracle d: liveness. The exit-to-user loop ends: no model may hit
//! [`crate::kernel::EXIT_LOOP_BOUND`] iterations on any scenario.

use super::Finding;
use crate::runner::Run;

pub fn check(run: &Run) -> Vec<Finding> {
    run.observations
        .iter()
        .filter(|o| o.livelock)
        .take(1)
        .map(|o| Finding {
            oracle: "liveness",
            runs: vec![run.name()],
            step: o.step,
            message: format!(
                "the exit-to-user loop did not end within {} iterations",
                crate::kernel::EXIT_LOOP_BOUND
            ),
            first_divergence: None,
            explained_by: None,
        })
        .collect()
}
