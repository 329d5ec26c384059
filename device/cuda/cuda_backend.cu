#include "device/cuda/cuda_backend.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace moecheck::device::cuda {

namespace {

using reference::moe::Activation;
using reference::moe::Dtype;
using reference::moe::GateUpLayout;

// The sort's block and the GEMM tile: vLLM's small-batch Triton config (the sim's "sim" tiles).
constexpr int kBlockM = 16;
constexpr int kBlockN = 64;

// What a failed call names: the kernel (or API call) and the case's shape.
struct Where {
  std::string shape;
  [[noreturn]] void fail(const char* what, cudaError_t err) const {
    throw std::runtime_error(std::string("backend cuda: ") + what + " failed: " + cudaGetErrorName(err) + " (" +
                             cudaGetErrorString(err) + "); case " + shape);
  }
  void check(cudaError_t err, const char* what) const {
    if (err != cudaSuccess) fail(what, err);
  }
  // A launch: its configuration error now, its execution error at the synchronize.
  void launched(const char* kernel) const {
    check(cudaGetLastError(), kernel);
    check(cudaDeviceSynchronize(), kernel);
  }
};

// A device allocation, filled with 0xFF bytes (fp32 NaN, int32 -1) so that a read of anything the
// pipeline did not write shows.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer(std::size_t count, const Where& where, const char* what) : count_(count) {
    if (count_ == 0) return;
    where.check(cudaMalloc(&data_, count_ * sizeof(T)), what);
    where.check(cudaMemset(data_, 0xFF, count_ * sizeof(T)), what);
  }
  DeviceBuffer(const std::vector<T>& host, const Where& where, const char* what) : DeviceBuffer(host.size(), where, what) {
    if (count_ > 0) where.check(cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice), what);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  T* get() const { return data_; }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

__device__ float round_dtype(float v, bool bf16) { return bf16 ? __bfloat162float(__float2bfloat16_rn(v)) : v; }
// reference::moe::round_to: the exact value to fp32, then to the model dtype.
__device__ float round_exact(double v, bool bf16) { return round_dtype(__double2float_rn(v), bf16); }

// moe_align_block_size (vLLM csrc/moe/moe_align_sum_kernels.cu, the sim's device/sim/align.h):
// each expert's pairs in ascending pair order, its segment padded with the sentinel T·k to a
// multiple of BLOCK_M, one expert id per block, the padded count. One thread: the order is the
// sim's by construction, and T·k is small next to the GEMMs.
__global__ void align_kernel(const std::int32_t* topk_ids, std::int64_t pairs, std::int64_t experts,
                             std::int32_t* sorted_ids, std::int64_t sorted_capacity, std::int32_t* expert_ids,
                             std::int32_t* num_post) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  const std::int32_t sentinel = static_cast<std::int32_t>(pairs);
  for (std::int64_t i = 0; i < sorted_capacity; ++i) sorted_ids[i] = sentinel;
  std::int64_t at = 0;
  for (std::int64_t e = 0; e < experts; ++e) {
    const std::int64_t begin = at;
    for (std::int64_t p = 0; p < pairs; ++p)
      if (topk_ids[p] == e) sorted_ids[at++] = static_cast<std::int32_t>(p);
    const std::int64_t end = begin + (at - begin + kBlockM - 1) / kBlockM * kBlockM;
    for (std::int64_t b = begin / kBlockM; b < end / kBlockM; ++b) expert_ids[b] = static_cast<std::int32_t>(e);
    at = end;
  }
  *num_post = static_cast<std::int32_t>(at);
}

// a1 = x · w.to(dtype), one row per pair (the router weight on the input: Llama-4).
__global__ void weight_input_kernel(const float* x, const float* topk_weights, std::int64_t pairs, std::int64_t k,
                                    std::int64_t width, bool bf16, float* a1) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= pairs * width) return;
  const std::int64_t p = i / width, h = i % width;
  a1[i] = round_dtype(__fmul_rn(x[(p / k) * width + h], round_dtype(topk_weights[p], bf16)), bf16);
}

