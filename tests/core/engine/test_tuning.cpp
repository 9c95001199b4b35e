// Measured plan choices (EngineOptions::tuning = measure): every candidate the CPU allows is timed,
// the fastest kept and cached; the cache is reused, and a corrupt or foreign one is never trusted.
// Nothing here depends on which candidate wins: that is the CPU's business.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine_test_util.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/threads.hpp"
#include "test_support.hpp"

using terraseg::test::max_abs_diff;
using terraseg::test::read_file;
using terraseg::test::TempDir;

namespace terraseg {
namespace {

Graph unet(int depth = 2) {
  UNetSpec spec;
  spec.depth = depth;
  spec.base_width = 16;  // 16+ channels: Winograd-eligible convolutions on AVX2 CPUs
  spec.classes = 3;
  return build_unet(spec);
}

EngineOptions measured(const std::filesystem::path& cache) {
  EngineOptions options;
  set_thread_count(1);  // plans are measured and cached per thread count
  options.tuning = EngineOptions::Tuning::measure;
  options.tuning_cache = cache.string();
  return options;
}

Tensor ramp(const Dims& dims) {
  Tensor t(dims);
  for (int64_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(i % 97) / 97.0F - 0.5F;
  return t;
}

TEST(Tuning, MeasuresEveryCandidateKeepsTheFastestAndCachesIt) {
  TempDir dir;
  const auto cache = dir / "sub/plan-choices.json";
  const Graph graph = unet();
  const Dims dims{1, 3, 32, 48};
  Engine engine(graph, measured(cache));
  const PlanStats stats = engine.stats(dims);
  EXPECT_EQ(stats.plan_choice_from, "measured");
  const size_t expected = winograd_available() ? 3U : 2U;  // blocked+winograd, blocked+direct, nhwc+direct
  ASSERT_EQ(stats.candidate_ms.size(), expected);
  double fastest = 1e30;
  for (const auto& [name, ms] : stats.candidate_ms) {
    EXPECT_GT(ms, 0.0) << name;
    fastest = std::min(fastest, ms);
  }
  EXPECT_DOUBLE_EQ(stats.candidate_ms.at(stats.plan_choice), fastest) << "the fastest candidate is kept";

  const nlohmann::json doc = nlohmann::json::parse(read_file(cache));
  EXPECT_EQ(doc.at("format"), 2);
  ASSERT_EQ(doc.at("choices").size(), 1U);
  const auto& entry = doc.at("choices").begin().value();
  EXPECT_EQ(std::string(entry.at("layout")) + "+" + std::string(entry.at("convolution")), stats.plan_choice);
  const std::string key = doc.at("choices").begin().key();
  EXPECT_NE(key.find("threads 1"), std::string::npos) << key;
  EXPECT_NE(key.find("input 1x3x32x48"), std::string::npos) << key;

  // Another engine (another run) takes the cached choice without measuring; its output is the same
  // computation.
  Engine again(graph, measured(cache));
  const PlanStats cached = again.stats(dims);
  EXPECT_EQ(cached.plan_choice_from, "cached");
  EXPECT_EQ(cached.plan_choice, stats.plan_choice);
  EXPECT_TRUE(cached.candidate_ms.empty());
  Tensor a, b;
  engine.run(ramp(dims), a);
  again.run(ramp(dims), b);
  EXPECT_EQ(max_abs_diff(a, b), 0.0F);
  // And it agrees with the fixed rules' plan up to float rounding.
  EngineOptions rules;
  Engine fixed(graph, rules);
  Tensor c;
  fixed.run(ramp(dims), c);
  EXPECT_LT(max_abs_diff(a, c), 1e-4F);
  EXPECT_EQ(fixed.stats(dims).plan_choice_from, "rules");
}

TEST(Tuning, OtherShapesAndThreadCountsAreMeasuredSeparately) {
  TempDir dir;
  const auto cache = dir / "plan-choices.json";
  const Graph graph = unet();
  Engine engine(graph, measured(cache));
  engine.stats({1, 3, 32, 32});
  EXPECT_EQ(engine.stats({1, 3, 64, 32}).plan_choice_from, "measured");
  const EngineOptions two = measured(cache);
  set_thread_count(2);
  Engine other(graph, two);
  EXPECT_EQ(other.stats({1, 3, 32, 32}).plan_choice_from, "measured");
  EXPECT_EQ(nlohmann::json::parse(read_file(cache)).at("choices").size(), 3U);
}

TEST(Tuning, CorruptOrForeignCachesAreIgnoredWithAWarningAndReplaced) {
  const Graph graph = unet();
  const Dims dims{1, 3, 32, 32};
  for (const std::string& content :
       {std::string("{not json"), std::string(R"({"format": 99, "choices": {}})"),
        std::string(R"({"format": 2, "choices": [1, 2]})"), std::string(R"({"format": 1, "choices": {}})")}) {
    TempDir dir;
    const auto cache = dir / "plan-choices.json";
    std::ofstream(cache) << content;
    testing::internal::CaptureStderr();
    Engine engine(graph, measured(cache));
    const PlanStats stats = engine.stats(dims);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(stats.plan_choice_from, "measured") << content;
    EXPECT_NE(err.find("plan-choices.json"), std::string::npos) << err;
    EXPECT_NE(err.find("ignored"), std::string::npos) << err;
    EXPECT_EQ(nlohmann::json::parse(read_file(cache)).at("format"), 2) << "replaced by a valid cache";
  }
}

/// Measures a U-Net at 32x32 into a fresh cache, sets `key` of its entry to `value`, then plans
/// again from that cache: the new plan's statistics, and what was written to stderr meanwhile.
std::pair<PlanStats, std::string> replan_with_edited_entry(const std::string& key, const std::string& value) {
  TempDir dir;
  const auto cache = dir / "plan-choices.json";
  const Graph graph = unet();
  const Dims dims{1, 3, 32, 32};
  Engine(graph, measured(cache)).stats(dims);
  nlohmann::json doc = nlohmann::json::parse(read_file(cache));
  doc["choices"].begin().value()[key] = value;
  std::ofstream(cache) << doc.dump();
  testing::internal::CaptureStderr();
  Engine again(graph, measured(cache));
  const PlanStats stats = again.stats(dims);
  return {stats, testing::internal::GetCapturedStderr()};
}

TEST(Tuning, AnEntryNamingAnUnknownChoiceIsNotTrusted) {
  const auto [stats, err] = replan_with_edited_entry("layout", "sideways");
  EXPECT_EQ(stats.plan_choice_from, "measured");
  EXPECT_NE(err.find("malformed entry"), std::string::npos);
}

TEST(Tuning, APinnedLayoutNarrowsTheCandidates) {
  TempDir dir;
  EngineOptions options = measured(dir / "plan-choices.json");
  options.layout = EngineOptions::Layout::nhwc;
  Engine engine(unet(), options);
  const PlanStats stats = engine.stats({1, 3, 32, 32});
  ASSERT_EQ(stats.candidate_ms.size(), 1U);
  EXPECT_EQ(stats.plan_choice, "nhwc+direct");
}

TEST(Tuning, AnUnwritableCacheOnlyCostsTheMeasurement) {
  TempDir dir;
  std::ofstream(dir / "file") << "x";  // a file where the cache's folder should be
  testing::internal::CaptureStderr();
  Engine engine(unet(), measured(dir / "file/plan-choices.json"));
  const PlanStats stats = engine.stats({1, 3, 32, 32});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(stats.plan_choice_from, "measured");
  EXPECT_NE(err.find("cannot write the plan-choice cache"), std::string::npos) << err;
}

}  // namespace
}  // namespace terraseg

namespace terraseg {
namespace {

TEST(Precision, AutoChoosesPerPlanExactlyWhereTheCpuHasBf16Natively) {
  EXPECT_EQ(parse_precision("auto"), native_bf16() ? Precision::automatic : Precision::f32) << cpu_isa_name();
  EXPECT_EQ(to_string(Precision::automatic), "auto");
  EXPECT_EQ(parse_precision("f32"), Precision::f32);
  EXPECT_THROW(parse_precision("fp16"), Error);
}

TEST(Precision, AutoByRulesIsBf16OnAmxOnly) {
  // With AVX512-BF16 alone bf16 measured 0.3-1.25x f32 (Zen 4, Xeon); AMX is where it pays.
  EngineOptions options;
  set_thread_count(1);
  options.precision = Precision::automatic;
  Engine engine(unet(), options);
  const PlanStats stats = engine.stats({1, 3, 32, 32});
  const bool amx = native_bf16() && cpu_isa_name() == "avx512_core_amx";
  EXPECT_EQ(stats.precision, amx ? "bf16" : "f32") << cpu_isa_name();
  EXPECT_EQ(stats.plan_choice_from, "rules");
}

TEST(Precision, AutoMeasuredTimesBothPrecisionsWhereBf16IsNativeAndCachesTheWinner) {
  TempDir dir;
  const auto cache = dir / "plan-choices.json";
  const Graph graph = unet();
  const Dims dims{1, 3, 32, 48};
  EngineOptions options = measured(cache);
  options.precision = Precision::automatic;
  Engine engine(graph, options);
  const PlanStats stats = engine.stats(dims);
  ASSERT_EQ(stats.plan_choice_from, "measured");
  size_t bf16 = 0;
  double fastest = 1e30;
  for (const auto& [name, ms] : stats.candidate_ms) {
    if (name.ends_with("+bf16")) ++bf16;
    fastest = std::min(fastest, ms);
  }
  const size_t f32 = winograd_available() ? 3U : 2U;
  EXPECT_EQ(bf16, native_bf16() ? 2U : 0U) << "bf16: blocked+direct and nhwc+direct; " << cpu_isa_name();
  EXPECT_EQ(stats.candidate_ms.size(), f32 + bf16);
  EXPECT_DOUBLE_EQ(stats.candidate_ms.at(stats.plan_choice), fastest);
  EXPECT_EQ(stats.precision, stats.plan_choice.ends_with("+bf16") ? "bf16" : "f32");
  const nlohmann::json entry = nlohmann::json::parse(read_file(cache)).at("choices").begin().value();
  EXPECT_EQ(entry.at("precision"), stats.precision);

  Engine again(graph, options);
  const PlanStats cached = again.stats(dims);
  EXPECT_EQ(cached.plan_choice_from, "cached");
  EXPECT_EQ(cached.plan_choice, stats.plan_choice);
  EXPECT_EQ(cached.precision, stats.precision);
  // Whichever precision won, the scores are the model's: within bf16 rounding of f32's.
  Engine reference(graph);
  const Tensor x = ramp(dims);
  Tensor got;
  Tensor want;
  again.run(x, got);
  reference.run(x, want);
  float scale = 0.0F;
  for (float v : want.values()) scale = std::max(scale, std::abs(v));
  EXPECT_LT(max_abs_diff(got, want), (stats.precision == "bf16" ? 0.05F : 1e-4F) * (1.0F + scale));
}

TEST(Precision, ACachedEntryWithAnUnknownOrContradictingPrecisionIsNotTrusted) {
  for (const char* precision : {"fp16", "bf16"}) {  // unknown, or not what an f32 key was measured in
    const auto [stats, err] = replan_with_edited_entry("precision", precision);
    EXPECT_EQ(stats.plan_choice_from, "measured") << precision;
    EXPECT_EQ(stats.precision, "f32") << precision;
    EXPECT_NE(err.find("malformed entry"), std::string::npos) << precision;
  }
}

TEST(Precision, NoPlanRunsOnReferenceKernels) {
  // A U-Net with transposed convolutions (lowered to 1x1 convolutions and depth-to-space) and skip
  // concatenations, in each precision and layout: where oneDNN has only its reference kernel for a
  // bf16 convolution (it happened to the up-convolutions on AVX-512), the plan runs it in f32.
  const Graph graph = unet(3);
  for (const Precision precision : {Precision::f32, Precision::bf16}) {
    for (const auto layout : {EngineOptions::Layout::blocked, EngineOptions::Layout::nhwc}) {
      EngineOptions options;
      set_thread_count(1);
      options.precision = precision;
      options.layout = layout;
      Engine engine(graph, options);
      const PlanStats stats = engine.stats({1, 3, 64, 64});
      EXPECT_TRUE(stats.reference_kernels.empty())
          << to_string(precision) << " " << stats.plan_choice << ": " << stats.reference_kernels.begin()->first << " x "
          << stats.reference_kernels.begin()->second << " on " << cpu_isa_name();
    }
  }
}

}  // namespace
}  // namespace terraseg
