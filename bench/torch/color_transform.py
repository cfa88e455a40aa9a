"""PyTorch twin of the `global` colour-transform generator's training step, for bench/native.ts.

The TensorFlow.js side is src/models/color-transform.ts (G, registry name `global`), src/models/
discriminator.ts (the recipe's D: mask-conditioned PatchGAN), src/losses/ (mask setting + add-on
terms) and src/train/engines.ts LocalEngine (G phase with D frozen, Adam on G, then D phase on the
images of the G phase, Adam on D). NCHW here, NHWC there; same layers, same padding (TensorFlow
'same': the extra row/column of an odd total goes to the bottom/right), same initialisers (He uniform
for the backbone and the MLP, zeros for θ's layer, zero biases; D: He uniform convolutions, Glorot
uniform logit), same loss terms in the same order and with the same weights (passed in by
bench/native.ts from the recipe, never restated here), Adam with the recipe's hyper-parameters.

  G(x, m):  small = area-downscale([x, m]) to S×S (box average by ⌊H/S⌋, then bilinear with half-pixel
            centres if the size still differs); 4 × (3×3 stride-2 'same' conv + ReLU): base, 2b, 4b, 4b;
            masked pooling of the features and of the RGB of `small` over fg/bg → 2·4b + 12 values;
            Linear(hidden) + ReLU; Linear(37) (zero init) + gate bias on the last value = θ;
            apply θ to the full-resolution [x, m]: 8-knot monotone curves, 3×4 affine, gate α, clip,
            blend by the mask.
  D(img, m): PatchGAN on [img, m]: 4×4 'same' convs b, 2b, 4b (stride 2), 8b (stride 1), LeakyReLU 0.2,
            then a 4×4 stride-1 conv to one logit per patch.
  L_G = adv·BCE(D(G), 1) + λ_mask·mean(|G−X|·m) + λ_unmask·mean(|G−X|·(1−m)) [+ fnmse, noworse,
        logratio, worselog when their weight is > 0, each computed as src/losses/content.ts does]
  L_D = BCE(D(X), 1) + BCE(D(G(x) of the G phase), 0)   (not halved, as src/train/step.ts)

Used two ways:
  imported by bench/native.ts's PyTorch server (GlobalStep, count);
  `python3 bench/torch/color_transform.py --verify DIR`: DIR holds the tfjs model's weights, a batch,
  its G output, losses and gradients (written by `node --import tsx bench/native.ts --verify-global`);
  prints one JSON line comparing them with this twin loaded with the same weights.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

CURVE_KNOTS = 8
TRANSFORM_PARAMS = 3 * CURVE_KNOTS + 12 + 1


def same_pad(x, k, s):
    """TensorFlow 'same' padding of an NCHW tensor for a k×k kernel at stride s."""
    def amounts(n):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2
    (t, b), (l, r) = amounts(x.shape[2]), amounts(x.shape[3])
    return F.pad(x, (l, r, t, b)) if (t or b or l or r) else x


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow 'same' padding."""
    def __init__(self, ci, co, k, s):
        super().__init__(ci, co, k, s, 0)

    def forward(self, x):
        return super().forward(same_pad(x, self.kernel_size[0], self.stride[0]))


