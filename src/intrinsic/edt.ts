/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012): the squared distance
 * transform of a sampled function by the lower envelope of parabolas, 1-D per column then per row,
 * O(N) in pixels. Browser-safe.
 */

const INF = 1e20;

/** 1-D squared-distance transform of f (length n, read/written with stride), using scratch arrays. */
function edt1d(f: Float64Array, n: number, offset: number, stride: number, d: Float64Array, v: Int32Array, z: Float64Array, g: Float64Array): void {
  for (let q = 0; q < n; q++) g[q] = f[offset + q * stride];
  let k = 0;
  v[0] = 0;
  z[0] = -INF;
  z[1] = INF;
  for (let q = 1; q < n; q++) {
    if (g[q] >= INF) continue; // a parabola at infinity never enters the envelope
    let s = 0;
    for (;;) {
      const p = v[k];
      s = ((g[q] + q * q) - (g[p] + p * p)) / (2 * q - 2 * p);
      if (s <= z[k] && k > 0) { k--; continue; }
      break;
    }
    if (g[v[k]] >= INF) {
      // the first kept parabola was at infinity: replace it
      v[k] = q;
      z[k] = -INF;
      z[k + 1] = INF;
      continue;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = INF;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const p = v[k];
    d[q] = g[p] >= INF ? INF : (q - p) * (q - p) + g[p];
  }
  for (let q = 0; q < n; q++) f[offset + q * stride] = d[q];
}

/**
 * Squared Euclidean distance from every pixel to the nearest pixel where `isSite` is true
 * (distance 0 at sites). With no site at all every value is +Infinity.
 */
export function squaredDistanceTransform(isSite: (i: number) => boolean, width: number, height: number): Float64Array {
  const n = width * height;
  const f = new Float64Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    if (isSite(i)) { f[i] = 0; any = true; } else f[i] = INF;
  }
  if (!any) return f.fill(Infinity);
  const m = Math.max(width, height);
  const d = new Float64Array(m);
  const v = new Int32Array(m);
  const z = new Float64Array(m + 1);
  const g = new Float64Array(m);
  for (let x = 0; x < width; x++) edt1d(f, height, x, width, d, v, z, g);
  for (let y = 0; y < height; y++) edt1d(f, width, y * width, 1, d, v, z, g);
  for (let i = 0; i < n; i++) if (f[i] >= INF) f[i] = Infinity;
  return f;
}

/**
 * Euclidean distance of each pixel inside a binary mask (value > 0.5) to the nearest pixel outside it
 * (pixel centres; a foreground pixel touching the background has distance 1). Outside pixels get 0.
 * A mask with no outside pixel gets, for every pixel, the distance to the nearest point beyond the image
 * border (the image is treated as surrounded by background).
 */
export function insideDistance(mask: Float32Array, width: number, height: number): Float32Array {
  const n = width * height;
  let allInside = true;
  for (let i = 0; i < n; i++) if (!(mask[i] > 0.5)) { allInside = false; break; }
  const out = new Float32Array(n);
  if (allInside) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[y * width + x] = Math.min(x + 1, y + 1, width - x, height - y);
    }
    return out;
  }
  const sq = squaredDistanceTransform((i) => !(mask[i] > 0.5), width, height);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(sq[i]);
  return out;
}

/** Distance of each pixel outside the mask to the nearest inside pixel (0 inside; +Infinity if the mask is empty). */
export function outsideDistance(mask: Float32Array, width: number, height: number): Float32Array {
  const sq = squaredDistanceTransform((i) => mask[i] > 0.5, width, height);
  const out = new Float32Array(sq.length);
  for (let i = 0; i < sq.length; i++) out[i] = Math.sqrt(sq[i]);
  return out;
}
