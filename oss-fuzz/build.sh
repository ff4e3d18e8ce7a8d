#!/bin/bash -eu
# OSS-Fuzz build script for rseq-fuzz (runs inside base-builder-rust, and in
# the simulated builder oss-fuzz/check). For every cargo-fuzz target:
#   $OUT/<target>                 the fuzzer (cargo fuzz build -O)
#   $OUT/<target>_seed_corpus.zip corpus/<target>/*
#   $OUT/<target>.dict            corpus/rseq.dict (generated from src/abi.rs)
#   $OUT/<target>.options         libFuzzer max_len and timeout
# The engine (libFuzzer, AFL++, honggfuzz) is chosen by OSS-Fuzz through
# $FUZZING_ENGINE: its compile step points CUSTOM_LIBFUZZER_PATH at the
# engine's driver library, which libfuzzer-sys links instead of libFuzzer.

cd "$SRC/rseq-fuzz"
triple="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"

# The sanitizer comes from RUSTFLAGS (-Zsanitizer=$SANITIZER, set by OSS-Fuzz);
# tell cargo fuzz the same, or none where the builder has none.
case "${SANITIZER:-address}" in
  address|memory|thread) sanitizer_args=(--sanitizer "$SANITIZER") ;;
  *) sanitizer_args=(--sanitizer none) ;;
esac

# cargo fuzz instruments with libFuzzer's inline 8-bit counters; the AFL++ and
# honggfuzz runtimes read trace-pc-guard edges instead, so add those for them.
case "${FUZZING_ENGINE:-libfuzzer}" in
  afl|honggfuzz) export RUSTFLAGS="${RUSTFLAGS:-} -Cllvm-args=-sanitizer-coverage-trace-pc-guard" ;;
esac

# Every cargo-fuzz target but the benchmark baseline and live_kernel, which
# runs cases on the build machine's own kernel and means nothing on OSS-Fuzz.
targets=$(cd fuzz && cargo fuzz list | grep -v -e '^bench_' -e '^live_kernel$')

# -O: optimized; --debug-assertions: debug_assert! and overflow checks on,
# so an arithmetic overflow in a model is a finding, as in `cargo test`.
(cd fuzz && cargo fuzz build -O --debug-assertions "${sanitizer_args[@]}" --target "$triple")

target_dir="${CARGO_TARGET_DIR:-$SRC/rseq-fuzz/fuzz/target}"
for t in $targets; do
  cp "$target_dir/$triple/release/$t" "$OUT/"
  if [ -d "corpus/$t" ] && [ -n "$(ls -A "corpus/$t")" ]; then
    rm -f "$OUT/${t}_seed_corpus.zip"
    (cd "corpus/$t" && zip -q -r -j "$OUT/${t}_seed_corpus.zip" .)
  fi
  cp corpus/rseq.dict "$OUT/$t.dict"
  # max_len: room for the largest seed four times over, at least 4096 bytes
  # (the multi-step targets grow event sequences); timeout: the models run in
  # microseconds, so 10 s per input means a hang.
  largest=0
  if [ -d "corpus/$t" ]; then
    largest=$(find "corpus/$t" -type f -printf '%s\n' | sort -n | tail -1)
  fi
  max_len=$(( ${largest:-0} * 4 ))
  [ "$max_len" -lt 4096 ] && max_len=4096
  cat > "$OUT/$t.options" <<OPTIONS
[libfuzzer]
max_len = $max_len
timeout = 10
OPTIONS
done
