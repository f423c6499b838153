// Fuzz targets for the VMM-facing API: EventFd (any Linux), the pure-JavaScript sPAPR pieces, and
// the VM / vCPU calls a VMM makes (interrupts, doorbells, MMU, RTAS tokens), which need a VM.
import fc from 'fast-check';
import { DeviceType, EventFd, KvmDevice } from '../../dist/index.js';
import { FdtWriter, HcallTable, HvTerminal, Rtas, Xics } from '../../dist/spapr/index.js';
import { arg, bigArg, integerArg, is, optionsArg, pickOrJunk } from './harness.mjs';

const keepAs = (kind) => (world, result) => world.add(kind, result);
const u64Big = (values) => bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(...values));
const eventFdArg = pickOrJunk('eventfd', (value) => value instanceof EventFd);
const optionalEventFd = pickOrJunk('eventfd', (value) => value === undefined || value instanceof EventFd);

/** EventFd: create, signal, read, watch. */
export function eventFdTargets() {
  return [
    {
      name: 'EventFd.create',
      args: [optionsArg({ initial: arg(is.optional(is.u32), fc.constantFrom(undefined, 0, 1, 2 ** 32 - 1)), semaphore: arg(is.optional(is.boolean), fc.constantFrom(undefined, true, false)) }, { optional: true })],
      call: (_w, _r, options) => EventFd.create(options),
      keep: keepAs('eventfd'),
    },
    { name: 'EventFd.signal', receiver: 'eventfd', args: [arg((v) => v === undefined || is.bigIn(1n, 2n ** 64n - 2n)(v), fc.constantFrom(undefined, 1n, 7n, 2n ** 64n - 2n), [0n, 2n ** 64n - 1n, 1])], call: (_w, e, value) => e.signal(value) },
    { name: 'EventFd.read', receiver: 'eventfd', args: [], call: (_w, e) => e.read() },
    {
      name: 'EventFd.watch',
      receiver: 'eventfd',
      args: [arg((v) => typeof v === 'function', fc.constant(() => {}))],
      call: (_w, e, fn) => e.watch(fn),
    },
    { name: 'EventFd.unwatch', receiver: 'eventfd', needsOpen: false, args: [], call: (_w, e) => e.unwatch() },
    { name: 'EventFd.close', receiver: 'eventfd', needsOpen: false, args: [], call: (_w, e) => e.close(), weight: 0.5 },
  ];
}

