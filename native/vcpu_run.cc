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
#include "vcpu_exit.h"

namespace kvs {

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

namespace {

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
  if (g_trace_enabled) TraceSyscall(kIoctl, KVM_RUN);
  long result = KeepingNonVolatileFp([this] { return ioctl(fd_, KVM_RUN, 0) < 0 ? NegativeErrno() : 0; }, &fp_clobbers_);
  ++runs_;
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

bool VcpuRunner::Deliver() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    CaptureExit(run_, &exit_);
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
  ApplyAnswer(run_, exit_, answer_);
  return true;
}

// On the JavaScript thread: exit -> handler(exit) -> answer { stop?, ret?, args? }.
void VcpuRunner::CallHandler(Napi::Env env, Napi::Function handler, VcpuRunner* runner) {
  ExitInfo exit;
  {
    std::lock_guard<std::mutex> lock(runner->mutex_);
    exit = runner->exit_;
  }
  Napi::Value result = handler.Call({ExitEvent(env, exit)});
  Answer answer;
  if (env.IsExceptionPending()) {
    runner->thrown_ = Napi::Reference<Napi::Value>::New(env.GetAndClearPendingException().Value(), 1);
    runner->outcome_ = Outcome::kHandlerThrew;
    answer.stop = true;
  } else {
    answer = ReadAnswer(env, result, exit);
    if (answer.handler_stopped) runner->outcome_ = Outcome::kHandlerStopped;
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
  return RunResultObject(env, {kOutcomes[static_cast<int>(outcome_)], runs_, exits_, fp_clobbers_, fp_canary_intact_, error_, exit_.reason});
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
