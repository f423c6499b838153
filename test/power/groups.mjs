// The emulated host's VFIO groups and devices (scripts/power-host/guest-init.sh binds them), read from sysfs.
// Its own module so the fuzz targets can name them without loading the rest of helpers.mjs.
import { readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** The PCI functions of IOMMU group `group`, from sysfs (none when it does not exist). */
function groupDevices(group) {
  try {
    return readdirSync(`/sys/kernel/iommu_groups/${group}/devices`).sort();
  } catch {
    return [];
  }
}

function driverOf(address) {
  try {
    return basename(readlinkSync(`/sys/bus/pci/devices/${address}/driver`));
  } catch {
    return undefined;
  }
}

/**
 * The devices the emulated host binds to vfio-pci, one per PHB (scripts/power-host). Their addresses
 * come from the groups: on the pseries partition a device sits on its PHB's bus 0 (0002:00:00.0), on
 * PowerNV behind the PHB4's root port (0002:01:00.0). The fallbacks are the partition's.
 */
export const GROUP_TESTDEV = 1; // pci-testdev 1b36:0005
export const GROUP_EDU = 2; // edu 1234:11e8
export const DEVICE_TESTDEV = groupDevices(GROUP_TESTDEV)[0] ?? '0001:00:00.0';
export const DEVICE_EDU = groupDevices(GROUP_EDU)[0] ?? '0002:00:00.0';
export const GROUP_UNVIABLE = 3; // pci-testdev (vfio-pci) + virtio-rng (virtio-pci) on one PHB
/** The virtio-rng device of group 3, bound to virtio-pci. */
export const DEVICE_UNVIABLE_HOST = groupDevices(GROUP_UNVIABLE).find((d) => driverOf(d) !== 'vfio-pci') ?? '0003:00:02.0';
export const GROUP_THIRD = 4; // pci-testdev, alone on PHB 4 (POWER_HOST_EXTRA_GROUPS, default 1)
