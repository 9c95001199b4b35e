// `terraseg info` and `terraseg bench` on a model saved by terraseg itself.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "terraseg/core/builders.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/onnx.hpp"
#include "test_support.hpp"

using terraseg::test::run_terraseg;
using terraseg::test::TempDir;

namespace {

terraseg::Graph small_unet() {
  terraseg::UNetSpec spec;
  spec.depth = 2;
  spec.base_width = 4;
  spec.classes = 3;
  terraseg::Graph graph = terraseg::build_unet(spec);
  graph.card.present = true;
  graph.card.name = "tiny";
  graph.card.classes = {{0, "a", {1, 2, 3}}, {1, "b", {4, 5, 6}}, {2, "c", {7, 8, 9}}};
  return graph;
}

}  // namespace

TEST(InfoBench, InfoReportsCardParametersOpsAndFlops) {
  TempDir dir;
  const terraseg::Graph graph = small_unet();
  terraseg::save_onnx(graph, (dir / "m.onnx").string());
  const auto result = run_terraseg({"info", (dir / "m.onnx").string(), "--json", "--height", "64", "--width", "32"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto doc = nlohmann::json::parse(result.out);
  EXPECT_EQ(doc.at("parameters").get<int64_t>(), graph.parameter_count());
  EXPECT_EQ(doc.at("card").at("name"), "tiny");
  EXPECT_EQ(doc.at("card").at("classes").size(), 3U);
  EXPECT_GT(doc.at("op_counts").at("Conv").get<int>(), 4);
  EXPECT_GT(doc.at("flops").at("gflops").get<double>(), 0.0);
}

TEST(InfoBench, BenchTimesTheSameFlopsAsInfo) {
  TempDir dir;
  terraseg::save_onnx(small_unet(), (dir / "m.onnx").string());
  const auto info = run_terraseg({"info", (dir / "m.onnx").string(), "--json", "--height", "64", "--width", "32"});
  const auto bench = run_terraseg({"bench", "--model", (dir / "m.onnx").string(), "--height", "64", "--width", "32",
                                   "--runs", "3", "--no-ceiling", "--json", "--threads", "1"});
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  const auto timing = nlohmann::json::parse(bench.out);
  EXPECT_GT(timing.at("median_ms").get<double>(), 0.0);
  EXPECT_LE(timing.at("min_ms").get<double>(), timing.at("median_ms").get<double>());
  EXPECT_EQ(timing.at("runs").get<int>(), 3);
  EXPECT_DOUBLE_EQ(timing.at("gflop").get<double>(),
                   nlohmann::json::parse(info.out).at("flops").at("gflops").get<double>());
}

TEST(InfoBench, WinogradConvolutionsAreReportedAndCanBeTurnedOff) {
  if (!terraseg::winograd_available()) GTEST_SKIP() << "no AVX2+FMA here: every convolution stays direct";
  TempDir dir;
  terraseg::UNetSpec spec;
  spec.depth = 2;
  spec.base_width = 16;  // every 3x3 but the first (3 input bands) qualifies
  terraseg::save_onnx(terraseg::build_unet(spec), (dir / "u.onnx").string());
  const auto info = run_terraseg({"info", (dir / "u.onnx").string(), "--json", "--height", "32", "--width", "32"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_EQ(nlohmann::json::parse(info.out).at("winograd_convolutions").get<int>(), 9);
  for (const std::string convolution : {"auto", "direct"}) {
    const auto bench =
        run_terraseg({"bench", "--model", (dir / "u.onnx").string(), "--height", "32", "--width", "32", "--runs", "1",
                      "--no-ceiling", "--json", "--convolution", convolution, "--tuning", "rules"});
    ASSERT_EQ(bench.exit_code, 0) << bench.err;
    const auto doc = nlohmann::json::parse(bench.out);
    EXPECT_EQ(doc.at("convolution"), convolution);
    EXPECT_EQ(doc.at("winograd_convolutions").get<int>(), convolution == "auto" ? 9 : 0);
  }
}

TEST(InfoBench, ReducedPrecisionIsComparedWithF32InTheSameRun) {
  TempDir dir;
  terraseg::save_onnx(small_unet(), (dir / "m.onnx").string());
  const auto bench = run_terraseg({"bench", "--model", (dir / "m.onnx").string(), "--height", "64", "--width", "32",
                                   "--runs", "2", "--no-ceiling", "--json", "--threads", "1", "--precision", "bf16"});
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  const auto doc = nlohmann::json::parse(bench.out);
  EXPECT_EQ(doc.at("precision"), "bf16");
  const auto& vs = doc.at("vs_f32");
  EXPECT_GT(vs.at("f32_median_ms").get<double>(), 0.0);
  EXPECT_GT(vs.at("speedup").get<double>(), 0.0);
  // bf16 keeps 8 mantissa bits: visible differences, a few per cent of the score range at most.
  EXPECT_GT(vs.at("max_abs_diff").get<double>(), 0.0);
  EXPECT_LT(vs.at("max_abs_diff").get<double>(), 0.05 * vs.at("max_abs_f32_score").get<double>());
  EXPECT_GT(vs.at("class_agreement").get<double>(), 0.8);
  EXPECT_LE(vs.at("class_agreement").get<double>(), 1.0);
  const auto info = run_terraseg({"info", (dir / "m.onnx").string(), "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto ops = nlohmann::json::parse(info.out).at("op_counts");
  const int convolutions = ops.at("Conv").get<int>() + ops.at("ConvTranspose").get<int>();
  const int emulated = vs.at("emulated_bf16_convolutions").get<int>();
  // Without AVX-512 oneDNN 2.6 has no bf16 convolution at all: every one is emulated. With it, those
  // whose layout and shape only have oneDNN's reference kernel are (which ones is the CPU's business).
  EXPECT_GE(emulated, 0);
  EXPECT_LE(emulated, convolutions);
  if (terraseg::cpu_isa_name().rfind("avx512", 0) != 0) {
    EXPECT_EQ(emulated, convolutions) << terraseg::cpu_isa_name();
  }
  const auto f32 = run_terraseg({"bench", "--model", (dir / "m.onnx").string(), "--height", "64", "--width", "32",
                                 "--runs", "1", "--no-ceiling", "--json", "--threads", "1"});
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  EXPECT_FALSE(nlohmann::json::parse(f32.out).contains("vs_f32"));
}
