#!/usr/bin/env python3
"""PyTorch reference for Harmonia's LPIPS v0.1 and VGG-19 feature extractor, written from the
formula in docs/METRICS.md § LPIPS v0.1 (independent of the `lpips` and `torchvision` packages, which are
not needed): torchvision-layout backbones built from torch.nn, deterministic weights, saved with
torch.save in the layouts of the real files.

usage:
  lpips_ref.py lpips <out_dir>   writes <out_dir>/{alexnet,vgg16,squeezenet1_1}.pth (backbones),
                                 <out_dir>/lpips/{alex,vgg,squeeze}.pth (lin layers, legacy format),
                                 <out_dir>/<net>_{a,b}.bin inputs (NHWC float32 in [0,1]) and prints
                                 JSON {net: {"shape": [N,H,W,3], "lpips": [per-pair values]}}
  lpips_ref.py vgg19 <out_dir>   writes <out_dir>/vgg19.pth, x.bin (NHWC in [0,1]), feat<k>.bin (NHWC),
                                 grad.bin (d loss / d x, NHWC) and prints JSON with shapes and the loss,
                                 loss = sum_k mean(feat_k ** 2)
"""
import collections
import json
import os
import sys

import torch
from torch import nn

SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class Fire(nn.Module):
    def __init__(self, inp, sq, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(inp, sq, 1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(sq, e1, 1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(sq, e3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1)


def alexnet():
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2)), [1, 4, 7, 9, 11]


def vgg(cfg):
    layers, c = [], 3
    for v in cfg:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    return nn.Sequential(*layers)


VGG16 = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']
VGG19 = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M']


def squeezenet():
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256)), [1, 4, 7, 9, 10, 11, 12]


class Holder(nn.Module):
    """Gives the state dict torchvision's key names: features.<i>..., classifier.<i>..."""

    def __init__(self, features, classifier=None):
        super().__init__()
        self.features = features
        if classifier is not None:
            self.classifier = classifier


def init(seq):
    for m in seq.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            nn.init.normal_(m.bias, 0, 0.1)


def taps(seq, idx, x):
    out = []
    for i, layer in enumerate(seq):
        x = layer(x)
        if i in idx:
            out.append(x)
        if i >= max(idx):
            break
    return out


def lpips(seq, idx, lins, a, b):
    """a, b: NCHW in [0,1] → per-pair LPIPS v0.1."""
    fa = taps(seq, idx, ((a * 2 - 1) - SHIFT) / SCALE)
    fb = taps(seq, idx, ((b * 2 - 1) - SHIFT) / SCALE)
    total = 0
    for k, (x, y) in enumerate(zip(fa, fb)):
        x = x / (torch.sqrt(torch.sum(x ** 2, dim=1, keepdim=True)) + 1e-10)
        y = y / (torch.sqrt(torch.sum(y ** 2, dim=1, keepdim=True)) + 1e-10)
        d = (x - y) ** 2
        total = total + torch.nn.functional.conv2d(d, lins[k]).mean(dim=[2, 3])
    return total.view(-1)


def dump(t, path):
    """NCHW tensor → NHWC float32 little-endian file."""
    t.detach().permute(0, 2, 3, 1).contiguous().numpy().astype('<f4').tofile(path)


def run_lpips(out):
    torch.manual_seed(1234)
    os.makedirs(os.path.join(out, 'lpips'), exist_ok=True)
    result = {}
    nets = {
        # name: (builder output, backbone file, zip format?, input size)
        'alex': (alexnet(), 'alexnet.pth', True, (70, 64)),
        'vgg': ((vgg(VGG16), [3, 8, 15, 22, 29]), 'vgg16.pth', False, (48, 40)),
        'squeeze': (squeezenet(), 'squeezenet1_1.pth', True, (67, 61)),
    }
    for name, ((seq, idx), fname, zipfmt, (h, w)) in nets.items():
        init(seq)
        classifier = None
        if name == 'squeeze':  # real torchvision files also hold the classifier: the loader must ignore it
            classifier = nn.Sequential(nn.Dropout(), nn.Conv2d(512, 1000, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        torch.save(Holder(seq, classifier).state_dict(), os.path.join(out, fname), _use_new_zipfile_serialization=zipfmt)
        chans = [taps(seq, idx, torch.zeros(1, 3, h, w))[k].shape[1] for k in range(len(idx))]
        lins = [torch.rand(1, c, 1, 1) for c in chans]
        lin_sd = collections.OrderedDict((f'lin{k}.model.1.weight', lins[k]) for k in range(len(lins)))
        torch.save(lin_sd, os.path.join(out, 'lpips', f'{name}.pth'), _use_new_zipfile_serialization=False)
        a = torch.rand(2, 3, h, w)
        b = (a + 0.2 * torch.randn(2, 3, h, w)).clamp(0, 1)
        b[1] = torch.rand(3, h, w)  # the second pair is unrelated
        dump(a, os.path.join(out, f'{name}_a.bin'))
        dump(b, os.path.join(out, f'{name}_b.bin'))
        with torch.no_grad():
            d = lpips(seq, idx, lins, a, b)
        result[name] = {'shape': [2, h, w, 3], 'lpips': [float(v) for v in d], 'channels': chans}
    json.dump(result, sys.stdout)


def run_vgg19(out):
    torch.manual_seed(99)
    seq = vgg(VGG19)
    init(seq)
    torch.save(Holder(seq).state_dict(), os.path.join(out, 'vgg19.pth'))
    idx = [3, 8, 17, 26, 35]  # relu1_2, relu2_2, relu3_4, relu4_4, relu5_4
    x = torch.rand(2, 3, 48, 40, requires_grad=True)
    feats = taps(seq, idx, (x - MEAN) / STD)
    loss = sum((f ** 2).mean() for f in feats)
    loss.backward()
    dump(x, os.path.join(out, 'x.bin'))
    for k, f in enumerate(feats):
        dump(f, os.path.join(out, f'feat{k}.bin'))
    dump(x.grad, os.path.join(out, 'grad.bin'))
    json.dump({'shapes': [list(f.permute(0, 2, 3, 1).shape) for f in feats], 'loss': float(loss)}, sys.stdout)


if __name__ == '__main__':
    {'lpips': run_lpips, 'vgg19': run_vgg19}[sys.argv[1]](sys.argv[2])
