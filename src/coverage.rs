//! The decision-coverage map: one counter per (version, decision point).
//!
//! On Linux the map lives in the `__libfuzzer_extra_counters` section, so that
//! libFuzzer (cargo fuzz, and the embedded engine that drives libFuzzer from
//! the release binary) reads it as coverage feedback next to edge coverage.
//! A model's decisions are what the fuzzer should explore; edges of the Rust
//! code are a poor proxy for "the kernel took a different branch".

use std::sync::atomic::{AtomicU8, Ordering};

/// Decision points per version at most (checked by a test).
pub const STRIDE: usize = 256;
/// Versions at most.
pub const MAX_VERSIONS: usize = 16;
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
