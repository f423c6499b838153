// Kernel constants by their uapi names (include/uapi/linux/kvm.h, include/uapi/linux/vfio.h).
// These numbers are the same on every architecture; tests check them against the headers.

/** KVM capabilities for checkExtension (KVM_CAP_*). */
export const Cap = {
  /** KVM_SET_USER_MEMORY_REGION (guest memory slots). */
  USER_MEMORY: 3,
  /** The recommended maximum number of vCPUs per VM (a count, not a flag). */
  NR_VCPUS: 9,
  /** Legacy KVM device assignment with an IOMMU (x86; superseded by VFIO). */
  IOMMU: 18,
  /** KVM_IRQFD: an eventfd that injects a guest interrupt. */
  IRQFD: 32,
  /** KVM_IOEVENTFD: a guest MMIO/PIO write signals an eventfd. */
  IOEVENTFD: 36,
  /** KVM_CREATE_SPAPR_TCE: in-kernel TCE tables (32-bit windows, 4 KiB IOMMU pages). */
  SPAPR_TCE: 63,
  /** Hardware threads per core a POWER VM can use (a count). */
  PPC_SMT: 64,
  /** vCPUs can run a PAPR (pseries) guest. */
  PPC_PAPR: 68,
  /** KVM_GET_ONE_REG / KVM_SET_ONE_REG. */
  ONE_REG: 70,
  /** KVM_PPC_GET_SMMU_INFO: the hash MMU page sizes a guest may use. */
  PPC_GET_SMMU_INFO: 78,
  /** KVM_PPC_ALLOCATE_HTAB: the kernel allocates the guest hashed page table. */
  PPC_ALLOC_HTAB: 80,
  /** KVM_CREATE_DEVICE and the device attribute ioctls (needed for the KVM-VFIO device). */
  DEVICE_CTRL: 89,
  /** RTAS calls handled in the kernel (KVM_PPC_RTAS_DEFINE_TOKEN). */
  PPC_RTAS: 91,
  /** H_PUT_TCE_INDIRECT and H_STUFF_TCE can be handled in the kernel (once enabled with PPC_ENABLE_HCALL). */
  SPAPR_MULTITCE: 94,
  /** KVM_ENABLE_CAP on the VM fd. */
  ENABLE_CAP_VM: 98,
  /** KVM_ENABLE_CAP(PPC_ENABLE_HCALL) turns in-kernel handling of one hypercall on or off. */
  PPC_ENABLE_HCALL: 104,
  /** KVM_CHECK_EXTENSION on a VM fd answers for that VM (on POWER: its HV or PR flavour). */
  CHECK_EXTENSION_VM: 105,
  /** KVM_CREATE_SPAPR_TCE_64: in-kernel TCE tables with 64-bit windows and large IOMMU pages. */
  SPAPR_TCE_64: 125,
  /** The VM can use the radix MMU (POWER9 and later). */
  PPC_MMU_RADIX: 134,
  /** The VM can use the ISA v3.0 hashed page table MMU. */
  PPC_MMU_HASH_V3: 135,
  /** The KVM-VFIO device can link a VFIO group to an in-kernel TCE table (KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE): 1 where attachIommuGroup can work. */
  SPAPR_TCE_VFIO: 142,
  /** The VM can run nested KVM-HV guests. */
  PPC_NESTED_HV: 160,
  /** KVM_GET_STATS_FD: binary statistics. */
  BINARY_STATS_FD: 203,
  /** An in-kernel interrupt controller exists on this architecture (x86: KVM_CREATE_IRQCHIP). */
  IRQCHIP: 0,
  /** KVM_INTERRUPT can raise a level-triggered external interrupt (KVM_INTERRUPT_SET_LEVEL). */
  PPC_IRQ_LEVEL: 58,
  /** KVM_IRQFD_FLAG_RESAMPLE: level-triggered irqfds. */
  IRQFD_RESAMPLE: 82,
  /** KVM_PPC_GET_HTAB_FD: read and write the guest's hashed page table. */
  PPC_HTAB_FD: 84,
  /** The in-kernel XICS interrupt controller; enabled per vCPU with the XICS device's fd and server number. */
  IRQ_XICS: 92,
  /** KVM_PPC_GET_CPU_CHAR: the speculation mitigations the host reports for guests. */
  PPC_GET_CPU_CHAR: 151,
  /** The in-kernel XIVE native interrupt controller (POWER9 and later, not nested). */
  PPC_IRQ_XIVE: 169,
  /** H_RPT_INVALIDATE can be handled in the kernel (process-scoped TLB invalidation for radix guests). */
  PPC_RPT_INVALIDATE: 202,
  /** H_SET_MODE may set address translation mode 3 (AIL=3) for the guest. */
  PPC_AIL_MODE_3: 210,
} as const;
export type Cap = (typeof Cap)[keyof typeof Cap];

