// Kernel uapi: request numbers and structs come from the headers of the target
// architecture at compile time (the _IO/_IOW encodings differ between x86 and powerpc).
#pragma once

#include <linux/kvm.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

// Linux 6.6 renamed group 1 and attrs 1/2 of the KVM-VFIO device to FILE*; the numbers did
// not change (include/uapi/linux/kvm.h). Debian 12's 6.1 headers only have the GROUP names.
#ifndef KVM_DEV_VFIO_FILE
#define KVM_DEV_VFIO_FILE KVM_DEV_VFIO_GROUP
#define KVM_DEV_VFIO_FILE_ADD KVM_DEV_VFIO_GROUP_ADD
#define KVM_DEV_VFIO_FILE_DEL KVM_DEV_VFIO_GROUP_DEL
#endif

// struct kvm_create_spapr_tce{,_64} live only in arch/powerpc/include/uapi/asm/kvm.h, while
// x86's linux/kvm.h still defines the request numbers that use them. Mirror them elsewhere.
#if !defined(__powerpc64__)
struct kvm_create_spapr_tce {
  __u64 liobn;
  __u32 window_size;
};
struct kvm_create_spapr_tce_64 {
  __u64 liobn;
  __u32 page_shift;
  __u32 flags;
  __u64 offset; /* in pages */
  __u64 size;   /* in pages */
};
#endif

// struct kvm_stats_desc ends in a flexible name[]. Debian 12's amd64 headers (6.1.187) declare it
// with __DECLARE_FLEX_ARRAY, whose empty wrapper struct takes one byte in C++ (not in C): there
// sizeof is 20 and name sits at 17, while the kernel writes 16-byte descriptors with the name at
// 16 (include/uapi/linux/stddef.h; fixed for C++ in later headers). Read descriptors through this.
namespace kvs {
struct StatsDescHead {
  __u32 flags;
  __s16 exponent;
  __u16 size;
  __u32 offset;
  __u32 bucket_size;
};  // char name[header.name_size] follows
}  // namespace kvs
static_assert(sizeof(kvs::StatsDescHead) == 16, "kvm_stats_desc without its name");
static_assert(offsetof(kvm_stats_desc, size) == offsetof(kvs::StatsDescHead, size), "kvm_stats_desc.size");
static_assert(offsetof(kvm_stats_desc, offset) == offsetof(kvs::StatsDescHead, offset), "kvm_stats_desc.offset");
static_assert(offsetof(kvm_stats_desc, bucket_size) == 12, "kvm_stats_desc.bucket_size");
static_assert(sizeof(kvm_stats_header) == 24, "kvm_stats_header");

