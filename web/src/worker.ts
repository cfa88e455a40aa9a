/**
 * The harmonization worker: the whole pipeline (intrinsic stage, generator network on ONNX Runtime
 * Web, compositing arithmetic, intermediates) runs here, off the page's thread, so the page stays
 * responsive and can show progress. Messages: web/src/protocol.ts.
 */
import { configureOrt, loadOnnxModel, ORT_VERSION, type LoadedModel } from './ort.ts';
import { harmonizeComposite } from './pipeline.ts';
import { transferables, type EngineState, type FromWorker, type ModelState, type ToWorker } from './protocol.ts';

const post = (msg: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(msg, transfer);

let loaded: LoadedModel | undefined;
let queue: Promise<void> = Promise.resolve();

async function init(base: string, want: 'auto' | 'webgpu' | 'wasm'): Promise<void> {
  const setup = configureOrt(base);
  let engine: EngineState;
  let model: ModelState;
  const wasmText = `wasm SIMD, ${setup.threads} thread${setup.threads === 1 ? '' : 's'}${setup.isolated ? ', cross-origin isolated' : ', not cross-origin isolated'}`;
  try {
    loaded = await loadOnnxModel(new URL('models/default/', base).href, want);
    if (!loaded) {
      engine = { backend: 'none', text: `Engine: web worker; ONNX Runtime Web ${ORT_VERSION} idle (no model to run)` };
      model = { state: 'none', text: 'Model: none served (intrinsic stage only, no GAN model)' };
    } else {
      const on = loaded.ep === 'webgpu' ? 'WebGPU' : wasmText;
      engine = { backend: loaded.ep, text: `Engine: web worker; ONNX Runtime Web ${ORT_VERSION} on ${on}${loaded.reason === 'first choice' || loaded.reason === 'requested' ? '' : ` (${loaded.reason})`}` };
      model = { state: 'ready', name: loaded.name, text: `Model: GAN generator "${loaded.name}" loaded (${loaded.weights.toLocaleString('en-US')} weights; ${loaded.model.config.kind ?? 'paper'}, model.onnx)` };
    }
  } catch (err) {
    loaded = undefined;
    engine = { backend: 'none', text: `Engine: web worker; ONNX Runtime Web ${ORT_VERSION} (${wasmText})` };
    model = { state: 'error', text: `Model: failed to load (${(err as Error).message}); intrinsic stage only` };
  }
  post({ type: 'ready', engine, model });
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  if (msg.type === 'init') {
    queue = queue.then(() => init(msg.base, msg.ep));
    return;
  }
  if (msg.type === 'run') {
    queue = queue.then(async () => {
      try {
        const result = await harmonizeComposite(msg.composite, msg.mask, {
          workingSize: msg.workingSize,
          model: loaded?.model,
          onStage: (label, step, steps) => post({ type: 'progress', id: msg.id, label, step, steps }),
        });
        post({ type: 'result', id: msg.id, result }, transferables(result));
      } catch (err) {
        post({ type: 'error', id: msg.id, message: (err as Error).message ?? String(err) });
      }
    });
  }
};