/** KVM device types for createDevice (KVM_DEV_TYPE_*). */
export const DeviceType = {
  /** Freescale MPIC 2.0 interrupt controller. */
  FSL_MPIC_20: 1,
  /** Freescale MPIC 4.2 interrupt controller. */
  FSL_MPIC_42: 2,
  /** The POWER XICS interrupt controller. */
  XICS: 3,
  /** The KVM-VFIO pseudo device (one per VM): links VFIO groups to the VM; see {@link KvmVfioDevice}. */
  VFIO: 4,
  /** Arm GICv2. */
  ARM_VGIC_V2: 5,
  /** s390 floating interrupt controller. */
  FLIC: 6,
  /** Arm GICv3. */
  ARM_VGIC_V3: 7,
  /** Arm GICv3 ITS. */
  ARM_VGIC_ITS: 8,
  /** The POWER9 XIVE interrupt controller (native mode). */
  XIVE: 9,
} as const;
export type DeviceType = (typeof DeviceType)[keyof typeof DeviceType];

/** VM types for createVm on POWER: DEFAULT lets the kernel choose (HV when kvm-hv is loaded). */
export const VmType = {
  /** Let the kernel choose: HV when kvm-hv is loaded, otherwise PR. */
  DEFAULT: 0,
  /** KVM-HV (the kvm-hv module): the guest runs in hypervisor-assisted mode. */
  PPC_HV: 1,
  /** KVM-PR (the kvm-pr module, "problem state"): not built into Debian's kernels. */
  PPC_PR: 2,
} as const;
export type VmType = (typeof VmType)[keyof typeof VmType];

/** VFIO IOMMU types (VFIO_*_IOMMU); sPAPR hosts use SPAPR_TCE (v1) or SPAPR_TCE_V2. */
export const IommuType = {
  /** The type 1 IOMMU of x86 and Arm hosts (not sPAPR). */
  TYPE1: 1,
  /** sPAPR TCE IOMMU v1: the default 32-bit window only; pages are pinned as they are mapped. */
  SPAPR_TCE: 2,
  /** Type 1 IOMMU, version 2 (not sPAPR). */
  TYPE1_V2: 3,
  /** An extension, not a type: DMA is cache coherent (VFIO_DMA_CC_IOMMU). */
  DMA_CC: 4,
  /** An extension, not a type: EEH error recovery on sPAPR (VFIO_EEH). */
  EEH: 5,
  /** Nested type 1 IOMMU (not sPAPR). */
  TYPE1_NESTING: 6,
  /** sPAPR TCE IOMMU v2: memory pre-registration and dynamic DMA windows; needed for in-kernel H_PUT_TCE. */
  SPAPR_TCE_V2: 7,
  /** VFIO without an IOMMU (unsafe; no DMA isolation). */
  NOIOMMU: 8,
} as const;
export type IommuType = (typeof IommuType)[keyof typeof IommuType];

/**
 * Attribute groups and attributes of the KVM-VFIO device. Linux 6.6 renamed GROUP* to FILE*
 * with the same numbers; SET_SPAPR_TCE kept its name and still takes group fds only.
 */
export const KvmVfioAttr = {
  /** The attribute group KVM_DEV_VFIO_GROUP. */
  GROUP: 1,
  /** Add a VFIO group fd to the device (payload: the group fd). */
  GROUP_ADD: 1,
  /** Remove a VFIO group fd from the device (payload: the group fd). */
  GROUP_DEL: 2,
  /** Link a group to an in-kernel TCE table (payload: struct kvm_vfio_spapr_tce, the group and table fds). */
  GROUP_SET_SPAPR_TCE: 3,
  /** KVM_DEV_VFIO_FILE: Linux 6.6 and later name GROUP this way. */
  FILE: 1,
  /** KVM_DEV_VFIO_FILE_ADD: the Linux 6.6 name of GROUP_ADD. */
  FILE_ADD: 1,
  /** KVM_DEV_VFIO_FILE_DEL: the Linux 6.6 name of GROUP_DEL. */
  FILE_DEL: 2,
} as const;

/** KVM_API_VERSION: the only API version this library (and every kernel since 2.6.22) speaks. */
export const KVM_API_VERSION = 12;
