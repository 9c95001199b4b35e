#include "terraseg/geo/walkability.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "terraseg/core/error.hpp"

namespace terraseg::geo {
namespace {

using R = StreetRole;

constexpr std::array<std::pair<const char*, StreetRole>, 8> kRoleNames{{{"other", R::other},
                                                                        {"ignore", R::ignore},
                                                                        {"tree", R::tree},
                                                                        {"building", R::building},
                                                                        {"pavement", R::pavement},
                                                                        {"road", R::road},
                                                                        {"fence", R::fence},
                                                                        {"obstacle", R::obstacle}}};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

/// Class names of CamVid (SegNet's 11-class grouping) and Cityscapes, plus common spellings.
/// CamVid folds walls into Building, so Cityscapes' "wall" is a building here too.
std::optional<StreetRole> role_of_name(const std::string& raw) {
  static const std::map<std::string, StreetRole> names{{"sky", R::other},
                                                       {"terrain", R::other},
                                                       {"grass", R::other},
                                                       {"building", R::building},
                                                       {"wall", R::building},
                                                       {"house", R::building},
                                                       {"road", R::road},
                                                       {"street", R::road},
                                                       {"pavement", R::pavement},
                                                       {"sidewalk", R::pavement},
                                                       {"footpath", R::pavement},
                                                       {"tree", R::tree},
                                                       {"vegetation", R::tree},
                                                       {"fence", R::fence},
                                                       {"pole", R::obstacle},
                                                       {"signsymbol", R::obstacle},
                                                       {"sign", R::obstacle},
                                                       {"traffic sign", R::obstacle},
                                                       {"traffic light", R::obstacle},
                                                       {"car", R::obstacle},
                                                       {"truck", R::obstacle},
                                                       {"bus", R::obstacle},
                                                       {"train", R::obstacle},
                                                       {"motorcycle", R::obstacle},
                                                       {"bicycle", R::obstacle},
                                                       {"bicyclist", R::obstacle},
                                                       {"pedestrian", R::obstacle},
                                                       {"person", R::obstacle},
                                                       {"rider", R::obstacle},
                                                       {"unlabelled", R::ignore},
                                                       {"unlabeled", R::ignore},
                                                       {"void", R::ignore},
                                                       {"ignore", R::ignore}};
  std::string name = lower(raw);
  std::replace(name.begin(), name.end(), '_', ' ');
  std::replace(name.begin(), name.end(), '-', ' ');
  const auto found = names.find(name);
  if (found != names.end()) return found->second;
  return std::nullopt;
}

bool generic_name(const std::string& name) { return name.empty() || lower(name).rfind("class ", 0) == 0; }

}  // namespace

StreetRole parse_street_role(const std::string& name) {
  for (const auto& [text, role] : kRoleNames) {
    if (lower(name) == text) return role;
  }
  throw Error("unknown street role '" + name +
              "'; use one of other, ignore, tree, building, pavement, road, fence, obstacle");
}

std::string to_string(StreetRole role) {
  for (const auto& [text, value] : kRoleNames) {
    if (value == role) return text;
  }
  return "other";
}

StreetRole StreetRoleMap::role(int class_id) const {
  if (class_id < 0 || class_id >= static_cast<int>(roles.size())) return R::other;
  return roles[static_cast<size_t>(class_id)];
}

StreetRoleMap camvid_role_map() {
  return {"camvid",
          {R::other, R::building, R::obstacle, R::road, R::pavement, R::tree, R::obstacle, R::fence, R::obstacle,
           R::obstacle, R::obstacle, R::ignore}};
}

StreetRoleMap cityscapes_role_map() {
  return {"cityscapes", {R::road,     R::pavement, R::building, R::building, R::fence,    R::obstacle, R::obstacle,
                         R::obstacle, R::tree,     R::other,    R::other,    R::obstacle, R::obstacle, R::obstacle,
                         R::obstacle, R::obstacle, R::obstacle, R::obstacle, R::obstacle, R::ignore}};
}

StreetRoleMap role_map_for_model(const std::vector<ClassInfo>& classes, const std::vector<int>& ignore_ids,
                                 int num_classes) {
  const bool named =
      std::any_of(classes.begin(), classes.end(), [](const ClassInfo& c) { return !generic_name(c.name); });
  StreetRoleMap map;
  if (named) {
    map.scheme = "class names";
    for (const ClassInfo& info : classes) {
      if (info.id < 0) continue;
      if (static_cast<size_t>(info.id) >= map.roles.size())
        map.roles.resize(static_cast<size_t>(info.id) + 1, R::other);
      map.roles[static_cast<size_t>(info.id)] = role_of_name(info.name).value_or(R::other);
    }
  } else if (num_classes == 11 || num_classes == 12) {
    map = camvid_role_map();
  } else if (num_classes == 19 || num_classes == 20) {
    map = cityscapes_role_map();
  } else {
    throw Error("street model has " + std::to_string(num_classes) +
                " classes without recognisable names; give a role map (class ids per role: tree, building, "
                "pavement, road, fence, obstacle, ignore)");
  }
  for (int id : ignore_ids) {
    if (id < 0) continue;
    if (static_cast<size_t>(id) >= map.roles.size()) map.roles.resize(static_cast<size_t>(id) + 1, R::other);
    map.roles[static_cast<size_t>(id)] = R::ignore;
  }
  return map;
}

void override_roles(StreetRoleMap& map, const std::map<std::string, std::vector<int>>& role_ids) {
  for (const auto& [name, ids] : role_ids) {
    const StreetRole role = parse_street_role(name);
    for (int id : ids) {
      if (id < 0 || id > 254)
        throw Error("street role '" + name + "': class id " + std::to_string(id) + " is outside 0..254");
      if (static_cast<size_t>(id) >= map.roles.size()) map.roles.resize(static_cast<size_t>(id) + 1, R::other);
      map.roles[static_cast<size_t>(id)] = role;
    }
  }
  map.scheme += " (overridden)";
}

void RoleCounts::add_image(std::span<const uint8_t> class_ids, const StreetRoleMap& map) {
  std::array<int64_t, 256> histogram{};
  for (uint8_t id : class_ids) histogram[id] += 1;
  add_class_counts(histogram, map);
}

void RoleCounts::add_class_counts(std::span<const int64_t> pixels_by_class, const StreetRoleMap& map) {
  const size_t classes = std::min<size_t>(pixels_by_class.size(), 255);
  for (size_t id = 0; id < classes; ++id) {
    const int64_t n = pixels_by_class[id];
    if (n == 0) continue;
    switch (map.role(static_cast<int>(id))) {
      case R::ignore:
        continue;
      case R::tree:
        tree += n;
        break;
      case R::building:
        building += n;
        break;
      case R::pavement:
        pavement += n;
        break;
      case R::road:
        road += n;
        break;
      case R::fence:
        fence += n;
        break;
      case R::obstacle:
        obstacle += n;
        break;
      case R::other:
        break;
    }
    counted += n;
  }
  images += 1;
}

StreetIndicators street_indicators(const RoleCounts& counts) {
  const auto ratio = [](int64_t numerator, int64_t denominator) -> std::optional<double> {
    if (denominator <= 0) return std::nullopt;
    return static_cast<double>(numerator) / static_cast<double>(denominator);
  };
  StreetIndicators result;
  result.greenery = ratio(counts.tree, counts.counted);
  result.crowdedness = ratio(counts.obstacle, counts.counted);
  result.enclosure = ratio(counts.building + counts.tree, counts.pavement + counts.road + counts.fence);
  result.pavement = ratio(counts.pavement + counts.road, counts.road);
  return result;
}

std::array<IndicatorAgreement, 4> compare_indicators(std::span<const StreetIndicators> reference,
                                                     std::span<const StreetIndicators> predicted) {
  if (reference.size() != predicted.size()) {
    throw Error("compare_indicators: " + std::to_string(reference.size()) + " reference and " +
                std::to_string(predicted.size()) + " predicted photos");
  }
  using Field = std::optional<double> StreetIndicators::*;
  constexpr std::array<Field, 4> fields{&StreetIndicators::greenery, &StreetIndicators::crowdedness,
                                        &StreetIndicators::enclosure, &StreetIndicators::pavement};
  std::array<IndicatorAgreement, 4> result{};
  for (size_t k = 0; k < fields.size(); ++k) {
    IndicatorAgreement& a = result[k];
    for (size_t i = 0; i < reference.size(); ++i) {
      const std::optional<double>& r = reference[i].*fields[k];
      const std::optional<double>& p = predicted[i].*fields[k];
      if (!r || !p) continue;
      a.images += 1;
      a.mean_reference += *r;
      a.mean_predicted += *p;
      a.bias += *p - *r;
      a.mean_absolute_error += std::abs(*p - *r);
      a.max_absolute_error = std::max(a.max_absolute_error, std::abs(*p - *r));
    }
    if (a.images > 0) {
      const double n = a.images;
      a.mean_reference /= n;
      a.mean_predicted /= n;
      a.bias /= n;
      a.mean_absolute_error /= n;
    }
  }
  return result;
}

namespace {

int quintile_level(const std::vector<double>& sorted, double value) {
  const auto low = std::lower_bound(sorted.begin(), sorted.end(), value);
  const auto high = std::upper_bound(sorted.begin(), sorted.end(), value);
  const double below = static_cast<double>(low - sorted.begin());
  const double equal = static_cast<double>(high - low);
  const double percentile = (below + equal / 2.0) / static_cast<double>(sorted.size());
  return std::min(5, 1 + static_cast<int>(std::floor(5.0 * percentile)));
}

int breakpoint_level(const std::array<double, 4>& breakpoints, double value) {
  return 1 + static_cast<int>(
                 std::count_if(breakpoints.begin(), breakpoints.end(), [value](double b) { return b <= value; }));
}

constexpr std::array<const char*, 4> kIndicatorNames{"greenery", "crowdedness", "enclosure", "pavement"};

}  // namespace

std::vector<std::optional<int>> indicator_levels(const std::vector<std::optional<double>>& values, int which,
                                                 const LevelScheme& scheme) {
  if (which < 0 || which > 3) throw Error("indicator index " + std::to_string(which) + " is outside 0..3 (G, C, S, D)");
  const auto index = static_cast<size_t>(which);
  const std::array<double, 4>& breakpoints = scheme.breakpoints[index];
  if (scheme.mode == LevelScheme::Mode::breakpoints && !std::is_sorted(breakpoints.begin(), breakpoints.end())) {
    throw Error(std::string("level breakpoints of ") + kIndicatorNames[index] + " must be ascending");
  }
  std::vector<double> sorted;
  for (const auto& value : values) {
    if (value) sorted.push_back(*value);
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::optional<int>> levels;
  levels.reserve(values.size());
  for (const auto& value : values) {
    if (!value) {
      levels.emplace_back(std::nullopt);
      continue;
    }
    const int level = scheme.mode == LevelScheme::Mode::quintiles ? quintile_level(sorted, *value)
                                                                  : breakpoint_level(breakpoints, *value);
    levels.emplace_back(scheme.invert[index] ? 6 - level : level);
  }
  return levels;
}

std::vector<WalkabilityPoint> score_points(const std::vector<StreetPoint>& points,
                                           const std::vector<RoleCounts>& counts, const LevelScheme& scheme) {
  if (points.size() != counts.size()) throw Error("internal: street points and their pixel counts differ in number");
  std::vector<WalkabilityPoint> scored(points.size());
  std::array<std::vector<std::optional<double>>, 4> values;
  for (size_t i = 0; i < points.size(); ++i) {
    scored[i].point = points[i];
    scored[i].counts = counts[i];
    scored[i].indicators = street_indicators(counts[i]);
    const StreetIndicators& ind = scored[i].indicators;
    values[0].push_back(ind.greenery);
    values[1].push_back(ind.crowdedness);
    values[2].push_back(ind.enclosure);
    values[3].push_back(ind.pavement);
  }
  for (int which = 0; which < 4; ++which) {
    const auto levels = indicator_levels(values[static_cast<size_t>(which)], which, scheme);
    for (size_t i = 0; i < scored.size(); ++i) scored[i].levels[static_cast<size_t>(which)] = levels[i];
  }
  for (WalkabilityPoint& point : scored) {
    int sum = 0;
    bool complete = true;
    for (const auto& level : point.levels) {
      complete = complete && level.has_value();
      sum += level.value_or(0);
    }
    if (complete) point.ivw = sum * 5;
  }
  return scored;
}

}  // namespace terraseg::geo
