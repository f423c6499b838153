// In-kernel sPAPR TCE tables: KVM_CREATE_SPAPR_TCE_64 / KVM_CREATE_SPAPR_TCE on the VM fd, and the
// table's read-only mmap (arch/powerpc/kvm/book3s_64_vio.c). The table fd has only mmap and release.
#include <sys/mman.h>

#include "addon.h"
#include "mapping.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// createSpaprTce64(vmFd, liobn, pageShift, offset, size) -> table fd | -errno. offset and size
// are in IOMMU pages; flags must be 0 (the kernel rejects anything else).
napi_value CreateSpaprTce64(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "createSpaprTce64");
  int fd = call.OwnedFd(0);
  kvm_create_spapr_tce_64 request{};
  if (fd < 0 || !call.U64(1, &request.liobn) || !call.Uint32(2, &request.page_shift) ||
      !call.U64(3, &request.offset) || !call.U64(4, &request.size)) {
    return nullptr;
  }
  return call.AdoptedFd(Ioctl(fd, KVM_CREATE_SPAPR_TCE_64, &request));
}

// createSpaprTce(vmFd, liobn, windowSize) -> table fd | -errno: the legacy call (4 KiB IOMMU
// pages, bus offset 0, 32-bit liobn and window).
napi_value CreateSpaprTce(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "createSpaprTce");
  int fd = call.OwnedFd(0);
  uint64_t liobn = 0;
  kvm_create_spapr_tce request{};
  if (fd < 0 || !call.U64(1, &liobn) || !call.Uint32(2, &request.window_size)) return nullptr;
  request.liobn = liobn;
  return call.AdoptedFd(Ioctl(fd, KVM_CREATE_SPAPR_TCE, &request));
}

// mapSpaprTceTable(tableFd, entries) -> { buffer, handle } | -errno. The kernel maps the table
// lazily and does not check the length (kvm_spapr_tce_mmap); we map exactly the page-rounded
// size of `entries` u64 TCEs, read-only.
napi_value MapSpaprTceTable(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "mapSpaprTceTable");
  int fd = call.OwnedFd(0);
  uint64_t entries = 0;
  if (fd < 0 || !call.U64(1, &entries)) return nullptr;
  const uint64_t page = PageSize();
  if (entries == 0 || entries > (UINT64_MAX - page) / 8) return call.BadArgument(1);
  uint64_t length = (entries * 8 + page - 1) / page * page;
  return NewMapping(call, static_cast<size_t>(length), PROT_READ, MAP_SHARED, fd);
}

const FunctionSpec kFunctions[] = {
    {"createSpaprTce64", CreateSpaprTce64},
    {"createSpaprTce", CreateSpaprTce},
    {"mapSpaprTceTable", MapSpaprTceTable},
};

}  // namespace

void RegisterSpaprTceTable(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
