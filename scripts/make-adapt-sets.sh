#!/bin/bash
# The adaptation experiments' tiles (docs/models.md, "Adapting to a new region"): for source S (epfl or
# dubai) and k tiles, runs/adapt-sets/S/kK/{images,masks} hold k tiles drawn evenly from S's training
# pool (the pairs the trainer does not hold out: sorted index % 5 != 0) as a user would bring them:
# the image as it is, and a 0/255 mask (road 255). The Dubai road class is #6EC1E4 (Unlabeled becomes
# 0: a user's mask has no third value); EPFL's anti-aliased masks are thresholded at 128.
# Scoring stays on S's held-out fifth (scripts/eval-road-sources.sh), which no set here touches.
# Nothing under ../shared is written. Usage: scripts/make-adapt-sets.sh SOURCE K [DATA_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source_name="${1:?usage: make-adapt-sets.sh epfl|dubai K [DATA_DIR]}"
k="${2:?usage: make-adapt-sets.sh epfl|dubai K [DATA_DIR]}"
data="${3:-${TERRASEG_DATA_DIR:-$root/../shared/data}}"
out="$root/runs/adapt-sets/$source_name/k$k"
rm -rf "$out"
mkdir -p "$out/images" "$out/masks"
"${PYTHON:-/usr/bin/python3}" - "$source_name" "$k" "$data" "$out" <<'PY'
import os, sys
import cv2
import numpy as np
source, k, data, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if source == "epfl":
    names = sorted(os.listdir(f"{data}/roads-epfl/images"))
    pairs = [(n[:-4], f"{data}/roads-epfl/images/{n}", f"{data}/roads-epfl/masks/{n}") for n in names]
elif source == "dubai":  # the trainer's order: tile<N>/<stem> sorted as strings
    keys = sorted(f"{t}/{n[:-4]}" for t in sorted(os.listdir(f"{data}/landcover-dubai"))
                  for n in os.listdir(f"{data}/landcover-dubai/{t}/images") if n.endswith(".jpg"))
    pairs = [(key.replace("/", "-"), f"{data}/landcover-dubai/{key.split('/')[0]}/images/{key.split('/')[1]}.jpg",
              f"{data}/landcover-dubai/{key.split('/')[0]}/masks/{key.split('/')[1]}.png") for key in keys]
else:
    sys.exit(f"make-adapt-sets: unknown source '{source}' (epfl, dubai)")
pool = [p for i, p in enumerate(pairs) if i % 5 != 0]
if not 1 <= k <= len(pool):
    sys.exit(f"make-adapt-sets: k must be 1..{len(pool)} for {source}")
for j in range(k):
    name, image, mask = pool[(j * len(pool)) // k]
    os.symlink(image, f"{out}/images/{name}{os.path.splitext(image)[1]}")
    if source == "epfl":
        m = cv2.imread(mask, cv2.IMREAD_GRAYSCALE)
        road = m >= 128
    else:
        m = cv2.imread(mask, cv2.IMREAD_COLOR)  # BGR
        road = (m[:, :, 2] == 0x6E) & (m[:, :, 1] == 0xC1) & (m[:, :, 0] == 0xE4)
    cv2.imwrite(f"{out}/masks/{name}.png", np.where(road, 255, 0).astype(np.uint8))
print(f"made {out}: {k} of the {len(pool)} training tiles of {source}")
PY
