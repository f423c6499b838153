// The addon is context-aware: it loads and works in worker_threads, and a worker that ends
// (or is terminated) while it owns fds does not leak them or crash the process.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { openFds } from './helpers.js';

const probeUrl = new URL('../bench/probe.mjs', import.meta.url).href;
const indexUrl = new URL('../dist/index.js', import.meta.url).href;

function runWorker(source: string, terminateAfterMessage = false): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const messages: unknown[] = [];
    const worker = new Worker(source, { eval: true, type: 'module' } as never);
    worker.on('message', (message) => {
      messages.push(message);
      if (terminateAfterMessage) void worker.terminate();
    });
    worker.on('error', reject);
    worker.on('exit', () => resolve(messages));
  });
}

describe('worker_threads', () => {
  it('loads the addon and makes real calls in a worker', async () => {
    const messages = await runWorker(`
      import { parentPort } from 'node:worker_threads';
      import { openSync, closeSync } from 'node:fs';
      const { Kvm, KvmVfioError } = await import(${JSON.stringify(indexUrl)});
      const { FdProbe } = await import(${JSON.stringify(probeUrl)});
      const borrowed = openSync('/dev/null', 'r');
      const probe = FdProbe.adopt(borrowed);
      let code;
      try { probe.readableBytes(); } catch (e) { code = e.code + ':' + (e instanceof KvmVfioError); }
      let openCode;
      try { Kvm.open('/dev/null'); } catch (e) { openCode = e.request + ':' + e.code; }
      probe.close(); closeSync(borrowed);
      parentPort.postMessage({ code, openCode });
    `);
    expect(messages).toEqual([{ code: 'ENOTTY:true', openCode: 'KVM_GET_API_VERSION:ENOTTY' }]);
  });

  it('a worker terminated while owning fds does not leak them', async () => {
    const before = openFds().size;
    const messages = await runWorker(
      `
      import { parentPort } from 'node:worker_threads';
      import { openSync } from 'node:fs';
      const { FdProbe } = await import(${JSON.stringify(probeUrl)});
      const { resourceStats } = await import(${JSON.stringify(indexUrl)});
      const borrowed = openSync('/dev/null', 'r');
      const probes = Array.from({ length: 10 }, () => FdProbe.adopt(borrowed));
      parentPort.postMessage(resourceStats().ownedFds);
      setInterval(() => { try { probes[0].readableBytes(); } catch {} }, 1);
    `,
      true,
    );
    expect(messages).toEqual([10]);
    // The worker's own fs fd (borrowed) is not ours to close; the 10 library fds must be gone.
    const after = openFds().size;
    expect(after - before).toBeLessThanOrEqual(1);
  });
});
