// What the shipped addon exports: exactly the functions and tables lib/ uses, and nothing of the
// benchmarks' probe (bench/native/probe.cc builds into an addon of its own).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

const EXPECTED = [
  'arch',
  'checkExtension',
  'closeFd',
  'closeFdAsync',
  'constants',
  'createDevice',
  'createSpaprTce',
  'createSpaprTce64',
  'createVcpu',
  'createVm',
  'deleteUserMemoryRegion',
  'duplicateFd',
  'eehPeOp',
  'enableCap',
  'errnoDescriptions',
  'errnoNames',
  'getApiVersion',
  'getDeviceAttrU64',
  'getOneReg',
  'getRegs',
  'getVcpuMmapSize',
  'hasDeviceAttr',
  'isOwnedFd',
  'kvmRunSize',
  'liveMappingCount',
  'mapAnonymous',
  'mapSpaprTceTable',
  'mapVcpuRun',
  'oneRegIds',
  'openDevice',
  'ownedFdCount',
  'pageSize',
  'requests',
  'runVcpu',
  'setDeviceAttrFd',
  'setDeviceAttrNone',
  'setDeviceAttrU64',
  'setOneReg',
  'setRegs',
  'setSpaprTce',
  'setSyscallTrace',
  'setUserMemoryRegion',
  'spaprCreateWindow',
  'spaprCreateWindowAsync',
  'spaprRegisterMemory',
  'spaprRegisterMemoryAsync',
  'spaprRemoveWindow',
  'spaprRemoveWindowAsync',
  'spaprTceGetInfo',
  'spaprUnregisterMemory',
  'spaprUnregisterMemoryAsync',
  'stats',
  'takeSyscallTrace',
  'testDevice',
  'unmapMapping',
  'vfioCheckExtension',
  'vfioDeviceGetInfo',
  'vfioDeviceGetRegionInfo',
  'vfioDeviceMapRegion',
  'vfioDeviceReadRegion',
  'vfioDeviceGetIrqInfo',
  'vfioDeviceReset',
  'vfioDeviceSetIrqs',
  'vfioDeviceWriteRegion',
  'vfioGetApiVersion',
  'vfioGroupGetDeviceFd',
  'vfioGroupGetStatus',
  'vfioGroupSetContainer',
  'vfioGroupSetContainerAsync',
  'vfioGroupUnsetContainer',
  'vfioIommuDisable',
  'vfioIommuEnable',
  'vfioMapDma',
  'vfioSetIommu',
  'vfioUnmapDma',
  'allocateHtab',
  'configureV3Mmu',
  'createEventFd',
  'eventFdRead',
  'eventFdUnwatch',
  'eventFdWatch',
  'eventFdWrite',
  'getRmmuInfo',
  'interrupt',
  'interruptLines',
  'ioeventfd',
  'irqLine',
  'irqfd',
  'kickVcpu',
  'rtasDefineToken',
  'runVcpuSync',
  'exitRecordLayout',
];

const PROBE_NAMES = [
  'probeFionread', 'probeFionreadLoop', 'twinCheckExtension', 'twinHasDeviceAttr', 'twinSetDeviceAttrU64',
  'twinSetSpaprTce', 'checkExtensionLoop', 'deviceAttrLoop', 'setSpaprTceLoop', 'shareFd', 'unshareFd',
];

const builds = [
  join(root, 'build', 'Release', 'kvm_vfio_spapr.node'),
  join(root, 'prebuilds', 'linux-x64', 'kvm-vfio-spapr.node'),
].filter((file) => existsSync(file));

describe('the addon as built', () => {
  it('is there (npm install builds it)', () => {
    expect(builds.length).toBeGreaterThan(0);
  });

  it.each(builds)('%s exports exactly the expected names, none of the probe', (file) => {
    const names = Object.keys(require(file) as object).sort();
    expect(names).toEqual([...EXPECTED].sort());
    expect(names.filter((name) => PROBE_NAMES.includes(name))).toEqual([]);
  });

  it('package.json exports the library and its sPAPR pieces, no internal entry point', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(Object.keys(manifest.exports).sort()).toEqual(['.', './package.json', './spapr']);
  });
});
