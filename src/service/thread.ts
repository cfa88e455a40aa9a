/**
 * A worker thread of the HTTP server's pool (pool.ts): its own engine, the configured models loaded
 * once at start-up and shared by every request it runs. It may hold more than one request at a time
 * (the pool sends the next one once the current one is decoded): their JavaScript runs one at a time,
 * while libvips decodes and encodes on libuv's threads, so a request's decode or encode overlaps
 * another's network and apply.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HarmoniaError } from '../errors.ts';
import { initEngine } from '../engine/index.ts';
import { resolveModel, resolveOnnxFirstModel } from '../pipeline/harmonize.ts';
import { harmonizeDecoded, encodeResult, runImageJob, type ImageJob } from './job.ts';
import type { ThreadInit, ToThread, FromThread } from './pool.ts';
import { env } from '../config/index.ts';

const port = parentPort;
if (!port) throw new Error('src/service/thread.ts runs as a worker thread of HarmonizePool');
const init = workerData as ThreadInit;

/** A small composite (a square in the middle) for the warm-up run. */
function warmupInputs(): { composite: { width: number; height: number; channels: number; data: Float32Array }; mask: { width: number; height: number; data: Float32Array } } {
  const w = 96, h = 80;
  const data = new Float32Array(w * h * 3), m = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      data[p * 3] = x / w; data[p * 3 + 1] = y / h; data[p * 3 + 2] = 0.5;
      m[p] = x > w / 4 && x < (3 * w) / 4 && y > h / 4 && y < (3 * h) / 4 ? 1 : 0;
    }
  }
  return { composite: { width: w, height: h, channels: 3, data }, mask: { width: w, height: h, data: m } };
}

async function start(): Promise<void> {
  const t0 = performance.now();
  try {
    // one pool thread per core: ONNX Runtime gets one thread here (its default, one spin-waiting thread per
    // core in every pool thread, oversubscribes the cores); HARMONIA_ORT_THREADS overrides
    env.ortThreads ??= 1;
    const engine = await initEngine({ quiet: true });
    const { composite, mask } = warmupInputs();
    for (const dir of init.models) {
      // loads and checks the folder (TensorFlow.js), as `harmonia harmonize` would refuse a bad one
      await resolveModel(dir, undefined);
      // the path requests take (ONNX Runtime session, kernels, encoder): made and run once now, not on the first request
      await resolveOnnxFirstModel(dir, undefined);
      const { r } = await harmonizeDecoded(composite, mask, { model: dir });
      await encodeResult(r.result, 'png', { pngLevel: init.pngLevel });
    }
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
    const r = await runImageJob(job, (pixels) => {
      const msg: FromThread = { type: 'decoded', id, pixels };
      port!.postMessage(msg);
    });
    // one copy into a buffer of its own (sharp's output memory cannot be transferred), then moved
    const bytes = r.image.byteOffset === 0 && r.image.byteLength === r.image.buffer.byteLength && !(r.image instanceof Buffer)
      ? r.image : new Uint8Array(r.image.buffer.slice(r.image.byteOffset, r.image.byteOffset + r.image.byteLength));
    const msg: FromThread = { type: 'done', id, result: { ...r, image: bytes } };
    port!.postMessage(msg, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    const harmonia = err instanceof HarmoniaError;
    const msg: FromThread = { type: 'failed', id, message: (err as Error)?.message ?? String(err), harmonia };
    port!.postMessage(msg);
  }
}

void start();
