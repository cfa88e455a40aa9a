import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/random.ts';
import { mean3, std3, cov3, matMul3, transpose3, randomRotation, eigSym3 } from '../../src/data/transfer/stats.ts';
import { reinhardTransfer, covarianceTransfer, histogramTransfer, idtTransfer, matchHistogram1D, mongeKantorovich, regrain, transferColors } from '../../src/data/transfer/index.ts';
import { linearRgbToLalphabeta, srgbToLinear } from '../../src/image/color.ts';
import { applyIllumination, randomIllumination, NO_ILLUMINATION_CHANGE } from '../../src/data/illumination.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';

/** n colours around `centre` with a correlated spread, kept well inside [0,1]. */
function cloud(rng: Rng, n: number, centre: number[], spread: number[], corr = 0.5): Float32Array {
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const z0 = rng.normal(), z1 = rng.normal(), z2 = rng.normal();
    const v = [z0, corr * z0 + Math.sqrt(1 - corr * corr) * z1, 0.3 * z1 + z2];
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.min(0.98, Math.max(0.02, centre[k] + spread[k] * v[k]));
  }
  return out;
}

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('3×3 helpers: Jacobi eigen-decomposition and random rotations', () => {
  const A = [4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2];
  const { values, vectors: V } = eigSym3(A);
  const D = [values[0], 0, 0, 0, values[1], 0, 0, 0, values[2]];
  const back = matMul3(matMul3(V, D), transpose3(V));
  for (let i = 0; i < 9; i++) close(back[i], A[i], 1e-10, `A[${i}]`);
  const R = randomRotation(new Rng(1));
  const I = matMul3(R, transpose3(R));
  for (let i = 0; i < 9; i++) close(I[i], i % 4 === 0 ? 1 : 0, 1e-12, 'RRᵀ');
});

test('Reinhard: output matches the reference Lαβ mean and standard deviation', () => {
  const rng = new Rng(2);
  const src = cloud(rng, 4000, [0.35, 0.45, 0.3], [0.05, 0.05, 0.04]);
  const ref = cloud(rng, 3000, [0.6, 0.4, 0.45], [0.06, 0.04, 0.05]);
  const out = reinhardTransfer(src, ref);
  const lab = (px: Float32Array): Float32Array => {
    const o = new Float32Array(px.length);
    for (let i = 0; i < px.length; i += 3) o.set(linearRgbToLalphabeta(srgbToLinear(px[i]), srgbToLinear(px[i + 1]), srgbToLinear(px[i + 2])), i);
    return o;
  };
  const lo = lab(out), lr = lab(ref);
  const mo = mean3(lo), mr = mean3(lr), so = std3(lo, mo), sr = std3(lr, mr);
  for (let k = 0; k < 3; k++) { close(mo[k], mr[k], 2e-3, `mean ${k}`); close(so[k], sr[k], 2e-3, `std ${k}`); }
});

test('covariance (Monge–Kantorovich): output mean and covariance equal the reference', () => {
  const Ss = [0.01, 0.004, 0.001, 0.004, 0.02, 0.002, 0.001, 0.002, 0.005];
  const Sr = [0.006, -0.002, 0.001, -0.002, 0.008, 0.003, 0.001, 0.003, 0.01];
  const T = mongeKantorovich(Ss, Sr);
  const TST = matMul3(matMul3(T, Ss), transpose3(T));
  for (let i = 0; i < 9; i++) close(TST[i], Sr[i], 2e-5, `TΣsTᵀ[${i}]`);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) close(T[i * 3 + j], T[j * 3 + i], 1e-9, 'T symmetric');
  const rng = new Rng(3);
  const src = cloud(rng, 5000, [0.4, 0.5, 0.45], [0.05, 0.06, 0.04], 0.7);
  const ref = cloud(rng, 5000, [0.55, 0.35, 0.5], [0.07, 0.04, 0.05], -0.3);
  const out = covarianceTransfer(src, ref);
  const mo = mean3(out), mr = mean3(ref);
  const co = cov3(out, mo), cr = cov3(ref, mr);
  for (let k = 0; k < 3; k++) close(mo[k], mr[k], 2e-3, `mean ${k}`);
  for (let i = 0; i < 9; i++) close(co[i], cr[i], 2e-4, `cov ${i}`);
});

