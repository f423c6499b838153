// The fd owner: every fd the addon opens or receives from the kernel is recorded here, per
// Node environment (main thread or worker). Native calls refuse any fd not recorded, so a
// closed object can never issue a syscall on a recycled fd number; an environment that goes
// away (a terminated worker) closes whatever it still owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvs {

class FdTable {
 public:
  bool Owns(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < owned_.size() && owned_[fd] != 0;
  }
  void Adopt(int fd);
  bool Release(int fd);
  void CloseAll();
  size_t count() const { return count_; }

 private:
  std::vector<uint8_t> owned_;
  size_t count_ = 0;
};

}  // namespace kvs
