// Denormal floats flush to zero inside the engine and the trainer, and only there.
#include <gtest/gtest.h>
#include <omp.h>

#include <limits>
#include <vector>

#include "engine_test_util.hpp"
#include "terraseg/core/denormals.hpp"
#include "terraseg/core/engine.hpp"
#include "terraseg/core/threads.hpp"
#include "terraseg/core/train_graph.hpp"

namespace terraseg::test {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
constexpr bool kX86 = true;
#else
constexpr bool kX86 = false;
#endif

/// Whether each thread of an OpenMP team of `threads` flushes denormals.
std::vector<int> team_flags(int threads) {
  std::vector<int> flags(static_cast<size_t>(threads), -1);
#pragma omp parallel num_threads(threads)
  flags[static_cast<size_t>(omp_get_thread_num())] = DenormalsAsZero::active_on_this_thread() ? 1 : 0;
  return flags;
}

/// y = x * w for one channel: a 1x1 convolution whose products of two small normal floats are
/// denormal (1e-20 * 1e-20 = 1e-40 < FLT_MIN).
Graph scale_graph(float w) {
  Tensor weight({1, 1, 1, 1});
  weight.values()[0] = w;
  Node conv = make_node("Conv", {"x", "W"}, {}, {"y"});
  conv.name = "scale";
  return make_graph({conv}, {{"W", weight}});
}

TEST(Denormals, TheScopeFlushesOnEveryTeamThreadAndPutsTheCallersModeBack) {
  if (!kX86) GTEST_SKIP() << "flush-to-zero modes are x86-64 only";
  set_thread_count(2);
  ASSERT_FALSE(DenormalsAsZero::active_on_this_thread()) << "the test process starts with IEEE denormals";
  {
    const DenormalsAsZero outer;
    EXPECT_TRUE(DenormalsAsZero::active_on_this_thread());
    for (int flag : team_flags(2)) EXPECT_EQ(flag, 1);
    {
      const DenormalsAsZero inner;  // nested: nothing to do, and nothing undone at its end
      EXPECT_TRUE(DenormalsAsZero::active_on_this_thread());
    }
    EXPECT_TRUE(DenormalsAsZero::active_on_this_thread());
    for (int flag : team_flags(2)) EXPECT_EQ(flag, 1);
  }
  EXPECT_FALSE(DenormalsAsZero::active_on_this_thread());
  for (int flag : team_flags(2)) EXPECT_EQ(flag, 0);
  // Arithmetic outside the scope keeps IEEE denormals.
  volatile float tiny = 1e-20F;
  EXPECT_GT(tiny * tiny, 0.0F);
  set_thread_count(0);
}

TEST(Denormals, EngineResultsThatWouldBeDenormalAreZeroAndTheCallerKeepsItsMode) {
  if (!kX86) GTEST_SKIP() << "flush-to-zero modes are x86-64 only";
  set_thread_count(2);
  Engine engine(scale_graph(1e-20F));
  Tensor x({1, 1, 4, 4});
  for (float& v : x.values()) v = 1e-20F;
  x.values()[0] = 1.0F;                                      // a normal result next to the denormal ones
  x.values()[1] = std::numeric_limits<float>::denorm_min();  // a denormal input reads as 0
  Tensor y;
  engine.run(x, y);
  ASSERT_EQ(y.dims(), (Dims{1, 1, 4, 4}));
  EXPECT_FLOAT_EQ(y.values()[0], 1e-20F);
  for (size_t i = 1; i < y.values().size(); ++i) EXPECT_EQ(y.values()[i], 0.0F) << "pixel " << i;
  EXPECT_FALSE(DenormalsAsZero::active_on_this_thread());
  volatile float tiny = 1e-20F;
  EXPECT_NEAR(static_cast<double>(tiny * tiny), 1e-40, 1e-44) << "the caller's arithmetic is unchanged";
  set_thread_count(0);
}

TEST(Denormals, TrainingForwardAndBackwardFlushToo) {
  if (!kX86) GTEST_SKIP() << "flush-to-zero modes are x86-64 only";
  set_thread_count(2);
  TrainGraph graph(scale_graph(1e-20F));
  Tensor x({1, 1, 2, 2});
  for (float& v : x.values()) v = 1e-20F;
  const Tensor& y = graph.forward(x, true);
  for (float v : y.values()) EXPECT_EQ(v, 0.0F);
  Tensor dy({1, 1, 2, 2});
  for (float& v : dy.values()) v = 1e-20F;
  graph.backward(dy);
  // dW = sum(x * dy): four products of 1e-40 flush to 0 before they are summed.
  EXPECT_EQ(graph.grad("W").values()[0], 0.0F);
  EXPECT_FALSE(DenormalsAsZero::active_on_this_thread());
  set_thread_count(0);
}

}  // namespace
}  // namespace terraseg::test
