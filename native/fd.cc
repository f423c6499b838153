// open / close / dup for every kernel object, and the per-environment fd table.
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"
#include "syscall.h"

namespace kvs {

std::vector<uint64_t> TakeSyscallTrace();

void FdTable::Adopt(int fd) {
  if (fd < 0) return;
  if (static_cast<size_t>(fd) >= owned_.size()) owned_.resize(static_cast<size_t>(fd) + 64, 0);
  if (owned_[fd] == 0) ++count_;
  owned_[fd] = 1;
}

bool FdTable::Release(int fd) {
  if (!Owns(fd)) return false;
  owned_[fd] = 0;
  --count_;
  return true;
}

void FdTable::CloseAll() {
  for (size_t fd = 0; fd < owned_.size(); ++fd) {
    if (owned_[fd] != 0) close(static_cast<int>(fd));
    owned_[fd] = 0;
  }
  count_ = 0;
}

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
  if (!(number >= 0 && number <= 9007199254740991.0)) return false;
  *out = static_cast<uint64_t>(number);
  return static_cast<double>(*out) == number;
}

Napi::Value ThrowBadArgument(const Napi::CallbackInfo& info, const char* function, size_t index) {
  std::string message = std::string("kvm-vfio-spapr native ") + function + ": argument " +
                        std::to_string(index) + " has the wrong type (a bug in lib/)";
  Napi::TypeError::New(info.Env(), message).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

int OwnedFd(const Napi::CallbackInfo& info, size_t index) {
  int32_t fd = -1;
  if (ReadInt32(info.Env(), info[index], &fd) && State(info)->fds.Owns(fd)) return fd;
  Napi::Error error = Napi::Error::New(
      info.Env(), "kvm-vfio-spapr native: fd " + std::to_string(fd) +
                      " is not owned by this environment; no syscall was issued (a bug in lib/)");
  error.Set("code", Napi::String::New(info.Env(), "ERR_KVM_FD_NOT_OWNED"));
  error.ThrowAsJavaScriptException();
  return -1;
}

Napi::Value AdoptResult(const Napi::CallbackInfo& info, long result) {
  if (result >= 0) State(info)->fds.Adopt(static_cast<int>(result));
  return Result(info.Env(), result);
}

void SetFunction(Napi::Env env, Napi::Object exports, AddonState* state, const char* name,
                 Napi::Function::Callback callback) {
  exports.Set(name, Napi::Function::New(env, callback, name, state));
}

namespace {

// openDevice(path) -> fd | -errno. Always O_RDWR | O_CLOEXEC.
Napi::Value OpenDevice(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) return ThrowBadArgument(info, "openDevice", 0);
  std::string path = info[0].As<Napi::String>().Utf8Value();
  long result = RetryEintr(kOpen, 0, [&] { return static_cast<long>(open(path.c_str(), O_RDWR | O_CLOEXEC)); });
  return AdoptResult(info, result);
}

// adoptFd(borrowedFd) -> a CLOEXEC duplicate the addon owns | -errno. The caller keeps its fd.
Napi::Value DuplicateFd(const Napi::CallbackInfo& info) {
  int32_t borrowed = -1;
  if (!ReadInt32(info.Env(), info[0], &borrowed)) return ThrowBadArgument(info, "duplicateFd", 0);
  long result = RetryEintr(kDup, 0, [&] { return static_cast<long>(fcntl(borrowed, F_DUPFD_CLOEXEC, 0)); });
  return AdoptResult(info, result);
}

// closeFd(fd) -> 0 | -errno. Never retried: after EINTR the fd is already gone on Linux.
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = OwnedFd(info, 0);
  if (fd < 0) return info.Env().Undefined();
  State(info)->fds.Release(fd);
  if (g_trace_enabled) TraceSyscall(kClose, 0);
  long result = close(fd) == 0 ? 0 : NegativeErrno();
  return Result(info.Env(), result == -EINTR ? 0 : result);
}

Napi::Value OwnedFdCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(State(info)->fds.count()));
}

Napi::Value IsOwnedFd(const Napi::CallbackInfo& info) {
  int32_t fd = -1;
  ReadInt32(info.Env(), info[0], &fd);
  return Napi::Boolean::New(info.Env(), State(info)->fds.Owns(fd));
}

Napi::Value SetSyscallTrace(const Napi::CallbackInfo& info) {
  g_trace_enabled = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

// takeSyscallTrace() -> [kind, request, kind, request, ...] as Numbers (requests fit in 32 bits).
Napi::Value TakeTrace(const Napi::CallbackInfo& info) {
  std::vector<uint64_t> entries = TakeSyscallTrace();
  Napi::Array array = Napi::Array::New(info.Env(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    array.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(entries[i])));
  }
  return array;
}

}  // namespace

void RegisterFd(Napi::Env env, Napi::Object exports, AddonState* state) {
  SetFunction(env, exports, state, "openDevice", OpenDevice);
  SetFunction(env, exports, state, "duplicateFd", DuplicateFd);
  SetFunction(env, exports, state, "closeFd", CloseFd);
  SetFunction(env, exports, state, "ownedFdCount", OwnedFdCount);
  SetFunction(env, exports, state, "isOwnedFd", IsOwnedFd);
  SetFunction(env, exports, state, "setSyscallTrace", SetSyscallTrace);
  SetFunction(env, exports, state, "takeSyscallTrace", TakeTrace);
}

}  // namespace kvs
