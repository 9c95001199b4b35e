#pragma once
/// The QGIS Deepness plugin's ONNX metadata, so that a model moves between the two tools: Deepness
/// keeps one JSON-encoded value per metadata key (model_type "Segmentor", class_names {"0": "name"},
/// resolution in cm/px, tiles_size in pixels, tiles_overlap in percent, seg_thresh,
/// standardization_mean / _std applied to pixel / 255 of RGB input).
#include <map>
#include <string>

#include "terraseg/core/model_card.hpp"

namespace terraseg {

/// True when `metadata` carries Deepness keys (model_type or class_names).
bool has_deepness_metadata(const std::map<std::string, std::string>& metadata);

/// A card from Deepness metadata: classes (colours generated), pixel size, tile and overlap,
/// threshold (two classes), RGB input scaled by 1/255 with the standardisation as mean / std.
/// Values that do not parse are skipped. Throws Error naming `source` for a model type other than
/// Segmentor (terraseg segments; detectors and regressors are other tools' work).
ModelCard card_from_deepness(const std::map<std::string, std::string>& metadata, const std::string& source);

/// The card as Deepness metadata, for the keys it can say (none without classes); standardisation
/// only when the card's normalisation is Deepness's form (RGB, scale 1/255, three means and stds).
std::map<std::string, std::string> deepness_metadata(const ModelCard& card);

}  // namespace terraseg
