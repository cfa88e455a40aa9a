import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyAlbedoEdits, applyEditPixel, compileEdits, identityAlbedoParams, solveAlbedoParams, curveFromTargets, type AlbedoParams,
} from '../../src/intrinsic/albedo.ts';
import {
  accumulateLightStats, fitLightOfficial, fitLightLeastSquares, estimateLightFromShading, coeffsFromAngles, lightLoss,
  angleBetweenDeg, lightDirection, type LightCoeffs,
} from '../../src/intrinsic/light.ts';
import { Rng } from '../../src/util/random.ts';

function randomAlbedo(n: number, seed: number, max = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * 3 }, () => rng.uniform(0, max));
}

test('identity edit parameters reproduce the input exactly (also values above 1 and with a soft mask)', () => {
  const a = randomAlbedo(5000, 1, 1.3);
  const mask = Float32Array.from({ length: 5000 }, (_, i) => (i % 7) / 6);
  const out = applyAlbedoEdits(a, mask, identityAlbedoParams());
  assert.deepEqual(out, a);
  // each edit function itself at identity parameters is exact on [0,1] values stored as float32
  const ce = compileEdits({ ...identityAlbedoParams(), curve: new Array(24).fill(0.37) });
  const b = randomAlbedo(5000, 2);
  const px = new Float64Array(3);
  for (const edit of ['wb', 'curve', 'saturation', 'exposure'] as const) {
    for (let i = 0; i < b.length; i += 3) {
      px[0] = b[i]; px[1] = b[i + 1]; px[2] = b[i + 2];
      applyEditPixel(edit, ce, px);
      assert.equal(Math.fround(px[0]), b[i], `${edit} r`);
      assert.equal(Math.fround(px[1]), b[i + 1], `${edit} g`);
      assert.equal(Math.fround(px[2]), b[i + 2], `${edit} b`);
    }
  }
});

test('edits follow the official formulas: WB gains relative to G, the 8-segment curve, HSV saturation, exposure, clamps', () => {
  const p: AlbedoParams = { ...identityAlbedoParams(), wb: [0.5, 1, 0.25] };
  let ce = compileEdits(p);
  const px = Float64Array.of(0.2, 0.3, 0.2);
  applyEditPixel('wb', ce, px); // y_c = x_c / (p_c / p_g)
  assert.ok(Math.abs(px[0] - 0.4) < 1e-8 && Math.abs(px[1] - 0.3) < 1e-8 && Math.abs(px[2] - 0.8) < 1e-8);
  px.set([0.3, 0.3, 0.3]);
  applyEditPixel('wb', ce, px);
  assert.equal(px[2], 1); // 1.2 clamped
  // curve: first segment slope 8·p0/Σp; knots map to cumulative sums
  const curve = new Array(24).fill(1);
  curve[0] = 3; // red: Σp = 10
  ce = compileEdits({ ...identityAlbedoParams(), curve });
  px.set([1 / 8, 1 / 16, 0.5]);
  applyEditPixel('curve', ce, px);
  assert.ok(Math.abs(px[0] - 0.3) < 1e-12, `${px[0]}`);
  assert.ok(Math.abs(px[1] - 1 / 16) < 1e-12);
  px.set([0.5, 0, 1]);
  applyEditPixel('curve', ce, px);
  assert.ok(Math.abs(px[0] - 0.6) < 1e-12 && px[1] === 0 && px[2] === 1);
  // saturation = HSV S·α with V kept: y = v + α(x − v)
  ce = compileEdits({ ...identityAlbedoParams(), saturation: 0.5 });
  px.set([0.8, 0.4, 0.2]);
  applyEditPixel('saturation', ce, px);
  assert.ok(Math.abs(px[0] - 0.8) < 1e-12 && Math.abs(px[1] - 0.6) < 1e-12 && Math.abs(px[2] - 0.5) < 1e-12);
  // HSV check: S = (max−min)/max halves, hue kept
  const s0 = (0.8 - 0.2) / 0.8, s1 = (px[0] - px[2]) / px[0];
  assert.ok(Math.abs(s1 - 0.5 * s0) < 1e-12);
  ce = compileEdits({ ...identityAlbedoParams(), saturation: 2 });
  px.set([0.8, 0.4, 0.2]);
  applyEditPixel('saturation', ce, px);
  assert.ok(Math.abs(px[1] - 0) < 1e-12);
  assert.equal(px[2], 0); // negative min clamped to 0
  ce = compileEdits({ ...identityAlbedoParams(), exposure: 1.5 });
  px.set([0.5, 0.8, 0.1]);
  applyEditPixel('exposure', ce, px);
  assert.ok(Math.abs(px[0] - 0.75) < 1e-12 && Math.abs(px[2] - 0.15) < 1e-12);
  assert.equal(px[1], 1);
  // soft mask blending: cur = (1−m)·cur + m·edit(cur)
  const out = applyAlbedoEdits(Float32Array.of(0.4, 0.4, 0.4), Float32Array.of(0.5), { ...identityAlbedoParams(), exposure: 2 });
  assert.ok(Math.abs(out[0] - 0.6) < 1e-6);
});

