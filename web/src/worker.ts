/**
 * The harmonization worker, built on the public browser API only (`harmonia/browser`): the model is
 * loaded with createHarmonizer (ONNX Runtime Web: WebGPU, else wasm SIMD + threads), the page's scene
 * (background, foreground, mask) is kept here, and each message asks for a preview at a small size
 * (while dragging), the full-resolution result, or the intrinsic stage's intermediates (only when the
 * user opens them). Messages: protocol.ts.
 */
import {
  createHarmonizer, generatorKind, imageToRgba, maskBounds, renderLightSphere, ORT_WEB_VERSION,
  type FloatImage, type Harmonizer, type HarmonizeOutput, type Mask,
} from 'harmonia/browser';
import { clampImage, visualizeNormals, visualizeScalar } from './views.ts';
import type { EngineState, FromWorker, ModelState, Rgba, ToWorker, View } from './protocol.ts';

const post = (msg: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(msg, transfer);

let harmonizer: Harmonizer | undefined;
let scene: { id: number; background: FloatImage; foreground: FloatImage; mask: Mask } | undefined;
/** The composite and mask of the last full-resolution run (the intermediates are computed on it). */
let last: { scene: number; out: HarmonizeOutput } | undefined;
let queue: Promise<void> = Promise.resolve();

function rgba(img: FloatImage, alpha?: Mask): Rgba {
  return { width: img.width, height: img.height, data: imageToRgba(img, alpha) };
}
/** The mask as grey bytes; any coverage above 0 shows as at least 1, so that 0 means exactly the pixels the object does not touch. */
function maskRgba(m: Mask): Rgba {
  const data = new Uint8ClampedArray(m.data.length * 4);
  for (let p = 0; p < m.data.length; p++) {
    const v = m.data[p] > 0 ? Math.max(1, Math.round(m.data[p] * 255)) : 0;
    data[p * 4] = data[p * 4 + 1] = data[p * 4 + 2] = v;
    data[p * 4 + 3] = 255;
  }
  return { width: m.width, height: m.height, data };
}

async function init(base: string, want: 'auto' | 'webgpu' | 'wasm'): Promise<void> {
  let engine: EngineState;
  let model: ModelState;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const threads = isolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  const wasmText = `wasm SIMD, ${threads} thread${threads === 1 ? '' : 's'}${isolated ? ', cross-origin isolated' : ', not cross-origin isolated'}`;
  const modelUrl = new URL('models/default/', base).href;
  try {
    harmonizer = await createHarmonizer({
      model: modelUrl,
      device: want,
      threads,
      wasmPaths: new URL('ort/', base).href,
      verify: true,
      onProgress: (p) => post({ type: 'progress', id: 0, fraction: p.fraction, text: p.file ? `loading ${p.file}` : p.stage }),
    });
    const m = harmonizer.model!;
    const on = m.device === 'webgpu' ? 'WebGPU' : wasmText;
    engine = { backend: m.device, text: `Engine: ONNX Runtime Web ${ORT_WEB_VERSION} on ${on}${m.fallback ? ` (${m.fallback})` : ''}, in a web worker` };
    const kind = generatorKind(m.config);
    model = { state: 'ready', name: m.name, text: `Model: GAN generator "${m.name}" loaded (${kind}, model.onnx, ${(m.bytes / 1e6).toFixed(1)} MB)` };
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    harmonizer = await createHarmonizer({ model: null });
    if (/harmonia\.json answered 404/.test(msg)) {
      engine = { backend: 'none', text: `Engine: web worker; ONNX Runtime Web ${ORT_WEB_VERSION} idle (no model to run)` };
      model = { state: 'none', text: 'Model: none served (intrinsic stage only, no GAN model)' };
    } else {
      engine = { backend: 'none', text: `Engine: web worker; ONNX Runtime Web ${ORT_WEB_VERSION} (${wasmText})` };
      model = { state: 'error', text: `Model: failed to load (${msg.replace(/^loadModel: /, '')}); intrinsic stage only` };
    }
  }
  post({ type: 'ready', engine, model });
}

function current(id: number): NonNullable<typeof scene> {
  if (!scene || scene.id !== id) throw new Error('the images changed; run again');
  return scene;
}

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === 'init') return init(msg.base, msg.ep);
  if (msg.type === 'scene') {
    scene = { id: msg.scene, background: msg.background, foreground: msg.foreground, mask: msg.mask };
    last = undefined;
    return;
  }
  const h = harmonizer;
  try {
    if (!h) throw new Error('the engine is not ready');
    if (msg.type === 'preview') {
      const s = current(msg.scene);
      const t0 = performance.now();
      const out = await h.preview({ background: s.background, foreground: s.foreground, mask: s.mask, placement: msg.placement }, { maxSide: msg.maxSide });
      const image = rgba(out.image);
      post({ type: 'preview', id: msg.id, image, ms: performance.now() - t0, gan: out.timings.gan ?? 0 }, [image.data.buffer]);
    } else if (msg.type === 'run') {
      const s = current(msg.scene);
      const out = await h.harmonize({ background: s.background, foreground: s.foreground, mask: s.mask, placement: msg.placement });
      if (!maskBounds(out.mask)) throw new Error('the object is outside the background: drag it back into view');
      last = { scene: s.id, out };
      const labels: Record<string, string> = { intrinsic: 'intrinsic stage', gan: 'generator network', blend: 'background-exact blend', total: 'in the worker' };
      const result = {
        composite: rgba(out.composite),
        mask: maskRgba(out.mask),
        result: rgba(out.image),
        label: out.label,
        stages: out.stages,
        timings: Object.entries(out.timings).map(([name, ms]) => ({ name, label: labels[name] ?? name, ms })),
        notes: out.notes,
      };
      post({ type: 'result', id: msg.id, result }, [result.composite.data.buffer, result.mask.data.buffer, result.result.data.buffer]);
    } else if (msg.type === 'intermediates') {
      if (!last || last.scene !== msg.scene) throw new Error('harmonize first; the intermediates are those of the last result');
      const t0 = performance.now();
      const im = await h.intermediates(last.out.composite, last.out.mask);
      const { width: w, height: ht } = im.analysisSize;
      const l = im.light;
      const views: View[] = [
        { name: 'albedo', label: 'albedo', image: rgba(clampImage(im.albedo)) },
        { name: 'harmonized-albedo', label: 'harmonized albedo', image: rgba(clampImage(im.harmonizedAlbedo)) },
        { name: 'shading', label: 'shading (original)', image: rgba(visualizeScalar(im.shading.data, w, ht)) },
        { name: 'reshading', label: 'shading (re-shaded)', image: rgba(visualizeScalar(im.reshading.data, w, ht)) },
        { name: 'normals', label: 'normals (foreground inflated)', image: rgba(visualizeNormals(im.normals.data, w, ht)) },
        { name: 'light', label: `background light (${l.method}): direction (${l.direction.map((v) => v.toFixed(2)).join(', ')}), ambient ${l.ambient.toFixed(2)}`, image: rgba(renderLightSphere(l.coeffs, 128)) },
        { name: 'semi', label: `semi-harmonized (intrinsic stage${last.out.stages.includes('intrinsic') ? '' : ' alone; not used by this model'})`, image: rgba(im.semiHarmonized) },
      ];
      post({ type: 'intermediates', id: msg.id, views, ms: performance.now() - t0 }, views.map((v) => v.image.data.buffer));
    }
  } catch (err) {
    post({ type: 'error', id: msg.id, message: (err as Error).message ?? String(err) });
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  queue = queue.then(() => handle(msg));
};
