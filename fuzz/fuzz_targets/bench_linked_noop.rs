#![no_main]
// Benchmark baseline (benches/fuzz-bench.sh): the library linked in (its
// decision map and its instrumented code, which libFuzzer scans and clears on
// every input) and nothing run.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rseq_fuzz::targets::baseline::linked_noop(data));
