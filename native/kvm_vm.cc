// The VM fd: creation and VM-wide ioctls.
#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// createVm(systemFd, type) -> vm fd | -errno
Napi::Value CreateVm(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  uint32_t type = 0;
  if (!ReadUint32(info.Env(), info[1], &type)) return ThrowBadArgument(info, "createVm", 1);
  return AdoptResult(info, IoctlValue(fd, KVM_CREATE_VM, type));
}

// enableCap(fd, cap, arg0, arg1, arg2, arg3) -> 0 | -errno; used on VM and vCPU fds.
Napi::Value EnableCap(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  kvm_enable_cap request{};
  if (!ReadUint32(info.Env(), info[1], &request.cap)) return ThrowBadArgument(info, "enableCap", 1);
  for (size_t i = 0; i < 4; ++i) {
    uint64_t value = 0;
    if (!ReadU64(info.Env(), info[2 + i], &value)) return ThrowBadArgument(info, "enableCap", 2 + i);
    request.args[i] = value;
  }
  return Result(info.Env(), Ioctl(fd, KVM_ENABLE_CAP, &request));
}

}  // namespace

void RegisterKvmVm(Napi::Env env, Napi::Object exports, AddonState* state) {
  SetFunction(env, exports, state, "createVm", CreateVm);
  SetFunction(env, exports, state, "enableCap", EnableCap);
}

}  // namespace kvs
