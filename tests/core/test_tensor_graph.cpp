#include <gtest/gtest.h>

#include "terraseg/core/error.hpp"
#include "terraseg/core/graph.hpp"

using namespace terraseg;

TEST(Tensor, ElementCountAndReshape) {
  Tensor t({1, 3, 4, 5}, 2.0F);
  EXPECT_EQ(t.size(), 60);
  EXPECT_EQ(t.data()[59], 2.0F);
  t.reshape({3, 20});
  EXPECT_EQ(t.dim(1), 20);
  EXPECT_THROW(t.reshape({7, 7}), Error);
  EXPECT_THROW(Tensor({2, 2}, std::vector<float>{1, 2, 3}), Error);
}

TEST(Graph, ValidateNamesMissingValue) {
  Graph g;
  g.name = "g";
  g.input = "x";
  g.nodes.push_back(Node{"relu1", "Relu", {"x"}, {"y"}, {}});
  g.nodes.push_back(Node{"add1", "Add", {"y", "missing"}, {"z"}, {}});
  g.outputs = {"z"};
  try {
    g.validate();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'add1'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'missing'"), std::string::npos);
  }
}

TEST(ModelCard, JsonRoundTrip) {
  ModelCard card;
  card.name = "roads";
  card.classes = {{0, "background", {0, 0, 0}}, {1, "road", {255, 255, 255}}};
  card.bands = {"red", "green", "blue"};
  card.mean = {0.5F, 0.5F, 0.5F};
  card.pixel_size_m = 0.3;
  card.threshold = 0.42;
  card.metrics["val_f1"] = 0.8;
  const ModelCard back = ModelCard::from_json(card.to_json(), "test");
  EXPECT_TRUE(back.present);
  EXPECT_EQ(back.classes.size(), 2U);
  EXPECT_EQ(back.class_name(1), "road");
  EXPECT_EQ(back.classes[1].rgb[0], 255);
  ASSERT_TRUE(back.pixel_size_m.has_value());
  EXPECT_DOUBLE_EQ(*back.pixel_size_m, 0.3);
  EXPECT_DOUBLE_EQ(*back.threshold, 0.42);
  EXPECT_DOUBLE_EQ(back.metrics.at("val_f1"), 0.8);
  EXPECT_THROW(ModelCard::from_json("{not json", "m.onnx"), Error);
}
