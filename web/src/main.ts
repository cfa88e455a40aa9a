/**
 * The Harmonia browser app, built on the public browser API (`harmonia/browser`): choose a background
 * and a foreground (RGBA cut-out, or image + mask), drag and scale it into place while a live preview
 * re-harmonizes every frame it can (frame rate shown), harmonize at full resolution, compare
 * before/after, open the intrinsic stage's intermediates (computed only then) and download the result.
 * The page handles the UI; createHarmonizer runs in a web worker (worker.ts).
 */
import { defaultPlacement, hasTransparency, maskArea, rgbaToImage, rgbaToMask, type FloatImage, type Mask, type Placement } from 'harmonia/browser';
import { byId, decodeFile, imageCanvas, nextFrame } from './dom.ts';
import { demoBackground, demoForeground } from './demo.ts';
import type { ExecutionProvider, FromWorker, Rgba, RunResult, ToWorker, View } from './protocol.ts';

interface Foreground {
  image: FloatImage;
  mask: Mask;
  canvas: HTMLCanvasElement;
}

interface AppState {
  bg?: FloatImage;
  bgCanvas?: HTMLCanvasElement;
  fg?: Foreground;
  /** RGB of the last foreground file, kept so a mask chosen afterwards can be applied to it. */
  fgRgb?: { image: FloatImage; rgba: Uint8ClampedArray; name: string };
  placement: Placement;
  /** Bumped whenever the images change; the worker keeps the scene under this id. */
  scene: number;
  /** The scene id the worker has. */
  sentScene: number;
  engineReady: boolean;
  busy: boolean;
  result?: RunResult;
  downloadUrl?: string;
}

const state: AppState = { placement: { x: 0, y: 0, scale: 1 }, scene: 0, sentScene: 0, engineReady: false, busy: false };
/** Long side of the live preview (the scene scaled down to it). */
const PREVIEW_SIDE = 384;

const stage = byId<HTMLCanvasElement>('stage');
const runStatus = byId<HTMLParagraphElement>('run-status');
const harmonizeBtn = byId<HTMLButtonElement>('harmonize');
const download = byId<HTMLAnchorElement>('download');
const scaleInput = byId<HTMLInputElement>('scale');
const scaleOut = byId<HTMLOutputElement>('scale-out');
const split = byId<HTMLInputElement>('split');
const tabPlace = byId<HTMLButtonElement>('tab-place');
const tabCompare = byId<HTMLButtonElement>('tab-compare');
const live = byId<HTMLInputElement>('live');
const fps = byId<HTMLParagraphElement>('fps');
const progress = byId<HTMLProgressElement>('progress');
const panel = byId<HTMLDetailsElement>('intermediates-panel');
byId('preview-size').textContent = String(PREVIEW_SIDE);

function setStatus(el: HTMLElement, text: string, st: string): void {
  el.textContent = text;
  el.dataset.state = st;
}

function fail(err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  setStatus(runStatus, msg, 'error');
  console.error(err);
}

function updateButtons(): void {
  harmonizeBtn.disabled = !(state.engineReady && state.bg && state.fg) || state.busy;
}

function rgbaCanvas(img: Rgba, canvas = document.createElement('canvas')): HTMLCanvasElement {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('canvas 2D context unavailable');
  ctx.putImageData(new ImageData(img.data, img.width, img.height), 0, 0);
  return canvas;
}

// ---------------------------------------------------------------- placement canvas and live preview

/** The last preview, drawn instead of the plain paste while it matches the current placement's scene. */
let preview: { canvas: HTMLCanvasElement; scene: number } | undefined;

