// What an errno means for one call: one row per (request, qualifier, code), each citing the kernel
// file that returns it. Lookup falls back from (request, qualifier) to (request) to any request.
// The qualifier narrows a request: an attribute name for KVM_SET_DEVICE_ATTR, an object kind
// for open(), or 'kvm-vfio' for a device type.
import { checkString, invalidArgType } from './validate.js';

/** One row of the errno contract. */
export interface HintRow {
  /** The ioctl request name, or the syscall ('open', 'mmap', 'fcntl'), or '*' for any request. */
  readonly request: string;
  /** A narrower operation (attribute name, object kind), or '' for the whole request. */
  readonly qualifier: string;
  /** The errno name, e.g. 'ENOENT'. */
  readonly code: string;
  /** What this errno means for this call, and what to do. */
  readonly hint: string;
  /** The kernel source file (and function) that returns it. */
  readonly source: string;
}

const KVM_MAIN = 'virt/kvm/kvm_main.c';
const KVM_VFIO = 'virt/kvm/vfio.c';
const BOOK3S_VIO = 'arch/powerpc/kvm/book3s_64_vio.c';
const POWERPC = 'arch/powerpc/kvm/powerpc.c';
const SPAPR_TCE = 'drivers/vfio/vfio_iommu_spapr_tce.c';
const VFIO_GROUP = 'drivers/vfio/group.c';
const VFIO_CONTAINER = 'drivers/vfio/container.c';
const VFS_IOCTL = 'fs/ioctl.c (vfs_ioctl)';
const VFIO_PCI_CORE = 'drivers/vfio/pci/vfio_pci_core.c';
const VFIO_PCI_INTRS = 'drivers/vfio/pci/vfio_pci_intrs.c';

const SET = 'KVM_SET_DEVICE_ATTR';
const GET = 'KVM_GET_DEVICE_ATTR';
const HAS = 'KVM_HAS_DEVICE_ATTR';
const GROUP_ADD = 'KVM_DEV_VFIO_GROUP_ADD';
const GROUP_DEL = 'KVM_DEV_VFIO_GROUP_DEL';
const SET_SPAPR_TCE = 'KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE';
/** SET_SPAPR_TCE with a table the library knows belongs to this VM. */
export const SET_SPAPR_TCE_OWN_TABLE = `${SET_SPAPR_TCE} (table of this VM)`;
const TCE_64 = 'KVM_CREATE_SPAPR_TCE_64';
const TCE_32 = 'KVM_CREATE_SPAPR_TCE';

function row(request: string, qualifier: string, code: string, hint: string, source: string): HintRow {
  return { request, qualifier, code, hint, source };
}

const PSERIES_IOMMU = 'arch/powerpc/platforms/pseries/iommu.c';
// Seen on the emulated POWER host (6.12, QEMU pseries): group 3's virtio-rng, probed by virtio-pci at
// boot, asked for a DDW with 16 MiB IOMMU pages, firmware answered -3, and from then on iommu.c
// refused every window on that PHB, the default one included (v1 and v2 alike).
const FAILED_DDW =
  'On a pseries host (a partition, as the emulated POWER host is) windows come from firmware: spapr_tce_create_table ' +
  'asks ibm,query-pe-dma-window / ibm,create-pe-dma-window for the group\'s PE and returns ENODEV when the PHB offers ' +
  'none — no free window, DDW off on that PHB, or the PHB is in the kernel\'s failed-DDW list ("in failed DDW device ' +
  'list" in dmesg): once a host driver\'s DDW request on that PHB failed (e.g. a device of the group was probed by ' +
  'virtio-pci at boot), iommu.c refuses every later window there, the default 32-bit one too, so neither v1 nor v2 ' +
  'can work until the host reboots with every device of the group bound to vfio-pci before another driver probes it ' +
  '(vfio-pci.ids= or driver_override at boot). On bare metal (PowerNV) the host driver makes windows from the PHB\'s own tables';

const OUR_STRUCT_BUG =
  'the kernel could not read or write the struct this library passed: that is a bug in kvm-vfio-spapr, please report it';

