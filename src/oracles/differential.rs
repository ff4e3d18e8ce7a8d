//! Oracle f: differential comparison. Each version's run is compared with the
//! run of the version before it under the matching configuration (same
//! architecture, entry code and debug setting): every kernel change is then
//! judged against the release it changed, which is how the divergence
//! registry records them (one entry per change, with its commit).
//!
//! The comparison goes return by return. A difference the registry explains
//! used to end it, and a divergence at registration (v7.0 writes rseq.flags,
//! v6.19 does not) then hid every later return of the pair. Now, where only
//! area bytes differ, the comparison carries those bytes past the explained
//! return ([`CarriedBytes`]) and goes on, until a kernel reads one of them.

use super::{Finding, ObsDiff};
use crate::config::Config;
use crate::kernel::Observation;
use crate::mem::AccessKind;
use crate::runner::Run;
use crate::trace::{function_of, TraceEvent};
use crate::versions::VERSIONS;

/// Registry position; a version outside the registry (a test double, a
/// version under development) ranks right after the newest one.
fn version_rank(name: &str) -> usize {
    VERSIONS
        .iter()
        .position(|v| v.name == name)
        .unwrap_or(VERSIONS.len())
}

fn same_build(a: &Config, b: &Config) -> bool {
    a.arch == b.arch
        && a.debug == b.debug
        && a.debug_rseq == b.debug_rseq
        && a.generic_entry == b.generic_entry
        && a.generic_irq_entry == b.generic_irq_entry
        && a.generic_tif_bits == b.generic_tif_bits
}

/// (old, new) index pairs: each run against the run of the release right
/// before it with the same build (architecture, entry code, debug) and the
/// same slice-extension settings; against another slice setting only when
/// the older release is never built with this one (v6.19 has no slice
/// extension, so v7.0's slice builds compare with its plain build). A run
/// whose predecessor is not in the scenario's run set is compared with
/// nothing: a scenario that selects v7.0's plain build and v7.1's slice
/// build would otherwise judge the extension itself as a v7.1 change.
pub fn pairs(runs: &[Run]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (j, new) in runs.iter().enumerate() {
        let rank = version_rank(new.version);
        let older = runs
            .iter()
            .enumerate()
            // Only the release right before: every registered divergence is
            // one kernel change, judged against the release it changed.
            .filter(|(_, r)| {
                version_rank(r.version).checked_add(1) == Some(rank)
                    && same_build(&r.config, &new.config)
            })
            .max_by_key(|(_, r)| {
                let slice_match = (r.config.slice_extension == new.config.slice_extension) as u8
                    + (r.config.slice_key == new.config.slice_key) as u8;
                (version_rank(r.version), slice_match)
            });
        let Some((i, older)) = older else { continue };
        // From the run table, which lists every registered build once.
        let older_has_this_build =
            || crate::scenario::registered_run_name(older.version, &new.config).is_some();
        if older.config == new.config || !older_has_this_build() {
            out.push((i, j));
        }
    }
    out
}

