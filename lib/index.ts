// kvm-vfio-spapr: KVM and VFIO for Node.js on POWER.
export {
  AttachStep,
  Linkage,
  attachIommuGroup,
  probeLinkage,
  type AttachOptions,
  type LinkageCheck,
  type LinkageFlags,
  type LinkageProbe,
} from './attach.js';
export { Cap, DeviceType, IommuType, KVM_API_VERSION, KvmVfioAttr, VmType } from './constants.js';
export { traceSyscalls, type SyscallRecord } from './debug.js';
export { DmaWindowStep, type GroupDmaWindowOptions } from './dma-window-steps.js';
export { KvmDevice, type AttrPayload, type AttrValue } from './device.js';
export { KvmVfioError, errnoName, type KvmVfioErrorFields } from './errors.js';
export { EventFd, type EventFdOptions } from './event-fd.js';
export { GuestMemory, pageSize } from './guest-memory.js';
export { GroupDmaWindow, prepareDmaWindow } from './group-dma-window.js';
export { FdObject, resourceStats } from './handle.js';
export { findHint, hintRows, type HintRow } from './hints.js';
export { Kvm, capabilityName, type CreateVmOptions } from './kvm.js';
export { KvmVfioDevice, type GroupRef, type TableRef } from './kvm-vfio-device.js';
export { ADDON_OVERRIDE_ENV, addonCandidates } from './native.js';
export { TceHypercall, probe, verdictLine, type HypercallSupport, type ProbeGroup, type ProbeOptions, type ProbeReport, type VmmSupport } from './probe.js';
export type { GroupWindowProbe } from './probe-windows.js';
export { SpaprTceTable, type SpaprTceTableOptions } from './spapr-tce-table.js';
export { headerConstants, requestNumbers } from './tables.js';
export {
  VFIO_API_VERSION,
  VfioContainer,
  type CreateWindowOptions,
  type DmaWindow,
  type MapDmaOptions,
  type SpaprInfo,
} from './vfio-container.js';
export { IrqFlag, PciIrq, PciRegion, RegionFlag, RegionMapping, VfioDevice, type VfioIrqInfo, type VfioRegionInfo } from './vfio-device.js';
export { MappedMemory, type MemoryUser } from './mapped-memory.js';
export { VfioGroup, devicesBlockingViability, iommuGroupDevices, type IommuGroupDevice, type VfioGroupStatus } from './vfio-group.js';
export { Vm, type EnableCapArgs, type IoeventfdOptions, type IrqfdOptions, type MemoryRegionOptions, type RadixGeometry, type RadixMmuInfo, type RadixMmuOptions } from './vm.js';
export {
  ExitReason,
  HcallReturn,
  OneReg,
  Vcpu,
  type HypercallAnswer,
  type HypercallExit,
  type MmioExit,
  type OtherExit,
  type PpcRegs,
  type RunHandlers,
  type RunOptions,
  type RunSyncHandlers,
  type RunSyncOptions,
  type RunResult,
} from './vcpu.js';
