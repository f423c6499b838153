/* The reference for bench:power: the smallest VMM in C that runs the same L2 program (the memory
 * image bench/power.mjs writes) with every loop hypercall exiting to user space (case A), answered
 * here with H_SUCCESS. Cross-compiled static for ppc64le; run inside the emulated POWER host.
 * Usage: l2_vmm <image> <iterations> <liobn> <memory bytes> [--main-thread | --touch-pages N];
 * prints JSON {hypercalls, userExits, seconds}.
 *
 * --touch-pages N reads one byte from each of N distinct 4 KiB pages after every exit, as a bigger
 * handler would: on the emulated host each costs a software-TLB refill (QEMU flushes its TLB when
 * it enters and leaves the nested guest: tlb_flush in h_enter_nested / spapr_exit_nested, QEMU's
 * hw/ppc/spapr_hcall.c), which is what a JavaScript handler pays many times over.
 *
 * The vCPU runs on a thread of its own, as in the library. On the emulated POWER host the cost of
 * an exit was bimodal, ~0.13 ms or 6-17 ms, and the slow mode came mostly with KVM_RUN on the
 * process's main thread (in one boot: 3 of 3 main-thread runs, 0 of 4 second-thread runs);
 * --main-thread keeps that visible. */
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
#include <pthread.h>
#include <unistd.h>

#define ENTRY 0x10000
#define DONE 0x6fff
#define MSR_LE_REAL_MODE 0x8000000000001001ULL
#define LPCR_ILE 0x2000000ULL

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int vm_ioctl(int fd, unsigned long request, void *arg, const char *what) {
  int result = ioctl(fd, request, arg);
  if (result < 0) die(what);
  return result;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void load_image(const char *path, uint8_t *memory, size_t size) {
  FILE *file = fopen(path, "rb");
  if (!file) die(path);
  size_t length = fread(memory, 1, size, file);
  fclose(file);
  if (length == 0) die("empty image");
}

struct vcpu_loop {
  int vcpu;
  struct kvm_run *run;
  uint64_t user_exits;
  volatile uint8_t *touch_area; /* touch_pages pages, one byte read from each after every exit */
  size_t touch_pages;
  uint64_t touch_sum;
};

#define TOUCH_STRIDE 4096

/* Runs until the DONE marker, answering every other hypercall with H_SUCCESS. */
static void *run_until_done(void *argument) {
  struct vcpu_loop *loop = argument;
  for (;;) {
    if (ioctl(loop->vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (loop->run->exit_reason != KVM_EXIT_PAPR_HCALL) {
      fprintf(stderr, "unexpected exit %u\n", loop->run->exit_reason);
      exit(1);
    }
    if (loop->run->papr_hcall.nr == DONE) return NULL;
    ++loop->user_exits;
    for (size_t page = 0; page < loop->touch_pages; ++page) loop->touch_sum += loop->touch_area[page * TOUCH_STRIDE];
    loop->run->papr_hcall.ret = 0;
  }
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 7) {
    fprintf(stderr, "usage: %s <image> <iterations> <liobn> <memory bytes> [--main-thread | --touch-pages N]\n", argv[0]);
    return 2;
  }
  int main_thread = argc == 6 && strcmp(argv[5], "--main-thread") == 0;
  size_t touch_pages = argc == 7 && strcmp(argv[5], "--touch-pages") == 0 ? strtoull(argv[6], NULL, 0) : 0;
  uint64_t iterations = strtoull(argv[2], NULL, 0), liobn = strtoull(argv[3], NULL, 0);
  size_t memory_size = strtoull(argv[4], NULL, 0);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  uint8_t *memory = mmap(NULL, memory_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) die("mmap");
  load_image(argv[1], memory, memory_size);
  struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0, .memory_size = memory_size, .userspace_addr = (uintptr_t)memory};
  vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  struct kvm_enable_cap papr = {.cap = KVM_CAP_PPC_PAPR};
  vm_ioctl(vcpu, KVM_ENABLE_CAP, &papr, "KVM_ENABLE_CAP(PPC_PAPR)");
  uint64_t lpcr = 0;
  struct kvm_one_reg one = {.id = KVM_REG_PPC_LPCR_64, .addr = (uintptr_t)&lpcr};
  vm_ioctl(vcpu, KVM_GET_ONE_REG, &one, "KVM_GET_ONE_REG");
  lpcr |= LPCR_ILE;
  vm_ioctl(vcpu, KVM_SET_ONE_REG, &one, "KVM_SET_ONE_REG");
  struct kvm_regs regs;
  vm_ioctl(vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
  memset(regs.gpr, 0, sizeof(regs.gpr));
  regs.pc = ENTRY;
  regs.msr = MSR_LE_REAL_MODE;
  regs.gpr[14] = iterations; /* the register layout of examples/l2-program.ts (Reg) */
  regs.gpr[15] = 0x20;       /* H_PUT_TCE */
  regs.gpr[16] = liobn;
  regs.gpr[18] = 0x1000;
  regs.gpr[19] = 0x100003;
  regs.gpr[20] = 0x1000;
  regs.gpr[21] = 1;
  vm_ioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

  struct vcpu_loop loop = {.vcpu = vcpu, .run = run, .touch_pages = touch_pages};
  if (touch_pages > 0) {
    loop.touch_area = mmap(NULL, touch_pages * TOUCH_STRIDE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (loop.touch_area == MAP_FAILED) die("mmap touch area");
    for (size_t page = 0; page < touch_pages; ++page) loop.touch_area[page * TOUCH_STRIDE] = 1;
  }
  double started = now();
  if (main_thread) {
    run_until_done(&loop);
  } else {
    pthread_t thread;
    if (pthread_create(&thread, NULL, run_until_done, &loop) != 0) die("pthread_create");
    pthread_join(thread, NULL);
  }
  double seconds = now() - started;
  uint64_t user_exits = loop.user_exits;
  vm_ioctl(vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
  printf("{\"hypercalls\": %llu, \"userExits\": %llu, \"seconds\": %.6f}\n", (unsigned long long)regs.gpr[22], (unsigned long long)user_exits, seconds);
  return 0;
}
