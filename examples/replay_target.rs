//! Replay corpus files through one target's function, in-process and
//! without any fuzzing engine, N times over: the per-input cost of a target
//! for profilers (callgrind, perf) with no engine overhead mixed in.
//!
//! It also counts heap allocations per input: malloc, free and memcpy took
//! about a quarter of exit_to_user's time under libFuzzer (perf, 2026-12-02),
//! spread over many call sites that a profile shows only thinly.
//!
//! cargo run --release --example replay_target -- TARGET ROUNDS FILE...
use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting calls.
struct Counting;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for i in &inputs {
            (target.run)(i);
        }
    }
    let n = u64::from(rounds) * inputs.len() as u64;
    let secs = start.elapsed().as_secs_f64();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
    println!(
        "{name}: {n} inputs in {secs:.3} s, {:.0} inputs/s, {:.2} us/input, {:.0} allocations/input",
        n as f64 / secs,
        secs * 1e6 / n as f64,
        allocations as f64 / n as f64
    );
    ExitCode::SUCCESS
}
