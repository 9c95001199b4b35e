#include "terraseg/geo/bands.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <sstream>

#include "terraseg/core/error.hpp"

namespace terraseg::geo {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return text;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::optional<int> as_band_number(const std::string& entry) {
  int value = 0;
  const char* end = entry.data() + entry.size();
  const auto [ptr, ec] = std::from_chars(entry.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<GDALColorInterp> colour_of(const std::string& name) {
  if (name == "red") return GCI_RedBand;
  if (name == "green") return GCI_GreenBand;
  if (name == "blue") return GCI_BlueBand;
  if (name == "grey" || name == "gray") return GCI_GrayIndex;
  if (name == "alpha") return GCI_AlphaBand;
  return std::nullopt;
}

bool is_rgb_name(const std::string& name) { return name == "red" || name == "green" || name == "blue"; }

std::vector<int> non_alpha_bands(const RasterInfo& raster) {
  std::vector<int> bands;
  for (const BandInfo& band : raster.bands) {
    if (band.colour != GCI_AlphaBand) bands.push_back(band.index);
  }
  return bands;
}

bool has_colour(const RasterInfo& raster, GDALColorInterp colour) {
  return std::any_of(raster.bands.begin(), raster.bands.end(),
                     [colour](const BandInfo& band) { return band.colour == colour; });
}

std::string band_listing(const RasterInfo& raster) {
  std::ostringstream out;
  for (const BandInfo& band : raster.bands) {
    out << (band.index > 1 ? ", " : "") << band.index << " " << band.colour_name;
    if (!band.description.empty()) out << " '" << band.description << "'";
  }
  return out.str();
}

/// The band for a named channel, or nullopt when only a count-based fallback could supply it.
std::optional<int> find_named(const std::string& name, const RasterInfo& raster) {
  if (const auto colour = colour_of(name)) {
    for (const BandInfo& band : raster.bands) {
      if (band.colour == *colour) return band.index;
    }
  }
  for (const BandInfo& band : raster.bands) {
    if (!band.description.empty() && lower(band.description) == name) return band.index;
  }
  return std::nullopt;
}

/// Count-based fallbacks for a named channel; may warn (replication, assumed order).
std::optional<int> fallback_by_count(const std::string& name, const RasterInfo& raster, const WarningHook& warn,
                                     bool& warned) {
  const std::vector<int> plain = non_alpha_bands(raster);
  const bool tagged_rgb =
      has_colour(raster, GCI_RedBand) || has_colour(raster, GCI_GreenBand) || has_colour(raster, GCI_BlueBand);
  if ((name == "grey" || name == "gray") && plain.size() == 1) return plain[0];
  if (!is_rgb_name(name) || tagged_rgb) return std::nullopt;
  if (plain.size() == 1) {
    if (warn && !warned) {
      warn("'" + raster.path +
           "' has a single band; replicating it into the model's red, green and "
           "blue channels (pass --bands to choose otherwise)");
    }
    warned = true;
    return plain[0];
  }
  if (plain.size() < 3) return std::nullopt;
  if (warn && !warned) {
    // Nothing in the file says which band is which: a BGR export would be read as RGB and give
    // another answer, so say what was assumed.
    warn("'" + raster.path + "' has " + std::to_string(plain.size()) +
         " bands without colour tags; "
         "assuming bands 1, 2, 3 are red, green, blue in file order (pass --bands 3,2,1 if they are blue, green, "
         "red, or tag the bands' colour interpretation)");
  }
  warned = true;
  return plain[name == "red" ? 0 : name == "green" ? 1 : 2];
}

int resolve_one(const std::string& entry, const RasterInfo& raster, const WarningHook& warn, bool& warned) {
  if (const auto number = as_band_number(entry)) {
    if (*number < 1 || *number > raster.band_count()) {
      throw Error("band " + entry + " requested but '" + raster.path + "' has " + std::to_string(raster.band_count()) +
                  " band(s) (numbered from 1): fix --bands");
    }
    return *number;
  }
  const std::string name = lower(entry);
  if (const auto band = find_named(name, raster)) return *band;
  if (const auto band = fallback_by_count(name, raster, warn, warned)) return *band;
  throw Error("the model wants a '" + entry + "' band but '" + raster.path +
              "' has none (bands: " + band_listing(raster) + "): pass band numbers in model order, e.g. --bands 3,2,1");
}

}  // namespace

std::vector<std::string> parse_band_list(const std::string& text) {
  std::vector<std::string> entries;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (!item.empty()) entries.push_back(item);
  }
  return entries;
}

InputSpec input_spec_from_card(const ModelCard& card, const std::vector<std::string>& band_override) {
  InputSpec spec;
  spec.bands = card.bands;
  if (!band_override.empty()) {
    if (!card.bands.empty() && band_override.size() != card.bands.size()) {
      throw Error("band override lists " + std::to_string(band_override.size()) + " band(s) but model '" + card.name +
                  "' takes " + std::to_string(card.bands.size()) + ": give one per model band");
    }
    spec.bands = band_override;
  }
  spec.scale = card.scale;
  spec.mean = card.mean;
  spec.std = card.std;
  const size_t channels = spec.bands.size();
  if (channels != 0 &&
      ((!spec.mean.empty() && spec.mean.size() != channels) || (!spec.std.empty() && spec.std.size() != channels))) {
    throw Error("model card '" + card.name + "' has " + std::to_string(channels) + " band(s) but " +
                std::to_string(spec.mean.size()) + " mean and " + std::to_string(spec.std.size()) +
                " std values: fix the card");
  }
  return spec;
}

BandPlan resolve_bands(const InputSpec& spec, const RasterInfo& raster, const WarningHook& warn) {
  BandPlan plan;
  bool warned = false;
  if (spec.bands.empty()) {
    plan.source_bands = non_alpha_bands(raster);
  } else {
    for (const std::string& entry : spec.bands) plan.source_bands.push_back(resolve_one(entry, raster, warn, warned));
  }
  const size_t channels = plan.source_bands.size();
  if ((!spec.mean.empty() && spec.mean.size() != channels) || (!spec.std.empty() && spec.std.size() != channels)) {
    throw Error("normalisation has " + std::to_string(spec.mean.size()) + " mean / " + std::to_string(spec.std.size()) +
                " std values for " + std::to_string(channels) + " input channel(s) of '" + raster.path +
                "': give one per channel (or set the model bands)");
  }
  for (size_t c = 0; c < channels; ++c) {
    const double mean = spec.mean.empty() ? 0.0 : spec.mean[c];
    const double sd = spec.std.empty() ? 1.0 : spec.std[c];
    if (!(sd != 0.0) || !std::isfinite(sd)) {
      throw Error("std of channel " + std::to_string(c) + " is " + std::to_string(sd) + ": must be non-zero");
    }
    plan.gain.push_back(static_cast<float>(spec.scale / sd));
    plan.offset.push_back(static_cast<float>(-mean / sd));
  }
  return plan;
}

void apply_stretch(BandPlan& plan, const ValueStretch& stretch) {
  if (!(stretch.from_hi > stretch.from_lo)) {
    throw Error("cannot stretch the value range " + std::to_string(stretch.from_lo) + ".." +
                std::to_string(stretch.from_hi) + ": it is empty");
  }
  const double k = (stretch.to_hi - stretch.to_lo) / (stretch.from_hi - stretch.from_lo);
  for (size_t c = 0; c < plan.gain.size(); ++c) {
    const double gain = plan.gain[c];
    plan.offset[c] = static_cast<float>(plan.offset[c] + gain * (stretch.to_lo - stretch.from_lo * k));
    plan.gain[c] = static_cast<float>(gain * k);
  }
}

}  // namespace terraseg::geo
