// VM ioctls that route interrupts and doorbells without a trip through user space: KVM_IRQ_LINE,
// KVM_IRQFD (an eventfd raises a GSI; with a resample fd, a level-triggered one), KVM_IOEVENTFD
// (a guest write to an address signals an eventfd). Kernel: virt/kvm/eventfd.c, kvm_main.c.
#include "addon.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// irqLine(vmFd, irq, level) -> 0 | -errno
napi_value IrqLine(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "irqLine");
  int fd = call.OwnedFd(0);
  kvm_irq_level request{};
  if (fd < 0 || !call.Uint32(1, &request.irq) || !call.Uint32(2, &request.level)) return nullptr;
  return call.Number(Ioctl(fd, KVM_IRQ_LINE, &request));
}

// irqfd(vmFd, eventFd, gsi, flags, resampleFd) -> 0 | -errno; resampleFd -1 for none. The
// eventfds must be owned by this environment (EventFd objects), like every fd the library passes.
napi_value Irqfd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "irqfd");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  int event_fd = call.OwnedFd(1);
  if (event_fd < 0) return nullptr;
  kvm_irqfd request{};
  int32_t resample = -1;
  if (!call.Uint32(2, &request.gsi) || !call.Uint32(3, &request.flags) || !call.Int32(4, &resample)) return nullptr;
  if (resample >= 0) {
    resample = call.OwnedFd(4);
    if (resample < 0) return nullptr;
  }
  request.fd = static_cast<__u32>(event_fd);
  request.resamplefd = resample >= 0 ? static_cast<__u32>(resample) : 0;
  return call.Number(Ioctl(fd, KVM_IRQFD, &request));
}

// ioeventfd(vmFd, eventFd, addr, len, flags, datamatch) -> 0 | -errno
napi_value Ioeventfd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "ioeventfd");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  int event_fd = call.OwnedFd(1);
  if (event_fd < 0) return nullptr;
  kvm_ioeventfd request{};
  if (!call.U64(2, &request.addr) || !call.Uint32(3, &request.len) || !call.Uint32(4, &request.flags) || !call.U64(5, &request.datamatch)) {
    return nullptr;
  }
  request.fd = event_fd;
  return call.Number(Ioctl(fd, KVM_IOEVENTFD, &request));
}

const FunctionSpec kFunctions[] = {
    {"irqLine", IrqLine},
    {"irqfd", Irqfd},
    {"ioeventfd", Ioeventfd},
};

}  // namespace

void RegisterKvmIrq(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
