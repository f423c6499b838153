{
  "targets": [
    {
      "target_name": "kvm_vfio_spapr",
      "sources": [
        "native/addon.cc",
        "native/syscall.cc",
        "native/native_call.cc",
        "native/fd.cc",
        "native/fd_table.cc",
        "native/requests.cc",
        "native/kvm_system.cc",
        "native/kvm_vm.cc",
        "native/kvm_vm_ppc.cc",
        "native/kvm_irq.cc",
        "native/event_fd.cc",
        "native/kvm_device.cc",
        "native/mapping.cc",
        "native/async_work.cc",
        "native/spapr_tce_table.cc",
        "native/vfio_container.cc",
        "native/vfio_group.cc",
        "native/vfio_device.cc",
        "native/kvm_vcpu.cc",
        "native/vcpu_run.cc",
        "native/vcpu_exit.cc",
        "native/vcpu_run_sync.cc",
        "native/fp_state.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
