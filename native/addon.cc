// Module init: one AddonState per Node environment (main thread or worker). When the
// environment goes away, every fd it still owns is closed.
#include "addon.h"

namespace kvs {

Napi::Object HeaderConstants(Napi::Env env);
Napi::Array ErrnoNames(Napi::Env env);
Napi::Array ErrnoDescriptions(Napi::Env env);

namespace {

void FreeState(napi_env /*env*/, void* data, void* /*hint*/) {
  AddonState* state = static_cast<AddonState*>(data);
  state->fds.CloseAll();
  delete state;
}

const Registrar kRegistrars[] = {
    RegisterFd, RegisterKvmSystem, RegisterKvmVm, RegisterKvmDevice, RegisterBenchProbe,
};

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonState* state = new AddonState();
  if (napi_set_instance_data(env, state, FreeState, nullptr) != napi_ok) {
    delete state;
    Napi::Error::New(env, "kvm-vfio-spapr: could not attach per-environment state").ThrowAsJavaScriptException();
    return exports;
  }
  for (Registrar registrar : kRegistrars) registrar(env, exports, state);
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
  return exports;
}

}  // namespace kvs

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return kvs::Init(env, exports); }

NODE_API_MODULE(kvm_vfio_spapr, InitAddon)
