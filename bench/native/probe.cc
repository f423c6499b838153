// The benchmarks' own addon (bench/binding.gyp; never part of the package). It links only the
// library's argument readers, syscall wrappers and fd table, and keeps a table of its own: an fd
// the library owns reaches these functions after shareFd(fd). Two kinds of functions, none of them
// a general ioctl entry point (they accept only shared fds and only the requests named here):
//  - twins: the argument reads and the struct building of a KVM wrapper, exactly as in
//    native/kvm_system.cc / native/kvm_device.cc, but issuing the cheap FIONREAD instead of the KVM request, so
//    the library's per-call cost can be measured on machines without /dev/kvm (npm run bench on
//    x86 swaps them in for the real functions);
//  - floors: the same ioctl `count` times inside one call, the in-process physical limit.
#include <vector>

#include "../../native/addon.h"
#include "../../native/syscall.h"
#include "../../native/uapi.h"

namespace kvs {

std::vector<uint64_t> TakeSyscallTrace();

// AddonState's member initializer asks for one; the probe runs no vCPUs.
void* NewRunnerRegistry() { return nullptr; }

namespace {

// shareFd(fd): the library owns `fd` (lib/ checked); from now on this addon's functions take it.
napi_value ShareFd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "shareFd");
  int32_t fd = -1;
  if (!call.Int32(0, &fd)) return nullptr;
  call.state()->fds.Adopt(fd);
  return call.Undefined();
}

// This addon's syscall trace (its own copy of syscall.cc) is exported through the library's
// callbacks (native_call.cc): bench/probe.mjs joins it to the library's.

// unshareFd(fd): before the library closes it.
napi_value UnshareFd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "unshareFd");
  int32_t fd = -1;
  if (!call.Int32(0, &fd)) return nullptr;
  call.state()->fds.Release(fd);
  return call.Undefined();
}

// FIONREAD into the start of `buffer` (it writes an int): the twins' stand-in for a KVM ioctl.
long Fionread(int fd, void* buffer) { return Ioctl(fd, FIONREAD, buffer); }

// What the real wrappers return on success (0 or a value), made from FIONREAD's result.
napi_value TwinResult(NativeCall& call, long result) { return call.Number(result < 0 ? result : 0); }

// (fd, group, attr) as kvm_device.cc's AttrCall reads them.
bool ReadAttrCall(NativeCall& call, int* fd, kvm_device_attr* attr) {
  *fd = call.OwnedFd(0);
  return *fd >= 0 && call.Uint32(1, &attr->group) && call.U64(2, &attr->attr);
}

napi_value ProbeFionread(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "probeFionread");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  int readable = 0;
  long result = Ioctl(fd, FIONREAD, &readable);
  return call.Number(result < 0 ? result : readable);
}

// Twin of checkExtension(fd, cap).
napi_value TwinCheckExtension(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "twinCheckExtension");
  int fd = call.OwnedFd(0);
  uint32_t cap = 0;
  if (fd < 0 || !call.Uint32(1, &cap)) return nullptr;
  int readable = 0;
  return TwinResult(call, Fionread(fd, &readable));
}

// Twin of hasDeviceAttr(fd, group, attr): a kvm_device_attr with addr 0.
napi_value TwinHasDeviceAttr(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "twinHasDeviceAttr");
  int fd = -1;
  kvm_device_attr attr{};
  if (!ReadAttrCall(call, &fd, &attr)) return nullptr;
  return TwinResult(call, Fionread(fd, &attr));
}

// Twin of setDeviceAttrU64(fd, group, attr, value): kvm_device_attr.addr points at the u64.
napi_value TwinSetDeviceAttrU64(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "twinSetDeviceAttrU64");
  int fd = -1;
  kvm_device_attr attr{};
  uint64_t payload = 0;
  if (!ReadAttrCall(call, &fd, &attr) || !call.U64(3, &payload)) return nullptr;
  attr.addr = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&payload));
  return TwinResult(call, Fionread(fd, &attr));
}

