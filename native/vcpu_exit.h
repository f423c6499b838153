// One vCPU exit between kvm_run and JavaScript, shared by the threaded run loop (vcpu_run.cc) and
// the synchronous one (vcpu_run_sync.cc): a snapshot of kvm_run's exit, the event object the
// handler gets, and the handler's answer written back into kvm_run before the next KVM_RUN.
#pragma once

#include <napi.h>

#include <cstdint>

#include "uapi.h"

namespace kvs {

constexpr uint32_t kMaxExitData = 16;

struct ExitInfo {
  uint32_t reason = 0;
  uint64_t hcall_nr = 0;
  uint64_t hcall_args[9] = {};
  uint32_t suberror = 0;       // KVM_EXIT_INTERNAL_ERROR
  uint32_t event_type = 0;     // KVM_EXIT_SYSTEM_EVENT
  uint32_t ndata = 0;          // internal error or system event data words
  uint64_t data[kMaxExitData] = {};
  uint64_t mmio_address = 0;   // KVM_EXIT_MMIO
  uint8_t mmio_data[8] = {};
  uint32_t mmio_length = 0;
  bool mmio_is_write = false;
};

struct Answer {
  bool stop = false;
  bool handler_stopped = false;  // the handler said stop (or returned nothing)
  uint64_t ret = 0;
  uint64_t args[9] = {};
  uint32_t args_mask = 0;     // bit i: args[i] replaces the guest's r(4+i)
  uint8_t mmio_data[8] = {};  // a read's value, in the byte order of the access
};

// The real-time signal that interrupts a KVM_RUN (no SA_RESTART), for stop() and kicks.
int KickSignal();
void InstallKickHandler();

// How a run ended, as lib/ reads it (NativeRunResult).
struct RunTotals {
  const char* outcome;
  uint64_t runs;
  uint64_t exits;
  uint64_t fp_clobbers;
  bool fp_canary_intact;
  long error;
  uint32_t exit_reason;
};
Napi::Object RunResultObject(Napi::Env env, const RunTotals& totals);

// runSync's exit record: one BigUint64Array that lib/ shares with native code, so an exit costs no
// N-API object. Native writes the exit in, lib/ builds the handler's exit object from it in
// JavaScript and writes the answer back (an hcall's ret and args, an MMIO load's bytes).
struct ExitRecordLayout {
  // uint64_t words
  static constexpr uint32_t kFirst = 0;  // hcall nr (answer: ret), MMIO address
  static constexpr uint32_t kWords = 1;  // hcall args (answer: r4..r12) or the kernel's data words
  static constexpr uint32_t kBytes = kWords + kMaxExitData;  // MMIO data (a store's, or the load's answer)
  static constexpr uint32_t kSmall = kBytes + 1;             // then uint32_t fields, read without a BigInt:
  static constexpr uint32_t kSize = kSmall + 2;
  // uint32_t indexes from the record's start
  static constexpr uint32_t kReason = kSmall * 2;  // KVM_EXIT_*
  static constexpr uint32_t kCount = kReason + 1;  // MMIO length or data word count
  static constexpr uint32_t kIsWrite = kReason + 2;
  static constexpr uint32_t kCode = kReason + 3;   // suberror or system event type
};
void WriteExitRecord(const kvm_run* run, uint64_t* record);
// The answer lib/ left in the record -> kvm_run, before the next KVM_RUN.
void ApplyExitRecord(kvm_run* run, const uint64_t* record);
Napi::Object ExitRecordLayoutObject(Napi::Env env);

void CaptureExit(const kvm_run* run, ExitInfo* exit);
Napi::Object ExitEvent(Napi::Env env, const ExitInfo& exit);
// The handler's result -> answer. No pending exception here: the caller handles a throw.
Answer ReadAnswer(Napi::Env env, Napi::Value result, const ExitInfo& exit);
void ApplyAnswer(kvm_run* run, const ExitInfo& exit, const Answer& answer);

}  // namespace kvs
