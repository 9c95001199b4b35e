#pragma once
/// The process's thread setting for everything geo runs as well: OpenCV's pool (resampling,
/// thinning, quicklooks) follows the OpenMP count that core's threads.hpp sets.
#include "terraseg/core/threads.hpp"

namespace terraseg::geo {

/// terraseg::set_thread_count(threads), then OpenCV's pool to the same count; returns that count
/// (0 resolves to default_thread_count()). The one call a command makes, once, at its edge.
int set_thread_count(int threads);

}  // namespace terraseg::geo
