// ESPNet (Cityscapes, 20 classes) from ../shared/weights: structure after import, and parity with
// OpenCV DNN's logits for the committed input (tests/reference/make_reference.py wrote them).
#include <gtest/gtest.h>

#include <iostream>

#include "onnx_test_util.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

#define TERRASEG_REQUIRE_ESPNET(path)                                                              \
  const auto weights_dir = test::shared_weights_dir();                                             \
  if (!weights_dir || !std::filesystem::exists(*weights_dir / "espnet_city.onnx")) {               \
    GTEST_SKIP() << "espnet_city.onnx not found: set TERRASEG_WEIGHTS or place ../shared/weights"; \
  }                                                                                                \
  const std::string path = (*weights_dir / "espnet_city.onnx").string()

TEST(OnnxEspNet, ImportsWithExpectedStructure) {
  TERRASEG_REQUIRE_ESPNET(path);
  const Graph graph = load_onnx(path);
  std::map<std::string, int> counts;
  for (const Node& node : graph.nodes) ++counts[node.op];
  const std::map<std::string, int> expected = {{"Conv", 82}, {"PRelu", 20},       {"BatchNormalization", 18},
                                               {"Add", 49},  {"Concat", 18},      {"AveragePool", 2},
                                               {"Pad", 2},   {"ConvTranspose", 3}};
  EXPECT_EQ(counts, expected);
  EXPECT_NEAR(static_cast<double>(graph.parameter_count()), 0.37e6, 0.01e6);
  EXPECT_EQ(graph.input_dims, (Dims{1, 3, -1, -1}));
  ASSERT_EQ(graph.outputs.size(), 1U);
  EXPECT_FALSE(graph.card.present);
  for (const Node& node : graph.nodes) {
    if (node.op == "Pad") {
      EXPECT_EQ(node.attr_ints("pads"), (std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1})) << node.name;
      EXPECT_EQ(node.inputs.size(), 1U);
    }
  }
}

TEST(OnnxEspNet, MatchesOpenCvLogits) {
  TERRASEG_REQUIRE_ESPNET(path);
  const std::filesystem::path reference = test::source_dir() / "tests" / "reference";
  const Tensor input = test::read_tensor_file((reference / "input_1x3x64x96.pb").string());
  const Tensor expected = test::read_tensor_file((reference / "espnet_city_logits.pb").string());
  // Automatic picks nhwc for ESPNet; blocked keeps the other lowering paths covered.
  for (const auto layout : {EngineOptions::Layout::automatic, EngineOptions::Layout::blocked}) {
    SCOPED_TRACE(layout == EngineOptions::Layout::automatic ? "automatic layout" : "blocked layout");
    EngineOptions options;
    options.layout = layout;
    Engine engine(load_onnx(path), options);
    const Tensor actual = engine.run_all(input).at(0);
    ASSERT_EQ(actual.dims(), (Dims{1, 20, 64, 96}));
    const test::Parity parity = test::compare_logits(actual, expected);
    std::cout << "espnet_city: max abs diff " << parity.max_abs_diff << " (relative " << parity.relative
              << "), class agreement " << 100.0 * parity.class_agreement << "%\n";
    EXPECT_LE(parity.relative, 1e-4);
    EXPECT_GE(parity.class_agreement, 0.999);
  }
}

}  // namespace
}  // namespace terraseg
