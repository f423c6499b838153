#!/usr/bin/env node
// Writes the test guest's initramfs: busybox and an /init that prints the marker and powers off.
//   node dist/examples/spapr-vmm/make-initramfs.js BUSYBOX OUTPUT
import { readFileSync, writeFileSync } from 'node:fs';
import { markerInitramfs } from './initramfs.js';

const [busybox, output] = process.argv.slice(2);
if (!busybox || !output) {
  process.stderr.write('usage: make-initramfs BUSYBOX OUTPUT\n');
  process.exit(2);
}
writeFileSync(output, markerInitramfs(readFileSync(busybox)));
