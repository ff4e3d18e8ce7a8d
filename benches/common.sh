# Sourced by the benchmark scripts: run from the repository root, with a
# scratch directory removed on exit, and the paths of the two cargo-fuzz
# builds they compare.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
triple="$(rustc -vV | sed -n 's/^host: //p')"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# cargo-fuzz's default build (-s none, release) and one without
# SanitizerCoverage's comparison callbacks, each in its own target directory.
bin_default="fuzz/target/$triple/release"
bin_ntc="target/fuzz-no-trace-compares/$triple/release"
# For the exploration benchmark only: SanitizerCoverage on function entries
# (level 1) instead of edges, with no comparison callbacks either. cargo-fuzz
# appends RUSTFLAGS after its own flags, and LLVM takes the last value.
bin_functions="target/fuzz-function-entries/$triple/release"

# build_fuzz_targets [TARGET]: both builds (every cargo-fuzz binary, or one).
build_fuzz_targets() {
  (cd fuzz && cargo fuzz build -s none -O "$@" >&2)
  (cd fuzz && CARGO_TARGET_DIR="$root/target/fuzz-no-trace-compares" \
    cargo fuzz build -s none -O --no-trace-compares "$@" >&2)
}

# build_function_entry_targets [TARGET]: the function-entry build.
build_function_entry_targets() {
  (cd fuzz && CARGO_TARGET_DIR="$root/target/fuzz-function-entries" \
    RUSTFLAGS="${RUSTFLAGS:-} -Cllvm-args=-sanitizer-coverage-level=1" \
    cargo fuzz build -s none -O --no-trace-compares "$@" >&2)
}
