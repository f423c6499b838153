// VM ioctls only POWER has: MMU setup (radix process table, hash page table) and RTAS tokens the
// kernel handles itself. Kernel: arch/powerpc/kvm/powerpc.c (kvm_arch_vm_ioctl), book3s_hv.c.
#include <cstring>

#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// configureV3Mmu(vmFd, flags, processTable) -> 0 | -errno (KVM_PPC_MMUV3_RADIX | _GTSE; the
// process table value is the PATB second doubleword: base | size, as H_REGISTER_PROC_TBL gives it)
napi_value ConfigureV3Mmu(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "configureV3Mmu");
  int fd = call.OwnedFd(0);
  kvm_ppc_mmuv3_cfg config{};
  if (fd < 0 || !call.U64(1, &config.flags) || !call.U64(2, &config.process_table)) return nullptr;
  return call.Number(Ioctl(fd, KVM_PPC_CONFIGURE_V3_MMU, &config));
}

napi_value Geometries(napi_env env, const kvm_ppc_rmmu_info& info) {
  napi_value list;
  napi_create_array(env, &list);
  uint32_t count = 0;
  for (const auto& geometry : info.geometries) {
    if (geometry.page_shift == 0) continue;
    napi_value entry;
    napi_value value;
    napi_create_object(env, &entry);
    napi_create_uint32(env, geometry.page_shift, &value);
    napi_set_named_property(env, entry, "pageShift", value);
    napi_value levels;
    napi_create_array_with_length(env, 4, &levels);
    for (uint32_t i = 0; i < 4; ++i) {
      napi_create_uint32(env, geometry.level_bits[i], &value);
      napi_set_element(env, levels, i, value);
    }
    napi_set_named_property(env, entry, "levelBits", levels);
    napi_set_element(env, list, count++, entry);
  }
  return list;
}

// getRmmuInfo(vmFd) -> { geometries: [{ pageShift, levelBits[4] }], apEncodings: number[] } | -errno
napi_value GetRmmuInfo(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "getRmmuInfo");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  kvm_ppc_rmmu_info rmmu{};
  long result = Ioctl(fd, KVM_PPC_GET_RMMU_INFO, &rmmu);
  if (result < 0) return call.Number(result);
  napi_value object;
  napi_create_object(env, &object);
  napi_set_named_property(env, object, "geometries", Geometries(env, rmmu));
  napi_value encodings;
  napi_create_array(env, &encodings);
  uint32_t count = 0;
  for (uint32_t encoding : rmmu.ap_encodings) {
    if (encoding == 0) continue;
    napi_value value;
    napi_create_uint32(env, encoding, &value);
    napi_set_element(env, encodings, count++, value);
  }
  napi_set_named_property(env, object, "apEncodings", encodings);
  return object;
}

// rtasDefineToken(vmFd, name, token) -> 0 | -errno; token 0 undefines the name.
napi_value RtasDefineToken(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "rtasDefineToken");
  int fd = call.OwnedFd(0);
  kvm_rtas_token_args args{};
  if (fd < 0) return nullptr;
  size_t length = 0;
  if (napi_get_value_string_utf8(env, call.arg(1), args.name, sizeof(args.name), &length) != napi_ok) return call.BadArgument(1);
  if (length == 0 || length >= sizeof(args.name) - 1) return call.BadArgument(1);
  if (!call.U64(2, &args.token)) return nullptr;
  return call.Number(Ioctl(fd, KVM_PPC_RTAS_DEFINE_TOKEN, &args));
}

// allocateHtab(vmFd, order) -> the order the kernel allocated | -errno (hash MMU guests only)
napi_value AllocateHtab(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "allocateHtab");
  int fd = call.OwnedFd(0);
  uint32_t order = 0;
  if (fd < 0 || !call.Uint32(1, &order)) return nullptr;
  long result = Ioctl(fd, KVM_PPC_ALLOCATE_HTAB, &order);
  return call.Number(result < 0 ? result : static_cast<long>(order));
}

const FunctionSpec kFunctions[] = {
    {"configureV3Mmu", ConfigureV3Mmu},
    {"getRmmuInfo", GetRmmuInfo},
    {"rtasDefineToken", RtasDefineToken},
    {"allocateHtab", AllocateHtab},
};

}  // namespace

void RegisterKvmVmPpc(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
