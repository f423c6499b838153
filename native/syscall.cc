#include "syscall.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <mutex>
#include <vector>

namespace kvs {

bool g_trace_enabled = false;

namespace {
std::mutex trace_mutex;
std::vector<uint64_t> trace_entries;  // pairs: kind, request
}  // namespace

void TraceSyscall(uint32_t kind, uint64_t request) {
  std::lock_guard<std::mutex> lock(trace_mutex);
  trace_entries.push_back(kind);
  trace_entries.push_back(request);
}

std::vector<uint64_t> TakeSyscallTrace() {
  std::lock_guard<std::mutex> lock(trace_mutex);
  std::vector<uint64_t> taken;
  taken.swap(trace_entries);
  return taken;
}

long Ioctl(int fd, unsigned long request, void* arg) {
  return RetryEintr(kIoctl, request, [&] { return static_cast<long>(ioctl(fd, request, arg)); });
}

long DuplicateCloexec(int fd) {
  return RetryEintr(kDup, 0, [&] { return static_cast<long>(fcntl(fd, F_DUPFD_CLOEXEC, 0)); });
}

long IoctlValue(int fd, unsigned long request, unsigned long value) {
  return RetryEintr(kIoctl, request, [&] { return static_cast<long>(ioctl(fd, request, value)); });
}

}  // namespace kvs
