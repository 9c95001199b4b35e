// Flush-to-zero / denormals-are-zero scopes for the engine and the trainer (see denormals.hpp).
#include "terraseg/core/denormals.hpp"

#include <omp.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define TERRASEG_HAS_MXCSR 1
#endif

namespace terraseg {
namespace {

#ifdef TERRASEG_HAS_MXCSR
constexpr unsigned kFtz = 0x8000U;  // MXCSR bit 15: results that would be denormal become 0
constexpr unsigned kDaz = 0x0040U;  // MXCSR bit 6: denormal inputs read as 0
constexpr unsigned kBits = kFtz | kDaz;

/// Sets the FTZ and DAZ bits of this thread's MXCSR to `bits` (a subset of kBits).
void set_bits(unsigned bits) { _mm_setcsr((_mm_getcsr() & ~kBits) | bits); }

/// The same on every thread of an OpenMP team of the current size (the pool oneDNN uses).
void set_bits_on_team(unsigned bits) {
#pragma omp parallel num_threads(omp_get_max_threads())
  set_bits(bits);
  set_bits(bits);
}
#endif

/// How many DenormalsAsZero are alive on this thread; only the outermost sets and restores the bits.
int& depth() {
  thread_local int count = 0;
  return count;
}

}  // namespace

DenormalsAsZero::DenormalsAsZero() {
  if (depth()++ > 0) return;
  outermost_ = true;
#ifdef TERRASEG_HAS_MXCSR
  saved_ = _mm_getcsr() & kBits;
  set_bits_on_team(kBits);
#endif
}

DenormalsAsZero::~DenormalsAsZero() {
  --depth();
  if (!outermost_) return;
#ifdef TERRASEG_HAS_MXCSR
  if (saved_ != kBits) set_bits_on_team(saved_);
#endif
}

bool DenormalsAsZero::active_on_this_thread() {
#ifdef TERRASEG_HAS_MXCSR
  return (_mm_getcsr() & kBits) == kBits;
#else
  return false;
#endif
}

}  // namespace terraseg