function drawStage(): void {
  const ctx = stage.getContext('2d');
  if (!ctx) return;
  if (!state.bg || !state.bgCanvas) {
    ctx.fillStyle = '#0c0d10';
    ctx.fillRect(0, 0, stage.width, stage.height);
    ctx.fillStyle = '#9aa3b2';
    ctx.font = '16px system-ui';
    ctx.fillText('Choose a background and a foreground, or load the demo images.', 20, 40);
    return;
  }
  if (stage.width !== state.bg.width || stage.height !== state.bg.height) {
    stage.width = state.bg.width;
    stage.height = state.bg.height;
  }
  const { x, y, scale } = state.placement;
  if (state.fg && live.checked && preview && preview.scene === state.scene) {
    // the harmonized preview (scene at PREVIEW_SIDE), scaled up to the canvas; plain bilinear: this runs every frame
    ctx.imageSmoothingQuality = 'low';
    ctx.drawImage(preview.canvas, 0, 0, stage.width, stage.height);
  } else {
    ctx.drawImage(state.bgCanvas, 0, 0);
    if (state.fg) {
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(state.fg.canvas, Math.round(x), Math.round(y), Math.round(state.fg.image.width * scale), Math.round(state.fg.image.height * scale));
    }
  }
  if (state.fg) {
    ctx.save();
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = 'rgba(255,255,255,0.6)';
    ctx.lineWidth = Math.max(1, state.bg.width / 600);
    ctx.strokeRect(Math.round(x), Math.round(y), Math.round(state.fg.image.width * scale), Math.round(state.fg.image.height * scale));
    ctx.restore();
  }
}

let drawQueued = false;
function queueDraw(): void {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    drawStage();
  });
}

/** Live preview: one request in flight; when it returns and the placement moved, the next one goes out. */
const live$ = { inFlight: false, dirty: false, frames: [] as number[], total: 0, lastMs: 0 };

function sendScene(): void {
  if (!state.bg || !state.fg || state.sentScene === state.scene) return;
  // copies go to the worker (structured clone); the page keeps its own for drawing
  send({ type: 'scene', scene: state.scene, background: state.bg, foreground: state.fg.image, mask: state.fg.mask });
  state.sentScene = state.scene;
}

function requestPreview(): void {
  if (!live.checked || !state.engineReady || !state.bg || !state.fg) return;
  if (live$.inFlight) {
    live$.dirty = true;
    return;
  }
  sendScene();
  live$.inFlight = true;
  live$.dirty = false;
  const id = nextId++;
  const scene = state.scene;
  const t0 = performance.now();
  previews.set(id, (image, workerMs = 0, ganMs = 0) => {
    live$.inFlight = false;
    if (image && scene === state.scene) {
      preview = { canvas: rgbaCanvas(image, preview?.canvas), scene };
      const now = performance.now();
      live$.frames.push(now);
      live$.total++;
      live$.lastMs = now - t0;
      while (live$.frames.length && now - live$.frames[0] > 1000) live$.frames.shift();
      const rate = live$.frames.length > 1 ? ((live$.frames.length - 1) * 1000) / (now - live$.frames[0]) : 0;
      fps.textContent = `Live preview: ${rate.toFixed(0)} frames/s (${image.width}×${image.height}; ${live$.lastMs.toFixed(0)} ms per frame, ${workerMs.toFixed(0)} in the worker, generator ${ganMs.toFixed(0)})`;
      fps.dataset.fps = rate.toFixed(1);
      fps.dataset.frames = String(live$.total);
      queueDraw();
    }
    if (live$.dirty) requestPreview();
  });
  send({ type: 'preview', id, scene, placement: state.placement, maxSide: PREVIEW_SIDE });
}
live.addEventListener('change', () => {
  if (live.checked) requestPreview();
  else fps.textContent = '';
  queueDraw();
});

function canvasPoint(ev: { clientX: number; clientY: number }): { x: number; y: number } {
  const r = stage.getBoundingClientRect();
  return { x: ((ev.clientX - r.left) * stage.width) / r.width, y: ((ev.clientY - r.top) * stage.height) / r.height };
}

function insideForeground(p: { x: number; y: number }): boolean {
  if (!state.fg) return false;
  const { x, y, scale } = state.placement;
  return p.x >= x && p.y >= y && p.x <= x + state.fg.image.width * scale && p.y <= y + state.fg.image.height * scale;
}

function placementChanged(): void {
  stage.dataset.placement = JSON.stringify(state.placement);
  scaleInput.value = String(state.placement.scale);
  scaleOut.textContent = `${state.placement.scale.toFixed(2)}×`;
  invalidateResult();
  requestPreview();
  queueDraw();
}

