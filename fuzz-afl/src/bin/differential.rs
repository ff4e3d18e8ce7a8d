// AFL++ entry for rseq_fuzz::targets::differential (all logic lives in the library).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        rseq_fuzz::targets::separate_crashes_by_oracle();
        rseq_fuzz::targets::differential(data)
    });
}
