// Whole-model parity with PyTorch: small U-Net and SegNet models exported by torch.onnx.export
// (tests/reference/make_reference.py, random weights) load with load_onnx, run on the engine and
// match PyTorch's logits; they also survive save_onnx -> load_onnx unchanged.
#include <gtest/gtest.h>

#include <iostream>

#include "onnx_test_util.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

std::string fixture(const std::string& name) { return (test::source_dir() / "tests" / "reference" / name).string(); }

Tensor run_model(const Graph& graph, const Tensor& input) { return Engine(graph).run_all(input).at(0); }

void expect_parity(const std::string& model, const std::string& logits) {
  const Graph graph = load_onnx(fixture(model));
  EXPECT_EQ(graph.input_dims, (Dims{1, 3, -1, -1}));
  const Tensor input = test::read_tensor_file(fixture("input_1x3x64x96.pb"));
  const Tensor expected = test::read_tensor_file(fixture(logits));
  const Tensor actual = run_model(graph, input);
  const test::Parity parity = test::compare_logits(actual, expected);
  std::cout << model << ": max abs diff " << parity.max_abs_diff << " (relative " << parity.relative
            << "), class agreement " << 100.0 * parity.class_agreement << "%\n";
  EXPECT_LE(parity.relative, 1e-4);
  EXPECT_GE(parity.class_agreement, 0.999);

  test::TempDir dir;
  save_onnx(graph, (dir / "again.onnx").string());
  const Graph again = load_onnx((dir / "again.onnx").string());
  test::expect_same_graph(graph, again);
  const Tensor rerun = run_model(again, input);
  EXPECT_TRUE(std::equal(rerun.values().begin(), rerun.values().end(), actual.values().begin()));
}

TEST(OnnxReference, PyTorchUNetOpset11) { expect_parity("unet_opset11.onnx", "unet_opset11_logits.pb"); }

TEST(OnnxReference, PyTorchSegNetOpset13WithMaxUnpool) {
  const Graph graph = load_onnx(fixture("segnet_opset13.onnx"));
  int unpools = 0;
  for (const Node& node : graph.nodes) unpools += node.op == "MaxUnpool" ? 1 : 0;
  EXPECT_EQ(unpools, 2);
  expect_parity("segnet_opset13.onnx", "segnet_opset13_logits.pb");
}

}  // namespace
}  // namespace terraseg
