// The fd owner: open / duplicate / close for every kernel object (the per-environment table: fd_table.cc).
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"
#include "async_work.h"
#include "syscall.h"

namespace kvs {

namespace {

bool ReadString(napi_env env, napi_value value, std::string* out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
  out->resize(length);
  return napi_get_value_string_utf8(env, value, out->data(), length + 1, &length) == napi_ok;
}

// openDevice(path) -> fd | -errno. Always O_RDWR | O_CLOEXEC.
napi_value OpenDevice(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "openDevice");
  std::string path;
  if (!ReadString(env, call.arg(0), &path)) return call.BadArgument(0);
  return call.AdoptedFd(RetryEintr(kOpen, 0, [&] { return static_cast<long>(open(path.c_str(), O_RDWR | O_CLOEXEC)); }));
}

// duplicateFd(borrowedFd) -> an owned CLOEXEC duplicate | -errno. The caller keeps its own fd.
napi_value DuplicateFd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "duplicateFd");
  int32_t borrowed = -1;
  if (!call.Int32(0, &borrowed)) return nullptr;
  return call.AdoptedFd(DuplicateCloexec(borrowed));
}

// The owned fd in argument 0, taken out of the table for a close (traced); -1 after throwing.
int TakeOwnedFd(NativeCall& call) {
  int fd = call.OwnedFd(0);
  if (fd < 0) return -1;
  call.state()->fds.Release(fd);
  if (g_trace_enabled) TraceSyscall(kClose, 0);
  return fd;
}

// closeFd(fd) -> 0 | -errno. Never retried: after EINTR the fd is already gone on Linux.
napi_value CloseFd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "closeFd");
  int fd = TakeOwnedFd(call);
  if (fd < 0) return nullptr;
  long result = close(fd) == 0 ? 0 : NegativeErrno();
  return call.Number(result == -EINTR ? 0 : result);
}

// closeFdAsync(fd) -> Promise<0>: the fd leaves the table now; the thread pool closes it, so a
// release that waits in the kernel does not stall the event loop (virt/kvm/kvm_main.c
// kvm_device_release waits for an RCU grace period; the last VM fd destroys the VM).
napi_value CloseFdAsync(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "closeFdAsync");
  int fd = TakeOwnedFd(call);
  if (fd < 0) return nullptr;
  return QueueCloseAsync(call, "closeFdAsync", fd);
}

napi_value OwnedFdCount(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "ownedFdCount");
  return call.Number(static_cast<long>(call.state()->fds.count()));
}

napi_value IsOwnedFd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "isOwnedFd");
  int32_t fd = -1;
  ReadInt32(env, call.arg(0), &fd);
  napi_value result;
  napi_get_boolean(env, call.state()->fds.Owns(fd), &result);
  return result;
}

const FunctionSpec kFunctions[] = {
    {"openDevice", OpenDevice},       {"duplicateFd", DuplicateFd},         {"closeFd", CloseFd},
    {"closeFdAsync", CloseFdAsync},
    {"ownedFdCount", OwnedFdCount},   {"isOwnedFd", IsOwnedFd},             {"setSyscallTrace", SetSyscallTraceCallback},
    {"takeSyscallTrace", TakeSyscallTraceCallback},
};

}  // namespace

void RegisterFd(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
