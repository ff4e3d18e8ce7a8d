fn main() {
    std::process::exit(rseq_fuzz::cli::main());
}