static_assert(sizeof(kvm_create_device) == 12, "kvm_create_device");
static_assert(offsetof(kvm_create_device, fd) == 4, "kvm_create_device.fd");
static_assert(offsetof(kvm_create_device, flags) == 8, "kvm_create_device.flags");
static_assert(sizeof(kvm_device_attr) == 24, "kvm_device_attr");
static_assert(offsetof(kvm_device_attr, group) == 4, "kvm_device_attr.group");
static_assert(offsetof(kvm_device_attr, attr) == 8, "kvm_device_attr.attr");
static_assert(offsetof(kvm_device_attr, addr) == 16, "kvm_device_attr.addr");
static_assert(sizeof(kvm_vfio_spapr_tce) == 8, "kvm_vfio_spapr_tce");
static_assert(offsetof(kvm_vfio_spapr_tce, tablefd) == 4, "kvm_vfio_spapr_tce.tablefd");
static_assert(sizeof(kvm_create_spapr_tce) == 16, "kvm_create_spapr_tce");
static_assert(offsetof(kvm_create_spapr_tce, window_size) == 8, "kvm_create_spapr_tce.window_size");
static_assert(sizeof(kvm_create_spapr_tce_64) == 32, "kvm_create_spapr_tce_64");
static_assert(offsetof(kvm_create_spapr_tce_64, page_shift) == 8, "kvm_create_spapr_tce_64.page_shift");
static_assert(offsetof(kvm_create_spapr_tce_64, flags) == 12, "kvm_create_spapr_tce_64.flags");
static_assert(offsetof(kvm_create_spapr_tce_64, offset) == 16, "kvm_create_spapr_tce_64.offset");
static_assert(offsetof(kvm_create_spapr_tce_64, size) == 24, "kvm_create_spapr_tce_64.size");
static_assert(sizeof(kvm_enable_cap) == 104, "kvm_enable_cap");
static_assert(sizeof(kvm_userspace_memory_region) == 32, "kvm_userspace_memory_region");
static_assert(sizeof(vfio_group_status) == 8, "vfio_group_status");
static_assert(sizeof(vfio_iommu_spapr_tce_ddw_info) == 16, "vfio_iommu_spapr_tce_ddw_info");
static_assert(sizeof(vfio_iommu_spapr_tce_info) == 32, "vfio_iommu_spapr_tce_info");
static_assert(offsetof(vfio_iommu_spapr_tce_info, dma32_window_start) == 8, "tce_info.dma32_window_start");
static_assert(offsetof(vfio_iommu_spapr_tce_info, ddw) == 16, "tce_info.ddw");
static_assert(sizeof(vfio_iommu_spapr_tce_create) == 40, "vfio_iommu_spapr_tce_create");
static_assert(offsetof(vfio_iommu_spapr_tce_create, window_size) == 16, "tce_create.window_size");
static_assert(offsetof(vfio_iommu_spapr_tce_create, levels) == 24, "tce_create.levels");
static_assert(offsetof(vfio_iommu_spapr_tce_create, start_addr) == 32, "tce_create.start_addr");
static_assert(sizeof(vfio_iommu_spapr_tce_remove) == 16, "vfio_iommu_spapr_tce_remove");
static_assert(sizeof(vfio_iommu_spapr_register_memory) == 24, "vfio_iommu_spapr_register_memory");
static_assert(offsetof(vfio_iommu_spapr_register_memory, size) == 16, "register_memory.size");
static_assert(sizeof(vfio_eeh_pe_op) == 40, "vfio_eeh_pe_op");

// POWER MMU and RTAS structs live only in arch/powerpc/include/uapi/asm/kvm.h; x86's linux/kvm.h
// still defines the request numbers that use them. Mirror them elsewhere.
#if !defined(__powerpc64__)
struct kvm_ppc_mmuv3_cfg {
  __u64 flags;
  __u64 process_table;
};
#define KVM_PPC_MMUV3_RADIX 1
#define KVM_PPC_MMUV3_GTSE 2
struct kvm_ppc_radix_geom {
  __u8 page_shift;
  __u8 level_bits[4];
  __u8 pad[3];
};
struct kvm_ppc_rmmu_info {
  struct kvm_ppc_radix_geom geometries[8];
  __u32 ap_encodings[8];
};
struct kvm_rtas_token_args {
  char name[120];
  __u64 token;
};
// KVM_INTERRUPT's irq values on powerpc (arch/powerpc/include/uapi/asm/kvm.h).
#define KVM_INTERRUPT_SET -1U
#define KVM_INTERRUPT_UNSET -2U
#define KVM_INTERRUPT_SET_LEVEL -3U
#endif
static_assert(sizeof(kvm_ppc_mmuv3_cfg) == 16, "kvm_ppc_mmuv3_cfg");
static_assert(sizeof(kvm_ppc_rmmu_info::geometries[0]) == 8, "kvm_ppc_rmmu_info.geometries[]");
static_assert(sizeof(kvm_ppc_rmmu_info) == 96, "kvm_ppc_rmmu_info");
static_assert(offsetof(kvm_ppc_rmmu_info, ap_encodings) == 64, "kvm_ppc_rmmu_info.ap_encodings");
static_assert(sizeof(kvm_rtas_token_args) == 128, "kvm_rtas_token_args");
static_assert(offsetof(kvm_rtas_token_args, token) == 120, "kvm_rtas_token_args.token");
static_assert(sizeof(kvm_irqfd) == 32, "kvm_irqfd");
static_assert(sizeof(kvm_ioeventfd) == 64, "kvm_ioeventfd");
static_assert(sizeof(kvm_irq_level) == 8, "kvm_irq_level");
static_assert(sizeof(kvm_interrupt) == 4, "kvm_interrupt");