/// "old | new" at the first place the two windows' decision sequences
/// part; where the decisions agree (a fault that changed nothing but the
/// outcome), the first user access whose result differs.
pub fn first_divergence(
    a: Option<(&Run, &Observation)>,
    b: Option<(&Run, &Observation)>,
) -> Option<String> {
    let empty = Vec::new();
    let da = a.map_or(&empty, |o| &o.1.decisions);
    let db = b.map_or(&empty, |o| &o.1.decisions);
    // Two releases name partly different kernel functions: align on the
    // functions both have, so that the first difference is a check both
    // make (e.g. rseq_update_user_cs/ip_outside_cs | .../abort), not the
    // first function one of them lacks.
    let functions = |x: Option<(&Run, &Observation)>, own: &[&'static str]| -> Vec<&'static str> {
        let names = x
            .and_then(|(r, _)| crate::versions::find(r.version))
            .map(|v| v.decisions);
        names
            .unwrap_or(own)
            .iter()
            .map(|d| function_of(d))
            .collect()
    };
    let (fa, fb) = (functions(a, da), functions(b, db));
    let sa: Vec<&str> = da
        .iter()
        .copied()
        .filter(|d| fb.contains(&function_of(d)))
        .collect();
    let sb: Vec<&str> = db
        .iter()
        .copied()
        .filter(|d| fa.contains(&function_of(d)))
        .collect();
    let n = sa.len().max(sb.len());
    if let Some(i) = (0..n).find(|&i| sa.get(i) != sb.get(i)) {
        let mut m = format!(
            "{} | {}",
            sa.get(i).copied().unwrap_or("(end)"),
            sb.get(i).copied().unwrap_or("(end)")
        );
        // And where each release's checks ended (its verdict).
        if da.last() != db.last() {
            m.push_str(&format!(
                ", ending at {} | {}",
                da.last().copied().unwrap_or("(none)"),
                db.last().copied().unwrap_or("(none)")
            ));
        }
        return Some(m);
    }
    if da != db {
        // Nothing shared differs: name where each release's checks ended.
        return Some(format!(
            "last {} | last {}",
            da.last().copied().unwrap_or("(none)"),
            db.last().copied().unwrap_or("(none)")
        ));
    }
    let accesses = |x: Option<(&Run, &Observation)>| -> Vec<String> {
        x.map_or(Vec::new(), |(r, o)| {
            r.trace.events[o.trace_range.0..o.trace_range.1]
                .iter()
                .filter_map(|e| match e {
                    TraceEvent::Access {
                        function,
                        addr,
                        width,
                        kind,
                        result,
                        ..
                    } => Some(format!("{function} {kind:?} {width}@{addr:#x} {result:?}")),
                    _ => None,
                })
                .collect()
        })
    };
    let (xa, xb) = (accesses(a), accesses(b));
    let n = xa.len().max(xb.len());
    (0..n).find(|&i| xa.get(i) != xb.get(i)).map(|i| {
        format!(
            "{} | {}",
            xa.get(i).map_or("(end)", |s| s.as_str()),
            xb.get(i).map_or("(end)", |s| s.as_str())
        )
    })
}

/// Area bytes in which two runs differed at a return whose difference the
/// registry explained, carried forward so that the comparison can go on past
/// it. A registered divergence often leaves a byte different for good (v7.0
/// writes rseq.flags at registration, v6.19 does not); comparing later
/// returns must not report that byte again, but must judge everything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CarriedBytes {
    /// Where both runs' areas were read.
    area_addr: u64,
    /// (offset in the area, old run's value, new run's value).
    bytes: Vec<(usize, u8, u8)>,
}

impl CarriedBytes {
    /// Leave out of `diff` (between `a` and `b`) the carried bytes.
    pub(crate) fn leave_out(&self, diff: &mut ObsDiff, a: &Observation, b: &Observation) {
        diff.area.retain(|&i| !self.masks(a, b, i));
    }

    /// For a finding's message: "" when nothing is carried, else which
    /// bytes an earlier, registered divergence left different.
    pub(crate) fn describe_after(&self) -> String {
        if self.bytes.is_empty() {
            return String::new();
        }
        let offsets: Vec<usize> = self.bytes.iter().map(|b| b.0).collect();
        format!(
            " (after a registered divergence that left struct rseq bytes {offsets:?} different)"
        )
    }

    /// Whether offset `i` of the area differs at this return only because
    /// it still holds what it held at the explained return, in both runs.
    fn masks(&self, a: &Observation, b: &Observation, i: usize) -> bool {
        let (Some(x), Some(y)) = (&a.area, &b.area) else {
            return false;
        };
        self.bytes
            .iter()
            .any(|&(o, va, vb)| o == i && x.get(i) == Some(&va) && y.get(i) == Some(&vb))
    }

    /// Whether the kernel read any carried byte in this run's window of
    /// return `k`: from there on the run may act on the difference, and
    /// what follows is its consequence, which the registry entry that
    /// explained it does not describe.
    fn read_in_window(&self, run: &Run, k: usize) -> bool {
        let Some(o) = run.observations.get(k) else {
            return false;
        };
        let window = run
            .trace
            .events
            .get(o.trace_range.0..o.trace_range.1)
            .unwrap_or(&[]);
        window.iter().any(|e| match e {
            TraceEvent::Access {
                kind: AccessKind::Read,
                addr,
                width,
                ..
            } => self.bytes.iter().any(|&(off, _, _)| {
                let byte = u128::from(self.area_addr) + off as u128;
                let start = u128::from(*addr);
                start <= byte && byte < start + u128::from(*width)
            }),
            _ => false,
        })
    }
}

