#include "reference/quant/mxfp4.h"

#include <cmath>
#include <limits>
#include <string>

#include "reference/formats/codecs.h"
#include "reference/formats/rcp_approx.h"
#include "reference/quant/detail.h"

namespace moecheck::reference::quant {

namespace fmt = formats;

namespace {

constexpr int kE2m1Emax = 2;  // largest e2m1 exponent: 6 = 1.5 · 2^2

void fill_rows(const Mxfp4Weight& w, std::int64_t row_begin, std::int64_t row_end, float* out) {
  const float* lut = fmt::decode_table(fmt::Format::kE2m1);
  const std::int64_t blocks_per_row = w.cols / kMxBlock;
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    float* dst = out + (r - row_begin) * w.cols;
    for (std::int64_t b = 0; b < blocks_per_row; ++b) {
      const float s = fmt::e8m0_value(w.scales[std::size_t(r * blocks_per_row + b)]);
      const std::uint8_t* bytes = w.blocks.data() + (r * blocks_per_row + b) * kMxfp4BytesPerBlock;
      float* d = dst + b * kMxBlock;
      for (std::int64_t j = 0; j < kMxfp4BytesPerBlock; ++j) {
        d[2 * j] = lut[bytes[j] & 0x0F] * s;      // even element: low nibble
        d[2 * j + 1] = lut[bytes[j] >> 4] * s;    // odd element: high nibble
      }
    }
  }
}

float amax_skip_nan(const float* x, std::int64_t n) {
  float m = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) m = std::fmax(m, std::fabs(x[i]));
  return m;
}

// triton_kernels `_compute_quant_and_scale` for e2m1: the scale byte and the quant multiplier qs.
struct TritonScale {
  std::uint8_t byte;
  float qs;
};
TritonScale triton_scale(float amax, Mxfp4Rounding rounding) {
  float ds = 0;
  switch (rounding) {
    case Mxfp4Rounding::kTritonRoundUp:
    case Mxfp4Rounding::kTritonRoundDownAmax6: ds = fmt::div_full(amax, 6.0f); break;
    case Mxfp4Rounding::kTritonRoundUpTorchRef: ds = amax / 6.0f; break;
    case Mxfp4Rounding::kTritonRoundDown: ds = fmt::div_full(amax, 4.0f); break;
    default: break;
  }
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(ds);
  const bool up = rounding == Mxfp4Rounding::kTritonRoundUp || rounding == Mxfp4Rounding::kTritonRoundUpTorchRef;
  const std::uint32_t exponent = up ? ((bits + 0x007FFFFFu) & 0x7F800000u) : (bits & 0x7F800000u);
  const float rounded = std::bit_cast<float>(exponent);
  float qs = 0.0f;
  if (rounded != 0.0f)
    qs = rounding == Mxfp4Rounding::kTritonRoundUpTorchRef ? 1.0f / rounded : fmt::div_full(1.0f, rounded);
  return {std::uint8_t(exponent >> 23), qs};
}

// microxcaling `_round_mantissa` on an fp32 value, in fp32 as torch computes it.
float ocp_round(float a, bool even) {
  const float sign = a > 0 ? 1.0f : (a < 0 ? -1.0f : 0.0f);
  const float abs_a = std::fabs(a);
  float r = std::floor(abs_a + 0.5f);
  if (even && std::fmod(abs_a - 0.5f, 2.0f) == 0.0f) r -= 1.0f;  // 0.5, 2.5, 4.5, ... go down
  return sign * r;
}

// microxcaling `_quantize_elemwise_core` for fp4_e2m1 (bits = 3, exp_bits = 2, max_norm = 6,
// saturate_normals): the quantized value in the element domain, then its e2m1 code.
std::uint8_t ocp_element(float a, bool even) {
  constexpr int kMbits = 3;     // "mantissa bits including sign and implicit one"
  constexpr int kMinExp = 0;    // -(2^(ebits-1)) + 2
  constexpr float kMaxNorm = 6.0f;
  float private_exp = std::floor(detail::log2_fp32(std::fabs(a) + (a == 0.0f ? 1.0f : 0.0f)));
  private_exp = std::max(private_exp, float(kMinExp));
  const float p2 = std::ldexp(1.0f, int(private_exp));
  const float shift = std::ldexp(1.0f, kMbits - 2);
  float out = a / p2 * shift;  // _safe_lshift
  out = ocp_round(out, even);
  out = out / shift * p2;      // _safe_rshift
  out = std::min(std::max(out, -kMaxNorm), kMaxNorm);
  return fmt::e2m1_satfinite(out);
}

}  // namespace

