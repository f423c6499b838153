// QEMU's `edu` PCI device (hw/misc/edu.c), driven through VFIO to check that TCEs reach the IOMMU:
// it copies up to 4 KiB between bus addresses and its internal buffer. Its registers are
// big-endian on qemu-system-ppc64, so every access is byte-swapped (its ID reads 0xed000001 raw).
import { PciRegion, type VfioDevice } from 'kvm-vfio-spapr';

const REG_ID = 0x00n;
const REG_DMA_SRC = 0x80n;
const REG_DMA_DST = 0x88n;
const REG_DMA_COUNT = 0x90n;
const REG_DMA_CMD = 0x98n;
const DMA_START = 0x1n;
const DMA_FROM_DEVICE = 0x2n;
/** Where the device's 4 KiB DMA buffer is in its own address space. */
export const EDU_BUFFER = 0x40000n;
const PCI_COMMAND = 0x4;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_MASTER = 0x4;

function swap32(value: bigint): bigint {
  return ((value & 0xffn) << 24n) | ((value & 0xff00n) << 8n) | ((value >> 8n) & 0xff00n) | ((value >> 24n) & 0xffn);
}

export class EduDevice {
  constructor(readonly device: VfioDevice) {
    const command = device.readConfig(PCI_COMMAND, 2);
    device.writeConfig(PCI_COMMAND, 2, command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  }

  /** The identification register: 0x010000ed for edu 1.0. */
  id(): bigint {
    return this.read(REG_ID);
  }

  /**
   * One DMA of `count` bytes between bus address `busAddress` and the device buffer; waits for
   * the device's completion (it finishes after a 100 ms timer). Throws if it does not complete.
   */
  async dma(direction: 'to-device' | 'from-device', busAddress: bigint, count: bigint): Promise<void> {
    const [source, destination] = direction === 'to-device' ? [busAddress, EDU_BUFFER] : [EDU_BUFFER, busAddress];
    this.write(REG_DMA_SRC, source);
    this.write(REG_DMA_DST, destination);
    this.write(REG_DMA_COUNT, count);
    this.write(REG_DMA_CMD, DMA_START | (direction === 'from-device' ? DMA_FROM_DEVICE : 0n));
    for (let waited = 0; waited < 10_000; waited += 20) {
      if ((this.read(REG_DMA_CMD) & DMA_START) === 0n) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('edu DMA did not complete within 10 s');
  }

  private read(register: bigint): bigint {
    return swap32(this.device.read(PciRegion.BAR0, register, 4));
  }

  private write(register: bigint, value: bigint): void {
    this.device.write(PciRegion.BAR0, register, 4, swap32(value & 0xffff_ffffn));
  }
}
