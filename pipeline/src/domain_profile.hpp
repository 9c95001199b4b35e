#pragma once
/// The training side of the domain check (terraseg/core/domain.hpp): descriptors of training and
/// validation images as `predict` would see them, and the profile a trained model's card carries.
#include <string>
#include <vector>

#include "terraseg/core/domain.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/graph.hpp"
#include "terraseg/geo/dataset.hpp"

namespace terraseg {

/// Descriptors of at most this many pixels per side of each image (its centre): the statistics settle
/// long before, and a 4000 px Dubai tile at the model's pixel size would cost seconds each.
constexpr int kDomainSampleSide = 1024;

/// The descriptor of one sample (already at the model's pixel size) through `engine` with the card's
/// passes, on its centre kDomainSampleSide square.
std::vector<float> sample_domain_descriptor(Engine& engine, const ModelCard& card, const geo::Sample& sample);

/// Up to 4 blocks of kDomainSampleSide from a 2 x 2 grid over the sample's centre (fewer where it is
/// smaller: one block, the sample itself, when it fits in one).
std::vector<geo::Sample> domain_blocks(const geo::Sample& sample);

struct DomainProfileResult {
  DomainProfile profile;
  std::vector<double> validation_shifts;  ///< one per validation sample
};

/// Measures `training` (each at the model's pixel size) and `validation` with the model `graph`, and
/// returns the profile (validation_max set when there are validation samples). Throws Error when
/// fewer than 2 training samples have valid pixels.
DomainProfileResult measure_domain_profile(const Graph& graph, const std::vector<geo::Sample>& training,
                                           const std::vector<geo::Sample>& validation, const std::string& source);

}  // namespace terraseg
