#pragma once
/// Training executor: runs a Graph forward (training mode: BatchNormalization on batch statistics and
/// running-stat updates; inference mode: running statistics) and backward on oneDNN primitives.
/// Convolutions use the layouts oneDNN prefers (blocked jit kernels); activations between ops that can
/// work on it are kept blocked (nChw8c), everything else is plain NCHW. The graph input, outputs,
/// weights and parameter gradients are always plain. Primitives are planned once per (input shape,
/// mode) and cached; buffers are reused, so steady-state training steps allocate nothing. Inference
/// mode keeps one plan (the last shape) and frees each activation after its last use, so validating
/// on many large images costs the live activations of one. oneDNN types never appear in this header.
#include <memory>
#include <string>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/tensor.hpp"

namespace terraseg {

class TrainGraph {
 public:
  /// Takes the graph (its weights become the trained state). Throws Error naming the node for any op
  /// the trainer does not support.
  explicit TrainGraph(Graph graph);
  ~TrainGraph();
  TrainGraph(TrainGraph&&) noexcept;
  TrainGraph& operator=(TrainGraph&&) noexcept;
  TrainGraph(const TrainGraph&) = delete;
  TrainGraph& operator=(const TrainGraph&) = delete;

  /// Runs an NCHW input; returns graph output 0 (valid until the next call).
  const Tensor& forward(const Tensor& input, bool training);
  /// Back-propagates dLoss/d(output 0) of the last training-mode forward. Afterwards `grad(name)` holds
  /// the gradient of every trainable parameter (overwritten, not accumulated across calls).
  void backward(const Tensor& output_grad);

  /// Weights that can learn (conv kernels and biases, BN scale/shift, PRelu slopes), in graph order.
  /// Buffers such as BN running statistics are weights but not parameters.
  const std::vector<std::string>& parameters() const;
  bool is_parameter(const std::string& name) const;
  /// Frozen parameters get no gradient (their backward-weights work is skipped).
  void set_trainable(const std::string& name, bool trainable);
  bool trainable(const std::string& name) const;

  Tensor& weight(const std::string& name);
  /// Gradient of a weight (plain, like the weight) or of an activation (that activation's layout, which
  /// may be blocked nChw8c: its dims are logical, its values are not in NCHW order then).
  const Tensor& grad(const std::string& name) const;
  Tensor& grad(const std::string& name);  ///< mutable, for clipping
  /// Also compute d(loss)/d(input) in backward (finite-difference tests).
  void set_input_grad(bool enabled);
  const Tensor& input_grad() const;

  /// The graph with the current weights and running statistics.
  const Graph& graph() const;
  Graph& graph();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace terraseg
