#pragma once
/// Denormal (subnormal) floats as zero while the engine and the trainer compute.
///
/// Intel cores take a microcode assist on every arithmetic instruction that reads or produces a
/// denormal float, each costing on the order of a hundred cycles. Trained networks produce them
/// (PReLU's small negative slopes, activations decaying through many layers): ESPNet at 360x480
/// ran 11.8x slower on a 2-core Xeon with AVX-512 (254 against 21.5 ms) until they were flushed.
/// AMD cores pay little for them, which is why the engine's first timings never showed it. Values
/// below 1.2e-38 in magnitude become 0, which changes no score a model produces in any visible way;
/// PyTorch (`torch.set_flush_denormal`) and OpenVINO offer the same switch.
///
/// The scope sets the flush-to-zero (FTZ) and denormals-are-zero (DAZ) modes of the SSE/AVX control
/// register on the calling thread and on every thread of the OpenMP team that oneDNN and terraseg's
/// own kernels run on, and puts the caller's two bits back on all of them when it ends, so code
/// around the engine sees the floating-point environment it had. Nested scopes on one thread are
/// free. On CPUs other than x86-64 it does nothing.
namespace terraseg {

class DenormalsAsZero {
 public:
  DenormalsAsZero();
  ~DenormalsAsZero();
  DenormalsAsZero(const DenormalsAsZero&) = delete;
  DenormalsAsZero& operator=(const DenormalsAsZero&) = delete;
  DenormalsAsZero(DenormalsAsZero&&) = delete;
  DenormalsAsZero& operator=(DenormalsAsZero&&) = delete;

  /// Whether the calling thread flushes denormals now (both FTZ and DAZ set); false off x86-64.
  static bool active_on_this_thread();

 private:
  unsigned saved_ = 0;  // the caller's FTZ and DAZ bits
  bool outermost_ = false;
};

}  // namespace terraseg
