/**
 * The HTTP server's bounded worker pool: `threads` worker threads (default: one per core), each with
 * its own engine and the models loaded once (thread.ts), plus a bounded wait queue. When every
 * thread is busy and the queue is full, submit() throws OverCapacityError at once (the server
 * answers 503 with Retry-After): nothing ever queues without limit. A request that runs longer
 * than `timeoutMs` is failed and its thread replaced; a thread that dies is replaced too.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { HarmoniaError } from '../errors.ts';
import type { ImageJob, JobResult } from './job.ts';

export interface ThreadInit {
  /** Model folders every thread loads at start-up. */
  models: string[];
}
export type ToThread = { id: number; job: ImageJob };
export type FromThread =
  | { type: 'ready'; loadMs: number; backend: string }
  | { type: 'fatal'; message: string }
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
}

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
  enqueued: number;
  started?: number;
  resolve: (r: JobResult & { queueMs: number }) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  task?: Task;
  ready: boolean;
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
  completed = 0;
  failed = 0;
  restarts = 0;
  loadMs = 0;
  backend = 'unknown';

  private constructor(opts: PoolOptions) {
    this.threads = opts.threads ?? Math.max(1, availableParallelism());
    this.maxQueue = opts.maxQueue ?? 2 * this.threads;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.init = { models: opts.models ?? [] };
  }

  /** Starts the threads and waits until each has its engine and models loaded. */
  static async create(opts: PoolOptions = {}): Promise<HarmonizePool> {
    if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 256)) {
      throw new HarmoniaError(`threads must be an integer in [1, 256], got ${opts.threads}`);
    }
    if (opts.maxQueue !== undefined && !(Number.isInteger(opts.maxQueue) && opts.maxQueue >= 0)) {
      throw new HarmoniaError(`maxQueue must be a non-negative integer, got ${opts.maxQueue}`);
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
    const slot: Slot = { worker, ready: false };
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
    const t = slot.task;
    slot.task = undefined;
    if (t) {
      clearTimeout(t.timer);
      this.failed++;
      t.reject(new PoolError(why, 500));
    }
    if (!this.closed && slot.ready) {
      this.restarts++;
      this.spawn().catch(() => undefined);
    }
  }

  private finish(slot: Slot, m: Extract<FromThread, { type: 'done' | 'failed' }>): void {
    const t = slot.task;
    if (!t || t.id !== m.id) return;
    slot.task = undefined;
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

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.task) continue;
      const t = this.queue.shift();
      if (!t) return;
      slot.task = t;
      t.started = performance.now();
      t.timer = setTimeout(() => {
        // never hang: fail the request and replace its thread
        slot.task = undefined;
        this.failed++;
        t.reject(new PoolError(`request took longer than ${this.timeoutMs} ms`, 503));
        void slot.worker.terminate();
      }, this.timeoutMs);
      t.timer.unref();
      const msg: ToThread = { id: t.id, job: t.job };
      slot.worker.postMessage(msg);
    }
  }

  /** Requests running or waiting. */
  get load(): number {
    return this.queue.length + this.slots.filter((s) => s.task).length;
  }

  /** Seconds a refused client should wait: the time the current work needs, at least 1. */
  retryAfter(): number {
    return Math.max(1, Math.ceil((this.meanServiceMs * (this.load + 1)) / Math.max(1, this.threads) / 1000));
  }

  /**
   * Runs a job on a thread. Throws OverCapacityError at once when every thread is busy and the
   * queue is full; a HarmoniaError for bad input; a PoolError otherwise.
   */
  submit(job: ImageJob): Promise<JobResult & { queueMs: number }> {
    if (this.closed) return Promise.reject(new PoolError('the server is shutting down', 503));
    if (this.slots.length === 0) return Promise.reject(new PoolError('no worker thread is running (they are being restarted)', 503));
    if (this.load >= this.threads + this.maxQueue) return Promise.reject(new OverCapacityError(this.retryAfter()));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, enqueued: performance.now(), resolve, reject });
      this.dispatch();
    });
  }

  stats(): PoolStats {
    return {
      threads: this.threads, busy: this.slots.filter((s) => s.task).length, queued: this.queue.length, maxQueue: this.maxQueue,
      completed: this.completed, failed: this.failed, restarts: this.restarts, loadMs: this.loadMs, backend: this.backend,
    };
  }

  /** Fails waiting requests and stops every thread. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new PoolError('the server is shutting down', 503));
    await Promise.all(this.slots.splice(0).map(async (s) => {
      if (s.task) {
        clearTimeout(s.task.timer);
        s.task.reject(new PoolError('the server is shutting down', 503));
      }
      await s.worker.terminate();
    }));
  }
}
