#!/usr/bin/python3
"""PyTorch CPU side of the training-step benchmark (docs/benchmarks.md, "training step"): the U-Net of
core/src/builders.cpp (depth 4, base width 16, 2 classes, conv-BN-ReLU x2 per level, 2x2 transposed
up-convolutions, concat(skip, up)), batch 4x3x192x192, cross-entropy, SGD momentum.

terraseg_train_peer_bench (tests/core/train/bench_train_peers.cpp) starts this script with --serve and
interleaves its rounds with its own: it writes "steps K" lines on stdin, the script answers each with
one JSON line {"ms": [...]} (one wall time per step), and "quit" ends it. The first line the script
prints is a JSON header (torch version, threads, parameter count).

Standalone: /usr/bin/python3 bench_train_torch.py [--threads N] [--reps R] [--warmup W]"""
import argparse
import json
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


class Bench:
    def __init__(self, batch, size, classes):
        torch.manual_seed(1)
        self.model = UNet(classes=classes)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.x = torch.rand(batch, 3, size, size) * 2 - 1
        self.y = (torch.arange(batch * size * size) // 7 % classes).reshape(batch, size, size)

    def parameters(self):
        return sum(p.numel() for p in self.model.parameters())

    def step_ms(self):
        start = time.perf_counter()
        self.opt.zero_grad()
        F.cross_entropy(self.model(self.x), self.y).backward()
        self.opt.step()
        return (time.perf_counter() - start) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("threads_positional", nargs="?", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--serve", action="store_true", help="answer 'steps K' lines on stdin (see above)")
    args = parser.parse_args()
    threads = args.threads_positional or args.threads
    torch.set_num_threads(threads)
    bench = Bench(args.batch, args.size, args.classes)
    if args.serve:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                          "parameters": bench.parameters(), "mkldnn": torch.backends.mkldnn.is_available()}),
              flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            ms = [bench.step_ms() for _ in range(int(words[1]))]
            print(json.dumps({"ms": ms}), flush=True)
        return
    for _ in range(args.warmup):
        bench.step_ms()
    times = [bench.step_ms() for _ in range(args.reps)]
    print(f"torch {torch.__version__} train step (U-Net d4 w16, {args.batch}x3x{args.size}x{args.size}, SGD, "
          f"{threads} thread(s)): median {statistics.median(times):.1f} ms, min {min(times):.1f} ms")


if __name__ == "__main__":
    main()
