// Every output path of a run comes from run_layout: masks and their siblings, records, input views.
#include <gtest/gtest.h>

#include "run_layout.hpp"

namespace {

namespace fs = std::filesystem;

TEST(RunLayout, OneInputAndSeveralInputsPerRegion) {
  terraseg::RunConfig config;
  config.output_dir = "out";
  config.outputs.scores = true;
  terraseg::RegionConfig one;
  one.name = "bremen";
  one.inputs = {"in/a.tif"};
  one.tasks = {"roads"};
  const terraseg::UnitPaths single = terraseg::unit_paths(config, one, "roads", "in/a.tif");
  EXPECT_EQ(single.mask, fs::path("out/bremen/roads.tif"));
  EXPECT_EQ(single.scores, fs::path("out/bremen/roads-scores.tif"));
  EXPECT_TRUE(single.vectors.empty()) << "outputs.vectors is off";
  EXPECT_EQ(single.stac_item, fs::path("out/bremen/roads.stac.json"));
  EXPECT_EQ(single.record, fs::path("out/.terraseg/units/bremen__roads__a.json"));
  EXPECT_EQ(single.outputs().size(), 4U);  // mask, style, scores, STAC Item

  terraseg::RegionConfig several = one;
  several.inputs = {"in/a.tif", "in/b.tif"};
  EXPECT_EQ(terraseg::task_mask_path(config, several, "roads", "in/b.tif"), fs::path("out/bremen/roads/b.tif"));
  EXPECT_EQ(terraseg::indicator_paths(config, several, "in/b.tif").grid, fs::path("out/bremen/indicators/b.tif"));

  // Models read the input itself, or the view run_job made of it.
  EXPECT_EQ(terraseg::model_input_path(config, one, "in/a.tif"), fs::path("in/a.tif"));
  one.aoi = terraseg::AoiConfig{};
  EXPECT_EQ(terraseg::model_input_path(config, one, "in/a.tif"), fs::path("out/.terraseg/aoi/bremen__roads__a.vrt"));
  EXPECT_EQ(terraseg::input_view_path(config, "aoi", terraseg::unit_id(one, "roads", "in/a.tif")),
            terraseg::model_input_path(config, one, "in/a.tif"));
}

}  // namespace
