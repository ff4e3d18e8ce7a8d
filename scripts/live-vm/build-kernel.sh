#!/usr/bin/env bash
# Build a small x86-64 kernel with the rseq time-slice extension
# (CONFIG_RSEQ_SLICE_EXTENSION), which Debian's kernels leave out, to boot
# with scripts/live-vm/run.sh: the models' slice builds are then checked
# against a real kernel (`rseq-fuzz live --slice`, and the suite).
#
# The source is Debian's linux-source-SERIES package (default: the newest
# in SUITE), fetched and unpacked into DIR, not installed; SUITE (default
# sid) is read from the machine's own mirror through a private apt state.
# The configuration is `make tinyconfig` plus scripts/live-vm/slice.config.
# Prints two lines: the bzImage and its .config. A rebuild in the same DIR
# reuses the tree.
#
# Needs gcc, make, flex, bison, bc and libelf-dev (Debian: apt-get install
# build-essential flex bison bc libelf-dev). The build takes about 3 minutes
# on an idle 2-core machine, after a 164 MB download.
#
# Usage: scripts/live-vm/build-kernel.sh DIR [SERIES] [SUITE]
# Exit 2 when the source cannot be fetched (outside the project), 1 when
# the build fails or the configuration lost a line of slice.config.
set -euo pipefail
dir="${1:?usage: $0 DIR [SERIES] [SUITE]}"
series="${2:-}"
suite="${3:-sid}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

for tool in gcc make flex bison bc; do
  command -v "$tool" >/dev/null || { echo "build-kernel: $tool is missing (apt-get install build-essential flex bison bc libelf-dev)" >&2; exit 1; }
done

# shellcheck source=scripts/live-vm/apt-suite.sh
. "$here/apt-suite.sh"
apt_suite "$dir" "$suite" || exit 2
s="${series//./\\.}"
pkg="$(apt-cache "${apt_opts[@]}" search --names-only "^linux-source-${s:-[0-9.]+}\$" |
  awk '{print $1}' | sort -V | tail -1)"
[ -n "$pkg" ] || { echo "build-kernel: no linux-source-${series:-*} in ${suite}" >&2; exit 2; }
tree="$dir/${pkg#linux-source-}"
if [ ! -f "$tree/Makefile" ]; then
  (cd "$dir" && apt-get "${apt_opts[@]}" download "$pkg" >&2 2>/dev/null) ||
    { echo "build-kernel: could not download $pkg" >&2; exit 2; }
  deb="$(ls -t "$dir/${pkg}"_*.deb | head -1)"
  rm -rf "$dir/unpacked" "$tree"
  dpkg-deb -x "$deb" "$dir/unpacked"
  tarball="$(find "$dir/unpacked" -name "$pkg.tar.*" | head -1)"
  [ -n "$tarball" ] || { echo "build-kernel: $pkg holds no source tarball" >&2; exit 2; }
  mkdir -p "$tree"
  tar -xf "$tarball" -C "$tree" --strip-components=1
  rm -rf "$dir/unpacked" "$deb"
fi

cd "$tree"
make -s tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "$here/slice.config" >/dev/null
make -s olddefconfig >/dev/null
# olddefconfig drops, without a word, any setting whose dependencies the
# tree does not meet (CONFIG_PREEMPT_VOLUNTARY=y did, on x86 7.x): check
# that every line of the fragment is in the final configuration.
dropped=""
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=n) name="${line%%=*}"
      grep -q "^$name=" .config && dropped="$dropped $line" ;;
    CONFIG_*=*) grep -qxF "$line" .config || dropped="$dropped $line" ;;
  esac
done < "$here/slice.config"
[ -z "$dropped" ] ||
  { echo "build-kernel: olddefconfig dropped or changed:$dropped" >&2; exit 1; }
make -j"$(nproc)" bzImage > "$dir/build.log" 2>&1 ||
  { echo "build-kernel: the build failed; the end of $dir/build.log:" >&2; tail -20 "$dir/build.log" >&2; exit 1; }
echo "$tree/arch/x86/boot/bzImage"
echo "$tree/.config"
