#include "async_work.h"

#include <unistd.h>

#include "syscall.h"

namespace kvs {
namespace {

struct AsyncWork {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  int fd = -1;
  MappingRef pinned;
  std::function<AsyncResult(int)> task;
  AsyncResult outcome;
};

void Execute(napi_env /*env*/, void* data) {
  AsyncWork* job = static_cast<AsyncWork*>(data);
  if (job->fd >= 0) job->outcome = job->task(job->fd);
  if (job->fd >= 0) close(job->fd);
  if (job->pinned) job->pinned->Unpin();
}

void Complete(napi_env env, napi_status /*status*/, void* data) {
  AsyncWork* job = static_cast<AsyncWork*>(data);
  napi_value value;
  if (job->outcome.has_bigint && job->outcome.result >= 0) {
    napi_create_bigint_uint64(env, job->outcome.bigint, &value);
  } else {
    napi_create_double(env, static_cast<double>(job->outcome.result), &value);
  }
  napi_resolve_deferred(env, job->deferred, value);
  napi_delete_async_work(env, job->work);
  delete job;
}

napi_value Queue(NativeCall& call, const char* name, AsyncWork* job) {
  napi_env env = call.env();
  napi_value promise;
  napi_value resource_name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, nullptr, resource_name, Execute, Complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

}  // namespace

napi_value QueueAsync(NativeCall& call, const char* name, int fd, MappingRef pinned,
                      std::function<AsyncResult(int fd)> work) {
  AsyncWork* job = new AsyncWork();
  job->task = std::move(work);
  if (pinned && !pinned->Pin()) {
    delete job;
    return call.BadArgument(1);
  }
  job->pinned = std::move(pinned);
  long duplicate = DuplicateCloexec(fd);
  if (duplicate < 0) job->outcome.result = duplicate;
  job->fd = static_cast<int>(duplicate);
  return Queue(call, name, job);
}

napi_value QueueCloseAsync(NativeCall& call, const char* name, int fd) {
  AsyncWork* job = new AsyncWork();
  job->task = [](int) { return AsyncResult{}; };  // Execute closes job->fd after the task
  job->fd = fd;
  return Queue(call, name, job);
}

}  // namespace kvs
