/**
 * Intrinsic Compositing stage: speed, procedural accuracy and dataset evaluation.
 *
 *   node --import tsx bench/intrinsic.ts speed [--size 1024] [--runs 5]
 *   node --import tsx bench/intrinsic.ts procedural [--count 200] [--seed0 1000] [--size 256] [--light-model models/light]
 *   node --import tsx bench/intrinsic.ts analysis [--count 8] [--seed0 2000]   # analysis side 256/512/1024 at full resolution
 *   node --import tsx bench/intrinsic.ts dataset --data <iHarmony4 root> --split test|train [--limit N] [--configs name,...] [--options JSON] [--light-model models/light]
 *     the relighting benchmarks of issue 24 (docs/INTRINSIC.md § Relighting benchmark): --data data/relit
 *     (`harmonia make-composites --real ../shared/data/lalonde-real --out data/relit --relit`) and --data data/relit-proc
 *     (`harmonia make-procedural --out data/relit-proc --scene-seed0 1000 --count 200 --test-fraction 1`)
 *
 * The learned light estimator (models/light/, `harmonia train-light`, training seeds ≥ 1,000,000) is
 * loaded from --light-model (default: the shipped one); the evaluation seeds here start at 1000: the procedural
 * relit set of issue 24 is seeds 1000..1199 (the default --count 200), the same scenes that
 * `harmonia make-procedural --out <dir> --scene-seed0 1000 --count 200 --test-fraction 1` writes in the iHarmony4 layout
 * (each seed's composite is makeProceduralComposite({ seed }): a foreign light direction ≥ 40° away, strength, ambient and colour).
 *
 * Dataset protocol (docs/METRICS.md § Protocol): composite, prediction and real resized to 256² (bilinear), mask
 * nearest, foreground = mask > 0.5; MSE, PSNR, fMSE on 0–255; per-image means; worse-share = share of
 * images whose fMSE is above the composite's.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { loadLightModel, DEFAULT_LIGHT_MODEL_DIR } from '../src/models/light.ts';
import { CAPTURE_ALBEDO_STRENGTHS, semiHarmonize, angleBetweenDeg, accumulateLightStats, fitLightOfficial, fitLightLeastSquares, lightDirection, type IntrinsicOptions } from '../src/intrinsic/index.ts';
import { makeProceduralComposite } from '../src/data/procedural.ts';
import { readIHarmonyDataset } from '../src/data/iharmony4.ts';
import { readImage, readMask } from '../src/image/io.ts';
import { imageMetrics, toEvalImage, toEvalMask } from '../src/metrics/index.ts';
import type { FloatImage } from '../src/image/types.ts';
import { Rng } from '../src/util/random.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    size: { type: 'string' }, runs: { type: 'string' }, count: { type: 'string' }, seed0: { type: 'string' },
    data: { type: 'string' }, split: { type: 'string' }, limit: { type: 'string' }, configs: { type: 'string' }, options: { type: 'string' },
    'light-model': { type: 'string' },
  },
});
const mode = positionals[0] ?? 'speed';
const lightModelDir = values['light-model'] ?? DEFAULT_LIGHT_MODEL_DIR;
const lightModel = existsSync(lightModelDir) ? await loadLightModel(lightModelDir) : undefined;

/** The ablation: albedo only / shading only / both, plus the guided-filter decomposition. */
const CONFIGS: Record<string, IntrinsicOptions> = {
  both: {},
  albedo: { stages: { albedo: true, shading: false } },
  shading: { stages: { albedo: false, shading: true } },
  'both-guided': { decomposition: 'guided' },
  'both-capture': { strengths: CAPTURE_ALBEDO_STRENGTHS },
  ...(lightModel ? {
    'both-learned': { lightModel },
    'albedo-learned': { lightModel, stages: { albedo: true, shading: false } },
    'shading-learned': { lightModel, stages: { albedo: false, shading: true } },
  } : {}),
};

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}
const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;