function setScale(next: number, about?: { x: number; y: number }): void {
  if (!state.fg) return;
  const min = Number(scaleInput.min), max = Number(scaleInput.max);
  const s = Math.min(max, Math.max(min, next));
  const p = state.placement;
  const cx = about ? about.x : p.x + (state.fg.image.width * p.scale) / 2;
  const cy = about ? about.y : p.y + (state.fg.image.height * p.scale) / 2;
  const k = s / p.scale;
  state.placement = { x: cx - (cx - p.x) * k, y: cy - (cy - p.y) * k, scale: s };
  placementChanged();
}

let drag: { dx: number; dy: number; id: number } | undefined;
stage.addEventListener('pointerdown', (ev) => {
  const p = canvasPoint(ev);
  if (!insideForeground(p) || state.busy) return;
  drag = { dx: p.x - state.placement.x, dy: p.y - state.placement.y, id: ev.pointerId };
  try {
    stage.setPointerCapture(ev.pointerId);
  } catch {
    // a pointer that is no longer active (or a synthetic event): the drag still follows pointermove on the canvas
  }
  stage.classList.add('dragging');
});
stage.addEventListener('pointermove', (ev) => {
  if (!drag || ev.pointerId !== drag.id) return;
  const p = canvasPoint(ev);
  state.placement = { ...state.placement, x: p.x - drag.dx, y: p.y - drag.dy };
  placementChanged();
});
const endDrag = (ev: PointerEvent): void => {
  if (!drag || ev.pointerId !== drag.id) return;
  drag = undefined;
  stage.classList.remove('dragging');
};
stage.addEventListener('pointerup', endDrag);
stage.addEventListener('pointercancel', endDrag);
stage.addEventListener('wheel', (ev) => {
  if (!state.fg || state.busy) return;
  ev.preventDefault();
  setScale(state.placement.scale * Math.exp(-ev.deltaY * 0.0015), canvasPoint(ev));
}, { passive: false });
scaleInput.addEventListener('input', () => setScale(Number(scaleInput.value)));
stage.addEventListener('keydown', (ev) => {
  // keyboard placement: arrows move 1 px (Shift: 10 px), + / − scale by 5 %
  if (!state.fg || state.busy) return;
  const step = ev.shiftKey ? 10 : 1;
  const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  if (moves[ev.key]) {
    const [dx, dy] = moves[ev.key];
    state.placement = { ...state.placement, x: state.placement.x + dx, y: state.placement.y + dy };
    placementChanged();
  } else if (ev.key === '+' || ev.key === '=') setScale(state.placement.scale * 1.05);
  else if (ev.key === '-') setScale(state.placement.scale / 1.05);
  else return;
  ev.preventDefault();
});

// ---------------------------------------------------------------- inputs

/** New images: a new scene, and nothing of the previous run stays on screen. */
function newScene(): void {
  state.scene++;
  preview = undefined;
  invalidateResult();
  byId('timings').replaceChildren();
  byId('stage-label').textContent = '';
  fps.textContent = '';
  fps.dataset.fps = '0';
  live$.frames = [];
}

function setBackground(img: FloatImage): void {
  state.bg = img;
  state.bgCanvas = imageCanvas(img);
  newScene();
}

function setForeground(image: FloatImage, mask: Mask): void {
  if (maskArea(mask) === 0) throw new Error('the foreground mask is empty (no pixel above 50%): white or opaque marks the object');
  state.fg = { image, mask, canvas: imageCanvas(image, mask) };
  newScene();
  fitPlacement();
}

function fitPlacement(): void {
  if (!state.bg || !state.fg) return;
  const maxScale = (2 * Math.max(state.bg.width, state.bg.height)) / Math.max(state.fg.image.width, state.fg.image.height);
  scaleInput.max = String(Math.max(1, maxScale).toFixed(2));
  scaleInput.min = String(Math.min(0.05, maxScale / 40).toFixed(3));
  state.placement = defaultPlacement(state.bg, state.fg.image);
  placementChanged();
}

