/**
 * Fast discrete cosine transforms for any length, browser-safe (pure typed-array maths).
 *
 * DCT-II (unnormalised):  X[k] = Σ_n x[n]·cos(π·k·(2n+1)/(2N))
 * DCT-III (its inverse up to scale): x[n] = X[0]/N + (2/N)·Σ_{k≥1} X[k]·cos(π·k·(2n+1)/(2N))
 *
 * Both run in O(N log N) through one complex FFT of length N (Makhoul 1980). The FFT is an
 * iterative radix-2 transform for powers of two and Bluestein's chirp-z transform (a radix-2
 * convolution of length ≥ 2N−1) for every other length. Plans (twiddles, permutations) are cached.
 */

interface Radix2Plan {
  n: number;
  rev: Uint32Array;
  cos: Float64Array;
  sin: Float64Array;
}

interface BluesteinPlan {
  n: number;
  m: number;
  inner: Radix2Plan;
  /** chirp w[k] = exp(-iπk²/n) */
  wRe: Float64Array;
  wIm: Float64Array;
  /** FFT of the conjugate chirp, wrapped to length m */
  bRe: Float64Array;
  bIm: Float64Array;
  aRe: Float64Array;
  aIm: Float64Array;
}

interface DctPlan {
  n: number;
  fft: (re: Float64Array, im: Float64Array, inverse: boolean) => void;
  /** exp(-iπk/(2N)) */
  cRe: Float64Array;
  cIm: Float64Array;
  re: Float64Array;
  im: Float64Array;
}

const radix2Cache = new Map<number, Radix2Plan>();
const bluesteinCache = new Map<number, BluesteinPlan>();
const dctCache = new Map<number, DctPlan>();

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function radix2Plan(n: number): Radix2Plan {
  let p = radix2Cache.get(n);
  if (p) return p;
  const bits = Math.round(Math.log2(n));
  const rev = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
    rev[i] = r;
  }
  const half = n >> 1;
  const cos = new Float64Array(Math.max(1, half));
  const sin = new Float64Array(Math.max(1, half));
  for (let i = 0; i < half; i++) {
    cos[i] = Math.cos((2 * Math.PI * i) / n);
    sin[i] = Math.sin((2 * Math.PI * i) / n);
  }
  p = { n, rev, cos, sin };
  radix2Cache.set(n, p);
  return p;
}

/** In-place radix-2 FFT; forward uses exp(-2πi·jk/n); inverse is unscaled (caller divides by n). */
function fftRadix2(p: Radix2Plan, re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = p.n;
  const rev = p.rev;
  for (let i = 0; i < n; i++) {
    const j = rev[i];
    if (j > i) {
      let t = re[i]; re[i] = re[j]; re[j] = t;
      t = im[i]; im[i] = im[j]; im[j] = t;
    }
  }
  const sgn = inverse ? 1 : -1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = p.cos[k * step];
        const wi = sgn * p.sin[k * step];
        const a = start + k;
        const b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr; im[b] = im[a] - xi;
        re[a] += xr; im[a] += xi;
      }
    }
  }
}

function bluesteinPlan(n: number): BluesteinPlan {
  let p = bluesteinCache.get(n);
  if (p) return p;
  let m = 1;
  while (m < 2 * n - 1) m <<= 1;
  const inner = radix2Plan(m);
  const wRe = new Float64Array(n);
  const wIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // k² mod 2n keeps the angle small and exact for large k
    const a = (Math.PI * ((k * k) % (2 * n))) / n;
    wRe[k] = Math.cos(a);
    wIm[k] = -Math.sin(a);
  }
  const bRe = new Float64Array(m);
  const bIm = new Float64Array(m);
  bRe[0] = wRe[0]; bIm[0] = -wIm[0];
  for (let k = 1; k < n; k++) {
    bRe[k] = bRe[m - k] = wRe[k];
    bIm[k] = bIm[m - k] = -wIm[k];
  }
  fftRadix2(inner, bRe, bIm, false);
  p = { n, m, inner, wRe, wIm, bRe, bIm, aRe: new Float64Array(m), aIm: new Float64Array(m) };
  bluesteinCache.set(n, p);
  return p;
}

