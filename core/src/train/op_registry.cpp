// The one list of ops the training executor supports. Adding an op: write make_<op> in an ops_*.cpp file,
// declare it in train_op.hpp and list it here.
#include "train_op.hpp"

namespace terraseg::train {

const std::unordered_map<std::string, OpFactory>& op_registry() {
  static const std::unordered_map<std::string, OpFactory> registry{
      {"Conv", make_conv},
      {"ConvTranspose", make_conv_transpose},
      {"BatchNormalization", make_batch_norm},
      {"MaxPool", make_max_pool},
      {"AveragePool", make_average_pool},
      {"MaxUnpool", make_max_unpool},
      {"Relu", make_relu},
      {"LeakyRelu", make_leaky_relu},
      {"Sigmoid", make_sigmoid},
      {"PRelu", make_prelu},
      {"Add", make_add},
      {"Concat", make_concat},
      {"Pad", make_pad},
      {"Resize", make_resize},
      {"Identity", make_identity},
      {"Dropout", make_identity},
  };
  return registry;
}

bool keeps_layout(const Node& node) {
  const std::string& op = node.op;
  if (op == "MaxPool") return node.outputs.size() < 2 || node.outputs[1].empty();  // Indices are NCHW positions
  return op == "BatchNormalization" || op == "Relu" || op == "LeakyRelu" || op == "Sigmoid" || op == "PRelu" ||
         op == "AveragePool";
}

bool handles_layouts(const Node& node) {
  return keeps_layout(node) || node.op == "Conv" || node.op == "ConvTranspose" || node.op == "Concat" ||
         node.op == "Add";
}

}  // namespace terraseg::train
