# shellcheck shell=bash
# Small helpers shared by provision.sh and run.sh.

log() { printf '[power-host] %s\n' "$*" >&2; }

# die CODE MESSAGE...
die() {
  local code=$1
  shift
  printf '[power-host] ERROR: %s\n' "$*" >&2
  exit "$code"
}

require_root() {
  [[ $(id -u) -eq 0 ]] ||
    die "$EXIT_CANNOT_PROVISION" "must run as root (apt-get, dpkg --add-architecture, mmdebstrap and the 9p share need it); running as $(id -un)"
}

now() { printf '%s\n' "$EPOCHREALTIME"; }

# seconds_between START END -> "12.3"
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Takes an exclusive lock on FILE for the rest of the process, or dies when someone else holds it.
take_lock() {
  local file=$1
  mkdir -p "$(dirname "$file")"
  exec {lock_fd}>"$file"
  flock -n "$lock_fd" || die "$EXIT_INFRASTRUCTURE" "another power-host run holds $file"
}
