#!/usr/bin/env bash
# Runs one command inside the emulated POWER host (ppc64le Linux under qemu-system-ppc64 with nested kvm-hv
# and its vfio-pci test devices), with the repository at /project as its working directory.
#
# Usage: scripts/power-host/run.sh [--timeout SECONDS] -- COMMAND [ARGS...]
#   e.g. scripts/power-host/run.sh -- node test/power/run.mjs
#
# Environment: POWER_HOST_TIMEOUT  guest wall-time limit in seconds when --timeout is not given (default 900)
#              POWER_HOST_KERNEL   guest kernel: 6.12 (default), trixie, 6.1 or sid (see config.sh)
#              POWER_HOST_MEMORY   guest RAM (qemu -m, default 2G)
#              POWER_HOST_NVME     1 (default): an NVMe controller on the last PHB, bound to vfio-pci (test/power/spapr-vmm-nvme.test.mjs); 0: none
#              POWER_HOST_EXTRA_GROUPS  single-device VFIO groups 4, 5, ... (default 1: group 4, the third viable group)
#              POWER_HOST_MACHINE  pseries (default: a partition, kvm-hv nested) or powernv9 (bare metal: OPAL
#                                  from Debian's skiboot.lid, kvm-hv not nested, the PHB4s' own IODA2 TCE tables)
#
# Runs provision.sh first (a no-op when everything is cached). Streams the guest console while it runs.
# Results land in .cache/power-host/results/: output.log (the command's stdout+stderr), exit-code,
# console.log (the whole qemu console), dmesg.log, dmesg-problems.log (WARNING/BUG/Oops/Call Trace lines),
# guest-timings, timings, setup-errors (only when a guest setup step failed), command.sh (what ran).
#
# Exit codes:
#   the guest command's own exit code (0 = success), when the guest reported one; otherwise:
#   64   usage error
#   77   cannot run here: not root, or provisioning is impossible (see provision.sh)
#   124  the guest did not finish within the timeout; qemu was killed
#   125  infrastructure failure: qemu did not start or crashed, the guest reported no exit code, a
#        provisioning step failed, or a qemu process was left behind
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/config.sh"
source "$POWER_HOST_SCRIPTS/lib.sh"

QEMU=qemu-system-ppc64
timeout_seconds=${POWER_HOST_TIMEOUT:-900}
guest_command=()
qemu_pid=""
console_tail_pid=""
timed_out=no
started_at="" provisioned_at="" qemu_started_at="" command_started_at="" command_ended_at="" qemu_ended_at=""

usage() {
  sed -n '5,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "$EXIT_USAGE"
}

