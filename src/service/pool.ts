/**
 * The HTTP server's (and the queue worker's) bounded worker pool: `threads` worker threads (default:
 * one per core), each with its own engine and the models loaded once (thread.ts), plus a bounded wait
 * queue. A thread runs up to `pipeline` requests at once (default 2): it is sent its next request as
 * soon as the ones it holds are decoded and hold at most PIPELINE_PIXELS pixels, so the next request's
 * decode (libvips, on libuv's threads) overlaps this one's network, apply and encode, and both cores
 * stay busy; large images run one per thread (memory). When every thread is full and the queue is
 * full, submit() throws OverCapacityError at once (the server answers 503 with Retry-After): nothing
 * ever queues without limit. A request that runs longer than `timeoutMs` is failed and its thread
 * replaced (the thread's other requests go back to the head of the queue); a thread that dies is
 * replaced too (its requests fail).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { HarmoniaError } from '../errors.ts';
import type { ImageJob, JobResult } from './job.ts';

export interface ThreadInit {
  /** Model folders every thread loads (and runs once) at start-up. */
  models: string[];
  /** The PNG level the warm-up run encodes with (the requests' setting). */
  pngLevel?: number;
}
export type ToThread = { id: number; job: ImageJob };
export type FromThread =
  | { type: 'ready'; loadMs: number; backend: string }
  | { type: 'fatal'; message: string }
  | { type: 'decoded'; id: number; pixels: number }
  | { type: 'done'; id: number; result: JobResult }
  | { type: 'failed'; id: number; message: string; harmonia: boolean };

export interface PoolOptions {
  /** Worker threads (default: the number of cores). */
  threads?: number;
  /** Requests that may wait for a thread (default: 2 per thread); more are refused. */
  maxQueue?: number;
  /** Model folders loaded by every thread at start-up. */
  models?: string[];
  /** A request running longer than this fails and its thread is replaced (default 120 s). */
  timeoutMs?: number;
  /** Requests a thread may hold at once, 1–4 (default 2): the next one's decode overlaps the current one's compute. */
  pipeline?: number;
  /** PNG level of the warm-up run (ThreadInit.pngLevel). */
  pngLevel?: number;
}

/** A thread takes another request only while the ones it holds are decoded and this many pixels at most (4 MP: memory). */
export const PIPELINE_PIXELS = 4_000_000;

/** Thrown by submit() when the pool is full; the server answers 503 with Retry-After. */
export class OverCapacityError extends Error {
  constructor(readonly retryAfterS: number) {
    super(`over capacity: every worker is busy and the queue is full; retry after ${retryAfterS} s`);
    this.name = 'OverCapacityError';
  }
}

/** A request that failed inside a thread for a reason other than bad input (timeout, crash, bug). */
export class PoolError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'PoolError';
  }
}

interface Task {
  id: number;
  job: ImageJob;
  /** ArrayBuffers of the job's bytes to move to the thread rather than copy. */
  transfer: ArrayBuffer[];
  /** Its bytes were moved to a thread (so it cannot be sent again). */
  moved?: boolean;
  enqueued: number;
  started?: number;
  /** Pixels of the decoded inputs, once the thread says so. */
  pixels?: number;
  slot?: Slot;
  resolve: (r: JobResult & { queueMs: number }) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  tasks: Map<number, Task>;
  ready: boolean;
  /** Being terminated (after a timeout): takes nothing more; replaced once it exits. */
  retired?: boolean;
}

/**
 * The ArrayBuffers of a job's byte inputs that may be moved to a thread: each owned whole by one
 * Uint8Array (Buffer.concat's and readFile's results above 4 KiB; never a slice of Node's shared
 * Buffer pool), each once.
 */
function transferable(job: ImageJob): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of [job.composite, job.mask, job.background, job.foreground]) {
    if (!(v instanceof Uint8Array) || !(v.buffer instanceof ArrayBuffer)) continue;
    if (v.byteOffset !== 0 || v.byteLength !== v.buffer.byteLength || v.byteLength < 4096 || out.includes(v.buffer)) continue;
    out.push(v.buffer);
  }
  return out;
}

const OWN_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const THREAD_URL = new URL(`./thread${OWN_EXT}`, import.meta.url).href;

