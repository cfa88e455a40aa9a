import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fft, dct2d, idct2d } from '../../src/intrinsic/dct.ts';
import { squaredDistanceTransform, insideDistance, outsideDistance } from '../../src/intrinsic/edt.ts';
import { screenedPoisson, decompose, evaluateShading, albedoFromShading } from '../../src/intrinsic/decompose.ts';
import { boxFilter, gaussianBlur } from '../../src/intrinsic/filters.ts';
import { linearize, toLinear } from '../../src/intrinsic/color.ts';
import { inflateNormals } from '../../src/intrinsic/normals.ts';
import { Rng } from '../../src/util/random.ts';

function naiveDct2(src: Float64Array, w: number, h: number): Float64Array {
  const out = new Float64Array(w * h);
  for (let v = 0; v < h; v++) for (let u = 0; u < w; u++) {
    let s = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      s += src[y * w + x] * Math.cos((Math.PI * u * (2 * x + 1)) / (2 * w)) * Math.cos((Math.PI * v * (2 * y + 1)) / (2 * h));
    }
    out[v * w + u] = s;
  }
  return out;
}

test('FFT matches the naive DFT for power-of-two and Bluestein lengths', () => {
  const rng = new Rng(1);
  for (const n of [1, 2, 3, 7, 8, 12, 31, 64, 100]) {
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const y = Float64Array.from({ length: n }, () => rng.normal());
    const re = Float64Array.from(x), im = Float64Array.from(y);
    fft(re, im);
    for (let k = 0; k < n; k++) {
      let sr = 0, si = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * j * k) / n;
        sr += x[j] * Math.cos(a) - y[j] * Math.sin(a);
        si += x[j] * Math.sin(a) + y[j] * Math.cos(a);
      }
      assert.ok(Math.abs(sr - re[k]) < 1e-9 && Math.abs(si - im[k]) < 1e-9, `n=${n} k=${k}`);
    }
    fft(re, im, true);
    for (let j = 0; j < n; j++) assert.ok(Math.abs(re[j] / n - x[j]) < 1e-9 && Math.abs(im[j] / n - y[j]) < 1e-9);
  }
});

test('2-D DCT-II matches the definition and inverts exactly (odd, even and prime sizes)', () => {
  const rng = new Rng(2);
  for (const [w, h] of [[5, 3], [8, 4], [7, 11], [1, 6]]) {
    const x = Float64Array.from({ length: w * h }, () => rng.uniform(-1, 1));
    const d = Float64Array.from(x);
    dct2d(d, w, h);
    const ref = naiveDct2(x, w, h);
    for (let i = 0; i < w * h; i++) assert.ok(Math.abs(d[i] - ref[i]) < 1e-9, `${w}×${h} coefficient ${i}: ${d[i]} vs ${ref[i]}`);
    idct2d(d, w, h);
    for (let i = 0; i < w * h; i++) assert.ok(Math.abs(d[i] - x[i]) < 1e-12);
  }
});

test('screened Poisson: exact gradients of f with anchor f give back f; the residual of the normal equations is ~0', () => {
  const w = 37, h = 23;
  const rng = new Rng(3);
  const f = Float32Array.from({ length: w * h }, (_, i) => Math.sin((i % w) / 5) + Math.cos(Math.floor(i / w) / 3) + 0.1 * rng.normal());
  const gx = new Float32Array(w * h), gy = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x;
    if (x < w - 1) gx[i] = f[i + 1] - f[i];
    if (y < h - 1) gy[i] = f[i + w] - f[i];
  }
  const s = screenedPoisson(gx, gy, f, w, h, 1e-3);
  let err = 0;
  for (let i = 0; i < w * h; i++) err = Math.max(err, Math.abs(s[i] - f[i]));
  assert.ok(err < 1e-4, `max error ${err}`);
  // arbitrary g and anchor: check (DᵀD + μ)s = Dᵀg + μ·anchor
  const g2x = Float32Array.from({ length: w * h }, () => rng.normal());
  const g2y = Float32Array.from({ length: w * h }, () => rng.normal());
  const anchor = Float32Array.from({ length: w * h }, () => rng.normal());
  const mu = 0.01;
  const s2 = screenedPoisson(g2x, g2y, anchor, w, h, mu);
  let res = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x;
    let lhs = mu * s2[i];
    let rhs = mu * anchor[i];
    if (x < w - 1) { lhs -= s2[i + 1] - s2[i]; rhs -= g2x[i]; }
    if (x > 0) { lhs += s2[i] - s2[i - 1]; rhs += g2x[i - 1]; }
    if (y < h - 1) { lhs -= s2[i + w] - s2[i]; rhs -= g2y[i]; }
    if (y > 0) { lhs += s2[i] - s2[i - w]; rhs += g2y[i - w]; }
    res = Math.max(res, Math.abs(lhs - rhs));
  }
  assert.ok(res < 1e-4, `normal-equation residual ${res}`);
});

test('EDT (Felzenszwalb–Huttenlocher) equals brute force on 200 random small masks', () => {
  const rng = new Rng(4);
  for (let t = 0; t < 200; t++) {
    const w = rng.int(1, 13), h = rng.int(1, 13);
    const p = rng.uniform(0.02, 0.6);
    const site = Array.from({ length: w * h }, () => rng.next() < p);
    const d = squaredDistanceTransform((i) => site[i], w, h);
    const any = site.some(Boolean);
    for (let i = 0; i < w * h; i++) {
      let best = Infinity;
      for (let j = 0; j < w * h; j++) if (site[j]) {
        const dx = (i % w) - (j % w), dy = Math.floor(i / w) - Math.floor(j / w);
        best = Math.min(best, dx * dx + dy * dy);
      }
      assert.equal(d[i], any ? best : Infinity, `case ${t} (${w}×${h}) pixel ${i}`);
    }
  }
});

