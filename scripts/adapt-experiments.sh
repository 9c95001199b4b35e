#!/bin/bash
# The adaptation table of docs/models.md ("Adapting to a new region"): for source S, the model trained
# without S (configs/train/roads-loso-S-crop384.yaml) is adapted by `terraseg adapt` with its defaults
# on k = 2, 5 and 10 tiles of S's training pool (scripts/make-adapt-sets.sh), then scored on S's
# held-out fifth (scripts/eval-road-sources.sh), which adaptation never sees. Run alone: the time
# budget is wall-clock, and another CPU-heavy job would steal its steps.
# Usage: scripts/adapt-experiments.sh S BUDGET [K ...]   e.g. scripts/adapt-experiments.sh dubai 10m 2 5 10
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
terraseg="${TERRASEG:-$root/build/pipeline/terraseg}"
source_name="${1:?usage: adapt-experiments.sh epfl|dubai BUDGET [K ...]}"
budget="${2:?usage: adapt-experiments.sh epfl|dubai BUDGET [K ...]}"
shift 2
ks=("$@")
[ "${#ks[@]}" -gt 0 ] || ks=(2 5 10)
base="$root/runs/roads-loso-$source_name-crop384/roads-aerial.onnx"
[ -f "$base" ] || { echo "adapt-experiments: train the base first: terraseg train configs/train/roads-loso-$source_name-crop384.yaml" >&2; exit 1; }
case "$source_name" in
  dubai) pixel_size=1.0 ;;   # the Dubai tiles' estimate (docs/models.md)
  epfl) pixel_size=0.45 ;;
  *) echo "adapt-experiments: unknown source '$source_name' (epfl, dubai)" >&2; exit 1 ;;
esac
out="$root/runs/adapt/$source_name-$budget${ADAPT_TAG:+-$ADAPT_TAG}"
mkdir -p "$out"
for k in "${ks[@]}"; do
  "$root/scripts/make-adapt-sets.sh" "$source_name" "$k" >&2
  set_dir="$root/runs/adapt-sets/$source_name/k$k"
  rm -f "$out/k$k.onnx"
  start=$(date +%s)
  "$terraseg" adapt --model "$base" --images "$set_dir/images" --masks "$set_dir/masks" --pixel-size "$pixel_size" \
    --time-budget "$budget" ${ADAPT_FLAGS:-} -o "$out/k$k.onnx" 2> "$out/k$k.log"
  seconds=$(( $(date +%s) - start ))
  echo "k=$k adapted in ${seconds} s" | tee -a "$out/results.txt"
  TERRASEG="$terraseg" "$root/scripts/eval-road-sources.sh" "$out/k$k.onnx" "$source_name" | tee -a "$out/results.txt"
done
