#!/bin/bash
# Scores a road model on every labelled road source, each through `terraseg eval` (the predict path):
#   epfl      the EPFL validation pairs (every 5th sorted pair, 16 tiles; --pixel-size 0.45)
#   dubai     the held-out fifth of the Dubai tiles (13 images; Road = 1, Unlabeled ignored; --pixel-size 1.0,
#             or $DUBAI_PIXEL_SIZE to try another estimate)
#   vegas     SpaceNet Las Vegas (scripts/make-road-sources.sh; georeferenced; unknown band ignored)
#   bremen    the Bremen sample against its SUMO lane mask (scripts/make-samples.sh; georeferenced;
#             the unmodelled carriageway ignored; precision is a lower bound, see make-lane-mask.py)
# and prints one line per source: F1, precision, recall at the card's threshold, and the best threshold.
# Usage: scripts/eval-road-sources.sh MODEL.onnx [SOURCE ...] (default: all four). JSON reports are kept
# in runs/eval/<model's folder>/<model stem>/<source>.json (existing ones are replaced: they are derived, not user data).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
terraseg="${TERRASEG:-$root/build/pipeline/terraseg}"
data="${TERRASEG_DATA_DIR:-$root/../shared/data}"
model="${1:?usage: eval-road-sources.sh MODEL.onnx [epfl|dubai|vegas|bremen ...]}"
shift
sources=("$@")
[ "${#sources[@]}" -gt 0 ] || sources=(epfl dubai vegas bremen)
[ -f "$model" ] || { echo "eval-road-sources: no model at $model" >&2; exit 1; }
out="$root/runs/eval/$(basename "$(dirname "$(realpath "$model")")")/$(basename "${model%.onnx}")"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

link_pair() {  # link_pair SOURCE NAME IMAGE MASK: one pair under $work/SOURCE/{images,masks}/NAME.ext
  mkdir -p "$work/$1/images" "$work/$1/masks"
  ln -s "$3" "$work/$1/images/$2.${3##*.}"
  ln -s "$4" "$work/$1/masks/$2.${4##*.}"
}

prepare() {
  case "$1" in
    epfl)
      local i=0
      for image in $(ls "$data/roads-epfl/images" | sort); do
        [ $((i % 5)) -eq 0 ] && link_pair epfl "${image%.*}" "$data/roads-epfl/images/$image" "$data/roads-epfl/masks/$image"
        i=$((i + 1))
      done
      echo --threshold-mask 128 --pixel-size 0.45 ;;
    dubai)  # the trainer's order: tile<N>/<stem> sorted as strings, every 5th held out
      local i=0
      for key in $(cd "$data/landcover-dubai" && ls tile*/images/*.jpg | sed 's|/images/|/|; s|\.jpg$||' | sort); do
        local tile="${key%%/*}" stem="${key#*/}"
        [ $((i % 5)) -eq 0 ] && link_pair dubai "$tile-$stem" "$data/landcover-dubai/$tile/images/$stem.jpg" \
          "$data/landcover-dubai/$tile/masks/$stem.png"
        i=$((i + 1))
      done
      echo "--palette #6EC1E4=1,#3C1098=0,#8429F6=0,#FEDD3A=0,#E2A929=0,#9B9B9B=-1 --pixel-size ${DUBAI_PIXEL_SIZE:-1.0}" ;;
    vegas)
      "$root/scripts/make-road-sources.sh" "$data" >&2
      link_pair vegas vegas "$root/runs/sources/vegas/images/vegas.tif" "$root/runs/sources/vegas/masks/vegas.tif"
      echo --ignore-ids 255 ;;
    bremen)
      "$root/scripts/make-samples.sh" >&2
      link_pair bremen bremen "$root/samples/aerial/bremen-a1.tif" "$root/samples/aerial/bremen-a1-lanes.tif"
      echo --ignore-ids 255 ;;
    *) echo "eval-road-sources: unknown source '$1' (epfl, dubai, vegas, bremen)" >&2; exit 1 ;;
  esac
}

printf '%-7s %6s %6s %9s %6s  %s\n' source F1 prec. recall thr. "best threshold (F1)"
for source in "${sources[@]}"; do
  read -r -a flags < <(prepare "$source")
  "$terraseg" eval --quiet --model "$model" --images "$work/$source/images" --masks "$work/$source/masks" "${flags[@]}" \
    --json > "$work/$source.json"
  mv "$work/$source.json" "$out/$source.json"
  "${PYTHON:-/usr/bin/python3}" - "$out/$source.json" "$source" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
best = r.get("best_threshold", {})
road = r["classes"][1]
f1, p, rc = road["f1"], road["precision"], road["recall"]
fmt = lambda v: "-" if v is None else f"{v:.3f}"
print(f"{sys.argv[2]:<7} {fmt(f1):>6} {fmt(p):>6} {fmt(rc):>9} {fmt(r.get('threshold')):>6}  "
      f"{fmt(best.get('threshold'))} ({fmt(best.get('f1'))})")
PY
done