function applyForegroundFile(maskRgba?: { rgba: Uint8ClampedArray; width: number; height: number; name: string }): void {
  const f = state.fgRgb;
  if (!f) return;
  let mask: Mask;
  if (maskRgba) {
    if (maskRgba.width !== f.image.width || maskRgba.height !== f.image.height) {
      throw new Error(`${maskRgba.name}: mask is ${maskRgba.width}×${maskRgba.height} but the foreground ${f.name} is ${f.image.width}×${f.image.height}`);
    }
    mask = rgbaToMask(maskRgba.rgba, maskRgba.width, maskRgba.height);
  } else if (hasTransparency(f.rgba)) {
    mask = rgbaToMask(f.rgba, f.image.width, f.image.height);
  } else {
    state.fg = undefined;
    newScene();
    throw new Error(`${f.name}: the foreground has no transparency; choose a mask file too (white = object)`);
  }
  setForeground(f.image, mask);
}

let pendingMask: { rgba: Uint8ClampedArray; width: number; height: number; name: string } | undefined;

function sizeText(img: { width: number; height: number }): string {
  return `${img.width}×${img.height}`;
}

byId<HTMLInputElement>('bg-file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const d = await decodeFile(file);
    setBackground(rgbaToImage(d.rgba, d.width, d.height));
    fitPlacement();
    setStatus(runStatus, state.fg ? `Background ${sizeText(d)} loaded. Drag the object, then harmonize.` : `Background ${sizeText(d)} loaded. Now choose a foreground.`, 'idle');
  } catch (err) {
    fail(err);
  }
  updateButtons();
  queueDraw();
});

byId<HTMLInputElement>('fg-file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const d = await decodeFile(file);
    state.fgRgb = { image: rgbaToImage(d.rgba, d.width, d.height), rgba: d.rgba, name: file.name };
    applyForegroundFile(pendingMask);
    setStatus(runStatus, state.bg ? `Foreground ${sizeText(d)} loaded. Drag the object, then harmonize.` : `Foreground ${sizeText(d)} loaded. Now choose a background.`, 'idle');
  } catch (err) {
    fail(err);
  }
  updateButtons();
  queueDraw();
});

byId<HTMLInputElement>('mask-file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const d = await decodeFile(file);
    pendingMask = { ...d, name: file.name };
    applyForegroundFile(pendingMask);
  } catch (err) {
    fail(err);
  }
  updateButtons();
  queueDraw();
});

byId<HTMLButtonElement>('demo').addEventListener('click', async () => {
  const size = Number(byId<HTMLSelectElement>('demo-size').value);
  setStatus(runStatus, `Rendering ${size}×${size} demo images…`, 'busy');
  await nextFrame();
  try {
    pendingMask = undefined;
    state.fgRgb = undefined;
    setBackground(demoBackground(size, size));
    const fg = demoForeground(Math.round(size * 0.6));
    setForeground(fg.image, fg.mask);
    state.placement = { x: size * 0.22, y: size * 0.48, scale: 0.75 };
    placementChanged();
    setStatus(runStatus, `Demo loaded (${size}×${size}): drag the ball, then harmonize.`, 'idle');
  } catch (err) {
    fail(err);
  }
  updateButtons();
});

// ---------------------------------------------------------------- results

function showTab(which: 'place' | 'compare'): void {
  byId('place-view').hidden = which !== 'place';
  byId('compare-view').hidden = which !== 'compare';
  tabPlace.setAttribute('aria-selected', String(which === 'place'));
  tabCompare.setAttribute('aria-selected', String(which === 'compare'));
}
tabPlace.addEventListener('click', () => showTab('place'));
tabCompare.addEventListener('click', () => showTab('compare'));

function invalidateResult(): void {
  byId('intermediates').replaceChildren();
  byId('intermediates-status').textContent = '';
  panel.open = false;
  if (!state.result) return;
  state.result = undefined;
  tabCompare.disabled = true;
  download.setAttribute('aria-disabled', 'true');
  download.removeAttribute('href');
  if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
  state.downloadUrl = undefined;
  showTab('place');
}

