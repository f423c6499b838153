// Loads the native addon: an explicit override, else the newer of prebuilds/<platform>-<arch>/
// and build/Release, then build/Debug. When nothing loads, one error lists every path tried.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Results are `>= 0` on success or `-errno`; functions that yield a BigInt return it on success. */
export interface NativeAddon {
  readonly arch: string;
  readonly requests: Readonly<Record<string, number>>;
  readonly constants: Readonly<Record<string, number>>;
  readonly errnoNames: readonly (string | undefined)[];
  readonly errnoDescriptions: readonly (string | undefined)[];

  openDevice(path: string): number;
  duplicateFd(borrowedFd: number): number;
  closeFd(fd: number): number;
  closeFdAsync(fd: number): Promise<number>;
  ownedFdCount(): number;
  liveMappingCount(): number;
  isOwnedFd(fd: number): boolean;
  setSyscallTrace(enabled: boolean): void;
  takeSyscallTrace(): number[];

  getApiVersion(fd: number): number;
  checkExtension(fd: number, cap: number): number;
  getVcpuMmapSize(fd: number): number;

  createVm(systemFd: number, type: number): number;
  enableCap(fd: number, cap: number, a0: bigint | number, a1: bigint | number, a2: bigint | number, a3: bigint | number): number;

  createDevice(vmFd: number, type: number): number;
  testDevice(vmFd: number, type: number): number;
  hasDeviceAttr(fd: number, group: number, attr: bigint | number): number;
  setDeviceAttrNone(fd: number, group: number, attr: bigint | number): number;
  setDeviceAttrU64(fd: number, group: number, attr: bigint | number, value: bigint | number): number;
  setDeviceAttrFd(fd: number, group: number, attr: bigint | number, payloadFd: number): number;
  setSpaprTce(kvmVfioFd: number, groupFd: number, tableFd: number): number;
  getDeviceAttrU64(fd: number, group: number, attr: bigint | number): bigint | number;

  pageSize(): number;
  mapAnonymous(length: bigint | number): MappedRegion | number;
  unmapMapping(handle: MappingHandle, buffer: ArrayBuffer): number;

  createSpaprTce64(vmFd: number, liobn: bigint, pageShift: number, offset: bigint, size: bigint): number;
  createSpaprTce(vmFd: number, liobn: bigint, windowSize: number): number;
  mapSpaprTceTable(tableFd: number, entries: bigint): MappedRegion | number;

  vfioGetApiVersion(fd: number): number;
  vfioCheckExtension(fd: number, extension: number): number;
  vfioSetIommu(fd: number, type: number): number;
  spaprTceGetInfo(fd: number): NativeSpaprInfo | number;
  vfioIommuEnable(fd: number): number;
  vfioIommuDisable(fd: number): number;
  vfioMapDma(fd: number, handle: MappingHandle, offset: bigint, iova: bigint, size: bigint, flags: number): number;
  vfioUnmapDma(fd: number, iova: bigint, size: bigint): number;
  spaprRegisterMemory(fd: number, handle: MappingHandle): number;
  spaprRegisterMemoryAsync(fd: number, handle: MappingHandle): Promise<number>;
  spaprUnregisterMemory(fd: number, handle: MappingHandle): number;
  spaprUnregisterMemoryAsync(fd: number, handle: MappingHandle): Promise<number>;
  spaprCreateWindow(fd: number, pageShift: number, windowSize: bigint, levels: number): bigint | number;
  spaprCreateWindowAsync(fd: number, pageShift: number, windowSize: bigint, levels: number): Promise<bigint | number>;
  spaprRemoveWindow(fd: number, startAddr: bigint): number;
  spaprRemoveWindowAsync(fd: number, startAddr: bigint): Promise<number>;
  eehPeOp(fd: number, op: number): number;

  vfioGroupGetStatus(fd: number): number;
  vfioGroupSetContainer(groupFd: number, containerFd: number): number;
  vfioGroupSetContainerAsync(groupFd: number, containerFd: number): Promise<number>;
  vfioGroupUnsetContainer(fd: number): number;
  vfioGroupGetDeviceFd(fd: number, name: string): number;