/** The pure-JavaScript sPAPR pieces: they never make a syscall, and bad input throws TypeError / RangeError. */
export function spaprTargets() {
  const ram = new DataView(new ArrayBuffer(0x1000));
  const word = integerArg(0, 2 ** 32 - 1, fc.constantFrom(0, 1, 0xfff, 2 ** 32 - 1));
  const args = arg((v) => Array.isArray(v) && v.every((x) => typeof x === 'bigint'), fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 9 }));
  return [
    {
      name: 'FdtWriter.u32',
      args: [arg((v) => typeof v === 'string' && /^[A-Za-z0-9,._+?#-]+$/.test(v), fc.constantFrom('reg', '#size-cells', 'ibm,x')), word],
      call: (_w, _r, name, cell) => new FdtWriter().beginNode('').u32(name, cell).endNode().finish(),
    },
    {
      name: 'HcallTable.dispatch',
      args: [u64Big([0x58n, 0xf000n, 0x1234n]), args],
      call: (_w, _r, nr, a) => new HcallTable().dispatch(nr, a),
    },
    {
      name: 'HvTerminal.putTermChar',
      args: [args],
      call: (_w, _r, a) => new HvTerminal({ write: () => {} }).putTermChar(a),
    },
    {
      name: 'Rtas.handle',
      args: [u64Big([0n, 0x100n, 0xff0n, 0x1000n, 2n ** 63n])],
      call: (_w, _r, address) => {
        const rtas = new Rtas(ram);
        rtas.define('power-off', () => [0]);
        return rtas.handle(address);
      },
    },
    {
      name: 'Xics.pulse',
      args: [integerArg(4096, 4096 + 15, fc.constantFrom(4096, 4100, 4111))],
      call: (_w, _r, irq) => new Xics({ servers: 1, sources: 16, setLine: () => {} }).pulse(irq),
    },
  ];
}

const XICS_DEVICE = (value) => value instanceof KvmDevice && value.type === DeviceType.XICS;

/** VM and vCPU calls of a VMM (receivers from a world with KVM). */
export function vmmTargets() {
  return [
    ...eventFdTargets(),
    { name: 'Vm.radixMmuInfo', receiver: 'vm', args: [], call: (_w, vm) => vm.radixMmuInfo() },
    {
      name: 'Vm.configureRadixMmu',
      receiver: 'vm',
      args: [optionsArg({ processTable: u64Big([0n, 4n, 25n, 0x10_0004n]), gtse: arg(is.optional(is.boolean), fc.constantFrom(undefined, true, false)) }, { valid: (o) => is.u64Big(o.processTable) })],
      call: (_w, vm, o) => vm.configureRadixMmu(o),
    },
    {
      name: 'Vm.defineRtasToken',
      receiver: 'vm',
      args: [
        arg((v) => typeof v === 'string' && v.length > 0 && !v.includes('\u0000') && Buffer.byteLength(v) <= 118, fc.constantFrom('ibm,set-xive', 'ibm,int-on', 'power-off'), ['', 'x'.repeat(119), 'a\u0000b']),
        integerArg(0, 2 ** 32 - 1, fc.constantFrom(0, 0x2000, 0x2001)),
      ],
      call: (_w, vm, name, token) => vm.defineRtasToken(name, token),
    },
    { name: 'Vm.allocateHashPageTable', receiver: 'vm', args: [integerArg(0, 63, fc.constantFrom(18, 24, 0))], call: (_w, vm, order) => vm.allocateHashPageTable(order), weight: 0.3 },
    { name: 'Vm.irqLine', receiver: 'vm', args: [integerArg(0, 2 ** 32 - 1, fc.constantFrom(0, 1, 4096)), arg(is.boolean, fc.boolean())], call: (_w, vm, irq, level) => vm.irqLine(irq, level) },
    ...['irqfd', 'removeIrqfd'].map((method) => ({
      name: `Vm.${method}`,
      receiver: 'vm',
      args: [optionsArg({ eventFd: eventFdArg, gsi: integerArg(0, 2 ** 32 - 1, fc.constantFrom(0, 4096)), resample: optionalEventFd }, { valid: (o) => o.eventFd instanceof EventFd })],
      call: (_w, vm, o) => vm[method](o),
    })),
    ...['ioeventfd', 'removeIoeventfd'].map((method) => ({
      name: `Vm.${method}`,
      receiver: 'vm',
      args: [optionsArg({
        eventFd: eventFdArg,
        address: u64Big([0x2000_0000n, 0n, 2n ** 64n - 8n]),
        length: arg((v) => v === undefined || [0, 1, 2, 4, 8].includes(v), fc.constantFrom(undefined, 0, 1, 2, 4, 8), [3, 16, -1]),
        datamatch: arg((v) => v === undefined || is.u64Big(v), fc.constantFrom(undefined, 0n, 7n)),
        pio: arg(is.optional(is.boolean), fc.constantFrom(undefined, false, true)),
      }, { valid: (o) => o.eventFd instanceof EventFd && is.u64Big(o.address) })],
      call: (_w, vm, o) => vm[method](o),
    })),
    { name: 'Vcpu.setExternalInterrupt', receiver: 'vcpu', args: [arg(is.boolean, fc.boolean())], call: (_w, vcpu, raised) => vcpu.setExternalInterrupt(raised) },
    {
      name: 'Vcpu.connectXics',
      receiver: 'vcpu',
      args: [pickOrJunk('kvmdevice', XICS_DEVICE), integerArg(0, 2 ** 32 - 1, fc.constantFrom(0, 1))],
      call: (_w, vcpu, device, server) => vcpu.connectXics(device, server),
      weight: 0.3,
    },
  ];
}

