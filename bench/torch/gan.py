"""PyTorch twin of the paper GAN training step (src/models/generator.ts, discriminator.ts,
src/train/step.ts via src/train/step-module.ts), for bench/engine.ts. NCHW here, NHWC in tfjs; same layers,
same parameter counts (G 331,075, D 690,401), same losses, same optimiser, same step order:

  G step (D frozen): BCEwithLogits(D(G(x)), 1) + 100 * L1(G(x), y); Adam(2e-4, 0.5, 0.999)
  D step:            BCEwithLogits(D(y), 1) + BCEwithLogits(D(G(x).detach()), 0) (not halved, as src/train/step.ts); Adam

Runs as a persistent server (one process, models built once per (N, H)), line protocol on stdin:
  "gan <N> <H> <threads> <reps>"  -> JSON list of per-step seconds
  "params"                         -> JSON {"G": ..., "D": ...}
  "mem"                            -> JSON {"rssMB": peak resident set size of this process}
  "quit"
Run with /usr/bin/python3 (Debian python3-torch).
"""
import json
import resource
import sys
import time

import torch
import torch.nn as nn


def make_generator(base=32):
    b = base
    return nn.Sequential(
        nn.Conv2d(3, b, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(b, 2 * b, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(2 * b, 4 * b, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(4 * b, 2 * b, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(2 * b, b, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(b, 3, 4, 2, 1), nn.Sigmoid(),
    )


class Discriminator(nn.Module):
    def __init__(self, base=32):
        super().__init__()
        layers, ci = [], 3
        for co in (base, 2 * base, 4 * base, 8 * base):
            layers += [nn.Conv2d(ci, co, 4, 2, 1), nn.LeakyReLU(0.2)]
            ci = co
        self.features = nn.Sequential(*layers)
        self.logit = nn.Linear(ci, 1)

    def forward(self, x):
        return self.logit(self.features(x).mean((2, 3)))


class PaperGan:
    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.G, self.D = make_generator(), Discriminator()
        self.opt_g = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()
        self.l1 = nn.L1Loss()

    def step(self, x, y):
        for p in self.D.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        fake = self.G(x)
        logits = self.D(fake)
        loss_g = self.bce(logits, torch.ones_like(logits)) + 100 * self.l1(fake, y)
        loss_g.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        real_logits, fake_logits = self.D(y), self.D(fake.detach())
        loss_d = self.bce(real_logits, torch.ones_like(real_logits)) + self.bce(fake_logits, torch.zeros_like(fake_logits))
        loss_d.backward()
        self.opt_d.step()
        return loss_g.item(), loss_d.item()


def count(m):
    return sum(p.numel() for p in m.parameters())


def serve_lines(handle):
    """The line protocol of both twins: one request a line on stdin (split into words), `handle(words, line)`
    returns the JSON answer, printed as one line; blank lines are skipped and "quit" ends."""
    for line in sys.stdin:
        a = line.split()
        if not a:
            continue
        if a[0] == 'quit':
            break
        print(json.dumps(handle(a, line)), flush=True)


def serve():
    cache = {}

    def handle(a, line):
        if a[0] == 'params':
            g = PaperGan()
            return {'G': count(g.G), 'D': count(g.D)}
        if a[0] == 'mem':
            return {'rssMB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if a[0] != 'gan' or len(a) != 5:
            return {'error': f'bad request: {line.strip()}'}
        n, h, threads, reps = int(a[1]), int(a[2]), int(a[3]), int(a[4])
        torch.set_num_threads(threads)
        key = (n, h)
        if key not in cache:
            gen = torch.Generator().manual_seed(1)
            cache[key] = (PaperGan(), torch.rand(n, 3, h, h, generator=gen), torch.rand(n, 3, h, h, generator=gen))
        gan, x, y = cache[key]
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            gan.step(x, y)
            times.append(time.perf_counter() - t0)
        return times

    serve_lines(handle)


if __name__ == '__main__':
    serve()
