/**
 * TensorFlow.js backend choice for the browser: WebGL first, then WebAssembly (with the project's
 * registered wasm kernels), then plain JavaScript. `?backend=webgl|wasm|cpu` in the page URL forces one.
 */
import { tf } from '../../src/engine/tf.ts';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '../../src/engine/kernels/index.ts';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

export type WebBackend = 'webgl' | 'wasm' | 'cpu';

export interface WebEngineInfo {
  backend: WebBackend;
  /** What was tried before the chosen backend, and why it failed. */
  reason: string;
}

const ORDER: WebBackend[] = ['webgl', 'wasm', 'cpu'];

export function parseBackend(value: string | null): WebBackend | 'auto' {
  if (value === null || value === '' || value === 'auto') return 'auto';
  if ((ORDER as string[]).includes(value)) return value as WebBackend;
  throw new Error(`backend must be webgl, wasm, cpu or auto, got "${value}"`);
}

async function activate(name: WebBackend): Promise<void> {
  if (name === 'wasm') {
    setWasmPaths({
      'tfjs-backend-wasm.wasm': wasmPlain,
      'tfjs-backend-wasm-simd.wasm': wasmSimd,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
    });
  }
  if (!(await tf.setBackend(name))) throw new Error(`setBackend(${name}) returned false`);
  await tf.ready();
  if (name === 'wasm') registerWasmKernels();
  if (name === 'webgl') {
    // A WebGL context that cannot run a tiny op (lost context, blocked GPU) is useless: verify.
    const ok = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0] === 3);
    if (!ok) throw new Error('WebGL computed a wrong result');
  }
}

/** The WebGL renderer string ('' when WebGL is unavailable). */
export function webglRenderer(): string {
  try {
    const gl = document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
    if (!gl) return '';
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const name = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return name;
  } catch {
    return '';
  }
}

/** True for CPU rasterisers (SwiftShader, llvmpipe, …): there WebGL is far slower than wasm for convolutions. */
const SOFTWARE = /swiftshader|llvmpipe|softpipe|software|microsoft basic render/i;

export function isSoftwareRenderer(renderer: string): boolean {
  return SOFTWARE.test(renderer);
}

/**
 * Starts the first backend that works (or the requested one) and says which and why. In 'auto' mode
 * a software-rendered WebGL is skipped: measured in headless Chromium on SwiftShader, the paper-size
 * GAN generator took 5.8 s (512²) and 103 s (1024²) on WebGL against 0.76 s and 2.3 s on wasm (docs/WEB.md).
 */
export async function initWebEngine(want: WebBackend | 'auto' = 'auto'): Promise<WebEngineInfo> {
  const order = want === 'auto' ? ORDER : [want];
  const tried: string[] = [];
  for (const name of order) {
    if (want === 'auto' && name === 'webgl') {
      const renderer = webglRenderer();
      if (renderer && isSoftwareRenderer(renderer)) {
        tried.push(`webgl skipped: software renderer (${SOFTWARE.exec(renderer)?.[0] ?? renderer})`);
        continue;
      }
    }
    try {
      await activate(name);
      return { backend: name, reason: want === 'auto' ? (tried.length ? tried.join('; ') : 'first choice') : 'requested' };
    } catch (err) {
      tried.push(`${name} unavailable (${(err as Error).message.split('\n')[0]})`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${tried.join('; ')}`);
}
