// The request numbers and constants as compiled for this architecture, exported so tests can
// compare the x86_64 and ppc64 builds with kernel-abi.md.
#include <cstring>
#include <string>

#include "addon.h"
#include "uapi.h"

namespace kvs {

#define KVS_ENTRY(name) {#name, static_cast<double>(name)}

namespace {
struct Entry {
  const char* name;
  double value;
};

const Entry kRequests[] = {
    KVS_ENTRY(KVM_GET_API_VERSION),
    KVS_ENTRY(KVM_CREATE_VM),
    KVS_ENTRY(KVM_CHECK_EXTENSION),
    KVS_ENTRY(KVM_GET_VCPU_MMAP_SIZE),
    KVS_ENTRY(KVM_CREATE_VCPU),
    KVS_ENTRY(KVM_SET_USER_MEMORY_REGION),
    KVS_ENTRY(KVM_ENABLE_CAP),
    KVS_ENTRY(KVM_CREATE_SPAPR_TCE),
    KVS_ENTRY(KVM_CREATE_SPAPR_TCE_64),
    KVS_ENTRY(KVM_CREATE_DEVICE),
    KVS_ENTRY(KVM_SET_DEVICE_ATTR),
    KVS_ENTRY(KVM_GET_DEVICE_ATTR),
    KVS_ENTRY(KVM_HAS_DEVICE_ATTR),
    KVS_ENTRY(KVM_RUN),
    KVS_ENTRY(KVM_GET_ONE_REG),
    KVS_ENTRY(KVM_SET_ONE_REG),
    KVS_ENTRY(KVM_GET_STATS_FD),
    KVS_ENTRY(VFIO_GET_API_VERSION),
    KVS_ENTRY(VFIO_CHECK_EXTENSION),
    KVS_ENTRY(VFIO_SET_IOMMU),
    KVS_ENTRY(VFIO_GROUP_GET_STATUS),
    KVS_ENTRY(VFIO_GROUP_SET_CONTAINER),
    KVS_ENTRY(VFIO_GROUP_UNSET_CONTAINER),
    KVS_ENTRY(VFIO_GROUP_GET_DEVICE_FD),
    KVS_ENTRY(VFIO_DEVICE_GET_INFO),
    KVS_ENTRY(VFIO_DEVICE_GET_REGION_INFO),
    KVS_ENTRY(VFIO_DEVICE_RESET),
    KVS_ENTRY(VFIO_IOMMU_SPAPR_TCE_GET_INFO),
    KVS_ENTRY(VFIO_IOMMU_MAP_DMA),
    KVS_ENTRY(VFIO_IOMMU_UNMAP_DMA),
    KVS_ENTRY(VFIO_IOMMU_ENABLE),
    KVS_ENTRY(VFIO_IOMMU_DISABLE),
    KVS_ENTRY(VFIO_IOMMU_SPAPR_REGISTER_MEMORY),
    KVS_ENTRY(VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY),
    KVS_ENTRY(VFIO_IOMMU_SPAPR_TCE_CREATE),
    KVS_ENTRY(VFIO_IOMMU_SPAPR_TCE_REMOVE),
    KVS_ENTRY(VFIO_EEH_PE_OP),
    KVS_ENTRY(FIONREAD),
};

const Entry kConstants[] = {
    KVS_ENTRY(KVM_API_VERSION),
    KVS_ENTRY(KVM_DEV_TYPE_VFIO),
    KVS_ENTRY(KVM_DEV_TYPE_XICS),
    KVS_ENTRY(KVM_CREATE_DEVICE_TEST),
    KVS_ENTRY(KVM_DEV_VFIO_GROUP),
    KVS_ENTRY(KVM_DEV_VFIO_GROUP_ADD),
    KVS_ENTRY(KVM_DEV_VFIO_GROUP_DEL),
    KVS_ENTRY(KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE),
    KVS_ENTRY(KVM_DEV_VFIO_FILE),
    KVS_ENTRY(KVM_DEV_VFIO_FILE_ADD),
    KVS_ENTRY(KVM_DEV_VFIO_FILE_DEL),
    KVS_ENTRY(KVM_CAP_NR_VCPUS),
    KVS_ENTRY(KVM_CAP_IOMMU),
    KVS_ENTRY(KVM_CAP_IRQFD),
    KVS_ENTRY(KVM_CAP_IOEVENTFD),
    KVS_ENTRY(KVM_CAP_SPAPR_TCE),
    KVS_ENTRY(KVM_CAP_PPC_SMT),
    KVS_ENTRY(KVM_CAP_PPC_GET_SMMU_INFO),
    KVS_ENTRY(KVM_CAP_PPC_ALLOC_HTAB),
    KVS_ENTRY(KVM_CAP_DEVICE_CTRL),
    KVS_ENTRY(KVM_CAP_PPC_RTAS),
    KVS_ENTRY(KVM_CAP_SPAPR_MULTITCE),
    KVS_ENTRY(KVM_CAP_ENABLE_CAP_VM),
    KVS_ENTRY(KVM_CAP_PPC_ENABLE_HCALL),
    KVS_ENTRY(KVM_CAP_CHECK_EXTENSION_VM),
    KVS_ENTRY(KVM_CAP_SPAPR_TCE_64),
    KVS_ENTRY(KVM_CAP_PPC_MMU_RADIX),
    KVS_ENTRY(KVM_CAP_PPC_MMU_HASH_V3),
    KVS_ENTRY(KVM_CAP_SPAPR_TCE_VFIO),
    KVS_ENTRY(KVM_CAP_PPC_NESTED_HV),
    KVS_ENTRY(KVM_CAP_PPC_PAPR),
    KVS_ENTRY(KVM_CAP_ONE_REG),
    KVS_ENTRY(KVM_CAP_BINARY_STATS_FD),
    KVS_ENTRY(KVM_CAP_USER_MEMORY),
    KVS_ENTRY(VFIO_API_VERSION),
    KVS_ENTRY(VFIO_TYPE1_IOMMU),
    KVS_ENTRY(VFIO_SPAPR_TCE_IOMMU),
    KVS_ENTRY(VFIO_TYPE1v2_IOMMU),
    KVS_ENTRY(VFIO_EEH),
    KVS_ENTRY(VFIO_SPAPR_TCE_v2_IOMMU),
    KVS_ENTRY(VFIO_NOIOMMU_IOMMU),
    KVS_ENTRY(VFIO_GROUP_FLAGS_VIABLE),
    KVS_ENTRY(VFIO_GROUP_FLAGS_CONTAINER_SET),
    KVS_ENTRY(VFIO_IOMMU_SPAPR_INFO_DDW),
};

Napi::Object ToObject(Napi::Env env, const Entry* entries, size_t count) {
  Napi::Object object = Napi::Object::New(env);
  for (size_t i = 0; i < count; ++i) object.Set(entries[i].name, Napi::Number::New(env, entries[i].value));
  return object;
}
}  // namespace

Napi::Object RequestNumbers(Napi::Env env) {
  return ToObject(env, kRequests, sizeof(kRequests) / sizeof(kRequests[0]));
}

// errnoNames()[n] is the Linux name of errno n on this architecture ("EOPNOTSUPP", "EBADFD"),
// errnoDescriptions()[n] its strerror text.
Napi::Array ErrnoNames(Napi::Env env) {
  constexpr int kLastErrno = 140;
  Napi::Array names = Napi::Array::New(env, kLastErrno + 1);
  for (int n = 1; n <= kLastErrno; ++n) {
    const char* name = strerrorname_np(n);
    if (name != nullptr) names.Set(static_cast<uint32_t>(n), Napi::String::New(env, name));
  }
  return names;
}

Napi::Array ErrnoDescriptions(Napi::Env env) {
  constexpr int kLastErrno = 140;
  Napi::Array descriptions = Napi::Array::New(env, kLastErrno + 1);
  for (int n = 1; n <= kLastErrno; ++n) {
    const char* description = strerrordesc_np(n);
    if (description != nullptr) descriptions.Set(static_cast<uint32_t>(n), Napi::String::New(env, description));
  }
  return descriptions;
}

Napi::Object HeaderConstants(Napi::Env env) {
  return ToObject(env, kConstants, sizeof(kConstants) / sizeof(kConstants[0]));
}

}  // namespace kvs
