#include "vcpu_exit.h"

#include <algorithm>
#include <cstring>

#include "addon.h"

namespace kvs {

Napi::Object RunResultObject(Napi::Env env, const RunTotals& totals) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("outcome", totals.outcome);
  result.Set("runs", Napi::BigInt::New(env, totals.runs));
  result.Set("exits", Napi::BigInt::New(env, totals.exits));
  result.Set("fpClobbers", Napi::BigInt::New(env, totals.fp_clobbers));
  result.Set("fpCanaryIntact", Napi::Boolean::New(env, totals.fp_canary_intact));
  result.Set("errno", Napi::Number::New(env, static_cast<double>(totals.error)));
  result.Set("exitReason", Napi::Number::New(env, totals.exit_reason));
  return result;
}

void CaptureExit(const kvm_run* run, ExitInfo* exit) {
  *exit = ExitInfo{};
  exit->reason = run->exit_reason;
  if (exit->reason == KVM_EXIT_PAPR_HCALL) {
    exit->hcall_nr = run->papr_hcall.nr;
    std::memcpy(exit->hcall_args, run->papr_hcall.args, sizeof(exit->hcall_args));
  } else if (exit->reason == KVM_EXIT_MMIO) {
    exit->mmio_address = run->mmio.phys_addr;
    exit->mmio_length = std::min<uint32_t>(run->mmio.len, sizeof(exit->mmio_data));
    exit->mmio_is_write = run->mmio.is_write != 0;
    std::memcpy(exit->mmio_data, run->mmio.data, sizeof(exit->mmio_data));
  } else if (exit->reason == KVM_EXIT_INTERNAL_ERROR) {
    exit->suberror = run->internal.suberror;
    exit->ndata = std::min<uint32_t>(run->internal.ndata, kMaxExitData);
    std::memcpy(exit->data, run->internal.data, exit->ndata * sizeof(uint64_t));
  } else if (exit->reason == KVM_EXIT_SYSTEM_EVENT) {
    exit->event_type = run->system_event.type;
    exit->ndata = std::min<uint32_t>(run->system_event.ndata, kMaxExitData);
    std::memcpy(exit->data, run->system_event.data, exit->ndata * sizeof(uint64_t));
  }
}

void WriteExitRecord(const kvm_run* run, uint64_t* record) {
  using L = ExitRecordLayout;
  ExitInfo exit;
  CaptureExit(run, &exit);
  uint32_t small[4] = {exit.reason, 0, 0, 0};
  if (exit.reason == KVM_EXIT_PAPR_HCALL) {
    record[L::kFirst] = exit.hcall_nr;
    std::memcpy(record + L::kWords, exit.hcall_args, sizeof(exit.hcall_args));
  } else if (exit.reason == KVM_EXIT_MMIO) {
    record[L::kFirst] = exit.mmio_address;
    small[1] = exit.mmio_length;
    small[2] = exit.mmio_is_write ? 1 : 0;
    std::memcpy(record + L::kBytes, exit.mmio_data, sizeof(exit.mmio_data));
  } else if (exit.reason == KVM_EXIT_INTERNAL_ERROR || exit.reason == KVM_EXIT_SYSTEM_EVENT) {
    small[1] = exit.ndata;
    small[3] = exit.reason == KVM_EXIT_INTERNAL_ERROR ? exit.suberror : exit.event_type;
    std::memcpy(record + L::kWords, exit.data, exit.ndata * sizeof(uint64_t));
  }
  std::memcpy(record + L::kSmall, small, sizeof(small));
}

void ApplyExitRecord(kvm_run* run, const uint64_t* record) {
  using L = ExitRecordLayout;
  if (run->exit_reason == KVM_EXIT_PAPR_HCALL) {
    run->papr_hcall.ret = record[L::kFirst];
    std::memcpy(run->papr_hcall.args, record + L::kWords, sizeof(run->papr_hcall.args));
  } else if (run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write) {
    std::memcpy(run->mmio.data, record + L::kBytes, std::min<uint32_t>(run->mmio.len, sizeof(run->mmio.data)));
  }
}

