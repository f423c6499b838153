// kvm-vfio-spapr/spapr: the sPAPR platform pieces a pseries VMM builds on, each usable alone.
export { FdtWriter } from './fdt.js';
export { H, HcallTable, type HcallHandler } from './hcalls.js';
export { HvTerminal, type HvTerminalOptions } from './console.js';
export { Rtas, RtasStatus, rtasNode, standardRtasCalls, type RtasHandler, type StandardRtasOptions } from './rtas.js';
export { XICS_IPI, Xics, type XicsOptions } from './xics.js';
export { TCE_PCI_READ, TCE_PCI_WRITE, TceHypercalls, UserTceTable, type GuestRamSlot, type TceRegisterOptions, type TceStats, type TceTranslation, type UserTceTableOptions } from './tce.js';
export { SpaprPciBridges, SpaprPhb, vfioPciFunction, type AssignedBar, type PciFunction, type PciAttachOptions, type SpaprPhbOptions } from './pci.js';
