// prepareDmaWindow: a VFIO group in a container with its DMA window, and no VM: the steps of
// attachIommuGroup before the KVM ones, for a VMM that maps the guest's TCEs itself (MAP_DMA).
import { DmaWindowStep, DmaWindowSteps, type GroupDmaWindowOptions, type StepCaller, checkGroupSpec, checkWindowPlan } from './dma-window-steps.js';
import type { Target } from './errors.js';
import { CONSTRUCTING } from './handle.js';
import type { Release } from './shared-steps.js';
import { StepwiseSetup } from './stepwise-setup.js';
import { checkOptions } from './validate.js';
import type { DmaWindow, VfioContainer } from './vfio-container.js';
import type { VfioGroup } from './vfio-group.js';

/**
 * A VFIO group in a container with a DMA window, linked to nothing. close() or closeAsync() (or
 * dispose) undoes, in reverse order, everything prepareDmaWindow did that no linkage or other
 * window still needs: the window, the memory registration, the group's container, what it opened.
 *
 * @example
 * using dma = prepareDmaWindow({ group: 1, windowSize: 1n << 30n, memory });
 * dma.container.mapDma({ memory, iova: dma.window.startAddr, size: 4096n }); // what one TCE maps
 */
export class GroupDmaWindow extends StepwiseSetup {
  /** @internal Made by prepareDmaWindow. */
  constructor(
    token: typeof CONSTRUCTING,
    /** The VFIO group (opened by prepareDmaWindow, or the caller's). */
    readonly group: VfioGroup,
    /** The group's container (new or existing): map the guest's DMA through it. */
    readonly container: VfioContainer,
    /** The container's DMA window that covers the one asked for. */
    readonly window: DmaWindow,
    releases: Release[],
  ) {
    super(token, 'GroupDmaWindow', releases);
  }

  /** @internal */
  protected teardownName(): { action: string; target: Target } {
    return { action: `closing the DMA window of ${this.group.target}`, target: 'group dma window' };
  }
}

const PREPARE: StepCaller = { name: 'prepareDmaWindow', asker: 'prepareDmaWindow', window: 'the window asked for' };

/**
 * Gives a VFIO group a container and a DMA window, as {@link attachIommuGroup} does, but links it
 * to no TCE table and needs no VM: the group (opened, viable) → container and IOMMU type → (v2)
 * memory registration → the DMA window (v2: created, replacing the pending default window when
 * busOffset is its start; v1: the default window made to exist). For a VMM that answers the
 * guest's TCE hypercalls itself and maps each TCE through the container. On failure everything
 * done so far is undone and the error names the step ({@link DmaWindowStep}).
 *
 * @example
 * using memory = GuestMemory.allocate(256n << 20n);
 * using dma = prepareDmaWindow({ group: 1, windowSize: 1n << 30n, memory });
 * console.log(dma.group.target, dma.window.startAddr);
 */
export function prepareDmaWindow(options: GroupDmaWindowOptions): GroupDmaWindow {
  const checked = checkOptions<GroupDmaWindowOptions>('options', options);
  const spec = checkGroupSpec(checked.group, 'prepareDmaWindow');
  const steps = new DmaWindowSteps(PREPARE, checkWindowPlan(checked, 'prepareDmaWindow'), DmaWindowStep.GROUP);
  try {
    const { group, container, window } = steps.prepareWindow(spec);
    return new GroupDmaWindow(CONSTRUCTING, group, container, window, steps.releases);
  } catch (error) {
    throw steps.rollBack(error);
  }
}
