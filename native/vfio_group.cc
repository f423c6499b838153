// /dev/vfio/N: status, container attach/detach, device fds (drivers/vfio/group.c).
#include <unistd.h>

#include <string>

#include "async_work.h"
#include "syscall.h"
#include "uapi.h"

namespace kvs {
namespace {

// getStatus(fd) -> VFIO_GROUP_FLAGS_* | -errno
napi_value GetStatus(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioGroupGetStatus");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  vfio_group_status status{};
  status.argsz = sizeof(status);
  long result = Ioctl(fd, VFIO_GROUP_GET_STATUS, &status);
  return call.Number(result < 0 ? result : static_cast<long>(status.flags));
}

long SetContainer(int group_fd, int container_fd) {
  int32_t payload = container_fd;
  return Ioctl(group_fd, VFIO_GROUP_SET_CONTAINER, &payload);
}

// setContainer(groupFd, containerFd): the container fd is read by the kernel from our int.
napi_value GroupSetContainer(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioGroupSetContainer");
  int group_fd = call.OwnedFd(0);
  if (group_fd < 0) return nullptr;
  int container_fd = call.OwnedFd(1);
  if (container_fd < 0) return nullptr;
  return call.Number(SetContainer(group_fd, container_fd));
}

// The async variant passes its own duplicate of the group fd; the container fd is duplicated
// here too, since the work may outlive the JavaScript object that owns it.
napi_value GroupSetContainerAsync(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioGroupSetContainerAsync");
  int group_fd = call.OwnedFd(0);
  if (group_fd < 0) return nullptr;
  int container_fd = call.OwnedFd(1);
  if (container_fd < 0) return nullptr;
  long container_copy = DuplicateCloexec(container_fd);
  return QueueAsync(call, "vfioGroupSetContainer", group_fd, nullptr, [container_copy](int work_fd) {
    if (container_copy < 0) return AsyncResult{container_copy};
    long result = SetContainer(work_fd, static_cast<int>(container_copy));
    close(static_cast<int>(container_copy));
    return AsyncResult{result};
  });
}

napi_value GroupUnsetContainer(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioGroupUnsetContainer");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  return call.Number(IoctlValue(fd, VFIO_GROUP_UNSET_CONTAINER, 0));
}

// getDeviceFd(groupFd, name) -> device fd | -errno. name is the device's sysfs name.
napi_value GroupGetDeviceFd(napi_env env, napi_callback_info info) {
  NativeCall call(env, info, "vfioGroupGetDeviceFd");
  int fd = call.OwnedFd(0);
  if (fd < 0) return nullptr;
  char name[64] = {0};
  size_t length = 0;
  if (napi_get_value_string_utf8(env, call.arg(1), name, sizeof(name), &length) != napi_ok || length == 0 ||
      length >= sizeof(name) - 1) {
    return call.BadArgument(1);
  }
  return call.AdoptedFd(Ioctl(fd, VFIO_GROUP_GET_DEVICE_FD, name));
}

const FunctionSpec kFunctions[] = {
    {"vfioGroupGetStatus", GetStatus},
    {"vfioGroupSetContainer", GroupSetContainer},
    {"vfioGroupSetContainerAsync", GroupSetContainerAsync},
    {"vfioGroupUnsetContainer", GroupUnsetContainer},
    {"vfioGroupGetDeviceFd", GroupGetDeviceFd},
};

}  // namespace

void RegisterVfioGroup(Napi::Env env, Napi::Object exports, AddonState* state) {
  DefineFunctions(env, exports, state, kFunctions);
}

}  // namespace kvs
