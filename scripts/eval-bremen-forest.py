#!/usr/bin/env python3
"""What a land-cover model calls the Bremen sample's dense forest (issue 16: >= 80 % Vegetation).

Usage: scripts/eval-bremen-forest.py MODEL.onnx [--terraseg build/pipeline/terraseg] [--json OUT.json]

Predicts samples/aerial/bremen-a1.tif with `terraseg predict` (the users' path: resampled to the card's
pixel size and back) and reports the share of each class inside a reference polygon of closed forest
canopy. The polygon was drawn by eye on the photo (0.25 m, 1541 x 870; pixel coordinates below),
inside the canopy, clear of its edges, the clearing in the north-east and the lake shore; it is a
validation reference only, never training data.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from osgeo import gdal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "samples/aerial/bremen-a1.tif")
# Closed canopy south-east of the motorway, north of the lake: (column, row) of the 0.25 m photo.
FOREST = [(660, 610), (800, 470), (950, 380), (1100, 430), (1250, 440), (1380, 450), (1380, 480),
          (1240, 540), (1100, 660), (1000, 800), (900, 840), (760, 840), (700, 740)]


def forest_mask(width, height):
    """1 inside the polygon, 0 outside, on the photo's pixel grid."""
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.array(FOREST, np.int32)], 1)
    return mask


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--terraseg", default=os.path.join(ROOT, "build/pipeline/terraseg"))
    parser.add_argument("--json", help="also write the result here (a new file)")
    parser.add_argument("--threads", default="1")
    args = parser.parse_args()
    if not os.path.isfile(PHOTO):
        sys.exit(f"{PHOTO} is missing: run scripts/make-samples.sh (scripts/setup.sh does) first")
    if args.json and os.path.exists(args.json):
        sys.exit(f"--json: {args.json} already exists; give a new file")
    info = json.loads(subprocess.run([args.terraseg, "info", "--json", args.model], check=True,
                                     capture_output=True, text=True).stdout)
    names = {c["id"]: c["name"] for c in info["card"]["classes"]}
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([args.terraseg, "predict", "-q", "--threads", args.threads, "--model", args.model,
                        "--output-dir", out, PHOTO], check=True)
        dataset = gdal.Open(os.path.join(out, "bremen-a1.tif"))  # kept alive while its band is read
        classes = dataset.GetRasterBand(1).ReadAsArray()
        dataset = None
    inside = forest_mask(classes.shape[1], classes.shape[0]) == 1
    values, counts = np.unique(classes[inside], return_counts=True)
    total = int(counts.sum())
    shares = {names.get(int(v), f"class {int(v)}"): round(int(n) / total, 4) for v, n in zip(values, counts)}
    result = {"model": args.model, "photo": os.path.relpath(PHOTO, ROOT), "forest_pixels": total,
              "shares": dict(sorted(shares.items(), key=lambda kv: -kv[1]))}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "x") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
