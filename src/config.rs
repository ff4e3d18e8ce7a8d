//! Kernel build and boot configuration axes that change rseq behaviour
//! (spec §1.4).

use crate::abi::Arch;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One kernel configuration a model runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Config {
    pub arch: Arch,
    /// Legacy: CONFIG_DEBUG_RSEQ. Rework: the `rseq_debug_enabled` static key
    /// (boot `rseq_debug=`, debugfs; its default is
    /// CONFIG_RSEQ_DEBUG_DEFAULT_ENABLE, which CONFIG_DEBUG_RSEQ selects).
    pub debug: bool,
    /// CONFIG_DEBUG_RSEQ in the rework on architectures without generic
    /// entry (arm64, arm32): it compiles in `rseq_syscall()`, the
    /// syscall-return check, which runs whatever the key says. Equal to
    /// `debug` unless a boot parameter set the key against the config
    /// (names `+debugcfg`: the config without the key; `+debugkey`: the key
    /// without the config). The legacy model and GE kernels ignore it.
    #[serde(default)]
    pub debug_rseq: bool,
    /// CONFIG_GENERIC_ENTRY.
    pub generic_entry: bool,
    /// CONFIG_GENERIC_IRQ_ENTRY.
    pub generic_irq_entry: bool,
    /// CONFIG_HAVE_GENERIC_TIF_BITS: a separate TIF_RSEQ bit. Without it
    /// TIF_RSEQ is TIF_NOTIFY_RESUME.
    pub generic_tif_bits: bool,
    /// CONFIG_RSEQ_SLICE_EXTENSION (v7.0+).
    pub slice_extension: bool,
    /// The slice-extension static key (on unless disabled on the command line).
    pub slice_key: bool,
}

impl Config {
    /// The entry configuration the architecture has in the given era.
    /// `arm64_generic_irq_entry`: arm64 selected GENERIC_IRQ_ENTRY from v6.19 on.
    pub fn native(arch: Arch, debug: bool) -> Config {
        let (ge, gie, tifb) = match arch {
            Arch::X86_64 | Arch::X86_64La57 => (true, true, true),
            // riscv selects HAVE_GENERIC_TIF_BITS since 41e871f2b63e,
            // merged with the TIF_RSEQ work before v6.19.
            Arch::Riscv64 => (true, true, true),
            Arch::Arm64 => (false, true, false),
            Arch::Arm32 => (false, false, false),
        };
        Config {
            arch,
            debug,
            debug_rseq: debug,
            generic_entry: ge,
            generic_irq_entry: gie,
            generic_tif_bits: tifb,
            slice_extension: false,
            slice_key: false,
        }
    }

    /// Same build with the rseq_debug key set by a boot parameter, whatever
    /// CONFIG_DEBUG_RSEQ chose as its default.
    pub fn with_debug_key(mut self, key: bool) -> Config {
        self.debug = key;
        self
    }

    /// Rework kernels (v6.19 on): whether the syscall-return check runs.
    /// On GE kernels rseq_debug_syscall_return() tests the debug key;
    /// elsewhere CONFIG_DEBUG_RSEQ compiles in rseq_syscall(), which does
    /// not test it.
    pub fn syscall_return_check(&self) -> bool {
        if self.generic_entry {
            self.debug
        } else {
            self.debug_rseq
        }
    }

    /// The rework's builds whose rseq_debug boot parameter contradicts
    /// CONFIG_DEBUG_RSEQ. That matters only without generic entry (see
    /// [`Config::syscall_return_check`]): the syscall-return check without
    /// the exit path's debug checks (`+debugcfg`), and those checks without
    /// it (`+debugkey`).
    pub fn debug_key_against_config() -> Vec<Config> {
        let mut v = Vec::new();
        for arch in [Arch::Arm64, Arch::Arm32] {
            v.push(Config::native(arch, true).with_debug_key(false));
            v.push(Config::native(arch, false).with_debug_key(true));
        }
        v
    }

    /// Same configuration with the time-slice extension built in and its key set.
    pub fn with_slice(mut self, configured: bool, key: bool) -> Config {
        self.slice_extension = configured;
        self.slice_key = configured && key;
        self
    }

    pub fn task_size(&self) -> u64 {
        self.arch.task_size()
    }

    /// A stable, parseable name:
    /// `arch[+ge][+gie][+tifb][+slice[-off]][+debug|+debugcfg|+debugkey]`.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// Parse what [`Config::name`] prints.
    pub fn parse(s: &str) -> Result<Config, String> {
        let mut parts = s.split('+');
        let arch_name = parts.next().unwrap_or("");
        let arch = Arch::ALL
            .iter()
            .copied()
            .find(|a| a.name() == arch_name)
            .ok_or_else(|| format!("unknown architecture '{arch_name}' in config '{s}'"))?;
        let mut c = Config {
            arch,
            debug: false,
            debug_rseq: false,
            generic_entry: false,
            generic_irq_entry: false,
            generic_tif_bits: false,
            slice_extension: false,
            slice_key: false,
        };
        for p in parts {
            match p {
                "ge" => c.generic_entry = true,
                "gie" => c.generic_irq_entry = true,
                "tifb" => c.generic_tif_bits = true,
                "slice" => {
                    c.slice_extension = true;
                    c.slice_key = true
                }
                "slice-off" => c.slice_extension = true,
                "debug" => (c.debug, c.debug_rseq) = (true, true),
                "debugcfg" => c.debug_rseq = true,
                "debugkey" => c.debug = true,
                other => return Err(format!("unknown config part '{other}' in '{s}'")),
            }
        }
        Ok(c)
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.arch.name())?;
        if self.generic_entry {
            write!(f, "+ge")?;
        }
        if self.generic_irq_entry {
            write!(f, "+gie")?;
        }
        if self.generic_tif_bits {
            write!(f, "+tifb")?;
        }
        if self.slice_extension {
            write!(
                f,
                "{}",
                if self.slice_key {
                    "+slice"
                } else {
                    "+slice-off"
                }
            )?;
        }
        match (self.debug, self.debug_rseq) {
            (true, true) => write!(f, "+debug")?,
            (false, true) => write!(f, "+debugcfg")?,
            (true, false) => write!(f, "+debugkey")?,
            (false, false) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for arch in Arch::ALL {
            for debug in [false, true] {
                for (cfgd, key) in [(false, false), (true, false), (true, true)] {
                    for debug_key in [false, true] {
                        let c = Config::native(arch, debug)
                            .with_slice(cfgd, key)
                            .with_debug_key(debug_key);
                        assert_eq!(Config::parse(&c.name()), Ok(c), "{c}");
                    }
                }
            }
        }
        assert!(Config::parse("vax").is_err());
        assert!(Config::parse("x86_64+bogus").is_err());
    }
}
