// A cheap real ioctl (FIONREAD) with exactly the call shape of the KVM wrappers, so the binding's
// per-call cost can be measured on machines without /dev/kvm, plus in-process floor loops. It
// accepts only owned fds and only these requests: it is not a general ioctl entry point.
#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

napi_value ProbeFionread(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "probeFionread");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  int readable = 0;
  long result = Ioctl(fd, FIONREAD, &readable);
  return call.Number(result < 0 ? result : readable);
}

// The in-process floor: `count` FIONREAD ioctls inside one call; returns the last result.
napi_value ProbeFionreadLoop(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "probeFionreadLoop");
  int fd = call.OwnedFd(0);
  uint32_t count = 0;
  if (fd < 0 || !call.Uint32(1, &count)) return nullptr;
  long result = 0;
  for (uint32_t i = 0; i < count; ++i) {
    int readable = 0;
    result = Ioctl(fd, FIONREAD, &readable);
  }
  return call.Number(result);
}

// The same floor for KVM_CHECK_EXTENSION, for benchmarks on the emulated POWER host.
napi_value CheckExtensionLoop(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "checkExtensionLoop");
  int fd = call.OwnedFd(0);
  uint32_t cap = 0;
  uint32_t count = 0;
  if (fd < 0 || !call.Uint32(1, &cap) || !call.Uint32(2, &count)) return nullptr;
  long result = 0;
  for (uint32_t i = 0; i < count; ++i) result = IoctlValue(fd, KVM_CHECK_EXTENSION, cap);
  return call.Number(result);
}

const FunctionSpec kFunctions[] = {
    {"probeFionread", ProbeFionread},
    {"probeFionreadLoop", ProbeFionreadLoop},
    {"checkExtensionLoop", CheckExtensionLoop},
};

}  // namespace

void RegisterBenchProbe(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
