// /dev/kvm: API version, capabilities (also asked on VM fds), vCPU mmap size.
#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

Napi::Value GetApiVersion(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  return Result(info.Env(), IoctlValue(fd, KVM_GET_API_VERSION, 0));
}

// checkExtension(fd, cap): the same request on the system fd and on a VM fd.
Napi::Value CheckExtension(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  uint32_t cap = 0;
  if (!ReadUint32(info.Env(), info[1], &cap)) return ThrowBadArgument(info, "checkExtension", 1);
  return Result(info.Env(), IoctlValue(fd, KVM_CHECK_EXTENSION, cap));
}

Napi::Value GetVcpuMmapSize(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  return Result(info.Env(), IoctlValue(fd, KVM_GET_VCPU_MMAP_SIZE, 0));
}

}  // namespace

void RegisterKvmSystem(Napi::Env env, Napi::Object exports, AddonState* state) {
  SetFunction(env, exports, state, "getApiVersion", GetApiVersion);
  SetFunction(env, exports, state, "checkExtension", CheckExtension);
  SetFunction(env, exports, state, "getVcpuMmapSize", GetVcpuMmapSize);
}

}  // namespace kvs
