/**
 * The Harmonia browser app: choose a background and a foreground (RGBA cut-out, or image + mask),
 * drag and scale it into place, harmonize client-side, compare before/after, look at the
 * intermediates and download the result. The page only handles the UI: the pipeline (intrinsic
 * stage, then the generator's network on ONNX Runtime Web when models/default/ is served) runs in a
 * web worker (worker.ts), which reports progress while the page keeps drawing.
 */
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { maskArea } from '../../src/image/types.ts';
import { byId, decodeFile, drawImage, imageCanvas, nextFrame } from './dom.ts';
import { defaultPlacement, hasTransparency, placeForeground, rgbaToImage, rgbaToMask, snapCoverage, type Placement } from './composite.ts';
import { demoBackground, demoForeground } from './demo.ts';
import type { PipelineResult } from './pipeline.ts';
import type { ExecutionProvider, FromWorker, ToWorker } from './protocol.ts';

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
  engineReady: boolean;
  busy: boolean;
  result?: PipelineResult;
  downloadUrl?: string;
}

const state: AppState = { placement: { x: 0, y: 0, scale: 1 }, engineReady: false, busy: false };

const stage = byId<HTMLCanvasElement>('stage');
const runStatus = byId<HTMLParagraphElement>('run-status');
const harmonizeBtn = byId<HTMLButtonElement>('harmonize');
const download = byId<HTMLAnchorElement>('download');
const scaleInput = byId<HTMLInputElement>('scale');
const scaleOut = byId<HTMLOutputElement>('scale-out');
const split = byId<HTMLInputElement>('split');
const tabPlace = byId<HTMLButtonElement>('tab-place');
const tabCompare = byId<HTMLButtonElement>('tab-compare');

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

// ---------------------------------------------------------------- placement canvas

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
  ctx.drawImage(state.bgCanvas, 0, 0);
  if (state.fg) {
    const { x, y, scale } = state.placement;
    const w = state.fg.image.width * scale, h = state.fg.image.height * scale;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(state.fg.canvas, Math.round(x), Math.round(y), Math.round(w), Math.round(h));
    ctx.save();
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = 'rgba(255,255,255,0.6)';
    ctx.lineWidth = Math.max(1, state.bg.width / 600);
    ctx.strokeRect(Math.round(x), Math.round(y), Math.round(w), Math.round(h));
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
  scaleInput.value = String(state.placement.scale);
  scaleOut.textContent = `${state.placement.scale.toFixed(2)}×`;
  invalidateResult();
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
  stage.setPointerCapture(ev.pointerId);
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

function setBackground(img: FloatImage): void {
  state.bg = img;
  state.bgCanvas = imageCanvas(img);
  invalidateResult();
}

function setForeground(image: FloatImage, mask: Mask): void {
  if (maskArea(mask) === 0) throw new Error('the foreground mask is empty (no pixel above 50%): white or opaque marks the object');
  state.fg = { image, mask, canvas: imageCanvas(image, mask) };
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
    throw new Error(`${f.name}: the foreground has no transparency; choose a mask file too (white = object)`);
  }
  setForeground(f.image, mask);
}

let pendingMask: { rgba: Uint8ClampedArray; width: number; height: number; name: string } | undefined;