parse_arguments() {
  while (($#)); do
    case $1 in
      --timeout) (($# >= 2)) || usage; timeout_seconds=$2; shift 2 ;;
      --timeout=*) timeout_seconds=${1#*=}; shift ;;
      --) shift; guest_command=("$@"); break ;;
      -h | --help) usage ;;
      *) log "unknown argument: $1"; usage ;;
    esac
  done
  ((${#guest_command[@]})) || usage
  if ! [[ $timeout_seconds =~ ^[0-9]+$ ]] || ((timeout_seconds == 0)); then
    die "$EXIT_USAGE" "--timeout needs a positive number of seconds, got '$timeout_seconds'"
  fi
}

provision() {
  local rc=0
  "$POWER_HOST_SCRIPTS/provision.sh" || rc=$?
  ((rc == 0)) || exit "$rc"
}

prepare_results() {
  rm -rf "$RESULTS_DIR"
  mkdir -p "$RESULTS_DIR"
  {
    echo '# Written by scripts/power-host/run.sh; run by the guest /init inside the Node rootfs chroot.'
    echo 'cd /project || exit 125'
    printf 'exec'
    printf ' %q' "${guest_command[@]}"
    printf '\n'
  } >"$RESULTS_DIR/command.sh"
}

# The VFIO test devices, one IOMMU group per PHB (see config.sh): group 1 pci-testdev, group 2 edu,
# group 3 a pci-testdev that shares its PHB with a virtio-rng device bound to virtio-pci (so group 3
# is NOT viable), then POWER_HOST_EXTRA_GROUPS more pci-testdev groups (4, 5, ...): by default one, so the
# suite links three viable groups on three PHBs of one VM; the scaling bench asks for more.
vfio_test_devices() {
  printf '%s\n' \
    -device spapr-pci-host-bridge,index=1,id=phb1 -device pci-testdev,bus=phb1.0 \
    -device spapr-pci-host-bridge,index=2,id=phb2 -device edu,bus=phb2.0 \
    -device spapr-pci-host-bridge,index=3,id=phb3 -device pci-testdev,bus=phb3.0,addr=1.0 \
    -device virtio-rng-pci,bus=phb3.0,addr=2.0
  local index
  for ((index = 4; index < 4 + ${POWER_HOST_EXTRA_GROUPS:-1}; index++)); do
    printf '%s\n' -device "spapr-pci-host-bridge,index=$index,id=phb$index" -device "pci-testdev,bus=phb$index.0"
  done
}

# With POWER_HOST_NVME=1: an NVMe controller over a raw image of a known pattern, alone on the last PHB (so the test groups keep
# their numbers), bound to vfio-pci by /init: the device a guest's own driver reads through passthrough.
nvme_device() {
  local index=$((4 + ${POWER_HOST_EXTRA_GROUPS:-1}))
  printf '%s\n' -drive "file=$NVME_IMAGE,if=none,id=nvme0,format=raw" \
    -device "spapr-pci-host-bridge,index=$index,id=phb$index" -device "nvme,serial=kvs0001,drive=nvme0,bus=phb$index.0"
}

make_nvme_image() {
  [[ -f $NVME_IMAGE && $(stat -c %s "$NVME_IMAGE") -eq $((NVME_IMAGE_MIB << 20)) ]] && return 0
  node "$POWER_HOST_SCRIPTS/nvme-image.mjs" "$NVME_IMAGE" "$NVME_IMAGE_MIB" ||
    die "$EXIT_INFRASTRUCTURE" "cannot write the NVMe image $NVME_IMAGE"
}

# PowerNV: six PHB4s, each with one root port whose bus takes one slot; each gives an IOMMU group
# in PHB order, so the devices keep pseries's group numbers: 0 virtio-9p, 1 pci-testdev, 2 edu,
# 3 pci-testdev with virtio-rng as function 1 (one group, not viable), 4 pci-testdev, 5 NVMe.
powernv_arguments() {
  printf '%s\n' -M powernv9 -bios /usr/share/qemu/skiboot.lid
  common_arguments
  repository_share pcie.0
  printf '%s\n' \
    -device pci-testdev,bus=pcie.1 -device edu,bus=pcie.2 \
    -device pci-testdev,bus=pcie.3,addr=0.0,multifunction=on -device virtio-rng-pci,bus=pcie.3,addr=0.1 \
    -device pci-testdev,bus=pcie.4
  if [[ ${POWER_HOST_NVME:-1} == 1 ]]; then
    printf '%s\n' -drive "file=$NVME_IMAGE,if=none,id=nvme0,format=raw" -device "nvme,serial=kvs0001,drive=nvme0,bus=pcie.5"
  fi
}

# What both machines share: the CPU, memory, console, kernel and its command line (panic=1, with
# -no-reboot, ends qemu if the guest panics; the guest's /init reads the cache and results paths).
common_arguments() {
  printf '%s\n' \
    -cpu POWER9 -m "${POWER_HOST_MEMORY:-2G}" -smp 1 -nographic -vga none -no-reboot \
    -kernel "$KERNEL_IMAGE" -initrd "$INITRAMFS" \
    -append "console=hvc0 loglevel=5 panic=1 power_host_cache=$CACHE_RELATIVE power_host_results=$RESULTS_RELATIVE"
}

# The repository over virtio-9p (the guest mounts tag host0), on the given PCI bus.
repository_share() {
  printf '%s\n' \
    -fsdev "local,id=fs0,path=$REPO_ROOT,security_model=none" \
    -device "virtio-9p-pci,fsdev=fs0,mount_tag=host0,bus=$1"
}

qemu_arguments() {
  if [[ ${POWER_HOST_MACHINE:-pseries} == powernv9 ]]; then
    powernv_arguments
    return
  fi
  # Flags as in shared/notes/power-host.md §5. One PHB per VFIO test device gives each its own IOMMU
  # group; virtio-9p must sit on pci.0 explicitly.
  printf '%s\n' -M pseries,accel=tcg,cap-nested-hv=on,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off,x-vof=on
  common_arguments
  vfio_test_devices
  if [[ ${POWER_HOST_NVME:-1} == 1 ]]; then nvme_device; fi
  repository_share pci.0
}

# qemu runs in its own session (setsid), so its process group can be killed as a whole and no terminal
# signal reaches it directly; the traps below forward the end of this script to it.
start_guest() {
  local arguments=()
  mapfile -t arguments < <(qemu_arguments)
  command -v "$QEMU" >/dev/null || die "$EXIT_INFRASTRUCTURE" "$QEMU is not installed (provision.sh should have installed qemu-system-ppc)"
  [[ $REPO_ROOT != *,* ]] || die "$EXIT_INFRASTRUCTURE" "the repository path contains a comma, which qemu's -fsdev cannot take: $REPO_ROOT"
  trap stop_guest EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  qemu_started_at=$(now)
  setsid "$QEMU" "${arguments[@]}" >"$RESULTS_DIR/console.log" 2>&1 </dev/null &
  qemu_pid=$!
  tail -s 0.2 -n +1 -f --pid="$qemu_pid" "$RESULTS_DIR/console.log" &
  console_tail_pid=$!
  log "qemu started (pid $qemu_pid, timeout ${timeout_seconds} s)"
}

# A child that has exited stays a zombie until waited for, and kill -0 still succeeds on a zombie.
guest_is_running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$qemu_pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

console_says() { grep -q "power-host: $1" "$RESULTS_DIR/console.log" 2>/dev/null; }

wait_for_guest() {
  local deadline
  deadline=$(awk -v t="$qemu_started_at" -v limit="$timeout_seconds" 'BEGIN { printf "%.3f", t + limit }')
  while guest_is_running; do
    [[ -z $command_started_at ]] && console_says 'command start' && command_started_at=$(now)
    [[ -z $command_ended_at ]] && console_says 'command end' && command_ended_at=$(now)
    if awk -v now="$(now)" -v deadline="$deadline" 'BEGIN { exit !(now >= deadline) }'; then
      timed_out=yes
      log "the guest ran past the ${timeout_seconds} s timeout; killing qemu"
      break
    fi
    sleep 0.2
  done
  # The markers may have come with qemu's last output.
  [[ -z $command_started_at ]] && console_says 'command start' && command_started_at=$(now)
  [[ -z $command_ended_at ]] && console_says 'command end' && command_ended_at=$(now)
  [[ $timed_out == yes ]] || qemu_ended_at=$(now)
  return 0
}

process_group_alive() { pgrep -g "$1" >/dev/null 2>&1; }

# Idempotent; runs on every exit path. Ends only the process group we started (qemu's pid is its pgid).
stop_guest() {
  if [[ -n $qemu_pid ]]; then
    if guest_is_running; then
      kill -TERM -- "-$qemu_pid" 2>/dev/null || true
      local waited=0
      while guest_is_running && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
      if guest_is_running; then kill -KILL -- "-$qemu_pid" 2>/dev/null || true; fi
    fi
    wait "$qemu_pid" 2>/dev/null || true
    [[ -n $qemu_ended_at ]] || qemu_ended_at=$(now)
    if process_group_alive "$qemu_pid"; then
      kill -KILL -- "-$qemu_pid" 2>/dev/null || true
      sleep 0.5
    fi
    if process_group_alive "$qemu_pid"; then
      log "ERROR: processes of qemu's group $qemu_pid are still alive: $(pgrep -a -g "$qemu_pid" | tr '\n' ' ')"
      qemu_pid=""
      exit "$EXIT_INFRASTRUCTURE"
    fi
    qemu_pid=""
  fi
  if [[ -n $console_tail_pid ]]; then
    # tail notices qemu's end within its 0.2 s poll and prints the rest of the console first.
    local waited=0
    while kill -0 "$console_tail_pid" 2>/dev/null && ((waited < 20)); do sleep 0.1; waited=$((waited + 1)); done
    kill "$console_tail_pid" 2>/dev/null || true
    wait "$console_tail_pid" 2>/dev/null || true
    console_tail_pid=""
  fi
}

span() { if [[ -n $1 && -n $2 ]]; then seconds_between "$1" "$2"; else echo '-'; fi; }

report_timings() {
  local finished_at
  finished_at=$(now)
  {
    echo "provision_s=$(span "$started_at" "$provisioned_at")"
    echo "boot_to_command_s=$(span "$qemu_started_at" "$command_started_at")"
    echo "command_s=$(span "$command_started_at" "$command_ended_at")"
    echo "shutdown_s=$(span "$command_ended_at" "$qemu_ended_at")"
    echo "total_s=$(span "$started_at" "$finished_at")"
  } >"$RESULTS_DIR/timings"
  log "timings: $(tr '\n' ' ' <"$RESULTS_DIR/timings")"
}

report_kernel_problems() {
  local problems=$RESULTS_DIR/dmesg-problems.log
  [[ -s $problems ]] || return 0
  log "guest dmesg has $(wc -l <"$problems") WARNING/BUG/Oops/Call Trace line(s) (with x-vof=on, 'nvram corruption detected: 0-length partition' is expected):"
  sed 's/^/    /' "$problems" >&2
}

# Prints the exit code run.sh should end with.
outcome() {
  local exit_code_file=$RESULTS_DIR/exit-code
  if [[ $timed_out == yes ]]; then
    log "TIMEOUT: the guest did not finish within ${timeout_seconds} s; qemu was killed (console: $RESULTS_DIR/console.log)"
    echo "$EXIT_TIMEOUT"
  elif [[ -f $exit_code_file ]] && [[ $(<"$exit_code_file") =~ ^[0-9]+$ ]]; then
    log "guest command exited $(<"$exit_code_file") (output: $RESULTS_DIR/output.log)"
    cat "$exit_code_file"
  else
    log "INFRASTRUCTURE FAILURE: the guest reported no exit code; last console lines ($RESULTS_DIR/console.log):"
    tail -n 15 "$RESULTS_DIR/console.log" | sed 's/^/    /' >&2
    echo "$EXIT_INFRASTRUCTURE"
  fi
}

main() {
  parse_arguments "$@"
  require_root
  mkdir -p "$CACHE_DIR"
  take_lock "$CACHE_DIR/run.lock"
  started_at=$(now)
  provision
  provisioned_at=$(now)
  prepare_results
  if [[ ${POWER_HOST_NVME:-1} == 1 ]]; then make_nvme_image; fi
  start_guest
  wait_for_guest
  stop_guest
  local code
  code=$(outcome)
  report_kernel_problems
  report_timings
  exit "$code"
}

main "$@"
