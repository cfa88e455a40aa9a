import { tf } from './tf.ts';
import { HarmoniaError } from '../errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = BackendName | 'auto';

export interface EngineInfo {
  /** The backend TensorFlow.js runs on. */
  backend: BackendName;
  /** Why this backend was chosen (what was tried and failed, for 'auto'). */
  reason: string;
  /** Threads the backend uses for one op. */
  threads: number;
}

let current: EngineInfo | undefined;

/**
 * Chooses and initialises the TensorFlow.js backend: 'tensorflow' (@tensorflow/tfjs-node, optional)
 * when importable, else 'wasm' (with the project's registered kernels), else 'cpu'.
 */
export async function initEngine(opts: { backend?: BackendRequest; quiet?: boolean } = {}): Promise<EngineInfo> {
  const want = opts.backend ?? ((process.env.HARMONIA_BACKEND as BackendRequest | undefined) ?? 'auto');
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(want)) {
    throw new HarmoniaError(`initEngine: backend must be auto, tensorflow, wasm or cpu, got "${want}"`);
  }
  if (current && (want === 'auto' || want === current.backend)) return current;
  const tried: string[] = [];
  const order: BackendName[] = want === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [want];
  for (const name of order) {
    try {
      await activate(name);
      current = { backend: name, reason: want === 'auto' ? (tried.length ? `auto: ${tried.join('; ')}` : 'auto: first choice') : 'requested', threads: 1 };
      return current;
    } catch (err) {
      const msg = (err as Error).message.split('\n')[0];
      tried.push(`${name} unavailable (${msg})`);
      if (want !== 'auto') throw new HarmoniaError(`backend "${name}" could not start: ${msg}`, { cause: err });
    }
  }
  throw new HarmoniaError(`no TensorFlow.js backend could start: ${tried.join('; ')}`);
}

/** The engine chosen by initEngine, or undefined before it ran. */
export function engineInfo(): EngineInfo | undefined {
  return current;
}

async function activate(name: BackendName): Promise<void> {
  if (name === 'tensorflow') {
    const modName = '@tensorflow/tfjs-node';
    await import(/* @vite-ignore */ modName);
    if (!(await tf.setBackend('tensorflow'))) throw new Error('setBackend(tensorflow) failed');
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    const { registerWasmKernels } = await import('./kernels/index.ts');
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) failed');
    registerWasmKernels();
  } else {
    if (!(await tf.setBackend('cpu'))) throw new Error('setBackend(cpu) failed');
  }
  await tf.ready();
}
