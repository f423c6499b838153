// KVM devices (KVM_CREATE_DEVICE) and their attributes. The kernel reads and writes attribute
// payloads through kvm_device_attr.addr, so every payload lives in a buffer owned here.
#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

long DeviceAttr(int fd, unsigned long request, uint32_t group, uint64_t attr, void* payload) {
  kvm_device_attr device_attr{};
  device_attr.flags = 0;
  device_attr.group = group;
  device_attr.attr = attr;
  device_attr.addr = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(payload));
  return Ioctl(fd, request, &device_attr);
}

struct AttrArgs {
  int fd = -1;
  uint32_t group = 0;
  uint64_t attr = 0;
};

bool ReadAttrArgs(const Napi::CallbackInfo& info, const char* function, AttrArgs* out) {
  out->fd = OwnedFd(info, 0);
  if (out->fd < 0) return false;
  if (!ReadUint32(info.Env(), info[1], &out->group)) {
    ThrowBadArgument(info, function, 1);
    return false;
  }
  if (!ReadU64(info.Env(), info[2], &out->attr)) {
    ThrowBadArgument(info, function, 2);
    return false;
  }
  return true;
}

// createDevice(vmFd, type) -> device fd | -errno. fd is preset to -1: the kernel writes it back.
Napi::Value CreateDevice(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  kvm_create_device request{};
  if (!ReadUint32(info.Env(), info[1], &request.type)) return ThrowBadArgument(info, "createDevice", 1);
  request.fd = static_cast<__u32>(-1);
  long result = Ioctl(fd, KVM_CREATE_DEVICE, &request);
  return AdoptResult(info, result < 0 ? result : static_cast<int32_t>(request.fd));
}

// testDevice(vmFd, type) -> 0 | -errno. KVM_CREATE_DEVICE_TEST creates nothing and writes no fd
// (virt/kvm/kvm_main.c kvm_ioctl_create_device), so there is nothing to own.
Napi::Value TestDevice(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  kvm_create_device request{};
  if (!ReadUint32(info.Env(), info[1], &request.type)) return ThrowBadArgument(info, "testDevice", 1);
  request.fd = static_cast<__u32>(-1);
  request.flags = KVM_CREATE_DEVICE_TEST;
  return Result(info.Env(), Ioctl(fd, KVM_CREATE_DEVICE, &request));
}

Napi::Value HasDeviceAttr(const Napi::CallbackInfo& info) {
  AttrArgs args;
  if (!ReadAttrArgs(info, "hasDeviceAttr", &args)) return info.Env().Undefined();
  return Result(info.Env(), DeviceAttr(args.fd, KVM_HAS_DEVICE_ATTR, args.group, args.attr, nullptr));
}

// setDeviceAttr(fd, group, attr) with no payload (addr = 0), for control attributes.
Napi::Value SetDeviceAttrNone(const Napi::CallbackInfo& info) {
  AttrArgs args;
  if (!ReadAttrArgs(info, "setDeviceAttrNone", &args)) return info.Env().Undefined();
  return Result(info.Env(), DeviceAttr(args.fd, KVM_SET_DEVICE_ATTR, args.group, args.attr, nullptr));
}

Napi::Value SetDeviceAttrU64(const Napi::CallbackInfo& info) {
  AttrArgs args;
  if (!ReadAttrArgs(info, "setDeviceAttrU64", &args)) return info.Env().Undefined();
  uint64_t payload = 0;
  if (!ReadU64(info.Env(), info[3], &payload)) return ThrowBadArgument(info, "setDeviceAttrU64", 3);
  return Result(info.Env(), DeviceAttr(args.fd, KVM_SET_DEVICE_ATTR, args.group, args.attr, &payload));
}

// setDeviceAttrFd(fd, group, attr, payloadFd): an s32 fd payload (KVM-VFIO FILE_ADD / FILE_DEL).
// payloadFd may be a borrowed fd the addon does not own; the kernel checks it.
Napi::Value SetDeviceAttrFd(const Napi::CallbackInfo& info) {
  AttrArgs args;
  if (!ReadAttrArgs(info, "setDeviceAttrFd", &args)) return info.Env().Undefined();
  int32_t payload = -1;
  if (!ReadInt32(info.Env(), info[3], &payload)) return ThrowBadArgument(info, "setDeviceAttrFd", 3);
  return Result(info.Env(), DeviceAttr(args.fd, KVM_SET_DEVICE_ATTR, args.group, args.attr, &payload));
}

// setSpaprTce(kvmVfioFd, groupFd, tableFd): KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE (virt/kvm/vfio.c).
Napi::Value SetSpaprTce(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  kvm_vfio_spapr_tce payload{};
  if (!ReadInt32(info.Env(), info[1], &payload.groupfd)) return ThrowBadArgument(info, "setSpaprTce", 1);
  if (!ReadInt32(info.Env(), info[2], &payload.tablefd)) return ThrowBadArgument(info, "setSpaprTce", 2);
  return Result(info.Env(), DeviceAttr(fd, KVM_SET_DEVICE_ATTR, KVM_DEV_VFIO_GROUP,
                                       KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, &payload));
}

// getDeviceAttrU64(fd, group, attr) -> BigInt | -errno. KVM_GET_DEVICE_ATTR is _IOW but the
// kernel writes the value through addr.
Napi::Value GetDeviceAttrU64(const Napi::CallbackInfo& info) {
  AttrArgs args;
  if (!ReadAttrArgs(info, "getDeviceAttrU64", &args)) return info.Env().Undefined();
  uint64_t payload = 0;
  long result = DeviceAttr(args.fd, KVM_GET_DEVICE_ATTR, args.group, args.attr, &payload);
  if (result < 0) return Result(info.Env(), result);
  return Napi::BigInt::New(info.Env(), payload);
}

}  // namespace

void RegisterKvmDevice(Napi::Env env, Napi::Object exports, AddonState* state) {
  SetFunction(env, exports, state, "createDevice", CreateDevice);
  SetFunction(env, exports, state, "testDevice", TestDevice);
  SetFunction(env, exports, state, "hasDeviceAttr", HasDeviceAttr);
  SetFunction(env, exports, state, "setDeviceAttrNone", SetDeviceAttrNone);
  SetFunction(env, exports, state, "setDeviceAttrU64", SetDeviceAttrU64);
  SetFunction(env, exports, state, "setDeviceAttrFd", SetDeviceAttrFd);
  SetFunction(env, exports, state, "setSpaprTce", SetSpaprTce);
  SetFunction(env, exports, state, "getDeviceAttrU64", GetDeviceAttrU64);
}

}  // namespace kvs
