/* The C reference for the KVM rows of npm run bench: the library's hot KVM calls as plain ioctls
 * from a separate program. Usage: kvm_calls <count> <reps> [vfio group]; prints JSON with the
 * median ns per call of `reps` interleaved rounds of `count` calls for each of:
 *   checkExtension  KVM_CHECK_EXTENSION(KVM_CAP_SPAPR_TCE_VFIO) on /dev/kvm
 *   hasAttr         KVM_HAS_DEVICE_ATTR on the KVM-VFIO device: (KVM_DEV_VFIO_GROUP, SET_SPAPR_TCE)
 *                   with a group, (KVM_DEV_VFIO_GROUP, GROUP_ADD) without (x86 has no SET_SPAPR_TCE)
 *   setSpaprTce     KVM_SET_DEVICE_ATTR(SET_SPAPR_TCE, {group, table}) again on a linked group
 *   error           KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_GROUP, 99): ENXIO
 *   tableRead       one u64 TCE read from the table's mmap
 * With a group (ppc64le, static, inside the emulated POWER host) it is linked the way
 * attachIommuGroup does it (v2 container, a 64 MiB window) and stays linked until exit, so the
 * kernel releases it without the unlinked-group WARN. Without one (the x86 host's /dev/kvm) only
 * checkExtension, hasAttr and error are measured. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

#define LIOBN 0x80000000ULL
#define WINDOW (64ULL << 20)
#define PAGE_SHIFT 12

static int open_or_die(const char *path) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) die(path);
  return fd;
}

static void ioctl_or_die(int fd, unsigned long request, void *arg, const char *what) {
  if (ioctl(fd, request, arg) < 0) die(what);
}

/* One call of the measured kind; `state` holds the fds and structs it needs. */
struct state {
  int kvm, device;
  struct kvm_device_attr has, link, bad;
  volatile uint64_t *table;
  uint64_t sink;
};

/* The kinds before GROUP_KINDS need no VFIO group. */
enum kind { CHECK_EXTENSION, HAS_ATTR, ERROR, GROUP_KINDS, SET_SPAPR_TCE = GROUP_KINDS, TABLE_READ, KINDS };
static const char *const kNames[KINDS] = {"checkExtension", "hasAttr", "error", "setSpaprTce", "tableRead"};

static void call(struct state *s, enum kind kind, int i) {
  switch (kind) {
    case CHECK_EXTENSION: ioctl(s->kvm, KVM_CHECK_EXTENSION, KVM_CAP_SPAPR_TCE_VFIO); break;
    case HAS_ATTR: ioctl(s->device, KVM_HAS_DEVICE_ATTR, &s->has); break;
    case SET_SPAPR_TCE: ioctl(s->device, KVM_SET_DEVICE_ATTR, &s->link); break;
    case ERROR: ioctl(s->device, KVM_SET_DEVICE_ATTR, &s->bad); break;
    case TABLE_READ: s->sink += s->table[i & 0xfff]; break;
    default: break;
  }
}

static double run_ns(struct state *s, enum kind kind, int count) {
  double start = now_ns();
  for (int i = 0; i < count; ++i) call(s, kind, i);
  return (now_ns() - start) / count;
}

#if defined(__powerpc64__)
/* A v2 container with group `group` and a WINDOW-sized DMA window at bus address 0. */
static int group_with_window(int group_number) {
  char path[64];
  snprintf(path, sizeof path, "/dev/vfio/%d", group_number);
  int group = open_or_die(path);
  int container = open_or_die("/dev/vfio/vfio");
  ioctl_or_die(group, VFIO_GROUP_SET_CONTAINER, &container, "VFIO_GROUP_SET_CONTAINER");
  if (ioctl(container, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) < 0) die("VFIO_SET_IOMMU");
  struct vfio_iommu_spapr_tce_remove remove = {.argsz = sizeof remove, .start_addr = 0};
  ioctl_or_die(container, VFIO_IOMMU_SPAPR_TCE_REMOVE, &remove, "VFIO_IOMMU_SPAPR_TCE_REMOVE");
  struct vfio_iommu_spapr_tce_create create = {.argsz = sizeof create, .page_shift = PAGE_SHIFT, .window_size = WINDOW, .levels = 1};
  ioctl_or_die(container, VFIO_IOMMU_SPAPR_TCE_CREATE, &create, "VFIO_IOMMU_SPAPR_TCE_CREATE");
  return group;
}