test('curve parameters are compressed to max/min ≤ 4 and stay positive', () => {
  const p = curveFromTargets([0, 0.5, 0.5, 0.5, 0.55, 0.6, 0.7, 0.9, 1]);
  assert.equal(p.length, 8);
  assert.ok(Math.max(...p) / Math.min(...p) <= 4 + 1e-9);
  assert.ok(p.every((v) => v > 0));
  const id = curveFromTargets([0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1]);
  assert.ok(id.every((v) => Math.abs(v - id[0]) < 1e-12));
});

test('albedo solve: a darker, bluer foreground is pushed toward the background by the λ fractions', () => {
  const n = 4000;
  const rng = new Rng(7);
  const a = new Float32Array(n * 3);
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const fg = i < n / 2;
    mask[i] = fg ? 1 : 0;
    const base = rng.uniform(0.3, 0.7);
    const rgb = fg ? [base * 0.5 * 0.8, base * 0.5, base * 0.5 * 1.25] : [base, base, base];
    a.set(rgb, i * 3);
  }
  const full = solveAlbedoParams(a, mask, { strengths: { wb: 1, curve: 0, saturation: 0, exposure: 1 } }).params;
  // r_F/r_B = 0.8 for red and 1.25 for blue → the gains divide them out exactly
  assert.ok(Math.abs(full.wb[0] - 0.8) < 1e-6 && Math.abs(full.wb[2] - 1.25) < 1e-6, `${full.wb}`);
  assert.ok(Math.abs(full.exposure - 2) < 0.05, `exposure ${full.exposure}`);
  const half = solveAlbedoParams(a, mask, { strengths: { wb: 0.5, curve: 0, saturation: 0, exposure: 0.5 } }).params;
  assert.ok(Math.abs(half.wb[0] - Math.sqrt(0.8)) < 1e-6);
  assert.ok(Math.abs(half.exposure - Math.SQRT2) < 0.05);
  const edited = applyAlbedoEdits(a, mask, full);
  let mf = 0, mb = 0;
  for (let i = 0; i < n; i++) (mask[i] ? (mf += edited[i * 3 + 1]) : (mb += edited[i * 3 + 1]));
  assert.ok(Math.abs(mf / mb - 1) < 0.05, `fg/bg green after full transfer ${mf / mb}`);
  // no background → identity
  const none = solveAlbedoParams(a, new Float32Array(n).fill(1)).params;
  assert.deepEqual(none, identityAlbedoParams());
});

/** Unit normals of a visible hemisphere plus a ground plane (x right, y up, z toward the camera). */
function sphereOnPlane(size: number): Float32Array {
  const normals = new Float32Array(size * size * 3);
  for (let row = 0; row < size; row++) for (let col = 0; col < size; col++) {
    const j = (row * size + col) * 3;
    const x = ((col + 0.5) / size) * 2 - 1, y = -(((row + 0.5) / size) * 2 - 1);
    if (x * x + y * y < 0.8) {
      const r = Math.sqrt(0.8);
      normals.set([x / r, y / r, Math.sqrt(Math.max(0, 1 - (x * x + y * y) / 0.8))], j);
    } else if (y < 0) normals.set([0, 1, 0], j); // ground
    else normals.set([0, 0, 1], j); // back wall
  }
  return normals;
}

test('light fit recovers a known light exactly from synthetic normals and linear shading (LS and grid + Adam)', () => {
  const size = 64;
  const normals = sphereOnPlane(size);
  const truth = coeffsFromAngles(0.7, 2.0, 0.9, 0.3);
  const shading = new Float32Array(size * size);
  for (let i = 0; i < size * size; i++) shading[i] = normals[i * 3] * truth[0] + normals[i * 3 + 1] * truth[1] + normals[i * 3 + 2] * truth[2] + truth[3];
  const stats = accumulateLightStats(normals, shading, null);
  assert.ok(lightLoss(stats, truth) < 1e-10);
  const ls = fitLightLeastSquares(stats);
  for (let k = 0; k < 4; k++) assert.ok(Math.abs(ls.coeffs[k] - truth[k]) < 1e-5, `LS ${ls.coeffs} vs ${truth}`);
  const off = fitLightOfficial(stats);
  // the grid (r = 1, c = 0.5) lands exactly on a light that has those r and c
  const gridTruth = coeffsFromAngles(0.7, 2.0, 1, 0.5);
  const gShading = new Float32Array(size * size);
  for (let i = 0; i < size * size; i++) gShading[i] = normals[i * 3] * gridTruth[0] + normals[i * 3 + 1] * gridTruth[1] + normals[i * 3 + 2] * gridTruth[2] + 0.5;
  const g = fitLightOfficial(accumulateLightStats(normals, gShading, null));
  assert.ok(Math.abs(g.init.theta - 0.7) < 1e-9 && g.init.phi === 2 && g.init.loss < 1e-10, `grid init ${JSON.stringify(g.init)}`);
  assert.ok(g.iterations <= 2, `stops at once from an exact start, took ${g.iterations}`);
  // the official Adam stops early (Δloss < 1e-4), so it is close but not exact; it must improve on its grid start
  const offErr = angleBetweenDeg(lightDirection(off.coeffs), lightDirection(truth));
  assert.ok(offErr < 6, `official ${off.coeffs} vs ${truth}: ${offErr}°`);
  assert.ok(lightLoss(stats, off.coeffs) < off.init.loss);
  assert.ok(off.iterations >= 1 && off.iterations <= 500);
  assert.ok(Math.abs(off.c - 0.3) < 0.1);
});

