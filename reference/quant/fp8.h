// FP8 activation and weight schemes with one fp32 scale per tensor, column, row or row group
// (spec/numerics.md §3.1–§3.4, §3.6). Every quantizer is named after the code path it emulates and
// copies that path's operation order: IEEE division vs reciprocal-multiply vs Triton's div.full,
// eps and floor values, the clamp limit (448 for e4m3fn, 224 for e4m3fnuz) and the clamp's NaN
// behaviour. Block-quantized 128x128 weights live in fp8_block.h.
#pragma once

#include <cstdint>
#include <optional>

#include "reference/formats/format.h"
#include "reference/quant/common.h"

namespace moecheck::reference::quant {

// The clamp limit of a dynamic or static quantizer: 448 for e4m3fn; 224 for e4m3fnuz (vLLM uses
// 224, not the format's 240, in both `quant_type_max` and `get_fp8_min_max`). Throws for other
// formats.
float fp8_clamp_limit(formats::Format format);

enum class Fp8ScaleLayout : std::uint8_t {
  kPerTensor,    // scales [1, 1]
  kPerColumn,    // scales [1, cols] (static per-channel input scale of scaled_fp8_quant, §3.1)
  kPerRow,       // scales [rows, 1] (per-token activations; per-output-channel weights)
  kPerRowGroup,  // scales [rows, cols / group_size] (per-token-group, §3.4)
};

struct Fp8Quantized {
  formats::Format format = formats::Format::kE4m3fn;  // kE4m3fn or kE4m3fnuz
  Fp8ScaleLayout layout = Fp8ScaleLayout::kPerTensor;
  std::int64_t group_size = 0;  // columns per scale; kPerRowGroup only
  RowMatrixXu8 codes;           // [rows, cols]
  RowMatrixXf scales;           // dequantization multipliers, shape by layout (above)
};

// x = fp32(code) · scale, one fp32 product. Validates shapes first.
RowMatrixXf dequantize(const Fp8Quantized& q);
void validate(const Fp8Quantized& q);

// ---- §3.1 static: `static_scaled_fp8_quant` (csrc/quantization/w8a8/fp8/common.cu) ------------
// inv = 1.0f / scale (IEEE), q = cvt(fmaxf(-M, fminf(x · inv, M))) with M the clamp limit.
struct Fp8PerTensorStatic {
  float scale = 1.0f;
  formats::Format format = formats::Format::kE4m3fn;
};
// The same kernel with a [cols] scale: inv = 1.0f / scale[col] per element.
struct Fp8PerColumnStatic {
  Eigen::RowVectorXf scales;
  formats::Format format = formats::Format::kE4m3fn;
};

// ---- §3.2 dynamic per-tensor: `dynamic_scaled_fp8_quant` ----------------------------------
// scale = max over rows of (row amax / M) (IEEE, no floor), then §3.1. An all-zero tensor gives
// scale 0, inv = inf, 0 · inf = NaN and the clamp turns NaN into +M: every code is 0x7E (fn).
struct Fp8PerTensorDynamic {
  formats::Format format = formats::Format::kE4m3fn;
};
// That scale alone: fmaxf over rows of (fmaxf-amax of the row) / M, from 0.
float dynamic_tensor_scale(MatrixView x, formats::Format format);

// ---- §3.3 dynamic per-token: `dynamic_per_token_scaled_fp8_quant` -------------------------
// s = fmaxf(fminf(row amax, ub) / M, 1 / (M · 512)) with 1/(M·512) computed in fp32;
// q = cvt(clamp(x / s)) — a division, not a reciprocal multiply. Scales [rows, 1].
struct Fp8PerToken {
  std::optional<float> scale_ub;  // `scale_ub`; absent means no upper bound
  formats::Format format = formats::Format::kE4m3fn;
};

// ---- §3.4 per-token-group (DeepSeek-style activations) -------------------------------------
enum class Fp8GroupQuantizer : std::uint8_t {
  // CUDA `per_token_group_quant_8bit`: amax = fmaxf(eps, max|x|); y_s = amax / M (IEEE);
  // q = cvt(fminf(fmaxf(x / y_s, -M), M)) — note this clamp order sends NaN to -M.
  kCuda,
  // The same kernel with scale_ue8m0 (shared-memory kernel): y_s = exp2f(ceilf(log2f(
  // fmaxf(y_s, 1e-10f)))), q from x / y_s. log2 of an fp32 y_s can round onto the integer just
  // below, so a y_s a few ulp above 2^k keeps 2^k here while the bump form below gives 2^(k+1).
  kCudaUe8m0Log2,
  // The register kernel (16-bit input, group 128) with scale_ue8m0: y_s = 2^(exponent +
  // (mantissa != 0)) of fmaxf(y_s, 1e-10f); q from x · (1.0f / y_s).
  kCudaUe8m0Bump,
  // Triton fallback `_per_token_group_quant_fp8`: the same formula with Triton's `/`
  // (div.full: a · rcp.approx(b)) for amax / M and for x / y_s; tl.clamp then the saturating
  // cast. NaN inputs are not modelled (tl.clamp's NaN rule is unverified).
  kTriton,
  // The Triton fallback with use_ue8m0: y_s = exp2(ceil(log2(y_s))) with y_s from div.full.
  // tl.log2 / tl.exp2 are approximate; they agreed with torch's log2 on the spec's 32384 values
  // near powers of two (measured), so the correctly rounded log2 stands in for them.
  kTritonUe8m0,
  // DeepSeek-V3 `inference/kernel.py` `act_quant`: s = amax / 448 with no eps; y = x / s, both
  // div.full; no clamp, the saturating cast only (an all-zero group gives s = 0 and NaN codes
  // 0x7F). e4m3fn only.
  kDeepSeekActQuant,
};

struct Fp8PerTokenGroup {
  Fp8GroupQuantizer quantizer = Fp8GroupQuantizer::kCuda;
  std::int64_t group_size = 128;  // cols must be a multiple (vLLM asserts K % group == 0)
  formats::Format format = formats::Format::kE4m3fn;
  float eps = 1e-10f;  // the kernel argument `eps` (vLLM passes 1e-10)
};

Fp8Quantized quantize(MatrixView x, const Fp8PerTensorStatic& scheme);
Fp8Quantized quantize(MatrixView x, const Fp8PerColumnStatic& scheme);
Fp8Quantized quantize(MatrixView x, const Fp8PerTensorDynamic& scheme);
Fp8Quantized quantize(MatrixView x, const Fp8PerToken& scheme);
Fp8Quantized quantize(MatrixView x, const Fp8PerTokenGroup& scheme);

// ---- §3.6 per-tensor MoE w13: requantize both halves to the larger of the w1/w3 scales -------
// vLLM `process_fp8_weight_tensor_strategy_moe`: for each half (w1 = gate rows first, then
// w3 = up), W_dq = per_tensor_dequantize(q, s_i) = q.to(float16) · s_i, then
// scaled_fp8_quant(W_dq, max(s1, s3)) (§3.1). The product is fp16 under torch's promotion rules
// (a 0-dim fp32 tensor does not promote an fp16 tensor) — unverified by run, and so is whether s_i
// reaches the multiply as fp32 or already rounded to fp16 (CUDA's dynamic cast of a 0-dim device
// tensor would round it): both readings are offered.
enum class W13DequantProduct : std::uint8_t {
  kFp16Product,            // fp16(fp32(q) · s_i)
  kFp16ScaleThenProduct,   // fp16(fp32(q) · fp16(s_i))
};
// w1 and w3 must be per-tensor, of one format, with the same number of columns. The result is
// per-tensor with rows = w1.rows + w3.rows.
Fp8Quantized requantize_w13_to_max_scale(const Fp8Quantized& w1, const Fp8Quantized& w3,
                                         W13DequantProduct product = W13DequantProduct::kFp16Product);

// ---- the weight-scheme table's per-tensor FP8 row (scheme.h fp8_per_tensor_w8a16) -----------------
struct SchemeSpec;
struct SchemeStorage;
// W[n, k] = fp32(e4m3fn(code)) · weight_scale, one scale per projection (w13 whole, w2), for rows
// [row_begin, row_end).
void fp8_tensor_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                                std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out);
// A per-tensor FP8 projection (w13 whole, or w2): weight_scale = amax / 448 rounded up to a bf16 value (1 for
// an all-zero projection), codes by static_scaled_fp8_quant with it (§3.1). The bf16 scale is a choice of
// the generator, not of any quantizer: Marlin casts the scales to the model dtype
// (prepare_fp8_moe_layer_for_marlin), which is then exact, so the row's numerics need no reading of
// that cast.
SchemeStorage quantize_fp8_tensor_weight(const SchemeSpec& scheme, MatrixView values);
// The same, plus a static input scale for the projection's GEMM input (fp8_per_tensor_w8a8_static). A
// calibration stand-in, not a calibration: 2^-7 · (8 + j) / 8 with j the weight scale's three low
// bf16 mantissa bits, so that experts differ (the layer takes their max) and every scale has 4
// significant bits. 2^-7 · 448 = 3.5 is about the generated activations' range (normal, sd 1;
// GEMM2's input of the same order): larger elements saturate at ±448, as a static scale does for
// outliers, and the code · scale products stay exact in fp32.
SchemeStorage quantize_fp8_tensor_static_weight(const SchemeSpec& scheme, MatrixView values);

// The per-channel row (fp8_per_channel_w8a8): W[n, k] = fp32(e4m3fn(code)) · weight_scale[n], one
// scale per matrix row, for rows [row_begin, row_end).
void fp8_channel_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                                 std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out);
// Each row as quantize_fp8_tensor_weight quantizes a projection: its own amax / 448 rounded up to a
// bf16 value (1 for an all-zero row), codes by static_scaled_fp8_quant with it.
SchemeStorage quantize_fp8_channel_weight(const SchemeSpec& scheme, MatrixView values);

}  // namespace moecheck::reference::quant
