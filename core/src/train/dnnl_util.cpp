#include "terraseg/core/error.hpp"
#include "train_op.hpp"

namespace terraseg::train {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream stream(cpu_engine());
  return stream;
}

dnnl::memory::desc tagged_md(const Dims& dims, dnnl::memory::format_tag tag) {
  return dnnl::memory::desc(dnnl::memory::dims(dims.begin(), dims.end()), dnnl::memory::data_type::f32, tag);
}

dnnl::memory::desc plain_md(const Dims& dims) {
  using tag = dnnl::memory::format_tag;
  static const tag by_rank[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde};
  if (dims.empty() || dims.size() > 5) throw Error("tensor rank " + std::to_string(dims.size()) + " is not supported");
  return tagged_md(dims, by_rank[dims.size()]);
}

dnnl::memory unbound(const dnnl::memory::desc& md) { return dnnl::memory(md, cpu_engine(), DNNL_MEMORY_NONE); }

dnnl::memory& Exec::owned(int id, const dnnl::memory::desc& md) {
  args[id] = dnnl::memory(md, cpu_engine());
  return args[id];
}

void Exec::bind(int id, const float* data) {
  // oneDNN takes a non-const handle for inputs too; it never writes through source arguments.
  args.at(id).set_data_handle(const_cast<float*>(data));
}

void Exec::run() {
  prim.execute(cpu_stream(), args);
  cpu_stream().wait();
}

std::string where(const Node& node) { return "node '" + node.name + "' (" + node.op + "): "; }

std::vector<int64_t> spatial_attr(const Node& node, const std::string& key, size_t count, int64_t fallback) {
  std::vector<int64_t> values = node.attr_ints(key, std::vector<int64_t>(count, fallback));
  if (values.size() != count) {
    throw Error(where(node) + "attribute '" + key + "' has " + std::to_string(values.size()) + " values, expected " +
                std::to_string(count));
  }
  return values;
}

}  // namespace terraseg::train