test('light fit with attached shadows (max(0,·)) still finds the direction; constraints hold', () => {
  const size = 64;
  const normals = sphereOnPlane(size);
  const rng = new Rng(9);
  const errors: number[] = [];
  for (let t = 0; t < 8; t++) {
    const truth = coeffsFromAngles(rng.uniform(0.2, 1.2), rng.uniform(0, 2 * Math.PI), rng.uniform(0.6, 1.2), rng.uniform(0.15, 0.4));
    const shading = new Float32Array(size * size);
    for (let i = 0; i < size * size; i++) {
      shading[i] = Math.max(0, normals[i * 3] * truth[0] + normals[i * 3 + 1] * truth[1] + normals[i * 3 + 2] * truth[2]) + truth[3];
    }
    const stats = accumulateLightStats(normals, shading, null);
    const ls = fitLightLeastSquares(stats).coeffs;
    const off = fitLightOfficial(stats).coeffs;
    for (const c of [ls, off]) { assert.ok(c[2] >= 0 && c[3] >= 0.1 - 1e-12); }
    errors.push(angleBetweenDeg(lightDirection(ls), lightDirection(truth)), angleBetweenDeg(lightDirection(off), lightDirection(truth)));
  }
  errors.sort((a, b) => a - b);
  assert.ok(errors[Math.floor(errors.length / 2)] < 15, `median error ${errors[Math.floor(errors.length / 2)]}°`);
});

test('constrained LS respects z ≥ 0 and c ≥ 0.1 when the unconstrained optimum violates them', () => {
  const size = 48;
  const normals = sphereOnPlane(size);
  const bad: LightCoeffs = [0.2, 0.1, -0.5, -0.2];
  const shading = new Float32Array(size * size);
  for (let i = 0; i < size * size; i++) shading[i] = normals[i * 3] * bad[0] + normals[i * 3 + 1] * bad[1] + normals[i * 3 + 2] * bad[2] + bad[3];
  const stats = accumulateLightStats(normals, shading, null);
  const { coeffs, loss } = fitLightLeastSquares(stats);
  assert.ok(coeffs[2] >= 0 && coeffs[3] >= 0.1);
  // no feasible point on a coarse grid does better
  for (let z = 0; z <= 1; z += 0.1) for (let c = 0.1; c <= 1; c += 0.1) {
    assert.ok(lightLoss(stats, [coeffs[0], coeffs[1], z, c]) >= loss - 1e-12);
  }
});

test('shading-statistics light: tilt follows the shading gradient, r and c match mean and variance', () => {
  const w = 64, h = 64;
  const s = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) s[y * w + x] = 0.5 + 0.004 * x - 0.004 * y; // brighter to the right and up (row 0 is the top)
  const valid = new Uint8Array(w * h).fill(1);
  const est = estimateLightFromShading(s, valid, w, h);
  assert.ok(Math.abs(est.tilt - Math.PI / 4) < 1e-6, `tilt ${est.tilt}`);
  assert.ok(est.evidence > 0.99);
  assert.ok(Math.abs(est.slant - Math.PI / 4) < 1e-12);
  let mean = 0, sq = 0;
  for (const v of s) { mean += v; sq += v * v; }
  mean /= s.length;
  const variance = sq / s.length - mean * mean;
  const r = Math.hypot(est.coeffs[0], est.coeffs[1], est.coeffs[2]);
  const ct = Math.cos(Math.PI / 4);
  assert.ok(Math.abs(r * r * (1 / 3 - ct * ct / 4) - variance) < 1e-6);
  assert.ok(Math.abs(est.coeffs[3] - Math.max(0.1, mean - r * ct / 2)) < 1e-9);
  // no valid pixels: a finite default
  const none = estimateLightFromShading(s, new Uint8Array(w * h), w, h);
  assert.ok(none.coeffs.every(Number.isFinite) && none.count === 0);
});
