"""PyTorch twin of the paper generator for inference benchmarks (bench/inference.ts).

The network is bench/torch/gan.py's make_generator (Conv 4x4 s2 p1 + ReLU x3, ConvTranspose 4x4 s2
p1 + ReLU, ReLU, Sigmoid; NCHW). Weights come from the TensorFlow.js model as a raw little-endian
float32 dump in tfjs layer order (kernel, bias per layer) with tfjs shapes, described by a JSON list
[[name, shape], ...]; kernels are permuted here:
  Conv2D          tfjs [kh,kw,in,out]  -> torch Conv2d          [out,in,kh,kw]
  Conv2DTranspose tfjs [kh,kw,out,in]  -> torch ConvTranspose2d [in,out,kh,kw]
(TensorFlow 'same' padding with k=4, s=2 on even sizes is padding 1 on each side.)

Usage: /usr/bin/python3 bench/torch/generator.py <weights.bin> <manifest.json>
Line protocol on stdin (one JSON line answers each):
  "infer <H> <W> <threads> <reps>"          -> {"wall": [...], "cpu": [...]} per-forward seconds (batch 1,
                                               fixed input; cpu = process CPU time, all threads)
  "run <in.bin> <out.bin> <H> <W> <threads>" -> {"ok": true}; in/out NHWC float32 (batch 1)
  "quit"
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gan import make_generator, serve_lines  # noqa: E402


def load(weights_path, manifest_path):
    manifest = json.load(open(manifest_path))
    raw = np.fromfile(weights_path, dtype='<f4')
    arrays, off = [], 0
    for name, shape in manifest:
        n = int(np.prod(shape))
        arrays.append((name, raw[off:off + n].reshape(shape)))
        off += n
    if off != raw.size:
        raise SystemExit(f'{weights_path}: {raw.size} floats, manifest describes {off}')
    g = make_generator()
    convs = [m for m in g if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    if len(arrays) != 2 * len(convs):
        raise SystemExit(f'{manifest_path}: {len(arrays)} tensors for {len(convs)} layers (expected kernel + bias each)')
    with torch.no_grad():
        for i, m in enumerate(convs):
            k, b = arrays[2 * i][1], arrays[2 * i + 1][1]
            w = np.transpose(k, (3, 2, 0, 1))  # same permutation for both layer kinds
            if tuple(w.shape) != tuple(m.weight.shape):
                raise SystemExit(f'layer {arrays[2 * i][0]}: tfjs kernel {k.shape} -> {w.shape}, torch wants {tuple(m.weight.shape)}')
            m.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            m.bias.copy_(torch.from_numpy(b.copy()))
    return g.eval()


def main():
    g = load(sys.argv[1], sys.argv[2])
    inputs = {}

    def handle(a, line):
        if a[0] == 'infer':
            h, w, threads, reps = map(int, a[1:5])
            torch.set_num_threads(threads)
            if (h, w) not in inputs:
                inputs[(h, w)] = torch.from_numpy((np.arange(3 * h * w, dtype=np.float32) % 255 / 255).reshape(1, 3, h, w))
            x = inputs[(h, w)]
            wall, cpu = [], []
            with torch.inference_mode():
                for _ in range(reps):
                    c0 = time.process_time()
                    t0 = time.perf_counter()
                    y = g(x)
                    float(y[0, 0, 0, 0])
                    wall.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
            return {'wall': wall, 'cpu': cpu}
        if a[0] == 'run':
            src, dst = a[1], a[2]
            h, w, threads = map(int, a[3:6])
            torch.set_num_threads(threads)
            x = np.fromfile(src, dtype='<f4').reshape(1, h, w, 3).transpose(0, 3, 1, 2)
            with torch.inference_mode():
                y = g(torch.from_numpy(np.ascontiguousarray(x))).numpy()
            y.transpose(0, 2, 3, 1).astype('<f4').tofile(dst)
            return {'ok': True}
        return {'error': f'unknown command {a[0]}'}

    serve_lines(handle)


if __name__ == '__main__':
    main()
