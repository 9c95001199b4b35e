// Model cards are range-checked when read (issue 35): a value that would give a wrong answer rather
// than an error is refused, naming the file and the key and saying what to do.
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <string>

#include "terraseg/core/deepness.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/model_card.hpp"

namespace terraseg {
namespace {

/// A valid card with one key replaced by `value` (JSON text).
std::string card_with(const std::string& key, const std::string& value) {
  std::map<std::string, std::string> keys{
      {"name", "\"roads\""},
      {"classes", R"([{"id": 0, "name": "ground", "rgb": [0, 0, 0]}, {"id": 1, "name": "road", "rgb": [255, 0, 0]}])"},
      {"bands", R"(["red", "green", "blue"])"},
      {"scale", "0.00392156862745098"},
      {"mean", "[0.485, 0.456, 0.406]"},
      {"std", "[0.229, 0.224, 0.225]"},
      {"pixel_size_m", "0.5"},
      {"tile", "512"},
      {"tile_overlap", "64"},
      {"input_range", "[0, 255]"},
      {"threshold", "0.4"}};
  keys[key] = value;
  std::string json = "{";
  for (const auto& [k, v] : keys) json += (json.size() > 1 ? ", \"" : "\"") + k + "\": " + v;
  return json + "}";
}

std::string error_of(const std::string& json) {
  try {
    ModelCard::from_json(json, "models/m.onnx");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelCardRanges, AValidCardLoadsAndRoundTrips) {
  const ModelCard card = ModelCard::from_json(card_with("name", "\"roads\""), "m.onnx");
  EXPECT_EQ(card.pixel_size_m, 0.5);
  EXPECT_EQ(ModelCard::from_json(card.to_json(), "m.onnx").to_json(), card.to_json());
  EXPECT_NO_THROW(ModelCard::from_json(card_with("pixel_size_m", "null"), "m.onnx"));
  EXPECT_NO_THROW(ModelCard::from_json(card_with("input_range", "[-1.5, 1e6]"), "m.onnx"));
}

TEST(ModelCardRanges, EveryOutOfRangeValueIsRefusedNamingTheFileAndTheKey) {
  const struct {
    std::string key;
    std::string value;
    std::string message;  // after "models/m.onnx: model card: "
  } cases[] = {
      {"pixel_size_m", "0",
       "key 'pixel_size_m' is 0: the ground pixel size the model was trained at is in metres, from 0.001 to 100000"},
      {"pixel_size_m", "-1", "key 'pixel_size_m' is -1:"},
      {"pixel_size_m", "1e308", "key 'pixel_size_m' is 1e+308:"},
      {"scale", "0", "key 'scale' is 0: the scale on raw values must be finite and above 0"},
      {"scale", "-0.5", "key 'scale' is -0.5:"},
      {"mean", "[0.5, 1e39, 0.5]", "key 'mean[1]' is inf: band means must be finite numbers"},
      {"std", "[0.2, 0, 0.2]", "key 'std[1]' is 0: band standard deviations must be finite and above 0"},
      {"std", "[0.2, 0.2, -0.2]", "key 'std[2]' is -0.2:"},
      {"std", "[1e39, 0.2, 0.2]", "key 'std[0]' is inf:"},
      {"classes", R"([{"id": -5, "name": "a"}])",
       "key 'classes[0].id' is -5: class ids are whole numbers from 0 to 254"},
      {"classes", R"([{"id": 300, "name": "a"}])", "key 'classes[0].id' is 300:"},
      {"classes", R"([{"id": 1.5, "name": "a"}])", "key 'classes[0].id' is 1.5:"},
      {"classes", R"([{"id": 0, "name": "a"}, {"id": 0, "name": "b"}])", "key 'classes[1].id' is 0 again: class ids"},
      {"classes", R"([{"id": 0, "name": "a", "rgb": [0, 300, 0]}])",
       "key 'classes[0].rgb' is 300: a class colour is [r, g, b]"},
      {"input_range", "[255, 0]", "key 'input_range' is [255, 0]: the raw value range the normalisation expects"},
      {"input_range", "[5, 5]", "key 'input_range' is [5, 5]:"},
      {"input_range", "[0]", "key 'input_range' is [0]:"},
      {"tile", "4", "key 'tile' is 4: tile sides are whole numbers of pixels from 8 to 16384"},
      {"tile", "1e10", "key 'tile' is 10000000000.0:"},
      {"tile", "[512, 100000]", "key 'tile' is 100000:"},
      {"tile_overlap", "-1", "key 'tile_overlap' is -1: tile_overlap is a whole number of pixels from 0 to 4096"},
      {"tile_overlap", "300",
       "key 'tile_overlap' is 300: tile_overlap is a whole number of pixels from 0 to 4096, below half the tile"},
      {"threshold", "1.5", "key 'threshold' is 1.5: a binary model's threshold is a probability"},
      {"threshold", "0", "key 'threshold' is 0:"},
  };
  for (const auto& c : cases) {
    const std::string message = error_of(card_with(c.key, c.value));
    EXPECT_NE(message.find("models/m.onnx: model card: " + c.message), std::string::npos)
        << c.key << " = " << c.value << ": " << message;
    EXPECT_NE(message.find("fix the card (scripts/set-card.py MODEL.onnx KEY=VALUE) or re-export the model"),
              std::string::npos)
        << message;
  }
}

TEST(ModelCardRanges, ValuesJsonCannotHoldAreCheckedInCardsMadeInCode) {
  ModelCard card;
  card.input_range = std::array<double, 2>{0.0, std::numeric_limits<double>::infinity()};
  try {
    check_card_ranges(card);
    FAIL() << "an infinite input_range was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("key 'input_range' is [0, inf]"), std::string::npos) << e.what();
  }
  card.input_range.reset();
  card.mean = {std::numeric_limits<float>::quiet_NaN()};
  EXPECT_THROW(check_card_ranges(card), Error);
  // JSON itself has no NaN or infinity: such a number in a card is refused as JSON, naming the file.
  const std::string overflow = error_of(card_with("input_range", "[0, 1e400]"));
  EXPECT_NE(overflow.find("models/m.onnx: model card is not valid JSON"), std::string::npos) << overflow;
}

TEST(ModelCardRanges, CardsFromDeepnessMetadataAreCheckedToo) {
  std::map<std::string, std::string> metadata{
      {"model_type", "\"Segmentor\""}, {"class_names", R"({"0": "ground", "1": "road"})"}, {"resolution", "1e308"}};
  try {
    card_from_deepness(metadata, "qgis.onnx");
    FAIL() << "a 1e306 m pixel size was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("qgis.onnx: model card read from its QGIS Deepness metadata"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("key 'pixel_size_m' is 1e+306"), std::string::npos) << e.what();
  }
  metadata["resolution"] = "50";
  metadata["standardization_mean"] = "[0.5, 0.5, 0.5]";
  metadata["standardization_std"] = "[0.2, 0.0, 0.2]";
  try {
    card_from_deepness(metadata, "qgis.onnx");
    FAIL() << "a std of 0 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("key 'std[1]' is 0"), std::string::npos) << e.what();
  }
  metadata["standardization_std"] = "[0.2, 0.2, 0.2]";
  EXPECT_EQ(card_from_deepness(metadata, "qgis.onnx").pixel_size_m, 0.5);
}

}  // namespace
}  // namespace terraseg
