//! Oracle f: differential comparison. Each version's run is compared with the
//! run of the version before it under the matching configuration (same
//! architecture, entry code and debug setting): every kernel change is then
//! judged against the release it changed, which is how the divergence
//! registry records them (one entry per change, with its commit).

use super::{Finding, ObsDiff};
use crate::config::Config;
use crate::kernel::Observation;
use crate::runner::Run;
use crate::versions::VERSIONS;

fn version_rank(name: &str) -> usize {
    VERSIONS
        .iter()
        .position(|v| v.name == name)
        .unwrap_or(usize::MAX)
}

fn same_build(a: &Config, b: &Config) -> bool {
    a.arch == b.arch
        && a.debug == b.debug
        && a.generic_entry == b.generic_entry
        && a.generic_irq_entry == b.generic_irq_entry
        && a.generic_tif_bits == b.generic_tif_bits
}

/// (old, new) index pairs: each run against the closest run of the nearest
/// older version, preferring the same slice-extension settings.
pub fn pairs(runs: &[Run]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (j, new) in runs.iter().enumerate() {
        let rank = version_rank(new.version);
        let older = runs
            .iter()
            .enumerate()
            .filter(|(_, r)| version_rank(r.version) < rank && same_build(&r.config, &new.config))
            .max_by_key(|(_, r)| {
                let slice_match = (r.config.slice_extension == new.config.slice_extension) as u8
                    + (r.config.slice_key == new.config.slice_key) as u8;
                (version_rank(r.version), slice_match)
            });
        if let Some((i, _)) = older {
            out.push((i, j));
        }
    }
    out
}

/// "old-point | new-point" at the first place the two windows' decision
/// sequences part.
pub fn first_divergence(a: Option<&Observation>, b: Option<&Observation>) -> Option<String> {
    let empty = Vec::new();
    let da = a.map_or(&empty, |o| &o.decisions);
    let db = b.map_or(&empty, |o| &o.decisions);
    let n = da.len().max(db.len());
    (0..n).find(|&i| da.get(i) != db.get(i)).map(|i| {
        format!(
            "{} | {}",
            da.get(i).copied().unwrap_or("(end)"),
            db.get(i).copied().unwrap_or("(end)")
        )
    })
}

/// The first return to user mode where the two runs differ.
pub fn compare(old: &Run, new: &Run) -> Option<(Finding, usize)> {
    let n = old.observations.len().max(new.observations.len());
    for k in 0..n {
        let (a, b) = (old.observations.get(k), new.observations.get(k));
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
                oracle: "differential",
                runs: vec![old.name(), new.name()],
                step,
                message: format!("return {k} differs in {}", diff.describe()),
                first_divergence: first_divergence(a, b),
                explained_by: None,
            },
            k,
        ));
    }
    None
}
