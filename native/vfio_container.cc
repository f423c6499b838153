// /dev/vfio/vfio with the sPAPR TCE IOMMU (v1 and v2): info, DMA windows, memory registration,
// v1 enable and map/unmap, EEH. See drivers/vfio/vfio_iommu_spapr_tce.c (tce_iommu_ioctl).
#include "async_work.h"
#include "mapping.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

napi_value GetApiVersion(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioGetApiVersion");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  return call.Number(IoctlValue(fd, VFIO_GET_API_VERSION, 0));
}

napi_value CheckExtension(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioCheckExtension");
  int fd = call.OwnedFd(0);
  uint32_t extension = 0;
  if (fd < 0 || !call.Uint32(1, &extension)) return nullptr;
  return call.Number(IoctlValue(fd, VFIO_CHECK_EXTENSION, extension));
}

napi_value SetIommu(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioSetIommu");
  int fd = call.OwnedFd(0);
  uint32_t type = 0;
  if (fd < 0 || !call.Uint32(1, &type)) return nullptr;
  return call.Number(IoctlValue(fd, VFIO_SET_IOMMU, type));
}

// spaprTceGetInfo(fd) -> { flags, dma32WindowStart, dma32WindowSize, pageSizes, maxDynamicWindows, levels } | -errno
napi_value SpaprTceGetInfo(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "spaprTceGetInfo");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  vfio_iommu_spapr_tce_info tce_info{};
  tce_info.argsz = sizeof(tce_info);
  long result = Ioctl(fd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &tce_info);
  if (result < 0) return call.Number(result);
  napi_value object;
  napi_create_object(env, &object);
  call.SetNumber(object, "flags", tce_info.flags);
  call.SetNumber(object, "dma32WindowStart", tce_info.dma32_window_start);
  call.SetNumber(object, "dma32WindowSize", tce_info.dma32_window_size);
  call.SetBigInt(object, "pageSizes", tce_info.ddw.pgsizes);
  call.SetNumber(object, "maxDynamicWindows", tce_info.ddw.max_dynamic_windows_supported);
  call.SetNumber(object, "levels", tce_info.ddw.levels);
  return object;
}

napi_value IommuEnable(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioIommuEnable");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  return call.Number(IoctlValue(fd, VFIO_IOMMU_ENABLE, 0));
}

napi_value IommuDisable(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioIommuDisable");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  return call.Number(IoctlValue(fd, VFIO_IOMMU_DISABLE, 0));
}

// mapDma(fd, mappingHandle, offset, iova, size, flags): maps [offset, offset + size) of the
// mapping at `iova`. The address is computed here and the range checked against the mapping.
napi_value MapDma(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioMapDma");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  MappingRef mapping = MappingArg(call, 1);
  vfio_iommu_type1_dma_map map{};
  uint64_t offset = 0;
  if (!mapping || !call.U64(2, &offset) || !call.U64(3, &map.iova) || !call.U64(4, &map.size) ||
      !call.Uint32(5, &map.flags)) {
    return nullptr;
  }
  if (!mapping->Contains(offset, map.size)) return call.BadArgument(2);
  map.argsz = sizeof(map);
  map.vaddr = mapping->AddressAt(offset);
  return call.Number(Ioctl(fd, VFIO_IOMMU_MAP_DMA, &map));
}

