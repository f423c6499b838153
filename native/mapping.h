// A memory mapping shared with JavaScript as an external ArrayBuffer. The address never leaves
// C++: JavaScript holds an opaque, type-tagged handle object, and native calls that give the
// kernel an address (memory registration, DMA maps, memslots) read it from the handle and check
// that the range lies inside the mapping. unmap() detaches the ArrayBuffer first, so no view can
// reach freed memory; otherwise the mapping lives until both the handle and the buffer are gone.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace kvs {

class NativeCall;

class Mapping {
 public:
  Mapping(void* address, size_t length);
  ~Mapping();

  // Unmaps once (deferred while pinned); returns 0 or -errno.
  long Unmap();
  // True when [offset, offset + size) lies inside the mapping and it is not unmapped.
  bool Contains(uint64_t offset, uint64_t size) const;
  uint64_t AddressAt(uint64_t offset) const { return reinterpret_cast<uintptr_t>(address_) + offset; }
  void* address() const { return address_; }
  size_t length() const { return length_; }
  bool mapped() const;

  // While pinned (async work in flight), an unmap is deferred to the last Unpin.
  bool Pin();
  void Unpin();

 private:
  long UnmapNow();

  void* const address_;
  const size_t length_;
  mutable std::mutex mutex_;
  bool mapped_ = true;
  bool unmap_pending_ = false;
  int pins_ = 0;
};

using MappingRef = std::shared_ptr<Mapping>;

// Mappings made and not yet unmapped, in this process (all threads and environments).
long LiveMappingCount();

size_t PageSize();

// mmap(nullptr, length, prot, flags, fd, offset) -> { buffer, handle } or a -errno Number.
napi_value NewMapping(NativeCall& call, size_t length, int prot, int flags, int fd, uint64_t offset = 0);
// Wraps an existing mapping as { buffer, handle }; it is unmapped on failure.
napi_value WrapMapping(NativeCall& call, void* address, size_t length);
// The mapping behind argument `index`, or nullptr after throwing a TypeError.
MappingRef MappingArg(NativeCall& call, size_t index);

}  // namespace kvs