void validate(const Mxfp4Weight& w) {
  if (w.rows < 0 || w.cols < 0) detail::fail("Mxfp4Weight shape", "non-negative rows and cols", detail::shape_string({w.rows, w.cols}));
  if (w.cols % kMxBlock != 0)
    detail::fail("Mxfp4Weight.cols (K)", "a multiple of 32", w.cols);
  const std::int64_t nb = w.cols / kMxBlock;
  if (std::int64_t(w.blocks.size()) != w.rows * nb * kMxfp4BytesPerBlock)
    detail::fail("Mxfp4Weight.blocks size",
                 "rows * cols/32 * 16 = [" + std::to_string(w.rows) + ", " + std::to_string(nb) + ", 16] = " +
                     std::to_string(w.rows * nb * kMxfp4BytesPerBlock),
                 std::int64_t(w.blocks.size()));
  if (std::int64_t(w.scales.size()) != w.rows * nb)
    detail::fail("Mxfp4Weight.scales size", "rows * cols/32 = " + detail::shape_string({w.rows, nb}) + " = " + std::to_string(w.rows * nb),
                 std::int64_t(w.scales.size()));
}

Eigen::MatrixXf dequantize(const Mxfp4Weight& w) {
  const RowMatrixXf rm = dequantize_row_major(w);
  return rm;
}

RowMatrixXf dequantize_row_major(const Mxfp4Weight& w) {
  validate(w);
  RowMatrixXf out(w.rows, w.cols);
  fill_rows(w, 0, w.rows, out.data());
  return out;
}

void dequantize_rows(const Mxfp4Weight& w, std::int64_t row_begin, std::int64_t row_end, float* out) {
  validate(w);
  detail::check_row_range("Mxfp4Weight", row_begin, row_end, w.rows, out);
  fill_rows(w, row_begin, row_end, out);
}

