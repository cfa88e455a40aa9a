/**
 * Padding of a generator's input to a multiple of its stride and cropping of its output, on plain
 * NHWC arrays (browser-safe): what runGenerator does with tensors, for ONNX Runtime (Node:
 * src/models/onnx.ts; browser: web/src/worker.ts).
 */
/** How a generator's input is padded to a multiple of its stride. */
export type PadMode = 'reflect' | 'replicate';

/** Row (or column) source indices for padding a side of length n by before/after, like padAxis. */
export function padIndexMap(n: number, before: number, after: number, mode: PadMode): Int32Array {
  const map = new Int32Array(n + before + after);
  const reflect = mode === 'reflect' && n > Math.max(before, after);
  for (let p = 0; p < map.length; p++) {
    let s = p - before;
    if (s < 0) s = reflect ? -s : 0;
    else if (s >= n) s = reflect ? 2 * (n - 1) - s : n - 1;
    map[p] = s;
  }
  return map;
}

/** Split of the padding to the next multiple of `stride` (centred, extra at the end), as runGenerator does. */
export function padAmounts(size: number, stride: number): [number, number] {
  const total = (stride - (size % stride)) % stride;
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * Builds the padded NHWC model input (RGB, plus the mask channel when `channels` is 4) for a generator
 * of registry stride `stride`; returns `input` itself when nothing is to be added.
 */
export function padGeneratorInput(input: Float32Array, mask: Float32Array | undefined, h: number, w: number, channels: 3 | 4, mode: PadMode, stride: number): { data: Float32Array; height: number; width: number; top: number; left: number } {
  const [top, bottom] = padAmounts(h, stride);
  const [left, right] = padAmounts(w, stride);
  if (channels === 3 && top + bottom + left + right === 0) return { data: input, height: h, width: w, top: 0, left: 0 };
  const rows = padIndexMap(h, top, bottom, mode);
  const cols = padIndexMap(w, left, right, mode);
  const H = rows.length;
  const W = cols.length;
  const data = new Float32Array(H * W * channels);
  let o = 0;
  for (let y = 0; y < H; y++) {
    const r = rows[y] * w;
    for (let x = 0; x < W; x++) {
      const p = r + cols[x];
      const i = p * 3;
      data[o++] = input[i];
      data[o++] = input[i + 1];
      data[o++] = input[i + 2];
      if (channels === 4) data[o++] = (mask as Float32Array)[p];
    }
  }
  return { data, height: H, width: W, top, left };
}

/** Crops an NHWC 3-channel buffer of width W to h×w starting at (top, left). */
export function cropRgb(src: Float32Array, W: number, top: number, left: number, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) out.set(src.subarray(((y + top) * W + left) * 3, ((y + top) * W + left + w) * 3), y * w * 3);
  return out;
}

