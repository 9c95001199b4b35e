#!/usr/bin/python3
"""Opens a terraseg run's outputs in QGIS itself (PyQGIS, headless) as a GIS user would, and checks
what the user sees: every mask and grid loads with its CRS; QGIS picks up the .qml beside it; a mask
is drawn paletted with one legend entry per class, named, and a binary mask's background is see-through
(rendered over nothing, its pixels are transparent, its road pixels opaque); an indicator grid is drawn
as a pseudocolour ramp; GeoPackages load with their features. Renders a PNG of each raster into
RENDER_DIR (default: a new temporary folder, printed) for a look.

    scripts/check-qgis.py OUT_DIR [RENDER_DIR]   (exit 0: all good; 1: a problem, printed; 77: no PyQGIS)

Needs Debian's python3-qgis (scripts/setup.sh installs it); runs with QT_QPA_PLATFORM=offscreen.
"""
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
try:
    from qgis.core import (QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsRasterLayer,
                           QgsVectorLayer)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor
    from osgeo import gdal
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"check-qgis: skipped: PyQGIS is not installed ({error}); apt-get install python3-qgis")
    sys.exit(77)


def render(layer, png):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    width = 400
    height = max(1, round(width * layer.extent().height() / max(layer.extent().width(), 1e-9)))
    settings.setOutputSize(QSize(width, height))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(str(png))
    return image


def alpha_counts(image):
    transparent = opaque = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            alpha = (image.pixel(x, y) >> 24) & 0xFF
            if alpha == 0:
                transparent += 1
            elif alpha == 255:
                opaque += 1
    return transparent, opaque


def main(out_dir: Path, shots: Path) -> int:
    app = QgsApplication([], False)
    app.initQgis()
    problems = []
    shots.mkdir(parents=True, exist_ok=True)
    rasters = sorted(out_dir.rglob("*.tif"))
    masks, grids = [], []
    for path in rasters:  # class masks are Byte; indicator grids are Float32
        probe = QgsRasterLayer(str(path), path.stem)
        (masks if probe.isValid() and probe.dataProvider().dataType(1) == 1 else grids).append(path)
    for path in masks + grids:
        layer = QgsRasterLayer(str(path), path.stem)
        where = path.relative_to(out_dir)
        if not layer.isValid():
            problems.append(f"{where}: QGIS cannot load it")
            continue
        photo = "street-view" in path.parts and "masks" in path.parts  # a photo's classes: no place on Earth
        if not layer.crs().isValid() and not photo:
            problems.append(f"{where}: loads without a CRS")
        style = path.with_suffix(".qml")
        if not style.exists():
            problems.append(f"{where}: no QGIS style beside it ({style.name})")
        # QGIS applies "<stem>.qml" beside a file on load when the user opens it; loadDefaultStyle does
        # exactly that.
        message, loaded = layer.loadDefaultStyle()
        if not loaded:
            problems.append(f"{where}: QGIS did not load its style: {message}")
        renderer = layer.renderer()
        if photo:
            print(f"check-qgis: {where}: a street photo's mask, {renderer.type()}, no CRS (a photo has none)")
            continue
        image = render(layer, shots / (str(where).replace("/", "-") + ".png"))
        if path in masks:
            if renderer.type() != "paletted":
                problems.append(f"{where}: drawn as {renderer.type()}, not as paletted classes")
                continue
            classes = renderer.classes()
            labels = [c.label for c in classes]
            legend = renderer.legendSymbologyItems()
            if len(legend) != len(classes) or len(classes) > 50:
                problems.append(f"{where}: the legend lists {len(legend)} entries for {len(classes)} classes")
            if any(not label for label in labels):
                problems.append(f"{where}: a class has no name in the legend: {labels}")
            transparent, opaque = alpha_counts(image)
            dataset = gdal.Open(str(path))  # kept alive while its band is read
            histogram = dataset.GetRasterBand(1).GetHistogram(-0.5, 255.5, 256, False, False)
            if len(classes) == 2:  # a binary mask: background see-through, the class opaque, where present
                if histogram[0] > 0 and transparent == 0:
                    problems.append(f"{where}: its background is drawn opaque (it would hide the imagery)")
                if histogram[1] > 0 and opaque == 0:
                    problems.append(f"{where}: its class pixels are not drawn")
            print(f"check-qgis: {where}: paletted, {len(classes)} classes {labels}, "
                  f"{transparent} transparent / {opaque} opaque samples")
        else:
            if renderer.type() != "singlebandpseudocolor":
                problems.append(f"{where}: drawn as {renderer.type()}, not as a pseudocolour ramp of one indicator")
                continue
            band = layer.bandName(renderer.band())
            print(f"check-qgis: {where}: pseudocolour of band {renderer.band()} ({band}), "
                  f"{layer.bandCount()} bands one click away")
    for path in sorted(out_dir.rglob("*.gpkg")):
        layer = QgsVectorLayer(str(path), path.stem, "ogr")
        where = path.relative_to(out_dir)
        if not layer.isValid():
            problems.append(f"{where}: QGIS cannot load it")
            continue
        print(f"check-qgis: {where}: {layer.featureCount()} features, CRS {layer.crs().authid() or '?'}")
    for problem in problems:
        print(f"check-qgis: PROBLEM: {problem}")
    print(f"check-qgis: {len(masks)} masks, {len(grids)} grids checked, {len(problems)} problem(s); "
          f"renders in {shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or not Path(sys.argv[1]).is_dir():
        print(__doc__)
        sys.exit(2)
    renders = Path(sys.argv[2]) if len(sys.argv) == 3 else Path(tempfile.mkdtemp(prefix="terraseg-qgis-"))
    code = main(Path(sys.argv[1]), renders)
    sys.stdout.flush()
    os._exit(code)  # QgsApplication's teardown crashes headless PyQGIS 3.22 at exit; nothing is left to do
