// probe() and `kvm-vfio-spapr doctor` on the emulated POWER host: acceleration is available, and
// the per-hypercall report matches what 6.12 does (arch/powerpc/kvm/book3s_hv.c kvmppc_hcall_impl_hv).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { VfioGroup, probe, verdictLine } from '../../dist/index.js';
import { EXPECTED, NEEDS_VFIO_GROUPS, GROUP_EDU, GROUP_TESTDEV, GROUP_THIRD, GROUP_UNVIABLE } from './helpers.mjs';

describe('doctor on the emulated POWER host', () => {
  it('probe() reports acceleration available, the KVM-VFIO attribute and per-hypercall support', NEEDS_VFIO_GROUPS, () => {
    const report = probe();
    assert.equal(report.verdict.available, true, report.verdict.reasons.join('; '));
    assert.equal(verdictLine(report), 'in-kernel TCE acceleration: available');
    assert.equal(report.tcePath, 'in-kernel');
    assert.equal(report.kvm.apiVersion, 12);
    assert.equal(report.capabilities.vm.KVM_CAP_SPAPR_TCE_VFIO, 1);
    assert.deepEqual(report.kvmVfio, { device: true, setSpaprTce: true });
    const byName = Object.fromEntries(report.hypercalls.map((h) => [h.name, h]));
    assert.equal(byName.H_PUT_TCE.inKernel, true);
    assert.equal(byName.H_GET_TCE.inKernel, true);
    assert.deepEqual([byName.H_STUFF_TCE.inKernel, byName.H_STUFF_TCE.how], [true, 'enable-cap']);
    assert.equal(byName.H_PUT_TCE_INDIRECT.inKernel, false);
    assert.match(byName.H_PUT_TCE_INDIRECT.how, /EINVAL/);
    const groups = Object.fromEntries(report.vfio.groups.map((g) => [g.number, g]));
    assert.equal(groups[GROUP_TESTDEV].viable, true);
    assert.equal(groups[GROUP_EDU].viable, true);
    assert.equal(groups[GROUP_UNVIABLE].viable, false);
    assert.ok(report.verdict.warnings.some((w) => w.includes(`group ${GROUP_UNVIABLE} is not viable`)));
  });

  it('probe() creates a new DMA window for each viable group and says how big; the unviable group is not tried', NEEDS_VFIO_GROUPS, () => {
    const report = probe();
    const groups = Object.fromEntries(report.vfio.groups.map((g) => [g.number, g]));
    for (const number of [GROUP_TESTDEV, GROUP_EDU, GROUP_THIRD]) {
      const window = groups[number].dmaWindow;
      assert.equal(window.creatable, true, `group ${number}: ${window.limit}`);
      // Both platforms offer 64K IOMMU pages and both sizes tried (1 and 4 GiB); the window's place
      // differs (EXPECTED.firstNewWindowStart: 2^59 on QEMU's sPAPR PHB, slot 0 at 0 on PowerNV's IODA2).
      assert.deepEqual([window.pageShift, window.largestWindowSize, window.startAddr, window.limit], [16, 4n << 30n, EXPECTED.firstNewWindowStart, undefined]);
    }
    assert.equal(groups[GROUP_UNVIABLE].dmaWindow, undefined);
    const held = VfioGroup.open(GROUP_EDU); // a group this process holds is not tried, and not warned about
    try {
      const busy = probe();
      const edu = busy.vfio.groups.find((g) => g.number === GROUP_EDU).dmaWindow;
      assert.equal(edu.creatable, false);
      assert.match(edu.limit, /^not tried: the group could not be opened \(EBUSY/);
      assert.ok(!busy.verdict.warnings.some((w) => w.startsWith(`group ${GROUP_EDU}: no new DMA window`)));
    } finally {
      held.close();
    }
  });

  // KVM_CAP_PPC_IRQ_XIVE needs the host in hypervisor mode on a XIVE (kvm_vm_ioctl_check_extension,
  // arch/powerpc/kvm/powerpc.c: xive_enabled() && cpu_has_feature(CPU_FTR_HVMODE)): PowerNV on POWER9
  // has it, a nested kvm-hv in a partition does not. Both offer XICS (on PowerNV, emulated on XIVE).
  const interruptController = { xive: EXPECTED.interruptController.xive, interruptController: EXPECTED.interruptController.interruptController };

  it(`probe().vmm: radix guests only (4 and 64 KiB pages), the in-kernel XICS, ${EXPECTED.interruptController.xive ? 'and XIVE' : 'but no XIVE'} (${EXPECTED.description})`, () => {
    const { vmm } = probe();
    assert.deepEqual(vmm, { radixPageShifts: [12, 16], hashGuests: false, xics: true, ...interruptController });
  });

  it('`kvm-vfio-spapr doctor` prints the verdict and `--json` valid JSON, exit 0', NEEDS_VFIO_GROUPS, () => {
    const table = spawnSync(process.execPath, ['dist/cli.js', 'doctor'], { encoding: 'utf8' });
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^in-kernel TCE acceleration: available$/m);
    assert.match(table.stdout, new RegExp(`interrupt controller\\s+in the kernel \\(${EXPECTED.interruptController.doctor}\\)`));
    assert.match(table.stdout, /radix MMU page sizes\s+4 KiB, 64 KiB/);
    assert.match(table.stdout, /^TCE path for a passed-through device: in the kernel/m);
    assert.match(table.stdout, new RegExp(`new DMA window\\s+yes, at least 4 GiB with 64 KiB pages at 0x${EXPECTED.firstNewWindowStart.toString(16)}$`, 'm'));
    const json = spawnSync(process.execPath, ['dist/cli.js', 'doctor', '--json'], { encoding: 'utf8' });
    assert.equal(json.status, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).verdict.available, true);
  });
});