/* Links group `group_number` to a table for LIOBN and maps the table: the setSpaprTce and
 * tableRead kinds. */
static void link_group(struct state *s, int vm, int group_number) {
  int group = group_with_window(group_number);
  struct kvm_create_spapr_tce_64 create_table = {.liobn = LIOBN, .page_shift = PAGE_SHIFT, .offset = 0, .size = WINDOW >> PAGE_SHIFT};
  int table = ioctl(vm, KVM_CREATE_SPAPR_TCE_64, &create_table);
  if (table < 0) die("KVM_CREATE_SPAPR_TCE_64");
  struct kvm_device_attr add = {.group = KVM_DEV_VFIO_GROUP, .attr = KVM_DEV_VFIO_GROUP_ADD, .addr = (uint64_t)(uintptr_t)&group};
  ioctl_or_die(s->device, KVM_SET_DEVICE_ATTR, &add, "KVM_DEV_VFIO_GROUP_ADD");
  static struct kvm_vfio_spapr_tce link;
  link = (struct kvm_vfio_spapr_tce){.groupfd = group, .tablefd = table};
  s->link = (struct kvm_device_attr){.group = KVM_DEV_VFIO_GROUP, .attr = KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, .addr = (uint64_t)(uintptr_t)&link};
  ioctl_or_die(s->device, KVM_SET_DEVICE_ATTR, &s->link, "KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE");
  s->has.attr = KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE;
  size_t table_bytes = (WINDOW >> PAGE_SHIFT) * sizeof(uint64_t);
  s->table = mmap(NULL, table_bytes, PROT_READ, MAP_SHARED, table, 0);
  if (s->table == MAP_FAILED) die("mmap table");
}
#endif

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s count reps [group]\n", argv[0]);
    return 2;
  }
  int count = atoi(argv[1]), reps = atoi(argv[2]);
  struct state s = {0};
  s.kvm = open_or_die("/dev/kvm");
  int vm = ioctl(s.kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  struct kvm_create_device create_device = {.type = KVM_DEV_TYPE_VFIO};
  ioctl_or_die(vm, KVM_CREATE_DEVICE, &create_device, "KVM_CREATE_DEVICE");
  s.device = create_device.fd;
  s.has = (struct kvm_device_attr){.group = KVM_DEV_VFIO_GROUP, .attr = KVM_DEV_VFIO_GROUP_ADD};
  s.bad = (struct kvm_device_attr){.group = KVM_DEV_VFIO_GROUP, .attr = 99};
  int kinds = GROUP_KINDS;
#if defined(__powerpc64__)
  if (argc == 4) {
    link_group(&s, vm, atoi(argv[3]));
    kinds = KINDS;
  }
#else
  if (argc == 4) {
    fprintf(stderr, "%s: linking a VFIO group needs a ppc64 build\n", argv[0]);
    return 2;
  }
#endif

  /* Interleaved rounds, as the JavaScript rows: drift on the host hits every kind alike. */
  double samples[KINDS][64];
  if (reps > 64) reps = 64;
  for (int round = -1; round < reps; ++round) { /* round -1 warms up */
    for (int kind = 0; kind < kinds; ++kind) {
      int calls = kind == TABLE_READ ? count * 100 : count;
      double ns = run_ns(&s, kind, round < 0 ? calls / 10 + 1 : calls);
      if (round >= 0) samples[kind][round] = ns;
    }
  }
  printf("{");
  for (int kind = 0; kind < kinds; ++kind) printf("%s\"%s\": %.1f", kind ? ", " : "", kNames[kind], median(samples[kind], reps));
  printf("}\n");
  return s.sink == 12345 ? 3 : 0;
}
