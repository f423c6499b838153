// Where the emulated POWER host's own kernel was extracted (scripts/power-host/config.sh): the default
// kernel's tree is .cache/power-host/kernel, the others' .cache/power-host/kernels/<name>/kernel. Code running
// inside the host (on its Node 18, cwd the repository) finds the tree of the kernel it runs on by its release.
import { existsSync, readdirSync } from 'node:fs';
import { release } from 'node:os';

const CACHE = '.cache/power-host';

/** The extracted tree of kernel `version` (default: the running one), or undefined when none has it. */
export function kernelTree(version = release()) {
  const others = existsSync(`${CACHE}/kernels`) ? readdirSync(`${CACHE}/kernels`).map((name) => `${CACHE}/kernels/${name}/kernel`) : [];
  return [`${CACHE}/kernel`, ...others].find((tree) => existsSync(`${tree}/lib/modules/${version}`));
}

/** The kernel image the outer emulator booted (an ELF vmlinux: boot/, or beside the modules in the split packages). */
export function kernelImage(version = release()) {
  const tree = kernelTree(version) ?? `${CACHE}/kernel`;
  return [`${tree}/boot/vmlinux-${version}`, `${tree}/usr/lib/modules/${version}/vmlinuz`].find(existsSync) ?? `${tree}/boot/vmlinux-${version}`;
}

/** The directory of the running kernel's modules (kernel/drivers/... below it). */
export function kernelModulesDir(version = release()) {
  return `${kernelTree(version) ?? `${CACHE}/kernel`}/lib/modules/${version}`;
}
