/**
 * Foreground normals by silhouette inflation (spec §5, weight-free substitute for Omnidata):
 * d = exact Euclidean distance to the background inside the hard mask, R = the largest d of the
 * connected component (8-connectivity), height h = sqrt(R² − (R − min(d, R))²) (a circular profile),
 * smoothed with σ ≈ 1.5 px, and n = normalize(−∂h/∂col, +∂h/∂row, 1) (x right, y up, z toward the camera).
 * Pixels outside the mask get (0, 0, 1). Browser-safe.
 */
import { insideDistance } from './edt.ts';
import { gaussianBlur } from './filters.ts';

/** Connected components (8-connectivity) of mask > 0.5; label 0 = background, 1..count otherwise. */
export function connectedComponents(mask: Float32Array, width: number, height: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (labels[start] !== 0 || !(mask[start] > 0.5)) continue;
    count++;
    let top = 0;
    stack[top++] = start;
    labels[start] = count;
    while (top > 0) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width || (dx === 0 && dy === 0)) continue;
          const j = yy * width + xx;
          if (labels[j] === 0 && mask[j] > 0.5) { labels[j] = count; stack[top++] = j; }
        }
      }
    }
  }
  return { labels, count };
}

export interface InflationResult {
  /** interleaved unit normals xyz */
  normals: Float32Array;
  /** inflated height field */
  height: Float32Array;
  /** inside distance d */
  distance: Float32Array;
}

export function inflateNormals(mask: Float32Array, width: number, height: number, options: { smoothSigma?: number; distance?: Float32Array } = {}): InflationResult {
  const n = width * height;
  const d = options.distance ?? insideDistance(mask, width, height);
  const { labels, count } = connectedComponents(mask, width, height);
  const radius = new Float64Array(count + 1);
  for (let i = 0; i < n; i++) if (labels[i] > 0 && d[i] > radius[labels[i]]) radius[labels[i]] = d[i];
  const h = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const lab = labels[i];
    if (lab === 0) continue;
    const R = radius[lab];
    const dd = Math.min(d[i], R);
    h[i] = Math.sqrt(Math.max(0, R * R - (R - dd) * (R - dd)));
  }
  const hs = gaussianBlur(h, width, height, options.smoothSigma ?? 1.5);
  const normals = new Float32Array(n * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const j = i * 3;
      if (labels[i] === 0) { normals[j + 2] = 1; continue; }
      const xl = x > 0 ? i - 1 : i;
      const xr = x < width - 1 ? i + 1 : i;
      const yu = y > 0 ? i - width : i;
      const yd = y < height - 1 ? i + width : i;
      const dhdc = (hs[xr] - hs[xl]) / Math.max(1, (xr - xl));
      const dhdr = (hs[yd] - hs[yu]) / Math.max(1, (yd - yu) / width);
      const nx = -dhdc;
      const ny = dhdr;
      const len = Math.sqrt(nx * nx + ny * ny + 1);
      normals[j] = nx / len;
      normals[j + 1] = ny / len;
      normals[j + 2] = 1 / len;
    }
  }
  return { normals, height: hs, distance: d };
}
