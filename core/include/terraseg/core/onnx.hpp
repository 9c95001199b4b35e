#pragma once
/// ONNX is terraseg's model format. Import normalises opsets 9-17 into the IR (see graph.hpp);
/// export writes opset 13 with the model card in metadata_props["terraseg.model_card"].
#include <string>

#include "terraseg/core/graph.hpp"

namespace terraseg {

/// Throws Error naming the file (and node/op) when the file is unreadable, not ONNX, or uses an
/// unsupported op or attribute.
Graph load_onnx(const std::string& path);
/// Same, from bytes in memory (`source` names them in errors). Never crashes on hostile input.
Graph load_onnx_bytes(const std::string& bytes, const std::string& source);
/// Writes to `path` via a temporary name and rename.
void save_onnx(const Graph& graph, const std::string& path);

}  // namespace terraseg
