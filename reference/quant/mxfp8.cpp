#include "reference/quant/mxfp8.h"

#include <cmath>
#include <limits>
#include <string>

#include "reference/formats/codecs.h"
#include "reference/formats/rcp_approx.h"

namespace moecheck::reference::quant {

namespace fmt = formats;

void validate(const Mxfp8Tensor& q) {
  if (q.cols % kMxBlock != 0) detail::fail("Mxfp8Tensor.cols (K)", "a multiple of 32", q.cols);
  if (q.codes.rows() != q.rows || q.codes.cols() != q.cols)
    detail::fail("Mxfp8Tensor.codes shape", detail::shape_string({q.rows, q.cols}),
                 detail::shape_string({q.codes.rows(), q.codes.cols()}));
  if (q.scales.rows() != q.rows || q.scales.cols() != q.cols / kMxBlock)
    detail::fail("Mxfp8Tensor.scales shape",
                 detail::shape_string({q.rows, q.cols / kMxBlock}),
                 detail::shape_string({q.scales.rows(), q.scales.cols()}));
}

RowMatrixXf dequantize(const Mxfp8Tensor& q) {
  validate(q);
  const float* table = fmt::decode_table(fmt::Format::kE4m3fn);
  RowMatrixXf out(q.rows, q.cols);
  for (std::int64_t r = 0; r < q.rows; ++r)
    for (std::int64_t c = 0; c < q.cols; ++c)
      out(r, c) = table[q.codes(r, c)] * fmt::e8m0_value(q.scales(r, c / kMxBlock));
  return out;
}

Mxfp8Tensor quantize(MatrixView x, Mxfp8Quantizer quantizer) {
  if (x.cols() % kMxBlock != 0)
    detail::fail("MXFP8 quantize: cols (K, the quantization axis) must be a multiple of 32", "K % 32 == 0",
                 "K = " + std::to_string(x.cols()));
  Mxfp8Tensor q;
  q.rows = x.rows();
  q.cols = x.cols();
  q.codes.resize(q.rows, q.cols);
  q.scales.resize(q.rows, q.cols / kMxBlock);
  for (std::int64_t r = 0; r < q.rows; ++r)
    for (std::int64_t b = 0; b < q.cols / kMxBlock; ++b) {
      const float* blk = x.row(r).data() + b * kMxBlock;
      std::uint8_t* out = q.codes.row(r).data() + b * kMxBlock;
      float amax = 0.0f;
      for (std::int64_t i = 0; i < kMxBlock; ++i) amax = std::fmax(amax, std::fabs(blk[i]));
      std::uint8_t scale = 0;
      switch (quantizer) {
        case Mxfp8Quantizer::kFlashinfer:
        case Mxfp8Quantizer::kFlashinferNoClamp: {
          const float sf_value = amax * fmt::rcp_approx_ftz(448.0f);
          scale = fmt::e8m0_ceil(sf_value);
          const float sf = fmt::e8m0_value(scale);
          const float out_scale = sf != 0.0f ? fmt::rcp_approx_ftz(sf) : 0.0f;
          const bool clamp = quantizer == Mxfp8Quantizer::kFlashinfer;
          for (std::int64_t i = 0; i < kMxBlock; ++i) {
            const float v = blk[i] * out_scale;
            out[i] = fmt::e4m3fn_satfinite(clamp ? detail::clamp_fmin_first(v, 448.0f) : v);
          }
          break;
        }
        case Mxfp8Quantizer::kTritonKernels: {
          const float ds = fmt::div_full(amax, 448.0f);
          const std::uint32_t exponent = (std::bit_cast<std::uint32_t>(ds) + 0x007FFFFFu) & 0x7F800000u;
          const float rounded = std::bit_cast<float>(exponent);
          const float qs = rounded == 0.0f ? 0.0f : fmt::div_full(1.0f, rounded);
          scale = std::uint8_t(exponent >> 23);
          for (std::int64_t i = 0; i < kMxBlock; ++i) out[i] = fmt::e4m3fn_satfinite(blk[i] * qs);
          break;
        }
        case Mxfp8Quantizer::kVllmTorchFallback: {
          const float lifted = std::max(amax, std::numeric_limits<float>::min());
          const float biased = std::clamp(std::floor(detail::log2_fp32(lifted)) + 127.0f, 0.0f, 254.0f);
          scale = std::uint8_t(biased);
          const float descale = std::ldexp(1.0f, int(biased) - 127);
          for (std::int64_t i = 0; i < kMxBlock; ++i) out[i] = fmt::e4m3fn_torch(blk[i] / descale);
          break;
        }
        case Mxfp8Quantizer::kVllmCeil:
        case Mxfp8Quantizer::kSwigluOaiFused: {
          const bool ceil = quantizer == Mxfp8Quantizer::kVllmCeil;
          const float lifted = std::max(amax, ceil ? std::numeric_limits<float>::min() : 1e-30f);
          const float exponent = ceil ? std::ceil(detail::log2_fp32(lifted / 448.0f)) : std::floor(detail::log2_fp32(lifted));
          const float biased = std::clamp(exponent + 127.0f, 0.0f, 254.0f);
          scale = std::uint8_t(biased);
          // A power of two: the division is exact (or a correctly rounded subnormal).
          const float descale = std::ldexp(1.0f, int(biased) - 127);
          for (std::int64_t i = 0; i < kMxBlock; ++i) out[i] = fmt::e4m3fn_torch(blk[i] / descale);
          break;
        }
      }
      q.scales(r, b) = scale;
    }
  return q;
}

}  // namespace moecheck::reference::quant
