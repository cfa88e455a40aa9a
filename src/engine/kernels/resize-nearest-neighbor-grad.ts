/**
 * ResizeNearestNeighborGrad for wasm. The stock kernel ignores halfPixelCenters, so its gradient is
 * wrong whenever that flag moves a sample to another source pixel (non-integer scales). Here the
 * forward kernel itself is run once on an index image (value = h·W + w, exact in float32 below 2^24
 * pixels), which yields the source pixel of every output pixel exactly as the forward pass picks it;
 * dx is then the scatter-add of dy through that map. Exact adjoint for every mode and batch size.
 */
import { tf } from '../tf.ts';
import { HarmoniaError } from '../../errors.ts';
import { Scratch, attrsOf, heapF32, input, wasmBackend, type KernelArgs } from './wasm.ts';

const NAME = 'ResizeNearestNeighborGrad';

interface Attrs { alignCorners: boolean; halfPixelCenters: boolean }

/** dx[b, src[p], :] += dy[b, p, :] for every output pixel p (dx zeroed by the caller). Pure. */
export function scatterNearestInto(dy: Float32Array, dx: Float32Array, src: Float32Array, N: number, HW: number, C: number): void {
  const P = src.length;
  let o = 0;
  for (let b = 0; b < N; b++) {
    const bOff = b * HW * C;
    for (let p = 0; p < P; p++) {
      const t = bOff + src[p] * C;
      for (let d = 0; d < C; d++) dx[t + d] += dy[o++];
    }
  }
}

export function resizeNearestNeighborGrad(args: KernelArgs): tf.TensorInfo {
  const images = input(args, 'images', NAME);
  const dy = input(args, 'dy', NAME);
  const { alignCorners, halfPixelCenters } = attrsOf<Attrs>(args);
  const [N, H, W, C] = images.shape;
  const [, OH, OW] = dy.shape;
  if (H * W >= 1 << 24) throw new HarmoniaError(`${NAME}: images of ${H}×${W} pixels are too large (max 2^24 pixels)`);
  const backend = wasmBackend(args);
  return Scratch.use(backend, NAME, (s) => {
    const idx = s.alloc([1, H, W, 1]);
    const I = heapF32(backend, idx, NAME);
    for (let i = 0; i < H * W; i++) I[i] = i;
    const map = s.run('ResizeNearestNeighbor', { images: idx }, { alignCorners, halfPixelCenters, size: [OH, OW] });
    const dx = s.alloc(images.shape);
    const DX = heapF32(backend, dx, NAME);
    DX.fill(0);
    scatterNearestInto(heapF32(backend, dy, NAME), DX, heapF32(backend, map, NAME), N, H * W, C);
    return dx;
  });
}

export const resizeNearestNeighborGradConfig = { kernelName: NAME, kernelFunc: resizeNearestNeighborGrad };
