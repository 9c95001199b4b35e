#!/usr/bin/python3
"""Averages the weights of terraseg models that share one graph (a "model soup"), e.g. a model and its
fine-tuned descendant. The output keeps the first model's graph and model card; integer tensors are
taken from the first model.

    /usr/bin/python3 scripts/average-weights.py OUT.onnx A.onnx[=WEIGHT] B.onnx[=WEIGHT] ...
    e.g. scripts/average-weights.py /tmp/soup.onnx samples/models/roads-aerial.onnx runs/roads-all/roads-aerial.onnx

Refuses models whose initialisers differ in name, shape or type, and an OUT that exists (nothing a user
made is overwritten). Needs python3-onnx (installed by scripts/setup.sh).
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    out, specs = argv[1], argv[2:]
    if os.path.exists(out):
        sys.exit(f"average-weights: {out} exists; give a new file name")
    paths, weights = [], []
    for spec in specs:
        path, _, weight = spec.partition("=")
        paths.append(path)
        try:
            weights.append(float(weight) if weight else 1.0)
        except ValueError:
            sys.exit(f"average-weights: {spec}: the weight after '=' must be a number")
    if min(weights) < 0 or sum(weights) <= 0:
        sys.exit("average-weights: weights must be >= 0 and not all 0")
    weights = np.array(weights) / sum(weights)
    models = [onnx.load(p) for p in paths]
    tensors = [{t.name: numpy_helper.to_array(t) for t in m.graph.initializer} for m in models]
    for path, named in zip(paths[1:], tensors[1:]):
        for name, array in tensors[0].items():
            if name not in named or named[name].shape != array.shape or named[name].dtype != array.dtype:
                sys.exit(f"average-weights: {path} does not share {paths[0]}'s graph (initialiser {name})")
    base = models[0]
    for init in base.graph.initializer:
        first = tensors[0][init.name]
        if first.dtype.kind != "f":
            continue
        mean = sum(w * named[init.name].astype(np.float64) for w, named in zip(weights, tensors))
        init.CopyFrom(numpy_helper.from_array(mean.astype(first.dtype), init.name))
    tmp = out + ".tmp"
    onnx.save(base, tmp)
    os.replace(tmp, out)
    print(f"{out}: mean of {len(paths)} models, weights {', '.join(f'{w:.3g}' for w in weights)}")


if __name__ == "__main__":
    main(sys.argv)
