// KVM devices (KVM_CREATE_DEVICE) and their attributes. The kernel reads and writes attribute
// payloads through kvm_device_attr.addr, so every payload lives in a buffer owned here.
#include <cstring>

#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// How many bytes the kernel reads or writes through addr is up to the device and attribute, not
// to the caller: KVM-VFIO's SET_SPAPR_TCE reads 8 bytes (struct kvm_vfio_spapr_tce) where setAttr
// may pass a 4-byte fd, and XIVE's EQ_CONFIG get_attr writes 32 bytes (struct kvm_ppc_xive_eq)
// where getAttr reads a u64. Every payload is therefore a zeroed buffer larger than any attribute
// of the devices this library knows: a longer read sees zeros instead of the stack, and a longer
// write stays inside the buffer.
struct AttrPayload {
  static constexpr size_t kBytes = 64;
  alignas(8) unsigned char bytes[kBytes] = {};

  template <typename T>
  static AttrPayload Of(T value) {
    static_assert(sizeof(T) <= kBytes, "payload");
    AttrPayload payload;
    std::memcpy(payload.bytes, &value, sizeof(value));
    return payload;
  }

  uint64_t U64() const {
    uint64_t value = 0;
    std::memcpy(&value, bytes, sizeof(value));
    return value;
  }
};

long DeviceAttr(int fd, unsigned long request, uint32_t group, uint64_t attr, AttrPayload* payload) {
  kvm_device_attr device_attr{};
  device_attr.group = group;
  device_attr.attr = attr;
  device_attr.addr = payload == nullptr ? 0 : static_cast<uint64_t>(reinterpret_cast<uintptr_t>(payload->bytes));
  return Ioctl(fd, request, &device_attr);
}

// (fd, group, attr) as the first three arguments of every attribute call.
struct AttrCall {
  int fd = -1;
  uint32_t group = 0;
  uint64_t attr = 0;

  bool Read(NativeCall& call) {
    fd = call.OwnedFd(0);
    return fd >= 0 && call.Uint32(1, &group) && call.U64(2, &attr);
  }
};

napi_value CreateDeviceWithFlags(NativeCall& call, uint32_t flags) {
  int fd = call.OwnedFd(0);
  kvm_create_device request{};
  if (fd < 0 || !call.Uint32(1, &request.type)) return nullptr;
  request.fd = static_cast<__u32>(-1);  // written back by the kernel; TEST never writes it
  request.flags = flags;
  long result = Ioctl(fd, KVM_CREATE_DEVICE, &request);
  if (flags & KVM_CREATE_DEVICE_TEST) return call.Number(result);
  return call.AdoptedFd(result < 0 ? result : static_cast<int32_t>(request.fd));
}

// createDevice(vmFd, type) -> device fd | -errno
napi_value CreateDevice(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "createDevice");
  return CreateDeviceWithFlags(call, 0);
}

// testDevice(vmFd, type) -> 0 | -errno. KVM_CREATE_DEVICE_TEST creates nothing and writes no fd
// (virt/kvm/kvm_main.c kvm_ioctl_create_device), so there is nothing to own.
napi_value TestDevice(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "testDevice");
  return CreateDeviceWithFlags(call, KVM_CREATE_DEVICE_TEST);
}

napi_value HasDeviceAttr(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "hasDeviceAttr");
  AttrCall attr;
  if (!attr.Read(call)) return nullptr;
  return call.Number(DeviceAttr(attr.fd, KVM_HAS_DEVICE_ATTR, attr.group, attr.attr, nullptr));
}

// setDeviceAttrNone(fd, group, attr): control attributes without payload (addr = 0).
napi_value SetDeviceAttrNone(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setDeviceAttrNone");
  AttrCall attr;
  if (!attr.Read(call)) return nullptr;
  return call.Number(DeviceAttr(attr.fd, KVM_SET_DEVICE_ATTR, attr.group, attr.attr, nullptr));
}

napi_value SetDeviceAttrU64(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setDeviceAttrU64");
  AttrCall attr;
  uint64_t value = 0;
  if (!attr.Read(call) || !call.U64(3, &value)) return nullptr;
  AttrPayload payload = AttrPayload::Of(value);
  return call.Number(DeviceAttr(attr.fd, KVM_SET_DEVICE_ATTR, attr.group, attr.attr, &payload));
}

// setDeviceAttrFd(fd, group, attr, payloadFd): an s32 fd payload (KVM-VFIO FILE_ADD / FILE_DEL).
// payloadFd may be a borrowed fd the addon does not own; the kernel checks it.
napi_value SetDeviceAttrFd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setDeviceAttrFd");
  AttrCall attr;
  int32_t payload_fd = -1;
  if (!attr.Read(call) || !call.Int32(3, &payload_fd)) return nullptr;
  AttrPayload payload = AttrPayload::Of(payload_fd);
  return call.Number(DeviceAttr(attr.fd, KVM_SET_DEVICE_ATTR, attr.group, attr.attr, &payload));
}

// setSpaprTce(kvmVfioFd, groupFd, tableFd): KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE (virt/kvm/vfio.c).
napi_value SetSpaprTce(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setSpaprTce");
  int fd = call.OwnedFd(0);
  kvm_vfio_spapr_tce link{};
  if (fd < 0 || !call.Int32(1, &link.groupfd) || !call.Int32(2, &link.tablefd)) return nullptr;
  AttrPayload payload = AttrPayload::Of(link);
  return call.Number(DeviceAttr(fd, KVM_SET_DEVICE_ATTR, KVM_DEV_VFIO_GROUP, KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, &payload));
}

// getDeviceAttrU64(fd, group, attr) -> BigInt | -errno. KVM_GET_DEVICE_ATTR is _IOW, yet the
// kernel writes the value through addr.
napi_value GetDeviceAttrU64(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "getDeviceAttrU64");
  AttrCall attr;
  if (!attr.Read(call)) return nullptr;
  AttrPayload payload;
  long result = DeviceAttr(attr.fd, KVM_GET_DEVICE_ATTR, attr.group, attr.attr, &payload);
  return result < 0 ? call.Number(result) : call.BigInt(payload.U64());
}

const FunctionSpec kFunctions[] = {
    {"createDevice", CreateDevice},
    {"testDevice", TestDevice},
    {"hasDeviceAttr", HasDeviceAttr},
    {"setDeviceAttrNone", SetDeviceAttrNone},
    {"setDeviceAttrU64", SetDeviceAttrU64},
    {"setDeviceAttrFd", SetDeviceAttrFd},
    {"setSpaprTce", SetSpaprTce},
    {"getDeviceAttrU64", GetDeviceAttrU64},
};

}  // namespace

void RegisterKvmDevice(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
