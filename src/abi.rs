//! The user-space ABI of rseq: the layouts of `struct rseq` and `struct rseq_cs`,
//! the constants of include/uapi/linux/rseq.h, RSEQ_SIG per architecture (from
//! tools/testing/selftests/rseq/rseq-*.h) and TASK_SIZE per platform.
//!
//! Spec: ../shared/spec/rseq-semantics.md §2.

/// Offsets into `struct rseq` (include/uapi/linux/rseq.h).
pub mod rseq {
    /// `__u32 cpu_id_start`: kernel-written, user read-only.
    pub const CPU_ID_START: u64 = 0;
    /// `__u32 cpu_id`: kernel-written, user read-only.
    pub const CPU_ID: u64 = 4;
    /// `__u64 rseq_cs`: pointer to the current `struct rseq_cs`, user-set, kernel-cleared.
    pub const RSEQ_CS: u64 = 8;
    /// `__u32 flags`: must be 0 (restart-inhibit bits deprecated); v7.0 kernel-written bits 4/5.
    pub const FLAGS: u64 = 16;
    /// `__u32 node_id` (since 6.3).
    pub const NODE_ID: u64 = 20;
    /// `__u32 mm_cid` (since 6.3).
    pub const MM_CID: u64 = 24;
    /// `__u32 slice_ctrl` (since 7.0): byte 28 `request`, byte 29 `granted`.
    pub const SLICE_CTRL: u64 = 28;
    /// Byte offset of `slice_ctrl.request`.
    pub const SLICE_REQUEST: u64 = 28;
    /// Byte offset of `slice_ctrl.granted`.
    pub const SLICE_GRANTED: u64 = 29;
    /// `__u8 __reserved` (7.0, Feb 2026): makes the feature size 33.
    pub const RESERVED: u64 = 32;
    /// `__alignof__(struct rseq)`.
    pub const ALIGN: u64 = 32;
}

/// Offsets into `struct rseq_cs` (the critical-section descriptor).
pub mod rseq_cs {
    /// `__u32 version`: must be 0.
    pub const VERSION: u64 = 0;
    /// `__u32 flags`: deprecated restart-inhibit bits, must be 0.
    pub const FLAGS: u64 = 4;
    /// `__u64 start_ip`.
    pub const START_IP: u64 = 8;
    /// `__u64 post_commit_offset`.
    pub const POST_COMMIT_OFFSET: u64 = 16;
    /// `__u64 abort_ip`.
    pub const ABORT_IP: u64 = 24;
    /// `sizeof(struct rseq_cs)`.
    pub const SIZE: u64 = 32;
    /// Declared alignment (the kernel never checks it).
    pub const ALIGN: u64 = 32;
}

/// `RSEQ_CPU_ID_UNINITIALIZED` (-1 as u32).
pub const RSEQ_CPU_ID_UNINITIALIZED: u32 = 0xFFFF_FFFF;
/// `RSEQ_CPU_ID_REGISTRATION_FAILED` (-2 as u32), written by libc.
pub const RSEQ_CPU_ID_REGISTRATION_FAILED: u32 = 0xFFFF_FFFE;
/// sys_rseq flag bit 0.
pub const RSEQ_FLAG_UNREGISTER: u32 = 1;
/// sys_rseq flag bit 1 (v7.0+).
pub const RSEQ_FLAG_SLICE_EXT_DEFAULT_ON: u32 = 2;
/// Deprecated `rseq_cs.flags` / `rseq.flags` bits 0..2.
pub const RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT: u32 = 1 << 0;
pub const RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL: u32 = 1 << 1;
pub const RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE: u32 = 1 << 2;
/// The three deprecated restart-inhibit bits together.
pub const RSEQ_CS_DEPRECATED_FLAGS: u32 = RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT
    | RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL
    | RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE;
/// `rseq.flags` bit 4 (v7.0+), kernel-written.
pub const RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE: u32 = 1 << 4;
/// `rseq.flags` bit 5 (v7.0+), kernel-written.
pub const RSEQ_CS_FLAG_SLICE_EXT_ENABLED: u32 = 1 << 5;
/// `ORIG_RSEQ_SIZE`: the size of the original ABI, including padding.
pub const ORIG_RSEQ_SIZE: u32 = 32;
/// `offsetof(struct rseq, end)` in 6.3 ... 6.19 (AT_RSEQ_FEATURE_SIZE).
pub const RSEQ_FEATURE_SIZE_V6_3: u32 = 28;
/// `offsetof(struct rseq, end)` in 7.0 final (after 3b68df978133).
pub const RSEQ_FEATURE_SIZE_V7_0: u32 = 33;

/// prctl constants for time-slice extensions (v7.0; spec §2.3 notes these came
/// from user test programs).
pub const PR_RSEQ_SLICE_EXTENSION: u32 = 79;
pub const PR_RSEQ_SLICE_EXTENSION_GET: u32 = 1;
pub const PR_RSEQ_SLICE_EXTENSION_SET: u32 = 2;
pub const PR_RSEQ_SLICE_EXT_ENABLE: u32 = 1;

/// errno values the modelled syscalls return (negated in return values).
pub mod errno {
    pub const EPERM: i64 = 1;
    pub const EINTR: i64 = 4;
    pub const ENXIO: i64 = 6;
    pub const EFAULT: i64 = 14;
    pub const EBUSY: i64 = 16;
    pub const ENODEV: i64 = 19;
    pub const EINVAL: i64 = 22;
    pub const ENOSYS: i64 = 38;
    /// Kernel-internal ENOTSUPP (524), which leaks to user space from prctl.
    pub const ENOTSUPP: i64 = 524;
}

