#!/usr/bin/env python3
"""Independent numpy reference for Harmonia's pixel metrics (docs/METRICS.md).

usage: metrics_ref.py <manifest.json>
manifest: {"size": S, "items": [{"name", "pred", "gt", "mask"}]} where pred/gt are raw little-endian
float32 S*S*3 (HWC, values in [0,1]) and mask raw float32 S*S (values in [0,1]).
Prints JSON {name: {mse, psnr, fmse, fpsnr, bmse, ssim}} on stdout (null where undefined).
SSIM uses a direct 2-D Gaussian window (not separable), to be independent of the TypeScript code.
"""
import json
import math
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CAP = 100.0


def psnr(m):
    if m is None:
        return None
    if m == 0:
        return CAP
    return min(CAP, 10 * math.log10(255.0 ** 2 / m))


def ssim_channel(x, y):
    r = np.arange(11) - 5
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()

    def filt(a):
        return np.einsum('ijkl,kl->ij', sliding_window_view(a, (11, 11)), g)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ux, uy = filt(x), filt(y)
    vx = filt(x * x) - ux * ux
    vy = filt(y * y) - uy * uy
    vxy = filt(x * y) - ux * uy
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    return float(s.mean())


def main():
    man = json.load(open(sys.argv[1]))
    s = man['size']
    out = {}
    for it in man['items']:
        p = np.fromfile(it['pred'], dtype='<f4').astype(np.float64).reshape(s, s, 3) * 255
        t = np.fromfile(it['gt'], dtype='<f4').astype(np.float64).reshape(s, s, 3) * 255
        fg = np.fromfile(it['mask'], dtype='<f4').reshape(s, s) > 0.5
        d2 = (p - t) ** 2
        m = float(d2.mean())
        nf = int(fg.sum())
        nb = fg.size - nf
        fm = float(d2[fg].sum() / (3 * nf)) if nf else None
        bm = float(d2[~fg].sum() / (3 * nb)) if nb else None
        ss = float(np.mean([ssim_channel(p[..., c], t[..., c]) for c in range(3)]))
        out[it['name']] = {'mse': m, 'psnr': psnr(m), 'fmse': fm, 'fpsnr': psnr(fm), 'bmse': bm, 'ssim': ss}
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
