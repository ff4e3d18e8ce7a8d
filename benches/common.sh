# Sourced by the benchmark scripts: run from the repository root, with a
# scratch directory removed on exit, and the paths of the three cargo-fuzz
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
# The build the README's libFuzzer campaign commands use (function entries).
# shellcheck source=scripts/campaign-build.sh
. "$root/scripts/campaign-build.sh"
bin_functions="$campaign_target_dir/$triple/release"

# bin_of BUILD: the directory of a build's binaries (default,
# no-trace-compares, function-entries).
bin_of() {
  case "$1" in
    default) echo "$bin_default" ;;
    no-trace-compares) echo "$bin_ntc" ;;
    *) echo "$bin_functions" ;;
  esac
}

# fuzz_build DIR [cargo fuzz build options and TARGET]: one build into DIR
# (-s none, release).
fuzz_build() {
  local dir="$1"; shift
  cargo fuzz build -s none -O --target-dir "$dir" "$@" >&2
}

# build_fuzz_targets [TARGET]: both builds (every cargo-fuzz binary, or one).
build_fuzz_targets() {
  fuzz_build "$root/fuzz/target" "$@"
  fuzz_build "$root/target/fuzz-no-trace-compares" --no-trace-compares "$@"
}

# build_function_entry_targets [TARGET]: the function-entry (campaign) build.
build_function_entry_targets() {
  campaign_cargo_fuzz build "$@" >&2
}