/// Signal numbers used by the models.
pub mod sig {
    pub const SIGUSR1: u8 = 10;
    pub const SIGSEGV: u8 = 11;
    pub const SIGUSR2: u8 = 12;
    pub const SIGALRM: u8 = 14;
    /// Highest signal number modelled (rt signals included).
    pub const MAX: u8 = 64;
}

/// Architectures the models know. The variant decides RSEQ_SIG, TASK_SIZE and
/// which entry code the kernel builds with.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// x86-64 with 4-level paging, 64-bit task.
    X86_64,
    /// x86-64 with 5-level paging (LA57), 64-bit task.
    X86_64La57,
    /// arm64, 48-bit VA, little-endian, 64-bit task.
    Arm64,
    /// riscv64 (generic entry), little-endian.
    Riscv64,
    /// 32-bit arm (own entry code: no generic IRQ entry), little-endian.
    Arm32,
}

impl Arch {
    pub const ALL: [Arch; 5] = [
        Arch::X86_64,
        Arch::X86_64La57,
        Arch::Arm64,
        Arch::Riscv64,
        Arch::Arm32,
    ];

    /// `RSEQ_SIG` as user space registers it on this architecture.
    pub fn rseq_sig(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::X86_64La57 => 0x5305_3053,
            Arch::Arm64 => 0xd428_bc00,
            Arch::Riscv64 => 0xf140_1073,
            Arch::Arm32 => 0xe7f5_def3,
        }
    }

    /// `TASK_SIZE` for a native task: the first address that fails access_ok().
    pub fn task_size(self) -> u64 {
        match self {
            Arch::X86_64 => 0x0000_7FFF_FFFF_F000,
            Arch::X86_64La57 => 0x00FF_FFFF_FFFF_F000,
            Arch::Arm64 => 0x0001_0000_0000_0000,
            // Sv48 user space (riscv64 TASK_SIZE_64 with 4-level page tables).
            Arch::Riscv64 => 0x0000_8000_0000_0000,
            // arm32 with the 3G/1G split: TASK_SIZE = PAGE_OFFSET - 16 MiB.
            Arch::Arm32 => 0xBF00_0000,
        }
    }

    /// Native word size in bits: decides the width of `unsigned long` in the CS
    /// routines (spec §4.13).
    pub fn word_bits(self) -> u32 {
        match self {
            Arch::Arm32 => 32,
            _ => 64,
        }
    }

    /// Short stable name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X86_64La57 => "x86_64-la57",
            Arch::Arm64 => "arm64",
            Arch::Riscv64 => "riscv64",
            Arch::Arm32 => "arm32",
        }
    }
}

/// Every per-architecture signature value of the selftests headers (for
/// dictionaries and generators, not only the ones [`Arch`] models).
pub const ALL_RSEQ_SIGS: [u32; 12] = [
    0x5305_3053, // x86
    0xe7f5_def3, // arm LE
    0xf3de_f5e7, // arm BE8
    0xd428_bc00, // arm64 LE
    0x00bc_28d4, // arm64 BE data
    0x0fe5_000b, // powerpc
    0xf140_1073, // riscv
    0xB2FF_0FFF, // s390
    0x0350_000d, // mips
    0x0000_d407, // microMIPS BE
    0xd407_0000, // microMIPS LE
    0x0010_0350, // nanoMIPS BE
];

/// Every TASK_SIZE value the spec lists (§2.5), for dictionaries and anchors.
pub const ALL_TASK_SIZES: [u64; 6] = [
    0x0000_7FFF_FFFF_F000,
    0x00FF_FFFF_FFFF_F000,
    0x0001_0000_0000_0000,
    0x0010_0000_0000_0000,
    0xFFFF_E000,
    0xC000_0000,
];

/// The unsigned "IP inside the critical section" test every version uses:
/// `ip - start_ip < post_commit_offset`, wrapping in the native word size.
pub fn in_cs(ip: u64, start_ip: u64, post_commit_offset: u64, word_bits: u32) -> bool {
    let mask = word_mask(word_bits);
    (ip.wrapping_sub(start_ip) & mask) < (post_commit_offset & mask)
}

/// All-ones in the native word size.
pub fn word_mask(word_bits: u32) -> u64 {
    if word_bits >= 64 {
        u64::MAX
    } else {
        (1u64 << word_bits) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_offsets_are_the_uapi_ones() {
        assert_eq!(rseq::RSEQ_CS, 8);
        assert_eq!(rseq::MM_CID + 4, rseq::SLICE_CTRL);
        assert_eq!(rseq::RESERVED + 1, RSEQ_FEATURE_SIZE_V7_0 as u64);
        assert_eq!(rseq_cs::ABORT_IP + 8, rseq_cs::SIZE);
    }

    #[test]
    fn in_cs_wraps_like_c() {
        assert!(in_cs(0x1000, 0x1000, 1, 64));
        assert!(!in_cs(0x1001, 0x1000, 1, 64));
        assert!(!in_cs(0xfff, 0x1000, 0x10, 64));
        // A CS that wraps the top of the address space covers ip 0.
        assert!(in_cs(0, u64::MAX, 2, 64));
        // On a 32-bit word the subtraction wraps at 2^32.
        assert!(in_cs(0x10, 0xFFFF_FFF0, 0x40, 32));
        assert!(!in_cs(0x10, 0xFFFF_FFF0, 0x40, 64));
    }

    #[test]
    fn task_sizes() {
        assert_eq!(Arch::X86_64.task_size(), (1u64 << 47) - 4096);
        assert_eq!(Arch::X86_64La57.task_size(), (1u64 << 56) - 4096);
        assert_eq!(Arch::Arm64.task_size(), 1u64 << 48);
    }
}
