// Shared pieces of the native layer: per-environment state and argument readers.
// lib/ validates every argument first; these readers are the last line of defence and turn a
// wrong type into a TypeError instead of a syscall.
#pragma once


#include <napi.h>

#include <cstdint>

#include "fd.h"

namespace kvs {

struct AddonState {
  FdTable fds;
};

inline AddonState* State(const Napi::CallbackInfo& info) {
  return static_cast<AddonState*>(info.Data());
}

bool ReadInt32(napi_env env, napi_value value, int32_t* out);
bool ReadUint32(napi_env env, napi_value value, uint32_t* out);
// Accepts a BigInt (lossless, non-negative) or a Number that is a safe non-negative integer.
bool ReadU64(napi_env env, napi_value value, uint64_t* out);

// Reads argument `index` as an fd this environment owns; otherwise throws and returns -1.
int OwnedFd(const Napi::CallbackInfo& info, size_t index);
// Throws a TypeError naming the native function; returns undefined for convenience.
Napi::Value ThrowBadArgument(const Napi::CallbackInfo& info, const char* function, size_t index);

inline Napi::Value Result(Napi::Env env, long result) {
  return Napi::Number::New(env, static_cast<double>(result));
}
// A result that is a new fd is recorded as owned before it reaches JavaScript.
Napi::Value AdoptResult(const Napi::CallbackInfo& info, long result);

using Registrar = void (*)(Napi::Env env, Napi::Object exports, AddonState* state);
void SetFunction(Napi::Env env, Napi::Object exports, AddonState* state, const char* name,
                 Napi::Function::Callback callback);

void RegisterFd(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmSystem(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmVm(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterKvmDevice(Napi::Env env, Napi::Object exports, AddonState* state);
void RegisterBenchProbe(Napi::Env env, Napi::Object exports, AddonState* state);
Napi::Object RequestNumbers(Napi::Env env);

}  // namespace kvs
