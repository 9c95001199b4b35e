#include "terraseg/geo/qgis_style.hpp"

#include <cpl_vsi.h>
#include <gdal_priv.h>

#include <cctype>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/geo/markup.hpp"
#include "terraseg/geo/raster_io.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo {
namespace {

/// What every terraseg style starts with, up to its renderer element, and ends with after it.
constexpr const char* kQmlHead =
    "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
    "<qgis version=\"3.22.0\" styleCategories=\"Symbology\">\n"
    "  <pipe>\n";
constexpr const char* kQmlTail =
    "    <brightnesscontrast brightness=\"0\" contrast=\"0\" gamma=\"1\"/>\n"
    "    <huesaturation saturation=\"0\" grayscaleMode=\"0\" colorizeOn=\"0\" invertColors=\"0\"/>\n"
    "    <rasterresampler maxOversampling=\"2\"/>\n"
    "  </pipe>\n"
    "  <blendMode>0</blendMode>\n"
    "</qgis>\n";

}  // namespace

std::string qgis_style_path(const std::string& raster_path) {
  const std::filesystem::path path(raster_path);
  return (path.parent_path() / (path.stem().string() + ".qml")).string();
}

bool is_background_class(const std::vector<ClassInfo>& classes, const ClassInfo& info) {
  std::string name = info.name;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name == "background" || (classes.size() == 2 && info.id == 0);
}

std::string qgis_paletted_style(const std::vector<ClassInfo>& classes) {
  std::string qml = kQmlHead;
  qml +=
      "    <rasterrenderer type=\"paletted\" band=\"1\" opacity=\"1\" alphaBand=\"-1\" nodataColor=\"\">\n"
      "      <rasterTransparency/>\n"
      "      <colorPalette>\n";
  for (const ClassInfo& info : classes) {
    const std::string colour = "#" + hex_rgb(info.rgb, false);
    const std::string label = info.name.empty() ? "class " + std::to_string(info.id) : info.name;
    const char* alpha = is_background_class(classes, info) ? "0" : "255";
    qml += "        <paletteEntry value=\"" + std::to_string(info.id) + "\" color=\"" + colour + "\" alpha=\"" + alpha +
           "\" label=\"" + escape_markup(label) + "\"/>\n";
  }
  qml +=
      "      </colorPalette>\n"
      "    </rasterrenderer>\n";
  return qml + kQmlTail;
}

namespace {

void write_style_text(const std::string& raster_path, const std::string& text) {
  const std::string final_path = qgis_style_path(raster_path);
  TempPath temp(final_path);
  VSILFILE* file = VSIFOpenL(temp.temp().c_str(), "wb");
  if (file == nullptr) throw Error(final_path + ": cannot write the QGIS style; check the folder is writable");
  const bool written = VSIFWriteL(text.data(), 1, text.size(), file) == text.size();
  const bool closed = VSIFCloseL(file) == 0;
  if (!written || !closed) throw Error(final_path + ": writing the QGIS style failed (disk full?)");
  temp.commit();
}

std::string number(double value) {
  std::ostringstream text;  // as printf's %.6g
  text << std::setprecision(6) << value;
  return text.str();
}

}  // namespace

void write_qgis_style(const std::string& raster_path, const std::vector<ClassInfo>& classes) {
  write_style_text(raster_path, qgis_paletted_style(classes));
}

std::string qgis_pseudocolor_style(const ContinuousBand& band) {
  // Ramp stops: ColorBrewer-like sequential ramps, white-to-green for vegetation, yellow-to-red otherwise.
  const char* greens[] = {"#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b"};
  const char* heat[] = {"#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"};
  const char* const* ramp = band.greens ? greens : heat;
  const double max = band.max > band.min ? band.max : band.min + 1.0;
  std::string items;
  for (int i = 0; i < 5; ++i) {
    const double value = band.min + (max - band.min) * i / 4.0;
    items += "            <item value=\"" + number(value) + "\" color=\"" + ramp[i] + R"(" alpha="255" label=")" +
             number(value) + "\"/>\n";
  }
  return kQmlHead + std::string(R"(    <rasterrenderer type="singlebandpseudocolor" band=")") +
         std::to_string(band.band) + R"(" opacity="0.7" alphaBand="-1" classificationMin=")" + number(band.min) +
         "\" classificationMax=\"" + number(max) +
         "\" nodataColor=\"\">\n"
         "      <rasterTransparency/>\n"
         "      <minMaxOrigin><limits>None</limits><extent>WholeRaster</extent><statAccuracy>Estimated</statAccuracy>"
         "<cumulativeCutLower>0.02</cumulativeCutLower><cumulativeCutUpper>0.98</cumulativeCutUpper>"
         "<stdDevFactor>2</stdDevFactor></minMaxOrigin>\n"
         "      <rastershader>\n"
         "        <colorrampshader colorRampType=\"INTERPOLATED\" classificationMode=\"1\" clip=\"0\" minimumValue=\"" +
         number(band.min) + "\" maximumValue=\"" + number(max) + "\" labelPrecision=\"2\">\n" + items +
         "        </colorrampshader>\n"
         "      </rastershader>\n"
         "    </rasterrenderer>\n" +
         kQmlTail;
}

void write_qgis_pseudocolor_style(const std::string& raster_path, const ContinuousBand& band) {
  write_style_text(raster_path, qgis_pseudocolor_style(band));
}

void write_indicator_style(const std::string& grid_path) {
  GDALDatasetUniquePtr grid = open_raster(grid_path);
  GDALRasterBand* first = grid->GetRasterBand(1);
  ContinuousBand band;
  band.name = first->GetDescription();
  if (band.name.find("greenery") != std::string::npos) {
    band.greens = true;  // 0..1
  } else if (band.name.find("ratio") != std::string::npos) {
    // 0..1
  } else if (band.name.find("ivw") != std::string::npos) {
    band.min = 20.0;  // four levels of 1..5, summed, times 5 (docs/indicators.md)
    band.max = 100.0;
  } else {
    double min = 0.0, max = 0.0, mean = 0.0, sd = 0.0;
    detail::QuietGdal quiet;
    if (first->ComputeStatistics(FALSE, &min, &max, &mean, &sd, nullptr, nullptr) == CE_None) {
      band.min = min;
      band.max = max;
    }
  }
  write_qgis_pseudocolor_style(grid_path, band);
}

}  // namespace terraseg::geo