async function speed(): Promise<void> {
  const size = Number(values.size ?? 1024);
  const runs = Number(values.runs ?? 5);
  const rng = new Rng(1);
  const data = new Float32Array(size * size * 3);
  const mask = new Float32Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    const i = y * size + x;
    const v = 0.35 + 0.25 * Math.sin(x / 40) * Math.cos(y / 60);
    for (let k = 0; k < 3; k++) data[i * 3 + k] = Math.min(1, Math.max(0, v + 0.1 * k + 0.02 * rng.normal()));
    if ((x - size * 0.5) ** 2 + (y - size * 0.55) ** 2 < (size * 0.25) ** 2) mask[i] = 1;
  }
  const img: FloatImage = { width: size, height: size, channels: 3, data };
  semiHarmonize(img, { width: size, height: size, data: mask }); // warm-up (JIT)
  const walls: number[] = [];
  const cpus: number[] = [];
  let last: Record<string, number> = {};
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = semiHarmonize(img, { width: size, height: size, data: mask });
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
    last = res.intermediates.timings;
  }
  console.log(`semiHarmonize ${size}×${size} (fg 20%), ${runs} runs after warm-up: wall median ${median(walls).toFixed(0)} ms (min ${Math.min(...walls).toFixed(0)}), CPU median ${median(cpus).toFixed(0)} ms`);
  console.log(`stages of the last run (ms): ${Object.entries(last).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
}

async function procedural(): Promise<void> {
  const count = Number(values.count ?? 200);
  const seed0 = Number(values.seed0 ?? 1000);
  const size = Number(values.size ?? 256);
  const extra: IntrinsicOptions = values.options ? JSON.parse(values.options) : {};
  const dirStats: number[] = [];
  const dirLearned: number[] = [];
  const dirOfficial: number[] = [];
  const dirLs: number[] = [];
  const fitOnlyOfficial: number[] = [];
  const fitOnlyLs: number[] = [];
  const albErr: number[] = [];
  const shdErr: number[] = [];
  const f: Record<string, number[]> = { composite: [], both: [], albedo: [], shading: [], 'both (true light)': [] };
  f['both, capture λ'] = []; f['albedo, capture λ'] = [];
  if (lightModel) { f['both (learned light)'] = []; f['shading (learned light)'] = []; f['both (learned light), capture λ'] = []; }
  for (let s = 0; s < count; s++) {
    const pc = makeProceduralComposite({ seed: seed0 + s, width: size, height: size });
    const sc = pc.scene;
    const n = size * size;
    const truth = sc.light.direction;
    const lt = sc.light;
    const runs: Record<string, IntrinsicOptions> = {
      both: { ...extra },
      albedo: { ...extra, stages: { albedo: true, shading: false } },
      shading: { ...extra, stages: { albedo: false, shading: true } },
      'both (true light)': { ...extra, light: [truth[0] * lt.strength, truth[1] * lt.strength, truth[2] * lt.strength, lt.ambient] },
      'both, capture λ': { ...extra, strengths: CAPTURE_ALBEDO_STRENGTHS },
      'albedo, capture λ': { ...extra, strengths: CAPTURE_ALBEDO_STRENGTHS, stages: { albedo: true, shading: false } },
      ...(lightModel ? {
        'both (learned light)': { ...extra, lightModel },
        'shading (learned light)': { ...extra, lightModel, stages: { albedo: false, shading: true } },
        'both (learned light), capture λ': { ...extra, lightModel, strengths: CAPTURE_ALBEDO_STRENGTHS },
      } : {}),
    };
    {
      // the fit alone: true normals and true shading of the real scene, official validity rule
      const valid = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const mm = (sc.image.data[i * 3] + sc.image.data[i * 3 + 1] + sc.image.data[i * 3 + 2]) / 3;
        valid[i] = mm > 0.05 && mm < 0.95 ? 1 : 0;
      }
      const st = accumulateLightStats(sc.normals.data, sc.shading.data, valid);
      fitOnlyOfficial.push(angleBetweenDeg(lightDirection(fitLightOfficial(st).coeffs), truth));
      fitOnlyLs.push(angleBetweenDeg(lightDirection(fitLightLeastSquares(st).coeffs), truth));
    }
    const m = toEvalMask(pc.mask);
    const gt = toEvalImage(pc.real);
    f.composite.push(imageMetrics(toEvalImage(pc.composite), gt, m).fmse ?? 0);
    for (const [name, o] of Object.entries(runs)) {
      const r = semiHarmonize(pc.composite, pc.mask, o);
      f[name].push(imageMetrics(toEvalImage(r.semiHarmonized), gt, m).fmse ?? 0);
      if (name === 'both (learned light)') dirLearned.push(angleBetweenDeg(r.intermediates.light.direction, truth));
      if (name === 'both') {
        dirStats.push(angleBetweenDeg(r.intermediates.light.direction, truth));
        // light fits with the scene's true background normals (what a normal network would give)
        for (const [method, sink] of [['official', dirOfficial], ['least-squares', dirLs]] as const) {
          const rr = semiHarmonize(pc.composite, pc.mask, { ...o, lightMethod: method, backgroundNormals: sc.normals, stages: { albedo: false, shading: true } });
          sink.push(angleBetweenDeg(rr.intermediates.light.direction, truth));
        }
        // decomposition errors vs ground truth on the real scene (scale-invariant: best global scale in log space)
        const rr = semiHarmonize(sc.image, { width: size, height: size, data: new Float32Array(n) }, { stages: { albedo: false, shading: false } });
        const S = rr.intermediates.shading.data;
        const A = rr.intermediates.albedo.data;
        let ls = 0;
        for (let i = 0; i < n; i++) ls += Math.log(S[i] / sc.shading.data[i]);
        const k = Math.exp(ls / n);
        let es = 0, ea = 0;
        for (let i = 0; i < n; i++) {
          es += (S[i] / k - sc.shading.data[i]) ** 2;
          for (let c = 0; c < 3; c++) ea += (Math.pow(A[i * 3 + c], 2.2) * k - sc.albedo.data[i * 3 + c]) ** 2;
        }
        shdErr.push(Math.sqrt(es / n));
        albErr.push(Math.sqrt(ea / (3 * n)));
      }
    }
  }
  console.log(`procedural composites: ${count} scenes, seeds ${seed0}..${seed0 + count - 1}, ${size}×${size}`);
  console.log(`light direction error (deg), median / mean: statistics (default, bg shading only) ${median(dirStats).toFixed(1)} / ${mean(dirStats).toFixed(1)}; ` +
    `official grid+Adam with true bg normals ${median(dirOfficial).toFixed(1)} / ${mean(dirOfficial).toFixed(1)}; ` +
    `constrained LS with true bg normals ${median(dirLs).toFixed(1)} / ${mean(dirLs).toFixed(1)}`);
  if (lightModel) console.log(`learned light estimator (${lightModelDir}): median / mean ${median(dirLearned).toFixed(1)} / ${mean(dirLearned).toFixed(1)}`);
  console.log(`light fit alone (true normals + true shading): official ${median(fitOnlyOfficial).toFixed(1)} / ${mean(fitOnlyOfficial).toFixed(1)}; constrained LS ${median(fitOnlyLs).toFixed(1)} / ${mean(fitOnlyLs).toFixed(1)}`);
  console.log(`decomposition RMSE after the best global scale: shading ${mean(shdErr).toFixed(3)} (linear units), albedo ${mean(albErr).toFixed(3)} (linear)`);
  console.log('| | mean fMSE | median fMSE | worse-share |');
  console.log('|---|---|---|---|');
  for (const [name, v] of Object.entries(f)) {
    const worse = name === 'composite' ? 0 : v.filter((x, i) => x > f.composite[i]).length / v.length;
    console.log(`| ${name} | ${mean(v).toFixed(1)} | ${median(v).toFixed(1)} | ${name === 'composite' ? '–' : (100 * worse).toFixed(1) + '%'} |`);
  }
}

async function dataset(): Promise<void> {
  if (!values.data) throw new Error('--data is required');
  const split = (values.split ?? 'test') as 'train' | 'test';
  let samples = await readIHarmonyDataset(values.data, { split });
  if (values.limit) samples = samples.slice(0, Number(values.limit));
  const extra: IntrinsicOptions = values.options ? JSON.parse(values.options) : {};
  const names = values.configs ? values.configs.split(',') : Object.keys(CONFIGS);
  const res: Record<string, { mse: number[]; psnr: number[]; fmse: number[] }> = { composite: { mse: [], psnr: [], fmse: [] } };
  for (const n of names) res[n] = { mse: [], psnr: [], fmse: [] };
  for (const s of samples) {
    const comp = await readImage(s.composite);
    const mask = await readMask(s.mask);
    const real = await readImage(s.real);
    const gt = toEvalImage(real);
    const m = toEvalMask(mask);
    const add = (name: string, img: FloatImage): void => {
      const r = imageMetrics(toEvalImage(img), gt, m);
      res[name].mse.push(r.mse); res[name].psnr.push(r.psnr); res[name].fmse.push(r.fmse ?? 0);
    };
    add('composite', comp);
    for (const n of names) {
      const o = CONFIGS[n] ?? (() => { throw new Error(`unknown config ${n}`); })();
      add(n, semiHarmonize(comp, mask, { ...extra, ...o, stages: o.stages ?? extra.stages }).semiHarmonized);
    }
  }
  console.log(`${values.data} ${split} split: ${samples.length} images, 256² protocol, per-image means`);
  console.log('| | MSE | PSNR (dB) | fMSE | worse-share (fMSE) |');
  console.log('|---|---|---|---|---|');
  for (const [name, r] of Object.entries(res)) {
    const worse = name === 'composite' ? '–' : `${(100 * r.fmse.filter((x, i) => x > res.composite.fmse[i]).length / r.fmse.length).toFixed(1)}%`;
    console.log(`| ${name} | ${mean(r.mse).toFixed(2)} | ${mean(r.psnr).toFixed(2)} | ${mean(r.fmse).toFixed(1)} | ${worse} |`);
  }
}

/** fMSE at full resolution with the analysis copy at 256, 512 and 1024 px: 1024² procedural composites and the genuine iHarmony4 sample. */
async function analysisSide(): Promise<void> {
  const count = Number(values.count ?? 8);
  const seed0 = Number(values.seed0 ?? 2000);
  const sides = [256, 512, 1024];
  const fm = (p: FloatImage, g: FloatImage, m: { data: Float32Array }): number => {
    let s = 0, n = 0;
    for (let i = 0; i < m.data.length; i++) if (m.data[i] > 0.5) { for (let c = 0; c < 3; c++) s += ((p.data[i * 3 + c] - g.data[i * 3 + c]) * 255) ** 2; n++; }
    return s / (3 * Math.max(1, n));
  };
  const acc: Record<string, number[]> = { composite: [], ...Object.fromEntries(sides.map((a) => [`analysis ${a}`, []])) };
  for (let k = 0; k < count; k++) {
    const pc = makeProceduralComposite({ seed: seed0 + k, width: 1024, height: 1024 });
    acc.composite.push(fm(pc.composite, pc.real, pc.mask));
    for (const a of sides) acc[`analysis ${a}`].push(fm(semiHarmonize(pc.composite, pc.mask, { analysisMaxSide: a }).semiHarmonized, pc.real, pc.mask));
  }
  console.log(`procedural composites 1024², seeds ${seed0}..${seed0 + count - 1}, mean fMSE: ${Object.entries(acc).map(([k, v]) => `${k} ${mean(v).toFixed(1)}`).join(', ')}`);
  const d = new URL('../../shared/data/iharmony4-sample/', import.meta.url);
  if (existsSync(d)) {
    const comp = await readImage(new URL('composite_images/a0002_1_4.jpg', d).pathname);
    const real = await readImage(new URL('real_images/a0002.jpg', d).pathname);
    const mask = await readMask(new URL('masks/a0002_1.png', d).pathname);
    const parts = sides.map((a) => `analysis ${a} ${fm(semiHarmonize(comp, mask, { analysisMaxSide: a }).semiHarmonized, real, mask).toFixed(1)}`);
    console.log(`iHarmony4 sample a0002_1_4 (${comp.width}×${comp.height}), fMSE: composite ${fm(comp, real, mask).toFixed(1)}, ${parts.join(', ')}`);
  } else console.log('iHarmony4 sample: ../shared/data/iharmony4-sample not found, skipped');
}

if (mode === 'speed') await speed();
else if (mode === 'analysis') await analysisSide();
else if (mode === 'procedural') await procedural();
else if (mode === 'dataset') await dataset();
else throw new Error(`unknown mode ${mode}: use speed, analysis, procedural or dataset`);
