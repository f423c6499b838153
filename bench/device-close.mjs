// Closing a KVM-VFIO device: the kernel releases it only after an RCU grace period
// (virt/kvm/kvm_main.c kvm_device_release: list_del_rcu, synchronize_rcu), so close() holds the
// thread for that long and closeAsync() does it on the thread pool. Worst event-loop delay of
// each, `reps` times, with an idle baseline as long as the sync close, in the same reps. Used on
// the x86 host (host-kvm.mjs) and in the emulated POWER host (guest.mjs).
import { loopDelayDuring, sleep, summarizeDelays } from './measure.mjs';

const ROWS = {
  'device-close-idle': 'idle event loop (baseline: the timer alone, as long as the sync close)',
  'device-close-sync': 'KVM-VFIO device close() (sync): the kernel waits for an RCU grace period',
  'device-close-async': 'KVM-VFIO device closeAsync(): the close(2) on the thread pool',
};

/** Entries { key, name, reps, operationMs, worstDelayMs, medianWorstDelayMs, p99DelayMs }, as measureEventLoop's. */
export async function measureDeviceClose({ Kvm, reps = 5 }) {
  const samples = new Map(Object.keys(ROWS).map((key) => [key, []]));
  const kvm = Kvm.open();
  try {
    for (let rep = 0; rep < reps; rep += 1) {
      for (const variant of ['sync', 'async']) {
        const vm = kvm.createVm();
        const device = vm.createVfioDevice();
        samples.get(`device-close-${variant}`).push(await loopDelayDuring(variant === 'sync' ? () => device.close() : () => device.closeAsync()));
        vm.close();
      }
      const syncMs = samples.get('device-close-sync').at(-1).operationMs;
      samples.get('device-close-idle').push(await loopDelayDuring(() => sleep(Math.max(1, syncMs))));
    }
  } finally {
    kvm.close();
  }
  return summarizeDelays(samples, ROWS);
}
