// A XICS interrupt controller emulated in user space, for hosts without an in-kernel one: sources
// (ICS) routed to presentation controllers (ICP, one per interrupt server), driven by the guest's
// H_CPPR / H_XIRR / H_EOI / H_IPI / H_IPOLL and the RTAS calls ibm,set-xive, ibm,get-xive,
// ibm,int-on, ibm,int-off. Semantics as PAPR and QEMU hw/intc/xics.c, xics_spapr.c. Priorities:
// 0 is the most favoured, 0xff means masked / nothing pending.
import { HcallReturn, type HypercallAnswer } from '../vcpu.js';
import type { FdtWriter } from './fdt.js';
import { checkInteger, invalidArgType, outOfRange } from '../validate.js';
import { H, type HcallTable } from './hcalls.js';
import { type Rtas, RtasStatus } from './rtas.js';

/** The inter-processor interrupt's source number. */
export const XICS_IPI = 2;
const LEAST_FAVOURED = 0xff;
const XISR_MASK = 0x00ff_ffff;

/** Options of {@link Xics}. */
export interface XicsOptions {
  /** Interrupt servers (one per vCPU, numbered from 0). */
  servers: number;
  /** Interrupt sources. */
  sources: number;
  /** The first source's number (default 4096, as QEMU's). */
  firstIrq?: number;
  /** Raises or lowers a server's external interrupt line (vcpu.setExternalInterrupt). */
  setLine(server: number, raised: boolean): void;
  /** The server of the vCPU whose hypercall is being answered (default: 0). */
  currentServer?(): number;
}

interface Presentation {
  xirr: number; // CPPR << 24 | XISR
  mfrr: number;
  pending: number; // priority of the interrupt in XISR
  raised: boolean;
}

interface Source {
  server: number;
  priority: number;
  savedPriority: number;
  lsi: boolean;
  asserted: boolean;
  sent: boolean;
  rejected: boolean;
  maskedPending: boolean;
}

/** The controller: raise/lower/pulse sources; register() installs its hypercalls and RTAS calls. */
export class Xics {
  readonly #icps: Presentation[];
  readonly #ics: Source[];
  readonly #first: number;
  readonly #setLine: (server: number, raised: boolean) => void;
  readonly #currentServer: () => number;
  readonly #eoiListeners = new Map<number, () => void>();

  constructor(options: XicsOptions) {
    const { servers, sources, firstIrq = 4096 } = options;
    checkInteger('options.servers', servers, 1, 1 << 16);
    checkInteger('options.sources', sources, 1, 1 << 20);
    checkInteger('options.firstIrq', firstIrq, 16, 0xff_ffff - sources);
    if (typeof options.setLine !== 'function') throw invalidArgType('options.setLine', 'a function', options.setLine);
    this.#icps = Array.from({ length: servers }, () => ({ xirr: 0, mfrr: LEAST_FAVOURED, pending: LEAST_FAVOURED, raised: false }));
    this.#ics = Array.from({ length: sources }, () => ({ server: 0, priority: LEAST_FAVOURED, savedPriority: LEAST_FAVOURED, lsi: false, asserted: false, sent: false, rejected: false, maskedPending: false }));
    this.#first = firstIrq;
    this.#setLine = options.setLine;
    this.#currentServer = options.currentServer ?? (() => 0);
  }

  /** The first source number: sources are firstIrq .. firstIrq + sources - 1. */
  get firstIrq(): number {
    return this.#first;
  }

  /** Makes a source level-triggered (LSI, e.g. PCI INTx) or message-signalled (MSI, the default). */
  setLsi(irq: number, lsi: boolean): void {
    if (typeof lsi !== 'boolean') throw invalidArgType('lsi', 'of type boolean', lsi);
    this.#source(irq).lsi = lsi;
  }

  /** Asserts a level-triggered source, or delivers a message-signalled one. */
  raise(irq: number): void {
    const source = this.#source(irq);
    if (!source.lsi) return this.pulse(irq);
    source.asserted = true;
    this.#resendLsi(irq);
  }

  /** Deasserts a level-triggered source. */
  lower(irq: number): void {
    this.#source(irq).asserted = false;
  }

  /** Delivers one message-signalled interrupt (an MSI). */
  pulse(irq: number): void {
    const source = this.#source(irq);
    if (source.priority === LEAST_FAVOURED) {
      source.maskedPending = true;
      return;
    }
    this.#present(source.server, irq, source.priority);
  }

