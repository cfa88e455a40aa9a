import { availableParallelism } from 'node:os';
import { tf } from './tf.ts';
import { HarmoniaError } from '../errors.ts';
import { env, BACKENDS, BACKEND_REQUESTS, isOneOf, listWords, type BackendName, type BackendRequest } from '../config/index.ts';

// the backend names are listed once, in src/config/index.ts
export type { BackendName, BackendRequest } from '../config/index.ts';

export interface EngineInfo {
  /** The backend TensorFlow.js runs on. */
  backend: BackendName;
  /** Why this backend was chosen (what was tried and failed, for 'auto'). */
  reason: string;
  /** Threads the backend uses for one op. */
  threads: number;
  /** The project's kernels registered for this backend (non-empty for native and wasm). */
  kernels: string[];
}

let current: EngineInfo | undefined;

function parseRequest(value: string, source: string): BackendRequest {
  if (!isOneOf(BACKEND_REQUESTS, value)) throw new HarmoniaError(`${source}: backend must be ${listWords(BACKEND_REQUESTS)}, got "${value}"`);
  return value;
}

/**
 * Chooses and initialises the TensorFlow.js backend. 'auto' (the default) honours the HARMONIA_BACKEND
 * environment variable when set, else tries 'tensorflow' (@tensorflow/tfjs-node, an optional
 * dependency), then 'native' (the oneDNN addon, when built: src/engine/native/), then 'wasm' (with the project's registered kernels), then 'cpu'. An explicit backend
 * is used as is, or throws. May be called again to switch backends within a process (tensors move
 * lazily; the wasm kernels stay registered).
 */
export async function initEngine(opts: { backend?: BackendRequest; quiet?: boolean } = {}): Promise<EngineInfo> {
  let want = parseRequest(opts.backend ?? 'auto', 'initEngine');
  let source = opts.backend && opts.backend !== 'auto' ? 'requested' : 'auto';
  const fromEnv = env.backend;
  if (want === 'auto' && fromEnv) {
    want = parseRequest(fromEnv, 'HARMONIA_BACKEND'); // checked again: code may assign env.backend
    source = 'HARMONIA_BACKEND';
  }
  const active = tf.getBackend() as string | undefined;
  if (current && current.backend === active && (want === 'auto' || want === current.backend)) return current;
  const tried: string[] = [];
  const order: readonly BackendName[] = want === 'auto' ? BACKENDS : [want];
  for (const name of order) {
    try {
      const kernels = await activate(name);
      const reason = want === 'auto'
        ? `auto: ${tried.length ? tried.join('; ') : `${name} is the first choice`}`
        : source === 'HARMONIA_BACKEND' ? `HARMONIA_BACKEND=${name}` : 'requested';
      current = { backend: name, reason, threads: await threadsOf(name), kernels };
      if (!opts.quiet && env.debug) console.error(`harmonia: backend ${name} (${reason})`);
      return current;
    } catch (err) {
      const msg = (err as Error).message.split('\n')[0];
      // an optional package that is not installed is a choice, not a failure: say so calmly
      const notInstalled = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && name === 'tensorflow';
      tried.push(notInstalled ? `${name} not installed (optional @tensorflow/tfjs-node)` : `${name} unavailable (${msg})`);
      if (want !== 'auto') throw new HarmoniaError(`backend "${name}" could not start: ${msg}`, { cause: err });
    }
  }
  throw new HarmoniaError(`no TensorFlow.js backend could start: ${tried.join('; ')}`);
}

/** The engine chosen by initEngine, or undefined before it ran. */
export function engineInfo(): EngineInfo | undefined {
  return current;
}

async function activate(name: BackendName): Promise<string[]> {
  let kernels: string[] = [];
  if (name === 'tensorflow') {
    const modName = '@tensorflow/tfjs-node';
    await import(/* @vite-ignore */ modName);
    if (!(await tf.setBackend('tensorflow'))) throw new Error('setBackend(tensorflow) failed');
  } else if (name === 'native') {
    const { registerNativeBackend } = await import('./native/index.ts');
    kernels = registerNativeBackend();
    if (!(await tf.setBackend('native'))) throw new Error('setBackend(native) failed');
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    const { registerWasmKernels } = await import('./kernels/index.ts');
    kernels = registerWasmKernels();
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) failed');
  } else {
    if (!(await tf.setBackend('cpu'))) throw new Error('setBackend(cpu) failed');
  }
  await tf.ready();
  return kernels;
}

async function threadsOf(name: BackendName): Promise<number> {
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    return Math.max(1, wasm.getThreadsCount());
  }
  if (name === 'native') {
    const { nativeAddon } = await import('./native/index.ts');
    return nativeAddon()?.info().threads ?? 1;
  }
  // libtensorflow's intra-op pool defaults to one thread per core; the cpu backend is single-threaded JS.
  return name === 'tensorflow' ? availableParallelism() : 1;
}
