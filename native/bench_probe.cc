// A cheap real ioctl (FIONREAD) with exactly the call shape of the KVM wrappers, so the binding's
// per-call cost can be measured on machines without /dev/kvm. It accepts only owned fds and
// only this one request: it is not a general ioctl entry point.
#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

Napi::Value ProbeFionread(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  int readable = 0;
  long result = Ioctl(fd, FIONREAD, &readable);
  return Result(info.Env(), result < 0 ? result : readable);
}

// The in-process floor: `count` FIONREAD ioctls inside one call; returns the last result.
Napi::Value ProbeFionreadLoop(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  uint32_t count = 0;
  if (!ReadUint32(info.Env(), info[1], &count)) return ThrowBadArgument(info, "probeFionreadLoop", 1);
  long result = 0;
  for (uint32_t i = 0; i < count; ++i) {
    int readable = 0;
    result = Ioctl(fd, FIONREAD, &readable);
  }
  return Result(info.Env(), result);
}

// The same floor for KVM_CHECK_EXTENSION, for the emulated POWER host's benchmark.
Napi::Value CheckExtensionLoop(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  uint32_t cap = 0;
  uint32_t count = 0;
  if (!ReadUint32(info.Env(), info[1], &cap)) return ThrowBadArgument(info, "checkExtensionLoop", 1);
  if (!ReadUint32(info.Env(), info[2], &count)) return ThrowBadArgument(info, "checkExtensionLoop", 2);
  long result = 0;
  for (uint32_t i = 0; i < count; ++i) result = IoctlValue(fd, KVM_CHECK_EXTENSION, cap);
  return Result(info.Env(), result);
}

}  // namespace

void RegisterBenchProbe(Napi::Env env, Napi::Object exports, AddonState* state) {
  SetFunction(env, exports, state, "probeFionread", ProbeFionread);
  SetFunction(env, exports, state, "probeFionreadLoop", ProbeFionreadLoop);
  SetFunction(env, exports, state, "checkExtensionLoop", CheckExtensionLoop);
}

}  // namespace kvs