/** The thread's boot script: the built file directly, or through tsx from the sources. */
function bootScript(): string {
  if (!THREAD_URL.endsWith('.ts')) return `import(${JSON.stringify(THREAD_URL)})`;
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch (err) {
    throw new HarmoniaError('harmonize pool: running from the TypeScript sources needs the tsx package (not installed)', { cause: err });
  }
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(THREAD_URL)}); })`;
}

export interface PoolStats {
  threads: number;
  busy: number;
  queued: number;
  maxQueue: number;
  completed: number;
  failed: number;
  restarts: number;
  /** Slowest thread's engine start + model load, ms. */
  loadMs: number;
  backend: string;
}

export class HarmonizePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;
  private meanServiceMs = 100;
  private readonly init: ThreadInit;
  readonly threads: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  /** Requests a thread may hold at once. */
  readonly pipeline: number;
  completed = 0;
  /** The most requests one thread has held at once (pipelining at work when > 1). */
  maxHeld = 0;
  failed = 0;
  restarts = 0;
  loadMs = 0;
  backend = 'unknown';

  private constructor(opts: PoolOptions) {
    this.threads = opts.threads ?? Math.max(1, availableParallelism());
    this.maxQueue = opts.maxQueue ?? 2 * this.threads;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.pipeline = opts.pipeline ?? 2;
    this.init = { models: opts.models ?? [], pngLevel: opts.pngLevel };
  }

  /** Starts the threads and waits until each has its engine and models loaded. */
  static async create(opts: PoolOptions = {}): Promise<HarmonizePool> {
    if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 256)) {
      throw new HarmoniaError(`threads must be an integer in [1, 256], got ${opts.threads}`);
    }
    if (opts.maxQueue !== undefined && !(Number.isInteger(opts.maxQueue) && opts.maxQueue >= 0)) {
      throw new HarmoniaError(`maxQueue must be a non-negative integer, got ${opts.maxQueue}`);
    }
    if (opts.pipeline !== undefined && !(Number.isInteger(opts.pipeline) && opts.pipeline >= 1 && opts.pipeline <= 4)) {
      throw new HarmoniaError(`pipeline must be an integer in [1, 4], got ${opts.pipeline}`);
    }
    const pool = new HarmonizePool(opts);
    try {
      await Promise.all(Array.from({ length: pool.threads }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private spawn(): Promise<void> {
    const worker = new Worker(bootScript(), { eval: true, workerData: this.init });
    const slot: Slot = { worker, tasks: new Map(), ready: false };
    this.slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromThread) => {
        if (m.type === 'ready') {
          slot.ready = true;
          this.loadMs = Math.max(this.loadMs, m.loadMs);
          this.backend = m.backend;
          resolve();
          this.dispatch();
        } else if (m.type === 'fatal') {
          reject(new HarmoniaError(`worker thread could not start: ${m.message}`));
          void worker.terminate();
        } else if (m.type === 'decoded') {
          const t = slot.tasks.get(m.id);
          if (t) {
            t.pixels = m.pixels;
            this.dispatch();
          }
        } else this.finish(slot, m);
      });
      worker.on('error', (e) => {
        if (!slot.ready) reject(new HarmoniaError(`worker thread could not start: ${e.message}`));
        this.lost(slot, `worker thread crashed: ${e.message.split('\n')[0]}`);
      });
      worker.on('exit', (code) => {
        if (!slot.ready) reject(new HarmoniaError(`worker thread exited with code ${code} during start-up`));
        this.lost(slot, `worker thread exited with code ${code}`);
      });
    });
  }

  /** A thread died or was terminated: fail its request, replace it. */
  private lost(slot: Slot, why: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    for (const t of slot.tasks.values()) {
      clearTimeout(t.timer);
      this.failed++;
      t.reject(new PoolError(why, 500));
    }
    slot.tasks.clear();
    if (!this.closed && slot.ready) {
      this.restarts++;
      this.spawn().catch(() => undefined);
    }
  }

  private finish(slot: Slot, m: Extract<FromThread, { type: 'done' | 'failed' }>): void {
    const t = slot.tasks.get(m.id);
    if (!t) return;
    slot.tasks.delete(m.id);
    t.slot = undefined;
    clearTimeout(t.timer);
    const now = performance.now();
    const service = now - (t.started ?? now);
    this.meanServiceMs = 0.9 * this.meanServiceMs + 0.1 * service;
    if (m.type === 'done') {
      this.completed++;
      const image = m.result.image instanceof Uint8Array ? m.result.image : new Uint8Array(m.result.image);
      t.resolve({ ...m.result, image, queueMs: Math.round(((t.started ?? now) - t.enqueued) * 100) / 100 });
    } else {
      this.failed++;
      t.reject(m.harmonia ? new HarmoniaError(m.message) : new PoolError(`internal error: ${m.message.split('\n')[0]}`, 500));
    }
    this.dispatch();
  }

  /** Whether `slot` may take another request now: none held, or fewer than `pipeline`, all decoded and small. */
  private canTake(slot: Slot): boolean {
    if (!slot.ready || slot.retired) return false;
    if (slot.tasks.size === 0) return true;
    if (slot.tasks.size >= this.pipeline) return false;
    let pixels = 0;
    for (const t of slot.tasks.values()) {
      if (t.pixels === undefined) return false;
      pixels += t.pixels;
    }
    return pixels <= PIPELINE_PIXELS;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      // an idle thread first, then one whose requests are decoded (the least loaded)
      let best: Slot | undefined;
      for (const slot of this.slots) {
        if (this.canTake(slot) && (!best || slot.tasks.size < best.tasks.size)) best = slot;
      }
      if (!best) return;
      const t = this.queue.shift()!;
      this.assign(best, t);
    }
  }

  private assign(slot: Slot, t: Task): void {
    slot.tasks.set(t.id, t);
    this.maxHeld = Math.max(this.maxHeld, slot.tasks.size);
    t.slot = slot;
    t.pixels = undefined;
    t.started ??= performance.now();
    t.timer ??= this.deadline(t);
    const msg: ToThread = { id: t.id, job: t.job };
    const transfer = t.transfer;
    t.transfer = [];
    if (transfer.length) t.moved = true;
    slot.worker.postMessage(msg, transfer);
  }

  /** Never hang: a request past timeoutMs fails; its thread is replaced and its other requests run again elsewhere. */
  private deadline(t: Task): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.failed++;
      t.reject(new PoolError(`request took longer than ${this.timeoutMs} ms`, 503));
      const slot = t.slot;
      if (!slot) {
        const i = this.queue.indexOf(t);
        if (i >= 0) this.queue.splice(i, 1);
        return;
      }
      slot.tasks.delete(t.id);
      t.slot = undefined;
      // the others on this thread did nothing wrong: back to the head of the queue, unless their bytes
      // were moved to the thread (then they fail as over capacity would: 503, retry)
      const others = [...slot.tasks.values()];
      slot.tasks.clear();
      const again: Task[] = [];
      for (const o of others) {
        o.slot = undefined;
        if (!o.moved) again.push(o);
        else {
          clearTimeout(o.timer);
          this.failed++;
          o.reject(new PoolError('the thread running this request was replaced after another request on it ran too long; retry', 503));
        }
      }
      this.queue.unshift(...again);
      slot.retired = true;
      void slot.worker.terminate();
      this.dispatch();
    }, this.timeoutMs);
    timer.unref();
    return timer;
  }

  /** Requests running or waiting. */
  get load(): number {
    let running = 0;
    for (const s of this.slots) running += s.tasks.size;
    return this.queue.length + running;
  }

  /** Requests that may run at once (threads × pipeline) plus those that may wait: more are refused. */
  get capacity(): number {
    return this.threads * this.pipeline + this.maxQueue;
  }

  /** Seconds a refused client should wait: the time the current work needs, at least 1. */
  retryAfter(): number {
    return Math.max(1, Math.ceil((this.meanServiceMs * (this.load + 1)) / Math.max(1, this.threads * this.pipeline) / 1000));
  }

  /**
   * Runs a job on a thread. Throws OverCapacityError at once when every thread is busy and the
   * queue is full; a HarmoniaError for bad input; a PoolError otherwise.
   */
  submit(job: ImageJob, opts: { transfer?: boolean } = {}): Promise<JobResult & { queueMs: number }> {
    if (this.closed) return Promise.reject(new PoolError('the server is shutting down', 503));
    if (this.slots.length === 0) return Promise.reject(new PoolError('no worker thread is running (they are being restarted)', 503));
    if (this.load >= this.capacity) return Promise.reject(new OverCapacityError(this.retryAfter()));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, transfer: opts.transfer ? transferable(job) : [], enqueued: performance.now(), resolve, reject });
      this.dispatch();
    });
  }

  stats(): PoolStats {
    return {
      threads: this.threads, busy: this.slots.filter((s) => s.tasks.size > 0).length, queued: this.queue.length, maxQueue: this.maxQueue,
      completed: this.completed, failed: this.failed, restarts: this.restarts, loadMs: this.loadMs, backend: this.backend,
    };
  }

  /** Fails waiting requests and stops every thread. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new PoolError('the server is shutting down', 503));
    await Promise.all(this.slots.splice(0).map(async (s) => {
      for (const t of s.tasks.values()) {
        clearTimeout(t.timer);
        t.reject(new PoolError('the server is shutting down', 503));
      }
      s.tasks.clear();
      await s.worker.terminate();
    }));
  }
}
