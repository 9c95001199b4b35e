#!/usr/bin/python3
"""Generates the whole-model parity fixtures under tests/reference/ (run once; outputs are committed).

  * input_1x3x64x96.pb             a fixed random NCHW image (ONNX TensorProto)
  * unet_opset11.onnx / _logits.pb  a small PyTorch U-Net (conv+BN pairs that the exporter folds,
                                    a BatchNormalization after a Concat that it keeps, ReLU,
                                    LeakyReLU, MaxPool, ConvTranspose, bilinear Resize, Sigmoid
                                    gate), random
                                    weights, exported with torch.onnx.export at opset 11, and
                                    PyTorch's logits for the input
  * segnet_opset13.onnx / _logits.pb a small PyTorch SegNet (MaxPool with indices + MaxUnpool),
                                    exported at opset 13, and PyTorch's logits
  * espnet_city_logits.pb           OpenCV DNN's logits for ../shared/weights/espnet_city.onnx
                                    (only when that file exists; the model itself is not copied)

Uses Debian's python3-torch 1.13, python3-onnx and python3-opencv 4.6:
    /usr/bin/python3 tests/reference/make_reference.py [--weights ../shared/weights]
"""
import argparse
import os

import cv2
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper
from torch.onnx import register_custom_op_symbolic, symbolic_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def conv_bn(cin, cout, act):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), act]


class UNet(nn.Module):
    def __init__(self, cin=3, classes=4, width=8):
        super().__init__()
        w = width

        def block(i, o):
            return nn.Sequential(*conv_bn(i, o, nn.ReLU()), *conv_bn(o, o, nn.LeakyReLU(0.1)))

        self.enc1, self.enc2, self.bottom = block(cin, w), block(w, 2 * w), block(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.merge_bn = nn.BatchNorm2d(4 * w)  # after Concat, so the exporter cannot fold it into a conv
        self.dec2 = block(4 * w, 2 * w)
        self.up1 = nn.Conv2d(2 * w, w, 1)
        self.dec1 = block(2 * w, w)
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottom(F.max_pool2d(e2, 2))
        d2 = self.dec2(self.merge_bn(torch.cat([e2, self.up2(b)], 1)))
        u1 = self.up1(F.interpolate(d2, scale_factor=2.0, mode="bilinear", align_corners=False))
        d1 = self.dec1(torch.cat([e1, u1], 1))
        return self.head(d1 * torch.sigmoid(d1))


class SegNet(nn.Module):
    def __init__(self, cin=3, classes=5, width=8):
        super().__init__()
        w = width
        self.enc1 = nn.Sequential(*conv_bn(cin, w, nn.ReLU()))
        self.enc2 = nn.Sequential(*conv_bn(w, 2 * w, nn.ReLU()))
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.dec2 = nn.Sequential(*conv_bn(2 * w, w, nn.ReLU()))
        self.dec1 = nn.Sequential(*conv_bn(w, w, nn.ReLU()))
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        x, i1 = self.pool(self.enc1(x))
        x, i2 = self.pool(self.enc2(x))
        x = self.dec2(self.unpool(x, i2))
        x = self.dec1(self.unpool(x, i1))
        return self.head(x)


# torch 1.13 exports MaxPool indices converted to per-plane offsets (via Slice/Sub) and cannot
# export max_unpool2d at all. ONNX MaxPool and MaxUnpool agree on flat indices, so emitting the
# two ONNX ops directly gives the same values as PyTorch's pair. Both are 2x2, stride 2 here.
@symbolic_helper.parse_args("v", "is", "is", "is", "is", "i")
def max_pool_with_indices(g, x, kernel, stride, padding, dilation, ceil_mode):
    return g.op("MaxPool", x, kernel_shape_i=kernel, strides_i=stride or kernel, pads_i=list(padding) * 2,
                ceil_mode_i=ceil_mode, outputs=2)


def max_unpool(g, x, indices, output_size):
    return g.op("MaxUnpool", x, indices, kernel_shape_i=[2, 2], strides_i=[2, 2])


def randomise_batch_norm(model, seed):
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = 0.5 + torch.rand(m.num_features, generator=gen)
            m.bias.data = 0.2 * torch.randn(m.num_features, generator=gen)
            m.running_mean = 0.2 * torch.randn(m.num_features, generator=gen)
            m.running_var = 0.5 + torch.rand(m.num_features, generator=gen)


def save_tensor(array, name):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name).SerializeToString())
    print(f"wrote {name}: {array.shape}, {os.path.getsize(path)} bytes")


def opencv_logits(onnx_path, image):
    net = cv2.dnn.readNetFromONNX(onnx_path)
    net.setInput(image)
    return net.forward()


def export(model, image, name, opset):
    path = os.path.join(HERE, name + ".onnx")
    axes = {2: "height", 3: "width"}
    torch.onnx.export(model, torch.from_numpy(image), path, opset_version=opset, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": axes, "logits": axes},
                      do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    with torch.no_grad():
        logits = model(torch.from_numpy(image)).numpy()
    save_tensor(logits, name + "_logits.pb")
    try:
        cross = opencv_logits(path, image)
        print(f"  {name}: OpenCV vs PyTorch max abs diff {np.abs(cross - logits).max():.3g}")
    except cv2.error as e:
        print(f"  {name}: OpenCV cannot run it ({str(e).splitlines()[-1]})")
    print(f"wrote {name}.onnx: {os.path.getsize(path)} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.path.join(HERE, "..", "..", "..", "shared", "weights"))
    args = parser.parse_args()

    image = np.random.RandomState(7).uniform(-1.0, 1.0, (1, 3, 64, 96)).astype(np.float32)
    save_tensor(image, "input_1x3x64x96.pb")

    torch.manual_seed(11)
    unet = UNet().eval()
    randomise_batch_norm(unet, 12)
    export(unet, image, "unet_opset11", 11)

    register_custom_op_symbolic("aten::max_pool2d_with_indices", max_pool_with_indices, 13)
    register_custom_op_symbolic("aten::max_unpool2d", max_unpool, 13)
    torch.manual_seed(13)
    segnet = SegNet().eval()
    randomise_batch_norm(segnet, 14)
    export(segnet, image, "segnet_opset13", 13)

    espnet = os.path.join(args.weights, "espnet_city.onnx")
    if os.path.exists(espnet):
        save_tensor(opencv_logits(espnet, image), "espnet_city_logits.pb")
    else:
        print(f"{espnet} not found: espnet_city_logits.pb not regenerated")


if __name__ == "__main__":
    main()
