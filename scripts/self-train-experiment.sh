#!/bin/bash
# Adaptation with no labels at all (issue 31's question, docs/models.md "Your own region"): the model
# trained without S labels k tiles of S itself, keeping only its confident pixels (P(road) above 0.9
# road, below 0.1 background, the rest unlabelled), and `terraseg adapt` trains on those labels as it
# would on a user's. Scored on S's held-out fifth like scripts/adapt-experiments.sh. Not a terraseg
# feature: it did not help (see the doc), so it stays an experiment.
# Usage: scripts/self-train-experiment.sh S BUDGET K   e.g. scripts/self-train-experiment.sh dubai 10m 10
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
terraseg="${TERRASEG:-$root/build/pipeline/terraseg}"
source_name="${1:?usage: self-train-experiment.sh epfl|dubai BUDGET K}"
budget="${2:?usage: self-train-experiment.sh epfl|dubai BUDGET K}"
k="${3:?usage: self-train-experiment.sh epfl|dubai BUDGET K}"
base="$root/runs/roads-loso-$source_name-crop384/roads-aerial.onnx"
case "$source_name" in dubai) pixel_size=1.0 ;; epfl) pixel_size=0.45 ;; *) exit 1 ;; esac
"$root/scripts/make-adapt-sets.sh" "$source_name" "$k" >&2
set_dir="$root/runs/adapt-sets/$source_name/k$k"
out="$root/runs/adapt/$source_name-$budget-selftrain"
rm -rf "$out" && mkdir -p "$out/scores" "$out/masks"
for image in "$set_dir"/images/*; do
  stem="$(basename "${image%.*}")"
  "$terraseg" predict -q --model "$base" "$image" --pixel-size "$pixel_size" -o "$out/scores/$stem-mask.tif" --logits "$out/scores/$stem.tif"
done
"${PYTHON:-/usr/bin/python3}" - "$out" <<'PY'
import glob, os, sys
import numpy as np
from osgeo import gdal
import cv2
out = sys.argv[1]
confident = labelled = 0
for path in sorted(glob.glob(f"{out}/scores/*.tif")):
    if path.endswith("-mask.tif"):
        continue
    s = gdal.Open(path).ReadAsArray().astype(np.float64)   # 2 x H x W logits (class 0 shifted by the threshold)
    p = 1.0 / (1.0 + np.exp(s[0] - s[1]))                  # P(road) at the card's threshold's scale
    ids = np.full(p.shape, 255, np.uint8)
    ids[p > 0.9] = 1
    ids[p < 0.1] = 0
    cv2.imwrite(f"{out}/masks/{os.path.basename(path)[:-4]}.png", ids)
    confident += int((ids != 255).sum()); labelled += int((ids == 1).sum())
print(f"pseudo-labels: {confident} confident pixels, {labelled} of them road")
PY
start=$(date +%s)
"$terraseg" adapt --model "$base" --images "$set_dir/images" --masks "$out/masks" --pixel-size "$pixel_size" \
  --time-budget "$budget" -o "$out/k$k.onnx" 2> "$out/k$k.log"
echo "self-training k=$k adapted in $(( $(date +%s) - start )) s" | tee -a "$out/results.txt"
TERRASEG="$terraseg" "$root/scripts/eval-road-sources.sh" "$out/k$k.onnx" "$source_name" | tee -a "$out/results.txt"