Napi::Object ExitRecordLayoutObject(Napi::Env env) {
  using L = ExitRecordLayout;
  static_assert(L::kCode < L::kSize * 2, "the uint32_t fields fit the record");
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("first", L::kFirst);
  layout.Set("words", L::kWords);
  layout.Set("bytes", L::kBytes);
  layout.Set("size", L::kSize);
  layout.Set("reason", L::kReason);
  layout.Set("count", L::kCount);
  layout.Set("isWrite", L::kIsWrite);
  layout.Set("code", L::kCode);
  return layout;
}

Napi::Object ExitEvent(Napi::Env env, const ExitInfo& exit) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("reason", Napi::Number::New(env, exit.reason));
  if (exit.reason == KVM_EXIT_PAPR_HCALL) {
    event.Set("nr", Napi::BigInt::New(env, exit.hcall_nr));
    Napi::Array args = Napi::Array::New(env, 9);
    for (uint32_t i = 0; i < 9; ++i) args.Set(i, Napi::BigInt::New(env, exit.hcall_args[i]));
    event.Set("args", args);
  } else if (exit.reason == KVM_EXIT_MMIO) {
    event.Set("address", Napi::BigInt::New(env, exit.mmio_address));
    event.Set("length", Napi::Number::New(env, exit.mmio_length));
    event.Set("isWrite", Napi::Boolean::New(env, exit.mmio_is_write));
    if (exit.mmio_is_write) event.Set("data", Napi::Buffer<uint8_t>::Copy(env, exit.mmio_data, exit.mmio_length));
  } else if (exit.reason == KVM_EXIT_INTERNAL_ERROR || exit.reason == KVM_EXIT_SYSTEM_EVENT) {
    if (exit.reason == KVM_EXIT_INTERNAL_ERROR) event.Set("suberror", Napi::Number::New(env, exit.suberror));
    if (exit.reason == KVM_EXIT_SYSTEM_EVENT) event.Set("type", Napi::Number::New(env, exit.event_type));
    Napi::Array data = Napi::Array::New(env, exit.ndata);
    for (uint32_t i = 0; i < exit.ndata; ++i) data.Set(i, Napi::BigInt::New(env, exit.data[i]));
    event.Set("data", data);
  }
  return event;
}

namespace {

// An MMIO read's answer: a Uint8Array of the access's length (lib/ has checked it).
void ReadMmioAnswer(Napi::Value value, uint32_t length, uint8_t* out) {
  if (!value.IsTypedArray()) return;
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) return;
  Napi::Uint8Array bytes = array.As<Napi::Uint8Array>();
  std::memcpy(out, bytes.Data(), std::min<size_t>(bytes.ElementLength(), length));
}

}  // namespace

Answer ReadAnswer(Napi::Env env, Napi::Value result, const ExitInfo& exit) {
  Answer answer;
  if (!result.IsObject()) {
    answer.stop = answer.handler_stopped = true;
    return answer;
  }
  Napi::Object object = result.As<Napi::Object>();
  answer.stop = answer.handler_stopped = object.Get("stop").ToBoolean().Value();
  uint64_t value = 0;
  if (ReadU64(env, object.Get("ret"), &value)) answer.ret = value;
  Napi::Value args = object.Get("args");
  if (args.IsArray()) {
    Napi::Array array = args.As<Napi::Array>();
    for (uint32_t i = 0; i < 9 && i < array.Length(); ++i) {
      if (ReadU64(env, array.Get(i), &value)) {
        answer.args[i] = value;
        answer.args_mask |= 1u << i;
      }
    }
  }
  ReadMmioAnswer(object.Get("data"), exit.mmio_length, answer.mmio_data);
  return answer;
}

void ApplyAnswer(kvm_run* run, const ExitInfo& exit, const Answer& answer) {
  if (exit.reason == KVM_EXIT_PAPR_HCALL) {
    run->papr_hcall.ret = answer.ret;
    for (int i = 0; i < 9; ++i) {
      if (answer.args_mask & (1u << i)) run->papr_hcall.args[i] = answer.args[i];
    }
  } else if (exit.reason == KVM_EXIT_MMIO && !exit.mmio_is_write) {
    std::memcpy(run->mmio.data, answer.mmio_data, exit.mmio_length);
  }
}

}  // namespace kvs
