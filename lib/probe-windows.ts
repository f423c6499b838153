// probe()'s per-group DMA window check: can a new (dynamic) DMA window be created for this group,
// and how big? The only way to know is to ask: on pseries, VFIO_IOMMU_SPAPR_TCE_CREATE ends in
// arch/powerpc/platforms/pseries/iommu.c (spapr_tce_create_table), which asks the hypervisor
// (RTAS ibm,query-pe-dma-window / ibm,create-pe-dma-window) and answers ENODEV when the PHB has no
// window left; on PowerNV the PHB's own IODA2 tables decide (arch/powerpc/platforms/powernv/pci-ioda.c).
// Each try creates a window in a scratch v2 container holding only this group, and removes it.
import { IommuType } from './constants.js';
import { KvmVfioError } from './errors.js';
import { VfioContainer } from './vfio-container.js';
import { VfioGroup } from './vfio-group.js';

/** What probe() found out about new DMA windows for one viable group. */
export interface GroupWindowProbe {
  /** A window of at least the smallest size tried could be created. */
  creatable: boolean;
  /** The IOMMU page shift the tries used: the largest the platform offers up to 64 KiB. */
  pageShift?: number;
  /**
   * The largest window created, in bytes, of the sizes tried (1 and 4 GiB; larger windows cost
   * their TCE table's allocation on every probe, 8 MiB for 64 GiB of 64 KiB pages).
   */
  largestWindowSize?: bigint;
  /** Where the platform placed that window (bus address). */
  startAddr?: bigint;
  /** Why the next size (or the first) failed, or why nothing was tried (the group is in use). */
  limit?: string;
}

const GIB = 1n << 30n;
const SIZES_TRIED = [GIB, 4n * GIB];
const LARGEST_TRIED_SHIFT = 16;

function describeFailure(size: bigint, error: unknown): string {
  const what = error instanceof KvmVfioError ? `${error.code}: ${error.hint}` : String(error);
  return `a ${size / GIB} GiB window failed with ${what}`;
}

/** Tries windows of growing size in a scratch container that holds only `groupNumber`. */
export function probeGroupWindow(groupNumber: number, vfioPath: string): GroupWindowProbe {
  using container = VfioContainer.open(vfioPath);
  let opened: VfioGroup;
  try {
    opened = VfioGroup.open(groupNumber);
  } catch (error) {
    return { creatable: false, limit: `not tried: the group could not be opened (${error instanceof KvmVfioError ? error.code : String(error)}; in use by another VMM?)` };
  }
  using group = opened;
  try {
    group.setContainer(container);
    container.setIommu(IommuType.SPAPR_TCE_V2);
  } catch (error) {
    return { creatable: false, limit: `not tried: no v2 container for the group (${error instanceof KvmVfioError ? `${error.code}: ${error.hint}` : String(error)})` };
  }
  const info = container.spaprInfo();
  const pageShift = Math.max(...(info.ddw?.pageShifts ?? [12]).filter((shift) => shift <= LARGEST_TRIED_SHIFT));
  // The pending default window would take the bus address 0 slot; removing it only cancels it (tce_iommu_ioctl).
  if (container.windows.length === 0) container.removeWindow(info.dma32WindowStart);
  const result: GroupWindowProbe = { creatable: false, pageShift };
  for (const windowSize of SIZES_TRIED) {
    try {
      const window = container.createWindow({ pageShift, windowSize });
      container.removeWindow(window.startAddr);
      Object.assign(result, { creatable: true, largestWindowSize: windowSize, startAddr: window.startAddr });
    } catch (error) {
      result.limit = describeFailure(windowSize, error);
      break;
    }
  }
  return result;
}
