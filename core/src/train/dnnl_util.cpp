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

dnnl::memory::desc blocked_md(const Dims& dims, bool wanted) {
  if (dims.empty() || dims.size() > 5) return {};
  if (!wanted || dims.size() != 4 || dims[1] % 8 != 0) return plain_md(dims);
  return tagged_md(dims, dnnl::memory::format_tag::nChw8c);
}

bool is_blocked(const dnnl::memory::desc& md) {
  if (md.is_zero()) return false;
  const auto dims = md.dims();
  return !(md == plain_md(Dims(dims.begin(), dims.end())));
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

void Exec::run() const {
  prim.execute(cpu_stream(), args);
  cpu_stream().wait();
}

void Staged::plan(const dnnl::memory::desc& outer, const dnnl::memory::desc& inner, bool to_inner) {
  const dnnl::memory::desc& plain = outer;  // the executor's buffer, whatever its layout
  inner_md_ = inner;
  reorder_ = Exec{};
  inner_ = dnnl::memory();
  if (plain.is_zero() || inner.is_zero() || plain == inner) return;
  inner_ = dnnl::memory(inner, cpu_engine());
  const dnnl::memory::desc& from = to_inner ? plain : inner;
  const dnnl::memory::desc& to = to_inner ? inner : plain;
  const dnnl::reorder::primitive_desc pd(cpu_engine(), from, cpu_engine(), to);
  reorder_ = Exec{dnnl::reorder(pd), {}};
  if (to_inner) {
    reorder_.slot(DNNL_ARG_FROM, plain);
    reorder_.args[DNNL_ARG_TO] = inner_;
  } else {
    reorder_.args[DNNL_ARG_FROM] = inner_;
    reorder_.slot(DNNL_ARG_TO, plain);
  }
}

void Staged::share(const Staged& other) {
  inner_md_ = other.inner_md_;
  inner_ = other.inner_;
  reorder_ = Exec{};
}

const float* Staged::in(const float* plain) {
  if (!inner_) return plain;
  if (reorder_) {
    reorder_.bind(DNNL_ARG_FROM, plain);
    reorder_.run();
  }
  return static_cast<const float*>(inner_.get_data_handle());
}

float* Staged::target(float* plain) { return inner_ ? static_cast<float*>(inner_.get_data_handle()) : plain; }

void Staged::out(float* plain) {
  if (!inner_ || !reorder_) return;
  reorder_.bind(DNNL_ARG_TO, plain);
  reorder_.run();
}

std::string where(const Node& node) { return node_prefix(node); }

std::vector<int64_t> spatial_attr(const Node& node, const std::string& key, size_t count, int64_t fallback) {
  std::vector<int64_t> values = node.attr_ints(key, std::vector<int64_t>(count, fallback));
  if (values.size() != count) {
    throw Error(where(node) + "attribute '" + key + "' has " + std::to_string(values.size()) + " values, expected " +
                std::to_string(count));
  }
  return values;
}

}  // namespace terraseg::train
