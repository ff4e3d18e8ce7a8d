//! rseq-fuzz: executable models of the Linux kernel's rseq (restartable
//! sequences) logic per kernel version, oracles over them, and fuzz targets.
//!
//! Layout:
//! * [`abi`], [`mem`], [`config`], [`trace`], [`coverage`]: the shared foundation.
//! * [`kernel`]: the seam ([`kernel::KernelVersion`]) and the machine around it.
//! * [`versions`]: one file per kernel version, and the registry.

pub mod abi;
pub mod cli;
pub mod config;
pub mod coverage;
pub mod engine;
pub mod kernel;
pub mod mem;
pub mod targets;
pub mod testkit;
pub mod trace;
pub mod versions;
