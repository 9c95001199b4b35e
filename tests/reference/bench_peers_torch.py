#!/usr/bin/python3
"""PyTorch CPU side of the inference benchmark against peers (docs/benchmarks.md, "inference against
peers"): the networks of core/src/builders.cpp as PyTorch modules with random weights, timed in
inference at the bench's sizes. terraseg_engine_peer_bench --pytorch runs this and adds a column;
it prints one JSON line per model: {"model", "median_ms", "min_ms", "mode"}.

  * unet64 / unet32: build_unet (depth 4, base width 64 / 32, conv-BN-ReLU x2 per level, 2x2 stride-2
    transposed up-convolutions, concat(skip, up), 1x1 head), 1x3x512x512
  * segnet: build_segnet (VGG16 encoder 2-2-3-3-3 convs of 64..512 with BN+ReLU, 2x2 max pooling with
    indices, mirrored decoder with max unpooling whose last conv per level narrows), 1x3x512x512

mode "frozen" is torch.jit.optimize_for_inference (BatchNorm folded into the convolutions, as terraseg
and OpenCV do; at least 3 warm-up runs, as TorchScript optimises during the first two); "eager" is the
plain module under torch.no_grad(), used if scripting fails.
Run: /usr/bin/python3 bench_peers_torch.py --threads 2 --reps 10 --warmup 2 --classes 2 unet64 segnet
"""
import argparse
import json
import statistics
import sys
import time
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn_relu(i, o):
    return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]


class UpStage(nn.Module):
    """Transposed 2x2 up-convolution, concat(skip, up), conv-BN-ReLU x2."""

    def __init__(self, i, o):
        super().__init__()
        self.up = nn.ConvTranspose2d(i, o, 2, 2)
        self.block = nn.Sequential(*conv_bn_relu(2 * o, o), *conv_bn_relu(o, o))

    def forward(self, x, skip):
        return self.block(torch.cat([skip, self.up(x)], 1))


class UNet(nn.Module):
    def __init__(self, width, classes, depth=4):
        super().__init__()
        w = [width << level for level in range(depth + 1)]
        self.enc = nn.ModuleList([nn.Sequential(*conv_bn_relu(3 if level == 0 else w[level - 1], w[level]),
                                                *conv_bn_relu(w[level], w[level])) for level in range(depth)])
        self.bottleneck = nn.Sequential(*conv_bn_relu(w[depth - 1], w[depth]), *conv_bn_relu(w[depth], w[depth]))
        self.stages = nn.ModuleList([UpStage(w[level + 1], w[level]) for level in range(depth - 1, -1, -1)])
        self.head = nn.Conv2d(w[0], classes, 1)

    def forward(self, x):
        skips: List[torch.Tensor] = []
        for enc in self.enc:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for i, stage in enumerate(self.stages):
            x = stage(x, skips[len(skips) - 1 - i])
        return self.head(x)


class SegNet(nn.Module):
    def __init__(self, classes, convs=(2, 2, 3, 3, 3), widths=(64, 128, 256, 512, 512)):
        super().__init__()
        enc, dec = [], []
        channels = 3
        for count, width in zip(convs, widths):
            layers = []
            for _ in range(count):
                layers += conv_bn_relu(channels, width)
                channels = width
            enc.append(nn.Sequential(*layers))
        for level in range(len(convs) - 1, -1, -1):
            layers = []
            for i in range(convs[level]):
                out = widths[level - 1] if i == convs[level] - 1 and level > 0 else widths[level]
                layers += conv_bn_relu(channels, out)
                channels = out
            dec.append(nn.Sequential(*layers))
        self.enc = nn.ModuleList(enc)
        self.dec = nn.ModuleList(dec)
        self.head = nn.Conv2d(channels, classes, 1)

    def forward(self, x):
        indices: List[torch.Tensor] = []
        sizes: List[List[int]] = []
        for enc in self.enc:
            x = enc(x)
            sizes.append([x.shape[2], x.shape[3]])
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            indices.append(idx)
        for i, dec in enumerate(self.dec):
            level = len(indices) - 1 - i
            x = dec(F.max_unpool2d(x, indices[level], 2, 2, output_size=sizes[level]))
        return self.head(x)


def build(name, classes):
    if name.startswith("unet"):
        return UNet(int(name[4:]), classes)
    if name == "segnet":
        return SegNet(classes)
    raise SystemExit(f"unknown model {name}: use unet64, unet32 or segnet")


def prepare(model):
    model.eval()
    try:
        return torch.jit.optimize_for_inference(torch.jit.script(model)), "frozen"
    except Exception as e:  # noqa: BLE001 - any scripting failure falls back to eager
        print(f"scripting failed, timing eager mode: {str(e).splitlines()[0]}", file=sys.stderr)
        return model, "eager"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--size", type=int, default=512, help="input height and width")
    parser.add_argument("models", nargs="*", default=["unet64", "unet32", "segnet"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    image = torch.rand(1, 3, args.size, args.size) * 2 - 1
    for name in args.models:
        model, mode = prepare(build(name, args.classes))
        # TorchScript's profiling executor optimises the graph during the first two runs.
        warmup = max(args.warmup, 3) if mode == "frozen" else args.warmup
        times = []
        with torch.no_grad():
            for i in range(warmup + args.reps):
                start = time.perf_counter()
                model(image)
                if i >= warmup:
                    times.append((time.perf_counter() - start) * 1000)
        print(json.dumps({"model": name, "median_ms": statistics.median(times), "min_ms": min(times), "mode": mode,
                          "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
