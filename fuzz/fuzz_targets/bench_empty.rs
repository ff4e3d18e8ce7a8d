#![no_main]
// Benchmark baseline: libFuzzer's own rate with a target that does nothing.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    std::hint::black_box(data);
});
