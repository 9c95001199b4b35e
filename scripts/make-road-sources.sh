#!/bin/bash
# Prepares the georeferenced SpaceNet Las Vegas road pair (../shared/data/spacenet-vegas) as a training
# and validation source for the road model: runs/sources/vegas/{images,masks}/vegas.tif.
#
# The roads model works at 0.45 m (its card); the Vegas pair is 2.7e-6 degree pixels (0.30 m north-south,
# 0.24 m east-west at 36 N), 11-bit panchromatic. Both rasters are warped to UTM 11N at 0.45 m (image:
# average; mask: average, so that a threshold of 128 keeps the road where it covers half the pixel),
# then the image is stretched from its min..max onto 0..255 and replicated to three bands: the same
# stretch and grey-to-RGB `terraseg predict` applies to a 16-bit single-band input.
#
# The mask is SpaceNet's: road centrelines buffered to ~2 m, narrower than the streets (~10 m curb to
# curb at this site). So it is written as class ids: 1 road (the label), 255 unknown within 6 m of it
# (the rest of the street, or not: the label cannot say) and outside the image's footprint after the
# warp, 0 not road elsewhere. Train and score with `mask: {type: ids}` (ids >= 2 are ignored).
# Nothing under ../shared is written. Idempotent. Usage: scripts/make-road-sources.sh [DATA_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-${TERRASEG_DATA_DIR:-$root/../shared/data}}"
src="$data/spacenet-vegas"
out="$root/runs/sources/vegas"
for f in road_mask_input.tif sample_road_raster_mask.tif; do
  [ -f "$src/$f" ] || { echo "make-road-sources: $src/$f is missing (set TERRASEG_DATA_DIR or pass the data dir)" >&2; exit 1; }
done
[ -s "$out/images/vegas.tif" ] && [ -s "$out/masks/vegas.tif" ] && exit 0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
warp=(gdalwarp -q -t_srs EPSG:32611 -tr 0.45 0.45 -tap -r average -co COMPRESS=DEFLATE)
"${warp[@]}" -dstnodata 0 "$src/road_mask_input.tif" "$work/pan.tif"  # the pan's values start at 1
"${warp[@]}" "$src/sample_road_raster_mask.tif" "$work/mask.tif"
read -r lo hi < <(gdalinfo -mm "$src/road_mask_input.tif" | sed -n 's/.*Computed Min\/Max=\([0-9.]*\),\([0-9.]*\).*/\1 \2/p')
[ -n "${hi:-}" ] || { echo "make-road-sources: could not read the value range of $src/road_mask_input.tif" >&2; exit 1; }
gdal_translate -q -ot Byte -scale "$lo" "$hi" 0 255 -b 1 -b 1 -b 1 -co COMPRESS=DEFLATE "$work/pan.tif" "$work/vegas.tif"
gdal_translate -q -of PNG -b 1 "$work/vegas.tif" "$work/grey.png"
gdal_translate -q -of PNG "$work/mask.tif" "$work/mask.png"
"${PYTHON:-/usr/bin/python3}" - "$work" <<'PY'
import sys
import cv2
import numpy as np
work = sys.argv[1]
grey = cv2.imread(f"{work}/grey.png", cv2.IMREAD_UNCHANGED)
mask = cv2.imread(f"{work}/mask.png", cv2.IMREAD_UNCHANGED)
road = mask >= 128
reach = int(round(6.0 / 0.45))  # 6 m in pixels
near = cv2.dilate(road.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)) > 0
ids = np.zeros_like(mask)
ids[near] = 255
ids[grey == 0] = 255
ids[road] = 1
cv2.imwrite(f"{work}/ids.png", ids)
PY
corners=($(gdalinfo "$work/mask.tif" | sed -n 's/^\(Upper Left\|Lower Right\) *( *\([-0-9.]*\), *\([-0-9.]*\)).*/\2 \3/p'))
[ "${#corners[@]}" -eq 4 ] || { echo "make-road-sources: could not read the corners of the warped mask" >&2; exit 1; }
gdal_translate -q -a_srs EPSG:32611 -a_ullr "${corners[@]}" -a_nodata 255 -co COMPRESS=DEFLATE \
  "$work/ids.png" "$work/ids.tif"
mkdir -p "$out/images" "$out/masks"
mv "$work/vegas.tif" "$out/images/vegas.tif"
mv "$work/ids.tif" "$out/masks/vegas.tif"
echo "made $out/{images,masks}/vegas.tif (UTM 11N, 0.45 m, stretched $lo..$hi -> 0..255)"
