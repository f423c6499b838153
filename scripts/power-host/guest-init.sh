#!/bin/sh
# /init of the emulated POWER host (busybox sh, copied into the initramfs by provision.sh).
#
# Loads kvm-hv and VFIO, binds the test devices to vfio-pci, mounts the host's repository over 9p at /mnt,
# chroots into the Node rootfs kept in the repository's cache (with the repository bind-mounted at /project)
# and runs the command the host wrote to <cache>/results/command.sh. Output, exit code, dmesg and timings go
# back into <cache>/results/. Then it powers off; qemu runs with -no-reboot, so that ends qemu.
#
# The host passes the cache folder (relative to the repository root) as power_host_cache=... on the kernel
# command line. The console lines "power-host: command start" / "power-host: command end" are read by run.sh.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

SHARE=/mnt
SETUP_ERRORS=/tmp/setup-errors
# vendor:device of the devices handed to vfio-pci: pci-testdev, edu, the NVMe controller
VFIO_TEST_DEVICES="0x1b36:0x0005 0x1234:0x11e8 0x1b36:0x0010"

say() { echo "power-host: $*"; }

# A failed setup step is reported but does not stop the boot, so the tests can say what is missing.
setup_failed() {
  say "SETUP FAILED: $*"
  echo "$*" >>"$SETUP_ERRORS"
}

step() { "$@" || setup_failed "$*"; }

power_off() {
  sync
  poweroff -f
  # Not reached; init must never exit (that would panic the kernel).
  while :; do sleep 3600; done
}

fatal() {
  say "FATAL: $*"
  power_off
}

mount_basics() {
  /bin/busybox --install -s
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  mount -t tmpfs tmpfs /tmp
  mount -t tmpfs tmpfs /run
  exec </dev/console >/dev/console 2>&1
}

kernel_option() {
  # shellcheck disable=SC2013  # the command line is split into words on purpose
  for word in $(cat /proc/cmdline); do
    case $word in "$1"=*) echo "${word#*=}" ;; esac
  done
}

uptime_seconds() { cut -d' ' -f1 /proc/uptime; }

# A module only where the kernel did not build it in (6.1 has virtio_pci as a module, 6.12 built in).
modprobe_unless_builtin() {
  grep -q "/$1.ko" "/lib/modules/$(uname -r)/modules.builtin" || step modprobe "$1"
}

load_modules() {
  modprobe_unless_builtin virtio_pci
  step modprobe 9pnet_virtio
  step modprobe 9p
  step modprobe kvm-hv
  step modprobe vfio_iommu_spapr_tce
  step modprobe vfio-pci
}

# driver_override + drivers_probe binds exactly these devices, whatever else vfio-pci might match.
bind_test_devices_to_vfio_pci() {
  for device in /sys/bus/pci/devices/*; do
    id="$(cat "$device/vendor"):$(cat "$device/device")"
    case " $VFIO_TEST_DEVICES " in *" $id "*) ;; *) continue ;; esac
    name=${device##*/}
    [ -e "$device/driver" ] && echo "$name" >"$device/driver/unbind"
    echo vfio-pci >"$device/driver_override"
    echo "$name" >/sys/bus/pci/drivers_probe
    driver=$(readlink "$device/driver")
    if [ "${driver##*/}" = vfio-pci ]; then
      say "$name ($id) bound to vfio-pci, IOMMU group $(basename "$(readlink "$device/iommu_group")")"
    else
      setup_failed "bind $name ($id) to vfio-pci (driver: ${driver:-none})"
    fi
  done
}

mount_share() {
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host0 "$SHARE" ||
    fatal "cannot mount the 9p share host0 on $SHARE"
}

prepare_chroot() {
  root=$1
  [ -x "$root/usr/bin/node" ] || fatal "no Node rootfs at $root (run scripts/power-host/provision.sh)"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/tmp"
  mount --bind "$SHARE" "$root/project"
}

release_chroot() {
  root=$1
  for point in project tmp dev sys proc; do umount "$root/$point" 2>/dev/null; done
}

# Runs the host's command.sh inside the chroot; its output goes to the console and to output.log.
run_command() {
  root=$1 results=$2 cache=$3
  [ -f "$results/command.sh" ] || fatal "the host wrote no $results_relative/command.sh"
  start=$(uptime_seconds)
  say "command start (uptime $start s)"
  {
    env -i HOME=/root TERM=dumb LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
      chroot "$root" /bin/sh "/project/$results_relative/command.sh"
    echo $? >"$results/exit-code"
  } 2>&1 | tee "$results/output.log"
  end=$(uptime_seconds)
  say "command end (exit $(cat "$results/exit-code"), uptime $end s)"
  printf 'guest_uptime_at_command_start=%s\nguest_uptime_at_command_end=%s\n' "$start" "$end" >"$results/guest-timings"
}

save_kernel_log() {
  results=$1
  dmesg >"$results/dmesg.log"
  grep -E 'WARNING|BUG|Oops|Call Trace' "$results/dmesg.log" >"$results/dmesg-problems.log"
  [ -f "$SETUP_ERRORS" ] && cp "$SETUP_ERRORS" "$results/setup-errors"
}

main() {
  mount_basics
  say "init started (uptime $(uptime_seconds) s, kernel $(uname -r))"
  cache=$(kernel_option power_host_cache)
  [ -n "$cache" ] || fatal "no power_host_cache=... on the kernel command line"
  load_modules
  bind_test_devices_to_vfio_pci
  mount_share
  root=$SHARE/$cache/rootfs
  # power_host_results: the results folder of the kernel booted (the default kernel's is $cache/results).
  results_relative=$(kernel_option power_host_results)
  [ -n "$results_relative" ] || results_relative=$cache/results
  results=$SHARE/$results_relative
  prepare_chroot "$root"
  run_command "$root" "$results" "$cache"
  release_chroot "$root"
  save_kernel_log "$results"
  say "powering off"
  power_off
}

main
