#!/usr/bin/env python3
"""Rasterises the lanes of a SUMO network onto a georeferenced photo's grid: a road reference mask.

    scripts/make-lane-mask.py NET.xml PHOTO.tif OUT.tif [LINES.gpkg]

The network's <location> gives its projection (UTM, WGS 84) and the offset of its coordinates from it;
every <lane> is a polyline with a width (SUMO's default 3.2 m where the net gives none). Each lane is
drawn as the union of one rectangle per segment and a disc at every vertex (round joins), with GDAL's
rasteriser on exactly the photo's grid (size, geotransform, CRS). Values: 1 road (a lane), 0 not road,
255 unknown (nodata).

With LINES.gpkg, also writes the lanes as vectors: one centreline per lane, its `width` in metres, in
the network's UTM CRS (terraseg's tests burn them with `terraseg labels --width-field width`).

Used by scripts/make-samples.sh for the Bremen sample (samples/aerial/bremen-a1-lanes.tif), whose
lanes lie on the photo's carriageways: a road mask to validate road models on (never to train on).
The network models one carriageway of the motorway (right-hand traffic, all lanes one way), not the
other one, nor the slip roads beside it. So everything to the left of the lanes (in their driving
direction), where the unmodelled carriageway lies, is unknown rather than "not road"; on the right,
hard shoulders and a service road are real road surface outside the lanes and count against a model
that finds them, so precision against this mask is a lower bound.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from contextlib import contextmanager

SUMO_DEFAULT_LANE_WIDTH_M = 3.2
DISC_SIDES = 12
ROAD, UNKNOWN = 1, 255
LEFT_BAND_M = 1000.0  # beyond any photo this script is meant for: the whole left side is unknown


def fail(message):
    print(f"make-lane-mask: {message}", file=sys.stderr)
    sys.exit(1)


def utm_epsg(proj):
    zone = re.search(r"\+zone=(\d+)", proj)
    if not zone or "+proj=utm" not in proj or "WGS84" not in proj:
        fail(f"the network's projection '{proj}' is not UTM on WGS 84; only that is supported")
    return (32700 if "+south" in proj else 32600) + int(zone.group(1))


def segment_rectangle(a, b, half):
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    if length == 0.0:
        return None
    nx, ny = -dy / length * half, dx / length * half
    return [[a[0] + nx, a[1] + ny], [b[0] + nx, b[1] + ny], [b[0] - nx, b[1] - ny], [a[0] - nx, a[1] - ny],
            [a[0] + nx, a[1] + ny]]


def left_side(points):
    """Everything left of a lane's centreline (driving direction): one polygon per lane, the line closed
    far out on its left, so bends leave no gaps."""
    def left_normal(a, b):
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        return (-(b[1] - a[1]) / length, (b[0] - a[0]) / length) if length > 0 else None
    normals = [n for n in (left_normal(a, b) for a, b in zip(points, points[1:])) if n]
    if not normals:
        return None
    # Carried on along the lane's direction past both ends (the forward direction is the left normal
    # turned clockwise), so consecutive lanes meeting at an angle leave no wedge between them.
    (fx, fy), (lx, ly) = normals[0], normals[-1]
    start = [points[0][0] - fy * LEFT_BAND_M, points[0][1] + fx * LEFT_BAND_M]
    end = [points[-1][0] + ly * LEFT_BAND_M, points[-1][1] - lx * LEFT_BAND_M]
    return ([start] + [list(p) for p in points] + [end, [end[0] + lx * LEFT_BAND_M, end[1] + ly * LEFT_BAND_M],
                                                   [start[0] + fx * LEFT_BAND_M, start[1] + fy * LEFT_BAND_M], start])


def disc(centre, radius):
    ring = [[centre[0] + radius * math.cos(2 * math.pi * k / DISC_SIDES),
             centre[1] + radius * math.sin(2 * math.pi * k / DISC_SIDES)] for k in range(DISC_SIDES)]
    return ring + [ring[0]]


def touches(a, b, extent):
    xmin, ymin, xmax, ymax = extent
    return max(a[0], b[0]) >= xmin and min(a[0], b[0]) <= xmax and max(a[1], b[1]) >= ymin and min(a[1], b[1]) <= ymax


def lane_lines(net_path):
    """Each lane's centreline in UTM with its width, and the EPSG code."""
    root = ET.parse(net_path).getroot()
    location = root.find("location")
    if location is None:
        fail(f"{net_path} has no <location> element: cannot georeference its lanes")
    ox, oy = (float(v) for v in location.get("netOffset").split(","))
    lines = []
    for lane in root.iter("lane"):
        points = [tuple(float(v) for v in p.split(",")[:2]) for p in lane.get("shape").split()]
        lines.append(([[x - ox, y - oy] for x, y in points], float(lane.get("width", SUMO_DEFAULT_LANE_WIDTH_M)),
                      lane.get("id", "")))
    return lines, utm_epsg(location.get("projParameter", ""))