function setSplit(pct: number): void {
  byId('after').style.clipPath = `inset(0 0 0 ${pct}%)`;
  byId('divider').style.left = `${pct}%`;
}
split.addEventListener('input', () => setSplit(Number(split.value)));
byId('compare').addEventListener('pointermove', (ev) => {
  if (ev.buttons !== 1) return;
  const r = byId('compare').getBoundingClientRect();
  const pct = Math.min(100, Math.max(0, ((ev.clientX - r.left) / r.width) * 100));
  split.value = String(pct);
  setSplit(pct);
});

function showTimings(rows: { name: string; label: string; ms: number }[]): void {
  const dl = byId('timings');
  dl.replaceChildren();
  for (const t of rows) {
    const dt = document.createElement('dt');
    dt.textContent = t.label;
    const dd = document.createElement('dd');
    dd.textContent = t.ms >= 1000 ? `${(t.ms / 1000).toFixed(2)} s` : `${t.ms.toFixed(0)} ms`;
    dd.dataset.name = t.name;
    dd.dataset.ms = t.ms.toFixed(1);
    dl.append(dt, dd);
  }
}

function showResult(res: RunResult, clickMs: number): void {
  rgbaCanvas(res.composite, byId<HTMLCanvasElement>('before'));
  rgbaCanvas(res.result, byId<HTMLCanvasElement>('after'));
  rgbaCanvas(res.mask, byId<HTMLCanvasElement>('mask-view'));
  setSplit(Number(split.value));
  // the label already says when the intrinsic stage was skipped; the CLI-worded note about it is left out
  byId('stage-label').textContent = [res.label, ...res.notes.filter((n) => !/trained on raw composites/.test(n))].join(' · ');
  showTimings([...res.timings, { name: 'click', label: 'click to result', ms: clickMs }]);
  byId<HTMLCanvasElement>('after').toBlob((blob) => {
    if (!blob || state.result !== res) return;
    state.downloadUrl = URL.createObjectURL(blob);
    download.href = state.downloadUrl;
    download.setAttribute('aria-disabled', 'false');
  }, 'image/png');
  tabCompare.disabled = false;
  showTab('compare');
}

harmonizeBtn.addEventListener('click', async () => {
  if (!state.bg || !state.fg || state.busy) return;
  const t0 = performance.now();
  state.busy = true;
  updateButtons();
  try {
    setStatus(runStatus, `Harmonizing ${sizeText(state.bg)} in the worker…`, 'running');
    const res = await runInWorker();
    const clickMs = performance.now() - t0;
    state.result = res;
    showResult(res, clickMs);
    setStatus(runStatus, `Done: ${sizeText(res.result)} result in ${(clickMs / 1000).toFixed(2)} s from click to result (${res.stages.map((s) => (s === 'gan' ? 'generator' : 'intrinsic stage')).join(' + ') || 'nothing to do'}).`, 'done');
  } catch (err) {
    fail(err);
  } finally {
    progress.hidden = true;
    state.busy = false;
    updateButtons();
  }
});

panel.addEventListener('toggle', () => {
  if (!panel.open || !state.result || byId('intermediates').childElementCount) return;
  const status = byId('intermediates-status');
  status.textContent = 'Computing the intrinsic stage…';
  const id = nextId++;
  const result = state.result;
  views.set(id, (v, ms, err) => {
    if (state.result !== result) return;
    if (err || !v) {
      status.textContent = err ?? 'failed';
      return;
    }
    status.textContent = `Computed in ${ms.toFixed(0)} ms, at the analysis size ${v[0]?.image.width}×${v[0]?.image.height}.`;
    const grid = byId('intermediates');
    for (const view of v) {
      const fig = document.createElement('figure');
      const c = rgbaCanvas(view.image);
      c.dataset.name = view.name;
      const cap = document.createElement('figcaption');
      cap.textContent = view.label;
      fig.append(c, cap);
      grid.append(fig);
    }
  });
  send({ type: 'intermediates', id, scene: state.scene });
});