const openRows: HintRow[] = [
  row('open', 'kvm', 'ENOENT', '/dev/kvm does not exist: the kvm module (kvm-hv on POWER) is not loaded or this kernel has no KVM (modprobe kvm-hv; check CONFIG_KVM)', `${KVM_MAIN} (kvm_dev misc device)`),
  row('open', 'kvm', 'ENODEV', 'the device node exists but no KVM driver answers it: load the kvm module (dmesg says why it failed)', `${KVM_MAIN} (kvm_dev misc device)`),
  row('open', 'kvm', 'ENXIO', 'the device node exists but no KVM driver answers it: load the kvm module (dmesg says why it failed)', `${KVM_MAIN} (kvm_dev misc device)`),
  row('open', 'kvm', 'EACCES', 'no permission to open /dev/kvm: run as root or add the user to the group that owns it (usually "kvm": usermod -aG kvm $USER, then log in again)', 'fs/namei.c (may_open)'),
  row('open', 'kvm', 'EPERM', 'opening /dev/kvm was refused by a security policy (container device cgroup, seccomp or an LSM), not by file permissions', 'security/ (device cgroup, LSM hooks)'),
  row('open', 'vfio container', 'ENOENT', 'no /dev/vfio/vfio: load the vfio modules (modprobe vfio-pci; on POWER also vfio_iommu_spapr_tce); the kernel needs CONFIG_VFIO_CONTAINER', VFIO_CONTAINER),
  row('open', 'vfio container', 'EACCES', 'no permission to open /dev/vfio/vfio: it is normally mode 0666; check the node and the container device cgroup', 'fs/namei.c (may_open)'),
  row('open', 'vfio group', 'ENOENT', 'no such VFIO group: no device of this IOMMU group is bound to vfio-pci (bind it via /sys/bus/pci/devices/<addr>/driver_override and drivers_probe; see /sys/kernel/iommu_groups/N/devices)', `${VFIO_GROUP} (vfio_group_find_or_alloc)`),
  row('open', 'vfio group', 'EBUSY', 'this VFIO group is already open, in this process or another: a group can be opened only once (reuse the open VfioGroup)', `${VFIO_GROUP} (vfio_group_fops_open)`),
  row('open', 'vfio group', 'EACCES', 'no permission to open the VFIO group: /dev/vfio/N is root-only by default; chown it to the VMM user (udev rule) or run as root', 'fs/namei.c (may_open)'),
  row('open', 'vfio group', 'EPERM', 'this is a no-IOMMU group and opening it needs CAP_SYS_RAWIO', `${VFIO_GROUP} (vfio_group_fops_open)`),
  row('open', 'vfio group', 'ENODEV', 'the group is going away (its last device was unbound or removed)', `${VFIO_GROUP} (vfio_group_fops_open)`),
  row('fcntl', 'F_DUPFD_CLOEXEC', 'EBADF', 'the fd given to fromFd() is not open in this process', 'fs/fcntl.c (f_dupfd)'),
  row('fcntl', 'F_DUPFD_CLOEXEC', 'EMFILE', 'this process has no free fd to duplicate into (RLIMIT_NOFILE)', 'fs/fcntl.c (f_dupfd)'),
];

const kvmRows: HintRow[] = [
  row('KVM_GET_API_VERSION', '', 'ENOTTY', 'this file is not /dev/kvm: its driver does not know KVM ioctls', VFS_IOCTL),
  row('KVM_GET_API_VERSION', '', 'EBADF', 'the fd is not open', 'fs/ioctl.c (ksys_ioctl)'),
  row('KVM_CHECK_EXTENSION', '', 'ENOTTY', 'this fd does not answer KVM_CHECK_EXTENSION (VM fds do only with KVM_CAP_CHECK_EXTENSION_VM)', KVM_MAIN),
  row('KVM_CREATE_VM', '', 'EINVAL', 'the kernel refused this VM type: on POWER type 2 (PR) needs kvm-pr, which Debian does not build, and every type fails when kvm-hv cannot run (a pseries host needs nested HV, e.g. qemu cap-nested-hv=on)', `${POWERPC} (kvm_arch_init_vm), arch/powerpc/kvm/book3s.c (kvmppc_core_init_vm)`),
  row('KVM_CREATE_VM', '', 'ENOMEM', 'the kernel could not allocate the VM (memory or a memory cgroup limit)', KVM_MAIN),
  row('KVM_CREATE_VCPU', '', 'EINVAL', 'the vCPU id is out of range, this VM cannot take more vCPUs (KVM_CAP_MAX_VCPUS / KVM_CAP_NR_VCPUS), or (POWER9+ kvm-hv) a vCPU with this id already exists: HV reports that collision as EINVAL, not EEXIST', `${KVM_MAIN} (kvm_vm_ioctl_create_vcpu), arch/powerpc/kvm/book3s_hv.c (kvmppc_core_vcpu_create_hv)`),
  row('KVM_CREATE_VCPU', '', 'EEXIST', 'a vCPU with this id already exists in this VM', KVM_MAIN),
  row('KVM_GET_VCPU_MMAP_SIZE', '', 'ENOTTY', 'this fd is not /dev/kvm', VFS_IOCTL),
  row('KVM_ENABLE_CAP', '', 'EINVAL', 'this kernel does not let this capability be enabled on this fd with these arguments (check the VM fd capability first)', `${POWERPC} (kvm_vm_ioctl_enable_cap, kvm_vcpu_ioctl_enable_cap)`),
  row('KVM_ENABLE_CAP', 'KVM_CAP_PPC_ENABLE_HCALL', 'EINVAL', 'this kernel cannot handle that hypercall in-kernel (it is not in kvmppc_hcall_impl_hv, e.g. H_PUT_TCE_INDIRECT on 6.12): leave it to user space', `${POWERPC} (kvm_vm_ioctl_enable_cap), arch/powerpc/kvm/book3s_hv.c (kvmppc_hcall_impl_hv)`),
  row('KVM_ENABLE_CAP', 'KVM_CAP_IRQ_XICS', 'EINVAL', 'the vCPU cannot join this XICS: put it in PAPR mode first (vcpu.enableCap(Cap.PPC_PAPR)), pass an XICS device of the same VM, and a server number no other vCPU uses', 'arch/powerpc/kvm/powerpc.c (kvm_vcpu_ioctl_enable_cap), arch/powerpc/kvm/book3s_xics.c (kvmppc_xics_connect_vcpu)'),
  row('KVM_CREATE_DEVICE', '', 'EFAULT', OUR_STRUCT_BUG, `${KVM_MAIN} (kvm_ioctl_create_device)`),
  row('KVM_CREATE_DEVICE', '', 'ENODEV', 'this kernel has no such device type (the type is unknown or its driver is not built, e.g. CONFIG_KVM_VFIO=n)', `${KVM_MAIN} (kvm_ioctl_create_device)`),
  row('KVM_CREATE_DEVICE', '', 'EBUSY', 'this VM already has a device of this type and the type allows only one', `${KVM_MAIN} (kvm_ioctl_create_device)`),
  row('KVM_CREATE_DEVICE', 'kvm-vfio', 'EBUSY', 'this VM already has its KVM-VFIO device: the kernel allows one per VM (vm.createVfioDevice() returns the existing one)', `${KVM_VFIO} (kvm_vfio_create)`),
  row('KVM_CREATE_DEVICE', '', 'EEXIST', 'this VM already has a device of this type (interrupt controllers answer EEXIST)', `${KVM_MAIN} (kvm_ioctl_create_device)`),
  row('KVM_CREATE_DEVICE', '', 'ENOMEM', 'the kernel could not allocate the device', `${KVM_MAIN} (kvm_ioctl_create_device)`),
  row(SET, '', 'EPERM', 'this device has no set_attr: none of its attributes can be set', `${KVM_MAIN} (kvm_device_ioctl_attr)`),
  row(GET, '', 'EPERM', 'this device has no get_attr: its attributes cannot be read back', `${KVM_MAIN} (kvm_device_ioctl_attr)`),
  row(GET, 'kvm-vfio', 'EPERM', 'the KVM-VFIO device has no get_attr: its attributes are write-only (track links yourself; this library does)', `${KVM_VFIO} (kvm_vfio_ops has no .get_attr)`),
  row(HAS, '', 'EPERM', 'this device has no has_attr: attributes cannot be probed', `${KVM_MAIN} (kvm_device_ioctl_attr)`),
  row(SET, '', 'EFAULT', OUR_STRUCT_BUG, `${KVM_MAIN} (kvm_device_ioctl_attr)`),
  row(GET, '', 'EFAULT', OUR_STRUCT_BUG, `${KVM_MAIN} (kvm_device_ioctl_attr)`),
  row(HAS, '', 'EFAULT', OUR_STRUCT_BUG, `${KVM_MAIN} (kvm_device_ioctl_attr)`),
  row(SET, '', 'ENXIO', 'this kernel/device lacks that attribute group or attribute', `the device's set_attr, e.g. ${KVM_VFIO} (kvm_vfio_set_attr)`),
  row(GET, '', 'ENXIO', 'this kernel/device lacks that attribute group or attribute', `the device's get_attr via ${KVM_MAIN} (kvm_device_ioctl_attr)`),
  row(HAS, '', 'ENXIO', 'this kernel/device lacks that attribute group or attribute', `the device's has_attr, e.g. ${KVM_VFIO} (kvm_vfio_has_attr)`),
  row('*', '', 'ENOTTY', 'this fd does not answer this request: the object is not what the call expects, or the kernel lacks the feature', VFS_IOCTL),
];