byId<HTMLInputElement>('bg-file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const d = await decodeFile(file);
    setBackground(rgbaToImage(d.rgba, d.width, d.height));
    fitPlacement();
    setStatus(runStatus, state.fg ? 'Ready: drag the object, then harmonize.' : 'Now choose a foreground.', 'idle');
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
    setStatus(runStatus, state.bg ? 'Ready: drag the object, then harmonize.' : 'Now choose a background.', 'idle');
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
    setStatus(runStatus, 'Demo loaded: drag the ball, then harmonize.', 'idle');
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

function showResult(res: PipelineResult): void {
  drawImage(byId<HTMLCanvasElement>('before'), res.composite);
  drawImage(byId<HTMLCanvasElement>('after'), res.result);
  setSplit(Number(split.value));
  byId('stage-label').textContent = [res.stageLabel, ...res.notes].join(' · ');
  const grid = byId('intermediates');
  grid.replaceChildren();
  for (const v of res.views) {
    const fig = document.createElement('figure');
    const c = imageCanvas(v.image);
    c.dataset.name = v.name;
    const cap = document.createElement('figcaption');
    cap.textContent = v.label;
    fig.append(c, cap);
    grid.append(fig);
  }
  const dl = byId('timings');
  dl.replaceChildren();
  for (const t of res.timings) {
    const dt = document.createElement('dt');
    dt.textContent = t.label;
    const dd = document.createElement('dd');
    dd.textContent = `${t.ms.toFixed(0)} ms`;
    dd.dataset.name = t.name;
    dd.dataset.ms = t.ms.toFixed(1);
    dl.append(dt, dd);
  }
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
  state.busy = true;
  updateButtons();
  try {
    setStatus(runStatus, 'Compositing…', 'running');
    await nextFrame();
    const placed = placeForeground(state.bg, state.fg.image, state.fg.mask, state.placement);
    const { composite, mask } = snapCoverage(placed.composite, placed.mask, state.bg);
    if (maskArea(mask) === 0) throw new Error('the object is outside the background: drag it back into view');
    const workingSize = Number(byId<HTMLSelectElement>('work-size').value);
    const t0 = performance.now();
    const res = await runInWorker(composite, mask, workingSize);
    const roundTrip = performance.now() - t0;
    res.timings.push({ name: 'roundtrip', label: 'page → worker → page', ms: roundTrip });
    state.result = res;
    showResult(res);
    const total = res.timings.find((t) => t.name === 'total');
    setStatus(runStatus, `Done in ${((total?.ms ?? 0) / 1000).toFixed(2)} s in the worker (${res.workSize.width}×${res.workSize.height} working size; ${(roundTrip / 1000).toFixed(2)} s from click to result).`, 'done');
  } catch (err) {
    fail(err);
  } finally {
    progress.hidden = true;
    state.busy = false;
    updateButtons();
  }
});

// ---------------------------------------------------------------- worker

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'harmonia' });
const progress = byId<HTMLProgressElement>('progress');
let nextId = 1;
const pending = new Map<number, { resolve: (r: PipelineResult) => void; reject: (e: Error) => void; label: string; t0: number }>();
let onReady: ((msg: Extract<FromWorker, { type: 'ready' }>) => void) | undefined;

function send(msg: ToWorker, transfer: Transferable[] = []): void {
  worker.postMessage(msg, transfer);
}

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const msg = ev.data;
  if (msg.type === 'ready') {
    onReady?.(msg);
    return;
  }
  const job = pending.get(msg.id);
  if (!job) return;
  if (msg.type === 'progress') {
    job.label = msg.label;
    progress.max = msg.steps;
    progress.value = msg.step;
    setStatus(runStatus, `Harmonizing in the worker (step ${msg.step + 1} of ${msg.steps}): ${msg.label}…`, 'running');
  } else if (msg.type === 'result') {
    pending.delete(msg.id);
    job.resolve(msg.result);
  } else if (msg.type === 'error') {
    pending.delete(msg.id);
    job.reject(new Error(msg.message));
  }
};
worker.onerror = (ev) => {
  const err = new Error(`the harmonization worker failed: ${ev.message || 'unknown error'}`);
  for (const job of pending.values()) job.reject(err);
  pending.clear();
  setStatus(byId('engine-status'), `Engine: ${err.message}`, 'error');
};

/** Runs the pipeline in the worker; while it runs the page only animates the elapsed time. */
function runInWorker(composite: FloatImage, mask: Mask, workingSize: number): Promise<PipelineResult> {
  const id = nextId++;
  progress.hidden = false;
  progress.removeAttribute('value');
  document.body.dataset.phase = 'worker';
  return new Promise<PipelineResult>((resolve, reject) => {
    const job = { resolve, reject, label: 'starting', t0: performance.now() };
    pending.set(id, job);
    const tick = () => {
      if (!pending.has(id)) return;
      const s = ((performance.now() - job.t0) / 1000).toFixed(1);
      byId('elapsed').textContent = `${s} s`;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    // the buffers move to the worker (no copy); the page keeps its own background and foreground
    send({ type: 'run', id, composite, mask, workingSize }, [composite.data.buffer as ArrayBuffer, mask.data.buffer as ArrayBuffer]);
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
  } catch (err) {
    setStatus(engineStatus, `Engine: ${(err as Error).message}`, 'error');
  }
  updateButtons();
  document.body.dataset.ready = 'true';
}

void start();