test('histogram matching: 1-D map is monotone, identity on equal data, matches quantiles', () => {
  const rng = new Rng(4);
  const a = Array.from({ length: 5000 }, () => rng.next() ** 2);
  const b = Array.from({ length: 4000 }, () => 0.3 + 0.5 * rng.next());
  const same = matchHistogram1D(a, a, 256);
  for (let i = 0; i < a.length; i++) close(same[i], a[i], 1 / 256 + 1e-9, 'identity');
  const m = matchHistogram1D(a, b, 256);
  const order = a.map((v, i) => [v, m[i]]).sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < order.length; i++) assert.ok(order[i][1] >= order[i - 1][1] - 1e-12, 'monotone');
  const qs = [...m].sort((x, y) => x - y), qb = [...b].sort((x, y) => x - y);
  for (const q of [0.1, 0.25, 0.5, 0.75, 0.9]) close(qs[Math.floor(q * qs.length)], qb[Math.floor(q * qb.length)], 0.01, `quantile ${q}`);
  const src = cloud(rng, 3000, [0.3, 0.3, 0.3], [0.05, 0.05, 0.05]);
  const ref = cloud(rng, 3000, [0.6, 0.5, 0.4], [0.1, 0.05, 0.08]);
  const out = histogramTransfer(src, ref);
  const mo = mean3(out), mr = mean3(ref);
  for (let k = 0; k < 3; k++) close(mo[k], mr[k], 0.01, `mean ${k}`);
});

test('IDT: the 3-D distribution converges to the reference; deterministic for a seed', () => {
  const rng = new Rng(5);
  const src = cloud(rng, 4000, [0.4, 0.5, 0.45], [0.05, 0.06, 0.04], 0.8);
  const ref = cloud(rng, 4000, [0.55, 0.35, 0.5], [0.07, 0.04, 0.05], -0.5);
  const out = idtTransfer(src, ref, new Rng(9));
  const err = (px: Float32Array): number => {
    const m = mean3(px), c = cov3(px, m), mr = mean3(ref), cr = cov3(ref, mr);
    let e = 0;
    for (let k = 0; k < 3; k++) e += (m[k] - mr[k]) ** 2;
    for (let i = 0; i < 9; i++) e += (c[i] - cr[i]) ** 2 * 100;
    return e;
  };
  assert.ok(err(out) < err(src) / 50, `error ${err(out)} vs initial ${err(src)}`);
  assert.deepEqual(idtTransfer(src, ref, new Rng(9)), out);
  assert.deepEqual(transferColors('idt', src, ref, new Rng(9)), out);
  assert.throws(() => transferColors('idt', new Float32Array(0), ref, new Rng(1)), /non-empty/);
});

function rampImage(w: number, h: number, noise: number, seed: number): FloatImage {
  const rng = new Rng(seed);
  const d = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < 3; k++) d[(y * w + x) * 3 + k] = 0.2 + 0.4 * x / w + 0.1 * k + noise * rng.normal();
  return { width: w, height: h, channels: 3, data: d };
}

test('regrain: keeps a shift-only transfer, removes transfer noise, never touches the background', () => {
  const W = 32, H = 24;
  const I = rampImage(W, H, 0, 1);
  const mask: Mask = { width: W, height: H, data: new Float32Array(W * H).map((_, i) => (i % W > 5 && i % W < 26 && Math.floor(i / W) > 3 && Math.floor(i / W) < 20 ? 1 : 0)) };
  const shifted: FloatImage = { ...I, data: I.data.map((v) => v + 0.1) };
  const J = regrain(I, shifted, mask);
  for (let i = 0; i < J.data.length; i++) close(J.data[i], shifted.data[i], 1e-5, `shift kept at ${i}`);
  const noisy: FloatImage = { ...I, data: I.data.map((v, i) => v + 0.1 + 0.04 * Math.sin(i * 12.9898) ) };
  const R = regrain(I, noisy, mask);
  let eNoisy = 0, eR = 0;
  for (let p = 0; p < W * H; p++) {
    for (let k = 0; k < 3; k++) {
      const i = p * 3 + k;
      if (mask.data[p] > 0.5) { eNoisy += (noisy.data[i] - shifted.data[i]) ** 2; eR += (R.data[i] - shifted.data[i]) ** 2; }
      else assert.equal(R.data[i], noisy.data[i]);
    }
  }
  assert.ok(eR < eNoisy / 4, `regrained error ${eR} vs ${eNoisy}`);
});

test('illumination perturbation changes only the foreground; identity parameters change nothing', () => {
  const img = rampImage(20, 10, 0.02, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = Math.min(1, Math.max(0, img.data[i]));
  const mask: Mask = { width: 20, height: 10, data: new Float32Array(200).map((_, i) => (i % 20 >= 10 ? 1 : 0)) };
  const same = applyIllumination(img, mask, NO_ILLUMINATION_CHANGE);
  for (let i = 0; i < img.data.length; i++) close(same.data[i], img.data[i], 1e-5, 'identity');
  const p = randomIllumination(new Rng(7));
  const out = applyIllumination(img, mask, { ...p, exposure: 0.7 });
  let changed = 0;
  for (let q = 0; q < 200; q++) for (let k = 0; k < 3; k++) {
    if (mask.data[q] <= 0.5) assert.equal(out.data[q * 3 + k], img.data[q * 3 + k]);
    else if (Math.abs(out.data[q * 3 + k] - img.data[q * 3 + k]) > 0.01) changed++;
  }
  assert.ok(changed > 100, `changed ${changed}`);
});
