// A VFIO device fd (VFIO_GROUP_GET_DEVICE_FD): info, regions (config space, BARs) read and written
// at typed widths with pread/pwrite, BAR mmap, interrupts (eventfds), reset.
// drivers/vfio/pci/vfio_pci_core.c, vfio_pci_intrs.c.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "addon.h"
#include "mapping.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// getInfo(fd) -> { flags, numRegions, numIrqs } | -errno
napi_value GetInfo(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioDeviceGetInfo");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  vfio_device_info device_info{};
  device_info.argsz = sizeof(device_info);
  long result = Ioctl(fd, VFIO_DEVICE_GET_INFO, &device_info);
  if (result < 0) return call.Number(result);
  napi_value object;
  napi_create_object(env, &object);
  call.SetNumber(object, "flags", device_info.flags);
  call.SetNumber(object, "numRegions", device_info.num_regions);
  call.SetNumber(object, "numIrqs", device_info.num_irqs);
  return object;
}

// getRegionInfo(fd, index) -> { flags, size: bigint, offset: bigint } | -errno
napi_value GetRegionInfo(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioDeviceGetRegionInfo");
  int fd = call.OwnedFd(0);
  vfio_region_info region{};
  if (fd < 0 || !call.Uint32(1, &region.index)) return nullptr;
  region.argsz = sizeof(region);
  long result = Ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region);
  if (result < 0) return call.Number(result);
  napi_value object;
  napi_create_object(env, &object);
  call.SetNumber(object, "flags", region.flags);
  call.SetBigInt(object, "size", region.size);
  call.SetBigInt(object, "offset", region.offset);
  return object;
}

bool ValidWidth(uint32_t width) { return width == 1 || width == 2 || width == 4 || width == 8; }

// readRegion(fd, position, width) -> BigInt (little-endian host order value) | -errno.
// position is region offset + offset within the region, as the kernel encodes it.
napi_value ReadRegion(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioDeviceReadRegion");
  int fd = call.OwnedFd(0);
  uint64_t position = 0;
  uint32_t width = 0;
  if (fd < 0 || !call.U64(1, &position) || !call.Uint32(2, &width)) return nullptr;
  if (!ValidWidth(width)) return call.BadArgument(2);
  uint64_t value = 0;
  long result = RetryEintr(kIoctl, 0, [&] { return static_cast<long>(pread(fd, &value, width, static_cast<off_t>(position))); });
  if (result >= 0 && result != static_cast<long>(width)) result = -EIO;
  return result < 0 ? call.Number(result) : call.BigInt(value);
}

// writeRegion(fd, position, width, value) -> 0 | -errno
napi_value WriteRegion(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioDeviceWriteRegion");
  int fd = call.OwnedFd(0);
  uint64_t position = 0;
  uint32_t width = 0;
  uint64_t value = 0;
  if (fd < 0 || !call.U64(1, &position) || !call.Uint32(2, &width) || !call.U64(3, &value)) return nullptr;
  if (!ValidWidth(width)) return call.BadArgument(2);
  long result = RetryEintr(kIoctl, 0, [&] { return static_cast<long>(pwrite(fd, &value, width, static_cast<off_t>(position))); });
  if (result >= 0 && result != static_cast<long>(width)) result = -EIO;
  return call.Number(result < 0 ? result : 0);
}

// mapRegion(fd, regionOffset, size) -> { buffer, handle } | -errno: a BAR, MAP_SHARED read/write.
napi_value MapRegion(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioDeviceMapRegion");
  int fd = call.OwnedFd(0);
  uint64_t region_offset = 0;
  uint64_t size = 0;
  if (fd < 0 || !call.U64(1, &region_offset) || !call.U64(2, &size)) return nullptr;
  if (size == 0 || size % PageSize() != 0) return call.BadArgument(2);
  return NewMapping(call, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, region_offset);
}

// getIrqInfo(fd, index) -> { flags, count } | -errno
napi_value GetIrqInfo(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioDeviceGetIrqInfo");
  int fd = call.OwnedFd(0);
  vfio_irq_info irq{};
  if (fd < 0 || !call.Uint32(1, &irq.index)) return nullptr;
  irq.argsz = sizeof(irq);
  long result = Ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq);
  if (result < 0) return call.Number(result);
  napi_value object;
  napi_create_object(env, &object);
  call.SetNumber(object, "flags", irq.flags);
  call.SetNumber(object, "count", irq.count);
  return object;
}

// The actions lib/ may ask for, as small numbers (lib/vfio-device.ts IrqAction).
bool IrqActionFlag(uint32_t action, uint32_t* flag) {
  static const uint32_t kFlags[] = {VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_ACTION_TRIGGER};
  if (action >= sizeof(kFlags) / sizeof(kFlags[0])) return false;
  *flag = kFlags[action];
  return true;
}

// setIrqs(fd, index, start, count, action, eventFds?) -> 0 | -errno. Without eventFds: DATA_NONE
// (count 0 with TRIGGER disables the index). With an Int32Array: DATA_EVENTFD, one fd per vector,
// -1 leaving that vector without one; every other fd must be one this environment owns.
napi_value SetIrqs(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioDeviceSetIrqs");
  int fd = call.OwnedFd(0);
  uint32_t index = 0, start = 0, count = 0, action = 0, action_flag = 0;
  if (fd < 0 || !call.Uint32(1, &index) || !call.Uint32(2, &start) || !call.Uint32(3, &count) || !call.Uint32(4, &action)) return nullptr;
  if (!IrqActionFlag(action, &action_flag)) return call.BadArgument(4);
  std::vector<int32_t> fds;
  const bool with_fds = !call.IsUndefined(5);
  if (with_fds) {
    void* data = nullptr;
    size_t length = 0;
    if (!call.TypedArray(5, napi_int32_array, count, &data, &length) || length != count) return call.BadArgument(5);
    fds.assign(static_cast<int32_t*>(data), static_cast<int32_t*>(data) + length);
    for (int32_t event_fd : fds) {
      if (event_fd != -1 && !call.state()->fds.Owns(event_fd)) return call.BadArgument(5);
    }
  }
  std::vector<uint8_t> buffer(sizeof(vfio_irq_set) + fds.size() * sizeof(int32_t));
  auto* request = reinterpret_cast<vfio_irq_set*>(buffer.data());
  request->argsz = static_cast<uint32_t>(buffer.size());
  request->flags = action_flag | (with_fds ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
  request->index = index;
  request->start = start;
  request->count = count;
  if (!fds.empty()) std::memcpy(request->data, fds.data(), fds.size() * sizeof(int32_t));
  return call.Number(Ioctl(fd, VFIO_DEVICE_SET_IRQS, request));
}

napi_value Reset(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioDeviceReset");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  return call.Number(IoctlValue(fd, VFIO_DEVICE_RESET, 0));
}

const FunctionSpec kFunctions[] = {
    {"vfioDeviceGetInfo", GetInfo},
    {"vfioDeviceGetRegionInfo", GetRegionInfo},
    {"vfioDeviceReadRegion", ReadRegion},
    {"vfioDeviceWriteRegion", WriteRegion},
    {"vfioDeviceMapRegion", MapRegion},
    {"vfioDeviceGetIrqInfo", GetIrqInfo},
    {"vfioDeviceSetIrqs", SetIrqs},
    {"vfioDeviceReset", Reset},
};

}  // namespace

void RegisterVfioDevice(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
