// The `cuda` backend's per-thread work, one function per kernel, compiled both by nvcc (the
// kernels in cuda_backend.cu call them with their block and thread indices) and by the host
// compiler (host_pipeline.h runs the same functions over the whole grid on the CPU, so that the
// indexing, the dequantization and every rounding are checked against the sim on machines without
// a GPU; tests/cuda_pipeline_host_test.cpp). Only the launch, the copies and libdevice's exp / erf
// are the GPU's alone.
//
// Arithmetic: every fp32 product and sum is rounded apart (__fmul_rn / __fadd_rn on the device,
// plain operators on the host, which the build compiles with -ffp-contract=off; the .cu with
// -fmad=false), in the sim's order, so the results are the sim's bit for bit.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define MOECHECK_HD __host__ __device__
#else
#define MOECHECK_HD
#endif

namespace moecheck::device::cuda::pipeline {

// The sort's block and the GEMM tile: vLLM's small-batch Triton config (the sim's "sim" tiles).
inline constexpr int kBlockM = 16;
inline constexpr int kBlockN = 64;
// reference::moe's SwiGLU-OAI constants (activation.h), repeated for device code, which cannot
// read a host namespace's variables; tests/cuda_pipeline_host_test.cpp checks they agree.
inline constexpr float kSwigluOaiAlpha = 1.702f;
inline constexpr float kSwigluOaiLimit = 7.0f;
// The activations, numbered as reference::moe::Activation.
enum Act : int { kSilu = 0, kGeluErf = 1, kSwigluOai = 2 };

MOECHECK_HD inline float mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
MOECHECK_HD inline float add(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
MOECHECK_HD inline std::uint32_t bits(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}
MOECHECK_HD inline float from_bits(std::uint32_t u) {
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}
// Round to the nearest bf16, ties to even (formats::bf16_rne for every non-NaN input; a NaN stays
// a quiet NaN of its sign).
MOECHECK_HD inline float bf16_round(float v) {
  const std::uint32_t u = bits(v);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return from_bits((u | 0x00400000u) & 0xFFFF0000u);
  return from_bits((u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u);
}
MOECHECK_HD inline float round_dtype(float v, bool bf16) { return bf16 ? bf16_round(v) : v; }
// reference::moe::round_to: the exact value to fp32, then to the model dtype.
MOECHECK_HD inline float round_exact(double v, bool bf16) { return round_dtype(static_cast<float>(v), bf16); }

// formats::e8m0_value: 2^(b - 127), 0xFF NaN.
MOECHECK_HD inline float e8m0_value(std::uint8_t b) {
  if (b == 0xFF) return from_bits(0x7FC00000u);
  return b == 0 ? from_bits(0x00400000u) : from_bits(static_cast<std::uint32_t>(b) << 23);
}
// OCP e2m1: s e e m; exponent 0 is the subnormal 0.5 · m.
MOECHECK_HD inline float e2m1_value(std::uint8_t code) {
  const int e = (code >> 1) & 3, m = code & 1;
  const float magnitude = e == 0 ? 0.5f * m : (1.0f + 0.5f * m) * static_cast<float>(1 << (e - 1));
  return (code & 8) ? -magnitude : magnitude;
}

// moe_align_block_size (vLLM csrc/moe/moe_align_sum_kernels.cu; the sim's device/sim/align.h):
// each expert's pairs in ascending pair order, its segment padded with the sentinel T·k to a
// multiple of BLOCK_M, one expert id per block, the padded count. One thread runs it.
MOECHECK_HD inline void align(const std::int32_t* topk_ids, std::int64_t pairs, std::int64_t experts,
                              std::int32_t* sorted_ids, std::int64_t sorted_capacity, std::int32_t* expert_ids,
                              std::int32_t* num_post) {
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

// Element i of a1 = x · w.to(dtype), one row per pair (the router weight on the input: Llama-4).
MOECHECK_HD inline void weight_input(const float* x, const float* topk_weights, std::int64_t k, std::int64_t width,
                                     bool bf16, float* a1, std::int64_t i) {
  const std::int64_t p = i / width, h = i % width;
  a1[i] = round_dtype(mul(x[(p / k) * width + h], round_dtype(topk_weights[p], bf16)), bf16);
}

// OCP / NVIDIA e4m3fn: s eeee mmm, exponent bias 7, exponent 0 subnormal (m · 2^-9), 0x7F / 0xFF NaN.
MOECHECK_HD inline float e4m3fn_value(std::uint8_t code) {
  const std::uint32_t e = (code >> 3) & 15u, m = code & 7u;
  if (e == 15u && m == 7u) return from_bits(0x7FC00000u | (static_cast<std::uint32_t>(code & 0x80) << 24));
  // Both forms are exact: m · 2^-9, (8 + m) · 2^(e - 10).
  const float magnitude = e == 0 ? static_cast<float>(m) * from_bits((127u - 9u) << 23)
                                 : static_cast<float>(8u + m) * from_bits((127u + e - 10u) << 23);
  return (code & 0x80) ? -magnitude : magnitude;
}

// How one expert's B operand is stored (the sim's WeightView and its tile functions, for the rows
// the kernels run). Element (n, k) of expert e, dequantized into the model dtype.
enum WeightKind : int {
  kDenseValues = 0,  // dense: fp32 values of the model dtype
  kMxfp4Codes = 1,   // mxfp4_w4a16: e2m1 two per byte along K (low nibble = even k) × E8M0 per 32
  kFp8Block = 2,     // fp8_block128_w8a16: e4m3fn × the fp32 multiplier of its 128 × 128 block
  kWna16 = 3,        // Triton WNA16: (fp32(q) - fp32(zp)) · scale per group along K
  kMxfp8Codes = 4,   // mxfp8_w8a16: e4m3fn one per byte × E8M0 per 32
  kNvfp4Codes = 5,   // nvfp4_w4a16: e2m1 nibbles × (fp32(ue4m3 per 16) · weight_scale_2 of the part)
  kFp8Tensor = 6,    // fp8_per_tensor_w8a16: e4m3fn × the projection's one fp32 scale
};
struct WeightRef {
  int kind = kDenseValues;
  const float* values = nullptr;
  const std::uint8_t* codes = nullptr;
  const std::uint8_t* scale_bytes = nullptr;
  const float* scales = nullptr;
  const std::uint8_t* zero_points = nullptr;  // WNA16, one per byte [N, K/g]; nullptr: zp_default
  std::int64_t rows = 0, cols = 0;            // N, K of one expert
  std::int64_t code_stride = 0;               // stored code bytes per row
  std::int64_t codes_per_byte = 1;            // 2: int4 / e2m1 nibbles along K
  std::int64_t scale_stride = 0;              // stored scale columns per stored scale row
  std::int64_t scale_k_block = 1, scale_row_block = 1;
  std::int64_t scales_per_expert = 0, zp_per_expert = 0;
  // A 2-D grid (FP8 blocks) is per half of w13 (gate rows, then up rows: half_rows = I_pad, each
  // half `half_blocks` block rows); 0 for w2. A TP shard off the block grid (B16, a ruleset that
  // loads tiles in global coordinates) starts `row_offset` rows (w13) or `k_offset` columns (w2)
  // into its first block.
  std::int64_t half_rows = 0, half_blocks = 0, row_offset = 0, k_offset = 0;
  int zp_default = 0;  // 8 / 128 for symmetric WNA16
  // Fault B1 (read_padded_scales): row b1_row of each half of w13 reads the scales of row
  // b1_source of that half; -1: off. `interleaved`: w13's rows alternate gate and up.
  std::int64_t b1_row = -1, b1_source = -1;
  bool interleaved = false;
  // Per-part scalars (NVFP4 weight_scale_2, FP8 per-tensor weight_scale): part_count per expert,
  // w13's gate and up (rows split at half_rows) or one for the projection.
  const float* part_scales = nullptr;
  std::int64_t part_count = 0, part_half_rows = 0;

  // The row whose scales row n reads (the sim's WeightView::scale_row).
  MOECHECK_HD std::int64_t scale_row(std::int64_t n) const {
    if (b1_row < 0 || half_rows == 0) return n;
    const std::int64_t half = interleaved ? n % 2 : n / half_rows;
    const std::int64_t i = interleaved ? n / 2 : n % half_rows;
    if (i != b1_row) return n;
    return interleaved ? 2 * b1_source + half : half * half_rows + b1_source;
  }
  // A plain scale of element (n, k) of expert e, wrapped inside the expert's scales (fault B2's
  // stride reads past a row).
  MOECHECK_HD std::int64_t plain_scale(std::int64_t e, std::int64_t n, std::int64_t k) const {
    return e * scales_per_expert + (scale_row(n) * scale_stride + k / scale_k_block) % scales_per_expert;
  }
  MOECHECK_HD float part_scale(std::int64_t e, std::int64_t n) const {
    const float* p = part_scales + e * part_count;
    return part_count == 1 || part_half_rows == 0 ? p[0] : p[n / part_half_rows];
  }
};

MOECHECK_HD inline float weight_value(const WeightRef& w, std::int64_t e, std::int64_t n, std::int64_t k, bool bf16) {
  switch (w.kind) {
    case kDenseValues:
      return w.values[(e * w.rows + n) * w.cols + k];
    case kMxfp4Codes: {
      const std::uint8_t byte = w.codes[(e * w.rows + n) * w.code_stride + k / 2];
      const float s = e8m0_value(w.scale_bytes[w.plain_scale(e, n, k)]);
      return round_dtype(mul(e2m1_value(k % 2 == 0 ? byte & 0x0F : byte >> 4), s), bf16);
    }
    case kFp8Block: {
      const std::int64_t r = w.scale_row(n);
      const std::int64_t stored_row =
          w.half_rows == 0 ? r / w.scale_row_block
                           : (r / w.half_rows) * w.half_blocks + (w.row_offset + r % w.half_rows) / w.scale_row_block;
      const float s = w.scales[e * w.scales_per_expert + stored_row * w.scale_stride + (w.k_offset + k) / w.scale_k_block];
      return round_dtype(mul(e4m3fn_value(w.codes[(e * w.rows + n) * w.code_stride + k]), s), bf16);
    }
    case kMxfp8Codes: {
      const float s = e8m0_value(w.scale_bytes[w.plain_scale(e, n, k)]);
      return round_dtype(mul(e4m3fn_value(w.codes[(e * w.rows + n) * w.code_stride + k]), s), bf16);
    }
    case kNvfp4Codes: {
      const std::uint8_t byte = w.codes[(e * w.rows + n) * w.code_stride + k / 2];
      // ue4m3: the block scale's positive e4m3 code; b_scale = fp32(ue4m3) · weight_scale_2 first.
      const float b_scale = mul(e4m3fn_value(w.scale_bytes[w.plain_scale(e, n, k)]), w.part_scale(e, n));
      return round_dtype(mul(e2m1_value(k % 2 == 0 ? byte & 0x0F : byte >> 4), b_scale), bf16);
    }
    case kFp8Tensor:
      return round_dtype(mul(e4m3fn_value(w.codes[(e * w.rows + n) * w.code_stride + k]), w.part_scale(e, n)), bf16);
    default: {  // kWna16
      const std::uint8_t byte = w.codes[(e * w.rows + n) * w.code_stride + k / w.codes_per_byte];
      const int q = w.codes_per_byte == 2 ? (k % 2 == 0 ? byte & 0x0F : byte >> 4) : byte;
      // Zero points share the scales' row (fault B1 included) and group.
      const int zp = w.zero_points ? w.zero_points[e * w.zp_per_expert + w.scale_row(n) * w.scale_stride + k / w.scale_k_block]
                                   : w.zp_default;
      return round_dtype(mul(static_cast<float>(q) - static_cast<float>(zp), w.scales[w.plain_scale(e, n, k)]), bf16);
    }
  }
}

struct GemmArgs {
  const float* a;      // A rows
  std::int64_t a_div;  // pair p reads A row p / a_div (GEMM1 on tokens: top_k; else 1)
  WeightRef b;         // the experts' B operand, [E, n_total, k_total] as a matrix
  const float* bias;          // [E, n_total] or nullptr
  const float* topk_weights;  // [pairs] or nullptr: multiplied in the epilogue (GEMM2)
  float* c;                   // [pairs, n_total]
  std::int64_t n_total, k_total, sentinel;
  const std::int32_t* sorted_ids;
  const std::int32_t* expert_ids;
  const std::int32_t* num_post;
  bool bf16;
};

// Output column n of sorted slot `row` (0 .. BLOCK_M) of aligned block `block`: the fp32 sum over
// K ascending, multiply then add, then acc (+ bias) (· router weight), one cast. Rows past the
// padded count, sentinel slots and columns past N write nothing (the kernel's masks).
MOECHECK_HD inline void gemm_element(const GemmArgs& g, std::int64_t block, std::int64_t row, std::int64_t n) {
  if (block * kBlockM >= *g.num_post) return;
  const std::int32_t pair = g.sorted_ids[block * kBlockM + row];
  if (pair >= g.sentinel || n >= g.n_total) return;
  const std::int64_t e = g.expert_ids[block];
  const float* a = g.a + (pair / g.a_div) * g.k_total;
  float acc = 0.0f;
  for (std::int64_t k = 0; k < g.k_total; ++k) acc = add(acc, mul(a[k], weight_value(g.b, e, n, k, g.bf16)));
  if (g.bias) acc = add(acc, g.bias[e * g.n_total + n]);
  if (g.topk_weights) acc = mul(acc, g.topk_weights[pair]);
  g.c[static_cast<std::int64_t>(pair) * g.n_total + n] = round_dtype(acc, g.bf16);
}

// Double-precision exp and erf: libdevice's on the device, the C library's on the host (both
// within a double's last place or two; the results are rounded to fp32 or bf16 after).
#ifdef __CUDA_ARCH__
#define MOECHECK_DOUBLE_MATH(f) ::f
#else
#define MOECHECK_DOUBLE_MATH(f) std::f
#endif
MOECHECK_HD inline double sigmoid(double v) { return 1.0 / (1.0 + MOECHECK_DOUBLE_MATH(exp)(-v)); }

// Element i of cache2 (pair i / half, column i % half): reference::moe::activate's double-precision
// steps and roundings, gate and up interleaved or split at `half`.
MOECHECK_HD inline void activation_element(const float* cache1, std::int64_t half, int activation, bool interleaved,
                                           bool bf16, float* cache2, std::int64_t i) {
  const std::int64_t p = i / half, j = i % half;
  const float* row = cache1 + p * 2 * half;
  const double gate = row[interleaved ? 2 * j : j];
  const double up = row[interleaved ? 2 * j + 1 : half + j];
  float out = 0.0f;
  switch (activation) {
    case kSilu:
      out = round_exact(double{round_exact(gate * sigmoid(gate), bf16)} * up, bf16);
      break;
    case kGeluErf:
      out = round_exact(double{round_exact(0.5 * gate * (1.0 + MOECHECK_DOUBLE_MATH(erf)(gate / 1.4142135623730951)), bf16)} * up, bf16);
      break;
    default: {  // kSwigluOai
      const double limit = kSwigluOaiLimit;
      const double g = limit < gate ? limit : gate;  // std::min: NaN stays NaN
      const double u = up < -limit ? -limit : limit < up ? limit : up;
      const double glu =
          round_exact(g * round_exact(sigmoid(round_exact(g * double{kSwigluOaiAlpha}, bf16)), bf16), bf16);
      out = round_exact(double{round_exact(u + 1.0, bf16)} * glu, bf16);
      break;
    }
  }
  cache2[i] = out;
}

// Element i of the output (token i / width, column i % width): moe_sum over the k slots, k = 1 a
// copy, k in {2, 3, 4} adds in the model dtype rounding after each add, other k an fp32 sum
// rounded once. A slot of another EP rank's expert (id -1) adds zero.
// The reduction's faults: B18 (unwritten_slots_reduced) sums a -1 slot's row as the workspace
// holds it; B10 (nan_for_empty_experts) adds 0 · NaN, an empty expert's allocated scale, to
// every output (`empty_experts`: how many experts got no token).
struct SumFaults {
  bool unwritten_slots_reduced = false;
  bool nan_for_empty_experts = false;
  std::int64_t empty_experts = 0;
};
MOECHECK_HD inline void sum_element(const float* cache3, const std::int32_t* topk_ids, std::int64_t k,
                                    std::int64_t width, bool bf16, float* out, std::int64_t i,
                                    const SumFaults& f = {}) {
  const std::int64_t t = i / width, h = i % width;
  const bool dtype_adds = k >= 2 && k <= 4;
  float s = 0.0f;
  for (std::int64_t j = 0; j < k; ++j) {
    const bool other_rank = topk_ids[t * k + j] == -1 && !f.unwritten_slots_reduced;
    const float v = other_rank ? 0.0f : cache3[(t * k + j) * width + h];
    s = j == 0 ? v : add(s, v);
    if (j > 0 && dtype_adds) s = round_dtype(s, bf16);
  }
  float o = round_dtype(s, bf16);
  if (f.nan_for_empty_experts)
    for (std::int64_t e = 0; e < f.empty_experts; ++e) o = add(o, mul(0.0f, from_bits(0x7FC00000u)));
  out[i] = o;
}

}  // namespace moecheck::device::cuda::pipeline
