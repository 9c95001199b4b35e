#!/usr/bin/python3
"""PyTorch CPU side of the training-step benchmark (docs/benchmarks.md, "training step"): the U-Net of
core/src/builders.cpp (depth 4, base width 16, 2 classes, conv-BN-ReLU x2 per level, 2x2 transposed
up-convolutions, concat(skip, up)), batch 4x3x192x192, cross-entropy, SGD momentum.
Run: /usr/bin/python3 bench_train_torch.py [threads]"""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def block(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(),
                         nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())


class UNet(nn.Module):
    def __init__(self, depth=4, width=16, classes=2):
        super().__init__()
        w = [width << l for l in range(depth + 1)]
        self.enc = nn.ModuleList([block(3 if l == 0 else w[l - 1], w[l]) for l in range(depth)])
        self.bottleneck = block(w[depth - 1], w[depth])
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[l + 1], w[l], 2, 2) for l in range(depth)])
        self.dec = nn.ModuleList([block(2 * w[l], w[l]) for l in range(depth)])
        self.head = nn.Conv2d(w[0], classes, 1)

    def forward(self, x):
        skips = []
        for enc in self.enc:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for l in reversed(range(len(self.enc))):
            x = self.dec[l](torch.cat([skips[l], self.up[l](x)], 1))
        return self.head(x)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = UNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(4, 3, 192, 192) * 2 - 1
    y = (torch.arange(4 * 192 * 192) // 7 % 2).reshape(4, 192, 192)
    times = []
    for i in range(13):
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= 3:
            times.append((time.perf_counter() - start) * 1000)
    print(f"torch {torch.__version__} train step (U-Net d4 w16, 4x3x192x192, SGD, {threads} thread(s)): "
          f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms")


if __name__ == "__main__":
    main()
