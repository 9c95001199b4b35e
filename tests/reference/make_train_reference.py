#!/usr/bin/python3
"""Writes train_step_reference.json: a tiny network's loss, gradients and the weights after two
SGD-momentum steps and two Adam steps, computed by PyTorch (Debian python3-torch 1.13, CPU, float64
for the reference values' accuracy; the C++ side runs float32). Run: /usr/bin/python3 make_train_reference.py

Network (NCHW 2x3x8x8): Conv3x3(3->4, bias) - BatchNorm(train) - ReLU - MaxPool2x2 (indices)
- Conv3x3(4->4) - PReLU(4) - MaxUnpool (same indices) - Concat(with the ReLU output) -
ConvTranspose2x2 s2 (8->4, bias) - AveragePool2x2 s2 - Conv1x1(4->3, bias) = logits;
loss = CrossEntropy(weight=[1,2,0.5], ignore_index=255).
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(7)
DT = torch.float64


def initial():
    g = torch.Generator().manual_seed(3)
    r = lambda *s, scale=0.5: (torch.rand(*s, generator=g, dtype=DT) * 2 - 1) * scale
    return {
        "c1.w": r(4, 3, 3, 3), "c1.b": r(4, scale=0.1),
        "bn.s": 1 + r(4, scale=0.2), "bn.b": r(4, scale=0.1),
        "bn.m": torch.zeros(4, dtype=DT), "bn.v": torch.ones(4, dtype=DT),
        "c2.w": r(4, 4, 3, 3), "pr.s": 0.25 + r(4, scale=0.05),
        "d.w": r(8, 4, 2, 2), "d.b": r(4, scale=0.1),
        "h.w": r(3, 4, 1, 1), "h.b": r(3, scale=0.1),
    }


PARAMS = ["c1.w", "c1.b", "bn.s", "bn.b", "c2.w", "pr.s", "d.w", "d.b", "h.w", "h.b"]


def forward(w, x):
    y = F.conv2d(x, w["c1.w"], w["c1.b"], padding=1)
    y = F.batch_norm(y, w["bn.m"], w["bn.v"], w["bn.s"], w["bn.b"], training=True, momentum=0.1, eps=1e-5)
    r1 = F.relu(y)
    p, idx = F.max_pool2d(r1, 2, 2, return_indices=True)
    c2 = F.prelu(F.conv2d(p, w["c2.w"], None, padding=1), w["pr.s"])
    u = F.max_unpool2d(c2, idx, 2, 2, output_size=r1.shape[-2:])
    cat = torch.cat([u, r1], dim=1)
    d = F.conv_transpose2d(cat, w["d.w"], w["d.b"], stride=2)
    a = F.avg_pool2d(d, 2, 2)
    return F.conv2d(a, w["h.w"], w["h.b"])


def run(x, labels, cw, make_opt, steps):
    w = initial()
    for k in PARAMS:
        w[k].requires_grad_(True)
    opt = make_opt([w[k] for k in PARAMS])
    first = None
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(forward(w, x), labels, weight=cw, ignore_index=255)
        loss.backward()
        if first is None:
            first = {"loss": loss.item(), "grads": {k: w[k].grad.flatten().tolist() for k in PARAMS},
                     "running_mean": w["bn.m"].tolist(), "running_var": w["bn.v"].tolist()}
        opt.step()
    return first, {k: w[k].detach().flatten().tolist() for k in PARAMS}


def main():
    x = torch.rand(2, 3, 8, 8, dtype=DT) * 2 - 1
    labels = torch.randint(0, 3, (2, 8, 8))
    labels[0, 0, :3] = 255
    cw = torch.tensor([1.0, 2.0, 0.5], dtype=DT)
    first, sgd = run(x, labels, cw, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4), 2)
    _, adam = run(x, labels, cw, lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=1e-4), 2)
    _, adamw = run(x, labels, cw, lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.01), 2)
    out = {
        "torch": torch.__version__,
        "input": {"dims": list(x.shape), "values": x.flatten().tolist()},
        "labels": labels.flatten().tolist(),
        "class_weights": cw.tolist(),
        "initial": {k: {"dims": list(v.shape), "values": v.flatten().tolist()} for k, v in initial().items()},
        "loss": first["loss"],
        "grads": first["grads"],
        "running_mean": first["running_mean"],
        "running_var": first["running_var"],
        "sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "steps": 2, "weights": sgd},
        "adam": {"lr": 0.01, "weight_decay": 1e-4, "steps": 2, "weights": adam},
        "adamw": {"lr": 0.01, "weight_decay": 0.01, "steps": 2, "weights": adamw},
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_step_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", path, "loss", first["loss"])


if __name__ == "__main__":
    main()
