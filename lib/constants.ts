// Kernel constants by their uapi names (include/uapi/linux/kvm.h, include/uapi/linux/vfio.h).
// These numbers are the same on every architecture; tests check them against the headers.

/** KVM capabilities for checkExtension (KVM_CAP_*). */
export const Cap = {
  USER_MEMORY: 3,
  NR_VCPUS: 9,
  IOMMU: 18,
  IRQFD: 32,
  IOEVENTFD: 36,
  SPAPR_TCE: 63,
  PPC_SMT: 64,
  PPC_PAPR: 68,
  ONE_REG: 70,
  PPC_GET_SMMU_INFO: 78,
  PPC_ALLOC_HTAB: 80,
  DEVICE_CTRL: 89,
  PPC_RTAS: 91,
  SPAPR_MULTITCE: 94,
  ENABLE_CAP_VM: 98,
  PPC_ENABLE_HCALL: 104,
  CHECK_EXTENSION_VM: 105,
  SPAPR_TCE_64: 125,
  PPC_MMU_RADIX: 134,
  PPC_MMU_HASH_V3: 135,
  SPAPR_TCE_VFIO: 142,
  PPC_NESTED_HV: 160,
  BINARY_STATS_FD: 203,
} as const;
export type Cap = (typeof Cap)[keyof typeof Cap];

/** KVM device types for createDevice (KVM_DEV_TYPE_*). */
export const DeviceType = {
  FSL_MPIC_20: 1,
  FSL_MPIC_42: 2,
  XICS: 3,
  VFIO: 4,
  ARM_VGIC_V2: 5,
  FLIC: 6,
  ARM_VGIC_V3: 7,
  ARM_VGIC_ITS: 8,
  XIVE: 9,
} as const;
export type DeviceType = (typeof DeviceType)[keyof typeof DeviceType];

/** VM types for createVm on POWER: DEFAULT lets the kernel choose (HV when kvm-hv is loaded). */
export const VmType = {
  DEFAULT: 0,
  PPC_HV: 1,
  PPC_PR: 2,
} as const;
export type VmType = (typeof VmType)[keyof typeof VmType];

/** VFIO IOMMU types (VFIO_*_IOMMU); sPAPR hosts use SPAPR_TCE (v1) or SPAPR_TCE_V2. */
export const IommuType = {
  TYPE1: 1,
  SPAPR_TCE: 2,
  TYPE1_V2: 3,
  DMA_CC: 4,
  EEH: 5,
  TYPE1_NESTING: 6,
  SPAPR_TCE_V2: 7,
  NOIOMMU: 8,
} as const;
export type IommuType = (typeof IommuType)[keyof typeof IommuType];

/**
 * Attribute groups and attributes of the KVM-VFIO device. Linux 6.6 renamed GROUP* to FILE*
 * with the same numbers; SET_SPAPR_TCE kept its name and still takes group fds only.
 */
export const KvmVfioAttr = {
  GROUP: 1,
  GROUP_ADD: 1,
  GROUP_DEL: 2,
  GROUP_SET_SPAPR_TCE: 3,
  FILE: 1,
  FILE_ADD: 1,
  FILE_DEL: 2,
} as const;

/** KVM_API_VERSION: the only API version this library (and every kernel since 2.6.22) speaks. */
export const KVM_API_VERSION = 12;
