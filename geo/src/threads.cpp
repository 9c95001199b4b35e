#include "terraseg/geo/threads.hpp"

#include <opencv2/core.hpp>

namespace terraseg::geo {

int set_thread_count(int threads) {
  const int resolved = terraseg::set_thread_count(threads);
  cv::setNumThreads(resolved);
  return resolved;
}

}  // namespace terraseg::geo
