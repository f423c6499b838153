// A vCPU fd: creation, kvm_run mapping, registers (ppc64 layout), ONE_REG, binary stats.
// KVM_RUN itself runs on a dedicated thread (vcpu_run.cc), never on the JavaScript thread.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "mapping.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// createVcpu(vmFd, id) -> vcpu fd | -errno
napi_value CreateVcpu(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "createVcpu");
  int fd = call.OwnedFd(0);
  uint32_t id = 0;
  if (fd < 0 || !call.Uint32(1, &id)) return nullptr;
  return call.AdoptedFd(IoctlValue(fd, KVM_CREATE_VCPU, id));
}

// mapVcpuRun(vcpuFd, length) -> { buffer, handle } | -errno: the shared kvm_run page(s). The
// buffer stays inside the library; only the run thread reads and writes kvm_run.
napi_value MapVcpuRun(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "mapVcpuRun");
  int fd = call.OwnedFd(0);
  uint32_t length = 0;
  if (fd < 0 || !call.Uint32(1, &length)) return nullptr;
  if (length < sizeof(kvm_run) || length % PageSize() != 0) return call.BadArgument(1);
  return NewMapping(call, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
}

#if defined(__powerpc64__)
constexpr size_t kRegsWords = sizeof(kvm_regs) / sizeof(__u64);
static_assert(sizeof(kvm_regs) == 49 * 8, "ppc64 kvm_regs: pc..pid, sprg0-7, gpr[32]");

// getRegs(vcpuFd) -> BigUint64Array(49) | -errno, in struct order (pc, cr, ctr, lr, xer, msr,
// srr0, srr1, pid, sprg0..7, gpr0..31).
napi_value GetRegs(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "getRegs");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  kvm_regs regs{};
  long result = Ioctl(fd, KVM_GET_REGS, &regs);
  if (result < 0) return call.Number(result);
  napi_value buffer;
  void* data = nullptr;
  napi_create_arraybuffer(env, sizeof(regs), &data, &buffer);
  std::memcpy(data, &regs, sizeof(regs));
  napi_value array;
  napi_create_typedarray(env, napi_biguint64_array, kRegsWords, buffer, 0, &array);
  return array;
}

// setRegs(vcpuFd, BigUint64Array(49)) -> 0 | -errno
napi_value SetRegs(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setRegs");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  bool is_typedarray = false;
  napi_is_typedarray(env, call.arg(1), &is_typedarray);
  if (!is_typedarray || napi_get_typedarray_info(env, call.arg(1), &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_biguint64_array || length != kRegsWords) {
    return call.BadArgument(1);
  }
  kvm_regs regs;
  std::memcpy(&regs, data, sizeof(regs));
  return call.Number(Ioctl(fd, KVM_SET_REGS, &regs));
}
#else
// Register layouts differ by architecture; this library implements the ppc64 one only.
napi_value GetRegs(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "getRegs");
  return call.OwnedFd(0) < 0 ? nullptr : call.Number(-ENOSYS);
}
napi_value SetRegs(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setRegs");
  return call.OwnedFd(0) < 0 ? nullptr : call.Number(-ENOSYS);
}
#endif

// The kernel reads or writes KVM_REG_SIZE(id) bytes at addr: only ids of at most 8 bytes are
// accepted, so the buffer below is always large enough.
bool OneRegFits(uint64_t id) { return ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT) <= 3; }

// getOneReg(vcpuFd, id) -> BigInt | -errno
napi_value GetOneReg(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "getOneReg");
  int fd = call.OwnedFd(0);
  kvm_one_reg reg{};
  if (fd < 0 || !call.U64(1, &reg.id)) return nullptr;
  if (!OneRegFits(reg.id)) return call.BadArgument(1);
  uint64_t value = 0;
  reg.addr = reinterpret_cast<uintptr_t>(&value);
  long result = Ioctl(fd, KVM_GET_ONE_REG, &reg);
  return result < 0 ? call.Number(result) : call.BigInt(value);
}

// setOneReg(vcpuFd, id, value) -> 0 | -errno (value in the register's size, host byte order)
napi_value SetOneReg(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "setOneReg");
  int fd = call.OwnedFd(0);
  kvm_one_reg reg{};
  uint64_t value = 0;
  if (fd < 0 || !call.U64(1, &reg.id) || !call.U64(2, &value)) return nullptr;
  if (!OneRegFits(reg.id)) return call.BadArgument(1);
  uint32_t narrow = static_cast<uint32_t>(value);
  bool is_u32 = (reg.id & KVM_REG_SIZE_MASK) == KVM_REG_SIZE_U32;
  reg.addr = is_u32 ? reinterpret_cast<uintptr_t>(&narrow) : reinterpret_cast<uintptr_t>(&value);
  return call.Number(Ioctl(fd, KVM_SET_ONE_REG, &reg));
}

// interrupt(vcpuFd, irq) -> 0 | -errno. On powerpc irq is KVM_INTERRUPT_SET / _UNSET /
// _SET_LEVEL: the external interrupt line of this vCPU, for an interrupt controller emulated in
// user space. An async ioctl on powerpc: it does not wait for a KVM_RUN in progress
// (arch/powerpc/kvm/powerpc.c, kvm_arch_vcpu_async_ioctl).
napi_value Interrupt(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "interrupt");
  int fd = call.OwnedFd(0);
  kvm_interrupt request{};
  if (fd < 0 || !call.Uint32(1, &request.irq)) return nullptr;
  return call.Number(Ioctl(fd, KVM_INTERRUPT, &request));
}

