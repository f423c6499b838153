// Smoke test of the emulated POWER host itself: run inside the guest (scripts/power-host/run.sh -- node
// test/power/run.mjs). It checks what every later guest test relies on: ppc64, a usable /dev/kvm, the VFIO
// container device, and two viable IOMMU groups each holding one device bound to vfio-pci.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { probe } from '../../dist/index.js';
import { KERNEL_LINE, SPAPR_TCE_VFIO, VFIO_PCI_BINDS } from './helpers.mjs';

const GROUPS = { 1: '1b36:0005 (pci-testdev)', 2: '1234:11e8 (edu)' };

function groupDevices(group) {
  return readdirSync(`/sys/kernel/iommu_groups/${group}/devices`);
}

function vendorDevice(pciAddress) {
  const dir = join('/sys/bus/pci/devices', pciAddress);
  const read = (file) => readFileSync(join(dir, file), 'utf8').trim().replace(/^0x/, '');
  return `${read('vendor')}:${read('device')}`;
}

test('the guest is ppc64 (process.arch is ppc64 even on little-endian)', () => {
  assert.equal(process.arch, 'ppc64');
  assert.equal(process.platform, 'linux');
});

test('/dev/kvm is a character device (kvm-hv loaded)', () => {
  assert.ok(statSync('/dev/kvm').isCharacterDevice());
  assert.match(readFileSync('/proc/modules', 'utf8'), /^kvm_hv /m);
});

test('/dev/vfio/vfio exists and is a character device', () => {
  assert.ok(statSync('/dev/vfio/vfio').isCharacterDevice());
});

if (!VFIO_PCI_BINDS) {
  test(`Linux ${KERNEL_LINE}: vfio-pci cannot bind (vfio_group_find_or_alloc wants IOMMU_CAP_CACHE_COHERENCY, powerpc reports it from 6.2): the groups exist, their devices have no driver, no /dev/vfio/N; doctor says why`, () => {
    for (const group of Object.keys(GROUPS)) {
      const devices = groupDevices(group);
      assert.equal(devices.length, 1);
      assert.equal(existsSync(`/sys/kernel/iommu_groups/${group}/devices/${devices[0]}/driver`), false, `group ${group}'s device is bound to nothing`);
      assert.equal(existsSync(`/dev/vfio/${group}`), false);
    }
    const report = probe();
    assert.ok(report.verdict.warnings.some((w) => /^no viable VFIO group: vfio-pci cannot bind on powerpc Linux 6\.1 .*IOMMU_CAP_CACHE_COHERENCY.*6\.2/.test(w)), report.verdict.warnings.join('\n'));
    if (SPAPR_TCE_VFIO) {
      // Bare metal: the kernel can link groups; only the groups are missing, which is a warning.
      assert.equal(report.verdict.reasons.some((r) => /KVM_CAP_SPAPR_TCE_VFIO/.test(r)), false, report.verdict.reasons.join('\n'));
      assert.equal(report.verdict.available, true, report.verdict.reasons.join('\n'));
    } else {
      assert.ok(report.verdict.reasons.some((r) => /KVM_CAP_SPAPR_TCE_VFIO is 0/.test(r)), 'and this kernel cannot link groups to TCE tables at all (no b4392813bbc3)');
      assert.equal(report.verdict.available, false);
    }
  });
}

for (const group of VFIO_PCI_BINDS ? Object.keys(GROUPS) : []) {
  test(`/dev/vfio/${group} exists`, () => {
    assert.ok(existsSync(`/dev/vfio/${group}`));
    assert.ok(statSync(`/dev/vfio/${group}`).isCharacterDevice());
  });

  test(`IOMMU group ${group} holds exactly one device, bound to vfio-pci`, () => {
    const devices = groupDevices(group);
    assert.equal(devices.length, 1, `group ${group} devices: ${devices.join(', ')}`);
    const driver = readlinkSync(`/sys/kernel/iommu_groups/${group}/devices/${devices[0]}/driver`);
    assert.equal(basename(driver), 'vfio-pci');
  });
}

test('group 1 is pci-testdev and group 2 is edu (one PHB per device)', () => {
  for (const [group, expected] of Object.entries(GROUPS)) {
    const [device] = groupDevices(group);
    assert.equal(vendorDevice(device), expected.split(' ')[0], `group ${group} should be ${expected}`);
  }
});
