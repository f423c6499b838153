// The vCPU run loop. KVM_RUN runs on a dedicated thread, never on the JavaScript thread. Each exit
// is handed to JavaScript through a thread-safe function; the thread waits for the answer (for a
// PAPR hypercall: ret and returned arguments), writes it into kvm_run and re-enters KVM_RUN. The
// loop ends when JavaScript says stop, when stop() is called (immediate_exit plus a signal that
// interrupts KVM_RUN), or when KVM_RUN fails. The thread owns a duplicate of the vCPU fd and pins
// the kvm_run mapping, so closing the Vcpu mid-run never lets it act on a recycled fd.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "addon.h"
#include "fp_state.h"
#include "mapping.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// A real-time signal nobody else in Node uses: it only interrupts KVM_RUN (no SA_RESTART).
int KickSignal() { return SIGRTMIN + 6; }

void InstallKickHandler() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction action {};
    action.sa_handler = [](int) {};
    sigemptyset(&action.sa_mask);
    sigaction(KickSignal(), &action, nullptr);
  });
}

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
  uint64_t ret = 0;
  uint64_t args[9] = {};
  uint32_t args_mask = 0;  // bit i: args[i] replaces the guest's r(4+i)
  uint8_t mmio_data[8] = {};  // a read's value, in the bytes order of the access
};

enum class Outcome { kStopped, kHandlerStopped, kError, kAborted, kHandlerThrew };

class VcpuRunner;

// Runners of one environment, so a worker that goes away stops its vCPU threads first.
struct RunnerRegistry {
  std::mutex mutex;
  std::set<std::shared_ptr<VcpuRunner>> active;
};

class VcpuRunner : public std::enable_shared_from_this<VcpuRunner> {
 public:
  VcpuRunner(int fd, MappingRef run_mapping, bool fp_canary)
      : fd_(fd), run_mapping_(std::move(run_mapping)), run_(static_cast<kvm_run*>(run_mapping_->address())), fp_canary_(fp_canary) {}

  napi_value Start(NativeCall& call, napi_value handler);
  void Stop();
  void Abort();

 private:
  void Loop();
  bool RunOnce();  // false when the loop must end
  void CaptureMmio();
  bool Deliver();  // hands the exit to JavaScript and applies its answer; false to stop
  void Finish(Napi::Env env);  // on the JavaScript thread, after the thread ended
  static void CallHandler(Napi::Env env, Napi::Function handler, VcpuRunner* runner);
  napi_value ResultObject(Napi::Env env);

  const int fd_;
  MappingRef run_mapping_;
  kvm_run* const run_;
  const bool fp_canary_;
  std::thread thread_;
  Napi::ThreadSafeFunction tsfn_;
  napi_deferred deferred_ = nullptr;  // raw: Napi::Promise::Deferred has no empty state
  Napi::Reference<Napi::Value> thrown_;
  std::shared_ptr<VcpuRunner> self_;  // kept alive until Finish
  RunnerRegistry* registry_ = nullptr;

  std::mutex mutex_;
  std::condition_variable answered_cv_;
  bool answered_ = false;
  bool thread_running_ = false;
  bool stop_requested_ = false;
  ExitInfo exit_;
  Answer answer_;

  Outcome outcome_ = Outcome::kStopped;
  long error_ = 0;
  uint64_t runs_ = 0;
  uint64_t exits_ = 0;
  uint64_t fp_clobbers_ = 0;
  bool fp_canary_intact_ = true;
};

