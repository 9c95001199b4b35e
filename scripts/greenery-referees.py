#!/usr/bin/env python3
"""How well each greenery figure matches labelled vegetation, on the Dubai held-out fifth (issue 31).

Usage: scripts/greenery-referees.py [MODEL.onnx] [--terraseg build/pipeline/terraseg] [--data ../shared/data]

For each held-out Dubai image (the trainer's order: tile<N>/<stem> sorted as strings, every 5th) it
prints the labelled Vegetation share (Unlabeled left out), the land-cover model's Vegetation share
(`terraseg predict`, the users' path, at 1 m) and the RGB vegetation index's share. The index is the
rule of geo/src/indicators.cpp (add_rgb_index), restated here: ExG - ExR > 0 on chromatic coordinates,
green above blue, and pixels darker than 12 % of the image's brightest value not green.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from osgeo import gdal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEGETATION, UNLABELED = 0xFEDD3A, 0x9B9B9B
VEGETATION_ID = 3  # the land-cover card's Vegetation


def rgb_index_share(rgb):
    """Share of pixels with a colour (R + G + B > 0) that the RGB vegetation index calls green."""
    red, green, blue = (rgb[..., i].astype(np.float64) for i in range(3))
    total = red + green + blue
    coloured = total > 0
    safe = np.maximum(total, 1e-9)
    r, g, b = red / safe, green / safe, blue / safe
    dark_sum = 3.0 * 0.12 * max(red.max(), green.max(), blue.max())
    is_green = (total >= dark_sum) & (green > blue) & ((2 * g - r - b) - (1.4 * r - g) > 0)
    return float(is_green[coloured].mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=os.path.join(ROOT, "samples/models/landcover-aerial.onnx"))
    parser.add_argument("--terraseg", default=os.path.join(ROOT, "build/pipeline/terraseg"))
    parser.add_argument("--data", default=os.environ.get("TERRASEG_DATA_DIR", os.path.join(ROOT, "../shared/data")))
    args = parser.parse_args()
    dubai = os.path.join(args.data, "landcover-dubai")
    keys = sorted(f"{tile}/{name[:-4]}" for tile in os.listdir(dubai) if tile.startswith("tile")
                  for name in os.listdir(os.path.join(dubai, tile, "images")) if name.endswith(".jpg"))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for key in keys[::5]:
            tile, stem = key.split("/")
            image = os.path.join(dubai, tile, "images", stem + ".jpg")
            labels = cv2.imread(os.path.join(dubai, tile, "masks", stem + ".png"), cv2.IMREAD_COLOR)[..., ::-1]
            colour = (labels[..., 0].astype(np.int64) << 16) | (labels[..., 1].astype(np.int64) << 8) | labels[..., 2]
            labelled = (colour != UNLABELED) & (colour != 0)
            truth = float((colour == VEGETATION)[labelled].mean())
            mask_path = os.path.join(work, f"{tile}-{stem}.tif")
            subprocess.run([args.terraseg, "predict", "--model", args.model, image, "--pixel-size", "1.0",
                            "-o", mask_path, "-q"], check=True, stderr=subprocess.DEVNULL)
            model = float((gdal.Open(mask_path).ReadAsArray() == VEGETATION_ID).mean())
            index = rgb_index_share(cv2.imread(image, cv2.IMREAD_COLOR)[..., ::-1])
            rows.append((truth, model, index))
            print(f"{tile}-{stem:16s} labelled {truth:6.3f}  land cover {model:6.3f}  RGB index {index:6.3f}")
    a = np.array(rows)
    print(f"mean |difference| in points over {len(rows)} images: land cover vs labels "
          f"{100 * np.abs(a[:, 1] - a[:, 0]).mean():.1f}, RGB index vs labels {100 * np.abs(a[:, 2] - a[:, 0]).mean():.1f}, "
          f"land cover vs RGB index {100 * np.abs(a[:, 1] - a[:, 2]).mean():.1f} (largest "
          f"{100 * np.abs(a[:, 1] - a[:, 2]).max():.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
