/**
 * A worker thread of the HTTP server's pool (pool.ts): its own TensorFlow.js engine, the configured
 * models loaded once at start-up and shared by every request it runs, one request at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HarmoniaError } from '../errors.ts';
import { initEngine } from '../engine/index.ts';
import { resolveModel } from '../pipeline/harmonize.ts';
import { runImageJob, type ImageJob } from './job.ts';
import type { ThreadInit, ToThread, FromThread } from './pool.ts';

const port = parentPort;
if (!port) throw new Error('src/service/thread.ts runs as a worker thread of HarmonizePool');
const init = workerData as ThreadInit;

async function start(): Promise<void> {
  const t0 = performance.now();
  try {
    // one pool thread per core: ONNX Runtime gets one thread here (its default, one spin-waiting thread per
    // core in every pool thread, oversubscribes the cores); HARMONIA_ORT_THREADS overrides
    process.env.HARMONIA_ORT_THREADS ??= '1';
    const engine = await initEngine({ quiet: true });
    for (const dir of init.models) await resolveModel(dir, undefined);
    const ready: FromThread = { type: 'ready', loadMs: performance.now() - t0, backend: engine.backend };
    port!.postMessage(ready);
  } catch (err) {
    const msg: FromThread = { type: 'fatal', message: (err as Error)?.message ?? String(err) };
    port!.postMessage(msg);
    return;
  }
  port!.on('message', (m: ToThread) => {
    void run(m.id, m.job);
  });
}

async function run(id: number, job: ImageJob): Promise<void> {
  try {
    const r = await runImageJob(job);
    const bytes = r.image instanceof Buffer ? new Uint8Array(r.image.buffer.slice(r.image.byteOffset, r.image.byteOffset + r.image.byteLength)) : r.image;
    const msg: FromThread = { type: 'done', id, result: { ...r, image: bytes } };
    port!.postMessage(msg, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    const harmonia = err instanceof HarmoniaError;
    const msg: FromThread = { type: 'failed', id, message: (err as Error)?.message ?? String(err), harmonia };
    port!.postMessage(msg);
  }
}

void start();
