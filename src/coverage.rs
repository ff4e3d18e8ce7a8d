//! The decision-coverage map: one counter per (version, decision point).
//!
//! On Linux the map lives in the `__libfuzzer_extra_counters` section, so that
//! libFuzzer (cargo fuzz, and the embedded engine that drives libFuzzer from
//! the release binary) reads it as coverage feedback next to edge coverage.
//! A model's decisions are what the fuzzer should explore; edges of the Rust
//! code are a poor proxy for "the kernel took a different branch".

use std::sync::atomic::{AtomicU8, Ordering};

/// Decision points per version: the most any registered version has.
///
/// The map is sized from the registry at compile time and has no spare room:
/// libFuzzer clears and scans every byte of it after every input, whatever
/// the target does. At 256 bytes for each of 16 versions (4 KiB, of which 454
/// were used) the map alone halved libFuzzer's rate on a target that does
/// nothing; sized this way it is 560 bytes.
pub const STRIDE: usize = crate::versions::MAX_DECISIONS;
/// Versions: as many as are registered.
pub const MAX_VERSIONS: usize = crate::versions::COUNT;
/// Size of the map.
pub const MAP_SIZE: usize = STRIDE * MAX_VERSIONS;

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU8 = AtomicU8::new(0);

#[cfg_attr(target_os = "linux", link_section = "__libfuzzer_extra_counters")]
#[used]
static COUNTERS: [AtomicU8; MAP_SIZE] = [ZERO; MAP_SIZE];

/// Count one hit of the global decision index `i` (saturating, as libFuzzer's
/// 8-bit counters do).
#[inline]
pub fn hit(i: usize) {
    if let Some(c) = COUNTERS.get(i) {
        let v = c.load(Ordering::Relaxed);
        if v != u8::MAX {
            c.store(v + 1, Ordering::Relaxed);
        }
    }
}

/// Read the map (for the embedded engine and tests).
pub fn snapshot() -> Vec<u8> {
    COUNTERS.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

/// Zero the map.
pub fn reset() {
    for c in COUNTERS.iter() {
        c.store(0, Ordering::Relaxed);
    }
}
