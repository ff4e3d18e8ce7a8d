#!/usr/bin/env bash
# Run the live-kernel suite (`rseq-fuzz live`) on another kernel than the
# host's: boot KERNEL in a QEMU virtual machine whose initramfs holds only
# busybox and rseq-fuzz, run the suite there against the model of that
# kernel's release (v6.18 up to 6.18, then v6.19, v7.0, v7.1), print the
# report and exit with its code.
#
# This is how a kernel developer checks a kernel they built (say a v7.1
# tree with a change to include/linux/rseq_entry.h) against the model,
# without booting it on the machine: `scripts/live-vm/run.sh --kernel
# arch/x86/boot/bzImage --config .config`.
#
# Usage: scripts/live-vm/run.sh --kernel BZIMAGE [--config KCONFIG]
#          [--append PARAMS] [--env NAME=VALUE]... [--file PATH]...
#          [--cpus N] [--mem MB] [--timeout S] [-- LIVE-ARGS...]
#   --kernel   an x86_64 kernel image (bzImage, or a distribution's vmlinuz)
#              built with CONFIG_RSEQ, CONFIG_BLK_DEV_INITRD, CONFIG_DEVTMPFS
#              and a serial console (CONFIG_SERIAL_8250_CONSOLE)
#   --config   the kernel's .config: CONFIG_DEBUG_RSEQ=y there selects the
#              model's debug configuration (else, /proc/config.gz if built in)
#   --append   more kernel parameters: `rseq_debug=1` turns the rework's
#              debug key on, and the suite then compares with the model's
#              debug build
#   --env      an environment variable for rseq-fuzz in the machine:
#              `--env GLIBC_TUNABLES=glibc.pthread.rseq=0 --env
#              RSEQ_FUZZ_LIVE_AREA_LEN=64` makes the harness register its own
#              64-byte area, which a v7.1+ kernel runs in the optimized V2
#              mode (glibc registers 32 bytes: legacy mode);
#              `--env RSEQ_SLICE_EXT_NSEC=50000` sets the time-slice
#              extension's length (debugfs rseq/slice_ext_nsec, 5000 to
#              50000) before the harness runs
#   --file     a file to put in the machine's root directory, e.g. a case
#              list: `--file cases.json -- --cases /cases.json`
#   --cpus     virtual CPUs (default 2: the migration cases need two)
#   LIVE-ARGS  passed to `rseq-fuzz live` (default: the built-in suite)
#
# Needs qemu-system-x86_64, a static busybox and cpio (Debian:
# `apt-get install qemu-system-x86 busybox-static cpio`); uses KVM when
# /dev/kvm is there and can run the kernel, else TCG (LIVE_VM_ACCEL=tcg
# forces it; LIVE_VM_CPU picks the CPU model, default `max`, which has
# 5-level paging: `max,-la57` for 4-level). scripts/live-vm/debian-kernel.sh
# fetches a Debian kernel to try it with. `-- --model v6.19` compares with
# another model than the release number names (a backport). Exit codes: the
# suite's (0 every case agrees, 1 a disagreement), 2 on usage or a missing
# tool, 3 when the machine did not report a result (boot failure, timeout).
set -euo pipefail

kernel=""
kconfig=""
append=""
envs=()
files=()
cpus=2
mem=512
timeout_s=600
live_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kernel="$2"; shift 2 ;;
    --config) kconfig="$2"; shift 2 ;;
    --append) append="$2"; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --file) files+=("$2"); shift 2 ;;
    --cpus) cpus="$2"; shift 2 ;;
    --mem) mem="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --) shift; live_args=("$@"); break ;;
    *) echo "usage: $0 --kernel BZIMAGE [--config KCONFIG] [--append PARAMS] [--env NAME=VALUE]... [--file PATH]... [--cpus N] [--mem MB] [--timeout S] [-- LIVE-ARGS...]" >&2; exit 2 ;;
  esac
done
[ -n "$kernel" ] && [ -f "$kernel" ] || { echo "live-vm: --kernel FILE is required" >&2; exit 2; }
[ -z "$kconfig" ] || [ -f "$kconfig" ] || { echo "live-vm: no config file $kconfig" >&2; exit 2; }
for tool in qemu-system-x86_64 cpio; do
  command -v "$tool" >/dev/null || { echo "live-vm: $tool is missing (apt-get install qemu-system-x86 busybox-static cpio)" >&2; exit 2; }
done
busybox="$(command -v busybox || true)"
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
  busybox=/bin/busybox
  [ -x "$busybox" ] || { echo "live-vm: a static busybox is missing (apt-get install busybox-static)" >&2; exit 2; }
fi

repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${RSEQ_FUZZ_BIN:-}"
if [ -z "$bin" ]; then
  (cd "$repo" && cargo build --release --quiet)
  bin="$repo/target/release/rseq-fuzz"
fi

work="$(mktemp -d /tmp/rseq-live-vm.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,proc,sys,dev,boot,tmp}

# busybox and the applets init uses.
cp "$busybox" "$root/bin/busybox"
for applet in sh mount cat cp uname nproc poweroff sync; do
  ln -s busybox "$root/bin/$applet"