function fftBluestein(p: BluesteinPlan, re: Float64Array, im: Float64Array, inverse: boolean): void {
  const { n, m, aRe, aIm, wRe, wIm, bRe, bIm } = p;
  // inverse DFT = conj(DFT(conj(x)))
  const s = inverse ? -1 : 1;
  aRe.fill(0);
  aIm.fill(0);
  for (let k = 0; k < n; k++) {
    const xr = re[k];
    const xi = s * im[k];
    aRe[k] = xr * wRe[k] - xi * wIm[k];
    aIm[k] = xr * wIm[k] + xi * wRe[k];
  }
  fftRadix2(p.inner, aRe, aIm, false);
  for (let k = 0; k < m; k++) {
    const xr = aRe[k] * bRe[k] - aIm[k] * bIm[k];
    const xi = aRe[k] * bIm[k] + aIm[k] * bRe[k];
    aRe[k] = xr;
    aIm[k] = xi;
  }
  fftRadix2(p.inner, aRe, aIm, true);
  const inv = 1 / m;
  for (let k = 0; k < n; k++) {
    const xr = aRe[k] * inv;
    const xi = aIm[k] * inv;
    re[k] = xr * wRe[k] - xi * wIm[k];
    im[k] = s * (xr * wIm[k] + xi * wRe[k]);
  }
}

/**
 * In-place complex DFT of any length n ≥ 1: forward X[k] = Σ x[j]·exp(−2πi·jk/n);
 * `inverse` computes Σ X[k]·exp(+2πi·jk/n) without the 1/n factor.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError('fft: re and im must have the same length');
  if (n <= 1) return;
  if (isPow2(n)) fftRadix2(radix2Plan(n), re, im, inverse);
  else fftBluestein(bluesteinPlan(n), re, im, inverse);
}

function dctPlan(n: number): DctPlan {
  let p = dctCache.get(n);
  if (p) return p;
  const cRe = new Float64Array(n);
  const cIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    cRe[k] = Math.cos((Math.PI * k) / (2 * n));
    cIm[k] = -Math.sin((Math.PI * k) / (2 * n));
  }
  const fftFn = isPow2(n)
    ? ((plan: Radix2Plan) => (re: Float64Array, im: Float64Array, inv: boolean) => fftRadix2(plan, re, im, inv))(radix2Plan(n))
    : ((plan: BluesteinPlan) => (re: Float64Array, im: Float64Array, inv: boolean) => fftBluestein(plan, re, im, inv))(bluesteinPlan(n));
  p = { n, fft: fftFn, cRe, cIm, re: new Float64Array(n), im: new Float64Array(n) };
  dctCache.set(n, p);
  return p;
}

/**
 * DCT-II of `n` values read from `src` at `offset + i·stride`, written to `dst` the same way.
 * `src` and `dst` may be the same array.
 */
export function dct2Strided(src: Float64Array, dst: Float64Array, n: number, offset: number, stride: number): void {
  if (n === 1) { dst[offset] = src[offset]; return; }
  const p = dctPlan(n);
  const { re, im } = p;
  const half = (n + 1) >> 1;
  // Makhoul reordering: v[j] = x[2j], v[n−1−j] = x[2j+1]
  for (let j = 0; j < half; j++) re[j] = src[offset + 2 * j * stride];
  for (let j = 0; 2 * j + 1 < n; j++) re[n - 1 - j] = src[offset + (2 * j + 1) * stride];
  im.fill(0);
  p.fft(re, im, false);
  for (let k = 0; k < n; k++) dst[offset + k * stride] = re[k] * p.cRe[k] - im[k] * p.cIm[k];
}

/** Inverse of dct2Strided (DCT-III scaled so that idct(dct(x)) = x). */
export function idct2Strided(src: Float64Array, dst: Float64Array, n: number, offset: number, stride: number): void {
  if (n === 1) { dst[offset] = src[offset]; return; }
  const p = dctPlan(n);
  const { re, im } = p;
  // V[k] = exp(iπk/2n)·(X[k] − i·X[n−k]), with X[n] = 0; v = IFFT(V); x from v by the reverse reordering
  for (let k = 0; k < n; k++) {
    const xr = src[offset + k * stride];
    const xi = k === 0 ? 0 : -src[offset + (n - k) * stride];
    // multiply by conj(c) = cos + i·sin
    const cr = p.cRe[k];
    const ci = -p.cIm[k];
    re[k] = xr * cr - xi * ci;
    im[k] = xr * ci + xi * cr;
  }
  p.fft(re, im, true);
  const inv = 1 / n;
  const half = (n + 1) >> 1;
  for (let j = 0; j < half; j++) dst[offset + 2 * j * stride] = re[j] * inv;
  for (let j = 0; 2 * j + 1 < n; j++) dst[offset + (2 * j + 1) * stride] = re[n - 1 - j] * inv;
}

/** 2-D DCT-II in place on a row-major width×height array. */
export function dct2d(data: Float64Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) dct2Strided(data, data, width, y * width, 1);
  for (let x = 0; x < width; x++) dct2Strided(data, data, height, x, width);
}

/** 2-D inverse of dct2d, in place. */
export function idct2d(data: Float64Array, width: number, height: number): void {
  for (let x = 0; x < width; x++) idct2Strided(data, data, height, x, width);
  for (let y = 0; y < height; y++) idct2Strided(data, data, width, y * width, 1);
}