napi_value VcpuRunner::Start(NativeCall& call, napi_value handler) {
  Napi::Env env(call.env());
  registry_ = static_cast<RunnerRegistry*>(call.state()->runners);
  self_ = shared_from_this();
  napi_value promise;
  napi_create_promise(env, &deferred_, &promise);
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function(env, handler), "kvm-vfio-spapr vcpu run", 0, 1, this,
                                        [](Napi::Env finish_env, void*, VcpuRunner* runner) { runner->Finish(finish_env); },
                                        static_cast<void*>(nullptr));
  InstallKickHandler();
  {
    std::lock_guard<std::mutex> lock(registry_->mutex);
    registry_->active.insert(self_);
  }
  thread_running_ = true;
  thread_ = std::thread([this] { Loop(); });

  Napi::Object controls = Napi::Object::New(env);
  controls.Set("promise", Napi::Value(env, promise));
  auto* stopper = new std::weak_ptr<VcpuRunner>(self_);
  Napi::Function stop = Napi::Function::New(
      env,
      [](const Napi::CallbackInfo& info) -> Napi::Value {
        auto* weak = static_cast<std::weak_ptr<VcpuRunner>*>(info.Data());
        if (auto runner = weak->lock()) runner->Stop();
        return info.Env().Undefined();
      },
      "stop", stopper);
  napi_add_finalizer(env, stop, stopper, [](napi_env, void* data, void*) { delete static_cast<std::weak_ptr<VcpuRunner>*>(data); },
                     nullptr, nullptr);
  controls.Set("stop", stop);
  return controls;
}

void VcpuRunner::Stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stop_requested_ = true;
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (thread_running_) pthread_kill(thread_.native_handle(), KickSignal());
}

// The environment is going away: end the loop without waiting for JavaScript, and join.
void VcpuRunner::Abort() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
    answered_ = true;
    answer_.stop = true;
    outcome_ = Outcome::kAborted;
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (thread_running_) pthread_kill(thread_.native_handle(), KickSignal());
  }
  answered_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void VcpuRunner::Loop() {
  pthread_setname_np(pthread_self(), "kvs-vcpu");  // what a leak check or `top -H` looks for
  if (fp_canary_) LoadFpCanaries();
  while (RunOnce()) {
  }
  if (fp_canary_) fp_canary_intact_ = FpCanariesIntact();
  close(fd_);
  run_mapping_->Unpin();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    thread_running_ = false;
  }
  tsfn_.Release();
}

bool VcpuRunner::RunOnce() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_requested_) return false;
  }
  NonVolatileFpState before;
  NonVolatileFpState after;
  SaveNonVolatileFp(&before);
  if (g_trace_enabled) TraceSyscall(kIoctl, KVM_RUN);
  long result = ioctl(fd_, KVM_RUN, 0) < 0 ? NegativeErrno() : 0;
  SaveNonVolatileFp(&after);
  RestoreNonVolatileFp(&before);
  ++runs_;
  if (!SameNonVolatileRegisters(before, after)) ++fp_clobbers_;
  if (result == -EINTR) return true;  // a signal (stop() or another): the loop checks stop first
  if (result < 0) {
    error_ = result;
    outcome_ = Outcome::kError;
    exit_.reason = run_->exit_reason;
    return false;
  }
  ++exits_;
  return Deliver();
}

void VcpuRunner::CaptureMmio() {
  exit_.mmio_address = run_->mmio.phys_addr;
  exit_.mmio_length = std::min<uint32_t>(run_->mmio.len, sizeof(exit_.mmio_data));
  exit_.mmio_is_write = run_->mmio.is_write != 0;
  std::memcpy(exit_.mmio_data, run_->mmio.data, sizeof(exit_.mmio_data));
}

