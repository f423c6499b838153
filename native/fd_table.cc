// The per-environment fd table (fd.h), apart from fd.cc's functions so that bench/'s probe addon
// can link it without the rest of the addon.
#include <unistd.h>

#include "fd.h"

namespace kvs {

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

}  // namespace kvs
