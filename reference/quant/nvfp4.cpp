#include "reference/quant/nvfp4.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "reference/formats/codecs.h"
#include "reference/formats/rcp_approx.h"
#include "reference/quant/scheme.h"

namespace moecheck::reference::quant {

namespace fmt = formats;

Nvfp4GlobalScale nvfp4_global_scale_modelopt(float dequant_scale) { return {1.0f / dequant_scale, dequant_scale}; }
Nvfp4GlobalScale nvfp4_global_scale_compressed_tensors(float global_scale) { return {global_scale, 1.0f / global_scale}; }

void validate(const Nvfp4Tensor& q) {
  if (q.cols % kNvfp4Block != 0) detail::fail("Nvfp4Tensor.cols (K)", "a multiple of 16", q.cols);
  if (q.packed.rows() != q.rows || q.packed.cols() != q.cols / 2)
    detail::fail("Nvfp4Tensor.packed shape", detail::shape_string({q.rows, q.cols / 2}), detail::shape_string({q.packed.rows(), q.packed.cols()}));
  if (q.block_scales.rows() != q.rows || q.block_scales.cols() != q.cols / kNvfp4Block)
    detail::fail("Nvfp4Tensor.block_scales shape", detail::shape_string({q.rows, q.cols / kNvfp4Block}),
                 detail::shape_string({q.block_scales.rows(), q.block_scales.cols()}));
}

RowMatrixXf dequantize(const Nvfp4Tensor& q, Nvfp4Dequant order) {
  validate(q);
  const float* lut = fmt::decode_table(fmt::Format::kE2m1);
  const float* e4m3 = fmt::decode_table(fmt::Format::kE4m3fn);
  RowMatrixXf out(q.rows, q.cols);
  for (std::int64_t r = 0; r < q.rows; ++r)
    for (std::int64_t c = 0; c < q.cols; ++c) {
      const std::uint8_t byte = q.packed(r, c / 2);
      const float e2m1 = lut[(c % 2 == 0) ? (byte & 0x0F) : (byte >> 4)];
      const float sf = e4m3[q.block_scales(r, c / kNvfp4Block)];
      out(r, c) = order == Nvfp4Dequant::kModelOpt ? (e2m1 * sf) * q.global_scale.dequant
                                                   : e2m1 * (sf / q.global_scale.quant);
    }
  return out;
}

Nvfp4Tensor quantize(MatrixView x, Nvfp4Quantizer quantizer, Nvfp4GlobalScale global_scale) {
  if (x.cols() % kNvfp4Block != 0)
    detail::fail("NVFP4 quantize: cols (K, the quantization axis) must be a multiple of 16", "K % 16 == 0",
                 "K = " + std::to_string(x.cols()));
  const float gs = global_scale.quant;
  Nvfp4Tensor q;
  q.rows = x.rows();
  q.cols = x.cols();
  q.global_scale = global_scale;
  q.packed.setZero(q.rows, q.cols / 2);
  q.block_scales.resize(q.rows, q.cols / kNvfp4Block);
  const float rcp6 = fmt::rcp_approx_ftz(6.0f);  // == RN(1/6) (measured)
  for (std::int64_t r = 0; r < q.rows; ++r)
    for (std::int64_t b = 0; b < q.cols / kNvfp4Block; ++b) {
      const float* blk = x.row(r).data() + b * kNvfp4Block;
      float amax = 0.0f;
      for (std::int64_t i = 0; i < kNvfp4Block; ++i) amax = std::fmax(amax, std::fabs(blk[i]));
      std::uint8_t sfq = 0;
      float out_scale = 0.0f;
      switch (quantizer) {
        case Nvfp4Quantizer::kVllmCuda:
        case Nvfp4Quantizer::kFlashinfer: {
          sfq = fmt::e4m3fn_satfinite(gs * (amax * rcp6));
          const float sff = fmt::decode(fmt::Format::kE4m3fn, sfq);
          const bool nonzero = quantizer == Nvfp4Quantizer::kVllmCuda ? sff != 0.0f : amax != 0.0f;
          out_scale = nonzero ? fmt::rcp_approx_ftz(sff * fmt::rcp_approx_ftz(gs)) : 0.0f;
          break;
        }
        case Nvfp4Quantizer::kFlashinferNoFastMath: {
          sfq = fmt::e4m3fn_satfinite(amax * (gs * (1.0f / 6.0f)));
          const float sff = fmt::decode(fmt::Format::kE4m3fn, sfq);
          out_scale = std::fmin(1.0f / (sff * (1.0f / gs)), std::numeric_limits<float>::max());
          break;
        }
        case Nvfp4Quantizer::kTritonQdq: {
          sfq = fmt::e4m3fn_satfinite(std::clamp(gs * (amax * (1.0f / 6.0f)), -448.0f, 448.0f));
          const float sff = fmt::decode(fmt::Format::kE4m3fn, sfq);
          out_scale = sff == 0.0f ? 0.0f : fmt::div_full(gs, sff);
          break;
        }
        case Nvfp4Quantizer::kReferenceEmulation: {
          const float scale = std::clamp(gs * (amax * (1.0f / 6.0f)), -448.0f, 448.0f);
          sfq = fmt::e4m3fn_torch(scale);
          const float sff = fmt::decode(fmt::Format::kE4m3fn, sfq);
          const float inv_gs = gs == 0.0f ? 0.0f : 1.0f / gs;
          const float denom = sff * inv_gs;
          out_scale = denom == 0.0f ? 0.0f : 1.0f / denom;
          break;
        }
      }
      q.block_scales(r, b) = sfq;
      for (std::int64_t i = 0; i < kNvfp4Block; ++i) {
        float v = blk[i] * out_scale;
        // cast_to_fp4 returns |x| rounded times torch.sign(x), and torch.sign(±0) is +0.
        // The Triton kernel's sign is x < 0 ? -1 : 1, so a ±0 input is +0 there too.
        if (quantizer == Nvfp4Quantizer::kReferenceEmulation || quantizer == Nvfp4Quantizer::kTritonQdq)
          v = v == 0.0f ? 0.0f : std::clamp(v, -6.0f, 6.0f);
        const std::uint8_t code = fmt::e2m1_satfinite(v);
        const std::int64_t c = b * kNvfp4Block + i;
        q.packed(r, c / 2) |= std::uint8_t(code << (4 * (c % 2)));
      }
    }
  return q;
}

float nvfp4_qdq_block_scale(std::uint8_t block_scale, float gs) {
  return fmt::div_full(fmt::decode(fmt::Format::kE4m3fn, block_scale), gs);
}

void nvfp4_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                           std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out) {
  if (row_begin < 0 || row_end > rows || row_begin > row_end)
    throw std::invalid_argument(std::string(scheme.name) + ": rows [" + std::to_string(row_begin) + ", " +
                                std::to_string(row_end) + ") outside [0, " + std::to_string(rows) + ")");
  if (storage.scales.size() != 1)
    throw std::invalid_argument(std::string(scheme.name) + ": weight_scale_2: expected 1 value per part, found " +
                                std::to_string(storage.scales.size()));
  const float global = storage.scales.front();
  const float* e2m1 = fmt::decode_table(fmt::Format::kE2m1);
  const float* e4m3 = fmt::decode_table(fmt::Format::kE4m3fn);
  const std::int64_t code_cols = cols / 2, scale_cols = cols / kNvfp4Block;
  for (std::int64_t n = row_begin; n < row_end; ++n) {
    const std::uint8_t* row = storage.codes.data() + n * code_cols;
    const std::uint8_t* s = storage.scale_bytes.data() + n * scale_cols;
    for (std::int64_t k = 0; k < cols; ++k)
      *out++ = e2m1[packed_code(row, k, kFp4Bytes)] * (e4m3[s[k / kNvfp4Block]] * global);
  }
}

