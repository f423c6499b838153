// The synchronous run loop: KVM_RUN on the calling thread, each exit answered by a JavaScript call
// on that same thread, as QEMU's vCPU threads answer theirs in C. No thread switch and no event-loop
// turn per exit, so it is meant for a Worker (one vCPU per Worker); lib/ refuses it on the main
// thread, whose event loop must never block. Another thread stops it through a stop flag in a
// SharedArrayBuffer: kickVcpu() sets the flag, sets immediate_exit and signals the loop's thread.
// The loop runs on a CLOEXEC duplicate of the vCPU fd and pins kvm_run, so a handler that closes
// the Vcpu never makes it act on a recycled fd.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>

#include "addon.h"
#include "fp_state.h"
#include "mapping.h"
#include "syscall.h"
#include "uapi.h"
#include "vcpu_exit.h"

namespace kvs {
namespace {

struct SyncRun {
  pthread_t thread;
  kvm_run* run;
};

// Process-wide: the stop flag's address (shared by every thread that sees the SharedArrayBuffer)
// -> the loop that watches it.
std::mutex g_sync_runs_mutex;
std::map<const int32_t*, SyncRun> g_sync_runs;

bool StopRequested(const int32_t* flag) { return flag != nullptr && __atomic_load_n(flag, __ATOMIC_SEQ_CST) != 0; }

// The Int32Array stop flag in argument `index`, or nullptr when undefined.
bool StopFlagArg(NativeCall& call, size_t index, int32_t** out) {
  if (call.IsUndefined(index)) return true;
  void* data = nullptr;
  if (!call.TypedArray(index, napi_int32_array, 1, &data)) return false;
  *out = static_cast<int32_t*>(data);
  return true;
}

struct LoopState {
  int fd;
  kvm_run* run;
  const int32_t* stop_flag;
  uint64_t* record;  // ExitRecordLayout: each exit in, the answer out
  uint64_t* registers = nullptr;  // [nr, r4..r12]: hypercalls go to the register handler, nothing allocated
  napi_value register_handler = nullptr;
  napi_value registers_value = nullptr;  // the BigUint64Array itself, the handler's one argument
  uint64_t runs = 0;
  uint64_t exits = 0;
  uint64_t fp_clobbers = 0;
  uint64_t register_hypercalls = 0;
  long error = 0;
  const char* outcome = "stopped";
};

// One KVM_RUN with the non-volatile FP/VMX state kept (fp_state.h): 0, or -errno.
long RunGuarded(LoopState* state) {
  if (g_trace_enabled) TraceSyscall(kIoctl, KVM_RUN);
  long result = KeepingNonVolatileFp([state] { return ioctl(state->fd, KVM_RUN, 0) < 0 ? NegativeErrno() : 0; }, &state->fp_clobbers);
  ++state->runs;
  return result;
}

// A hypercall through the register handler: registers = [nr, r4..r12] in, handler(registers) returns r3
// (a BigInt) and may change registers[1..9], which go back to r4..r12; any other value stops the
// run. 1: answered, 0: stop, -1: the handler threw.
int AnswerFromRegisters(Napi::Env env, LoopState* state) {
  kvm_run* run = state->run;
  ++state->register_hypercalls;
  state->registers[0] = run->papr_hcall.nr;
  std::memcpy(state->registers + 1, run->papr_hcall.args, sizeof(run->papr_hcall.args));
  napi_value receiver;
  napi_value result;
  napi_get_undefined(env, &receiver);
  if (napi_call_function(env, receiver, state->register_handler, 1, &state->registers_value, &result) != napi_ok) return -1;
  uint64_t ret = 0;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, result, &ret, &lossless) != napi_ok) return 0;
  run->papr_hcall.ret = ret;
  std::memcpy(run->papr_hcall.args, state->registers + 1, sizeof(run->papr_hcall.args));
  return 1;
}

// Any other exit through the record: the handler (lib/'s dispatcher, no arguments) reads the exit
// from it, writes the answer into it and returns 1 to stop, 0 to go on. -1: the handler threw.
int AnswerFromRecord(Napi::Env env, napi_value handler, LoopState* state) {
  WriteExitRecord(state->run, state->record);
  napi_value receiver;
  napi_value result;
  napi_get_undefined(env, &receiver);
  if (napi_call_function(env, receiver, handler, 0, nullptr, &result) != napi_ok) return -1;
  int32_t stop = 1;
  napi_get_value_int32(env, result, &stop);
  if (stop != 0) return 1;
  ApplyExitRecord(state->run, state->record);
  return 0;
}

// The handles an exit makes (the receiver, the handler's result) live in a scope that is closed
// and reopened every kExitsPerScope exits: a run lasts as long as the guest, so they must not
// pile up, and node's napi_open_handle_scope allocates, too dear for every exit. The exit
// objects themselves are JavaScript's and no handle holds them.
class ExitHandleScopes {
 public:
  explicit ExitHandleScopes(napi_env env) : env_(env) { napi_open_handle_scope(env_, &scope_); }
  ~ExitHandleScopes() { napi_close_handle_scope(env_, scope_); }
  ExitHandleScopes(const ExitHandleScopes&) = delete;
  ExitHandleScopes& operator=(const ExitHandleScopes&) = delete;
  void Count() {
    if (++exits_ % kExitsPerScope != 0) return;
    napi_close_handle_scope(env_, scope_);
    napi_open_handle_scope(env_, &scope_);
  }

 private:
  static constexpr uint32_t kExitsPerScope = 64;
  napi_env env_;
  napi_handle_scope scope_;
  uint32_t exits_ = 0;
};