def area_to(m, h, w):
    """Box average by ⌊H/h⌋, ⌊W/w⌋, then bilinear (half-pixel centres) if the size still differs."""
    kh, kw = max(1, m.shape[2] // h), max(1, m.shape[3] // w)
    y = F.avg_pool2d(m, (kh, kw), (kh, kw)) if kh > 1 or kw > 1 else m
    if y.shape[2] != h or y.shape[3] != w:
        y = F.interpolate(y, size=(h, w), mode='bilinear', align_corners=False)
    return y


def masked_stats(f, small):
    rgb, m = small[:, :3], small[:, 3:4]
    fm = area_to(m, f.shape[2], f.shape[3])

    def pool(v, w):
        return (v * w).sum((2, 3)) / (w.sum((2, 3)) + 1e-4)

    mean_fg, mean_bg = pool(rgb, m), pool(rgb, 1 - m)
    sq = rgb * rgb

    def std(mean, w):
        return torch.sqrt(F.relu(pool(sq, w) - mean * mean) + 1e-6)

    return torch.cat([pool(f, fm), pool(f, 1 - fm), mean_fg, std(mean_fg, m), mean_bg, std(mean_bg, 1 - m)], 1)


def apply_transform(x, theta):
    n, _, h, w = x.shape
    K = CURVE_KNOTS
    rgb, m = x[:, :3], x[:, 3:4]
    slopes = torch.exp(theta[:, :3 * K].clamp(-4, 4)).view(n, 3, K, 1, 1)
    curved = torch.zeros_like(rgb)
    for k in range(K):
        curved = curved + (rgb - k / K).clamp(0, 1 / K) * slopes[:, :, k]
    dA = theta[:, 3 * K:3 * K + 9].reshape(n, 3, 3)
    b = theta[:, 3 * K + 9:3 * K + 12].reshape(n, 3, 1, 1)
    gate = torch.sigmoid(theta[:, 3 * K + 12:3 * K + 13]).reshape(n, 1, 1, 1)
    # out_c = y_c + Σ_j ΔA_cj y_j + b_c  (tfjs: one batched matMul [n, h·w, 3] × ΔAᵀ)
    out = curved + torch.bmm(dA, curved.reshape(n, 3, h * w)).reshape(n, 3, h, w) + b
    moved = (rgb + gate * (out - rgb)).clamp(0, 1)
    return rgb + m * (moved - rgb)


def he_uniform_(layer):
    nn.init.kaiming_uniform_(layer.weight, a=0, mode='fan_in', nonlinearity='relu')  # bound sqrt(6 / fan_in)
    nn.init.zeros_(layer.bias)


class GlobalG(nn.Module):
    def __init__(self, analysis_size=64, base=32, hidden=128, gate_bias=2.0):
        super().__init__()
        self.analysis_size = analysis_size
        widths, ci = [base, 2 * base, 4 * base, 4 * base], 4
        self.enc = nn.ModuleList()
        for co in widths:
            self.enc.append(SameConv(ci, co, 3, 2))
            ci = co
        self.mlp1 = nn.Linear(2 * ci + 12, hidden)
        self.theta = nn.Linear(hidden, TRANSFORM_PARAMS)
        for layer in [*self.enc, self.mlp1]:
            he_uniform_(layer)
        nn.init.zeros_(self.theta.weight)
        nn.init.zeros_(self.theta.bias)
        gate = torch.zeros(1, TRANSFORM_PARAMS)
        gate[0, -1] = gate_bias
        self.register_buffer('gate', gate)

    def params_of(self, x):
        s = self.analysis_size
        small = area_to(x, s, s)
        h = small
        for conv in self.enc:
            h = F.relu(conv(h))
        hid = F.relu(self.mlp1(masked_stats(h, small)))
        return self.theta(hid) + self.gate

    def forward(self, x):
        return apply_transform(x, self.params_of(x))


class PatchD(nn.Module):
    def __init__(self, in_channels=4, base=16):
        super().__init__()
        self.convs = nn.ModuleList()
        ci = in_channels
        for i, co in enumerate([base, 2 * base, 4 * base, 8 * base]):
            self.convs.append(SameConv(ci, co, 4, 1 if i == 3 else 2))
            ci = co
        self.logit = SameConv(ci, 1, 4, 1)
        for c in self.convs:
            he_uniform_(c)
        nn.init.xavier_uniform_(self.logit.weight)
        nn.init.zeros_(self.logit.bias)

    def forward(self, x):
        for c in self.convs:
            x = F.leaky_relu(c(x), 0.2)
        return self.logit(x)


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _area(m, h, w, min_area):
    return m.sum((1, 2, 3)).clamp_min(min_area * h * w)


def fn_mse(x, X, m, min_area):
    h, w = x.shape[2], x.shape[3]
    return (((x - X) ** 2).sum((1, 2, 3)) / _area(m, h, w, min_area)).mean()


def no_worse(x, X, inp, m, min_area):
    h, w = x.shape[2], x.shape[3]
    after, before = ((x - X) ** 2).sum((1, 2, 3)), ((inp - X) ** 2).sum((1, 2, 3))
    return (F.relu(after - before) / _area(m, h, w, min_area)).mean()


def log_ratio(x, X, inp, m, min_area, worse_only, eps=1e-5):
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    area = _area(m, h, w, min_area) * c
    after = ((x - X) ** 2).sum((1, 2, 3)) / area + eps
    before = ((inp - X) ** 2).sum((1, 2, 3)) / area + eps
    r = torch.log(after / before)
    return (F.relu(r) if worse_only else r).mean()


def generator_loss(loss, fake, real, inp, m, logits):
    """L_G for the mask setting (the recipe's), parts in src/losses' order, each already weighted."""
    if loss['setting'] != 'mask' or loss['adversarial'] != 'bce':
        raise ValueError(f"twin implements setting mask with bce, not {loss['setting']} / {loss['adversarial']}")
    parts = {'adv': bce(logits, 1.0) * loss['adversarialWeight']}
    ad = (fake - real).abs()
    parts['l1_fg'] = (ad * m).mean() * loss['lambdaMask']
    parts['l1_bg'] = (ad * (1 - m)).mean() * loss['lambdaUnmask']
    a = loss['fnMseMinArea']
    if loss.get('fnMseWeight', 0) > 0:
        parts['fnmse'] = fn_mse(fake, real, m, a) * loss['fnMseWeight']
    if loss.get('noWorseWeight', 0) > 0:
        parts['noworse'] = no_worse(fake, real, inp, m, a) * loss['noWorseWeight']
    if loss.get('logRatioWeight', 0) > 0:
        parts['logratio'] = log_ratio(fake, real, inp, m, a, False) * loss['logRatioWeight']
    if loss.get('worseLogWeight', 0) > 0:
        parts['worselog'] = log_ratio(fake, real, inp, m, a, True) * loss['worseLogWeight']
    return sum(parts.values()), parts


def build(cfg, seed=0):
    g, d = cfg['generator'], cfg['discriminator']
    if g.get('kind') != 'global' or d.get('kind') != 'patch' or not d.get('maskInput'):
        raise ValueError('twin implements the global G with a mask-conditioned PatchGAN D')
    torch.manual_seed(seed)
    G = GlobalG(g.get('analysisSize', 128), g.get('base', 32), g.get('hidden', 128), float(g.get('gateBias', 2)))
    D = PatchD(4, d.get('base', 32))
    return G, D


class GlobalStep:
    """One training step as LocalEngine.step runs it: G phase (D frozen) + Adam(G), then D phase + Adam(D)."""
    def __init__(self, cfg, seed=0):
        self.cfg = cfg
        self.G, self.D = build(cfg, seed)
        o = cfg['optimizer']
        mk = lambda ps: torch.optim.Adam(ps, o['lr'], betas=(o['beta1'], o['beta2']), eps=o['eps'])
        self.og, self.od = mk(self.G.parameters()), mk(self.D.parameters())

    def g_phase(self, x, y, m):
        for p in self.D.parameters():
            p.requires_grad_(False)
        fake = self.G(torch.cat([x, m], 1))
        logits = self.D(torch.cat([fake, m], 1))
        total, parts = generator_loss(self.cfg['loss'], fake, y, x, m, logits)
        total.backward()
        for p in self.D.parameters():
            p.requires_grad_(True)
        return fake, total, parts

    def d_phase(self, fake, y, m):
        real_logits = self.D(torch.cat([y, m], 1))
        fake_logits = self.D(torch.cat([fake.detach(), m], 1))
        d_real, d_fake = real_logits.detach().mean(), fake_logits.detach().mean()
        ld = bce(real_logits, 1.0) + bce(fake_logits, 0.0)
        ld.backward()
        return ld, d_real, d_fake

    def step(self, x, y, m):
        self.og.zero_grad(set_to_none=True)
        fake, lg, _ = self.g_phase(x, y, m)
        self.og.step()
        self.od.zero_grad(set_to_none=True)
        ld, _, _ = self.d_phase(fake, y, m)
        self.od.step()
        return lg.item(), ld.item()


def count(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------------------
# Verification against the tfjs model (same weights)
# ---------------------------------------------------------------------------------------------
def tf_named(G, D):
    """tfjs variable name -> (torch parameter, to-tfjs-layout function)."""
    conv = lambda p: (p, lambda t: t.permute(2, 3, 1, 0))   # [out,in,kh,kw] -> [kh,kw,in,out]
    dense = lambda p: (p, lambda t: t.t())                   # [out,in] -> [in,out]
    same = lambda p: (p, lambda t: t)
    out = {}
    for i, c in enumerate(G.enc):
        out[f'g_enc{i + 1}/kernel'], out[f'g_enc{i + 1}/bias'] = conv(c.weight), same(c.bias)
    out['g_mlp1/kernel'], out['g_mlp1/bias'] = dense(G.mlp1.weight), same(G.mlp1.bias)
    out['g_theta/kernel'], out['g_theta/bias'] = dense(G.theta.weight), same(G.theta.bias)
    for i, c in enumerate(D.convs):
        out[f'd_conv{i + 1}/kernel'], out[f'd_conv{i + 1}/bias'] = conv(c.weight), same(c.bias)
    out['d_logit/kernel'], out['d_logit/bias'] = conv(D.logit.weight), same(D.logit.bias)
    return out


def verify(folder):
    import numpy as np
    meta = json.load(open(os.path.join(folder, 'meta.json')))
    torch.set_num_threads(1)
    G, D = build(meta['config'])
    named = tf_named(G, D)
    read = lambda name: np.fromfile(os.path.join(folder, name), dtype='<f4')
    with torch.no_grad():
        for net in ('G', 'D'):
            flat, off = read(f'weights_{net}.bin'), 0
            for v in meta[net]:
                p, to_tf = named[v['name']]
                size = int(np.prod(v['shape']))
                t = torch.from_numpy(flat[off:off + size].copy()).view(*v['shape'])
                off += size
                if list(to_tf(p).shape) != v['shape']:
                    raise ValueError(f"{v['name']}: torch {list(to_tf(p).shape)} vs tfjs {v['shape']}")
                to_tf(p).copy_(t)
    n, h, w = meta['n'], meta['h'], meta['w']
    nchw = lambda a, c: torch.from_numpy(a.copy()).view(n, h, w, c).permute(0, 3, 1, 2).contiguous()
    batch = read('batch.bin')
    px = n * h * w
    x, y, m = nchw(batch[:px * 3], 3), nchw(batch[px * 3:px * 6], 3), nchw(batch[px * 6:], 1)
    step = GlobalStep.__new__(GlobalStep)
    step.cfg, step.G, step.D = meta['config'], G, D
    fake, lg, parts = step.g_phase(x, y, m)
    tf_out = nchw(read('output.bin'), 3)
    rel = lambda a, b: float((a - b).norm() / (b.norm() + 1e-30))
    grads = {}

    def compare_grads(flat, variables):
        off = 0
        for v in variables:
            p, to_tf = named[v['name']]
            size = int(np.prod(v['shape']))
            grads[v['name']] = rel(torch.from_numpy(flat[off:off + size].copy()).view(*v['shape']), to_tf(p.grad))
            off += size

    compare_grads(read('grads_G.bin'), meta['G'])
    for p in D.parameters():
        p.grad = None
    ld, d_real, d_fake = step.d_phase(fake, y, m)
    compare_grads(read('grads_D.bin'), meta['D'])
    losses = {'g': lg.item(), **{k: v.item() for k, v in parts.items()}, 'd': ld.item(), 'd_real': d_real.item(), 'd_fake': d_fake.item()}
    print(json.dumps({
        'torch': torch.__version__,
        'params': {'G': count(G), 'D': count(D)},
        'outputShape': list(fake.permute(0, 2, 3, 1).shape),
        'outputMaxAbsDiff': float((fake.detach() - tf_out).abs().max()),
        'losses': losses,
        'gradRelDiff': grads,
    }))


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--verify':
        verify(sys.argv[2])
    else:
        sys.exit('usage: python3 bench/torch/color_transform.py --verify DIR (written by bench/native.ts --verify-global)')
