#include "terraseg/geo/qgis_style.hpp"

#include <cpl_vsi.h>

#include <cstdio>
#include <filesystem>

#include "terraseg/core/error.hpp"
#include "terraseg/geo/markup.hpp"
#include "terraseg/geo/writer.hpp"

namespace terraseg::geo {

std::string qgis_style_path(const std::string& raster_path) {
  const std::filesystem::path path(raster_path);
  return (path.parent_path() / (path.stem().string() + ".qml")).string();
}

std::string qgis_paletted_style(const std::vector<ClassInfo>& classes) {
  std::string qml =
      "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
      "<qgis version=\"3.22.0\" styleCategories=\"Symbology\">\n"
      "  <pipe>\n"
      "    <rasterrenderer type=\"paletted\" band=\"1\" opacity=\"1\" alphaBand=\"-1\" nodataColor=\"\">\n"
      "      <rasterTransparency/>\n"
      "      <colorPalette>\n";
  for (const ClassInfo& info : classes) {
    char colour[8];
    std::snprintf(colour, sizeof colour, "#%02x%02x%02x", info.rgb[0], info.rgb[1], info.rgb[2]);
    const std::string label = info.name.empty() ? "class " + std::to_string(info.id) : info.name;
    qml += "        <paletteEntry value=\"" + std::to_string(info.id) + "\" color=\"" + colour +
           "\" alpha=\"255\" label=\"" + escape_markup(label) + "\"/>\n";
  }
  qml +=
      "      </colorPalette>\n"
      "    </rasterrenderer>\n"
      "    <brightnesscontrast brightness=\"0\" contrast=\"0\" gamma=\"1\"/>\n"
      "    <huesaturation saturation=\"0\" grayscaleMode=\"0\" colorizeOn=\"0\" invertColors=\"0\"/>\n"
      "    <rasterresampler maxOversampling=\"2\"/>\n"
      "  </pipe>\n"
      "  <blendMode>0</blendMode>\n"
      "</qgis>\n";
  return qml;
}

void write_qgis_style(const std::string& raster_path, const std::vector<ClassInfo>& classes) {
  const std::string final_path = qgis_style_path(raster_path);
  TempPath temp(final_path);
  const std::string text = qgis_paletted_style(classes);
  VSILFILE* file = VSIFOpenL(temp.temp().c_str(), "wb");
  if (file == nullptr) throw Error(final_path + ": cannot write the QGIS style; check the folder is writable");
  const bool written = VSIFWriteL(text.data(), 1, text.size(), file) == text.size();
  const bool closed = VSIFCloseL(file) == 0;
  if (!written || !closed) throw Error(final_path + ": writing the QGIS style failed (disk full?)");
  temp.commit();
}

}  // namespace terraseg::geo
