# Sourced by the kernel-fetching scripts: apt_suite DIR SUITE sets the array
# apt_opts so that apt-get and apt-cache read SUITE (e.g. sid,
# trixie-backports) of the machine's own Debian mirror, through a private
# apt state in DIR/apt; the machine's apt configuration is not touched. An
# empty SUITE leaves apt_opts empty (the configured sources).
apt_suite() {
  local dir="$1" suite="$2" mirror
  apt_opts=()
  [ -n "$suite" ] || return 0
  mirror="$(apt-get indextargets --format '$(REPO_URI)' | grep -v -- '-security' | sort -u | head -1)"
  [ -n "$mirror" ] || { echo "live-vm: no Debian mirror in the apt sources" >&2; return 2; }
  mkdir -p "$dir/apt/lists/partial"
  echo "deb ${mirror%/} $suite main" > "$dir/apt/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$dir/apt/lists")
  apt-get "${apt_opts[@]}" update -qq >&2
}
