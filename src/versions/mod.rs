//! The registry of modelled kernel versions. Adding a version means one new
//! file in this folder (a type that implements [`KernelVersion`]) and one line
//! in [`VERSIONS`].

use crate::config::Config;
use crate::coverage;
use crate::kernel::{KernelVersion, Machine, Model, Setup};
use crate::trace::DecisionSet;

pub mod v6_18;
pub mod v6_19;
pub mod v7_0;
pub mod v7_1;

/// One registered version.
pub struct VersionEntry {
    /// e.g. "v6.19".
    pub name: &'static str,
    pub description: &'static str,
    /// The configurations it is modelled under.
    pub configs: fn() -> Vec<Config>,
    /// Its decision points, `kernel_function/condition`.
    pub decisions: &'static [&'static str],
    /// Build a machine running this version under a configuration; the
    /// third argument is the version's base in the coverage map.
    build: fn(Config, Setup, usize) -> Box<dyn Model>,
}

impl VersionEntry {
    /// A fresh machine of this version.
    pub fn machine(&self, cfg: Config, setup: Setup) -> Box<dyn Model> {
        (self.build)(cfg, setup, coverage_base(self.name))
    }
}

fn build_machine<V: KernelVersion>(cfg: Config, setup: Setup, base: usize) -> Box<dyn Model> {
    Box::new(Machine::<V>::new(cfg, setup, base))
}

/// The registry entry of a version (also used by tests for test doubles).
pub const fn entry<V: KernelVersion>() -> VersionEntry {
    VersionEntry {
        name: V::NAME,
        description: V::DESCRIPTION,
        configs: V::configs,
        decisions: <V::Decision as DecisionSet>::NAMES,
        build: build_machine::<V>,
    }
}

/// Every modelled version, oldest first. A constant, so that the coverage
/// map can be sized from it at compile time.
const REGISTRY: &[VersionEntry] = &[
    entry::<v6_18::V6_18>(),
    entry::<v6_19::V6_19>(),
    entry::<v7_0::V7_0>(),
    entry::<v7_1::V7_1>(),
];

/// Every modelled version, oldest first.
pub static VERSIONS: &[VersionEntry] = REGISTRY;

/// How many versions are registered (the coverage map has a stride each).
pub const COUNT: usize = REGISTRY.len();

/// The most decision points any registered version has (the coverage map's
/// stride).
pub const MAX_DECISIONS: usize = {
    let (mut most, mut i) = (0, 0);
    while i < REGISTRY.len() {
        if REGISTRY[i].decisions.len() > most {
            most = REGISTRY[i].decisions.len();
        }
        i += 1;
    }
    most
};

/// Look a version up by name.
pub fn find(name: &str) -> Option<&'static VersionEntry> {
    VERSIONS.iter().find(|v| v.name == name)
}

/// The version's base index in the global coverage map.
pub fn coverage_base(name: &str) -> usize {
    VERSIONS.iter().position(|v| v.name == name).unwrap_or(0) * coverage::STRIDE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_fits_the_coverage_map() {
        assert!(VERSIONS.len() <= coverage::MAX_VERSIONS);
        for v in VERSIONS {
            assert!(
                v.decisions.len() <= coverage::STRIDE,
                "{} has too many decision points",
                v.name
            );
            // Every version's strip of the map lies inside it.
            assert!(coverage_base(v.name) + v.decisions.len() <= coverage::MAP_SIZE);
            assert!(!(v.configs)().is_empty(), "{} has no configuration", v.name);
            for d in v.decisions {
                assert!(
                    d.contains('/'),
                    "{}: decision '{d}' is not function/condition",
                    v.name
                );
            }
            let mut names = v.decisions.to_vec();
            names.sort();
            names.dedup();
            assert_eq!(
                names.len(),
                v.decisions.len(),
                "{} repeats a decision name",
                v.name
            );
        }
    }
}