// Runs until stop, a handler's stop, an error, or a throw (false: the exception is pending).
bool Loop(Napi::Env env, napi_value handler, LoopState* state) {
  ExitHandleScopes scopes(env);
  for (;;) {
    if (StopRequested(state->stop_flag)) return true;
    long result = RunGuarded(state);
    if (result == -EINTR) continue;
    if (result < 0) {
      state->error = result;
      state->outcome = "error";
      return true;
    }
    ++state->exits;
    scopes.Count();
    if (state->registers != nullptr && state->run->exit_reason == KVM_EXIT_PAPR_HCALL) {
      int answered = AnswerFromRegisters(env, state);
      if (answered < 0) return false;
      if (answered == 0) {
        state->outcome = "handler";
        return true;
      }
      continue;
    }
    int stop = AnswerFromRecord(env, handler, state);
    if (stop < 0) return false;
    if (stop == 1) {
      state->outcome = "handler";
      return true;
    }
  }
}

napi_value SyncResult(Napi::Env env, const LoopState& state) {
  Napi::Object result = RunResultObject(env, {state.outcome, state.runs, state.exits, state.fp_clobbers, true, state.error, state.run->exit_reason});
  result.Set("registerHypercalls", Napi::BigInt::New(env, state.register_hypercalls));
  return result;
}

// The exit record (a BigUint64Array of ExitRecordLayout::kSize) in argument `index`.
bool RecordArg(NativeCall& call, size_t index, uint64_t** out) {
  void* data = nullptr;
  if (!call.TypedArray(index, napi_biguint64_array, ExitRecordLayout::kSize, &data)) return false;
  *out = static_cast<uint64_t*>(data);
  return true;
}

// The BigUint64Array(10) of register hypercalls in argument `index` (or undefined) and its handler in index + 1.
bool RegisterArgs(NativeCall& call, size_t index, LoopState* state) {
  if (call.IsUndefined(index)) return true;
  void* data = nullptr;
  napi_valuetype handler_type;
  napi_typeof(call.env(), call.arg(index + 1), &handler_type);
  if (!call.TypedArray(index, napi_biguint64_array, 10, &data) || handler_type != napi_function) return false;
  state->registers = static_cast<uint64_t*>(data);
  state->registers_value = call.arg(index);
  state->register_handler = call.arg(index + 1);
  return true;
}

// runVcpuSync(vcpuFd, runMappingHandle, handler, record, stopFlag?, registers?, registerHandler?)
// -> result | -errno; throws what a handler threw.
napi_value RunVcpuSync(napi_env raw_env, napi_callback_info info) {
  NativeCall call(raw_env, info, "runVcpuSync");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  MappingRef mapping = MappingArg(call, 1);
  if (!mapping) return nullptr;
  napi_valuetype type;
  napi_typeof(raw_env, call.arg(2), &type);
  if (type != napi_function) return call.BadArgument(2);
  uint64_t* record = nullptr;
  if (!RecordArg(call, 3, &record)) return call.BadArgument(3);
  int32_t* stop_flag = nullptr;
  if (!StopFlagArg(call, 4, &stop_flag)) return call.BadArgument(4);
  LoopState registers_only{};
  if (!RegisterArgs(call, 5, &registers_only)) return call.BadArgument(5);
  if (mapping->length() < sizeof(kvm_run) || !mapping->Pin()) return call.BadArgument(1);
  long duplicate = DuplicateCloexec(fd);
  if (duplicate < 0) {
    mapping->Unpin();
    return call.Number(duplicate);
  }
  InstallKickHandler();
  LoopState state{static_cast<int>(duplicate), static_cast<kvm_run*>(mapping->address()), stop_flag, record, registers_only.registers, registers_only.register_handler, registers_only.registers_value};
  __atomic_store_n(&state.run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  if (stop_flag) {
    std::lock_guard<std::mutex> lock(g_sync_runs_mutex);
    g_sync_runs[stop_flag] = SyncRun{pthread_self(), state.run};
  }
  Napi::Env env(raw_env);
  bool finished = Loop(env, call.arg(2), &state);
  if (stop_flag) {
    std::lock_guard<std::mutex> lock(g_sync_runs_mutex);
    g_sync_runs.erase(stop_flag);
  }
  __atomic_store_n(&state.run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  close(state.fd);
  napi_value result = finished ? SyncResult(env, state) : nullptr;
  mapping->Unpin();
  return result;
}

// kickVcpu(stopFlag) -> true when a synchronous loop was watching it. Any thread may call it.
napi_value KickVcpu(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "kickVcpu");
  int32_t* stop_flag = nullptr;
  if (!StopFlagArg(call, 0, &stop_flag) || stop_flag == nullptr) return call.BadArgument(0);
  __atomic_store_n(stop_flag, 1, __ATOMIC_SEQ_CST);
  std::lock_guard<std::mutex> lock(g_sync_runs_mutex);
  auto found = g_sync_runs.find(stop_flag);
  bool watched = found != g_sync_runs.end();
  if (watched) {
    __atomic_store_n(&found->second.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    pthread_kill(found->second.thread, KickSignal());
  }
  napi_value result;
  napi_get_boolean(env, watched, &result);
  return result;
}

const FunctionSpec kFunctions[] = {
    {"runVcpuSync", RunVcpuSync},
    {"kickVcpu", KickVcpu},
};

}  // namespace

void RegisterVcpuRunSync(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
  exports.Set("exitRecordLayout", ExitRecordLayoutObject(env));
}

}  // namespace kvs
