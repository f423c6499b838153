// Builds bench/'s probe addon once before any test file loads it (bench/probe.mjs: FdProbe).
import { buildProbe } from '../bench/build-probe.mjs';

export default function setup(): void {
  buildProbe();
}