// unmapDma(fd, iova, size) -> bytes unmapped is not reported by sPAPR; 0 | -errno
napi_value UnmapDma(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioUnmapDma");
  int fd = call.OwnedFd(0);
  vfio_iommu_type1_dma_unmap unmap{};
  if (fd < 0 || !call.U64(1, &unmap.iova) || !call.U64(2, &unmap.size)) return nullptr;
  unmap.argsz = sizeof(unmap);
  return call.Number(Ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
}

long RegisterMemory(int fd, unsigned long request, const Mapping& mapping) {
  vfio_iommu_spapr_register_memory region{};
  region.argsz = sizeof(region);
  region.vaddr = mapping.AddressAt(0);
  region.size = mapping.length();
  return Ioctl(fd, request, &region);
}

napi_value RegisterMemoryCall(napi_env env, napi_callback_info info, const char* name, unsigned long request) {
  NativeCall call(env, info, name);
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  MappingRef mapping = MappingArg(call, 1);
  if (!mapping) return nullptr;
  if (!mapping->mapped()) return call.BadArgument(1);
  return call.Number(RegisterMemory(fd, request, *mapping));
}

// spaprRegisterMemory(fd, mappingHandle): the whole mapping (v2 only).
napi_value SpaprRegisterMemory(napi_env env, napi_callback_info info) {
  return RegisterMemoryCall(env, info, "spaprRegisterMemory", VFIO_IOMMU_SPAPR_REGISTER_MEMORY);
}

napi_value SpaprUnregisterMemory(napi_env env, napi_callback_info info) {
  return RegisterMemoryCall(env, info, "spaprUnregisterMemory", VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY);
}

napi_value RegisterMemoryAsyncCall(napi_env env, napi_callback_info info, const char* name, unsigned long request) {
  NativeCall call(env, info, name);
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  MappingRef mapping = MappingArg(call, 1);
  if (!mapping) return nullptr;
  Mapping* region = mapping.get();
  return QueueAsync(call, name, fd, mapping, [region, request](int work_fd) {
    return AsyncResult{RegisterMemory(work_fd, request, *region)};
  });
}

napi_value SpaprRegisterMemoryAsync(napi_env env, napi_callback_info info) {
  return RegisterMemoryAsyncCall(env, info, "spaprRegisterMemoryAsync", VFIO_IOMMU_SPAPR_REGISTER_MEMORY);
}

// Unregistering unpins every page of the region (drivers/vfio/vfio_iommu_spapr_tce.c ->
// mm_iommu_put): as slow as registering it.
napi_value SpaprUnregisterMemoryAsync(napi_env env, napi_callback_info info) {
  return RegisterMemoryAsyncCall(env, info, "spaprUnregisterMemoryAsync", VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY);
}

struct WindowRequest {
  uint32_t page_shift = 0;
  uint64_t window_size = 0;
  uint32_t levels = 0;

  bool Read(NativeCall& call) {
    return call.Uint32(1, &page_shift) && call.U64(2, &window_size) && call.Uint32(3, &levels);
  }
};

AsyncResult CreateWindow(int fd, const WindowRequest& request) {
  vfio_iommu_spapr_tce_create create{};
  create.argsz = sizeof(create);
  create.page_shift = request.page_shift;
  create.window_size = request.window_size;
  create.levels = request.levels;
  long result = Ioctl(fd, VFIO_IOMMU_SPAPR_TCE_CREATE, &create);
  return AsyncResult{result, true, create.start_addr};
}

napi_value ToValue(NativeCall& call, const AsyncResult& outcome) {
  return outcome.result < 0 ? call.Number(outcome.result) : call.BigInt(outcome.bigint);
}

// spaprCreateWindow(fd, pageShift, windowSize, levels) -> BigInt start address | -errno (v2 only)
napi_value SpaprCreateWindow(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "spaprCreateWindow");
  int fd = call.OwnedFd(0);
  WindowRequest request;
  if (fd < 0 || !request.Read(call)) return nullptr;
  return ToValue(call, CreateWindow(fd, request));
}

napi_value SpaprCreateWindowAsync(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "spaprCreateWindowAsync");
  int fd = call.OwnedFd(0);
  WindowRequest request;
  if (fd < 0 || !request.Read(call)) return nullptr;
  return QueueAsync(call, "spaprCreateWindow", fd, nullptr, [request](int work_fd) { return CreateWindow(work_fd, request); });
}

long RemoveWindow(int fd, uint64_t start_addr) {
  vfio_iommu_spapr_tce_remove remove{};
  remove.argsz = sizeof(remove);
  remove.start_addr = start_addr;
  return Ioctl(fd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &remove);
}

napi_value SpaprRemoveWindow(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "spaprRemoveWindow");
  int fd = call.OwnedFd(0);
  uint64_t start_addr = 0;
  if (fd < 0 || !call.U64(1, &start_addr)) return nullptr;
  return call.Number(RemoveWindow(fd, start_addr));
}

// Removing a window clears and frees its whole TCE table (tce_iommu_remove_window ->
// tce_iommu_clear): ~0.5 s for a 1 GiB window of 4 KiB pages on the emulated host.
napi_value SpaprRemoveWindowAsync(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "spaprRemoveWindowAsync");
  int fd = call.OwnedFd(0);
  uint64_t start_addr = 0;
  if (fd < 0 || !call.U64(1, &start_addr)) return nullptr;
  return QueueAsync(call, "spaprRemoveWindow", fd, nullptr, [start_addr](int work_fd) {
    return AsyncResult{RemoveWindow(work_fd, start_addr)};
  });
}

// eehPeOp(fd, op) -> result | -errno (VFIO_EEH_PE_* operations without an error payload).
napi_value EehPeOp(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "eehPeOp");
  int fd = call.OwnedFd(0);
  vfio_eeh_pe_op operation{};
  if (fd < 0 || !call.Uint32(1, &operation.op)) return nullptr;
  operation.argsz = sizeof(operation);
  return call.Number(Ioctl(fd, VFIO_EEH_PE_OP, &operation));
}

const FunctionSpec kFunctions[] = {
    {"vfioGetApiVersion", GetApiVersion},
    {"vfioCheckExtension", CheckExtension},
    {"vfioSetIommu", SetIommu},
    {"spaprTceGetInfo", SpaprTceGetInfo},
    {"vfioIommuEnable", IommuEnable},
    {"vfioIommuDisable", IommuDisable},
    {"vfioMapDma", MapDma},
    {"vfioUnmapDma", UnmapDma},
    {"spaprRegisterMemory", SpaprRegisterMemory},
    {"spaprRegisterMemoryAsync", SpaprRegisterMemoryAsync},
    {"spaprUnregisterMemory", SpaprUnregisterMemory},
    {"spaprUnregisterMemoryAsync", SpaprUnregisterMemoryAsync},
    {"spaprCreateWindow", SpaprCreateWindow},
    {"spaprCreateWindowAsync", SpaprCreateWindowAsync},
    {"spaprRemoveWindow", SpaprRemoveWindow},
    {"spaprRemoveWindowAsync", SpaprRemoveWindowAsync},
    {"eehPeOp", EehPeOp},
};

}  // namespace

void RegisterVfioContainer(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
