# Sourced (by benches/common.sh and scripts/campaign-build-check.sh): the
# README's libFuzzer campaign build in one place. -O, --no-trace-compares,
# and SanitizerCoverage on function entries (level 1) instead of edges:
# cargo-fuzz appends RUSTFLAGS after its own flags, and LLVM takes the last
# value. Its own target dir keeps it apart from cargo-fuzz's default build in
# fuzz/target. Keep in step with the README's and docs/fuzzing.md's commands,
# which spell the same flags, so that they and these scripts share one build.
campaign_rustflags="-Cllvm-args=-sanitizer-coverage-level=1"
campaign_target_dir="target/fuzz-function-entries"

# campaign_cargo_fuzz build|run [ARGS...]: cargo fuzz in the campaign build,
# from the repository root.
campaign_cargo_fuzz() {
  local command="$1"; shift
  RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$campaign_rustflags" \
    cargo fuzz "$command" -s none -O --no-trace-compares --target-dir "$campaign_target_dir" "$@"
}