  vfioDeviceGetInfo(fd: number): { flags: number; numRegions: number; numIrqs: number } | number;
  vfioDeviceGetRegionInfo(fd: number, index: number): { flags: number; size: bigint; offset: bigint } | number;
  vfioDeviceReadRegion(fd: number, position: bigint, width: number): bigint | number;
  vfioDeviceWriteRegion(fd: number, position: bigint, width: number, value: bigint): number;
  vfioDeviceMapRegion(fd: number, regionOffset: bigint, size: bigint): MappedRegion | number;
  vfioDeviceGetIrqInfo(fd: number, index: number): { flags: number; count: number } | number;
  vfioDeviceSetIrqs(fd: number, index: number, start: number, count: number, action: number, eventFds?: Int32Array): number;
  vfioDeviceReset(fd: number): number;

  setUserMemoryRegion(vmFd: number, slot: number, flags: number, guestPhysAddr: bigint, handle: MappingHandle): number;
  deleteUserMemoryRegion(vmFd: number, slot: number): number;
  createVcpu(vmFd: number, id: number): number;
  mapVcpuRun(vcpuFd: number, length: number): MappedRegion | number;
  getRegs(vcpuFd: number): BigUint64Array | number;
  setRegs(vcpuFd: number, regs: BigUint64Array): number;
  getOneReg(vcpuFd: number, id: bigint): bigint | number;
  setOneReg(vcpuFd: number, id: bigint, value: bigint): number;
  stats(fd: number): Record<string, bigint | bigint[]> | number;
  runVcpu(vcpuFd: number, run: MappingHandle, handler: (exit: NativeExit) => NativeAnswer | undefined, fpCanary: boolean): { promise: Promise<NativeRunResult>; stop(): void } | number;
  readonly oneRegIds: Readonly<Record<string, bigint>>;
  readonly kvmRunSize: number;
  interrupt(vcpuFd: number, irq: number): number;
  runVcpuSync(vcpuFd: number, run: MappingHandle, handler: () => number, record: BigUint64Array, stopFlag: Int32Array | undefined, registers?: BigUint64Array, registerHandler?: (registers: BigUint64Array) => bigint | 'stop'): (NativeRunResult & { registerHypercalls?: bigint }) | number;
  /** Word indexes of runSync's exit record (native/vcpu_exit.h ExitRecordLayout). */
  readonly exitRecordLayout: Readonly<ExitRecordLayout>;
  kickVcpu(stopFlag: Int32Array): boolean;
  readonly interruptLines: Readonly<{ set: number; unset: number; setLevel: number }>;

  configureV3Mmu(vmFd: number, flags: bigint, processTable: bigint): number;
  getRmmuInfo(vmFd: number): NativeRmmuInfo | number;
  rtasDefineToken(vmFd: number, name: string, token: bigint): number;
  allocateHtab(vmFd: number, order: number): number;
  irqLine(vmFd: number, irq: number, level: number): number;
  irqfd(vmFd: number, eventFd: number, gsi: number, flags: number, resampleFd: number): number;
  ioeventfd(vmFd: number, eventFd: number, addr: bigint, len: number, flags: number, datamatch: bigint): number;

  createEventFd(initial: number, semaphore: boolean): number;
  eventFdRead(fd: number): bigint | number;
  eventFdWrite(fd: number, value: bigint): number;
  eventFdWatch(fd: number, callback: (count: bigint | number) => void): EventFdWatchHandle | number;
  eventFdUnwatch(watch: EventFdWatchHandle): void;
}

/** An opaque, type-tagged object naming a native mapping; its address never reaches JavaScript. */
export type MappingHandle = object & { readonly __mapping: unique symbol };

/** A mapping as the addon returns it: the external ArrayBuffer over it and its handle. */
export interface MappedRegion {
  readonly buffer: ArrayBuffer;
  readonly handle: MappingHandle;
}

export interface NativeSpaprInfo {
  flags: number;
  dma32WindowStart: number;
  dma32WindowSize: number;
  pageSizes: bigint;
  maxDynamicWindows: number;
  levels: number;
}

/** An opaque handle of a libuv poll on an eventfd. */
export type EventFdWatchHandle = object & { readonly __eventFdWatch: unique symbol };

export interface NativeRmmuInfo {
  geometries: { pageShift: number; levelBits: number[] }[];
  apEncodings: number[];
}

