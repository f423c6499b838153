// A newc cpio archive (the initramfs format, Documentation/driver-api/early-userspace/buffer-format.rst),
// enough to pack busybox and an /init script for a test guest. Uncompressed: the kernel takes it as is.

/** One archive member. */
export interface CpioEntry {
  /** Path without a leading slash, e.g. 'bin/busybox'. */
  path: string;
  /** File type and permission bits, e.g. 0o100755 (file), 0o040755 (directory), 0o120777 (symlink). */
  mode: number;
  /** A file's bytes or a symlink's target; empty for a directory. */
  data?: Uint8Array | string;
  /** A device node's [major, minor] (mode 0o020000 character, 0o060000 block). */
  device?: [number, number];
}

const encoder = new TextEncoder();

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

function member(entry: CpioEntry, inode: number): Uint8Array[] {
  const data = typeof entry.data === 'string' ? encoder.encode(entry.data) : (entry.data ?? new Uint8Array());
  const name = encoder.encode(`${entry.path}\0`);
  const [major, minor] = entry.device ?? [0, 0];
  const fields = [inode, entry.mode, 0, 0, 1, 0, data.length, 0, 0, major, minor, name.length, 0];
  const header = encoder.encode(`070701${fields.map(hex8).join('')}`);
  return [header, name, new Uint8Array(pad4(header.length + name.length)), data, new Uint8Array(pad4(data.length))];
}

/** The archive: each entry, then the TRAILER!!! record. */
export function cpioArchive(entries: readonly CpioEntry[]): Uint8Array {
  const parts = [...entries, { path: 'TRAILER!!!', mode: 0 }].flatMap((entry, i) => member(entry, i + 1));
  const archive = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    archive.set(part, at);
    at += part.length;
  }
  return archive;
}

/** The marker the test guest's /init prints once user space runs. */
export const USERSPACE_MARKER = 'SPAPR-VMM: userspace up';

/** /init prints this followed by the number of CPUs the guest brought up. */
export const CPUS_LINE = 'SPAPR-VMM: cpus online';

/** Numbered lines /init prints before the marker, so a test can check the console keeps their order. */
export const CONSOLE_LINES = 40;

/** /init prints one line per PCI function the guest found: this, then vendor, device and address. */
export const PCI_LINE = 'SPAPR-VMM: pci';

/** /init prints this, then the sha256 of what it read and how many MiB, once the block read is done. */
export const BLOCK_READ_LINE = 'SPAPR-VMM: block sha256';

/** direct-read's own line after the block read: how many MiB, and the seconds its reads took. */
export const BLOCK_SECONDS_PATTERN = /direct-read: (\d+) MiB read in ([\d.]+) s/;

/** /init prints this, then the interrupts the device's driver took (its /proc/interrupts row). */
export const BLOCK_IRQ_LINE = 'SPAPR-VMM: block interrupts';

/** A block device for the guest's /init to read with O_DIRECT before the marker. */
export interface BlockRead {
  /** Kernel modules to insmod first, in order (uncompressed .ko files: busybox cannot load .ko.xz). */
  modules: { name: string; data: Uint8Array }[];
  /** The static direct-read program (examples/spapr-vmm/guest/direct-read.c). */
  program: Uint8Array;
  /** The device node to read, e.g. '/dev/nvme0n1'. */
  device: string;
  /** How many MiB to read from its start. */
  mib: number;
}

function blockReadScript({ modules, device, mib }: BlockRead): string[] {
  const driver = device.replace(/^\/dev\//, '').replace(/n\d+$/, '');
  return [
    '/bin/busybox mount -t devtmpfs devtmpfs /dev',
    ...modules.map(({ name }) => `/bin/busybox insmod /lib/modules/${name}.ko`),
    `i=0; while [ ! -b ${device} ] && [ $i -lt 300 ]; do /bin/busybox sleep 0.1; i=$((i + 1)); done`,
    `/bin/busybox echo "${BLOCK_READ_LINE} $(/bin/direct-read ${device} ${mib} | /bin/busybox sha256sum | /bin/busybox cut -d' ' -f1) ${mib}"`,
    `/bin/busybox echo "${BLOCK_IRQ_LINE} $(/bin/busybox grep ${driver} /proc/interrupts | /bin/busybox awk '{ n += $2 } END { print n + 0 }')"`,
  ];
}

/**
 * A busybox initramfs whose /init prints {@link CONSOLE_LINES} numbered lines, a {@link PCI_LINE}
 * per PCI function in /sys/bus/pci/devices, with `block` the {@link BLOCK_READ_LINE} of an O_DIRECT
 * read, then {@link USERSPACE_MARKER}, and powers off through RTAS.
 */
export function markerInitramfs(busybox: Uint8Array, block?: BlockRead): Uint8Array {
  const lines = Array.from({ length: CONSOLE_LINES }, (_, i) => `/bin/busybox echo "console line ${i + 1} of ${CONSOLE_LINES}"`);
  const pci = `for d in /sys/bus/pci/devices/*; do [ -e "$d/vendor" ] && /bin/busybox echo "${PCI_LINE} $(/bin/busybox cat $d/vendor) $(/bin/busybox cat $d/device) \${d##*/}"; done`;
  const init = ['#!/bin/busybox sh', '/bin/busybox mount -t proc proc /proc', '/bin/busybox mount -t sysfs sysfs /sys', ...lines, pci, ...(block ? blockReadScript(block) : []), `/bin/busybox echo "${CPUS_LINE} $(/bin/busybox nproc)"`, `/bin/busybox echo "${USERSPACE_MARKER}"`, '/bin/busybox poweroff -f', ''].join('\n');
  const blockFiles: CpioEntry[] = block
    ? [
        { path: 'bin/direct-read', mode: 0o100755, data: block.program },
        { path: 'lib', mode: 0o040755 },
        { path: 'lib/modules', mode: 0o040755 },
        ...block.modules.map(({ name, data }) => ({ path: `lib/modules/${name}.ko`, mode: 0o100644, data })),
      ]
    : [];
  return cpioArchive([
    { path: 'bin', mode: 0o040755 },
    { path: 'bin/busybox', mode: 0o100755, data: busybox },
    { path: 'bin/sh', mode: 0o120777, data: 'busybox' },
    ...blockFiles,
    { path: 'dev', mode: 0o040755 },
    { path: 'dev/console', mode: 0o020600, device: [5, 1] },
    { path: 'proc', mode: 0o040755 },
    { path: 'sys', mode: 0o040755 },
    { path: 'init', mode: 0o100755, data: init },
  ]);
}
