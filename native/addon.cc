// Module init: one AddonState per Node environment (main thread or worker). When the
// environment goes away, every fd it still owns is closed.
#include "addon.h"

namespace kvs {
namespace {

using Registrar = void (*)(Napi::Env env, Napi::Object exports, AddonState* state);

const Registrar kRegistrars[] = {
    RegisterFd,         RegisterKvmSystem,     RegisterKvmVm,         RegisterKvmDevice,
    RegisterMapping,    RegisterSpaprTceTable, RegisterVfioContainer, RegisterVfioGroup,
    RegisterVfioDevice, RegisterKvmVcpu,       RegisterVcpuRun,       RegisterVcpuRunSync,
    RegisterKvmVmPpc,   RegisterKvmIrq,        RegisterEventFd,
};

void FreeState(napi_env /*env*/, void* data, void* /*hint*/) {
  AddonState* state = static_cast<AddonState*>(data);
  AbortRunners(state->runners);  // vCPU threads first: they hold duplicates of vCPU fds
  DeleteRunnerRegistry(state->runners);
  state->fds.CloseAll();
  delete state;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonState* state = new AddonState();
  if (napi_set_instance_data(env, state, FreeState, nullptr) != napi_ok) {
    delete state;
    Napi::Error::New(env, "kvm-vfio-spapr: could not attach per-environment state").ThrowAsJavaScriptException();
    return exports;
  }
  for (Registrar registrar : kRegistrars) registrar(env, exports, state);
  RegisterTables(env, exports);
  return exports;
}

}  // namespace kvs

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return kvs::Init(env, exports); }

NODE_API_MODULE(kvm_vfio_spapr, InitAddon)
