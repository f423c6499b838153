// Shared pieces of the native layer: per-environment state, argument readers and registration.
// Every ioctl wrapper is a raw N-API callback reading its arguments through NativeCall: after a
// syscall every page the return path touches is cold (PTI/L1D flushes), so the hot path keeps
// to a few N-API calls. lib/ validates every argument first; the readers here are the last line
// of defence and turn a wrong type into a TypeError instead of a syscall.
#pragma once

#include <napi.h>

#include <cstdint>
#include <type_traits>

#include "fd.h"

namespace kvs {

void* NewRunnerRegistry();
void AbortRunners(void* registry);
void DeleteRunnerRegistry(void* registry);

struct AddonState {
  FdTable fds;
  void* runners = NewRunnerRegistry();  // vcpu_run.cc: vCPU threads of this environment
};

bool ReadInt32(napi_env env, napi_value value, int32_t* out);
bool ReadUint32(napi_env env, napi_value value, uint32_t* out);
// Accepts a BigInt (lossless, non-negative) or a Number that is a safe non-negative integer.
bool ReadU64(napi_env env, napi_value value, uint64_t* out);

// The arguments of one call. Readers return false after throwing a TypeError.
class NativeCall {
 public:
  static constexpr size_t kMaxArgs = 8;

  NativeCall(napi_env env, napi_callback_info info, const char* name);

  napi_env env() const { return env_; }
  AddonState* state() const { return state_; }
  napi_value arg(size_t index) const { return argv_[index]; }

  // An fd this environment owns; otherwise throws ERR_KVM_FD_NOT_OWNED (no syscall) and returns -1.
  int OwnedFd(size_t index);
  bool Int32(size_t index, int32_t* out);
  bool Uint32(size_t index, uint32_t* out);
  bool U64(size_t index, uint64_t* out);
  // __u64 is unsigned long long on x86_64 and unsigned long on ppc64: accept either.
  template <typename T, typename = std::enable_if_t<sizeof(T) == 8 && std::is_unsigned_v<T> && !std::is_same_v<T, uint64_t>>>
  bool U64(size_t index, T* out) {
    uint64_t value = 0;
    if (!U64(index, &value)) return false;
    *out = value;
    return true;
  }

  napi_value Number(long result);       // >= 0 or -errno
  napi_value AdoptedFd(long result);    // a new fd is recorded as owned before JS sees it
  napi_value BigInt(uint64_t value);
  // Sets object[name] to a Number / a BigInt (for result objects built in native code).
  void SetNumber(napi_value object, const char* name, double value);
  void SetBigInt(napi_value object, const char* name, uint64_t value);
  napi_value Undefined();
  // A typed array of `type` with at least `min_length` elements in argument `index`; false (no throw) otherwise.
  bool TypedArray(size_t index, napi_typedarray_type type, size_t min_length, void** data, size_t* length = nullptr);
  bool IsUndefined(size_t index) const {
    napi_valuetype type;
    napi_typeof(env_, argv_[index], &type);
    return type == napi_undefined;
  }
  napi_value BadArgument(size_t index);  // throws; returns nullptr

 private:
  napi_env env_;
  const char* name_;
  AddonState* state_ = nullptr;
  size_t argc_ = kMaxArgs;
  napi_value argv_[kMaxArgs];
};

using RawCallback = napi_value (*)(napi_env env, napi_callback_info info);

// The syscall trace's JavaScript face, shared by the library's addon and the benchmarks' probe.
napi_value SetSyscallTraceCallback(napi_env env, napi_callback_info info);
napi_value TakeSyscallTraceCallback(napi_env env, napi_callback_info info);

struct FunctionSpec {
  const char* name;
  RawCallback callback;
};

void DefineFunctions(Napi::Env env, Napi::Object exports, AddonState* state, const FunctionSpec* specs, size_t count);

template <size_t N>
void DefineFunctions(Napi::Env env, Napi::Object exports, AddonState* state, const FunctionSpec (&specs)[N]) {
  DefineFunctions(env, exports, state, specs, N);
}

void RegisterFd(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmSystem(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmVm(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmDevice(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterMapping(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterSpaprTceTable(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterVfioContainer(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterVfioGroup(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterVfioDevice(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmVcpu(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterVcpuRun(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterVcpuRunSync(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmVmPpc(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmIrq(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterEventFd(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterTables(Napi::Env env, Napi::Object exports);

}  // namespace kvs
