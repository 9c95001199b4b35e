#include "terraseg/core/optim.hpp"

#include <cmath>
#include <numbers>

#include "terraseg/core/denormals.hpp"
#include "terraseg/core/error.hpp"

namespace terraseg {

OptimizerType parse_optimizer_type(const std::string& text) {
  if (text == "sgd") return OptimizerType::sgd;
  if (text == "adam") return OptimizerType::adam;
  if (text == "adamw") return OptimizerType::adamw;
  throw Error("unknown optimiser '" + text + "' (expected sgd, adam or adamw)");
}

ScheduleKind parse_schedule_kind(const std::string& text) {
  if (text == "constant") return ScheduleKind::constant;
  if (text == "poly") return ScheduleKind::poly;
  if (text == "cosine") return ScheduleKind::cosine;
  throw Error("unknown schedule '" + text + "' (expected constant, poly or cosine)");
}

double scheduled_lr(const ScheduleConfig& schedule, double base_lr, int64_t step) {
  if (step < schedule.warmup_steps) {
    return base_lr * static_cast<double>(step + 1) / static_cast<double>(schedule.warmup_steps);
  }
  const int64_t span = std::max<int64_t>(1, schedule.total_steps - schedule.warmup_steps);
  const double t = std::min(1.0, static_cast<double>(step - schedule.warmup_steps) / static_cast<double>(span));
  switch (schedule.kind) {
    case ScheduleKind::constant:
      return base_lr;
    case ScheduleKind::poly:
      return base_lr * std::pow(1.0 - t, schedule.power);
    case ScheduleKind::cosine:
      return schedule.min_lr + (base_lr - schedule.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
  }
  return base_lr;
}

double clip_grad_norm(TrainGraph& graph, double max_norm) {
  double sum = 0.0;
  for (const std::string& name : graph.parameters()) {
    if (!graph.trainable(name)) continue;
    for (float g : graph.grad(name).values()) sum += static_cast<double>(g) * g;
  }
  const double norm = std::sqrt(sum);
  if (max_norm <= 0.0 || norm <= max_norm) return norm;
  const auto scale = static_cast<float>(max_norm / (norm + 1e-6));
  for (const std::string& name : graph.parameters()) {
    if (!graph.trainable(name)) continue;
    for (float& g : graph.grad(name).values()) g *= scale;
  }
  return norm;
}

void Optimizer::step(TrainGraph& graph, double lr, const std::map<std::string, double>& lr_scale) {
  const DenormalsAsZero flush;
  ++steps_;
  for (const std::string& name : graph.parameters()) {
    if (!graph.trainable(name)) continue;
    auto scale = lr_scale.find(name);
    const double rate = lr * (scale == lr_scale.end() ? 1.0 : scale->second);
    update(graph.weight(name), graph.grad(name), name, rate);
  }
}

void Optimizer::update(Tensor& param, const Tensor& grad, const std::string& name, double lr) {
  float* p = param.data();
  const float* g = grad.data();
  const int64_t n = param.size();
  const auto wd = static_cast<float>(config_.weight_decay);
  const auto rate = static_cast<float>(lr);
  Tensor& m = state_[name + "/m"];
  if (m.dims() != param.dims()) m = Tensor(param.dims(), 0.0F);
  if (config_.type == OptimizerType::sgd) {
    // PyTorch SGD: buf = momentum * buf + g (a zero buffer makes the first step buf = g);
    // p -= lr * (nesterov ? g + momentum * buf : buf).
    const auto mu = static_cast<float>(config_.momentum);
    for (int64_t i = 0; i < n; ++i) {
      const float d = g[i] + wd * p[i];
      m.data()[i] = mu * m.data()[i] + d;
      p[i] -= rate * (config_.nesterov ? d + mu * m.data()[i] : m.data()[i]);
    }
    return;
  }
  Tensor& v = state_[name + "/v"];
  if (v.dims() != param.dims()) v = Tensor(param.dims(), 0.0F);
  const auto b1 = static_cast<float>(config_.beta1), b2 = static_cast<float>(config_.beta2);
  const double c1 = 1.0 - std::pow(config_.beta1, static_cast<double>(steps_));
  const double c2 = 1.0 - std::pow(config_.beta2, static_cast<double>(steps_));
  const auto step_size = static_cast<float>(lr / c1);
  const auto root_c2 = static_cast<float>(std::sqrt(c2));
  const auto eps = static_cast<float>(config_.eps);
  const bool decoupled = config_.type == OptimizerType::adamw;
  for (int64_t i = 0; i < n; ++i) {
    if (decoupled) p[i] *= 1.0F - rate * wd;
    const float d = decoupled ? g[i] : g[i] + wd * p[i];
    m.data()[i] = b1 * m.data()[i] + (1.0F - b1) * d;
    v.data()[i] = b2 * v.data()[i] + (1.0F - b2) * d * d;
    p[i] -= step_size * m.data()[i] / (std::sqrt(v.data()[i]) / root_c2 + eps);
  }
}

}  // namespace terraseg