@contextmanager
def geojson_file(features):
    """The features as a GeoJSON FeatureCollection in a temporary file, for GDAL's tools."""
    with tempfile.TemporaryDirectory() as work:
        vector = os.path.join(work, "lanes.geojson")
        with open(vector, "w") as f:
            json.dump({"type": "FeatureCollection", "features": features}, f)
        yield vector


def write_lines(net_path, gpkg_path):
    lines, epsg = lane_lines(net_path)
    features = [{"type": "Feature", "properties": {"lane": lane_id, "width": width},
                 "geometry": {"type": "LineString", "coordinates": points}}
                for points, width, lane_id in lines if len(points) >= 2]
    with geojson_file(features) as vector:
        part = gpkg_path + ".part.gpkg"
        try:
            subprocess.run(["ogr2ogr", "-q", "-f", "GPKG", "-a_srs", f"EPSG:{epsg}", "-nln", "lanes", part, vector],
                           check=True)
            os.replace(part, gpkg_path)
        finally:
            if os.path.exists(part):
                os.remove(part)
    print(f"made {gpkg_path} ({len(features)} lane centrelines with their width, EPSG:{epsg})")


def lane_polygons(net_path, extent):
    """(ring, value) pairs in burn order. The unknown side is taken only from segments over the photo:
    the network reaches far beyond it, with roads in every direction."""
    root = ET.parse(net_path).getroot()
    location = root.find("location")
    if location is None:
        fail(f"{net_path} has no <location> element: cannot georeference its lanes")
    ox, oy = (float(v) for v in location.get("netOffset").split(","))
    epsg = utm_epsg(location.get("projParameter", ""))
    lanes, unknown = [], []
    for lane in root.iter("lane"):
        half = float(lane.get("width", SUMO_DEFAULT_LANE_WIDTH_M)) / 2.0
        points = [tuple(float(v) for v in p.split(",")[:2]) for p in lane.get("shape").split()]
        points = [(x - ox, y - oy) for x, y in points]  # network coordinates -> UTM
        segments = list(zip(points, points[1:]))
        lanes.extend(segment_rectangle(a, b, half) for a, b in segments)
        lanes.extend(disc(p, half) for p in points)
        if any(touches(a, b, extent) for a, b in segments):
            unknown.append(left_side(points))
    lanes = [p for p in lanes if p]
    if not lanes:
        fail(f"{net_path} has no lanes")
    # Burnt in order: the unknown side first, the lanes over it.
    return [(ring, UNKNOWN) for ring in unknown if ring] + [(ring, ROAD) for ring in lanes], epsg


def photo_grid(photo_path):
    info = json.loads(subprocess.run(["gdalinfo", "-json", photo_path], check=True, capture_output=True,
                                     text=True).stdout)
    width, height = info["size"]
    gt = info["geoTransform"]
    if gt[2] != 0 or gt[4] != 0:
        fail(f"{photo_path} is rotated; only north-up grids are supported")
    return width, height, gt


def main():
    if len(sys.argv) not in (4, 5):
        fail("usage: make-lane-mask.py NET.xml PHOTO.tif OUT.tif [LINES.gpkg]")
    net_path, photo_path, out_path = sys.argv[1:4]
    if len(sys.argv) == 5:
        write_lines(net_path, sys.argv[4])
    width, height, gt = photo_grid(photo_path)
    xmin, ymax = gt[0], gt[3]
    xmax, ymin = xmin + width * gt[1], ymax + height * gt[5]
    polygons, epsg = lane_polygons(net_path, (xmin, ymin, xmax, ymax))
    features = [{"type": "Feature", "properties": {"value": value},
                 "geometry": {"type": "Polygon", "coordinates": [ring]}} for ring, value in polygons]
    with geojson_file(features) as vector:
        raster = out_path + ".part"
        try:
            subprocess.run(["gdal_rasterize", "-q", "-a", "value", "-init", "0", "-a_nodata", str(UNKNOWN),
                            "-ot", "Byte", "-of", "GTiff", "-a_srs", f"EPSG:{epsg}", "-te", repr(xmin), repr(ymin), repr(xmax), repr(ymax), "-ts", str(width), str(height),
                            "-co", "COMPRESS=DEFLATE", vector, raster], check=True)
            os.replace(raster, out_path)  # atomic: no partial mask under the final name
        finally:
            if os.path.exists(raster):
                os.remove(raster)
    pieces = sum(1 for _, value in polygons if value == ROAD)
    print(f"made {out_path} ({pieces} lane pieces, EPSG:{epsg}, {width}x{height}; 1 road, 0 not road, 255 unknown)")


if __name__ == "__main__":
    main()
