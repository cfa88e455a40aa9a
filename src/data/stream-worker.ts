/** Worker thread of CompositeStream (stream.ts): decodes the photos once, then synthesises requested batches. */
import { parentPort, workerData } from 'node:worker_threads';
import { CompositeSynthesizer } from './stream.ts';
import type { StreamOptions } from './stream.ts';

if (!parentPort) throw new Error('data/stream-worker.ts must run in a worker thread');
const port = parentPort;
const ready = CompositeSynthesizer.load((workerData as { options: StreamOptions }).options);
let chain: Promise<void> = Promise.resolve();
port.on('message', (m: { epoch: number; b: number; key: string }) => {
  chain = chain.then(async () => {
    try {
      const batch = (await ready).batch(m.epoch, m.b);
      port.postMessage({ type: 'batch', key: m.key, batch }, [batch.input.buffer, batch.real.buffer, batch.mask.buffer] as ArrayBuffer[]);
    } catch (err) {
      port.postMessage({ type: 'error', message: (err as Error).message });
    }
  });
});