// e2m1 code → value (OCP MX v1.0; formats::decode_table(kE2m1)).
__constant__ float kE2m1[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
// formats::e8m0_value: 2^(b - 127), 0xFF NaN.
__device__ float e8m0_value(std::uint8_t b) {
  if (b == 0xFF) return __int_as_float(0x7FC00000);
  return b == 0 ? __int_as_float(0x00400000) : __int_as_float(static_cast<int>(b) << 23);
}

struct GemmArgs {
  const float* a;            // A rows
  std::int64_t a_div;        // pair p reads A row p / a_div (GEMM1 on tokens: top_k; else 1)
  const float* w;            // dense: [E, n_total, k_total] values of the model dtype; else nullptr
  // MXFP4 (mxfp4_w4a16): e2m1 codes two per byte along K (low nibble = even k) [E, n_total, k/2]
  // and E8M0 scale bytes per 32 along K [E, n_total, k/32], dequantized in the tile into the model
  // dtype (the sim's mxfp4_row: round(e2m1 · 2^(s - 127))).
  const std::uint8_t* codes;
  const std::uint8_t* scale_bytes;
  const float* bias;         // [E, n_total] or nullptr
  const float* topk_weights; // [pairs] or nullptr: multiplied in the epilogue (GEMM2)
  float* c;                  // [pairs, n_total]
  std::int64_t n_total, k_total, sentinel;
  const std::int32_t* sorted_ids;
  const std::int32_t* expert_ids;
  const std::int32_t* num_post;
  bool bf16;
};

// One thread per output element of a BLOCK_M × BLOCK_N tile of one aligned block: the fp32 sum over
// K ascending, multiply then add (no FMA), then acc (+ bias) (· router weight), one cast.
__global__ void gemm_kernel(GemmArgs g) {
  const std::int64_t block = blockIdx.x;
  if (block * kBlockM >= *g.num_post) return;
  const std::int64_t slot = block * kBlockM + threadIdx.y;
  const std::int64_t n = static_cast<std::int64_t>(blockIdx.y) * kBlockN + threadIdx.x;
  const std::int32_t pair = g.sorted_ids[slot];
  if (pair >= g.sentinel || n >= g.n_total) return;  // the kernel's token mask and N bound
  const std::int64_t e = g.expert_ids[block];
  const float* a = g.a + (pair / g.a_div) * g.k_total;
  float acc = 0.0f;
  if (g.w) {
    const float* w = g.w + (e * g.n_total + n) * g.k_total;
    for (std::int64_t k = 0; k < g.k_total; ++k) acc = __fadd_rn(acc, __fmul_rn(a[k], w[k]));
  } else {
    const std::uint8_t* codes = g.codes + (e * g.n_total + n) * (g.k_total / 2);
    const std::uint8_t* scales = g.scale_bytes + (e * g.n_total + n) * (g.k_total / 32);
    for (std::int64_t k = 0; k < g.k_total; ++k) {
      const std::uint8_t byte = codes[k / 2];
      const float w = round_dtype(__fmul_rn(kE2m1[k % 2 == 0 ? byte & 0x0F : byte >> 4], e8m0_value(scales[k / 32])), g.bf16);
      acc = __fadd_rn(acc, __fmul_rn(a[k], w));
    }
  }
  if (g.bias) acc = __fadd_rn(acc, g.bias[e * g.n_total + n]);
  if (g.topk_weights) acc = __fmul_rn(acc, g.topk_weights[pair]);
  g.c[static_cast<std::int64_t>(pair) * g.n_total + n] = round_dtype(acc, g.bf16);
}

__device__ double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

// reference::moe::activate on one (pair, column): the same double-precision steps and roundings.
__global__ void activation_kernel(const float* cache1, std::int64_t pairs, std::int64_t half, int activation,
                                  bool interleaved, bool bf16, float* cache2) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= pairs * half) return;
  const std::int64_t p = i / half, j = i % half;
  const float* row = cache1 + p * 2 * half;
  const double gate = row[interleaved ? 2 * j : j];
  const double up = row[interleaved ? 2 * j + 1 : half + j];
  float out = 0.0f;
  switch (static_cast<Activation>(activation)) {
    case Activation::kSilu:
      out = round_exact(double{round_exact(gate * sigmoid(gate), bf16)} * up, bf16);
      break;
    case Activation::kGeluErf:
      out = round_exact(double{round_exact(0.5 * gate * (1.0 + erf(gate / sqrt(2.0))), bf16)} * up, bf16);
      break;
    case Activation::kSwigluOai: {
      const double limit = reference::moe::kSwigluOaiLimit;
      const double g = limit < gate ? limit : gate;  // std::min: NaN stays NaN
      const double u = up < -limit ? -limit : limit < up ? limit : up;
      const double glu = round_exact(g * round_exact(sigmoid(round_exact(g * double{reference::moe::kSwigluOaiAlpha}, bf16)), bf16), bf16);
      out = round_exact(double{round_exact(u + 1.0, bf16)} * glu, bf16);
      break;
    }
  }
  cache2[i] = out;
}

