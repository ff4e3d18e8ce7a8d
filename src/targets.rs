//! PLACEHOLDER (branch `fuzz`): stands in for the lead's src/targets.rs until it
//! lands on main, so that the engine infrastructure (cargo-fuzz, AFL++,
//! honggfuzz, the embedded engine, benchmarks, CI and OSS-Fuzz) can be built and
//! tested. It has exactly the agreed API; the bodies do trivial work on the
//! input. When merging, take main's file and drop this one.
//!
//! Under the test-only feature `canary`, `cs_analysis` mimics the deliberately
//! broken v6.19 signature check (low 16 bits only) and its security oracle: an
//! input whose two signature words agree in the low 16 bits but not in the high
//! ones panics with "oracle security failed: canary ...".

use crate::coverage;

/// A fuzz target: a function that decodes any byte string and panics only on
/// an oracle failure ("oracle <name> failed: ...").
pub struct Target {
    pub name: &'static str,
    pub description: &'static str,
    pub run: fn(&[u8]),
}

/// Every fuzz target, in the order engines and CI run them.
pub static TARGETS: &[Target] = &[
    Target {
        name: "cs_analysis",
        description: "placeholder: one critical-section analysis per input",
        run: cs_analysis,
    },
    Target {
        name: "exit_to_user",
        description: "placeholder: multi-step scenario on one version",
        run: exit_to_user,
    },
    Target {
        name: "registration",
        description: "placeholder: rseq syscall sequences",
        run: registration,
    },
    Target {
        name: "differential",
        description: "placeholder: multi-step scenario on all versions",
        run: differential,
    },
];

fn le_u32(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at.wrapping_add(i)).copied().unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

fn le_u64(data: &[u8], at: usize) -> u64 {
    u64::from(le_u32(data, at)) | (u64::from(le_u32(data, at.wrapping_add(4))) << 32)
}

/// Placeholder: registered signature (u32), signature before the abort IP
/// (u32), ip, start_ip, post_commit_offset (u64 each), all little-endian.
pub fn cs_analysis(data: &[u8]) {
    let registered = le_u32(data, 0);
    let at_abort = le_u32(data, 4);
    let ip = le_u64(data, 8);
    let start = le_u64(data, 16);
    let off = le_u64(data, 24);
    let inside = crate::abi::in_cs(ip, start, off, 64);
    coverage::hit(usize::from(inside));
    let exact = registered == at_abort;
    let model = if cfg!(feature = "canary") {
        (registered & 0xffff) == (at_abort & 0xffff)
    } else {
        exact
    };
    coverage::hit(2 + usize::from(model));
    if inside && model {
        coverage::hit(4);
    }
    if model != exact {
        panic!(
            "oracle security failed: canary: abort accepted with signature {at_abort:#010x} \
             registered {registered:#010x}"
        );
    }
}

fn steps(data: &[u8], base: usize) {
    // Bounded: at most 64 steps of 4 bytes.
    let mut state = 0u32;
    for chunk in data.chunks(4).take(64) {
        let op = chunk.first().copied().unwrap_or(0) % 8;
        coverage::hit(base + usize::from(op));
        state = state.wrapping_mul(31).wrapping_add(u32::from(op));
    }
    coverage::hit(base + 8 + (state % 8) as usize);
}

/// Placeholder multi-step target.
pub fn exit_to_user(data: &[u8]) {
    steps(data, 16);
}

/// Placeholder syscall-sequence target.
pub fn registration(data: &[u8]) {
    steps(data, 32);
}

/// Placeholder differential target.
pub fn differential(data: &[u8]) {
    steps(data, 48);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_accept_any_input() {
        for t in TARGETS {
            for len in [0usize, 1, 7, 31, 64, 300] {
                let data: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
                (t.run)(&data);
            }
        }
    }

    #[test]
    #[cfg_attr(not(feature = "canary"), ignore = "needs --features canary")]
    fn canary_is_caught() {
        let mut d = vec![0u8; 32];
        d[0..4].copy_from_slice(&0x5305_3053u32.to_le_bytes());
        d[4..8].copy_from_slice(&0x1234_3053u32.to_le_bytes());
        let r = std::panic::catch_unwind(|| cs_analysis(&d));
        assert!(r.is_err());
    }
}
