//! The worker side of the embedded engine: libFuzzer, linked into the
//! ordinary release binary by libfuzzer-sys (no sanitizer, no cargo-fuzz, no
//! nightly), started from our own code through `LLVMFuzzerRunDriver`.
//!
//! Feedback: libFuzzer reads every byte of the `__libfuzzer_extra_counters`
//! section as an 8-bit counter; that section is the decision-coverage map of
//! src/coverage.rs (one counter per version and kernel decision point), reset
//! by libFuzzer before each input. The binary has no edge instrumentation, so
//! the fuzzer is guided by exactly what matters here: which kernel decisions
//! each version took, and how often.
//!
//! This is the only place in the crate with `unsafe` code: the FFI boundary
//! to libFuzzer (argv in, input bytes out) and resetting SIGINT.

// Keep libfuzzer-sys's archive (libFuzzer's C++ sources) in the link.
extern crate libfuzzer_sys;

use super::libfuzzer_log::FINDING_PREFIX;
use crate::targets::Target;
use std::ffi::{c_char, c_int, CString};
use std::sync::OnceLock;

extern "C" {
    /// libFuzzer's entry for programs that have their own `main`
    /// (compiler-rt/lib/fuzzer/FuzzerDriver.cpp). It parses libFuzzer flags
    /// and corpus directories from `argv`, runs, and ends the process.
    fn LLVMFuzzerRunDriver(
        argc: *mut c_int,
        argv: *mut *mut *mut c_char,
        cb: extern "C" fn(*const u8, usize) -> c_int,
    ) -> c_int;

    fn signal(signum: c_int, handler: usize) -> usize;
}

const SIGINT: c_int = 2;
const SIG_DFL: usize = 0;

/// The target this worker process runs.
static TARGET: OnceLock<fn(&[u8])> = OnceLock::new();

fn run_selected(data: &[u8]) {
    if let Some(run) = TARGET.get() {
        run(data);
    }
}

extern "C" fn test_one_input(data: *const u8, size: usize) -> c_int {
    let input: &[u8] = if data.is_null() || size == 0 {
        &[]
    } else {
        // SAFETY: libFuzzer passes a buffer of `size` readable bytes that
        // stays alive for the duration of this call.
        unsafe { std::slice::from_raw_parts(data, size) }
    };
    run_selected(input);
    0
}

/// libfuzzer-sys's own `LLVMFuzzerTestOneInput` calls this symbol (which
/// `fuzz_target!` would define); we define it so that the archive links, and
/// route it to the same target. The crates under fuzz*/ depend on this crate
/// without the `engine` feature, so they never see a second definition.
// The slice is passed between Rust functions only (as libfuzzer-sys
// declares it), so it never crosses a C ABI boundary.
#[allow(improper_ctypes_definitions)]
#[no_mangle]
pub extern "C" fn rust_fuzzer_test_input(bytes: &[u8]) -> i32 {
    run_selected(bytes);
    0
}

/// Run libFuzzer on `target` with the libFuzzer arguments `args` (flags and
/// corpus directories); does not return when libFuzzer ends the run.
pub fn run_worker(target: &Target, args: &[String]) -> i32 {
    let _ = TARGET.set(target.run);
    // An oracle failure is a panic: print its message where the parent
    // reads it, then abort so that libFuzzer saves the input as a crash.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".to_string());
        let at = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("{FINDING_PREFIX}{}{at}", msg.replace('\n', " | "));
        std::process::abort();
    }));
    // The parent ignores SIGINT to print its summary after Ctrl-C; the
    // worker must not inherit that, so that libFuzzer stops cleanly.
    // SAFETY: restoring the default disposition of a signal has no
    // memory-safety preconditions.
    unsafe {
        signal(SIGINT, SIG_DFL);
    }
    let mut owned: Vec<CString> = Vec::with_capacity(args.len() + 1);
    owned.push(CString::new("rseq-fuzz").unwrap_or_default());
    for a in args {
        match CString::new(a.as_str()) {
            Ok(c) => owned.push(c),
            Err(_) => {
                eprintln!("rseq-fuzz: libFuzzer argument with a NUL byte: {a:?}");
                return 2;
            }
        }
    }
    let mut ptrs: Vec<*mut c_char> = owned.iter().map(|c| c.as_ptr() as *mut c_char).collect();
    ptrs.push(std::ptr::null_mut());
    let mut argc = c_int::try_from(owned.len()).unwrap_or(c_int::MAX);
    let mut argv = ptrs.as_mut_ptr();
    // SAFETY: argv holds argc valid NUL-terminated strings followed by a
    // null pointer, all alive (owned, ptrs) until libFuzzer ends the process
    // or returns; libFuzzer does not write through them.
    unsafe { LLVMFuzzerRunDriver(&mut argc, &mut argv, test_one_input) }
}

/// Ignore SIGINT in the parent (Ctrl-C reaches the workers, which stop and
/// print their statistics; the parent then prints the summary).
pub fn parent_ignore_sigint() {
    const SIG_IGN: usize = 1;
    // SAFETY: as above.
    unsafe {
        signal(SIGINT, SIG_IGN);
    }
}
