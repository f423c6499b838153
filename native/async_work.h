// Slow calls (memory registration, DMA window creation, group attach) run on the libuv thread
// pool and settle a Promise with what the sync call would return (a Number >= 0 or -errno, or a
// BigInt). The work owns a CLOEXEC duplicate of the fd and pins any mapping it uses, so closing
// the object, unmapping memory or tearing down a worker mid-call never lets the thread act on a
// recycled fd number or a reused address range.
#pragma once

#include <functional>

#include "addon.h"
#include "mapping.h"

namespace kvs {

struct AsyncResult {
  long result = 0;       // >= 0 or -errno
  bool has_bigint = false;
  uint64_t bigint = 0;   // resolved instead of `result` when has_bigint and result >= 0
};

// `work` receives the duplicated fd; it must not call N-API. Returns the Promise, or nullptr
// after throwing. A failed dup settles the Promise with -errno without running `work`.
napi_value QueueAsync(NativeCall& call, const char* name, int fd, MappingRef pinned,
                      std::function<AsyncResult(int fd)> work);

// Closes `fd` (already released from the fd table) on the thread pool and settles the Promise
// with 0: the last close(2), and whatever the kernel does on release, happens off the JavaScript
// thread.
napi_value QueueCloseAsync(NativeCall& call, const char* name, int fd);

}  // namespace kvs