const kvmVfioRows: HintRow[] = [
  row(SET, GROUP_ADD, 'EFAULT', OUR_STRUCT_BUG, `${KVM_VFIO} (kvm_vfio_set_file: get_user)`),
  row(SET, GROUP_ADD, 'EBADF', 'the fd to add is not open', `${KVM_VFIO} (kvm_vfio_file_add)`),
  row(SET, GROUP_ADD, 'EINVAL', 'the fd is not a VFIO group (or, from 6.6, a VFIO device cdev), or the vfio module is not loaded', `${KVM_VFIO} (kvm_vfio_file_add: vfio_file_is_valid)`),
  row(SET, GROUP_ADD, 'EEXIST', 'this group is already added to this KVM-VFIO device (a dup() of the same open file counts as the same group)', `${KVM_VFIO} (kvm_vfio_file_add)`),
  row(SET, GROUP_ADD, 'ENOMEM', 'the kernel could not allocate the group entry', `${KVM_VFIO} (kvm_vfio_file_add)`),
  row(SET, GROUP_DEL, 'EFAULT', OUR_STRUCT_BUG, `${KVM_VFIO} (kvm_vfio_set_file: get_user)`),
  row(SET, GROUP_DEL, 'EBADF', 'the fd to remove is not open', `${KVM_VFIO} (kvm_vfio_file_del)`),
  row(SET, GROUP_DEL, 'ENOENT', 'this group was never added to this KVM-VFIO device, or it was already removed', `${KVM_VFIO} (kvm_vfio_file_del)`),
  row(SET, SET_SPAPR_TCE, 'EFAULT', `${OUR_STRUCT_BUG}; or, with a kernel WARN in dmesg, the group has no iommu_table_group and this platform cannot link it`, `${KVM_VFIO} (kvm_vfio_file_set_spapr_tce: copy_from_user), ${BOOK3S_VIO} (kvm_spapr_tce_attach_iommu_group)`),
  row(SET, SET_SPAPR_TCE, 'EBADF', 'the group fd or the table fd is not open (the group fd is checked first)', `${KVM_VFIO} (kvm_vfio_file_set_spapr_tce), ${BOOK3S_VIO} (kvm_spapr_tce_attach_iommu_group)`),
  row(SET, SET_SPAPR_TCE, 'ENOENT', 'the group fd was never added to this KVM-VFIO device (call addGroup first)', `${KVM_VFIO} (kvm_vfio_file_set_spapr_tce)`),
  row(SET, SET_SPAPR_TCE, 'EINVAL', 'no compatible DMA window, or the table fd is not a TCE table of this VM: the group\'s container needs a window with IOMMU page size <= the table\'s page size, the same bus offset and at least the table\'s size (v2: createWindow; v1: enable, then the first map/unmap creates the default window)', `${BOOK3S_VIO} (kvm_spapr_tce_attach_iommu_group)`),
  row(SET, SET_SPAPR_TCE_OWN_TABLE, 'EINVAL', 'no compatible DMA window (the table is this VM\'s, so that is the cause): the group\'s container needs a window with IOMMU page size <= the table\'s page size, the same bus offset and at least the table\'s size (v2: createWindow; v1: enable, then the first map/unmap creates the default window)', `${BOOK3S_VIO} (kvm_spapr_tce_attach_iommu_group: the window checks)`),
  row(SET, SET_SPAPR_TCE, 'EIO', 'the added file has no IOMMU group (a VFIO device cdev fd): link group fds only', `${KVM_VFIO} (kvm_vfio_file_set_spapr_tce: vfio_file_iommu_group)`),
  row(SET, SET_SPAPR_TCE, 'ENOTTY', 'an existing link between this table and group was being torn down at the same moment: retry', `${BOOK3S_VIO} (kvm_spapr_tce_attach_iommu_group)`),
  row(SET, SET_SPAPR_TCE, 'ENOMEM', 'the kernel could not allocate the link', `${BOOK3S_VIO} (kvm_spapr_tce_attach_iommu_group)`),
  row(SET, SET_SPAPR_TCE, 'ENXIO', 'this kernel\'s KVM-VFIO device has no SET_SPAPR_TCE attribute (built without CONFIG_SPAPR_TCE_IOMMU, e.g. not POWER): no in-kernel TCE acceleration, handle TCE hypercalls in user space', `${KVM_VFIO} (kvm_vfio_set_file)`),
];

