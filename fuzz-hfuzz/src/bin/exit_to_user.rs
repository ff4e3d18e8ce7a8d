// honggfuzz entry for rseq_fuzz::targets::exit_to_user (all logic lives in the library).
fn main() {
    loop {
        honggfuzz::fuzz!(|data: &[u8]| {
            rseq_fuzz::targets::separate_crashes_by_oracle();
            rseq_fuzz::targets::exit_to_user(data)
        });
    }
}
