#!/bin/bash
# Makes the aerial sample image samples/aerial/bremen-a1.tif (not committed; scripts/setup.sh runs this).
#
# Source: Debian's sumo-tools package ships a 0.25 m nadir aerial photo of the Bremer Kreuz (motorway
# A1 near Bremen, Germany, ~53.045 N 8.993 E) as the backdrop of its "highway" traffic game:
#   /usr/share/sumo/tools/game/highway/highway_bremen.gif   (1541 x 870, palette GIF; EPL-2.0 or GPL-2+)
# The georeference is exact, not guessed: the game's settings.xml places the picture as a decal of
# width x height metres centred at (centerX, centerY) in the simulation's coordinates, and
# highway.net.xml gives the projection of those coordinates (UTM 32N, WGS 84) and their offset
# (netOffset) from UTM. The lane lines of the network fall on the carriageways of the photo.
#
# The package is only downloaded and unpacked (apt-get download, no install, no dependencies).
# Also rasterises the network's lanes onto the photo's grid (scripts/make-lane-mask.py): OUTPUT-lanes.tif,
# a road reference mask of the carriageways (255 road, 0 elsewhere) to validate road models on.
# Idempotent: does nothing when both exist. Usage: scripts/make-samples.sh [OUTPUT.tif]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/samples/aerial/bremen-a1.tif}"
lanes="${out%.tif}-lanes.tif"
lines="${out%.tif}-lanes.gpkg"   # the same lanes as vectors (centrelines with their width)
[ -s "$out" ] && [ -s "$lanes" ] && [ -s "$lines" ] && exit 0

work="$(mktemp -d)"
chmod 777 "$work"  # apt-get download fetches as the _apt user
trap 'rm -rf "$work"' EXIT
game=/usr/share/sumo/tools/game/highway
if [ ! -f "$game/highway_bremen.gif" ]; then
  if ! (cd "$work" && apt-get download -q sumo-tools >/dev/null 2>&1); then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq  # a fresh machine (or image) may have no package lists yet
    (cd "$work" && apt-get download -q sumo-tools >/dev/null)
  fi
  dpkg-deb -x "$work"/sumo-tools_*.deb "$work/pkg"
  game="$work/pkg/usr/share/sumo/tools/game/highway"
fi

attr() {  # attr FILE ELEMENT ATTRIBUTE: the first value of ATTRIBUTE on an ELEMENT tag
  grep -o "<$2 [^>]*" "$1" | head -1 | grep -o " $3=\"[^\"]*\"" | cut -d'"' -f2
}
cx=$(attr "$game/settings.xml" decal centerX)
cy=$(attr "$game/settings.xml" decal centerY)
w=$(attr "$game/settings.xml" decal width)
h=$(attr "$game/settings.xml" decal height)
offset=$(attr "$game/highway.net.xml" location netOffset)
proj=$(attr "$game/highway.net.xml" location projParameter)
case "$proj" in
  *"+proj=utm +zone=32"*"+datum=WGS84"*) ;;
  *) echo "make-samples: unexpected projection '$proj' in highway.net.xml" >&2; exit 1 ;;
esac
read -r ulx uly lrx lry < <(awk -v cx="$cx" -v cy="$cy" -v w="$w" -v h="$h" -v off="$offset" 'BEGIN {
  split(off, o, ","); printf "%.2f %.2f %.2f %.2f\n", cx - w/2 - o[1], cy + h/2 - o[2], cx + w/2 - o[1], cy - h/2 - o[2] }')

mkdir -p "$(dirname "$out")"
if [ ! -s "$out" ]; then
  gdal_translate -q -expand rgb -a_srs EPSG:32632 -a_ullr "$ulx" "$uly" "$lrx" "$lry" \
    -co TILED=YES -co COMPRESS=DEFLATE "$game/highway_bremen.gif" "$work/bremen-a1.tif"
  mv "$work/bremen-a1.tif" "$out"
  echo "made $out (UTM 32N, upper left $ulx $uly, lower right $lrx $lry)"
fi
"${PYTHON:-/usr/bin/python3}" "$root/scripts/make-lane-mask.py" "$game/highway.net.xml" "$out" "$lanes" "$lines"
