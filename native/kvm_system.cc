// /dev/kvm: API version, capabilities (also asked on VM fds), vCPU mmap size.
#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

napi_value GetApiVersion(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "getApiVersion");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  return call.Number(IoctlValue(fd, KVM_GET_API_VERSION, 0));
}

// checkExtension(fd, cap): the same request on the system fd and on a VM fd.
napi_value CheckExtension(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "checkExtension");
  int fd = call.OwnedFd(0);
  uint32_t cap = 0;
  if (fd < 0 || !call.Uint32(1, &cap)) return nullptr;
  return call.Number(IoctlValue(fd, KVM_CHECK_EXTENSION, cap));
}

napi_value GetVcpuMmapSize(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "getVcpuMmapSize");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  return call.Number(IoctlValue(fd, KVM_GET_VCPU_MMAP_SIZE, 0));
}

const FunctionSpec kFunctions[] = {
    {"getApiVersion", GetApiVersion},
    {"checkExtension", CheckExtension},
    {"getVcpuMmapSize", GetVcpuMmapSize},
};

}  // namespace

void RegisterKvmSystem(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
