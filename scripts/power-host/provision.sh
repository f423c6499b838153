#!/usr/bin/env bash
# Provisions the emulated POWER host (ppc64le Linux under qemu-system-ppc64) on a Debian 12 x86_64 machine:
# host tools, the pinned guest kernel, busybox, the Node rootfs and the initramfs. Idempotent: a second run
# checks version stamps and does nothing (no apt work at all once everything is there).
#
# Usage: scripts/power-host/provision.sh
#
# Exit codes:
#   0    everything is provisioned
#   77   cannot provision here: not root, a package cannot be had (named, with apt's error), or no Debian
#        mirror could be derived from the apt configuration (callers may treat this as "skipped")
#   125  infrastructure failure: a build step failed unexpectedly (depmod, cpio, ...)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/config.sh"
source "$POWER_HOST_SCRIPTS/lib.sh"

LOG_DIR=$CACHE_DIR/logs
apt_index_refreshed=no

main() {
  require_root
  mkdir -p "$CACHE_DIR" "$DEBS_DIR" "$LOG_DIR" "$KERNEL_CACHE_DIR" "$KERNEL_DEBS_DIR"
  take_lock "$CACHE_DIR/provision.lock"
  local started
  started=$(now)

  ensure_foreign_architecture
  ensure_apt_sources
  ensure_extra_kernel_suite
  install_missing_host_tools
  local kernel_debs=() busybox_deb spec
  for spec in "${KERNEL_PACKAGES[@]}"; do
    kernel_debs+=("$(cached_or_downloaded_deb "$KERNEL_DEBS_DIR" "${spec%%=*}" "${spec#*=}")")
  done
  busybox_deb=$(cached_or_downloaded_deb "$DEBS_DIR" busybox-static "")
  extract_kernel "${kernel_debs[@]}"
  extract_busybox "$busybox_deb"
  build_rootfs_once
  finish_rootfs
  build_initramfs_if_inputs_changed

  log "provisioned kernel $POWER_HOST_KERNEL ($KERNEL_VERSION) in $(seconds_between "$started" "$(now)") s (cache: $KERNEL_CACHE_DIR)"
}

# --- apt configuration -------------------------------------------------------------------------------

ensure_foreign_architecture() {
  if ! dpkg --print-foreign-architectures | grep -qx "$GUEST_ARCH"; then
    log "dpkg --add-architecture $GUEST_ARCH"
    dpkg --add-architecture "$GUEST_ARCH"
  fi
}

# Prints one line per enabled apt source entry: types|uris|suites|components|architectures|file
# (architectures is empty when the entry is not restricted). Reads deb822 *.sources and one-line *.list files;
# apt ignores files with other extensions (e.g. *.disabled), and so does this.
list_apt_entries() {
  local deb822_files=() list_files=()
  shopt -s nullglob
  deb822_files=(/etc/apt/sources.list.d/*.sources)
  list_files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
  shopt -u nullglob
  local existing_list_files=()
  local f
  for f in "${list_files[@]}"; do [[ -f $f ]] && existing_list_files+=("$f"); done

  if ((${#deb822_files[@]})); then
    awk '
      function reset() { have = 0; enabled = "yes"; types = uris = suites = comps = archs = ""; key = "" }
      function flush() {
        if (have && tolower(enabled) != "no")
          printf "%s|%s|%s|%s|%s|%s\n", types, uris, suites, comps, archs, file
        reset()
      }
      function store(k, v) {
        if (k == "types") types = types " " v; else if (k == "uris") uris = uris " " v
        else if (k == "suites") suites = suites " " v; else if (k == "components") comps = comps " " v
        else if (k == "architectures") archs = archs " " v; else if (k == "enabled") enabled = v
      }
      BEGIN { reset() }
      FNR == 1 { flush() }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { store(key, $0); next }
      {
        if (!have) file = FILENAME
        have = 1
        i = index($0, ":"); key = tolower(substr($0, 1, i - 1)); store(key, substr($0, i + 1))
      }
      END { flush() }
    ' "${deb822_files[@]}" | normalize_whitespace
  fi
  if ((${#existing_list_files[@]})); then
    awk '
      $1 == "deb" || $1 == "deb-src" {
        type = $1; i = 2; archs = ""
        if ($2 ~ /^\[/) {
          opts = ""
          for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
          gsub(/[\[\]]/, " ", opts); n = split(opts, o, " ")
          for (j = 1; j <= n; j++) if (o[j] ~ /^arch=/) { a = substr(o[j], 6); gsub(",", " ", a); archs = a }
        }
        comps = ""; for (j = i + 2; j <= NF; j++) comps = comps " " $j
        printf "%s|%s|%s|%s|%s|%s\n", type, $i, $(i + 1), comps, archs, FILENAME
      }
    ' "${existing_list_files[@]}" | normalize_whitespace
  fi
}

normalize_whitespace() {
  awk -F"|" -v OFS="|" '{ for (i = 1; i <= NF; i++) { gsub(/[ \t]+/, " ", $i); sub(/^ /, "", $i); sub(/ $/, "", $i) } print }'
}

has_word() { [[ " $1 " == *" $2 "* ]]; }

# The URI of the Debian main archive (the entry serving "$DEBIAN_SUITE main"), from the machine's apt config.
derive_mirror_uri() {
  local types uris suites comps archs file
  while IFS="|" read -r types uris suites comps archs file; do
    if has_word "$types" deb && has_word "$suites" "$DEBIAN_SUITE" && has_word "$comps" main; then
      printf '%s\n' "${uris%% *}"
      return 0
    fi
  done < <(list_apt_entries)
  die "$EXIT_CANNOT_PROVISION" "no enabled apt source serves '$DEBIAN_SUITE main' (looked in /etc/apt/sources.list and /etc/apt/sources.list.d/*.{sources,list}); cannot derive the Debian mirror"
}

# True when an enabled entry other than ours serves SUITE main for the guest architecture.
apt_already_serves() {
  local suite=$1 types uris suites comps archs file
  while IFS="|" read -r types uris suites comps archs file; do
    [[ $file == "$APT_SOURCE_FILE" ]] && continue
    if has_word "$types" deb && has_word "$suites" "$suite" && has_word "$comps" main &&
      { [[ -z $archs ]] || has_word "$archs" "$GUEST_ARCH"; }; then
      return 0
    fi
  done < <(list_apt_entries)
  return 1
}

deb822_stanza() {
  local uri=$1 suite=$2
  cat <<STANZA
Types: deb
URIs: $uri
Suites: $suite
Components: main
Architectures: $GUEST_ARCH
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
STANZA
}

# Writes $APT_SOURCE_FILE with the suites the existing configuration does not serve for ppc64el (normally just
# backports: the stock debian.sources has no Architectures field, so it serves ppc64el once that is added).
ensure_apt_sources() {
  local mirror wanted="" suite
  mirror=$(derive_mirror_uri)
  for suite in "$DEBIAN_SUITE" "$BACKPORTS_SUITE"; do
    if ! apt_already_serves "$suite"; then
      [[ -n $wanted ]] && wanted+=$'\n'
      wanted+=$(deb822_stanza "$mirror" "$suite")$'\n'
    fi
  done
  [[ -z $wanted ]] && return 0
  local header="# Written by kvm-vfio-spapr scripts/power-host/provision.sh: $GUEST_ARCH packages for the emulated POWER host."
  wanted="$header"$'\n'"$wanted"
  if [[ ! -f $APT_SOURCE_FILE ]] || [[ $(<"$APT_SOURCE_FILE")$'\n' != "$wanted" ]]; then
    log "writing $APT_SOURCE_FILE (mirror $mirror)"
    printf '%s' "$wanted" >"$APT_SOURCE_FILE"
    apt_index_refreshed=no
    rm -f "$CACHE_DIR/apt-index.stamp"
  fi
}

# A kernel from a suite the machine's apt configuration does not serve (trixie, sid): its own source file,
# with the mirror derived as above, and a preference of priority 100 so that nothing else (busybox, the host
# tools) is taken from it. Both files are ours alone; provision.sh rewrites them when they differ.
ensure_extra_kernel_suite() {
  [[ $KERNEL_SUITE == "$DEBIAN_SUITE" || $KERNEL_SUITE == "$BACKPORTS_SUITE" ]] && return 0
  apt_already_serves "$KERNEL_SUITE" && [[ ! -f $EXTRA_APT_SOURCE_FILE ]] && return 0
  local mirror header wanted preference
  mirror=$(derive_mirror_uri)
  header="# Written by kvm-vfio-spapr scripts/power-host/provision.sh: the $KERNEL_SUITE kernel for the emulated POWER host."
  wanted="$header"$'\n'"$(deb822_stanza "$mirror" "$KERNEL_SUITE")"$'\n'
  preference="$header"$'\n'"Package: *"$'\n'"Pin: release n=$KERNEL_SUITE"$'\n'"Pin-Priority: 100"$'\n'
  if [[ ! -f $EXTRA_APT_PREFERENCES_FILE ]] || [[ $(<"$EXTRA_APT_PREFERENCES_FILE")$'\n' != "$preference" ]]; then
    log "writing $EXTRA_APT_PREFERENCES_FILE (priority 100 for $KERNEL_SUITE)"
    printf '%s' "$preference" >"$EXTRA_APT_PREFERENCES_FILE"
  fi
  if [[ ! -f $EXTRA_APT_SOURCE_FILE ]] || [[ $(<"$EXTRA_APT_SOURCE_FILE")$'\n' != "$wanted" ]]; then
    log "writing $EXTRA_APT_SOURCE_FILE (mirror $mirror)"
    printf '%s' "$wanted" >"$EXTRA_APT_SOURCE_FILE"
    apt_index_refreshed=no
  fi
}

# "Mirror sync in progress" is transient; on bookworm-security's ppc64el index it is also harmless, so only
# other indexes are worth a retry.
mirror_mid_sync_outside_security() {
  grep -E '^E: Failed to fetch' "$1" | grep -v -- '-security/' | grep -qE 'Mirror sync in progress|unexpected size|Hash Sum mismatch'
}

# apt-get update, at most once per run. Failures on some indexes (e.g. bookworm-security for ppc64el) are
# tolerated: whether the packages we need can be had is checked when they are installed or downloaded.
refresh_apt_index() {
  [[ $apt_index_refreshed == yes ]] && return 0
  local attempt rc output_file=$LOG_DIR/apt-get-update.log
  for attempt in 1 2 3; do
    log "apt-get update (attempt $attempt, log $output_file)"
    rc=0
    apt-get update >"$output_file" 2>&1 || rc=$?
    if ((rc != 0)) && ((attempt < 3)) && mirror_mid_sync_outside_security "$output_file"; then
      log "the mirror is mid-sync; retrying in 20 s"
      sleep 20
      continue
    fi
    break
  done
  if ((rc != 0)); then
    log "apt-get update exited $rc; continuing (errors below are harmless unless a needed package is then missing):"
    grep -E '^(E|W|Err):' "$output_file" | sed 's/^/    /' >&2 || true
  fi
  apt_index_refreshed=yes
}

# --- host tools --------------------------------------------------------------------------------------

# One dpkg-query for all packages (it is ~30 ms per call); unknown packages just print nothing.
installed_packages() {
  dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null | awk '$2 ~ /^ii/ { print $1 }' || true
}

install_missing_host_tools() {
  local missing=() package installed
  installed=" $(installed_packages "${HOST_PACKAGES[@]}" | tr '\n' ' ') "
  for package in "${HOST_PACKAGES[@]}"; do
    has_word "$installed" "$package" || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  refresh_apt_index
  log "installing host tools: ${missing[*]}"
  local output_file=$LOG_DIR/apt-get-install.log
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$output_file" 2>&1; then
    die "$EXIT_CANNOT_PROVISION" "cannot install host packages ${missing[*]}; apt said:
$(grep -E '^E:|has no installation candidate|Unable to locate' "$output_file" || tail -n 5 "$output_file")"
  fi
}

# --- guest packages ----------------------------------------------------------------------------------

# deb_matches FILE PACKAGE [VERSION]: FILE is a readable .deb of PACKAGE (at VERSION when given) for ppc64el.
deb_matches() {
  local file=$1 package=$2 version=$3 fields
  fields=$(dpkg-deb -f "$file" Package Version Architecture 2>/dev/null) || return 1
  grep -qx "Package: $package" <<<"$fields" && grep -qx "Architecture: $GUEST_ARCH" <<<"$fields" &&
    { [[ -z $version ]] || grep -qx "Version: $version" <<<"$fields"; }
}

# apt_index_has PACKAGE [VERSION]: the current apt index offers PACKAGE:ppc64el (at VERSION when given).
# (apt-cache show exits 0 even for a version it does not know, so ask madison.)
apt_index_has() {
  local package=$1 version=$2
  apt-cache madison "$package:$GUEST_ARCH" 2>/dev/null |
    awk -F' *[|] *' -v want="$version" '$2 != "" && (want == "" || $2 == want) { found = 1 } END { exit !found }'
}

# cached_or_downloaded_deb DIR PACKAGE [VERSION]: prints the path of a cached .deb of PACKAGE:ppc64el in DIR
# (VERSION pinned when non-empty), downloading it if needed.
cached_or_downloaded_deb() {
  local DEBS_DIR=$1 package=$2 version=$3 file
  for file in "$DEBS_DIR/${package}"_*"_$GUEST_ARCH.deb"; do
    if [[ -f $file ]] && deb_matches "$file" "$package" "$version"; then
      printf '%s\n' "$file"
      return 0
    fi
  done
  local spec="$package:$GUEST_ARCH${version:+=$version}"
  apt_index_has "$package" "$version" || refresh_apt_index
  log "downloading $spec"
  local output_file=$LOG_DIR/apt-get-download-$package.log
  rm -f "$DEBS_DIR/${package}"_*"_$GUEST_ARCH.deb"
  # -o APT::Sandbox::User=root: the cache folder is root's, so apt's _apt user could not write there.
  if ! (cd "$DEBS_DIR" && apt-get download -o APT::Sandbox::User=root "$spec") >"$output_file" 2>&1; then
    die "$EXIT_CANNOT_PROVISION" "cannot download $spec; apt said:
$(grep -E '^E:' "$output_file" || tail -n 5 "$output_file")
versions of $package:$GUEST_ARCH the apt index offers: $(apt-cache madison "$package:$GUEST_ARCH" 2>/dev/null | awk -F' *[|] *' '{ printf "%s ", $2 }')
(if the suite replaced the pinned kernel, update POWER_HOST_KERNEL=$POWER_HOST_KERNEL's entry in scripts/power-host/config.sh)"
  fi
  for file in "$DEBS_DIR/${package}"_*"_$GUEST_ARCH.deb"; do
    if deb_matches "$file" "$package" "$version"; then
      printf '%s\n' "$file"
      return 0
    fi
  done
  die "$EXIT_INFRASTRUCTURE" "apt-get download $spec succeeded but left no matching .deb in $DEBS_DIR"
}

deb_stamp() { dpkg-deb -f "$1" Package Version | tr '\n' ' '; stat -c '%s' "$1"; }

is_extracted() {
  local deb=$1 tree=$2
  [[ -f $tree/.power-host-stamp && $(<"$tree/.power-host-stamp") == "$(deb_stamp "$deb")" ]]
}

extract() {
  local deb=$1 tree=$2
  log "extracting $(basename "$deb")"
  rm -rf "$tree" "$tree.tmp"
  dpkg-deb -x "$deb" "$tree.tmp" || die "$EXIT_INFRASTRUCTURE" "dpkg-deb -x $deb failed"
  printf '%s' "$(deb_stamp "$deb")" >"$tree.tmp/.power-host-stamp"
}

kernel_modules_dir() { printf '%s/lib/modules/%s\n' "$KERNEL_TREE" "$KERNEL_VERSION"; }

# extract_kernel DEB...: all the kernel's packages into one tree. The stamp goes in last (with the rename),
# after depmod, so an interrupted run starts over.
kernel_stamp() { local deb; for deb in "$@"; do deb_stamp "$deb"; echo; done; }

extract_kernel() {
  local stamp deb
  stamp=$(kernel_stamp "$@")
  [[ -f $KERNEL_TREE/.power-host-stamp && $(<"$KERNEL_TREE/.power-host-stamp") == "$stamp" ]] && return 0
  rm -rf "$KERNEL_TREE" "$KERNEL_TREE.tmp"
  for deb in "$@"; do
    log "extracting $(basename "$deb")"
    dpkg-deb -x "$deb" "$KERNEL_TREE.tmp" || die "$EXIT_INFRASTRUCTURE" "dpkg-deb -x $deb failed"
  done
  [[ -f $KERNEL_TREE.tmp/$KERNEL_IMAGE_RELATIVE ]] ||
    die "$EXIT_INFRASTRUCTURE" "the packages $* have no $KERNEL_IMAGE_RELATIVE"
  # Debian's newer layout installs modules under usr/lib/modules; kmod looks under lib/modules.
  if [[ -d $KERNEL_TREE.tmp/usr/lib/modules/$KERNEL_VERSION && ! -e $KERNEL_TREE.tmp/lib/modules/$KERNEL_VERSION ]]; then
    mkdir -p "$KERNEL_TREE.tmp/lib/modules"
    ln -s "../../usr/lib/modules/$KERNEL_VERSION" "$KERNEL_TREE.tmp/lib/modules/$KERNEL_VERSION"
  fi
  log "depmod $KERNEL_VERSION"
  depmod -b "$KERNEL_TREE.tmp" "$KERNEL_VERSION" || die "$EXIT_INFRASTRUCTURE" "depmod -b $KERNEL_TREE.tmp failed"
  printf '%s' "$stamp" >"$KERNEL_TREE.tmp/.power-host-stamp"
  mv "$KERNEL_TREE.tmp" "$KERNEL_TREE"
}

extract_busybox() {
  local deb=$1
  is_extracted "$deb" "$BUSYBOX_TREE" && return 0
  extract "$deb" "$BUSYBOX_TREE"
  mv "$BUSYBOX_TREE.tmp" "$BUSYBOX_TREE"
}

# --- Node rootfs -------------------------------------------------------------------------------------

rootfs_recipe() {
  printf 'mmdebstrap --variant=extract --architectures=%s --include=%s %s\n' "$GUEST_ARCH" "$ROOTFS_INCLUDE" "$DEBIAN_SUITE"
}

build_rootfs_once() {
  local stamp_file=$CACHE_DIR/rootfs.stamp recipe
  recipe=$(rootfs_recipe)
  if [[ -f $stamp_file && $(<"$stamp_file") == "$recipe" && -x $ROOTFS_DIR/usr/bin/node ]]; then
    return 0
  fi
  local mirror output_file=$LOG_DIR/mmdebstrap.log
  mirror=$(derive_mirror_uri)
  log "building the Node rootfs: $recipe (log $output_file)"
  rm -rf "$ROOTFS_DIR" "$ROOTFS_DIR.tmp" "$stamp_file"
  if ! mmdebstrap --variant=extract --architectures="$GUEST_ARCH" --include="$ROOTFS_INCLUDE" \
    "$DEBIAN_SUITE" "$ROOTFS_DIR.tmp" "$mirror" >"$output_file" 2>&1; then
    rm -rf "$ROOTFS_DIR.tmp"
    die "$EXIT_CANNOT_PROVISION" "mmdebstrap could not build the $GUEST_ARCH rootfs with $ROOTFS_INCLUDE; it said:
$(grep -E '^E:|error' "$output_file" | tail -n 10 || tail -n 10 "$output_file")"
  fi
  [[ -x $ROOTFS_DIR.tmp/usr/bin/node ]] || die "$EXIT_INFRASTRUCTURE" "mmdebstrap finished but the rootfs has no usr/bin/node"
  mv "$ROOTFS_DIR.tmp" "$ROOTFS_DIR"
  printf '%s' "$recipe" >"$stamp_file"
}

# Mount points for the guest's chroot, and a shell: the extract variant installs no shell, but the guest runs
# the command through /bin/sh and Node's child_process needs one too. busybox (static) provides it.
finish_rootfs() {
  mkdir -p "$ROOTFS_DIR"/{proc,sys,dev,tmp,project,root}
  local busybox=$BUSYBOX_TREE/bin/busybox target=$ROOTFS_DIR/usr/local/bin/busybox
  if ! cmp -s "$busybox" "$target"; then
    install -D -m 755 "$busybox" "$target"
  fi
  if [[ ! -e $ROOTFS_DIR/bin/sh && ! -L $ROOTFS_DIR/bin/sh ]]; then
    mkdir -p "$ROOTFS_DIR/bin"
    ln -s /usr/local/bin/busybox "$ROOTFS_DIR/bin/sh"
  fi
}

# --- initramfs ---------------------------------------------------------------------------------------

# Relative paths (under lib/modules/<version>) of the modules needed, with their dependency closure.
module_closure() {
  local modules_dir module line
  modules_dir=$(kernel_modules_dir)
  for module in "${GUEST_MODULES[@]}"; do
    modprobe -d "$KERNEL_TREE" -S "$KERNEL_VERSION" --show-depends "$module" ||
      die "$EXIT_INFRASTRUCTURE" "module $module not found in $KERNEL_VERSION"
  done | while read -r line; do
    case $line in
      insmod\ *) line=${line#insmod }; line=${line%% *}; printf '%s\n' "${line#"$modules_dir"/}" ;;
    esac
  done | sort -u
}

build_initramfs() {
  local work modules_dir relative
  modules_dir=$(kernel_modules_dir)
  work=$(mktemp -d "$CACHE_DIR/initramfs.XXXXXX")
  mkdir -p "$work"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,mnt,tmp,run,root} "$work/lib/modules/$KERNEL_VERSION"
  install -m 755 "$BUSYBOX_TREE/bin/busybox" "$work/bin/busybox"
  ln -s busybox "$work/bin/sh"
  install -m 755 "$POWER_HOST_SCRIPTS/guest-init.sh" "$work/init"
  mknod -m 600 "$work/dev/console" c 5 1

  # busybox's modprobe cannot load .ko.xz/.ko.zst: decompress, and rename them in the index files.
  local closure
  closure=$(module_closure)
  [[ -n $closure ]] || die "$EXIT_INFRASTRUCTURE" "empty module closure for ${GUEST_MODULES[*]}"
  while read -r relative; do
    mkdir -p "$work/lib/modules/$KERNEL_VERSION/$(dirname "$relative")"
    case $relative in
      *.ko.xz) xz -dc "$modules_dir/$relative" >"$work/lib/modules/$KERNEL_VERSION/${relative%.xz}" ;;
      *.ko.zst) zstd -qdc "$modules_dir/$relative" >"$work/lib/modules/$KERNEL_VERSION/${relative%.zst}" ;;
      *) cp "$modules_dir/$relative" "$work/lib/modules/$KERNEL_VERSION/$relative" ;;
    esac || die "$EXIT_INFRASTRUCTURE" "cannot decompress $relative"
  done <<<"$closure"
  awk -F: 'NR == FNR { keep[$0] = 1; next } keep[$1]' <(printf '%s\n' "$closure") "$modules_dir/modules.dep" |
    sed -E 's/\.ko\.(xz|zst)/.ko/g' >"$work/lib/modules/$KERNEL_VERSION/modules.dep"
  local index
  for index in modules.alias modules.builtin modules.order; do
    sed -E 's/\.ko\.(xz|zst)/.ko/g' "$modules_dir/$index" >"$work/lib/modules/$KERNEL_VERSION/$index"
  done

  (cd "$work" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet | gzip -9) >"$INITRAMFS.tmp" ||
    die "$EXIT_INFRASTRUCTURE" "packing the initramfs failed"
  mv "$INITRAMFS.tmp" "$INITRAMFS"
  rm -rf "$work"
  log "initramfs: $(wc -l <<<"$closure") modules, $(du -h "$INITRAMFS" | cut -f1)"
}

# Everything that goes into the initramfs, including the recipe itself.
initramfs_inputs_digest() {
  {
    printf '%s\n' "$KERNEL_VERSION" "${GUEST_MODULES[@]}"
    cat "$POWER_HOST_SCRIPTS/guest-init.sh" "$BUSYBOX_TREE/.power-host-stamp" "$KERNEL_TREE/.power-host-stamp"
    declare -f build_initramfs module_closure
  } | sha256sum | cut -d' ' -f1
}

build_initramfs_if_inputs_changed() {
  local stamp_file=$INITRAMFS.stamp digest
  digest=$(initramfs_inputs_digest)
  if [[ -f $INITRAMFS && -f $stamp_file && $(<"$stamp_file") == "$digest" ]]; then
    return 0
  fi
  log "building the initramfs"
  build_initramfs
  printf '%s' "$digest" >"$stamp_file"
}

main "$@"