/// The first return to user mode where the two runs differ.
pub fn compare(old: &Run, new: &Run) -> Option<(Finding, usize)> {
    compare_from(old, new, 0, &CarriedBytes::default())
}

/// The first return at or after `from` where the two runs differ, not
/// counting `carried` bytes. None also when the comparison cannot go on:
/// past a return whose area is read elsewhere, or once a kernel has read a
/// carried byte.
pub fn compare_from(
    old: &Run,
    new: &Run,
    from: usize,
    carried: &CarriedBytes,
) -> Option<(Finding, usize)> {
    let (k, diff, step) = next_difference(old, new, from, carried)?;
    Some((
        Finding::new(
            "differential",
            vec![old.name(), new.name()],
            step,
            format!(
                "return {k} differs in {}{}",
                diff.describe(),
                carried.describe_after()
            ),
        ),
        k,
    ))
}

/// The comparison both two-run oracles make (this one, and fault
/// transparency against a fault-free reference): the first return at or
/// after `from` where `a` and `b` differ other than in `carried` bytes, as
/// (return index, what differs, the step it follows). A return that one run
/// makes and the other does not is a fate difference. None where they agree
/// to the end, or where the comparison cannot go on (a kernel read a carried
/// byte, or the area moved).
pub fn next_difference(
    a_run: &Run,
    b_run: &Run,
    from: usize,
    carried: &CarriedBytes,
) -> Option<(usize, ObsDiff, usize)> {
    let n = a_run.observations.len().max(b_run.observations.len());
    for k in from..n {
        let (a, b) = (a_run.observations.get(k), b_run.observations.get(k));
        let mut diff = match (a, b) {
            (Some(a), Some(b)) => ObsDiff::between(a, b),
            _ => ObsDiff {
                fate: true,
                ..ObsDiff::default()
            },
        };
        if !carried.bytes.is_empty() {
            if carried.read_in_window(a_run, k) || carried.read_in_window(b_run, k) {
                return None;
            }
            // Where one run returned and the other did not, the fate
            // difference is reported whatever was carried.
            if let (Some(a), Some(b)) = (a, b) {
                if a.area_addr != carried.area_addr || b.area_addr != carried.area_addr {
                    return None;
                }
                carried.leave_out(&mut diff, a, b);
            }
        }
        if !diff.is_empty() {
            return Some((k, diff, b.or(a).map_or(0, |o| o.step)));
        }
    }
    None
}

/// After the registry explained the difference at return `k`: the bytes to
/// carry past it, or None to stop comparing the pair. Only a difference in
/// area bytes alone is carried; a different fate, IP, syscall return or
/// kill changes what every later step does, so the comparison ends there as
/// before. Nor is a difference carried when a kernel read one of its bytes
/// in that window: it may have acted on the value and kept state the area
/// does not show. (v7.0 read the program's slice request at U+28 and
/// granted an extension that v7.1's legacy mode cannot; the difference was
/// bytes 28 and 29 only, but the grant's timer later rescheduled the v7.0
/// task alone.)
pub fn carry_past(old: &Run, new: &Run, k: usize) -> Option<CarriedBytes> {
    let (a, b) = (old.observations.get(k)?, new.observations.get(k)?);
    let (Some(x), Some(y)) = (&a.area, &b.area) else {
        return None;
    };
    let diff = ObsDiff::between(a, b);
    if a.area_addr != b.area_addr || !diff.only_area() {
        return None;
    }
    let bytes = diff
        .area
        .iter()
        .map(|&i| Some((i, *x.get(i)?, *y.get(i)?)))
        .collect::<Option<Vec<_>>>()?;
    let carried = CarriedBytes {
        area_addr: a.area_addr,
        bytes,
    };
    if carried.read_in_window(old, k) || carried.read_in_window(new, k) {
        return None;
    }
    Some(carried)
}
