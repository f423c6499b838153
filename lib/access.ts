// Why this process may not open a device node, and what to change: for doctor (probe()) when an
// open fails with EACCES or EPERM, or a VFIO group node is not accessible.
import { R_OK, W_OK } from 'node:constants';
import { accessSync, readFileSync, statSync } from 'node:fs';

/** True when this process may open `path` read-write (the library opens every node O_RDWR). */
export function canOpenReadWrite(path: string): boolean {
  try {
    accessSync(path, R_OK | W_OK);
    return true;
  } catch {
    return false;
  }
}

function namesById(file: string): Map<number, string> {
  try {
    return new Map(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
      const [name, , id] = line.split(':');
      return [Number(id), name ?? ''] as [number, string];
    }));
  } catch {
    return new Map();
  }
}

function modeString(mode: number): string {
  const bits = 'rwxrwxrwx';
  let text = '';
  for (let i = 0; i < 9; i += 1) text += mode & (1 << (8 - i)) ? bits[i] : '-';
  return text;
}

/** Who this process is: 'uid 65534 (nobody), gid 65534 (nogroup), groups 65534'. */
export function describeProcess(): string {
  const users = namesById('/etc/passwd');
  const groups = namesById('/etc/group');
  const named = (id: number, names: Map<number, string>) => (names.has(id) ? `${id} (${names.get(id)})` : String(id));
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  const supplementary = process.getgroups?.() ?? [];
  return `uid ${named(uid, users)}, gid ${named(gid, groups)}, groups ${supplementary.map((id) => named(id, groups)).join(' ') || 'none'}`;
}

/**
 * What stands between this process and read-write access to `path`, and what to change, e.g.
 * "/dev/kvm is crw------- root:root and this process is uid 65534 (nobody) ...: ...".
 */
export function accessAdvice(path: string, what: string): string {
  let owner: string;
  let groupName: string | undefined;
  let mode: number;
  try {
    const stats = statSync(path);
    const users = namesById('/etc/passwd');
    const groups = namesById('/etc/group');
    groupName = stats.gid === 0 ? undefined : (groups.get(stats.gid) ?? String(stats.gid));
    owner = `${users.get(stats.uid) ?? stats.uid}:${groups.get(stats.gid) ?? stats.gid}`;
    mode = stats.mode;
  } catch {
    return `${path} cannot be inspected (it does not exist or its directory is not searchable)`;
  }
  const fix = groupName !== undefined && (mode & 0o060) === 0o060
    ? `add the user to group '${groupName}' (usermod -aG ${groupName} <user>, then log in again)`
    : `give the user read-write access to ${what}: a udev rule that sets its group and mode 0660 (for example ${what === 'the VFIO group' ? 'SUBSYSTEM=="vfio", OWNER="<user>"' : 'KERNEL=="kvm", GROUP="kvm", MODE="0660"'}), then add the user to that group, or run as root`;
  return `${path} is ${modeString(mode)} ${owner} and this process is ${describeProcess()}: ${fix}`;
}
