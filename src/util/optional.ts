/**
 * The optional peer dependencies (package.json `peerDependencies` + `peerDependenciesMeta`): what each
 * extra is for and the command that adds it, and the one message shown when code that needs one runs
 * without it. Inference needs none of them (sharp + ONNX Runtime); training, export and TF.js models
 * need the TensorFlow.js extra; `harmonia serve` / the queue need the service extra.
 */
import { HarmoniaError } from '../errors.ts';

export interface Extra {
  /** What needs it, for the message. */
  purpose: string;
  /** The packages, pinned as in package.json's peerDependencies. */
  packages: Record<string, string>;
}

export const EXTRAS = {
  tensorflow: {
    purpose: 'training, ONNX export, TensorFlow.js models and the intrinsic stage',
    packages: { '@tensorflow/tfjs': '4.22.0', '@tensorflow/tfjs-backend-cpu': '4.22.0', '@tensorflow/tfjs-backend-wasm': '4.22.0' },
  },
  service: {
    purpose: 'harmonia serve and the batch queue',
    packages: { fastify: '5.12.8', '@fastify/multipart': '10.1.9', bullmq: '6.7.0', ioredis: '6.0.0' },
  },
} as const satisfies Record<string, Extra>;

/** `npm install a@1 b@2 …` for an extra. */
export function installCommand(extra: Extra): string {
  return `npm install ${Object.entries(extra.packages).map(([n, v]) => `${n}@${v}`).join(' ')}`;
}

/** The optional package a failed import could not find (ERR_MODULE_NOT_FOUND "Cannot find package 'x'"), or undefined. */
export function missingOptionalPackage(err: unknown): { name: string; extra: Extra } | undefined {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e || (e.code !== 'ERR_MODULE_NOT_FOUND' && e.code !== 'MODULE_NOT_FOUND')) return undefined;
  const m = /Cannot find (?:package|module) '([^']+)'/.exec(e.message ?? '');
  if (!m) return undefined;
  const spec = m[1];
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
  for (const extra of Object.values(EXTRAS) as Extra[]) if (name in extra.packages) return { name, extra };
  return undefined;
}

/**
 * Runs `load` (a dynamic import); when it fails because an optional peer dependency is not installed,
 * throws one HarmoniaError naming `what` needs, the missing package, and the command that adds the extra.
 */
export async function importOptional<T>(what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const miss = missingOptionalPackage(err);
    if (!miss) throw err;
    throw new HarmoniaError(`${what} needs ${miss.name}, which is not installed (an optional extra for ${miss.extra.purpose}): ${installCommand(miss.extra)}`, { cause: err });
  }
}
