#![no_main]
// Benchmark baseline (benches/fuzz-bench.sh): part of cs_analysis's work.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rseq_fuzz::targets::baseline::cs_one_run(data));
