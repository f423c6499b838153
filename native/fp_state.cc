#include "fp_state.h"

#include <cstring>

namespace kvs {

#if defined(__powerpc64__)

#define KVS_FPR_OP(op, n, offset) #op " " #n "," #offset "(%[base])\n\t"
#define KVS_ALL_FPRS(op)                                                                          \
  KVS_FPR_OP(op, 14, 0) KVS_FPR_OP(op, 15, 8) KVS_FPR_OP(op, 16, 16) KVS_FPR_OP(op, 17, 24)       \
  KVS_FPR_OP(op, 18, 32) KVS_FPR_OP(op, 19, 40) KVS_FPR_OP(op, 20, 48) KVS_FPR_OP(op, 21, 56)     \
  KVS_FPR_OP(op, 22, 64) KVS_FPR_OP(op, 23, 72) KVS_FPR_OP(op, 24, 80) KVS_FPR_OP(op, 25, 88)     \
  KVS_FPR_OP(op, 26, 96) KVS_FPR_OP(op, 27, 104) KVS_FPR_OP(op, 28, 112) KVS_FPR_OP(op, 29, 120)  \
  KVS_FPR_OP(op, 30, 128) KVS_FPR_OP(op, 31, 136)

#define KVS_VR_OP(op, n, offset) "li 9," #offset "\n\t" #op " " #n ",%[base],9\n\t"
#define KVS_ALL_VRS(op)                                                                          \
  KVS_VR_OP(op, 20, 0) KVS_VR_OP(op, 21, 16) KVS_VR_OP(op, 22, 32) KVS_VR_OP(op, 23, 48)          \
  KVS_VR_OP(op, 24, 64) KVS_VR_OP(op, 25, 80) KVS_VR_OP(op, 26, 96) KVS_VR_OP(op, 27, 112)        \
  KVS_VR_OP(op, 28, 128) KVS_VR_OP(op, 29, 144) KVS_VR_OP(op, 30, 160) KVS_VR_OP(op, 31, 176)

__attribute__((noinline)) void SaveNonVolatileFp(NonVolatileFpState* state) {
  asm volatile(KVS_ALL_FPRS(stfd) : : [base] "b"(state->fpr) : "memory");
  asm volatile(KVS_ALL_VRS(stvx) : : [base] "b"(state->vr) : "r9", "memory");
  asm volatile("mffs 0\n\tstfd 0,0(%[base])" : : [base] "b"(&state->fpscr) : "fr0", "memory");
  asm volatile("mfvscr 0\n\tstvx 0,0,%[base]" : : [base] "b"(state->vscr) : "v0", "memory");
}

__attribute__((noinline)) void RestoreNonVolatileFp(const NonVolatileFpState* state) {
  asm volatile("lvx 0,0,%[base]\n\tmtvscr 0" : : [base] "b"(state->vscr) : "v0", "memory");
  asm volatile("lfd 0,0(%[base])\n\tmtfsf 0xff,0" : : [base] "b"(&state->fpscr) : "fr0", "memory");
  asm volatile(KVS_ALL_VRS(lvx) : : [base] "b"(state->vr) : "r9", "memory");
  asm volatile(KVS_ALL_FPRS(lfd) : : [base] "b"(state->fpr) : "memory");
}

namespace {
uint64_t CanaryFor(int index) { return 0x4b564d5f46500000ULL | (static_cast<uint64_t>(index) << 4) | 0x5; }
}  // namespace

__attribute__((noinline)) void LoadFpCanaries() {
  NonVolatileFpState state;
  SaveNonVolatileFp(&state);
  for (int i = 0; i < 18; ++i) state.fpr[i] = CanaryFor(i);
  RestoreNonVolatileFp(&state);
}

__attribute__((noinline)) bool FpCanariesIntact() {
  NonVolatileFpState state;
  SaveNonVolatileFp(&state);
  for (int i = 0; i < 18; ++i) {
    if (state.fpr[i] != CanaryFor(i)) return false;
  }
  return true;
}

#else

void SaveNonVolatileFp(NonVolatileFpState* state) { std::memset(state, 0, sizeof(*state)); }
void RestoreNonVolatileFp(const NonVolatileFpState*) {}
void LoadFpCanaries() {}
bool FpCanariesIntact() { return true; }

#endif

bool SameNonVolatileRegisters(const NonVolatileFpState& a, const NonVolatileFpState& b) {
  return std::memcmp(a.fpr, b.fpr, sizeof(a.fpr)) == 0 && std::memcmp(a.vr, b.vr, sizeof(a.vr)) == 0;
}

}  // namespace kvs
