#![no_main]
// libFuzzer entry for rseq_fuzz::live::live_kernel_target: each input is one
// live case, run on the host kernel and through the model of its version.
// x86_64 Linux only; not built for OSS-Fuzz (oss-fuzz/build.sh skips it).
libfuzzer_sys::fuzz_target!(|data: &[u8]| rseq_fuzz::live::live_kernel_target(data));