/** An exit as the run thread hands it over. */
export interface NativeExit {
  reason: number;
  nr?: bigint;
  args?: bigint[];
  suberror?: number;
  type?: number;
  data?: bigint[] | Uint8Array;
  address?: bigint;
  length?: number;
  isWrite?: boolean;
}

export interface ExitRecordLayout {
  /** BigUint64Array indexes, and the record's size in words. */
  first: number;
  words: number;
  bytes: number;
  size: number;
  /** Uint32Array indexes over the same buffer. */
  reason: number;
  count: number;
  isWrite: number;
  code: number;
}

/** What JavaScript answers an exit with. */
export interface NativeAnswer {
  stop?: boolean;
  ret?: bigint;
  args?: (bigint | undefined)[];
  data?: Uint8Array;
}

export interface NativeRunResult {
  outcome: 'stopped' | 'handler' | 'error' | 'aborted' | 'threw';
  runs: bigint;
  exits: bigint;
  fpClobbers: bigint;
  fpCanaryIntact: boolean;
  errno: number;
  exitReason: number;
}

const ADDON_FILE = 'kvm_vfio_spapr.node';
/** The environment variable that names the addon file to load instead of the package's own. */
export const ADDON_OVERRIDE_ENV = 'KVM_VFIO_SPAPR_ADDON';

function packageRoot(): string {
  // dist/native.js (or lib/native.ts under a test runner) sits one level below the package root.
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

function prebuildCandidates(root: string): string[] {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return [join(dir, '*.node')];
  const files = readdirSync(dir).filter((name) => name.endsWith('.node')).sort();
  return files.length > 0 ? files.map((name) => join(dir, name)) : [join(dir, '*.node')];
}

/**
 * The addon files the loader tries, in order: the override ({@link ADDON_OVERRIDE_ENV}) alone when
 * set; otherwise every `*.node` in prebuilds/<platform>-<arch>/ (e.g. prebuilds/linux-ppc64/ on
 * ppc64le), then build/Release and build/Debug.
 */
function modifiedAt(path: string): number {
  return existsSync(path) ? statSync(path).mtimeMs : -1;
}

/**
 * Where the addon may be, in the order tried: the override alone when set; otherwise the
 * matching prebuild and build/Release, the newer first (an installed package has only one of them,
 * or a forced source build that is newer; a developer's fresh build beats an older prebuild),
 * then build/Debug.
 */
export function addonCandidates(): string[] {
  const override = process.env[ADDON_OVERRIDE_ENV];
  if (override) return [resolve(override)];
  const root = packageRoot();
  const release = join(root, 'build', 'Release', ADDON_FILE);
  const prebuilds = prebuildCandidates(root);
  const newestPrebuild = Math.max(...prebuilds.map(modifiedAt));
  const ordered = modifiedAt(release) > newestPrebuild ? [release, ...prebuilds] : [...prebuilds, release];
  return [...ordered, join(root, 'build', 'Debug', ADDON_FILE)];
}

/** dlopen, as require() does for .node files, but whatever the file name (an override may be anything). */
function dlopenAddon(path: string): NativeAddon {
  const module = { exports: {} as NativeAddon };
  process.dlopen(module, path, constants.dlopen.RTLD_NOW);
  return module.exports;
}

function loadAddon(): NativeAddon {
  const failures: string[] = [];
  for (const candidate of addonCandidates()) {
    if (!existsSync(candidate)) {
      failures.push(`  ${candidate}: not found`);
      continue;
    }
    try {
      return dlopenAddon(candidate);
    } catch (error) {
      failures.push(`  ${candidate}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const error = new Error(
    `kvm-vfio-spapr: no native addon could be loaded for ${process.platform}-${process.arch}. Tried:\n` +
      `${failures.join('\n')}\n` +
      `Build it with 'npm rebuild kvm-vfio-spapr' (needs g++, make, python3) or set ${ADDON_OVERRIDE_ENV}.`,
  );
  (error as NodeJS.ErrnoException).code = 'ERR_KVM_ADDON_NOT_FOUND';
  throw error;
}

/**
 * The addon's exports, copied into a plain object: N-API defines ~80 properties one by one, which
 * leaves the exports object in dictionary mode, so every `native.f` load on the hot path was a
 * hash lookup (~70 instructions and one more page touched after each syscall). The copy has fast
 * properties that inline caches load directly.
 */
export const native: NativeAddon = { ...loadAddon() };
