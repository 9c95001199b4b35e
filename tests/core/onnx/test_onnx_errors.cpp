// Bad files give one Error whose message names the file and, where there is one, the node and op.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "onnx_test_util.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

namespace terraseg {
namespace {

using test::OnnxBuilder;
using test::set_attr;
using testing::HasSubstr;
using Ints = std::vector<int64_t>;

std::string load_error(const std::string& path) {
  try {
    load_onnx(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string import_error(const OnnxBuilder& builder) {
  try {
    load_onnx_bytes(builder.bytes(), "hand.onnx");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

/// A valid one-node model to break in one place.
OnnxBuilder relu_model(int64_t opset = 13) {
  OnnxBuilder b(opset);
  b.input("x", {1, 3, 4, 4}).output("y");
  b.node("Relu", {"x"}, {"y"}, "relu");
  return b;
}

TEST(OnnxErrors, MissingFileSaysWhatToDo) {
  const std::string message = load_error("/nonexistent/model.onnx");
  EXPECT_THAT(message, HasSubstr("/nonexistent/model.onnx"));
  EXPECT_THAT(message, HasSubstr("not found"));
  EXPECT_THAT(message, HasSubstr("check the path"));
}

TEST(OnnxErrors, TextFileIsNotAnOnnxModel) {
  test::TempDir dir;
  const std::string path = (dir / "notes.onnx").string();
  std::ofstream(path) << "This is a text file, not a model.\nIt has two lines.\n";
  const std::string message = load_error(path);
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr("not an ONNX model"));
}

TEST(OnnxErrors, TruncatedModelNamesTheFile) {
  OnnxBuilder b = relu_model();
  b.floats("w", {64}, std::vector<float>(64, 1.0F));
  const std::string bytes = b.bytes();
  test::TempDir dir;
  for (size_t keep : {bytes.size() / 2, bytes.size() - 3, size_t{5}}) {
    const std::string path = (dir / ("cut" + std::to_string(keep) + ".onnx")).string();
    std::ofstream(path, std::ios::binary) << bytes.substr(0, keep);
    EXPECT_THAT(load_error(path), HasSubstr(path));
  }
}

TEST(OnnxErrors, UnsupportedOpNamesFileNodeAndOp) {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 4, 4}).output("y");
  b.node("LSTM", {"x"}, {"y"}, "encoder_lstm");
  const std::string message = import_error(b);
  EXPECT_THAT(message, HasSubstr("hand.onnx"));
  EXPECT_THAT(message, HasSubstr("'encoder_lstm'"));
  EXPECT_THAT(message, HasSubstr("LSTM"));
  EXPECT_THAT(message, HasSubstr("not supported"));
}

TEST(OnnxErrors, UnsupportedAttributeAndMode) {
  OnnxBuilder attr = relu_model();
  set_attr(*attr.model.mutable_graph()->mutable_node(0), "alpha", 0.5F);
  EXPECT_THAT(import_error(attr), HasSubstr("'relu' (Relu): attribute 'alpha' is not supported"));
  OnnxBuilder cubic(13);
  cubic.input("x", {1, 3, 4, 4}).output("y");
  cubic.floats("scales", {4}, {1, 1, 2, 2});
  set_attr(cubic.node("Resize", {"x", "", "scales"}, {"y"}, "up"), "mode", std::string("cubic"));
  EXPECT_THAT(import_error(cubic), HasSubstr("'up' (Resize): mode 'cubic' is not supported"));
  OnnxBuilder typed = relu_model();
  auto* wrong = typed.model.mutable_graph()->mutable_node(0)->add_attribute();
  wrong->set_name("alpha");
  wrong->set_type(onnx::AttributeProto::GRAPH);
  EXPECT_THAT(import_error(typed), HasSubstr("'relu' (Relu)"));
}

TEST(OnnxErrors, OpsetsOutsideNineToSeventeen) {
  EXPECT_THAT(import_error(relu_model(8)), HasSubstr("opset 8 is not supported"));
  EXPECT_THAT(import_error(relu_model(18)), HasSubstr("opset 18 is not supported"));
  EXPECT_EQ(import_error(relu_model(17)), "no error");
}

TEST(OnnxErrors, NonFloatDtypes) {
  OnnxBuilder weights = relu_model();
  auto& w = *weights.model.mutable_graph()->add_initializer();
  w.set_name("w");
  w.set_data_type(onnx::TensorProto::INT8);
  w.add_dims(1);
  w.add_int32_data(1);
  EXPECT_THAT(import_error(weights), HasSubstr("initializer 'w': dtype INT8 is not supported"));
  OnnxBuilder image(13);
  image.input("x", {1, 3, 4, 4}, onnx::TensorProto::UINT8).output("y");
  image.node("Relu", {"x"}, {"y"});
  EXPECT_THAT(import_error(image), HasSubstr("float32 NCHW image"));
  OnnxBuilder operand(13);
  operand.input("x", {1, 3, 4, 4}).output("y");
  operand.ints("k", {1, 2, 3});
  operand.node("Add", {"x", "k"}, {"y"}, "add");
  EXPECT_THAT(import_error(operand), HasSubstr("'add' (Add): input 'k' is an integer constant"));
}

TEST(OnnxErrors, HostileSizesAndReferences) {
  OnnxBuilder short_data = relu_model();
  short_data.floats("w", {1000}, {1.0F, 2.0F});
  EXPECT_THAT(import_error(short_data), HasSubstr("initializer 'w'"));
  OnnxBuilder huge = relu_model();
  huge.floats("w", {1 << 30, 1 << 30}, {});
  EXPECT_THAT(import_error(huge), HasSubstr("exceed"));
  OnnxBuilder negative = relu_model();
  negative.floats("w", {-4}, {});
  EXPECT_THAT(import_error(negative), HasSubstr("negative"));
  OnnxBuilder dangling(13);
  dangling.input("x", {1, 3, 4, 4}).output("y");
  dangling.node("Add", {"x", "ghost"}, {"y"}, "add");
  EXPECT_THAT(import_error(dangling), HasSubstr("'ghost'"));
  OnnxBuilder twice = relu_model();
  twice.node("Relu", {"x"}, {"y"}, "again");
  EXPECT_THAT(import_error(twice), HasSubstr("defined twice"));
  OnnxBuilder external = relu_model();
  auto& e = external.floats("w", {1}, {});
  e.set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_THAT(import_error(external), HasSubstr("outside the model file"));
}

TEST(OnnxErrors, InputsMustBeOneImage) {
  OnnxBuilder two(13);
  two.input("a", {1, 3, 4, 4}).input("b", {1, 3, 4, 4}).output("y");
  two.node("Add", {"a", "b"}, {"y"});
  EXPECT_THAT(import_error(two), HasSubstr("exactly one graph input"));
  OnnxBuilder none(13);
  none.output("y");
  none.floats("c", {1}, {1.0F});
  none.node("Identity", {"c"}, {"y"});
  EXPECT_THAT(import_error(none), HasSubstr("exactly one graph input"));
}

TEST(OnnxErrors, RunTimeOperandsAndFolding) {
  OnnxBuilder pads(13);
  pads.input("x", {1, 3, 4, 4}).output("y");
  pads.node("Relu", {"x"}, {"r"});
  pads.node("Pad", {"x", "r"}, {"y"}, "pad");
  EXPECT_THAT(import_error(pads), HasSubstr("'pad' (Pad): input 'pads'"));
  OnnxBuilder reshape(13);
  reshape.input("x", {1, 3, 4, 4}).output("y");
  reshape.ints("shape", {1, -1});
  reshape.node("Reshape", {"x", "shape"}, {"y"}, "flat");
  EXPECT_THAT(import_error(reshape), HasSubstr("'flat' (Reshape): Reshape of a computed value"));
  OnnxBuilder mask(13);
  mask.input("x", {1, 3, 4, 4}).output("y");
  mask.node("Dropout", {"x"}, {"d", "m"}, "drop");
  mask.node("Add", {"d", "m"}, {"y"}, "add");
  EXPECT_THAT(import_error(mask), HasSubstr("mask"));
}

}  // namespace
}  // namespace terraseg
