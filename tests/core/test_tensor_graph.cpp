#include <gtest/gtest.h>

#include "terraseg/core/error.hpp"
#include "terraseg/core/graph.hpp"

namespace terraseg {
namespace {

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

// One name rule and one palette for classes a card leaves unnamed or uncoloured: the card, the
// mask's categories and the run summary name them alike.
TEST(ModelCard, ClassTableIsCompletedOnce) {
  ModelCard card;
  card.classes = {{2, "water", {0, 0, 255}}, {0, "", {1, 2, 3}}};
  EXPECT_EQ(card.class_name(0), "class 0");
  EXPECT_EQ(card.class_name(7), "class 7");
  EXPECT_EQ(class_name(card.classes, 2), "water");
  const std::vector<ClassInfo> table = complete_class_table(card.classes, 4);
  ASSERT_EQ(table.size(), 4U);
  for (int id = 0; id < 4; ++id) EXPECT_EQ(table[static_cast<size_t>(id)].id, id);
  EXPECT_EQ(table[0].name, "class 0");
  EXPECT_EQ(table[0].rgb, (std::array<uint8_t, 3>{1, 2, 3})) << "a colour the card gives is kept";
  EXPECT_EQ(table[1].name, "class 1");
  EXPECT_EQ(table[1].rgb, default_class_colour(1));
  EXPECT_EQ(table[2].name, "water");
  EXPECT_EQ(table[3].rgb, default_class_colour(3));
  // Past the fixed colours the palette keeps giving distinct ones.
  EXPECT_NE(default_class_colour(12), default_class_colour(0));
  EXPECT_NE(default_class_colour(13), default_class_colour(12));
}

}  // namespace
}  // namespace terraseg