  /**
   * Calls `listener` when the guest EOIs source `irq`, before the controller looks for more work: a
   * passed-through INTx lowers its line and unmasks it at VFIO there, so a device that still asserts
   * fires again (the kernel masked the line when it fired: drivers/vfio/pci/vfio_pci_intrs.c).
   */
  onEoi(irq: number, listener: () => void): void {
    this.#source(irq);
    if (typeof listener !== 'function') throw invalidArgType('listener', 'a function', listener);
    this.#eoiListeners.set(irq, listener);
  }

  /** Installs the ICP hypercalls and the ICS RTAS calls. */
  register(table: HcallTable, rtas: Rtas): void {
    table
      .on(H.H_CPPR, (args) => (this.#setCppr(this.#server(), Number(args[0]! & 0xffn)), ok()))
      .on(H.H_IPI, (args) => this.#ipi(args))
      .on(H.H_XIRR, () => ({ ret: HcallReturn.H_SUCCESS, args: [BigInt(this.#accept(this.#server()))] }))
      .on(H.H_XIRR_X, () => ({ ret: HcallReturn.H_SUCCESS, args: [BigInt(this.#accept(this.#server())), 0n] }))
      .on(H.H_EOI, (args) => (this.#eoi(this.#server(), Number(args[0]! & 0xffff_ffffn)), ok()))
      .on(H.H_IPOLL, () => {
        const icp = this.#icps[this.#server()]!;
        return { ret: HcallReturn.H_SUCCESS, args: [BigInt(icp.xirr >>> 0), BigInt(icp.mfrr)] };
      });
    rtas.define('ibm,set-xive', (args) => this.#setXive(args));
    rtas.define('ibm,get-xive', (args) => this.#getXive(args));
    rtas.define('ibm,int-off', (args) => this.#intOff(args));
    rtas.define('ibm,int-on', (args) => this.#intOn(args));
  }

  /** Writes the interrupt-controller node (as QEMU's spapr_dt_xics does). */
  deviceTreeNode(writer: FdtWriter, phandle: number): void {
    writer.beginNode('interrupt-controller')
      .string('device_type', 'PowerPC-External-Interrupt-Presentation')
      .string('compatible', 'IBM,ppc-xicp')
      .property('interrupt-controller')
      .u32('ibm,interrupt-server-ranges', 0, this.#icps.length)
      .u32('#interrupt-cells', 2)
      .u32('#address-cells', 0)
      .u32('linux,phandle', phandle)
      .u32('phandle', phandle)
      .endNode();
  }

  #server(): number {
    const server = this.#currentServer();
    if (!this.#icps[server]) throw outOfRange('currentServer()', `a server of this XICS (0..${this.#icps.length - 1})`, server);
    return server;
  }

  #source(irq: number): Source {
    checkInteger('irq', irq, 0, 0xff_ffff);
    const source = this.#ics[irq - this.#first];
    if (!Number.isInteger(irq) || !source) throw outOfRange('irq', `a source of this XICS (${this.#first}..${this.#first + this.#ics.length - 1})`, irq);
    return source;
  }

  #line(server: number, raised: boolean): void {
    const icp = this.#icps[server]!;
    if (icp.raised === raised) return;
    icp.raised = raised;
    this.#setLine(server, raised);
  }

  /** Presents interrupt `irq` at `priority` to a server, or rejects it back to its source. */
  #present(server: number, irq: number, priority: number): void {
    const icp = this.#icps[server];
    if (!icp) return;
    const cppr = icp.xirr >>> 24;
    if (priority >= cppr || ((icp.xirr & XISR_MASK) !== 0 && icp.pending <= priority)) {
      this.#reject(irq);
      return;
    }
    const previous = icp.xirr & XISR_MASK;
    icp.xirr = ((icp.xirr & ~XISR_MASK) | irq) >>> 0;
    icp.pending = priority;
    if (previous !== 0) this.#reject(previous);
    this.#line(server, true);
  }

  #reject(irq: number): void {
    if (irq === XICS_IPI) return; // the MFRR still holds it: resend() checks again
    const source = this.#ics[irq - this.#first];
    if (!source) return;
    if (source.lsi) source.sent = false;
    else source.rejected = true;
  }

  #resendLsi(irq: number): void {
    const source = this.#source(irq);
    if (source.asserted && !source.sent && source.priority !== LEAST_FAVOURED) {
      source.sent = true;
      this.#present(source.server, irq, source.priority);
    }
  }

  #resend(server: number): void {
    const icp = this.#icps[server]!;
    if (icp.mfrr < icp.xirr >>> 24) this.#checkIpi(server);
    this.#ics.forEach((source, index) => {
      if (source.server !== server) return;
      const irq = index + this.#first;
      if (source.lsi) this.#resendLsi(irq);
      else if (source.rejected) {
        source.rejected = false;
        this.#present(server, irq, source.priority);
      }
    });
  }

  #checkIpi(server: number): void {
    const icp = this.#icps[server]!;
    if ((icp.xirr & XISR_MASK) !== 0 && icp.pending <= icp.mfrr) return;
    const previous = icp.xirr & XISR_MASK;
    icp.xirr = ((icp.xirr & ~XISR_MASK) | XICS_IPI) >>> 0;
    icp.pending = icp.mfrr;
    if (previous !== 0 && previous !== XICS_IPI) this.#reject(previous);
    this.#line(server, true);
  }

  #setCppr(server: number, cppr: number): void {
    const icp = this.#icps[server]!;
    const old = icp.xirr >>> 24;
    icp.xirr = ((icp.xirr & XISR_MASK) | (cppr << 24)) >>> 0;
    if (cppr < old) {
      const pending = icp.xirr & XISR_MASK;
      if (pending !== 0 && cppr <= icp.pending) {
        icp.xirr = (icp.xirr & ~XISR_MASK) >>> 0;
        icp.pending = LEAST_FAVOURED;
        this.#line(server, false);
        this.#reject(pending);
      }
    } else if ((icp.xirr & XISR_MASK) === 0) {
      this.#resend(server);
    }
  }

  #ipi(args: readonly bigint[]): HypercallAnswer {
    const server = Number(args[0]);
    const icp = this.#icps[server];
    if (!icp) return { ret: HcallReturn.H_PARAMETER };
    icp.mfrr = Number(args[1]! & 0xffn);
    if (icp.mfrr < icp.xirr >>> 24) this.#checkIpi(server);
    return ok();
  }

  #accept(server: number): number {
    const icp = this.#icps[server]!;
    const xirr = icp.xirr >>> 0;
    if ((xirr & XISR_MASK) === 0) return xirr; // nothing presented: the CPPR stays (KVM's kvmppc_h_xirr does the same)
    icp.xirr = (icp.pending << 24) >>> 0;
    icp.pending = LEAST_FAVOURED;
    this.#line(server, false);
    return xirr;
  }

  #eoi(server: number, xirr: number): void {
    const icp = this.#icps[server]!;
    icp.xirr = ((icp.xirr & XISR_MASK) | (xirr & ~XISR_MASK)) >>> 0;
    const irq = xirr & XISR_MASK;
    const source = this.#ics[irq - this.#first];
    if (source?.lsi) source.sent = false;
    this.#eoiListeners.get(irq)?.();
    if ((icp.xirr & XISR_MASK) === 0) this.#resend(server);
  }

  #setXive(args: readonly number[]): number[] {
    const [irq, server, priority] = args as [number, number, number];
    const source = this.#ics[irq - this.#first];
    if (!source || !this.#icps[server] || priority > LEAST_FAVOURED) return [RtasStatus.PARAMETER_ERROR];
    source.server = server;
    source.priority = priority;
    source.savedPriority = priority;
    this.#afterPriorityChange(irq, source);
    return [RtasStatus.SUCCESS];
  }

  #getXive(args: readonly number[]): number[] {
    const source = this.#ics[args[0]! - this.#first];
    return source ? [RtasStatus.SUCCESS, source.server, source.priority] : [RtasStatus.PARAMETER_ERROR];
  }

  #intOff(args: readonly number[]): number[] {
    const source = this.#ics[args[0]! - this.#first];
    if (!source) return [RtasStatus.PARAMETER_ERROR];
    source.priority = LEAST_FAVOURED;
    return [RtasStatus.SUCCESS];
  }

  #intOn(args: readonly number[]): number[] {
    const source = this.#ics[args[0]! - this.#first];
    if (!source) return [RtasStatus.PARAMETER_ERROR];
    source.priority = source.savedPriority;
    this.#afterPriorityChange(args[0]!, source);
    return [RtasStatus.SUCCESS];
  }

  #afterPriorityChange(irq: number, source: Source): void {
    if (source.priority === LEAST_FAVOURED) return;
    if (source.lsi) this.#resendLsi(irq);
    else if (source.maskedPending) {
      source.maskedPending = false;
      this.#present(source.server, irq, source.priority);
    }
  }
}

function ok(): HypercallAnswer {
  return { ret: HcallReturn.H_SUCCESS };
}