SchemeStorage quantize_nvfp4_weight(const SchemeSpec&, MatrixView values) {
  float amax = 0.0f;
  for (Eigen::Index r = 0; r < values.rows(); ++r)
    for (Eigen::Index c = 0; c < values.cols(); ++c) amax = std::fmax(amax, std::fabs(values(r, c)));
  const float scale_2 = amax > 0.0f ? amax / (6.0f * 448.0f) : 1.0f;
  const Nvfp4Tensor q = quantize(values, Nvfp4Quantizer::kReferenceEmulation, nvfp4_global_scale_modelopt(scale_2));
  SchemeStorage s;
  s.codes.assign(q.packed.data(), q.packed.data() + q.packed.size());
  s.scale_bytes.assign(q.block_scales.data(), q.block_scales.data() + q.block_scales.size());
  s.scales = {scale_2};
  return s;
}

SchemeStorage quantize_nvfp4_w4a4_weight(const SchemeSpec& scheme, MatrixView values) {
  SchemeStorage s = quantize_nvfp4_weight(scheme, values);
  const unsigned j = s.scale_bytes.empty() ? 0u : s.scale_bytes.front() & 7u;
  s.input_scales = {std::ldexp(static_cast<float>(8 + j) / 8.0f, -8)};
  return s;
}

}  // namespace moecheck::reference::quant
