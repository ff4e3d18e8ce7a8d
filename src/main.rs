fn main() {
    // Die quietly on a closed pipe (`rseq-fuzz decisions | head`), as Unix
    // tools do, instead of panicking in println!.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread
    // starts has no memory-safety consequence.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(rseq_fuzz::cli::main());
}
