// The VM fd: creation and VM-wide ioctls.
#include "addon.h"
#include "mapping.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// createVm(systemFd, type) -> vm fd | -errno
napi_value CreateVm(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "createVm");
  int fd = call.OwnedFd(0);
  uint32_t type = 0;
  if (fd < 0 || !call.Uint32(1, &type)) return nullptr;
  return call.AdoptedFd(IoctlValue(fd, KVM_CREATE_VM, type));
}

// enableCap(fd, cap, arg0, arg1, arg2, arg3) -> 0 | -errno; on VM and vCPU fds.
napi_value EnableCap(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "enableCap");
  int fd = call.OwnedFd(0);
  kvm_enable_cap request{};
  if (fd < 0 || !call.Uint32(1, &request.cap)) return nullptr;
  for (size_t i = 0; i < 4; ++i) {
    uint64_t value = 0;
    if (!call.U64(2 + i, &value)) return nullptr;
    request.args[i] = value;
  }
  return call.Number(Ioctl(fd, KVM_ENABLE_CAP, &request));
}

// setUserMemoryRegion(vmFd, slot, flags, guestPhysAddr, mappingHandle) -> 0 | -errno: the whole
// mapping becomes guest memory at guestPhysAddr. The address and size come from the mapping.
napi_value SetUserMemoryRegion(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setUserMemoryRegion");
  int fd = call.OwnedFd(0);
  kvm_userspace_memory_region region{};
  if (fd < 0 || !call.Uint32(1, &region.slot) || !call.Uint32(2, &region.flags) || !call.U64(3, &region.guest_phys_addr)) {
    return nullptr;
  }
  MappingRef mapping = MappingArg(call, 4);
  if (!mapping) return nullptr;
  if (!mapping->mapped()) return call.BadArgument(4);
  region.memory_size = mapping->length();
  region.userspace_addr = mapping->AddressAt(0);
  return call.Number(Ioctl(fd, KVM_SET_USER_MEMORY_REGION, &region));
}

// deleteUserMemoryRegion(vmFd, slot) -> 0 | -errno (memory_size 0 deletes the slot).
napi_value DeleteUserMemoryRegion(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "deleteUserMemoryRegion");
  int fd = call.OwnedFd(0);
  kvm_userspace_memory_region region{};
  if (fd < 0 || !call.Uint32(1, &region.slot)) return nullptr;
  return call.Number(Ioctl(fd, KVM_SET_USER_MEMORY_REGION, &region));
}

const FunctionSpec kFunctions[] = {
    {"createVm", CreateVm},
    {"enableCap", EnableCap},
    {"setUserMemoryRegion", SetUserMemoryRegion},
    {"deleteUserMemoryRegion", DeleteUserMemoryRegion},
};

}  // namespace

void RegisterKvmVm(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
