#include "mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

#include "addon.h"
#include "syscall.h"

namespace kvs {
namespace {

// Distinguishes our handle objects from any other object (napi_type_tag_object).
const napi_type_tag kMappingTag = {0x6b766d7666696f00ULL, 0x6d617070696e6701ULL};

// napi_wrap finalizers receive the wrapped pointer as `data`...
void DeleteWrappedRef(napi_env /*env*/, void* data, void* /*hint*/) { delete static_cast<MappingRef*>(data); }
// ...but external ArrayBuffer finalizers receive the buffer's memory as `data` and our pointer as `hint`.
void DeleteBufferRef(napi_env /*env*/, void* /*data*/, void* hint) { delete static_cast<MappingRef*>(hint); }

std::atomic<long> g_live_mappings{0};

}  // namespace

Mapping::Mapping(void* address, size_t length) : address_(address), length_(length) { ++g_live_mappings; }

Mapping::~Mapping() { Unmap(); }

long LiveMappingCount() { return g_live_mappings.load(); }

long Mapping::UnmapNow() {
  if (g_trace_enabled) TraceSyscall(kMunmap, 0);
  --g_live_mappings;
  return munmap(address_, length_) == 0 ? 0 : NegativeErrno();
}

long Mapping::Unmap() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!mapped_) return 0;
  mapped_ = false;
  if (pins_ > 0) {
    unmap_pending_ = true;
    return 0;
  }
  return UnmapNow();
}

bool Mapping::mapped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return mapped_;
}

bool Mapping::Contains(uint64_t offset, uint64_t size) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return mapped_ && offset <= length_ && size <= length_ - offset;
}

bool Mapping::Pin() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!mapped_) return false;
  ++pins_;
  return true;
}

void Mapping::Unpin() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (--pins_ == 0 && unmap_pending_) {
    unmap_pending_ = false;
    UnmapNow();
  }
}

size_t PageSize() {
  static const size_t page_size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page_size;
}

napi_value NewMapping(NativeCall& call, size_t length, int prot, int flags, int fd, uint64_t offset) {
  void* address = MAP_FAILED;
  long result = RetryEintr(kMmap, 0, [&] {
    address = mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
    return address == MAP_FAILED ? -1L : 0L;
  });
  if (result < 0) return call.Number(result);
  return WrapMapping(call, address, length);
}

napi_value WrapMapping(NativeCall& call, void* address, size_t length) {
  MappingRef mapping = std::make_shared<Mapping>(address, length);

  napi_env env = call.env();
  napi_value buffer;
  napi_value handle;
  napi_value pair;
  MappingRef* buffer_ref = new MappingRef(mapping);
  if (napi_create_external_arraybuffer(env, address, length, DeleteBufferRef, buffer_ref, &buffer) != napi_ok) {
    // Node has taken buffer_ref: a failure after the argument checks (e.g. a length above the
    // largest ArrayBuffer, 4 GiB on Node 18/20) still runs DeleteBufferRef, from an immediate.
    // Deleting it here as well was a double free. The RangeError Node left pending is thrown,
    // and the mapping is unmapped when that finalizer drops the last reference.
    return nullptr;
  }
  napi_create_object(env, &handle);
  napi_type_tag_object(env, handle, &kMappingTag);
  napi_wrap(env, handle, new MappingRef(mapping), DeleteWrappedRef, nullptr, nullptr);
  napi_create_object(env, &pair);
  napi_set_named_property(env, pair, "buffer", buffer);
  napi_set_named_property(env, pair, "handle", handle);
  return pair;
}

MappingRef MappingArg(NativeCall& call, size_t index) {
  bool tagged = false;
  void* data = nullptr;
  napi_value value = call.arg(index);
  if (napi_check_object_type_tag(call.env(), value, &kMappingTag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(call.env(), value, &data) != napi_ok) {
    call.BadArgument(index);
    return nullptr;
  }
  return *static_cast<MappingRef*>(data);
}

namespace {

// unmapMapping(handle, buffer) -> 0 | -errno: detaches the buffer, then munmaps.
napi_value UnmapMapping(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "unmapMapping");
  MappingRef mapping = MappingArg(call, 0);
  if (!mapping) return nullptr;
  void* data = nullptr;
  size_t length = 0;
  bool is_buffer = false;
  napi_is_arraybuffer(env, call.arg(1), &is_buffer);
  if (!is_buffer || napi_get_arraybuffer_info(env, call.arg(1), &data, &length) != napi_ok ||
      (mapping->mapped() && data != mapping->address())) {
    return call.BadArgument(1);
  }
  if (mapping->mapped()) napi_detach_arraybuffer(env, call.arg(1));
  return call.Number(mapping->Unmap());
}

// mapAnonymous(length) -> { buffer, handle } | -errno: private, zero-filled, not yet backed.
napi_value MapAnonymous(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "mapAnonymous");
  uint64_t length = 0;
  if (!call.U64(0, &length)) return nullptr;
  if (length == 0 || length % PageSize() != 0) return call.BadArgument(0);
  return NewMapping(call, static_cast<size_t>(length), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
}

napi_value LiveMappings(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "liveMappingCount");
  return call.Number(LiveMappingCount());
}

napi_value GetPageSize(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "pageSize");
  return call.Number(static_cast<long>(PageSize()));
}

const FunctionSpec kFunctions[] = {
    {"unmapMapping", UnmapMapping},
    {"mapAnonymous", MapAnonymous},
    {"pageSize", GetPageSize},
    {"liveMappingCount", LiveMappings},
};

}  // namespace

void RegisterMapping(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