std::uint8_t code_at(const Mxfp4Weight& w, std::int64_t row, std::int64_t col) {
  if (row < 0 || row >= w.rows || col < 0 || col >= w.cols)
    detail::fail("Mxfp4Weight code_at index", "inside " + detail::shape_string({w.rows, w.cols}), detail::shape_string({row, col}));
  const std::uint8_t byte = w.blocks[std::size_t((row * w.cols + col) / 2)];
  return (col % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
}

Mxfp4Weight mxfp4_expert(std::span<const std::uint8_t> blocks, std::span<const std::uint8_t> scales,
                         std::int64_t num_experts, std::int64_t rows, std::int64_t cols, std::int64_t expert) {
  if (num_experts <= 0 || rows < 0 || cols < 0)
    detail::fail("mxfp4_expert shape", "num_experts > 0, rows >= 0, cols >= 0",
                 detail::shape_string({num_experts, rows, cols}));
  if (cols % kMxBlock != 0) detail::fail("mxfp4_expert cols (K)", "a multiple of 32", cols);
  if (expert < 0 || expert >= num_experts)
    detail::fail("mxfp4_expert expert", "0 <= expert < " + std::to_string(num_experts), expert);
  const std::int64_t nb = cols / kMxBlock;
  const std::int64_t per_blocks = rows * nb * kMxfp4BytesPerBlock, per_scales = rows * nb;
  if (std::int64_t(blocks.size()) != num_experts * per_blocks)
    detail::fail("mxfp4_expert blocks size",
                 "[E, rows, cols/32, 16] = [" + std::to_string(num_experts) + ", " + std::to_string(rows) + ", " +
                     std::to_string(nb) + ", 16] = " + std::to_string(num_experts * per_blocks),
                 std::int64_t(blocks.size()));
  if (std::int64_t(scales.size()) != num_experts * per_scales)
    detail::fail("mxfp4_expert scales size",
                 "[E, rows, cols/32] = [" + std::to_string(num_experts) + ", " + std::to_string(rows) + ", " +
                     std::to_string(nb) + "] = " + std::to_string(num_experts * per_scales),
                 std::int64_t(scales.size()));
  Mxfp4Weight w;
  w.rows = rows;
  w.cols = cols;
  w.blocks.assign(blocks.begin() + expert * per_blocks, blocks.begin() + (expert + 1) * per_blocks);
  w.scales.assign(scales.begin() + expert * per_scales, scales.begin() + (expert + 1) * per_scales);
  return w;
}

Mxfp4Weight quantize(MatrixView x, Mxfp4Rounding rounding) {
  if (x.cols() % kMxBlock != 0)
    detail::fail("MXFP4 quantize: cols (K, the quantization axis) must be a multiple of 32", "K % 32 == 0",
                 "K = " + std::to_string(x.cols()));
  Mxfp4Weight w;
  w.rows = x.rows();
  w.cols = x.cols();
  const std::int64_t nb = w.cols / kMxBlock;
  w.blocks.assign(std::size_t(w.rows * nb * kMxfp4BytesPerBlock), 0);
  w.scales.assign(std::size_t(w.rows * nb), 0);
  std::uint8_t codes[kMxBlock];
  for (std::int64_t r = 0; r < w.rows; ++r)
    for (std::int64_t b = 0; b < nb; ++b) {
      const float* blk = x.row(r).data() + b * kMxBlock;
      std::uint8_t scale = 0;
      switch (rounding) {
        case Mxfp4Rounding::kTritonRoundUp:
        case Mxfp4Rounding::kTritonRoundUpTorchRef:
        case Mxfp4Rounding::kTritonRoundDown:
        case Mxfp4Rounding::kTritonRoundDownAmax6: {
          const TritonScale s = triton_scale(amax_skip_nan(blk, kMxBlock), rounding);
          scale = s.byte;
          for (int i = 0; i < kMxBlock; ++i) codes[i] = fmt::e2m1_satfinite(blk[i] * s.qs);
          break;
        }
        case Mxfp4Rounding::kQuarkEven: {
          const int b_even = fmt::e8m0_even(amax_skip_nan(blk, kMxBlock));
          const int e = std::clamp(b_even - 127 - kE2m1Emax, -127, 127);
          scale = std::uint8_t(e + 127);
          const float qs = std::ldexp(1.0f, -e);  // exp2(-e), exact
          for (int i = 0; i < kMxBlock; ++i) codes[i] = fmt::e2m1_satfinite(blk[i] * qs);
          break;
        }
        case Mxfp4Rounding::kOcpReferenceNearest:
        case Mxfp4Rounding::kOcpReferenceEven: {
          float amax = 0.0f;  // torch.max propagates NaN
          for (int i = 0; i < kMxBlock; ++i)
            amax = (std::isnan(blk[i]) || std::isnan(amax)) ? std::numeric_limits<float>::quiet_NaN()
                                                           : std::max(amax, std::fabs(blk[i]));
          const float lifted = amax + (amax == 0.0f ? std::ldexp(1.0f, -126) : 0.0f);  // + FP32_MIN_NORMAL
          const float shared = std::floor(detail::log2_fp32(lifted)) - float(kE2m1Emax);
          if (!(shared <= 127.0f)) {  // > scale_emax, or NaN: the scale is NaN
            scale = 0xFF;
            for (int i = 0; i < kMxBlock; ++i) codes[i] = 0;  // dequantizes to NaN whatever the codes
            break;
          }
          const int e = int(std::max(shared, -127.0f));
          scale = std::uint8_t(e + 127);
          const float p2 = std::ldexp(1.0f, e);
          const bool even = rounding == Mxfp4Rounding::kOcpReferenceEven;
          for (int i = 0; i < kMxBlock; ++i) codes[i] = ocp_element(blk[i] / p2, even);
          break;
        }
      }
      w.scales[std::size_t(r * nb + b)] = scale;
      std::uint8_t* bytes = w.blocks.data() + (r * nb + b) * kMxfp4BytesPerBlock;
      for (int j = 0; j < kMxfp4BytesPerBlock; ++j) bytes[j] = std::uint8_t(codes[2 * j] | (codes[2 * j + 1] << 4));
    }
  return w;
}

}  // namespace moecheck::reference::quant