// moe_sum over the k slots: k = 1 a copy; k in {2, 3, 4} adds in the model dtype, rounding after
// each add; other k: an fp32 sum rounded once. A slot of another EP rank's expert (id -1) adds zero.
__global__ void sum_kernel(const float* cache3, const std::int32_t* topk_ids, std::int64_t tokens, std::int64_t k,
                           std::int64_t width, bool bf16, float* out) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= tokens * width) return;
  const std::int64_t t = i / width, h = i % width;
  const bool dtype_adds = k >= 2 && k <= 4;
  const auto slot = [&](std::int64_t j) { return topk_ids[t * k + j] == -1 ? 0.0f : cache3[(t * k + j) * width + h]; };
  float s = slot(0);
  for (std::int64_t j = 1; j < k; ++j) {
    s = __fadd_rn(s, slot(j));
    if (dtype_adds) s = round_dtype(s, bf16);
  }
  out[i] = round_dtype(s, bf16);
}

unsigned grid_of(std::int64_t n, unsigned threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

}  // namespace

std::string unavailable_reason() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return std::string("no CUDA device: cudaGetDeviceCount: ") + cudaGetErrorString(err);
  if (count == 0) return "no CUDA device on this machine";
  return {};
}

Capabilities CudaBackend::capabilities() const {
  Capabilities c;
  c.schemes = {WeightScheme::kDense, WeightScheme::kMxfp4W4A16};
  c.layouts = {GateUpLayout::kConcatenated, GateUpLayout::kInterleaved};
  c.activations = {Activation::kSilu, Activation::kGeluErf, Activation::kSwigluOai};
  c.dtypes = {Dtype::kF32, Dtype::kBf16};
  c.weights_on_input = true;
  c.biases = true;
  c.order_preserving = true;
  c.ulp_bound = 0;
  c.tolerance_reason =
      "one thread per output element, fp32 sum over K ascending, __fmul_rn then __fadd_rn (no FMA): padded zero "
      "products leave every sum bitwise unchanged";
  c.block_m = kBlockM;
  c.block_n = kBlockN;
  c.block_k = 0;  // the whole of K per thread
  c.injects_faults = false;
  return c;
}

