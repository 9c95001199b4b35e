#!/usr/bin/env python3
"""ESPNetv2's Cityscapes encoder under a small decoder of terraseg's own, for any input size.

Usage: /usr/bin/python3 scripts/make-espnetv2-fpn.py OUT.onnx --classes K [--source ESPNETV2.onnx] [--seed S]

The shared ESPNetv2 (../shared/weights/espnetv2_city.onnx, MIT, sacmehta/EdgeNets) has a fixed input size:
its decoder's pyramid pooling pools to sizes that depend on it. Its encoder (`base_net.*`, ONNX nodes
/level1 .. /level4.6) takes any size that is a multiple of 16. This keeps the encoder with its trained
weights and puts a feature-pyramid decoder on it, freshly initialised (He-normal, seeded):

  level4 (1/16, 512 ch) -> 1x1 CBR 96 -> x2 -+
  level3 (1/8, 256 ch)  -> 1x1 CBR 96 -------+-> concat -> depthwise 3x3 CBR, 1x1 CBR 96 -> x2 -+
  level2 (1/4, 128 ch)  -> 1x1 CBR 48 -----------------------------------------------------+-> concat
      -> depthwise 3x3 CBR, 1x1 CBR 64 -> x2 -+
  level1 (1/2, 32 ch)   -> 1x1 CBR 32 --------+-> concat -> depthwise 3x3 CBR, 1x1 CBR 32 -> 1x1 conv K -> x2

CBR = convolution, batch normalisation, PReLU; x2 = linear Resize (half-pixel). About 0.6 GMAC at
360x480 on top of the encoder's. Decoder nodes are named /dec/..., so training configs can give the
encoder (/level*) a lower learning rate. Needs Debian's python3-onnx and python3-numpy.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAPS = {  # encoder output -> (stride, channels)
    "/level1/act/PRelu_output_0": (2, 32),
    "/level2_0/act/PRelu_output_0": (4, 128),
    "/level3.2/module_act/PRelu_output_0": (8, 256),
    "/level4.6/module_act/PRelu_output_0": (16, 512),
}


class Decoder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.inits = []

    def param(self, name, array):
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv(self, name, x, cin, cout, k=1, group=1, bias=False):
        fan_in = (cin // group) * k * k
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(cout, cin // group, k, k))
        inputs = [x, self.param(name + ".weight", w)]
        if bias:
            inputs.append(self.param(name + ".bias", np.zeros(cout)))
        out = name + "/Conv_output_0"
        self.nodes.append(helper.make_node("Conv", inputs, [out], name=name + "/Conv", kernel_shape=[k, k],
                                           pads=[k // 2] * 4, strides=[1, 1], group=group, dilations=[1, 1]))
        return out

    def cbr(self, name, x, cin, cout, k=1, group=1):
        y = self.conv(name, x, cin, cout, k, group)
        bn = name + "/bn/BatchNormalization_output_0"
        self.nodes.append(helper.make_node(
            "BatchNormalization",
            [y, self.param(name + ".bn.weight", np.ones(cout)), self.param(name + ".bn.bias", np.zeros(cout)),
             self.param(name + ".bn.running_mean", np.zeros(cout)), self.param(name + ".bn.running_var", np.ones(cout))],
            [bn], name=name + "/bn/BatchNormalization", epsilon=1e-5, momentum=0.9))
        out = name + "/act/PRelu_output_0"
        self.nodes.append(helper.make_node("PRelu", [bn, self.param(name + ".act.weight", np.full((cout, 1, 1), 0.25))],
                                           [out], name=name + "/act/PRelu"))
        return out

    def up2(self, name, x):
        out = name + "/Resize_output_0"
        roi = self.param(name + ".roi", np.zeros(0))
        scales = self.param(name + ".scales", np.array([1.0, 1.0, 2.0, 2.0]))
        self.nodes.append(helper.make_node("Resize", [x, roi, scales], [out], name=name + "/Resize", mode="linear",
                                           coordinate_transformation_mode="half_pixel"))
        return out

    def concat(self, name, xs):
        out = name + "/Concat_output_0"
        self.nodes.append(helper.make_node("Concat", xs, [out], name=name + "/Concat", axis=1))
        return out

    def fuse(self, name, xs, cin, cout):
        """Concatenation, depthwise 3x3 CBR, pointwise CBR."""
        x = self.concat(name, xs)
        x = self.cbr(name + "/dw", x, cin, cin, k=3, group=cin)
        return self.cbr(name + "/pw", x, cin, cout)


def encoder_nodes(graph):
    """The nodes the four taps depend on, in graph order."""
    producer = {out: i for i, n in enumerate(graph.node) for out in n.output}
    keep, stack = set(), [producer[t] for t in TAPS]
    while stack:
        i = stack.pop()
        if i in keep:
            continue
        keep.add(i)
        stack.extend(producer[x] for x in graph.node[i].input if x in producer)
    return [graph.node[i] for i in sorted(keep)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--classes", type=int, required=True, help="output classes K")
    parser.add_argument("--source", default=os.path.join(ROOT, "..", "shared", "weights", "espnetv2_city.onnx"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if os.path.exists(args.out):
        sys.exit(f"{args.out} already exists; give a new path (nothing is overwritten)")
    if not os.path.isfile(args.source):
        sys.exit(f"{args.source} not found: pass --source with the path of espnetv2_city.onnx (see ../shared/data/README.md)")
    if args.classes < 2:
        sys.exit("--classes must be at least 2")
    model = onnx.load(args.source)
    graph = model.graph
    nodes = encoder_nodes(graph)
    used = {x for n in nodes for x in n.input}
    if not all(n.name.startswith("/level") for n in nodes):
        sys.exit(f"{args.source}: the encoder taps depend on nodes outside /level*: not the expected ESPNetv2 export")
    inits = [i for i in graph.initializer if i.name in used]

    d = Decoder(np.random.default_rng(args.seed))
    l1, l2, l3, l4 = TAPS
    x = d.up2("/dec/up4", d.cbr("/dec/lat4", l4, 512, 96))
    x = d.fuse("/dec/fuse3", [x, d.cbr("/dec/lat3", l3, 256, 96)], 192, 96)
    x = d.up2("/dec/up3", x)
    x = d.fuse("/dec/fuse2", [x, d.cbr("/dec/lat2", l2, 128, 48)], 144, 64)
    x = d.up2("/dec/up2", x)
    x = d.fuse("/dec/fuse1", [x, d.cbr("/dec/lat1", l1, 32, 32)], 96, 32)
    x = d.conv("/dec/classifier", x, 32, args.classes, bias=True)
    logits = d.up2("/dec/up1", x)

    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])
    output = helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, args.classes, "height", "width"])
    new_graph = helper.make_graph(nodes + d.nodes, "espnetv2_encoder_fpn", [image], [output], inits + d.inits)
    new_model = helper.make_model(new_graph, opset_imports=[helper.make_opsetid("", 11)],
                                  producer_name="terraseg scripts/make-espnetv2-fpn.py")
    new_model.doc_string = ("ESPNetv2 Cityscapes encoder (MIT, sacmehta/EdgeNets) with a fresh feature-pyramid decoder, "
                            f"{args.classes} classes, seed {args.seed}")
    onnx.checker.check_model(new_model)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".part"
    onnx.save(new_model, tmp)
    os.rename(tmp, args.out)
    params = sum(int(np.prod(i.dims)) for i in new_graph.initializer)
    print(f"{args.out}: {len(nodes)} encoder nodes, {len(d.nodes)} decoder nodes, {params} parameters")


if __name__ == "__main__":
    main()
