#!/usr/bin/env python3
"""The paper's training path in PyTorch for Python, for speed comparisons (not a test).

The same flow as oodflow's reference recipe, written the way PyTorch Glow code is usually
written: K blocks of ActNorm, an invertible linear layer W = P L (U + diag(sign exp(log_s)))
formed from its LU factors at every forward (Kingma & Dhariwal, Glow, 2018), and an affine
coupling whose two MLPs (d/2 -> hidden -> d/2, ReLU) read one half and transform the other;
ActNorm initialised from the first batch, a N(0, I) base, Adam at lr 1e-5, batch 250, one
epoch over N synthetic L2-normalised rows.
Prints the training loop's samples/s, first step included (as oodflow's training summary
counts it), with the thread count it ran.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench_train_pytorch.py --dim 512 --threads 2
Run by scripts/bench_train.sh beside oodflow's own benchmark, each setting a process.
"""
import argparse
import math
import time

import torch
from torch import nn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--dim", type=int, default=512)
parser.add_argument("--samples", type=int, default=20000)
parser.add_argument("--blocks", type=int, default=10)
parser.add_argument("--batch", type=int, default=250)
parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 = torch's default")
args = parser.parse_args()
if args.threads > 0:
    torch.set_num_threads(args.threads)


class ActNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(d))
        self.log_scale = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return (x - self.shift) * torch.exp(-self.log_scale), -self.log_scale.sum().expand(x.shape[0])


class InvertibleLinear(nn.Module):
    def __init__(self, d):
        super().__init__()
        w = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))[0]
        p, l, u = torch.linalg.lu(w)
        self.register_buffer("p", p.float())
        self.register_buffer("sign", torch.sign(u.diagonal()).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(d, d), -1))
        self.l = nn.Parameter(l.float())
        self.u = nn.Parameter(torch.triu(u, 1).float())
        self.log_s = nn.Parameter(torch.log(torch.abs(u.diagonal())).float())

    def forward(self, x):
        eye = torch.eye(x.shape[1], device=x.device)
        lower = self.l * self.lower_mask + eye
        upper = self.u * self.lower_mask.t() + torch.diag(self.sign * torch.exp(self.log_s))
        w = self.p @ lower @ upper
        return x @ w.t(), self.log_s.sum().expand(x.shape[0])


class AffineCoupling(nn.Module):
    def __init__(self, d, hidden, flip):
        super().__init__()
        self.flip = flip
        self.half = d // 2
        self.s = nn.Sequential(nn.Linear(d - self.half, hidden), nn.ReLU(), nn.Linear(hidden, self.half))
        self.t = nn.Sequential(nn.Linear(d - self.half, hidden), nn.ReLU(), nn.Linear(hidden, self.half))
        for net in (self.s, self.t):
            nn.init.zeros_(net[2].weight)
            nn.init.zeros_(net[2].bias)

    def forward(self, x):
        if self.flip:
            x = x.flip(1)
        a, b = x[:, self.half:], x[:, : self.half]
        s, t = self.s(a), self.t(a)
        y = torch.cat([b * torch.exp(s) + t, a], 1)
        return (y.flip(1) if self.flip else y), s.sum(1)


layers = nn.ModuleList()
for k in range(args.blocks):
    layers.extend([ActNorm(args.dim), InvertibleLinear(args.dim),
                   AffineCoupling(args.dim, args.dim, k % 2 == 1)])


def log_density(x):
    logdet = torch.zeros(x.shape[0])
    for layer in layers:
        x, ld = layer(x)
        logdet = logdet + ld
    return -0.5 * (x * x).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi) + logdet


torch.manual_seed(0)
data = torch.nn.functional.normalize(torch.randn(args.samples, args.dim), dim=1)
optimizer = torch.optim.Adam(layers.parameters(), lr=1e-5)  # oodflow's default, the paper's
order = torch.randperm(args.samples)
steps = 0
start = time.perf_counter()
with torch.no_grad():  # ActNorm's data-dependent initialisation on the first batch (Glow)
    x = data[order[: args.batch]]
    for layer in layers:
        if isinstance(layer, ActNorm):
            layer.shift.copy_(x.mean(0))
            layer.log_scale.copy_(torch.log(x.std(0) + 1e-6))
        x, _ = layer(x)
for begin in range(0, args.samples, args.batch):
    x = data[order[begin:begin + args.batch]]
    optimizer.zero_grad(set_to_none=True)
    loss = -log_density(x).mean()
    loss.backward()
    optimizer.step()
    steps += 1
seconds = time.perf_counter() - start
counted = args.samples
print(f"pytorch d={args.dim} N={args.samples} threads={torch.get_num_threads()} "
      f"samples/s={counted / seconds:.1f} steps={steps} loss={loss.item():.3f}")