test('inside/outside distances of a 5×5 square in a 9×9 image', () => {
  const w = 9, h = 9;
  const m = new Float32Array(w * h);
  for (let y = 2; y < 7; y++) for (let x = 2; x < 7; x++) m[y * w + x] = 1;
  const din = insideDistance(m, w, h);
  const dout = outsideDistance(m, w, h);
  assert.equal(din[4 * w + 4], 3); // centre: 3 px to the nearest outside pixel
  assert.equal(din[2 * w + 4], 1);
  assert.equal(din[0], 0);
  assert.equal(dout[0], Math.fround(Math.SQRT2 * 2));
  assert.equal(dout[4 * w + 0], 2);
  assert.equal(dout[4 * w + 4], 0);
  // full mask: distance to the image border
  const full = insideDistance(new Float32Array(9).fill(1), 3, 3);
  assert.deepEqual(Array.from(full), [1, 1, 1, 1, 2, 1, 1, 1, 1]);
});

test('box and Gaussian filters preserve constants and match a direct convolution', () => {
  const w = 20, h = 15;
  const c = new Float32Array(w * h).fill(0.7);
  for (const v of boxFilter(c, w, h, 3)) assert.ok(Math.abs(v - 0.7) < 1e-6);
  for (const v of gaussianBlur(c, w, h, 9)) assert.ok(Math.abs(v - 0.7) < 1e-6);
  const rng = new Rng(5);
  const x = Float32Array.from({ length: w * h }, () => rng.next());
  const b = boxFilter(x, w, h, 2);
  let s = 0, n = 0;
  for (let y = 4; y <= 8; y++) for (let xx = 8; xx <= 12; xx++) { s += x[y * w + xx]; n++; }
  assert.ok(Math.abs(b[6 * w + 10] - s / n) < 1e-6);
});

test('linearisation is the 2.2 power law to 3e-8', () => {
  const rng = new Rng(6);
  for (let i = 0; i < 10000; i++) {
    const v = rng.next();
    assert.ok(Math.abs(toLinear(v) - Math.pow(v, 2.2)) < 3e-8);
  }
  assert.equal(toLinear(0), 0);
  assert.equal(toLinear(1), 1);
  assert.equal(toLinear(-0.5), 0);
  assert.ok(Math.abs(toLinear(1.5) - Math.pow(1.5, 2.2)) < 1e-12);
});

test('decomposition: A·S reproduces I_lin; poisson recovers smooth shading on a constant-chroma texture', () => {
  const w = 96, h = 64;
  const img = new Float32Array(w * h * 3);
  const trueS = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x;
    const S = 0.3 + 0.7 * (x / w) * (0.5 + 0.5 * Math.cos(y / 20));
    trueS[i] = S;
    const alb: [number, number, number] = ((x >> 3) + (y >> 3)) % 2 ? [0.8, 0.3, 0.2] : [0.2, 0.4, 0.8];
    for (let k = 0; k < 3; k++) img[i * 3 + k] = Math.pow(alb[k] * S, 1 / 2.2);
  }
  const lin = linearize(img);
  for (const method of ['poisson', 'guided'] as const) {
    const model = decompose(lin, w, h, { method });
    const S = evaluateShading(model, lin, w, h);
    const A = albedoFromShading(lin, S);
    for (let i = 0; i < w * h; i++) {
      assert.ok(S[i] > 0 && Number.isFinite(S[i]));
      for (let k = 0; k < 3; k++) {
        const rec = A[i * 3 + k] * S[i];
        assert.ok(Math.abs(rec - lin[i * 3 + k]) <= 1e-6 * Math.max(1e-3, lin[i * 3 + k]), `${method}: reconstruction at ${i}`);
      }
    }
    if (method === 'poisson') {
      // log S vs log trueS: correlation high (albedo checker edges are chroma edges, so they are removed)
      let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      const n = w * h;
      for (let i = 0; i < n; i++) {
        const a = Math.log(S[i]), b = Math.log(trueS[i]);
        sa += a; sb += b; saa += a * a; sbb += b * b; sab += a * b;
      }
      const corr = (sab / n - (sa / n) * (sb / n)) / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
      assert.ok(corr > 0.9, `log-shading correlation ${corr}`);
    }
  }
});

test('silhouette inflation: a disc gives radial normals, z≈1 at the centre and nearly horizontal at the rim', () => {
  const w = 81, h = 81;
  const m = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - 40) ** 2 + (y - 40) ** 2 <= 30 ** 2) m[y * w + x] = 1;
  const { normals } = inflateNormals(m, w, h);
  const at = (x: number, y: number) => Array.from(normals.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
  assert.ok(at(40, 40)[2] > 0.99);
  const right = at(69, 40); // right rim: normal points +x
  assert.ok(right[0] > 0.7 && Math.abs(right[1]) < 0.05, `right rim ${right}`);
  const top = at(40, 11); // top rim: normal points up (+y)
  assert.ok(top[1] > 0.7 && Math.abs(top[0]) < 0.05, `top rim ${top}`);
  const mid = at(55, 40); // halfway: sin(angle) ≈ 15/30 on a sphere
  assert.ok(Math.abs(mid[0] - 0.5) < 0.12, `mid ${mid}`);
  for (const v of normals) assert.ok(Number.isFinite(v));
});