bool ReadAt(int fd, void* out, size_t size, off_t offset) {
  return RetryEintr(kIoctl, 0, [&] { return static_cast<long>(pread(fd, out, size, offset)); }) == static_cast<long>(size);
}

// A stats value: one u64 as a BigInt, several (a histogram) as an array of BigInts.
napi_value StatsValue(napi_env env, const uint64_t* values, size_t count) {
  napi_value value;
  if (count == 1) {
    napi_create_bigint_uint64(env, values[0], &value);
    return value;
  }
  napi_create_array_with_length(env, count, &value);
  for (size_t j = 0; j < count; ++j) {
    napi_value element;
    napi_create_bigint_uint64(env, values[j], &element);
    napi_set_element(env, value, static_cast<uint32_t>(j), element);
  }
  return value;
}

// The binary stats of a stats fd (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD): a header,
// descriptors of 16 bytes + name_size each (see StatsDescHead in uapi.h), then the u64 data
// block, read in one pread. -> { name: BigInt | BigInt[] }
napi_value ReadStats(NativeCall& call, int stats_fd) {
  kvm_stats_header header{};
  if (!ReadAt(stats_fd, &header, sizeof(header), 0)) return call.Number(-EIO);
  size_t desc_size = sizeof(StatsDescHead) + header.name_size;
  std::vector<uint8_t> descs(desc_size * header.num_desc);
  if (!ReadAt(stats_fd, descs.data(), descs.size(), header.desc_offset)) return call.Number(-EIO);
  auto desc_at = [&](uint32_t i) {
    StatsDescHead head;
    std::memcpy(&head, descs.data() + i * desc_size, sizeof(head));
    return head;
  };
  size_t data_words = 0;
  for (uint32_t i = 0; i < header.num_desc; ++i) {
    StatsDescHead head = desc_at(i);
    data_words = std::max(data_words, head.offset / sizeof(uint64_t) + head.size);
  }
  std::vector<uint64_t> data(data_words);
  if (!ReadAt(stats_fd, data.data(), data.size() * sizeof(uint64_t), header.data_offset)) return call.Number(-EIO);
  napi_value result;
  napi_create_object(call.env(), &result);
  for (uint32_t i = 0; i < header.num_desc; ++i) {
    StatsDescHead head = desc_at(i);
    const char* name_bytes = reinterpret_cast<const char*>(descs.data() + i * desc_size + sizeof(StatsDescHead));
    std::string name(name_bytes, strnlen(name_bytes, header.name_size));
    if (head.size == 0) continue;
    napi_value value = StatsValue(call.env(), data.data() + head.offset / sizeof(uint64_t), head.size);
    napi_set_named_property(call.env(), result, name.c_str(), value);
  }
  return result;
}

// stats(vcpuOrVmFd) -> { name: BigInt | BigInt[] } | -errno
napi_value Stats(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "stats");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  long stats_fd = IoctlValue(fd, KVM_GET_STATS_FD, 0);
  if (stats_fd < 0) return call.Number(stats_fd);
  napi_value result = ReadStats(call, static_cast<int>(stats_fd));
  if (g_trace_enabled) TraceSyscall(kClose, 0);
  close(static_cast<int>(stats_fd));
  return result;
}

const FunctionSpec kFunctions[] = {
    {"createVcpu", CreateVcpu}, {"mapVcpuRun", MapVcpuRun}, {"getRegs", GetRegs},   {"setRegs", SetRegs},
    {"getOneReg", GetOneReg},   {"setOneReg", SetOneReg},   {"stats", Stats},     {"interrupt", Interrupt},
};

napi_value OneRegIds(napi_env env) {
  napi_value ids;
  napi_create_object(env, &ids);
  auto set = [&](const std::string& name, uint64_t id) {
    napi_value value;
    napi_create_bigint_uint64(env, id, &value);
    napi_set_named_property(env, ids, name.c_str(), value);
  };
#if defined(__powerpc64__)
  set("LPCR", KVM_REG_PPC_LPCR);
  set("LPCR_64", KVM_REG_PPC_LPCR_64);
  set("FPSCR", KVM_REG_PPC_FPSCR);
  set("VSCR", KVM_REG_PPC_VSCR);
  set("ARCH_COMPAT", KVM_REG_PPC_ARCH_COMPAT);
  set("DEC_EXPIRY", KVM_REG_PPC_DEC_EXPIRY);
  set("PTCR", KVM_REG_PPC_PTCR);
  for (int n = 0; n < 32; ++n) set("FPR" + std::to_string(n), KVM_REG_PPC_FPR(n));
#else
  (void)set;  // register ids are architecture-specific; only ppc64's are named
#endif
  return ids;
}

}  // namespace

void RegisterKvmVcpu(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
  exports.Set("oneRegIds", Napi::Value(env, OneRegIds(env)));
  Napi::Object lines = Napi::Object::New(env);
  lines.Set("set", Napi::Number::New(env, static_cast<double>(KVM_INTERRUPT_SET)));
  lines.Set("unset", Napi::Number::New(env, static_cast<double>(KVM_INTERRUPT_UNSET)));
  lines.Set("setLevel", Napi::Number::New(env, static_cast<double>(KVM_INTERRUPT_SET_LEVEL)));
  exports.Set("interruptLines", lines);
  exports.Set("kvmRunSize", Napi::Number::New(env, static_cast<double>(sizeof(kvm_run))));
}

}  // namespace kvs
