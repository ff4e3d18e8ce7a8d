//! The fuzzing dictionary, generated from the ABI constants so that it can
//! never drift from the models: every per-architecture `RSEQ_SIG`, every
//! `TASK_SIZE` and its neighbours (the last byte, word and descriptor below
//! it, the first address above), `RSEQ_CPU_ID_UNINITIALIZED`, the flag bits,
//! the ABI sizes and the standard test layout's addresses.
//!
//! Values are little-endian byte strings, as `arbitrary` decodes integers.
//! One file serves every target and every engine (libFuzzer `-dict=`,
//! AFL++ `-x`, honggfuzz `--dict`): `corpus/rseq.dict`, written by
//! `rseq-fuzz dict --out corpus/rseq.dict` and checked by a test.

use crate::abi::{self, Arch};
use crate::testkit;
use std::fmt::Write as _;

/// Where the committed dictionary lives, relative to the repository root.
pub const DICT_PATH: &str = "corpus/rseq.dict";

/// One dictionary entry: a name (AFL++ wants `[A-Za-z0-9_]`) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Every entry, first name wins when two values have the same bytes.
pub fn entries() -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut add = |name: String, bytes: Vec<u8>| {
        if !out.iter().any(|e| e.bytes == bytes) {
            out.push(Entry { name, bytes });
        }
    };

    for sig in abi::ALL_RSEQ_SIGS {
        add(format!("rseq_sig_{sig:08x}"), sig.to_le_bytes().to_vec());
    }

    let mut task_sizes: Vec<u64> = abi::ALL_TASK_SIZES.to_vec();
    for arch in Arch::ALL {
        if !task_sizes.contains(&arch.task_size()) {
            task_sizes.push(arch.task_size());
        }
    }
    // Neighbours: the first bad address (+0), one above, and the last byte,
    // u32, u64 and struct rseq_cs that fit below it (-1, -4, -8, -32); a
    // descriptor straddling the end (-16).
    let offsets: [(i64, &str); 7] = [
        (0, ""),
        (1, "_plus_1"),
        (-1, "_minus_1"),
        (-4, "_minus_4"),
        (-8, "_minus_8"),
        (-16, "_minus_16"),
        (-(abi::rseq_cs::SIZE as i64), "_minus_32"),
    ];
    for ts in task_sizes {
        for (off, suffix) in offsets {
            let v = ts.wrapping_add_signed(off);
            add(
                format!("task_size_{ts:x}{suffix}"),
                v.to_le_bytes().to_vec(),
            );
            if let Ok(v32) = u32::try_from(v) {
                add(
                    format!("task_size_{ts:x}{suffix}_u32"),
                    v32.to_le_bytes().to_vec(),
                );
            }
        }
    }

    add(
        "cpu_id_uninitialized".into(),
        abi::RSEQ_CPU_ID_UNINITIALIZED.to_le_bytes().to_vec(),
    );
    add(
        "cpu_id_registration_failed".into(),
        abi::RSEQ_CPU_ID_REGISTRATION_FAILED.to_le_bytes().to_vec(),
    );

    let flags: [(&str, u32); 8] = [
        ("flag_unregister", abi::RSEQ_FLAG_UNREGISTER),
        (
            "flag_slice_ext_default_on",
            abi::RSEQ_FLAG_SLICE_EXT_DEFAULT_ON,
        ),
        (
            "cs_flag_no_restart_on_preempt",
            abi::RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT,
        ),
        (
            "cs_flag_no_restart_on_signal",
            abi::RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL,
        ),
        (
            "cs_flag_no_restart_on_migrate",
            abi::RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE,
        ),
        ("cs_deprecated_flags", abi::RSEQ_CS_DEPRECATED_FLAGS),
        (
            "flag_slice_ext_available",
            abi::RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE,
        ),
        (
            "flag_slice_ext_enabled",
            abi::RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
        ),
    ];
    for (name, v) in flags {
        add(name.into(), v.to_le_bytes().to_vec());
    }

    let sizes: [(&str, u32); 4] = [
        ("orig_rseq_size", abi::ORIG_RSEQ_SIZE),
        ("rseq_feature_size_v6_3", abi::RSEQ_FEATURE_SIZE_V6_3),
        ("rseq_feature_size_v7_0", abi::RSEQ_FEATURE_SIZE_V7_0),
        ("pr_rseq_slice_extension", abi::PR_RSEQ_SLICE_EXTENSION),
    ];
    for (name, v) in sizes {
        add(name.into(), v.to_le_bytes().to_vec());
    }

    let layout: [(&str, u64); 9] = [
        ("layout_code", testkit::CODE),
        ("layout_area", testkit::AREA),
        ("layout_desc", testkit::DESC),
        ("layout_handler", testkit::HANDLER),
        ("layout_cs_start", testkit::CS_START),
        ("layout_cs_len", testkit::CS_LEN),
        ("layout_abort_ip", testkit::ABORT_IP),
        ("layout_sig_site", testkit::ABORT_IP - 4),
        ("layout_ip_inside", testkit::IP_INSIDE),
    ];
    for (name, v) in layout {
        add(name.into(), v.to_le_bytes().to_vec());
    }
    add(
        "layout_ip_outside".into(),
        testkit::IP_OUTSIDE.to_le_bytes().to_vec(),
    );

    // The top of the address space: a critical section that wraps past it.
    add("u64_max".into(), u64::MAX.to_le_bytes().to_vec());
    add(
        "u64_max_minus_32".into(),
        (u64::MAX - 31).to_le_bytes().to_vec(),
    );
    add("u64_sign_bit".into(), (1u64 << 63).to_le_bytes().to_vec());
    out
}

/// The dictionary file's text (AFL/libFuzzer format: `name="\xNN..."`).
pub fn generate() -> String {
    let mut s = String::new();
    s.push_str("# rseq-fuzz dictionary: generated by `rseq-fuzz dict`, do not edit.\n");
    s.push_str(
        "# Little-endian values from src/abi.rs and src/testkit.rs (see src/engine/dict.rs).\n",
    );
    for e in entries() {
        let _ = write!(s, "{}=\"", e.name);
        for b in &e.bytes {
            let _ = write!(s, "\\x{b:02x}");
        }
        s.push_str("\"\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_dictionary_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DICT_PATH);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generate(),
            "{DICT_PATH} is stale: run `cargo run --release -- dict --out {DICT_PATH}`"
        );
    }

    #[test]
    fn dictionary_has_every_signature_and_task_size() {
        let e = entries();
        for sig in abi::ALL_RSEQ_SIGS {
            assert!(e.iter().any(|x| x.bytes == sig.to_le_bytes()), "{sig:#x}");
        }
        for ts in abi::ALL_TASK_SIZES {
            for v in [ts, ts - 1, ts - 32] {
                assert!(e.iter().any(|x| x.bytes == v.to_le_bytes()), "{v:#x}");
            }
        }
        assert!(e
            .iter()
            .any(|x| x.bytes == abi::RSEQ_CPU_ID_UNINITIALIZED.to_le_bytes()));
    }

    #[test]
    fn names_are_afl_identifiers_and_unique() {
        let e = entries();
        for x in &e {
            assert!(
                x.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{}",
                x.name
            );
            assert!(!x.bytes.is_empty() && x.bytes.len() <= 8);
        }
        let mut names: Vec<_> = e.iter().map(|x| &x.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), e.len());
    }
}
