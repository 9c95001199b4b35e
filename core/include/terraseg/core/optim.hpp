#pragma once
/// Optimisers (SGD with momentum, Adam, AdamW; PyTorch update rules), learning-rate schedules and
/// gradient clipping over the parameters of a TrainGraph.
#include <cstdint>
#include <map>
#include <string>

#include "terraseg/core/tensor.hpp"
#include "terraseg/core/train_graph.hpp"

namespace terraseg {

enum class OptimizerType { sgd, adam, adamw };
/// "sgd" | "adam" | "adamw"; throws Error otherwise.
OptimizerType parse_optimizer_type(const std::string& text);

struct OptimizerConfig {
  OptimizerType type = OptimizerType::sgd;
  double momentum = 0.9;  ///< SGD
  bool nesterov = false;  ///< SGD
  double beta1 = 0.9;     ///< Adam/AdamW
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  ///< L2 added to the gradient (SGD, Adam) or decoupled (AdamW)
};

enum class ScheduleKind { constant, poly, cosine };
ScheduleKind parse_schedule_kind(const std::string& text);  ///< "constant" | "poly" | "cosine"

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::poly;
  double power = 0.9;        ///< poly: lr * (1 - t/T)^power
  double min_lr = 0.0;       ///< cosine floor
  int64_t warmup_steps = 0;  ///< linear ramp from 0 over the first steps
  int64_t total_steps = 1;
};

/// Learning rate at `step` (0-based) for base rate `base_lr`.
double scheduled_lr(const ScheduleConfig& schedule, double base_lr, int64_t step);

/// Scales all trainable gradients so their global L2 norm is at most `max_norm` (skipped when
/// max_norm <= 0). Returns the norm before clipping.
double clip_grad_norm(TrainGraph& graph, double max_norm);

class Optimizer {
 public:
  explicit Optimizer(OptimizerConfig config) : config_(config) {}

  /// One update of every trainable parameter with learning rate lr * lr_scale[name] (default 1).
  void step(TrainGraph& graph, double lr, const std::map<std::string, double>& lr_scale = {});

  /// Moment buffers by "<param>/m" and "<param>/v" (for checkpoints), plus the step count.
  std::map<std::string, Tensor>& state() { return state_; }
  const std::map<std::string, Tensor>& state() const { return state_; }
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }
  const OptimizerConfig& config() const { return config_; }

 private:
  void update(Tensor& param, const Tensor& grad, const std::string& name, double lr);

  OptimizerConfig config_;
  std::map<std::string, Tensor> state_;
  int64_t steps_ = 0;
};

}  // namespace terraseg
