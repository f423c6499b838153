// The request numbers, constants and errno names as compiled for this architecture, exported so
// tests can compare the x86_64 and ppc64 builds with kernel-abi.md.
#include <cstring>
#include <string>

#include "addon.h"
#include "request_list.h"
#include "uapi.h"

namespace kvs {

#define KVS_ENTRY(name) {#name, static_cast<double>(name)},

namespace {
struct Entry {
  const char* name;
  double value;
};

const Entry kRequests[] = {KVS_REQUESTS(KVS_ENTRY)};

const Entry kConstants[] = {KVS_CONSTANTS(KVS_ENTRY)};

Napi::Object ToObject(Napi::Env env, const Entry* entries, size_t count) {
  Napi::Object object = Napi::Object::New(env);
  for (size_t i = 0; i < count; ++i) object.Set(entries[i].name, Napi::Number::New(env, entries[i].value));
  return object;
}
}  // namespace

namespace {
Napi::Object RequestNumbers(Napi::Env env) {
  return ToObject(env, kRequests, sizeof(kRequests) / sizeof(kRequests[0]));
}

// errnoNames()[n] is the Linux name of errno n on this architecture ("EOPNOTSUPP", "EBADFD"),
// errnoDescriptions()[n] its strerror text.
Napi::Array ErrnoNames(Napi::Env env) {
  constexpr int kLastErrno = 140;
  Napi::Array names = Napi::Array::New(env, kLastErrno + 1);
  for (int n = 1; n <= kLastErrno; ++n) {
    const char* name = strerrorname_np(n);
    if (name != nullptr) names.Set(static_cast<uint32_t>(n), Napi::String::New(env, name));
  }
  return names;
}

Napi::Array ErrnoDescriptions(Napi::Env env) {
  constexpr int kLastErrno = 140;
  Napi::Array descriptions = Napi::Array::New(env, kLastErrno + 1);
  for (int n = 1; n <= kLastErrno; ++n) {
    const char* description = strerrordesc_np(n);
    if (description != nullptr) descriptions.Set(static_cast<uint32_t>(n), Napi::String::New(env, description));
  }
  return descriptions;
}

Napi::Object HeaderConstants(Napi::Env env) {
  return ToObject(env, kConstants, sizeof(kConstants) / sizeof(kConstants[0]));
}
}  // namespace

void RegisterTables(Napi::Env env, Napi::Object exports) {
  exports.Set("requests", RequestNumbers(env));
  exports.Set("constants", HeaderConstants(env));
  exports.Set("errnoNames", ErrnoNames(env));
  exports.Set("errnoDescriptions", ErrnoDescriptions(env));
#if defined(__powerpc64__)
  exports.Set("arch", Napi::String::New(env, "ppc64"));
#elif defined(__x86_64__)
  exports.Set("arch", Napi::String::New(env, "x64"));
#else
  exports.Set("arch", Napi::String::New(env, "other"));
#endif
}

}  // namespace kvs
