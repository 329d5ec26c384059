#include "device/cuda/host_pipeline.h"

#include <cstdint>
#include <cstring>
#include <deque>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "device/cuda/driver.h"

namespace moecheck::device::cuda {

namespace {

namespace pl = pipeline;

// Host buffers for driver.h, kept alive for one run.
class HostExec {
 public:
  template <class T>
  T* buffer(std::int64_t count, const char*) {
    std::vector<unsigned char>& b = store_.emplace_back(static_cast<std::size_t>(count) * sizeof(T), 0xFF);
    return reinterpret_cast<T*>(b.data());
  }
  template <class T>
  const T* upload(const std::vector<T>& host, const char* what) {
    if (host.empty()) return nullptr;
    T* p = buffer<T>(static_cast<std::int64_t>(host.size()), what);
    std::memcpy(p, host.data(), host.size() * sizeof(T));
    return p;
  }
  void align(const std::int32_t* ids, std::int64_t pairs, std::int64_t experts, std::int32_t* sorted,
             std::int64_t capacity, std::int32_t* expert_ids, std::int32_t* num_post) {
    pl::align(ids, pairs, experts, sorted, capacity, expert_ids, num_post);
  }
  void weight_input(const float* x, const float* w, std::int64_t k, std::int64_t width, bool bf16, float* a1,
                    std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i) pl::weight_input(x, w, k, width, bf16, a1, i);
  }
  // The grid of the kernel: blocks × N tiles × BLOCK_M rows × BLOCK_N columns.
  void gemm(const pl::GemmArgs& g, std::int64_t blocks, std::int64_t n_tiles, const char*) {
    for (std::int64_t b = 0; b < blocks; ++b)
      for (std::int64_t row = 0; row < pl::kBlockM; ++row)
        for (std::int64_t n = 0; n < n_tiles * pl::kBlockN; ++n) pl::gemm_element(g, b, row, n);
  }
  void activation(const float* cache1, std::int64_t half, int act, bool interleaved, bool bf16, float* cache2,
                  std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i) pl::activation_element(cache1, half, act, interleaved, bf16, cache2, i);
  }
  void sum(const float* cache3, const std::int32_t* ids, std::int64_t k, std::int64_t width, bool bf16, float* out,
           std::int64_t count, const pl::SumFaults& f) {
    for (std::int64_t i = 0; i < count; ++i) pl::sum_element(cache3, ids, k, width, bf16, out, i, f);
  }
  void download(float* dst, const float* src, std::int64_t count) {
    std::memcpy(dst, src, static_cast<std::size_t>(count) * sizeof(float));
  }

 private:
  std::deque<std::vector<unsigned char>> store_;  // stable addresses
};

}  // namespace

Capabilities pipeline_capabilities() {
  using reference::moe::Activation;
  using reference::moe::Dtype;
  using reference::moe::GateUpLayout;
  Capabilities c;
  for (const PipelineScheme& s : kPipelineSchemes) c.schemes.push_back(s.scheme);
  c.layouts = {GateUpLayout::kConcatenated, GateUpLayout::kInterleaved};
  c.activations = {Activation::kSilu, Activation::kGeluErf, Activation::kSwigluOai};
  c.dtypes = {Dtype::kF32, Dtype::kBf16};
  c.weights_on_input = true;
  c.biases = true;
  c.order_preserving = true;
  c.ulp_bound = 0;
  c.tolerance_reason =
      "one thread per output element, fp32 sum over K ascending, each product and sum rounded apart (__fmul_rn, "
      "__fadd_rn; no FMA): padded zero products leave every sum bitwise unchanged";
  c.block_m = pl::kBlockM;
  c.block_n = pl::kBlockN;
  c.block_k = 0;  // the whole of K per thread
  for (bool FaultSwitches::*flag : kPipelineFaults)
    for (const KernelFaultInfo& info : kernel_faults())
      if (info.flag == flag) c.faults.emplace_back(info.name);
  return c;
}

void check_pipeline_input(const PaddedCase& input) {
  validate(input);
  const Capabilities caps = pipeline_capabilities();
  if (const std::string why = caps.fault_problem(input.faults); !why.empty())
    throw std::invalid_argument("backend cuda: " + why);
  if (!caps.supports(input))
    throw std::invalid_argument("backend cuda: unsupported case (scheme " + std::string(device::name(input.scheme)) +
                                "; the kernels run " + std::to_string(std::size(kPipelineSchemes)) +
                                " rows of the scheme table)");
}

void run_pipeline_on_host(const PaddedCase& input, std::span<float> output) {
  check_pipeline_input(input);
  HostExec x;
  run_pipeline(x, input, output);
}

}  // namespace moecheck::device::cuda
