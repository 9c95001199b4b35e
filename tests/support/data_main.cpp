// Anchor so the data-test executable exists before any data test is added.
#include <gtest/gtest.h>

#include "test_support.hpp"

TEST(SharedData, LocatedOrSkipped) {
  TERRASEG_REQUIRE_DATA(data);
  EXPECT_TRUE(std::filesystem::exists(data / "README.md"));
}