const tceRows: HintRow[] = [
  ...[TCE_64, TCE_32].flatMap((request) => [
    row(request, '', 'EFAULT', OUR_STRUCT_BUG, `${POWERPC} (kvm_arch_vm_ioctl: copy_from_user)`),
    row(request, '', 'ENOMEM', 'locked-memory accounting failed: the table counts against RLIMIT_MEMLOCK (raise it with ulimit -l or give CAP_IPC_LOCK), or the kernel is out of memory', `${BOOK3S_VIO} (kvm_vm_ioctl_create_spapr_tce: account_locked_vm)`),
    row(request, '', 'EBUSY', 'this VM already has a TCE table for this LIOBN (close it first or use another LIOBN)', `${BOOK3S_VIO} (kvm_vm_ioctl_create_spapr_tce)`),
    row(request, '', 'ENOTTY', 'this kernel has no in-kernel TCE tables (not POWER, or built without CONFIG_SPAPR_TCE_IOMMU)', POWERPC),
  ]),
  row(TCE_64, '', 'EINVAL', 'bad table parameters: size 0, a page shift outside 12..34, flags not 0, or offset + size overflowing the bus address space', `${BOOK3S_VIO} (kvm_vm_ioctl_create_spapr_tce), ${POWERPC}`),
  row(TCE_32, '', 'EINVAL', 'bad window: the legacy call makes 4 KiB IOMMU pages, so the window must be at least 4096 bytes', `${BOOK3S_VIO} (kvm_vm_ioctl_create_spapr_tce), ${POWERPC}`),
  row('mmap', 'spapr tce table', 'ENOMEM', 'no address space left for the table mapping', 'mm/mmap.c'),
  row('mmap', 'spapr tce table', 'EINVAL', 'the table mapping was refused (length or offset)', `${BOOK3S_VIO} (kvm_spapr_tce_mmap)`),
  row('mmap', 'guest memory', 'ENOMEM', 'the kernel could not reserve that much address space (overcommit policy or RLIMIT_AS)', 'mm/mmap.c'),
  row('mmap', 'guest memory', 'EAGAIN', 'locking the memory exceeded RLIMIT_MEMLOCK', 'mm/mmap.c'),
];

