#include <cmath>
#include <string>
#include <vector>

#include "addon.h"
#include "syscall.h"

namespace kvs {

bool ReadInt32(napi_env env, napi_value value, int32_t* out) {
  return napi_get_value_int32(env, value, out) == napi_ok;
}

bool ReadUint32(napi_env env, napi_value value, uint32_t* out) {
  return napi_get_value_uint32(env, value, out) == napi_ok;
}

bool ReadU64(napi_env env, napi_value value, uint64_t* out) {
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, value, out, &lossless) == napi_ok) return lossless;
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) return false;
  if (!(number >= 0 && number <= 9007199254740991.0) || std::floor(number) != number) return false;
  *out = static_cast<uint64_t>(number);
  return true;
}

NativeCall::NativeCall(napi_env env, napi_callback_info info, const char* name) : env_(env), name_(name) {
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc_, argv_, nullptr, &data);
  state_ = static_cast<AddonState*>(data);  // napi_get_cb_info fills missing arguments with undefined
}

int NativeCall::OwnedFd(size_t index) {
  int32_t fd = -1;
  if (ReadInt32(env_, argv_[index], &fd) && state_->fds.Owns(fd)) return fd;
  std::string message = std::string("kvm-vfio-spapr native ") + name_ + ": fd " + std::to_string(fd) +
                        " is not owned by this environment; no syscall was issued (a bug in lib/)";
  napi_throw_error(env_, "ERR_KVM_FD_NOT_OWNED", message.c_str());
  return -1;
}

bool NativeCall::Int32(size_t index, int32_t* out) {
  if (ReadInt32(env_, argv_[index], out)) return true;
  BadArgument(index);
  return false;
}

bool NativeCall::Uint32(size_t index, uint32_t* out) {
  if (ReadUint32(env_, argv_[index], out)) return true;
  BadArgument(index);
  return false;
}

bool NativeCall::U64(size_t index, uint64_t* out) {
  if (ReadU64(env_, argv_[index], out)) return true;
  BadArgument(index);
  return false;
}

napi_value NativeCall::Number(long result) {
  napi_value value;
  if (result >= INT32_MIN && result <= INT32_MAX) {
    napi_create_int32(env_, static_cast<int32_t>(result), &value);
  } else {
    napi_create_double(env_, static_cast<double>(result), &value);
  }
  return value;
}

napi_value NativeCall::AdoptedFd(long result) {
  if (result >= 0) state_->fds.Adopt(static_cast<int>(result));
  return Number(result);
}

napi_value NativeCall::BigInt(uint64_t value) {
  napi_value result;
  napi_create_bigint_uint64(env_, value, &result);
  return result;
}

void NativeCall::SetNumber(napi_value object, const char* name, double value) {
  napi_value number;
  napi_create_double(env_, value, &number);
  napi_set_named_property(env_, object, name, number);
}

void NativeCall::SetBigInt(napi_value object, const char* name, uint64_t value) {
  napi_set_named_property(env_, object, name, BigInt(value));
}

napi_value NativeCall::Undefined() {
  napi_value undefined;
  napi_get_undefined(env_, &undefined);
  return undefined;
}

napi_value NativeCall::BadArgument(size_t index) {
  std::string message = std::string("kvm-vfio-spapr native ") + name_ + ": argument " + std::to_string(index) +
                        " has the wrong type (a bug in lib/)";
  napi_throw_type_error(env_, "ERR_INVALID_ARG_TYPE", message.c_str());
  return nullptr;
}

void DefineFunctions(Napi::Env env, Napi::Object exports, AddonState* state, const FunctionSpec* specs, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    napi_value function;
    napi_create_function(env, specs[i].name, NAPI_AUTO_LENGTH, specs[i].callback, state, &function);
    exports.Set(specs[i].name, Napi::Value(env, function));
  }
}

}  // namespace kvs

namespace kvs {

std::vector<uint64_t> TakeSyscallTrace();

// setSyscallTrace(enabled) -> undefined
napi_value SetSyscallTraceCallback(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setSyscallTrace");
  bool enabled = false;
  napi_get_value_bool(env, call.arg(0), &enabled);
  g_trace_enabled = enabled;
  return call.Undefined();
}

// takeSyscallTrace() -> [kind, request, kind, request, ...] (requests fit in 32 bits).
napi_value TakeSyscallTraceCallback(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "takeSyscallTrace");
  std::vector<uint64_t> entries = TakeSyscallTrace();
  napi_value array;
  napi_create_array_with_length(env, entries.size(), &array);
  for (size_t i = 0; i < entries.size(); ++i) {
    napi_value value;
    napi_create_double(env, static_cast<double>(entries[i]), &value);
    napi_set_element(env, array, static_cast<uint32_t>(i), value);
  }
  return array;
}

bool NativeCall::TypedArray(size_t index, napi_typedarray_type type, size_t min_length, void** data, size_t* length) {
  bool is_typedarray = false;
  napi_is_typedarray(env_, argv_[index], &is_typedarray);
  napi_typedarray_type actual;
  size_t elements = 0;
  if (!is_typedarray || napi_get_typedarray_info(env_, argv_[index], &actual, &elements, data, nullptr, nullptr) != napi_ok ||
      actual != type || elements < min_length) {
    return false;
  }
  if (length != nullptr) *length = elements;
  return true;
}

}  // namespace kvs
