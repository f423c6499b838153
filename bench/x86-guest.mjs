// The guests of the x86 exit benchmark (bench/c/x86_exits.c runs the same bytes): a real-mode loop
// at the reset vector that exits on every iteration, by port I/O or by an MMIO store.
const RESET_SLOT_BASE = 0xffff0000n; // arch/x86/kvm/x86.c kvm_vcpu_reset: CS base 0xffff0000, IP 0xfff0
const RESET_SLOT_SIZE = 64n << 10n;
const RESET_OFFSET = 0xfff0;
export const PROGRAMS = {
  io: [0xe6, 0x10, 0xeb, 0xfc], // out 0x10, al; jmp $-2
  mmio: [0xa2, 0x00, 0x80, 0xeb, 0xfb], // mov [0x8000], al; jmp $-3 (no memslot at 0x8000)
};

/** A VM whose one vCPU runs PROGRAMS[program]; disposing it closes everything. */
export function x86Guest({ GuestMemory, Kvm }, program) {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const memory = GuestMemory.allocate(RESET_SLOT_SIZE);
  new Uint8Array(memory.buffer).set(PROGRAMS[program], RESET_OFFSET);
  vm.setMemoryRegion({ slot: 0, guestPhysAddr: RESET_SLOT_BASE, memory });
  const vcpu = vm.createVcpu(0);
  return {
    vcpu,
    [Symbol.dispose]() {
      vcpu.close();
      memory.close();
      vm.close();
      kvm.close();
    },
  };
}

/**
 * Handlers that answer `exits` exits the way the C peer does (read what a dispatch reads: the MMIO
 * address and byte; an I/O exit's reason, all the library gives for port I/O) and then stop.
 */
export function exitHandlers({ ExitReason }, program, exits) {
  let answered = 0;
  let sink = 0n;
  const handlers = program === 'mmio'
    ? {
        mmio(access) {
          sink += access.address + BigInt(access.data[0]);
          answered += 1;
          return answered === exits ? 'stop' : undefined;
        },
      }
    : {
        exit(exit) {
          if (exit.reason !== ExitReason.IO) return 'stop';
          answered += 1;
          return answered === exits ? 'stop' : 'continue';
        },
      };
  return { handlers, answered: () => (sink >= 0n ? answered : -1) };
}
