/**
 * A reusable barrier for worker threads over a SharedArrayBuffer (Atomics), plus an abort flag so
 * one failing worker releases the others instead of leaving them blocked forever.
 *
 * Control block layout (Int32Array): [0] arrivals, [1] generation, [2] abort flag (1-based index
 * of the worker that failed, 0 = none).
 */
export const CONTROL_INTS = 4;
const COUNT = 0;
const GEN = 1;
const ABORT = 2;
const FENCE = 3;

export class WorkerAborted extends Error {
  constructor(readonly failedWorker: number) {
    super(`aborted: worker ${failedWorker} failed`);
    this.name = 'WorkerAborted';
  }
}

export function createControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
}

/** Blocks until `parties` threads have called barrier() (Atomics.wait: use in workers only). */
export function barrier(ctl: Int32Array, parties: number): void {
  if (parties <= 1) {
    checkAbort(ctl);
    return;
  }
  const gen = Atomics.load(ctl, GEN);
  checkAbort(ctl);
  if (Atomics.add(ctl, COUNT, 1) === parties - 1) {
    Atomics.store(ctl, COUNT, 0);
    Atomics.add(ctl, GEN, 1);
    Atomics.notify(ctl, GEN);
    return;
  }
  while (Atomics.load(ctl, GEN) === gen) {
    Atomics.wait(ctl, GEN, gen, 200);
    checkAbort(ctl);
  }
  checkAbort(ctl);
}

/** Marks worker `index` (0-based) as failed and wakes everyone waiting. */
export function signalAbort(ctl: Int32Array, index: number): void {
  Atomics.compareExchange(ctl, ABORT, 0, index + 1);
  Atomics.add(ctl, GEN, 1);
  Atomics.notify(ctl, GEN);
}

export function checkAbort(ctl: Int32Array): void {
  const a = Atomics.load(ctl, ABORT);
  if (a !== 0) throw new WorkerAborted(a - 1);
}

/**
 * A sequentially consistent read-modify-write on the control block: plain writes to shared
 * buffers made before it are visible to a thread that fences after it (used around the hand-off
 * of weights between workers and the main thread).
 */
export function fence(ctl: Int32Array): void {
  Atomics.add(ctl, FENCE, 1);
}
