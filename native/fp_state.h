// The non-volatile floating-point and vector state of the ppc64 ELFv2 ABI (f14-f31, v20-v31,
// FPSCR, VSCR). On the emulated POWER host, KVM_RUN returns with the calling thread's callee-saved
// FP registers holding the guest's values (7 of 9 boots; shared/notes/l2-guest.md, not root-caused),
// so the vCPU thread saves this state before KVM_RUN and restores it after. Elsewhere these are no-ops.
#pragma once

#include <cstdint>

namespace kvs {

struct NonVolatileFpState {
  alignas(16) uint8_t vr[12][16];  // v20-v31
  alignas(16) uint8_t vscr[16];
  uint64_t fpr[18];                // f14-f31, as raw bits
  uint64_t fpscr;
};

// Both are separate, non-inlined calls on purpose: Restore writes the caller's callee-saved
// registers without telling the compiler, which is exactly the point.
void SaveNonVolatileFp(NonVolatileFpState* state);
void RestoreNonVolatileFp(const NonVolatileFpState* state);
// True when f14-f31 and v20-v31 hold the same bits in both (FPSCR status bits may differ).
bool SameNonVolatileRegisters(const NonVolatileFpState& a, const NonVolatileFpState& b);
// One KVM_RUN (`run()`, returning 0 or -errno) with the non-volatile FP/VMX state kept, counting
// the runs after which it came back changed in *clobbers. Elsewhere only the call: x86's KVM_RUN
// keeps user space's FP state (arch/x86/kvm/x86.c kvm_put_guest_fpu).
template <typename Run>
long KeepingNonVolatileFp(Run run, uint64_t* clobbers) {
#if defined(__powerpc64__)
  NonVolatileFpState before;
  NonVolatileFpState after;
  SaveNonVolatileFp(&before);
  long result = run();
  SaveNonVolatileFp(&after);
  RestoreNonVolatileFp(&before);
  if (!SameNonVolatileRegisters(before, after)) ++*clobbers;
  return result;
#else
  (void)clobbers;
  return run();
#endif
}

// Loads recognisable values into f14-f31 (for the test that they survive many KVM_RUNs).
void LoadFpCanaries();
bool FpCanariesIntact();

}  // namespace kvs