// ---------------------------------------------------------------- worker

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'harmonia' });
let nextId = 1;
const pending = new Map<number, { resolve: (r: RunResult) => void; reject: (e: Error) => void; t0: number }>();
const previews = new Map<number, (image: Rgba | undefined, ms?: number, gan?: number) => void>();
const views = new Map<number, (v: View[] | undefined, ms: number, err?: string) => void>();
let onReady: ((msg: Extract<FromWorker, { type: 'ready' }>) => void) | undefined;

function send(msg: ToWorker): void {
  worker.postMessage(msg);
}

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const msg = ev.data;
  if (msg.type === 'ready') {
    onReady?.(msg);
    return;
  }
  if (msg.type === 'progress') {
    setStatus(byId('model-status'), `Model: ${msg.text} (${Math.round(msg.fraction * 100)}%)`, 'checking');
    return;
  }
  if (msg.type === 'preview') {
    previews.get(msg.id)?.(msg.image, msg.ms, msg.gan);
    previews.delete(msg.id);
    return;
  }
  if (msg.type === 'intermediates') {
    views.get(msg.id)?.(msg.views, msg.ms);
    views.delete(msg.id);
    return;
  }
  if (msg.type === 'error') {
    if (previews.has(msg.id)) {
      previews.get(msg.id)?.(undefined);
      previews.delete(msg.id);
      return;
    }
    if (views.has(msg.id)) {
      views.get(msg.id)?.(undefined, 0, msg.message);
      views.delete(msg.id);
      return;
    }
  }
  const job = pending.get(msg.id);
  if (!job) return;
  pending.delete(msg.id);
  if (msg.type === 'result') job.resolve(msg.result);
  else if (msg.type === 'error') job.reject(new Error(msg.message));
};
worker.onerror = (ev) => {
  const err = new Error(`the harmonization worker failed: ${ev.message || 'unknown error'}`);
  for (const job of pending.values()) job.reject(err);
  pending.clear();
  setStatus(byId('engine-status'), 'Engine: the harmonization worker failed (see the console)', 'error');
};

/** The full-resolution run in the worker; while it runs the page only animates the elapsed time. */
function runInWorker(): Promise<RunResult> {
  sendScene();
  const id = nextId++;
  progress.hidden = false;
  progress.removeAttribute('value');
  document.body.dataset.phase = 'worker';
  return new Promise<RunResult>((resolve, reject) => {
    const job = { resolve, reject, t0: performance.now() };
    pending.set(id, job);
    const tick = () => {
      if (!pending.has(id)) return;
      byId('elapsed').textContent = `${((performance.now() - job.t0) / 1000).toFixed(1)} s`;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    send({ type: 'run', id, scene: state.scene, placement: state.placement });
  }).finally(() => {
    delete document.body.dataset.phase;
    byId('elapsed').textContent = '';
  });
}

// ---------------------------------------------------------------- start-up

/** `?ep=webgpu|wasm` (or the older `?backend=`) forces ONNX Runtime Web's execution provider. */
export function parseExecutionProvider(value: string | null): ExecutionProvider | 'auto' {
  if (value === null || value === '' || value === 'auto') return 'auto';
  if (value === 'webgpu' || value === 'wasm') return value;
  throw new Error(`ep must be webgpu, wasm or auto, got "${value}"`);
}

async function start(): Promise<void> {
  drawStage();
  const engineStatus = byId('engine-status');
  const modelStatus = byId('model-status');
  try {
    const q = new URLSearchParams(location.search);
    const ep = parseExecutionProvider(q.get('ep') ?? q.get('backend'));
    const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve) => {
      onReady = resolve;
      send({ type: 'init', base: document.baseURI, ep });
    });
    state.engineReady = true;
    setStatus(engineStatus, ready.engine.text, 'ready');
    engineStatus.dataset.backend = ready.engine.backend;
    setStatus(modelStatus, ready.model.text, ready.model.state);
    document.body.dataset.worker = 'true';
    requestPreview();
  } catch (err) {
    setStatus(engineStatus, `Engine: ${(err as Error).message}`, 'error');
  }
  updateButtons();
  document.body.dataset.ready = 'true';
}

void start();
