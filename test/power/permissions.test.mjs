// Part of the suite as an unprivileged user (uid/gid 65534) on the emulated POWER host, where
// /dev/kvm and /dev/vfio/N are root-only (devtmpfs: crw-------) and /dev/vfio/vfio is 0666: opens
// fail with EACCES and a hint, a /dev/kvm fd passed by a privileged parent works, locked memory is
// limited, and `doctor` says who may open what and what to change.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Kvm } from '../../dist/index.js';
import { NEEDS_VFIO_GROUPS, fdsOpenedBy, scoped } from './helpers.mjs';

const NOBODY = 65534;
const asNobody = (args, options = {}) => spawnSync(process.execPath, args, { uid: NOBODY, gid: NOBODY, encoding: 'utf8', ...options });

describe('as an unprivileged user (uid 65534) on the emulated POWER host', NEEDS_VFIO_GROUPS, () => {
  it('the device nodes are root-only (the premise)', () => {
    assert.equal(statSync('/dev/kvm').mode & 0o777, 0o600);
    assert.equal(statSync('/dev/vfio/1').mode & 0o777, 0o600);
  });

  it('EACCES with hints for /dev/kvm and /dev/vfio/1; a /dev/kvm fd from a privileged parent works; doctor explains', () => scoped((use) => {
    const { fds: [kvmFd] } = fdsOpenedBy(() => use(Kvm.open()));
    const run = asNobody([new URL('./children/unprivileged.mjs', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'pipe', kvmFd] });
    assert.equal(run.status, 0, run.stderr);
    const results = JSON.parse(run.stdout);
    assert.equal(results.uid, NOBODY);
    assert.deepEqual([results.openKvm.code, results.openKvm.syscall], ['EACCES', 'open']);
    assert.match(results.openKvm.hint, /no permission to open \/dev\/kvm/);
    assert.deepEqual([results.openGroup.code, results.openGroup.syscall], ['EACCES', 'open']);
    assert.match(results.openGroup.hint, /root-only by default; chown it to the VMM user/);
    assert.equal(results.openContainer.ok, true); // /dev/vfio/vfio is 0666
    assert.deepEqual(results.vmFromPassedKvm, { ok: true, value: 1 });
    assert.deepEqual(results.table, { ok: true, value: 'created' });
    assert.equal(results.bigTable.code, 'ENOMEM');
    assert.match(results.bigTable.hint, /RLIMIT_MEMLOCK/);
    assert.equal(results.memory.ok, true);
    assert.match(results.verdict, /\/dev\/kvm cannot be used: EACCES/);
    assert.match(results.verdict, /\/dev\/kvm is rw------- (root:root|0:0) and this process is uid 65534.*: give the user read-write access to \/dev\/kvm: a udev rule/);
    assert.ok(results.warnings.some((w) => /group 1 cannot be opened by this process: \/dev\/vfio\/1 is rw------- (root:root|0:0)/.test(w)), results.warnings.join('\n'));
  }));

  it('`kvm-vfio-spapr doctor` as that user prints what to change, exit 0', () => {
    const run = asNobody(['dist/cli.js', 'doctor']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\/dev\/kvm\s+not usable: EACCES/);
    assert.match(run.stdout, /udev rule/);
    assert.match(run.stdout, /^warning: group 1 cannot be opened by this process/m);
    assert.match(run.stdout, /^in-kernel TCE acceleration: not available because \/dev\/kvm cannot be used: EACCES/m);
  });
});
