//! Replay corpus files through one target's function, in-process and
//! without any fuzzing engine, N times over: the per-input cost of a target
//! for profilers (callgrind, perf) with no engine overhead mixed in.
//!
//! cargo run --release --example replay_target -- TARGET ROUNDS FILE...
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: replay_target TARGET ROUNDS FILE...";
    let (Some(name), Some(rounds)) = (args.first(), args.get(1)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let Some(target) = rseq_fuzz::targets::find(name) else {
        eprintln!("unknown target '{name}'");
        return ExitCode::from(2);
    };
    let Ok(rounds) = rounds.parse::<u32>() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let mut inputs = Vec::new();
    for f in &args[2..] {
        match std::fs::read(f) {
            Ok(b) => inputs.push(b),
            Err(e) => {
                eprintln!("{f}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for i in &inputs {
            (target.run)(i);
        }
    }
    let n = u64::from(rounds) * inputs.len() as u64;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: {n} inputs in {secs:.3} s, {:.0} inputs/s, {:.2} us/input",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
    ExitCode::SUCCESS
}