void CudaBackend::run(const PaddedCase& input, std::span<float> output) const {
  validate(input);
  if (!capabilities().supports(input))
    throw std::invalid_argument("backend cuda: unsupported case (scheme " + std::string(device::name(input.scheme)) +
                                "; this kernel set runs dense and mxfp4_w4a16)");
  const std::int64_t tokens = input.tokens, k = input.top_k, experts = input.experts;
  const std::int64_t hp = input.plan.hidden_padded, ip = input.plan.intermediate_per_partition_padded;
  if (static_cast<std::int64_t>(output.size()) != tokens * hp)
    throw std::invalid_argument("backend cuda: output holds " + std::to_string(output.size()) +
                                " floats, expected [T, H_pad] = " + std::to_string(tokens * hp));
  const Where where{"T" + std::to_string(tokens) + " E" + std::to_string(experts) + " k" + std::to_string(k) + " H_pad " +
                    std::to_string(hp) + " I_pad " + std::to_string(ip) + " " +
                    std::string(reference::moe::name(input.dtype))};
  if (const std::string why = unavailable_reason(); !why.empty()) throw std::runtime_error("backend cuda: " + why);
  if (tokens == 0) return;
  const bool bf16 = input.dtype == Dtype::kBf16;
  const std::int64_t pairs = tokens * k, n1 = 2 * ip;
  const std::int64_t capacity = pairs + experts * (kBlockM - 1), max_blocks = (capacity + kBlockM - 1) / kBlockM;

  const DeviceBuffer<std::int32_t> ids(input.topk_ids.data, where, "cudaMalloc topk_ids");
  const DeviceBuffer<float> weights(input.topk_weights.data, where, "cudaMalloc topk_weights");
  const DeviceBuffer<float> x(input.hidden_states_padded.data, where, "cudaMalloc hidden_states");
  const bool mxfp4 = input.scheme == WeightScheme::kMxfp4W4A16;
  const DeviceBuffer<float> w13(input.w13.values.data, where, "cudaMalloc w13");
  const DeviceBuffer<float> w2(input.w2.values.data, where, "cudaMalloc w2");
  const DeviceBuffer<std::uint8_t> w13_codes(input.w13.codes.data, where, "cudaMalloc w13 codes");
  const DeviceBuffer<std::uint8_t> w2_codes(input.w2.codes.data, where, "cudaMalloc w2 codes");
  const DeviceBuffer<std::uint8_t> w13_scales(input.w13.scale_bytes.data, where, "cudaMalloc w13 scale bytes");
  const DeviceBuffer<std::uint8_t> w2_scales(input.w2.scale_bytes.data, where, "cudaMalloc w2 scale bytes");
  const DeviceBuffer<float> b13(input.w13_bias.data, where, "cudaMalloc w13_bias");
  const DeviceBuffer<float> b2(input.w2_bias.data, where, "cudaMalloc w2_bias");
  const DeviceBuffer<std::int32_t> sorted(static_cast<std::size_t>(max_blocks * kBlockM), where, "cudaMalloc sorted_ids");
  const DeviceBuffer<std::int32_t> expert_ids(static_cast<std::size_t>(max_blocks), where, "cudaMalloc expert_ids");
  const DeviceBuffer<std::int32_t> num_post(1, where, "cudaMalloc num_tokens_post_padded");
  const DeviceBuffer<float> a1(input.weights_on_input ? static_cast<std::size_t>(pairs * hp) : 0, where, "cudaMalloc a1");
  const DeviceBuffer<float> cache1(static_cast<std::size_t>(pairs * n1), where, "cudaMalloc intermediate_cache1");
  const DeviceBuffer<float> cache2(static_cast<std::size_t>(pairs * ip), where, "cudaMalloc intermediate_cache2");
  const DeviceBuffer<float> cache3(static_cast<std::size_t>(pairs * hp), where, "cudaMalloc intermediate_cache3");
  const DeviceBuffer<float> out(static_cast<std::size_t>(tokens * hp), where, "cudaMalloc output");

  align_kernel<<<1, 1>>>(ids.get(), pairs, experts, sorted.get(), max_blocks * kBlockM, expert_ids.get(), num_post.get());
  where.launched("moe_align_block_size");
  if (input.weights_on_input) {
    weight_input_kernel<<<grid_of(pairs * hp, 256), 256>>>(x.get(), weights.get(), pairs, k, hp, bf16, a1.get());
    where.launched("apply_router_weight_on_input");
  }
  const dim3 tile(kBlockN, kBlockM);
  const bool has_b13 = !input.w13_bias.shape.empty(), has_b2 = !input.w2_bias.shape.empty();
  GemmArgs g1{input.weights_on_input ? a1.get() : x.get(), input.weights_on_input ? 1 : k, mxfp4 ? nullptr : w13.get(),
              w13_codes.get(), w13_scales.get(), has_b13 ? b13.get() : nullptr, nullptr, cache1.get(), n1, hp, pairs, sorted.get(), expert_ids.get(),
              num_post.get(), bf16};
  gemm_kernel<<<dim3(static_cast<unsigned>(max_blocks), grid_of(n1, kBlockN)), tile>>>(g1);
  where.launched("fused_moe GEMM1 (w13)");
  activation_kernel<<<grid_of(pairs * ip, 256), 256>>>(cache1.get(), pairs, ip, static_cast<int>(input.activation),
                                                       input.layout == GateUpLayout::kInterleaved, bf16, cache2.get());
  where.launched("activation");
  GemmArgs g2{cache2.get(), 1, mxfp4 ? nullptr : w2.get(), w2_codes.get(), w2_scales.get(), has_b2 ? b2.get() : nullptr, input.weights_on_input ? nullptr : weights.get(),
              cache3.get(), hp, ip, pairs, sorted.get(), expert_ids.get(), num_post.get(), bf16};
  gemm_kernel<<<dim3(static_cast<unsigned>(max_blocks), grid_of(hp, kBlockN)), tile>>>(g2);
  where.launched("fused_moe GEMM2 (w2)");
  sum_kernel<<<grid_of(tokens * hp, 256), 256>>>(cache3.get(), ids.get(), tokens, k, hp, bf16, out.get());
  where.launched("moe_sum");
  where.check(cudaMemcpy(output.data(), out.get(), output.size() * sizeof(float), cudaMemcpyDeviceToHost),
              "cudaMemcpy output");
}

}  // namespace moecheck::device::cuda