bool VcpuRunner::Deliver() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    exit_ = ExitInfo{};
    exit_.reason = run_->exit_reason;
    if (exit_.reason == KVM_EXIT_PAPR_HCALL) {
      exit_.hcall_nr = run_->papr_hcall.nr;
      std::memcpy(exit_.hcall_args, run_->papr_hcall.args, sizeof(exit_.hcall_args));
    } else if (exit_.reason == KVM_EXIT_MMIO) {
      CaptureMmio();
    } else if (exit_.reason == KVM_EXIT_INTERNAL_ERROR) {
      exit_.suberror = run_->internal.suberror;
      exit_.ndata = std::min<uint32_t>(run_->internal.ndata, kMaxExitData);
      std::memcpy(exit_.data, run_->internal.data, exit_.ndata * sizeof(uint64_t));
    } else if (exit_.reason == KVM_EXIT_SYSTEM_EVENT) {
      exit_.event_type = run_->system_event.type;
      exit_.ndata = std::min<uint32_t>(run_->system_event.ndata, kMaxExitData);
      std::memcpy(exit_.data, run_->system_event.data, exit_.ndata * sizeof(uint64_t));
    }
    if (answered_ && outcome_ == Outcome::kAborted) return false;
    answered_ = false;
  }
  if (tsfn_.BlockingCall(this, CallHandler) != napi_ok) {
    outcome_ = Outcome::kAborted;
    return false;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  answered_cv_.wait(lock, [this] { return answered_; });
  if (answer_.stop) return false;
  if (exit_.reason == KVM_EXIT_PAPR_HCALL) {
    run_->papr_hcall.ret = answer_.ret;
    for (int i = 0; i < 9; ++i) {
      if (answer_.args_mask & (1u << i)) run_->papr_hcall.args[i] = answer_.args[i];
    }
  } else if (exit_.reason == KVM_EXIT_MMIO && !exit_.mmio_is_write) {
    std::memcpy(run_->mmio.data, answer_.mmio_data, exit_.mmio_length);
  }
  return true;
}

// An MMIO read's answer: a Uint8Array of the access's length (lib/ has checked it).
void ReadMmioAnswer(Napi::Value value, uint32_t length, uint8_t* out) {
  if (!value.IsTypedArray()) return;
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) return;
  Napi::Uint8Array bytes = array.As<Napi::Uint8Array>();
  std::memcpy(out, bytes.Data(), std::min<size_t>(bytes.ElementLength(), length));
}

// On the JavaScript thread: exit -> handler(exit) -> answer { stop?, ret?, args? }.
void VcpuRunner::CallHandler(Napi::Env env, Napi::Function handler, VcpuRunner* runner) {
  Answer answer;
  ExitInfo exit;
  {
    std::lock_guard<std::mutex> lock(runner->mutex_);
    exit = runner->exit_;
  }
  Napi::Object event = Napi::Object::New(env);
  event.Set("reason", Napi::Number::New(env, exit.reason));
  if (exit.reason == KVM_EXIT_PAPR_HCALL) {
    event.Set("nr", Napi::BigInt::New(env, exit.hcall_nr));
    Napi::Array args = Napi::Array::New(env, 9);
    for (uint32_t i = 0; i < 9; ++i) args.Set(i, Napi::BigInt::New(env, exit.hcall_args[i]));
    event.Set("args", args);
  } else if (exit.reason == KVM_EXIT_MMIO) {
    event.Set("address", Napi::BigInt::New(env, exit.mmio_address));
    event.Set("length", Napi::Number::New(env, exit.mmio_length));
    event.Set("isWrite", Napi::Boolean::New(env, exit.mmio_is_write));
    if (exit.mmio_is_write) event.Set("data", Napi::Buffer<uint8_t>::Copy(env, exit.mmio_data, exit.mmio_length));
  } else if (exit.reason == KVM_EXIT_INTERNAL_ERROR || exit.reason == KVM_EXIT_SYSTEM_EVENT) {
    if (exit.reason == KVM_EXIT_INTERNAL_ERROR) event.Set("suberror", Napi::Number::New(env, exit.suberror));
    if (exit.reason == KVM_EXIT_SYSTEM_EVENT) event.Set("type", Napi::Number::New(env, exit.event_type));
    Napi::Array data = Napi::Array::New(env, exit.ndata);
    for (uint32_t i = 0; i < exit.ndata; ++i) data.Set(i, Napi::BigInt::New(env, exit.data[i]));
    event.Set("data", data);
  }
  Napi::Value result = handler.Call({event});
  if (env.IsExceptionPending()) {
    runner->thrown_ = Napi::Reference<Napi::Value>::New(env.GetAndClearPendingException().Value(), 1);
    runner->outcome_ = Outcome::kHandlerThrew;
    answer.stop = true;
  } else if (result.IsObject()) {
    Napi::Object object = result.As<Napi::Object>();
    answer.stop = object.Get("stop").ToBoolean().Value();
    uint64_t value = 0;
    if (ReadU64(env, object.Get("ret"), &value)) answer.ret = value;
    Napi::Value args = object.Get("args");
    if (args.IsArray()) {
      Napi::Array array = args.As<Napi::Array>();
      for (uint32_t i = 0; i < 9 && i < array.Length(); ++i) {
        if (ReadU64(env, array.Get(i), &value)) {
          answer.args[i] = value;
          answer.args_mask |= 1u << i;
        }
      }
    }
    ReadMmioAnswer(object.Get("data"), exit.mmio_length, answer.mmio_data);
    if (answer.stop) runner->outcome_ = Outcome::kHandlerStopped;
  } else {
    answer.stop = true;
    runner->outcome_ = Outcome::kHandlerStopped;
  }
  {
    std::lock_guard<std::mutex> lock(runner->mutex_);
    runner->answer_ = answer;
    runner->answered_ = true;
  }
  runner->answered_cv_.notify_all();
}

