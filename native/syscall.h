// Every syscall goes through here: EINTR is retried a bounded number of times and errno is
// captured before anything else can overwrite it. Results are >= 0 or -errno.
#pragma once

#include <cerrno>
#include <cstdint>

namespace kvs {

constexpr int kMaxEintrRetries = 100;

// Optional trace of issued syscalls (debug switch, used by tests and the setup-cost benchmark).
void TraceSyscall(uint32_t kind, uint64_t request);
extern bool g_trace_enabled;

enum SyscallKind : uint32_t { kIoctl = 1, kOpen = 2, kClose = 3, kMmap = 4, kMunmap = 5, kDup = 6 };

inline long NegativeErrno() {
  int saved = errno;
  return -(saved != 0 ? saved : EIO);
}

template <typename Call>
inline long RetryEintr(uint32_t kind, uint64_t request, Call call) {
  for (int attempt = 0;; ++attempt) {
    if (g_trace_enabled) TraceSyscall(kind, request);
    long result = call();
    if (result >= 0) return result;
    long failure = NegativeErrno();
    if (failure != -EINTR || attempt >= kMaxEintrRetries) return failure;
  }
}

long Ioctl(int fd, unsigned long request, void* arg);
// fcntl(F_DUPFD_CLOEXEC): a CLOEXEC duplicate | -errno.
long DuplicateCloexec(int fd);
long IoctlValue(int fd, unsigned long request, unsigned long value);

}  // namespace kvs
