#!/bin/sh
# Gives the CamVid validation photos SYNTHETIC, deterministic coordinates for the walkability demo
# (configs/camvid-walkability.yaml). CamVid was filmed in Cambridge UK, but the real positions of the
# frames are not published with the data: these points are simply laid along a parallel at
# lat 52.2053 from lon 0.1218 eastwards, 20 m apart (0.00029256 degrees of longitude at that latitude,
# WGS 84), one point per photo in file-name order. Nothing is copied: the CSV names the photos where
# they are.
#
# usage: samples/street/camvid-points.sh [CAMVID_VAL_DIR] [OUT_CSV]
#   defaults: ../shared/data/camvid/val   out/camvid-walkability/camvid-val-points.csv
set -eu
data=${1:-../shared/data/camvid/val}
out=${2:-out/camvid-walkability/camvid-val-points.csv}
[ -d "$data" ] || { echo "camvid-points.sh: '$data' is not a directory (set CAMVID_VAL_DIR)" >&2; exit 1; }
data=$(cd "$data" && pwd)
mkdir -p "$(dirname "$out")"
{
  echo "id,lon,lat,image"
  ls "$data" | grep '\.png$' | LC_ALL=C sort |
    awk -v dir="$data" '{ id = $0; sub(/\.png$/, "", id);
                          printf "%s,%.7f,%.7f,%s/%s\n", id, 0.1218 + (NR - 1) * 0.00029256, 52.2053, dir, $0 }'
} > "$out"
echo "wrote $(($(wc -l < "$out") - 1)) synthetic points to $out"
