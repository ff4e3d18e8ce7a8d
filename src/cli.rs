//! The `rseq-fuzz` command line. Exit codes: 0 when every oracle holds, 1 on a
//! finding, 2 on bad input or usage.

use crate::trace::function_of;
use crate::versions::{self, VERSIONS};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "rseq-fuzz",
    version,
    about = "Differential fuzzing of Linux rseq models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every modelled kernel version and its configurations.
    Versions {
        #[arg(long)]
        json: bool,
    },
    /// List decision points, one a line, with the kernel function of each.
    Decisions {
        /// Only this version.
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Fuzz in-process with the embedded libFuzzer engine (no other tools).
    Fuzz(crate::engine::FuzzArgs),
    /// Print (or write) the fuzzing dictionary generated from the ABI constants.
    Dict {
        /// Write to this file instead of stdout (e.g. corpus/rseq.dict).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

/// Parse the process arguments and run; returns the exit code.
pub fn main() -> i32 {
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            code
        }
    }
}

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Versions { json } => cmd_versions(json),
        Command::Decisions { version, json } => cmd_decisions(version.as_deref(), json),
        Command::Fuzz(args) => crate::engine::cli_fuzz(&args),
        Command::Dict { out } => crate::engine::cli_dict(out.as_deref()),
    }
}

fn cmd_versions(json: bool) -> i32 {
    if json {
        let list: Vec<_> = VERSIONS
            .iter()
            .map(|v| {
                serde_json::json!({
                    "name": v.name,
                    "description": v.description,
                    "configs": (v.configs)().iter().map(|c| c.name()).collect::<Vec<_>>(),
                    "decision_points": v.decisions.len(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
    } else {
        for v in VERSIONS {
            println!(
                "{}  {}  ({} decision points)",
                v.name,
                v.description,
                v.decisions.len()
            );
            for c in (v.configs)() {
                println!("    {}", c.name());
            }
        }
    }
    0
}

fn cmd_decisions(version: Option<&str>, json: bool) -> i32 {
    let selected: Vec<_> = match version {
        Some(name) => match versions::find(name) {
            Some(v) => vec![v],
            None => {
                eprintln!("rseq-fuzz: unknown version '{name}' (see `rseq-fuzz versions`)");
                return 2;
            }
        },
        None => VERSIONS.iter().collect(),
    };
    if json {
        let list: Vec<_> = selected
            .iter()
            .flat_map(|v| {
                v.decisions.iter().map(move |d| {
                    serde_json::json!({"version": v.name, "point": d, "function": function_of(d)})
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
    } else {
        for v in selected {
            for d in v.decisions {
                println!("{}\t{}\t{}", v.name, d, function_of(d));
            }
        }
    }
    0
}
