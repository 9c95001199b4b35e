#pragma once
/// Transfer learning on the IR: classifier-head remapping or replacement for a new class set, layer
/// freezing and per-group learning rates by node-name glob.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "terraseg/core/graph.hpp"
#include "terraseg/core/train_graph.hpp"

namespace terraseg {

/// Shell-style glob: '*' any run, '?' one character. Whole-string match.
bool glob_match(const std::string& pattern, const std::string& text);

/// The node whose weights produce the class scores: the Conv/ConvTranspose feeding output 0, found by
/// walking back through shape-keeping single-input ops (Resize, Identity, activations).
const Node& classifier_node(const Graph& graph);

/// New class c takes the old head's output channel old_of_new[c]; -1 starts that class afresh
/// (He-scaled random weights, zero bias). The caller updates the model card's classes.
void remap_head(Graph& graph, const std::vector<int>& old_of_new, uint64_t seed);

/// Fresh He-initialised head with `classes` output channels.
void replace_head(Graph& graph, int classes, uint64_t seed);

/// Same architecture, fresh weights: He-normal convolution weights, zero biases, identity batch norms,
/// PReLU slopes 0.25 (PyTorch's defaults). The from-scratch arm of a transfer-learning ablation.
/// Returns the number of re-initialised tensors.
int reinitialise_weights(Graph& graph, uint64_t seed);

/// Freezes the parameters of nodes whose names match any glob; "!glob" entries unfreeze afterwards.
/// Returns the number of frozen parameters. Throws Error for a glob matching no node.
int freeze_by_glob(TrainGraph& graph, const std::vector<std::string>& globs);
/// Freezes every parameterised node except the last `trainable_nodes` of them (in graph order).
int freeze_all_but_last(TrainGraph& graph, int trainable_nodes);

/// Per-parameter learning-rate factors: the first matching (node glob, factor) wins; default 1.
std::map<std::string, double> lr_multipliers(const TrainGraph& graph,
                                             const std::vector<std::pair<std::string, double>>& groups);

/// The node reading each parameter (parameter name -> node name).
std::map<std::string, std::string> parameter_owners(const TrainGraph& graph);

}  // namespace terraseg
