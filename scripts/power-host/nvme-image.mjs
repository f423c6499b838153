#!/usr/bin/env node
// Writes the raw image behind the emulated host's NVMe controller: MiB megabytes of a known pattern,
// each 4 KiB block headed "kvm-vfio-spapr nvme block N" and filled with bytes that depend on N, so
// a block read from the wrong place (or not at all) changes the checksum.
//   node scripts/power-host/nvme-image.mjs OUTPUT MIB
import { writeFileSync } from 'node:fs';

const BLOCK = 4096;
const [output, mib] = process.argv.slice(2);
if (!output || !/^\d+$/.test(mib ?? '')) {
  process.stderr.write('usage: nvme-image.mjs OUTPUT MIB\n');
  process.exit(64);
}
const image = Buffer.alloc(Number(mib) << 20);
for (let block = 0; block * BLOCK < image.length; block++) {
  const at = block * BLOCK;
  for (let i = 0; i < BLOCK; i++) image[at + i] = (block * 31 + i * 7) & 0xff;
  image.write(`kvm-vfio-spapr nvme block ${block}\n`, at, 'latin1');
}
writeFileSync(output, image);
