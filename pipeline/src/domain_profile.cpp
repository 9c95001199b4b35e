// Domain profiles of trained models (domain_profile.hpp).
#include "domain_profile.hpp"

#include <algorithm>

#include "inference_passes.hpp"
#include "models.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/input_geometry.hpp"

namespace terraseg {

std::vector<float> sample_domain_descriptor(Engine& engine, const ModelCard& card, const geo::Sample& sample) {
  const InputGeometry geometry = input_geometry(engine.graph());
  const int multiple = std::max(1, geometry.multiple);
  const int h = std::max(multiple, std::min(sample.height, kDomainSampleSide) / multiple * multiple);
  const int w = std::max(multiple, std::min(sample.width, kDomainSampleSide) / multiple * multiple);
  const geo::Sample cropped = h > sample.height || w > sample.width  // smaller than one stride: as it is
                                  ? sample
                                  : geo::crop(sample, (sample.height - h) / 2, (sample.width - w) / 2, h, w);
  const geo::Normalisation norm = geo::Normalisation::from_card(card);
  Tensor input({1, static_cast<int64_t>(norm.bands.size()), cropped.height, cropped.width});
  Labels labels{1, cropped.height, cropped.width, std::vector<uint8_t>(cropped.labels.size())};
  geo::normalise_into(cropped, norm, input, labels, 0);
  const InferencePasses passes =
      resolve_passes(card, nullptr, nullptr, geometry.fixed_hw.has_value(), "the model card");
  Tensor scores;
  run_passes([&engine](const Tensor& in, Tensor& out) { engine.run(in, out); }, passes, multiple, input, scores);
  DomainMeter meter(0.0F, card.threshold);  // raw scores: no threshold shift to take out
  meter.add(input, scores);
  return meter.descriptor();
}

std::vector<geo::Sample> domain_blocks(const geo::Sample& sample) {
  const auto starts = [](int size) {
    if (size < 2 * kDomainSampleSide) return std::vector<int>{(size - std::min(size, kDomainSampleSide)) / 2};
    const int left = size / 2 - kDomainSampleSide;
    return std::vector<int>{left, left + kDomainSampleSide};
  };
  std::vector<geo::Sample> blocks;
  for (const int y : starts(sample.height)) {
    for (const int x : starts(sample.width)) {
      blocks.push_back(geo::crop(sample, y, x, kDomainSampleSide, kDomainSampleSide));
    }
  }
  return blocks;
}

DomainProfileResult measure_domain_profile(const Graph& graph, const std::vector<geo::Sample>& training,
                                           const std::vector<geo::Sample>& validation, const std::string& source) {
  // Fixed plan choices: the card a run writes must not depend on which plan a timing picked.
  EngineOptions options = engine_options(Precision::f32);
  options.tuning = EngineOptions::Tuning::rules;
  Engine engine(graph, options);
  const ModelCard& card = graph.card;
  std::vector<std::vector<float>> descriptors;
  for (const geo::Sample& sample : training) {
    std::vector<float> d = sample_domain_descriptor(engine, card, sample);
    if (!d.empty()) descriptors.push_back(std::move(d));
  }
  if (descriptors.size() < 2) {
    throw Error(source + ": fewer than 2 training images to measure the model's training imagery with");
  }
  DomainProfileResult result;
  result.profile =
      make_domain_profile(descriptors, domain_feature_names(card.bands, card.threshold.has_value()), source);
  for (const geo::Sample& sample : validation) {
    const std::vector<float> d = sample_domain_descriptor(engine, card, sample);
    if (!d.empty()) result.validation_shifts.push_back(domain_shift(result.profile, d).shift);
  }
  if (!result.validation_shifts.empty()) {
    result.profile.validation_max = *std::max_element(result.validation_shifts.begin(), result.validation_shifts.end());
  }
  return result;
}

}  // namespace terraseg