napi_value VcpuRunner::ResultObject(Napi::Env env) {
  static const char* const kOutcomes[] = {"stopped", "handler", "error", "aborted", "threw"};
  Napi::Object result = Napi::Object::New(env);
  result.Set("outcome", kOutcomes[static_cast<int>(outcome_)]);
  result.Set("runs", Napi::BigInt::New(env, runs_));
  result.Set("exits", Napi::BigInt::New(env, exits_));
  result.Set("fpClobbers", Napi::BigInt::New(env, fp_clobbers_));
  result.Set("fpCanaryIntact", Napi::Boolean::New(env, fp_canary_intact_));
  result.Set("errno", Napi::Number::New(env, static_cast<double>(error_)));
  result.Set("exitReason", Napi::Number::New(env, exit_.reason));
  return result;
}

void VcpuRunner::Finish(Napi::Env env) {
  if (thread_.joinable()) thread_.join();
  if (!thrown_.IsEmpty()) {
    napi_reject_deferred(env, deferred_, thrown_.Value());
  } else {
    napi_resolve_deferred(env, deferred_, ResultObject(env));
  }
  std::shared_ptr<VcpuRunner> keep = self_;
  self_.reset();
  std::lock_guard<std::mutex> lock(registry_->mutex);
  registry_->active.erase(keep);
}

// runVcpu(vcpuFd, runMappingHandle, handler, fpCanary) -> { promise, stop }
napi_value RunVcpu(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "runVcpu");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  MappingRef mapping = MappingArg(call, 1);
  if (!mapping) return nullptr;
  if (mapping->length() < sizeof(kvm_run) || !mapping->Pin()) return call.BadArgument(1);
  napi_valuetype type;
  napi_typeof(env, call.arg(2), &type);
  if (type != napi_function) {
    mapping->Unpin();
    return call.BadArgument(2);
  }
  bool fp_canary = false;
  napi_get_value_bool(env, call.arg(3), &fp_canary);
  long duplicate = DuplicateCloexec(fd);
  if (duplicate < 0) {
    mapping->Unpin();
    return call.Number(duplicate);
  }
  __atomic_store_n(&static_cast<kvm_run*>(mapping->address())->immediate_exit, 0, __ATOMIC_SEQ_CST);
  auto runner = std::make_shared<VcpuRunner>(static_cast<int>(duplicate), mapping, fp_canary);
  return runner->Start(call, call.arg(2));
}

const FunctionSpec kFunctions[] = {
    {"runVcpu", RunVcpu},
};

}  // namespace

void* NewRunnerRegistry() { return new RunnerRegistry(); }

// Stops and joins every vCPU thread of an environment that is going away.
void AbortRunners(void* registry_pointer) {
  auto* registry = static_cast<RunnerRegistry*>(registry_pointer);
  std::set<std::shared_ptr<VcpuRunner>> runners;
  {
    std::lock_guard<std::mutex> lock(registry->mutex);
    runners = registry->active;
  }
  for (const auto& runner : runners) runner->Abort();
}

void DeleteRunnerRegistry(void* registry) { delete static_cast<RunnerRegistry*>(registry); }

void RegisterVcpuRun(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
