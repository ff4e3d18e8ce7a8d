//! rseq-fuzz: executable models of the Linux kernel's rseq (restartable
//! sequences) logic per kernel version, oracles over them, and fuzz targets.
//!
//! Layout:
//! * [`abi`], [`mem`], [`config`], [`trace`], [`coverage`]: the shared foundation.
//! * [`kernel`]: the seam ([`kernel::KernelVersion`]) and the machine around it.
//! * [`versions`]: one file per kernel version, and the registry.
//! * [`scenario`], [`runner`]: what the fuzz targets and the CLI run.
//! * [`oracles`], [`divergences`]: what must hold, and the known divergences.
//! * [`targets`], [`engine`], [`seeds`], [`corpus`]: fuzz targets, the embedded
//!   engine, seed scenarios, corpus tools.
//! * [`live`]: live-kernel conformance (run cases on the host kernel, compare with its model).

pub mod abi;
pub mod cli;
pub mod config;
pub mod corpus;
pub mod coverage;
pub mod divergences;
pub mod engine;
pub mod kernel;
pub mod live;
pub mod mem;
pub mod oracles;
pub mod runner;
pub mod scenario;
pub mod seeds;
pub mod targets;
pub mod testkit;
pub mod trace;
pub mod versions;
