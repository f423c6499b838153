/* The C peer of bench/x86-exits.mjs: a C VMM's vCPU loop on this x86 machine's /dev/kvm, answering
 * the same guest's exits on the thread that calls KVM_RUN. Usage: x86_exits <exits> <reps>; prints
 * JSON with the median ns per exit of `reps` interleaved rounds for each guest (bench/x86-exits.mjs runs
 * one round at a time, between its own):
 *   io    out 0x10, al; jmp back      (KVM_EXIT_IO, the handler reads the port and the byte)
 *   mmio  mov [0x8000], al; jmp back  (KVM_EXIT_MMIO: no memslot at 0x8000; it reads address and byte)
 * Each round makes its VM, runs 1,000 exits to warm up, then times `exits` exits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

/* An x86 vCPU starts in real mode at guest-physical 0xfffffff0 (arch/x86/kvm/x86.c kvm_vcpu_reset). */
#define RESET_SLOT_BASE 0xffff0000ULL
#define RESET_SLOT_SIZE 0x10000
#define RESET_OFFSET 0xfff0
#define WARMUP 1000

static const unsigned char IO_LOOP[] = {0xe6, 0x10, 0xeb, 0xfc};         /* out 0x10, al; jmp $-2 */
static const unsigned char MMIO_LOOP[] = {0xa2, 0x00, 0x80, 0xeb, 0xfb}; /* mov [0x8000], al; jmp $-3 */

static volatile uint64_t sink;

struct machine {
  int kvm, vm, vcpu;
  void *memory;
  struct kvm_run *run;
  size_t run_size;
};

static void machine_open(struct machine *m, const unsigned char *program, size_t length) {
  m->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (m->kvm < 0) die("open /dev/kvm");
  m->vm = ioctl(m->kvm, KVM_CREATE_VM, 0);
  if (m->vm < 0) die("KVM_CREATE_VM");
  m->memory = mmap(NULL, RESET_SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m->memory == MAP_FAILED) die("mmap guest memory");
  memcpy((unsigned char *)m->memory + RESET_OFFSET, program, length);
  struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = RESET_SLOT_BASE, .memory_size = RESET_SLOT_SIZE, .userspace_addr = (uint64_t)(uintptr_t)m->memory};
  if (ioctl(m->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  m->vcpu = ioctl(m->vm, KVM_CREATE_VCPU, 0);
  if (m->vcpu < 0) die("KVM_CREATE_VCPU");
  int size = ioctl(m->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < 0) die("KVM_GET_VCPU_MMAP_SIZE");
  m->run_size = (size_t)size;
  m->run = mmap(NULL, m->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->vcpu, 0);
  if (m->run == MAP_FAILED) die("mmap kvm_run");
}

static void machine_close(struct machine *m) {
  munmap(m->run, m->run_size);
  close(m->vcpu);
  munmap(m->memory, RESET_SLOT_SIZE);
  close(m->vm);
  close(m->kvm);
}

/* One exit, answered: what a VMM's dispatch reads before it would emulate the access. */
static void run_one(struct machine *m, uint32_t expected) {
  if (ioctl(m->vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
  struct kvm_run *run = m->run;
  if (run->exit_reason != expected) {
    fprintf(stderr, "unexpected exit reason %u (wanted %u)\n", run->exit_reason, expected);
    exit(1);
  }
  if (expected == KVM_EXIT_IO) sink += run->io.port + *((uint8_t *)run + run->io.data_offset);
  else sink += run->mmio.phys_addr + run->mmio.data[0];
}

static double ns_per_exit(const unsigned char *program, size_t length, uint32_t expected, long exits) {
  struct machine m;
  machine_open(&m, program, length);
  for (int i = 0; i < WARMUP; ++i) run_one(&m, expected);
  double started = now_ns();
  for (long i = 0; i < exits; ++i) run_one(&m, expected);
  double elapsed = now_ns() - started;
  machine_close(&m);
  return elapsed / exits;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <exits> <reps>\n", argv[0]);
    return 2;
  }
  long exits = atol(argv[1]);
  int reps = atoi(argv[2]);
  if (exits < 1 || reps < 1 || reps > 99) return 2;
  double io[99], mmio[99];
  for (int r = 0; r < reps; ++r) {
    io[r] = ns_per_exit(IO_LOOP, sizeof(IO_LOOP), KVM_EXIT_IO, exits);
    mmio[r] = ns_per_exit(MMIO_LOOP, sizeof(MMIO_LOOP), KVM_EXIT_MMIO, exits);
  }
  printf("{\"io\":%.1f,\"mmio\":%.1f}\n", median(io, reps), median(mmio, reps));
  return 0;
}
