// kvm-vfio-spapr: KVM and VFIO for Node.js on POWER.
export { Cap, DeviceType, IommuType, KVM_API_VERSION, KvmVfioAttr, VmType } from './constants.js';
export { KvmDevice, type AttrPayload, type AttrValue } from './device.js';
export { KvmVfioError, errnoName, type KvmVfioErrorFields } from './errors.js';
export { FdObject, resourceStats } from './handle.js';
export { hintRows, findHint, type HintRow } from './hints.js';
export { Kvm, capabilityName, type CreateVmOptions } from './kvm.js';
export { addonCandidates, ADDON_OVERRIDE_ENV } from './native.js';
export { requestNumbers, headerConstants } from './tables.js';
export { Vm, type EnableCapArgs } from './vm.js';
