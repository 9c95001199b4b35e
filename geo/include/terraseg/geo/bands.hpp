#pragma once
/// Which raster bands feed which network channel, and how raw values are normalised.
#include <functional>
#include <string>
#include <vector>

#include "terraseg/core/model_card.hpp"
#include "terraseg/geo/raster_io.hpp"

namespace terraseg::geo {

/// Receives human-readable warnings (e.g. "grey input replicated to 3 channels"). May be empty.
using WarningHook = std::function<void(const std::string& message)>;

/// What the network expects as input, independent of any particular raster.
struct InputSpec {
  /// Network channels in order. Each entry is a name ("red", "green", "blue", "grey"/"gray", "alpha",
  /// or any band description such as "nir") or a 1-based GDAL band number ("4").
  /// Empty = every non-alpha raster band in file order.
  std::vector<std::string> bands;
  double scale = 1.0;       ///< x = (raw * scale - mean[c]) / std[c]
  std::vector<float> mean;  ///< per channel, after scaling; empty = 0
  std::vector<float> std;   ///< per channel, after scaling; empty = 1
};

/// The spec from a model card. `band_override` (e.g. {"3","2","1"} for Landsat into an RGB model)
/// replaces card.bands; when the card lists bands the override must have as many entries.
/// Throws terraseg::Error when mean/std lengths do not match the band count or a std is 0.
InputSpec input_spec_from_card(const ModelCard& card, const std::vector<std::string>& band_override = {});

/// Splits "3,2,1" or "red, nir" into entries (trimmed; empty input gives an empty list).
std::vector<std::string> parse_band_list(const std::string& text);

/// How one raster feeds the network.
struct BandPlan {
  std::vector<int> source_bands;  ///< per network channel, the GDAL band number (1-based)
  std::vector<float> gain;        ///< per channel: x = raw * gain[c] + offset[c]
  std::vector<float> offset;
  int channels() const { return static_cast<int>(source_bands.size()); }
};

/// A linear map of raw values [from_lo, from_hi] onto [to_lo, to_hi], applied before normalisation
/// (e.g. a UInt16 raster's 0..65535 onto an 8-bit model's 0..255).
struct ValueStretch {
  double from_lo = 0.0, from_hi = 1.0;
  double to_lo = 0.0, to_hi = 1.0;
};

/// Folds `stretch` into the plan's gains and offsets. Throws terraseg::Error when from_hi <= from_lo.
void apply_stretch(BandPlan& plan, const ValueStretch& stretch);

/// Matches `spec` against `raster`: numbers are taken as band numbers, names first against colour
/// interpretation (GCI_RedBand, ...), then band descriptions, then by band count (a 3+-band raster
/// without colour tags is read as red, green, blue = bands 1, 2, 3; a single-band raster feeding an
/// RGB model is replicated, with a warning through `warn`). Throws terraseg::Error naming the raster,
/// the band and the fix (pass band numbers) when a band cannot be found.
BandPlan resolve_bands(const InputSpec& spec, const RasterInfo& raster, const WarningHook& warn = {});

}  // namespace terraseg::geo