const vfioRows: HintRow[] = [
  row('VFIO_GET_API_VERSION', '', 'ENOTTY', 'this file is not a VFIO container (/dev/vfio/vfio)', VFS_IOCTL),
  row('VFIO_CHECK_EXTENSION', '', 'ENOTTY', 'this file is not a VFIO container', VFS_IOCTL),
  row('VFIO_SET_IOMMU', '', 'EINVAL', 'no group is attached to this container yet (group.setContainer first), or its IOMMU type is already set', VFIO_CONTAINER),
  row('VFIO_SET_IOMMU', '', 'ENODEV', 'no IOMMU driver of this type is available for this container\'s groups (checkExtension first; on POWER load vfio_iommu_spapr_tce)', VFIO_CONTAINER),
  row('VFIO_SET_IOMMU', '', 'EPERM', 'the IOMMU driver refused the container\'s groups: on POWER the platform\'s ownership ops do not match this type (v1 vs v2), or the groups are incompatible', SPAPR_TCE),
  row('VFIO_SET_IOMMU', '', 'EBUSY', 'a group of this container is already attached to another IOMMU', SPAPR_TCE),
  row('VFIO_GROUP_GET_STATUS', '', 'ENOTTY', 'this file is not a VFIO group', VFS_IOCTL),
  row('VFIO_GROUP_SET_CONTAINER', '', 'EPERM', 'the group is not viable: a device in it is bound to a driver other than vfio-pci (bind every device of the group to vfio-pci or unbind it)', VFIO_GROUP),
  row('VFIO_GROUP_SET_CONTAINER', '', 'EINVAL', 'this group already has a container (unsetContainer first)', `${VFIO_GROUP} (vfio_group_ioctl_set_container)`),
  row('VFIO_GROUP_SET_CONTAINER', '', 'EBADF', 'the container fd is not open', `${VFIO_GROUP} (vfio_group_ioctl_set_container)`),
  row('VFIO_GROUP_SET_CONTAINER', '', 'EBADFD', 'the fd is neither a VFIO container nor an iommufd', `${VFIO_GROUP} (vfio_group_ioctl_set_container)`),
  row('VFIO_GROUP_SET_CONTAINER', '', 'ENODEV', 'the group is gone (its devices were removed)', `${VFIO_GROUP} (vfio_group_ioctl_set_container)`),
  row('VFIO_GROUP_SET_CONTAINER', '', 'EBUSY', 'the group is already attached to an IOMMU elsewhere', SPAPR_TCE),
  row('VFIO_GROUP_UNSET_CONTAINER', '', 'EINVAL', 'this group has no container', `${VFIO_GROUP} (vfio_group_ioctl_unset_container)`),
  row('VFIO_GROUP_UNSET_CONTAINER', '', 'EBUSY', 'the group still has users (open device fds): close them first', `${VFIO_GROUP} (vfio_group_ioctl_unset_container)`),
  row('VFIO_GROUP_GET_DEVICE_FD', '', 'ENODEV', 'no device with this name in this group (use the full PCI address, e.g. 0001:00:00.0)', `${VFIO_GROUP} (vfio_group_ioctl_get_device_fd)`),
  row('VFIO_GROUP_GET_DEVICE_FD', '', 'EINVAL', 'the group has no container with an IOMMU set yet (setContainer and setIommu first)', `${VFIO_GROUP} (vfio_group_ioctl_get_device_fd)`),
  row('VFIO_GROUP_GET_DEVICE_FD', '', 'EBUSY', 'this device is already open', 'drivers/vfio/vfio_main.c (vfio_df_open)'),
  row('VFIO_DEVICE_GET_IRQ_INFO', '', 'EINVAL', 'no interrupt index of this number on this device (device.info().numIrqs counts them)', `${VFIO_PCI_CORE} (vfio_pci_ioctl_get_irq_info)`),
  row('VFIO_DEVICE_SET_IRQS', '', 'EINVAL', 'the vectors asked for lie outside what irqInfo(index) reports (INTx has one; MSI and MSI-X as many as the capability allows), the action is not one this index has (mask and unmask are for INTx), one of the fds is not an eventfd, or another interrupt type is enabled on this device: disable it first (one type at a time)', `drivers/vfio/vfio_main.c (vfio_set_irqs_validate_and_prepare), ${VFIO_PCI_INTRS} (vfio_pci_set_irqs_ioctl)`),
  row('VFIO_DEVICE_SET_IRQS', '', 'ENODEV', 'the function has no INTx line on this host (no interrupt pin, or the platform gave it no irq)', `${VFIO_PCI_INTRS} (vfio_intx_enable)`),
  row('VFIO_DEVICE_SET_IRQS', '', 'EBADF', 'an eventfd is not open', `${VFIO_PCI_INTRS} (vfio_intx_set_signal, vfio_msi_set_vector_signal)`),
  row('VFIO_IOMMU_SPAPR_TCE_GET_INFO', '', 'ENXIO', 'no group is attached to this container', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_SPAPR_TCE_GET_INFO', '', 'EINVAL', OUR_STRUCT_BUG, `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', '', 'EINVAL', 'the region is not page-aligned, wraps, or flags are set', `${SPAPR_TCE} (tce_iommu_register_pages)`),
  row('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', '', 'EBUSY', 'this memory (or an overlapping range) is already registered', `${SPAPR_TCE} (tce_iommu_register_pages), arch/powerpc/mm/book3s64/iommu_api.c`),
  row('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', '', 'ENOMEM', 'pinning the memory failed: registered memory counts against RLIMIT_MEMLOCK (raise it or give CAP_IPC_LOCK)', 'arch/powerpc/mm/book3s64/iommu_api.c (mm_iommu_do_alloc)'),
  row('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', '', 'ENOTTY', 'memory registration exists only on SPAPR_TCE_v2 containers', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', '', 'ENOENT', 'this memory is not registered with this container', `${SPAPR_TCE} (tce_iommu_unregister_pages)`),
  row('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', '', 'EBUSY', 'the memory is still mapped by a DMA window (unmap or remove the window first)', 'arch/powerpc/mm/book3s64/iommu_api.c (mm_iommu_put)'),
  row('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', '', 'EPERM', 'the container has no mm (it was not used by this process)', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', '', 'ENOTTY', 'memory registration exists only on SPAPR_TCE_v2 containers', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_SPAPR_TCE_CREATE', '', 'ENXIO', 'no group is attached to this container', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_SPAPR_TCE_CREATE', '', 'EINVAL', 'the page shift is not one of spaprInfo().ddw.pageShifts, the window size is zero or too large, or the levels are not supported', `${SPAPR_TCE} (tce_iommu_create_window)`),
  row('VFIO_IOMMU_SPAPR_TCE_CREATE', '', 'ENODEV', `the platform gave this group no new DMA window. ${FAILED_DDW}`, `${PSERIES_IOMMU} (spapr_tce_create_table), ${SPAPR_TCE} (tce_iommu_create_window)`),
  row('VFIO_IOMMU_SPAPR_TCE_CREATE', '', 'ENOSPC', 'no free DMA window slot (spaprInfo().ddw.maxDynamicWindows are in use, counting the default window): remove one first', `${SPAPR_TCE} (tce_iommu_create_window)`),
  row('VFIO_IOMMU_SPAPR_TCE_CREATE', '', 'EPERM', 'this platform cannot create DMA windows', `${SPAPR_TCE} (tce_iommu_create_window)`),
  row('VFIO_IOMMU_SPAPR_TCE_CREATE', '', 'ENOTTY', 'DMA windows are created only on SPAPR_TCE_v2 containers', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_SPAPR_TCE_REMOVE', '', 'EINVAL', 'no DMA window starts at this bus address', `${SPAPR_TCE} (tce_iommu_remove_window)`),
  row('VFIO_IOMMU_SPAPR_TCE_REMOVE', '', 'ENOTTY', 'DMA windows are removed only on SPAPR_TCE_v2 containers', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_ENABLE', '', 'EBUSY', 'this container is already enabled', `${SPAPR_TCE} (tce_iommu_enable)`),
  row('VFIO_IOMMU_ENABLE', '', 'ENODEV', 'no group is attached to this container', `${SPAPR_TCE} (tce_iommu_enable)`),
  row('VFIO_IOMMU_ENABLE', '', 'EPERM', 'the group has no 32-bit DMA window to enable', `${SPAPR_TCE} (tce_iommu_enable)`),
  row('VFIO_IOMMU_ENABLE', '', 'ENOMEM', 'locked-memory accounting for the DMA window failed (RLIMIT_MEMLOCK)', `${SPAPR_TCE} (tce_iommu_enable)`),
  row('VFIO_IOMMU_MAP_DMA', '', 'EINVAL', 'the IOVA or size is not aligned to the IOMMU page size, or falls outside the DMA window', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_MAP_DMA', '', 'EPERM', 'the container is not enabled (enable() first)', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_MAP_DMA', '', 'EBUSY', 'this IOVA is already mapped', `${SPAPR_TCE} (tce_iommu_build)`),
  row('VFIO_IOMMU_MAP_DMA', '', 'ENODEV', `the container had no window yet and the platform could not create the default one (the first map or unmap creates it). ${FAILED_DDW}`, `${SPAPR_TCE} (tce_iommu_create_default_window), ${PSERIES_IOMMU} (spapr_tce_create_table)`),
  row('VFIO_IOMMU_MAP_DMA', '', 'ENXIO', 'no DMA window covers this IOVA', `${SPAPR_TCE} (tce_iommu_find_table)`),
  row('VFIO_IOMMU_UNMAP_DMA', '', 'EINVAL', 'the IOVA or size is not aligned to the IOMMU page size, or falls outside the DMA window', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_UNMAP_DMA', '', 'EPERM', 'the container is not enabled (enable() first)', `${SPAPR_TCE} (tce_iommu_ioctl)`),
  row('VFIO_IOMMU_UNMAP_DMA', '', 'ENODEV', `the container had no window yet and the platform could not create the default one (the first map or unmap creates it). ${FAILED_DDW}`, `${SPAPR_TCE} (tce_iommu_create_default_window), ${PSERIES_IOMMU} (spapr_tce_create_table)`),
  row('VFIO_IOMMU_UNMAP_DMA', '', 'ENXIO', 'no DMA window covers this IOVA', `${SPAPR_TCE} (tce_iommu_find_table)`),
  row('VFIO_EEH_PE_OP', '', 'EINVAL', 'unknown EEH operation or the PE refused it', 'arch/powerpc/kernel/eeh.c (vfio_spapr_iommu_eeh_ioctl)'),
  row('VFIO_EEH_PE_OP', '', 'ENODEV', 'this container\'s group has no EEH PE (EEH is not available on this platform)', 'drivers/vfio/vfio_spapr_eeh.c'),
  row('VFIO_EEH_PE_OP', '', 'ENOTTY', 'EEH is not available on this container (checkExtension(IommuType.EEH))', SPAPR_TCE),
];

const vcpuRows: HintRow[] = [
  row('KVM_RUN', '', 'EINVAL', 'the vCPU cannot run in its current state: on POWER HV it must be in PAPR mode (vcpu.enableCap(Cap.PPC_PAPR)) and have a sane register state', 'arch/powerpc/kvm/book3s_hv.c (kvmppc_vcpu_run_hv)'),
  row('KVM_RUN', '', 'EINTR', 'the run was interrupted by a signal before the guest entered (the loop retries)', 'arch/powerpc/kvm/book3s_hv.c'),
  row('KVM_SET_USER_MEMORY_REGION', '', 'EINVAL', 'the slot, guest address or size is not aligned, the slot number is too large, or flags are unknown', `${KVM_MAIN} (__kvm_set_memory_region)`),
  row('KVM_SET_USER_MEMORY_REGION', '', 'EEXIST', 'the region overlaps another slot', `${KVM_MAIN} (__kvm_set_memory_region)`),
  row('KVM_GET_ONE_REG', '', 'EINVAL', 'this register id is not known to this kernel for this vCPU', 'arch/powerpc/kvm/powerpc.c (kvm_vcpu_ioctl_get_one_reg)'),
  row('KVM_SET_ONE_REG', '', 'EINVAL', 'this register id is not known to this kernel for this vCPU, or the value is not allowed', 'arch/powerpc/kvm/powerpc.c (kvm_vcpu_ioctl_set_one_reg)'),
];

const BOOK3S_HV = 'arch/powerpc/kvm/book3s_hv.c';
const EVENTFD = 'virt/kvm/eventfd.c';
const vmmRows: HintRow[] = [
  row('KVM_PPC_CONFIGURE_V3_MMU', '', 'EINVAL', 'the kernel refused this MMU setup: unknown flags, the process table\'s GR bit (1 << 63) not matching the radix flag, a table size field above 24, radix on a host that is not radix, or hash on a nested hypervisor (a kvm-hv running in a pseries partition runs only radix guests)', `${BOOK3S_HV} (kvmhv_configure_mmu)`),
  row('KVM_PPC_CONFIGURE_V3_MMU', '', 'ENODEV', 'the host CPU is older than POWER9 (ISA v3.0): there is no process-table MMU to configure', `${BOOK3S_HV} (kvmhv_configure_mmu)`),
  row('KVM_PPC_CONFIGURE_V3_MMU', '', 'EFAULT', OUR_STRUCT_BUG, `${POWERPC} (kvm_arch_vm_ioctl: copy_from_user)`),
  row('KVM_PPC_CONFIGURE_V3_MMU', '', 'ENOTTY', 'this VM\'s KVM flavour has no configure_mmu (kvm-pr), or this is not POWER', `${POWERPC} (kvm_arch_vm_ioctl)`),
  row('KVM_PPC_GET_RMMU_INFO', '', 'EINVAL', 'the host MMU is not radix (a POWER8 host, or a POWER9 host booted with disable_radix): radix guests cannot run here', `${BOOK3S_HV} (kvmhv_get_rmmu_info)`),
  row('KVM_PPC_GET_RMMU_INFO', '', 'ENOTTY', 'this VM\'s KVM flavour has no radix (kvm-pr), or this is not POWER', `${POWERPC} (kvm_arch_vm_ioctl)`),
  row('KVM_PPC_RTAS_DEFINE_TOKEN', '', 'ENOENT', 'the kernel implements no RTAS call of this name: in-kernel RTAS covers the XICS calls only (ibm,set-xive, ibm,get-xive, ibm,int-off, ibm,int-on); answer the others in user space', 'arch/powerpc/kvm/book3s_rtas.c (rtas_token_define)'),
  row('KVM_PPC_RTAS_DEFINE_TOKEN', '', 'EEXIST', 'this token number is already defined for another RTAS call of this VM', 'arch/powerpc/kvm/book3s_rtas.c (rtas_token_define)'),
  row('KVM_PPC_RTAS_DEFINE_TOKEN', '', 'EFAULT', OUR_STRUCT_BUG, `${POWERPC} (kvm_arch_vm_ioctl: copy_from_user)`),
  row('KVM_PPC_ALLOCATE_HTAB', '', 'EOPNOTSUPP', 'this kvm-hv runs radix guests only (it is itself a guest: a nested hypervisor cannot give its guests a hashed page table); boot the guest radix and answer H_REGISTER_PROC_TBL with vm.configureRadixMmu()', `${BOOK3S_HV} (kvm_arch_vm_ioctl_hv: kvmhv_on_pseries)`),
  row('KVM_PPC_ALLOCATE_HTAB', '', 'EINVAL', 'no hashed page table for this VM: the host or VM runs radix only (a nested kvm-hv runs radix guests only), or the order is outside 18..46', `${BOOK3S_HV} (kvm_vm_ioctl_allocate_htab), arch/powerpc/kvm/book3s_64_mmu_hv.c (kvmppc_alloc_reset_hpt)`),
  row('KVM_PPC_ALLOCATE_HTAB', '', 'EBUSY', 'vCPUs of this VM are running: the hashed page table cannot be replaced now', 'arch/powerpc/kvm/book3s_64_mmu_hv.c (kvmppc_alloc_reset_hpt)'),
  row('KVM_IRQ_LINE', '', 'ENXIO', 'this VM has no in-kernel interrupt controller: create the XICS device (or the XIVE device where vm.checkExtension(Cap.PPC_IRQ_XIVE) is 1, as on bare-metal POWER9) and connect each vCPU to it first, or raise the vCPU\'s line with vcpu.setExternalInterrupt() from a controller emulated in user space', `${POWERPC} (kvm_vm_ioctl_irq_line)`),
  row('KVM_IRQ_LINE', '', 'ENOTTY', 'this kernel was built without in-kernel interrupt controllers (CONFIG_KVM_XICS / CONFIG_KVM_XIVE)', KVM_MAIN),
  row('KVM_IRQFD', '', 'EINVAL', 'the fd is not an eventfd, the flags are unknown, the resample fd is not an eventfd, or (deassign) no such irqfd', `${EVENTFD} (kvm_irqfd, kvm_irqfd_assign)`),
  row('KVM_IRQFD', '', 'EAGAIN', 'this VM has no in-kernel interrupt controller yet: create the XICS device (DeviceType.XICS, which every kvm-hv offers; DeviceType.XIVE only where vm.checkExtension(Cap.PPC_IRQ_XIVE) is 1, as on bare-metal POWER9, not in a partition) and connect each vCPU to it first; without one, watch the eventfd and raise the line of a user-space controller with vcpu.setExternalInterrupt()', `${EVENTFD} (kvm_irqfd_assign), ${POWERPC} (kvm_arch_intc_initialized)`),
  row('KVM_IRQFD', '', 'EBUSY', 'this eventfd is already an irqfd of this VM', `${EVENTFD} (kvm_irqfd_assign)`),
  row('KVM_IRQFD', '', 'EBADF', 'the eventfd (or the resample eventfd) is not open', `${EVENTFD} (kvm_irqfd_assign)`),
  row('KVM_IRQFD', '', 'ENOTTY', 'this kernel has no irqfd for this VM (built without an in-kernel interrupt controller, CONFIG_HAVE_KVM_IRQCHIP)', KVM_MAIN),
  row('KVM_IOEVENTFD', '', 'EINVAL', 'a length other than 0, 1, 2, 4 or 8, an address range that wraps, a datamatch without a length, unknown flags, or port I/O (PIO) on a machine without it', `${EVENTFD} (kvm_ioeventfd, kvm_assign_ioeventfd_idx)`),
  row('KVM_IOEVENTFD', '', 'EEXIST', 'an ioeventfd with the same address, length and datamatch already exists on this VM', `${EVENTFD} (ioeventfd_check_collision)`),
  row('KVM_IOEVENTFD', '', 'ENOENT', 'no ioeventfd with this address, length, datamatch and eventfd to remove', `${EVENTFD} (kvm_deassign_ioeventfd_idx)`),
  row('KVM_IOEVENTFD', '', 'ENOSPC', 'the bus has no room for another device (NR_IOBUS_DEVS)', `${KVM_MAIN} (kvm_io_bus_register_dev)`),
  row('KVM_IOEVENTFD', '', 'EBADF', 'the eventfd is not open', `${EVENTFD} (kvm_assign_ioeventfd_idx)`),
  row('KVM_INTERRUPT', '', 'ENXIO', 'this VM has an in-kernel interrupt controller, which owns the vCPU\'s external interrupt line (x86: use KVM_IRQ_LINE or an irqfd)', 'arch/x86/kvm/x86.c (kvm_vcpu_ioctl_interrupt)'),
  row('KVM_INTERRUPT', '', 'EINVAL', 'the irq value is not one this architecture knows (POWER: KVM_INTERRUPT_SET, _UNSET, _SET_LEVEL)', `${POWERPC} (kvm_vcpu_ioctl_interrupt)`),
];

const genericRows: HintRow[] = [
  row('*', '', 'EIO', 'KVM refuses VM, vCPU and device fds used from a process other than the one that created the VM (after fork() or fd passing), and every call on a VM the kernel marked dead (check dmesg)', `${KVM_MAIN} (kvm_vm_ioctl, kvm_device_ioctl: kvm->mm != current->mm)`),
  row('*', '', 'EBADF', 'the fd is not open', 'fs/ioctl.c (ksys_ioctl)'),
  row('*', '', 'EMFILE', 'this process has too many open files (RLIMIT_NOFILE): close some or raise the limit', 'fs/file.c (alloc_fd)'),
  row('*', '', 'ENFILE', 'the system-wide open-file limit is reached', 'fs/file_table.c'),
  row('*', '', 'ENOMEM', 'the kernel could not allocate memory for this call (or a memory cgroup or locked-memory limit was hit)', 'mm/'),
  row('*', '', 'EACCES', 'permission denied', 'fs/namei.c'),
  row('*', '', 'EPERM', 'operation not permitted for this process', 'security/'),
  row('*', '', 'EFAULT', OUR_STRUCT_BUG, 'copy_from_user / copy_to_user'),
];

/** Every row of the errno contract, in one table. */
export const hintRows: readonly HintRow[] = [
  ...openRows, ...kvmRows, ...kvmVfioRows, ...tceRows, ...vfioRows, ...vcpuRows, ...vmmRows, ...genericRows,
];

// code -> request -> qualifier -> row. Nested maps keyed by the (internalized) strings the callers
// pass: a lookup builds no key string, so it hashes nothing new on the error path.
const byCode = new Map<string, Map<string, Map<string, HintRow>>>();
for (const hintRow of hintRows) {
  const byRequest = byCode.get(hintRow.code) ?? new Map<string, Map<string, HintRow>>();
  byCode.set(hintRow.code, byRequest);
  const byQualifier = byRequest.get(hintRow.request) ?? new Map<string, HintRow>();
  byRequest.set(hintRow.request, byQualifier);
  byQualifier.set(hintRow.qualifier, hintRow);
}

/**
 * The most specific row for this call and errno: each qualifier in order (e.g. the attribute
 * name, then the device kind), then the request alone, then any request; undefined if none.
 */
export function findHint(request: string, qualifiers: readonly string[], code: string): HintRow | undefined {
  checkString('request', request);
  if (!Array.isArray(qualifiers) || !qualifiers.every((qualifier) => typeof qualifier === 'string')) {
    throw invalidArgType('qualifiers', 'an array of strings', qualifiers);
  }
  if (typeof code !== 'string') throw invalidArgType('code', 'of type string', code);
  return lookupHint(request, qualifiers, code);
}

/** findHint without the argument checks, for the library's own error path. */
export function lookupHint(request: string, qualifiers: readonly string[], code: string): HintRow | undefined {
  const byRequest = byCode.get(code);
  if (byRequest === undefined) return undefined;
  const byQualifier = byRequest.get(request);
  if (byQualifier !== undefined) {
    for (const qualifier of qualifiers) {
      const found = byQualifier.get(qualifier);
      if (found) return found;
    }
    const found = byQualifier.get('');
    if (found) return found;
  }
  return byRequest.get('*')?.get('');
}
