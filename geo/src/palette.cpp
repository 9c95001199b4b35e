#include "palette.hpp"

#include <gdal_utils.h>
#include <gdal_vrt.h>

#include <memory>
#include <optional>

#include "gdal_util.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg::geo::detail {
namespace {

bool is_palette(GDALRasterBand& band) {
  return band.GetColorInterpretation() == GCI_PaletteIndex && band.GetColorTable() != nullptr;
}

struct Layout {
  int palette = 0;  ///< the palette band, 1-based
  int alpha = 0;    ///< an alpha band beside it, 0 = none
};

Layout find_layout(GDALDataset& dataset, const std::string& path) {
  Layout layout;
  const int count = dataset.GetRasterCount();
  for (int b = 1; b <= count; ++b) {
    GDALRasterBand& band = *dataset.GetRasterBand(b);
    if (is_palette(band)) {
      if (layout.palette != 0) {
        throw Error("'" + path + "': bands " + std::to_string(layout.palette) + " and " + std::to_string(b) +
                    " are both palette indices (colour tables); terraseg reads one palette band: expand the one "
                    "you mean first (gdal_translate -b N -expand rgb)");
      }
      layout.palette = b;
    } else if (band.GetColorInterpretation() == GCI_AlphaBand && layout.alpha == 0) {
      layout.alpha = b;
    }
  }
  if (layout.palette != 0 && count > (layout.alpha != 0 ? 2 : 1)) {
    throw Error("'" + path + "': band " + std::to_string(layout.palette) + " of its " + std::to_string(count) +
                " bands is palette indices (a colour table) beside other bands; terraseg expands a palette band "
                "alone (or with an alpha band): expand it first (gdal_translate -b " +
                std::to_string(layout.palette) + " -expand rgb) or pass a raster of colour bands");
  }
  return layout;
}

/// "gray", "rgb" or "rgba" for the palette band: transparency (entries or a nodata index) needs
/// alpha unless an alpha band already says which pixels are valid.
std::string expansion(GDALRasterBand& band, bool alpha_band) {
  const GDALColorTable& table = *band.GetColorTable();
  bool grey = true;
  bool transparent = false;
  for (int i = 0; i < table.GetColorEntryCount(); ++i) {
    const GDALColorEntry* entry = table.GetColorEntry(i);
    if (entry->c1 != entry->c2 || entry->c1 != entry->c3) grey = false;
    if (entry->c4 < 255) transparent = true;
  }
  if (table.GetPaletteInterpretation() == GPI_Gray) grey = true;
  int has_nodata = FALSE;
  band.GetNoDataValue(&has_nodata);
  if ((transparent || has_nodata != FALSE) && !alpha_band) return "rgba";
  return grey ? "gray" : "rgb";
}

}  // namespace

bool has_palette(GDALDataset& dataset) {
  for (int b = 1; b <= dataset.GetRasterCount(); ++b) {
    if (is_palette(*dataset.GetRasterBand(b))) return true;
  }
  return false;
}

GDALDatasetUniquePtr expand_palette(GDALDataset& dataset, const std::string& path, const WarningHook& warn) {
  const Layout layout = find_layout(dataset, path);
  if (layout.palette == 0) return nullptr;
  GDALRasterBand& palette = *dataset.GetRasterBand(layout.palette);
  const std::string expand = expansion(palette, layout.alpha != 0);
  QuietGdal quiet;
  const std::string band_number = std::to_string(layout.palette);
  CPLStringList args;
  for (const char* arg : {"-of", "VRT", "-b", band_number.c_str(), "-expand", expand.c_str()}) args.AddString(arg);
  std::unique_ptr<GDALTranslateOptions, decltype(&GDALTranslateOptionsFree)> options(
      GDALTranslateOptionsNew(args.List(), nullptr), &GDALTranslateOptionsFree);
  int usage_error = FALSE;
  GDALDatasetUniquePtr colours(
      GDALDataset::FromHandle(GDALTranslate("", GDALDataset::ToHandle(&dataset), options.get(), &usage_error)));
  if (!colours) {
    throw Error("'" + path + "' is paletted (band " + std::to_string(layout.palette) +
                " holds indices into a colour table) and GDAL cannot expand it into colours (" + last_gdal_message() +
                "); expand it first (gdal_translate -expand rgb)");
  }
  if (layout.alpha != 0) {
    check(colours->AddBand(GDT_Byte, nullptr), "'" + path + "': keeping its alpha band beside the palette's colours");
    const int band = colours->GetRasterCount();
    auto* const target =
        static_cast<VRTSourcedRasterBandH>(GDALGetRasterBand(GDALDataset::ToHandle(colours.get()), band));
    check(VRTAddSimpleSource(target, GDALRasterBand::ToHandle(dataset.GetRasterBand(layout.alpha)), -1, -1, -1, -1, -1,
                             -1, -1, -1, "near", VRT_NODATA_UNSET),
          "'" + path + "': keeping its alpha band beside the palette's colours");
    check(colours->GetRasterBand(band)->SetColorInterpretation(GCI_AlphaBand),
          "'" + path + "': marking the kept band as alpha");
  }
  // Opened again from its own XML: the description is then a VRT every other VRT can name.
  char** xml = colours->GetMetadata("xml:VRT");
  if (xml == nullptr || xml[0] == nullptr) throw Error("'" + path + "': cannot describe its expanded palette as a VRT");
  const std::string text = xml[0];
  colours.reset();
  GDALDatasetUniquePtr view(GDALDataset::Open(text.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!view) {
    throw Error("'" + path + "' is paletted and its expanded colours cannot be read (" + last_gdal_message() +
                "); expand it first (gdal_translate -expand rgb)");
  }
  if (warn) {
    const int entries = palette.GetColorTable()->GetColorEntryCount();
    const std::string what = expand == "gray" ? "the grey levels" : "the red, green and blue colours";
    warn("'" + path + "' is paletted (band " + std::to_string(layout.palette) +
         " holds indices into a colour table of " + std::to_string(entries) + " entries); it is read as " + what +
         " the indices stand for" + (expand == "rgba" ? ", transparent entries and its nodata index as nodata" : "") +
         (layout.alpha != 0 ? ", its alpha band kept" : "") +
         ", not as the raw indices (--bands numbers count the expanded bands" +
         (expand == "gray" ? std::string(")") : std::string(": 1 red, 2 green, 3 blue)")));
  }
  return view;
}

}  // namespace terraseg::geo::detail
