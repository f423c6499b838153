// The VM fd: creation and VM-wide ioctls.
#include "addon.h"
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

const FunctionSpec kFunctions[] = {
    {"createVm", CreateVm},
    {"enableCap", EnableCap},
};

}  // namespace

void RegisterKvmVm(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
