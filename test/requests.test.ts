// The request numbers come from the target's kernel headers: the x86_64 addon must match the
// x86_64 column of kernel-abi.md, and the ppc64le cross compiler the ppc64 column.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Cap, DeviceType, IommuType, KvmVfioAttr, headerConstants, requestNumbers } from '../dist/index.js';
import { documentedRequests } from './fixtures/kernel-abi.js';

const CROSS_CXX = 'powerpc64le-linux-gnu-g++';

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Compiles native/tools/request_numbers.cc to assembly (never runs it) and reads the table. */
function requestNumbersFromAssembly(compiler: string): Record<string, number> {
  const assembly = execFileSync(compiler, ['-std=c++17', '-O1', '-S', '-o', '-', 'native/tools/request_numbers.cc'], { encoding: 'utf8' });
  const afterLabel = assembly.slice(assembly.indexOf('kvs_request_values:'));
  const values = [...afterLabel.matchAll(/^\s*\.(?:quad|8byte)\s+(-?\d+)/gm)].map((m) => Number(BigInt.asUintN(64, BigInt(m[1]!))));
  const names = [...readFileSync('native/request_list.h', 'utf8').split('KVS_CONSTANTS')[0]!.matchAll(/X\((\w+)\)/g)].map((m) => m[1]!);
  expect(values.length).toBeGreaterThanOrEqual(names.length);
  return Object.fromEntries(names.map((name, i) => [name, values[i]!]));
}

/** The powerpc encoding of an asm-generic (x86) request number: NONE 0→1, WRITE 1→4, READ 2→2, dir bits at 29. */
function toPowerpcEncoding(x86: number): number {
  const dir = Math.floor(x86 / 2 ** 30) & 3;
  const sizeAndRest = x86 % 2 ** 30;
  const powerpcDir = (dir & 1 ? 4 : 0) | (dir & 2 ? 2 : 0) || 1;
  return powerpcDir * 2 ** 29 + sizeAndRest;
}

describe('request numbers', () => {
  it('the x86_64 addon matches the x86_64 column of kernel-abi.md', () => {
    expect(process.arch).toBe('x64');
    for (const [name, { x64 }] of Object.entries(documentedRequests)) {
      expect([name, requestNumbers[name]]).toEqual([name, x64]);
    }
  });

  it('the x86_64 addon exports exactly the list in native/request_list.h', () => {
    expect(requestNumbersFromAssembly('g++')).toEqual(requestNumbers);
  });

  const crossCompilerMissing = !hasCommand(CROSS_CXX);
  if (crossCompilerMissing) console.warn(`skipped: ${CROSS_CXX} is not installed (npm run build:ppc64 installs it)`);

  it.skipIf(crossCompilerMissing)('the ppc64le headers give the ppc64 column of kernel-abi.md', () => {
    const ppc64 = requestNumbersFromAssembly(CROSS_CXX);
    for (const [name, { ppc64: documented }] of Object.entries(documentedRequests)) {
      expect([name, ppc64[name]]).toEqual([name, documented]);
    }
  });

  it.skipIf(crossCompilerMissing)('every ppc64 KVM/VFIO number is the powerpc encoding of the x86 one', () => {
    const ppc64 = requestNumbersFromAssembly(CROSS_CXX);
    // FIONREAD predates _IOC on x86 (0x541B) and is _IOR('f', 127, int) on powerpc: not comparable.
    expect(ppc64.FIONREAD).toBe(0x4004667f);
    for (const [name, x86] of Object.entries(requestNumbers).filter(([name]) => name !== 'FIONREAD')) {
      expect([name, ppc64[name]]).toEqual([name, toPowerpcEncoding(x86)]);
    }
    expect(ppc64.KVM_SET_DEVICE_ATTR).not.toBe(requestNumbers.KVM_SET_DEVICE_ATTR);
  });
});

describe('constants', () => {
  it('lib/constants.ts agrees with the kernel headers', () => {
    for (const [name, value] of Object.entries(Cap)) {
      const header = headerConstants[`KVM_CAP_${name}`];
      if (header !== undefined) expect([name, value]).toEqual([name, header]);
    }
    expect(DeviceType.VFIO).toBe(headerConstants.KVM_DEV_TYPE_VFIO);
    expect(DeviceType.XICS).toBe(headerConstants.KVM_DEV_TYPE_XICS);
    expect(IommuType.SPAPR_TCE).toBe(headerConstants.VFIO_SPAPR_TCE_IOMMU);
    expect(IommuType.SPAPR_TCE_V2).toBe(headerConstants.VFIO_SPAPR_TCE_v2_IOMMU);
    expect(IommuType.TYPE1).toBe(headerConstants.VFIO_TYPE1_IOMMU);
    expect(IommuType.EEH).toBe(headerConstants.VFIO_EEH);
    expect(KvmVfioAttr.GROUP_SET_SPAPR_TCE).toBe(headerConstants.KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE);
    expect(KvmVfioAttr.FILE_ADD).toBe(headerConstants.KVM_DEV_VFIO_FILE_ADD);
  });

  it('every named capability exists in the headers', () => {
    const missing = Object.keys(Cap).filter((name) => headerConstants[`KVM_CAP_${name}`] === undefined);
    expect(missing).toEqual([]);
  });
});