done
# rseq-fuzz and the shared libraries it loads (glibc registers rseq for it,
# as on the host), at the paths the dynamic loader looks them up.
cp "$bin" "$root/rseq-fuzz"
ldd "$bin" | awk '/=>/ { print $3 } /^\t\// { print $1 }' | while read -r lib; do
  [ -f "$lib" ] || continue
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
[ -z "$kconfig" ] || cp "$kconfig" "$root/kconfig"
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "live-vm: no file $f" >&2; exit 2; }
  cp "$f" "$root/$(basename "$f")"
done

# The suite's arguments, one per line, so that no shell quoting is needed.
printf '%s\n' "${live_args[@]}" > "$root/live-args"
printf '%s\n' "${envs[@]}" > "$root/live-env"
cat > "$root/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
# rseq-fuzz reads the configuration where a distribution keeps it.
[ -f /kconfig ] && cp /kconfig "/boot/config-$(uname -r)"
while IFS= read -r kv; do [ -n "$kv" ] && export "$kv"; done < /live-env
# The time-slice extension's length (CONFIG_DEBUG_FS): under emulation the
# 5 us default usually runs out before the exit that grants it ends.
if [ -n "${RSEQ_SLICE_EXT_NSEC:-}" ]; then
  mount -t debugfs debugfs /sys/kernel/debug &&
    echo "$RSEQ_SLICE_EXT_NSEC" > /sys/kernel/debug/rseq/slice_ext_nsec &&
    echo "=== live-vm: slice_ext_nsec $(cat /sys/kernel/debug/rseq/slice_ext_nsec)"
fi
set --
while IFS= read -r a; do [ -n "$a" ] && set -- "$@" "$a"; done < /live-args
echo "=== live-vm: $(uname -r), $(nproc) CPUs, command line: $(cat /proc/cmdline)"
/rseq-fuzz live "$@"
echo "=== live-vm: exit $?"
sync
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$work/initramfs.gz"

log="$work/console.log"
# boot ACCEL [INIT_S]: run the machine, print its console, leave it in $log.
# With INIT_S, a machine whose init has not spoken after INIT_S seconds is
# stopped (a nested KVM that cannot run the kernel hangs with an empty
# console until the overall timeout otherwise).
boot() {
  local accel=(-accel "$1" -cpu "${LIVE_VM_CPU:-max}") watchdog=""
  echo "live-vm: booting $(basename "$kernel") with $cpus CPUs ($1)" >&2
  : > "$log"
  rm -f "$work/qemu.pid"
  if [ -n "${2:-}" ]; then
    (sleep "$2"
     if ! grep -q "^=== live-vm: " "$log" && [ -s "$work/qemu.pid" ]; then
       echo "live-vm: no word from the machine's init after $2 s ($1); stopping it" >&2
       kill "$(cat "$work/qemu.pid")" 2>/dev/null
     fi) &
    watchdog=$!
  fi
  # In a subshell, so that a QEMU that aborts is reported into the log.
  (timeout "$timeout_s" qemu-system-x86_64 "${accel[@]}" -smp "$cpus" -m "$mem" \
    -kernel "$kernel" -initrd "$work/initramfs.gz" -pidfile "$work/qemu.pid" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1${append:+ $append}" \
    -nographic -no-reboot -monitor none -serial stdio </dev/null) 2>&1 | tr -d '\r' | tee "$log" || true
  if [ -n "$watchdog" ]; then
    kill "$watchdog" 2>/dev/null || true
    wait "$watchdog" 2>/dev/null || true
  fi
  rm -f "$work/qemu.pid"
}
result() { sed -n 's/^=== live-vm: exit \([0-9]*\)$/\1/p' "$log" | tail -1; }

# KVM when it is there and can run the kernel; a nested KVM may not (it
# cannot emulate every instruction an early kernel runs): then TCG, which
# boots a kernel in seconds and runs the suite a few times slower.
code=""
if [ "${LIVE_VM_ACCEL:-auto}" != tcg ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  # A working KVM reaches init in seconds.
  boot kvm "${LIVE_VM_KVM_INIT_SECS:-60}"
  code="$(result)"
  if [ -z "$code" ] && ! grep -q "^=== live-vm: " "$log"; then
    echo "live-vm: KVM could not run this kernel; trying TCG" >&2
    boot tcg
    code="$(result)"
  fi
else
  boot tcg
  code="$(result)"
fi
# A machine that never reached init (nothing from it in the console) is
# booted once more with TCG, saying why: the suite's verdict only ever comes
# from a run that printed its "=== live-vm:" lines. A CI run once saw TCG
# end at once with no console output, and the same boot pass right after.
if [ -z "$code" ] && ! grep -q "^=== live-vm: " "$log"; then
  echo "live-vm: the machine reached no init; the end of its console:" >&2
  tail -15 "$log" >&2
  echo "live-vm: booting once more" >&2
  boot tcg
  code="$(result)"
fi
if [ -z "$code" ]; then
  echo "live-vm: the machine reported no result (boot failure or timeout after ${timeout_s} s); the end of its console:" >&2
  tail -15 "$log" >&2
  exit 3
fi
exit "$code"