// Twin of setSpaprTce(kvmVfioFd, groupFd, tableFd): kvm_device_attr.addr points at a
// kvm_vfio_spapr_tce.
napi_value TwinSetSpaprTce(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "twinSetSpaprTce");
  int fd = call.OwnedFd(0);
  kvm_vfio_spapr_tce payload{};
  if (fd < 0 || !call.Int32(1, &payload.groupfd) || !call.Int32(2, &payload.tablefd)) return nullptr;
  kvm_device_attr attr{};
  attr.group = KVM_DEV_VFIO_GROUP;
  attr.attr = KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE;
  attr.addr = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&payload));
  return TwinResult(call, Fionread(fd, &attr));
}

// Floor: `count` FIONREAD ioctls in one call; returns the last result.
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

// Floor: `count` KVM_CHECK_EXTENSION(cap).
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

// Floor: `count` KVM_HAS_DEVICE_ATTR or KVM_SET_DEVICE_ATTR (addr 0) of (group, attr):
// deviceAttrLoop(fd, request, group, attr, count), request one of those two.
napi_value DeviceAttrLoop(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "deviceAttrLoop");
  int fd = call.OwnedFd(0);
  uint32_t request = 0;
  kvm_device_attr attr{};
  uint32_t count = 0;
  if (fd < 0 || !call.Uint32(1, &request) || !call.Uint32(2, &attr.group) || !call.U64(3, &attr.attr) ||
      !call.Uint32(4, &count)) {
    return nullptr;
  }
  if (request != static_cast<uint32_t>(KVM_HAS_DEVICE_ATTR) && request != static_cast<uint32_t>(KVM_SET_DEVICE_ATTR)) {
    return call.BadArgument(1);
  }
  long result = 0;
  for (uint32_t i = 0; i < count; ++i) result = Ioctl(fd, request, &attr);
  return call.Number(result);
}

// Floor: `count` KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, {groupFd, tableFd}).
napi_value SetSpaprTceLoop(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setSpaprTceLoop");
  int fd = call.OwnedFd(0);
  kvm_vfio_spapr_tce payload{};
  uint32_t count = 0;
  if (fd < 0 || !call.Int32(1, &payload.groupfd) || !call.Int32(2, &payload.tablefd) || !call.Uint32(3, &count)) {
    return nullptr;
  }
  kvm_device_attr attr{};
  attr.group = KVM_DEV_VFIO_GROUP;
  attr.attr = KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE;
  attr.addr = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&payload));
  long result = 0;
  for (uint32_t i = 0; i < count; ++i) result = Ioctl(fd, KVM_SET_DEVICE_ATTR, &attr);
  return call.Number(result);
}

const FunctionSpec kFunctions[] = {
    {"shareFd", ShareFd},
    {"unshareFd", UnshareFd},
    {"setSyscallTrace", SetSyscallTraceCallback},
    {"takeSyscallTrace", TakeSyscallTraceCallback},
    {"probeFionread", ProbeFionread},
    {"twinCheckExtension", TwinCheckExtension},
    {"twinHasDeviceAttr", TwinHasDeviceAttr},
    {"twinSetDeviceAttrU64", TwinSetDeviceAttrU64},
    {"twinSetSpaprTce", TwinSetSpaprTce},
    {"probeFionreadLoop", ProbeFionreadLoop},
    {"checkExtensionLoop", CheckExtensionLoop},
    {"deviceAttrLoop", DeviceAttrLoop},
    {"setSpaprTceLoop", SetSpaprTceLoop},
};

// The shared fds belong to the library's addon: only the table goes.
void FreeState(napi_env /*env*/, void* data, void* /*hint*/) { delete static_cast<AddonState*>(data); }

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonState* state = new AddonState();
  if (napi_set_instance_data(env, state, FreeState, nullptr) != napi_ok) {
    delete state;
    Napi::Error::New(env, "bench probe: could not attach per-environment state").ThrowAsJavaScriptException();
    return exports;
  }
  DefineFunctions(env, exports, state, kFunctions);
  return exports;
}

}  // namespace kvs

static Napi::Object InitProbe(Napi::Env env, Napi::Object exports) { return kvs::Init(env, exports); }

NODE_API_MODULE(bench_probe, InitProbe)
