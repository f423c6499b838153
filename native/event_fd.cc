// An eventfd: the doorbell between KVM (irqfd, ioeventfd), VFIO (device interrupts) and the VMM.
// Always EFD_CLOEXEC | EFD_NONBLOCK, so a read on the JavaScript thread never blocks the event
// loop. watch() polls it on the environment's libuv loop and hands each count to a callback;
// a watch is closed by unwatch(), or by the environment's cleanup before its loop closes (libuv
// refuses to close a loop with open handles).
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"
#include "syscall.h"

namespace kvs {
namespace {

// createEventFd(initial, semaphore) -> fd | -errno
napi_value CreateEventFd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "createEventFd");
  uint32_t initial = 0;
  bool semaphore = false;
  if (!call.Uint32(0, &initial)) return nullptr;
  napi_get_value_bool(env, call.arg(1), &semaphore);
  int flags = EFD_CLOEXEC | EFD_NONBLOCK | (semaphore ? EFD_SEMAPHORE : 0);
  return call.AdoptedFd(RetryEintr(kOpen, 0, [&] { return static_cast<long>(eventfd(initial, flags)); }));
}

// The count (or 1 in semaphore mode) | -errno; -EAGAIN when nothing was signalled.
long ReadCount(int fd, uint64_t* value) {
  return RetryEintr(kIoctl, 0, [&] { return static_cast<long>(read(fd, value, sizeof(*value))); });
}

// eventFdRead(fd) -> BigInt | -errno (-EAGAIN: not signalled)
napi_value EventFdRead(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "eventFdRead");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  uint64_t value = 0;
  long result = ReadCount(fd, &value);
  return result < 0 ? call.Number(result) : call.BigInt(value);
}

// eventFdWrite(fd, value) -> 0 | -errno (-EAGAIN: the counter would overflow)
napi_value EventFdWrite(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "eventFdWrite");
  int fd = call.OwnedFd(0);
  uint64_t value = 0;
  if (fd < 0 || !call.U64(1, &value)) return nullptr;
  long result = RetryEintr(kIoctl, 0, [&] { return static_cast<long>(write(fd, &value, sizeof(value))); });
  return call.Number(result < 0 ? result : 0);
}

struct Watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback = nullptr;
  napi_async_context context = nullptr;
  int fd;
  bool closed = false;
  int refs = 2;  // libuv's handle and the external JavaScript holds: freed when both let go
};

void ReleaseWatch(Watch* watch) {
  if (--watch->refs == 0) delete watch;
}

void CloseWatch(Watch* watch);

void EnvironmentGoingAway(void* data) { CloseWatch(static_cast<Watch*>(data)); }

void FreeWatch(uv_handle_t* handle) { ReleaseWatch(static_cast<Watch*>(handle->data)); }

void CloseWatch(Watch* watch) {
  if (watch->closed) return;
  watch->closed = true;
  napi_remove_env_cleanup_hook(watch->env, EnvironmentGoingAway, watch);
  uv_poll_stop(&watch->poll);
  napi_delete_reference(watch->env, watch->callback);
  napi_async_destroy(watch->env, watch->context);
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), FreeWatch);
}

void OnReadable(uv_poll_t* poll, int status, int /*events*/) {
  Watch* watch = static_cast<Watch*>(poll->data);
  if (watch->closed) return;
  uint64_t value = 0;
  long result = status < 0 ? -EIO : ReadCount(watch->fd, &value);
  if (result == -EAGAIN) return;
  napi_env env = watch->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, receiver, argument;
  napi_get_reference_value(env, watch->callback, &callback);
  napi_get_global(env, &receiver);
  if (result < 0) {
    napi_create_int64(env, result, &argument);
  } else {
    napi_create_bigint_uint64(env, value, &argument);
  }
  napi_make_callback(env, watch->context, receiver, callback, 1, &argument, nullptr);
  napi_close_handle_scope(env, scope);
}

// eventFdWatch(fd, callback) -> external watch | -errno: callback(count: BigInt | -errno) on
// every signal, on the JavaScript thread.
napi_value EventFdWatch(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "eventFdWatch");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  napi_valuetype type;
  napi_typeof(env, call.arg(1), &type);
  if (type != napi_function) return call.BadArgument(1);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return call.Number(-EIO);
  auto* watch = new Watch{};
  watch->env = env;
  watch->fd = fd;
  int result = uv_poll_init(loop, &watch->poll, fd);
  if (result < 0) {
    delete watch;
    return call.Number(result);
  }
  watch->poll.data = watch;
  napi_create_reference(env, call.arg(1), 1, &watch->callback);
  napi_value name;
  napi_create_string_utf8(env, "kvm-vfio-spapr eventfd", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, nullptr, name, &watch->context);
  napi_add_env_cleanup_hook(env, EnvironmentGoingAway, watch);
  uv_poll_start(&watch->poll, UV_READABLE, OnReadable);
  napi_value external;
  napi_create_external(env, watch, [](napi_env, void* data, void*) { ReleaseWatch(static_cast<Watch*>(data)); }, nullptr, &external);
  return external;
}

// eventFdUnwatch(watch) -> undefined; a second call does nothing.
napi_value EventFdUnwatch(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "eventFdUnwatch");
  void* data = nullptr;
  if (napi_get_value_external(env, call.arg(0), &data) != napi_ok || data == nullptr) return call.BadArgument(0);
  CloseWatch(static_cast<Watch*>(data));
  return call.Undefined();
}

const FunctionSpec kFunctions[] = {
    {"createEventFd", CreateEventFd}, {"eventFdRead", EventFdRead},       {"eventFdWrite", EventFdWrite},
    {"eventFdWatch", EventFdWatch},   {"eventFdUnwatch", EventFdUnwatch},
};

}  // namespace

void RegisterEventFd(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
